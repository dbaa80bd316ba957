"""Recurrent SAC for continuous actions: tanh-Gaussian policy, learned temperature (in the
paper's continuous-control code; its figures use TD3)."""

from ml_collections import ConfigDict
from ml_collections.config_dict import placeholder


def get_config() -> ConfigDict:
    config = ConfigDict()
    config.algo = "sac"

    config.actor_lr = 3e-4  # the actor (and its sequence model when separate)
    config.critic_lr = 3e-4  # the critic (and its sequence model when separate)
    config.encoder_lr = 3e-4  # the shared sequence model (--shared_encoder)
    config.temp_lr = 3e-4  # the temperature (its log is the learned parameter)
    config.config_actor = ConfigDict()
    config.config_actor.hidden_dims = (256, 256)  # policy head MLP -> mean, log std
    config.config_critic = ConfigDict()
    config.config_critic.hidden_dims = (256, 256)  # each twin Q head MLP on (h, a)

    # How the networks start (memrl/nets/init.py): "orthogonal" as the paper's continuous-
    # control code (every dense layer orthogonal with zero bias, the LSTM orthogonal per gate),
    # "fanin" as its main code, "torch" PyTorch's defaults.
    config.init_scheme = "orthogonal"
    # Collect training episodes in train mode (GPT's dropout on while acting), as the original
    # code does; evaluation always acts in eval mode. False: collect in eval mode too.
    config.collect_in_train_mode = True

    config.discount = 0.99
    config.tau = 0.005  # Polyak step of the target critic (and its sequence model)

    config.init_temperature = 0.1  # alpha at the start; learned from there
    config.target_entropy = placeholder(float)  # None: -(action dimensions)

    # Layout switches (also set by the flags of the same names).
    config.shared_encoder = False  # one sequence model for actor and critic, one optimiser
    config.freeze_critic = False  # with it: the actor loss cannot change the Q heads
    config.freeze_all = False  # with it: the actor loss trains only the actor head

    # Replay holds whole episodes: max(replay_buffer_size transitions, this many episodes).
    config.replay_buffer_size = 1_000_000
    config.replay_buffer_num_episodes = 1000
    return config
