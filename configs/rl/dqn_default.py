"""Recurrent double DQN with epsilon-greedy exploration (the paper's T-Maze algorithm)."""

from ml_collections import ConfigDict


def get_config() -> ConfigDict:
    config = ConfigDict()
    config.algo = "dqn"

    config.critic_lr = 3e-4
    config.config_critic = ConfigDict()
    config.config_critic.hidden_dims = (256, 256)  # Q head MLP on the sequence model's output

    # How the networks start (memrl/nets/init.py): "fanin" as the paper's main code (head
    # MLPs by rlkit's fanin_init with biases 0.1, last layer +-3e-3; LSTM orthogonal),
    # "orthogonal" as its continuous-control code, "torch" PyTorch's defaults.
    config.init_scheme = "fanin"
    # Collect training episodes in train mode (GPT's dropout on while acting), as the original
    # code does; evaluation always acts in eval mode. False: collect in eval mode too.
    config.collect_in_train_mode = True

    config.discount = 0.99
    config.tau = 0.005  # Polyak step of the target network after every update

    # Epsilon decays linearly from init_eps to 1/T (T = episode length) over
    # schedule_end x train_episodes x T exploring actions, then stays there.
    config.init_eps = 1.0
    config.schedule_end = 0.1

    # Replay holds whole episodes: max(replay_buffer_size transitions, this many episodes).
    config.replay_buffer_size = 1_000_000
    config.replay_buffer_num_episodes = 1000
    return config
