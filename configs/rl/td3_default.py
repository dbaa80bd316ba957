"""Recurrent TD3, as the paper's continuous-control code trains its Section 5.3 runs.

The paper runs it with --shared_encoder --freeze_all: one sequence model for actor and
critic, trained by the critic loss alone.
"""

from ml_collections import ConfigDict


def get_config() -> ConfigDict:
    config = ConfigDict()
    config.algo = "td3"

    config.actor_lr = 3e-4  # the actor (and its sequence model when separate)
    config.critic_lr = 3e-4  # the critic (and its sequence model when separate)
    config.encoder_lr = 3e-4  # the shared sequence model (--shared_encoder)
    config.config_actor = ConfigDict()
    config.config_actor.hidden_dims = (256, 256)  # actor head MLP -> tanh -> action
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
    config.tau = 0.005  # Polyak step of every target (actor, critics, sequence models)

    config.exploration_noise = 0.1  # std of the Gaussian added to actions while exploring
    config.target_noise = 0.2  # target smoothing: std of the noise on the target action ...
    config.target_noise_clip = 0.5  # ... clipped to +-this
    config.policy_delay = 1  # actor (and target) step every this many critic steps; 1 = none

    # Layout switches (also set by the flags of the same names).
    config.shared_encoder = False  # one sequence model for actor and critic, one optimiser
    config.freeze_critic = False  # with it: the actor loss cannot change the Q heads
    config.freeze_all = False  # with it: the actor loss trains only the actor head

    # Replay holds whole episodes: max(replay_buffer_size transitions, this many episodes).
    config.replay_buffer_size = 1_000_000
    config.replay_buffer_num_episodes = 1000
    return config
