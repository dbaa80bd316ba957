"""PyBullet locomotion with only positions (and angles, contacts) observed (-P), the paper's Section 5.3.

`config_env.env_name` is the robot: ant, cheetah, hopper or walker (gymnasium id
memrl/<Robot>BLT-P-v0). Episodes last at most 1000 steps and end early when the robot falls.
The continuous-control code's loop: budget and evaluation in env steps (units of 1000).
"""

from ml_collections import ConfigDict


def get_config() -> ConfigDict:
    config = ConfigDict()
    config.env_type = "pomdp/bullet_p"
    config.env_name = "ant"  # the robot: ant | cheetah | hopper | walker

    config.eval_interval = 5  # evaluate every 5 x 1000 env steps
    config.eval_episodes = 10
    return config
