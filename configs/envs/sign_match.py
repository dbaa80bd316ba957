"""Sign Match: see a sign at t = 0, answer it with a continuous action L steps later.
Memory length L, credit assignment length 1; the smallest continuous-control memory task."""

from ml_collections import ConfigDict


def get_config() -> ConfigDict:
    config = ConfigDict()
    config.env_type = "sign_match"
    config.env_name = 10  # L, the steps between the sign and the question; episodes last L + 1

    config.eval_interval = 10  # evaluate whenever the episode count is a multiple of this
    config.eval_episodes = 10
    return config
