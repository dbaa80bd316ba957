"""Passive Visual Match: see a colour, eat apples for L steps, then pick the colour seen.
Memory length ~ L, credit assignment short (the choice is paid at once)."""

from ml_collections import ConfigDict


def get_config() -> ConfigDict:
    config = ConfigDict()
    config.env_type = "visual_match"
    config.env_name = 60  # the distractor length L; episodes last 15 + L + 15 steps
    config.final_reward = 5.0  # paid for stepping on the colour seen in the first phase
    config.apple_reward = 1.0  # paid per apple eaten in the distractor phase
    config.respawn_every = 20  # an eaten apple returns once the frame exceeds pickup + this
    config.num_apples = 10  # apples on the distractor board at its start

    config.eval_interval = 50  # evaluate whenever the episode count is a multiple of this
    config.eval_episodes = 20
    return config
