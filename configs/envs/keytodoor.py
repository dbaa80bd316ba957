"""Key-to-Door: pick up a key, eat apples for L steps, then open the door with it.
Credit assignment length ~ L (the key is taken long before the door pays)."""

from ml_collections import ConfigDict


def get_config() -> ConfigDict:
    config = ConfigDict()
    config.env_type = "key_to_door"
    config.env_name = 60  # the distractor length L; episodes last 15 + L + 10 steps
    config.final_reward = 5.0  # paid once for stepping onto the door while holding the key
    config.apple_reward = 1.0  # paid per apple eaten in the distractor phase
    config.respawn_every = 20  # an eaten apple returns once the frame exceeds pickup + this
    config.num_apples = 10  # apples on the distractor board at its start

    config.eval_interval = 50  # evaluate whenever the episode count is a multiple of this
    config.eval_episodes = 20
    return config
