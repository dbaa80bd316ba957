"""Active T-Maze: the oracle is one step left of the start. Memory and credit length ~ L."""

from ml_collections import ConfigDict


def get_config() -> ConfigDict:
    config = ConfigDict()
    config.env_type = "tmaze_active"
    config.env_name = 10  # the corridor length L; episodes last L + 3 steps
    config.distract_reward = 0.0  # paid on non-final steps spent on the oracle cell

    config.eval_interval = 10  # evaluate whenever the episode count is a multiple of this
    config.eval_episodes = 10
    return config
