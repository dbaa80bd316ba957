"""SAC-Discrete with a fixed temperature (the paper's Visual Match and Key-to-Door algorithm).

Run the pixel tasks with --shared_encoder --freeze_critic, as the paper does: one sequence
model feeds the policy and the Q heads, and the actor loss cannot push on the Q heads.
"""

from ml_collections import ConfigDict


def get_config() -> ConfigDict:
    config = ConfigDict()
    config.algo = "sacd"

    config.actor_lr = 3e-4  # with --shared_encoder one optimizer uses critic_lr for all
    config.critic_lr = 3e-4
    config.config_actor = ConfigDict()
    config.config_actor.hidden_dims = (256, 256)  # policy head MLP -> action logits
    config.config_critic = ConfigDict()
    config.config_critic.hidden_dims = (256, 256)  # each of the twin Q head MLPs

    # How the networks start (memrl/nets/init.py): "fanin" as the paper's main code (head
    # MLPs by rlkit's fanin_init with biases 0.1, last layer +-3e-3 (Q), +-1e-3 (policy); LSTM orthogonal),
    # "orthogonal" as its continuous-control code, "torch" PyTorch's defaults.
    config.init_scheme = "fanin"
    # Collect training episodes in train mode (GPT's dropout on while acting), as the original
    # code does; evaluation always acts in eval mode. False: collect in eval mode too.
    config.collect_in_train_mode = True

    config.discount = 0.99
    config.tau = 0.005  # Polyak step of the target Q network after every update
    config.temperature = 0.1  # entropy weight alpha, fixed (no automatic tuning)

    # Layout switches (also set by the flags of the same names).
    config.shared_encoder = False  # one sequence model for actor and critic, one optimiser
    config.freeze_critic = False  # with it: the actor loss trains only the policy head

    # Replay holds whole episodes: max(replay_buffer_size transitions, this many episodes).
    config.replay_buffer_size = 1_000_000
    config.replay_buffer_num_episodes = 1000
    return config
