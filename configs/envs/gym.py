"""Any registered gymnasium env as a task: `--config_env.env_id CartPole-v1`, and optionally
`--config_env.obs_indices "(0, 2)"` to observe only those entries (a POMDP).

Runs with the continuous-control code's loop: budgets and evaluation in env steps, counted in
units of the env's time limit. Discrete actions take configs/rl/dqn_default.py or
sacd_default.py, Box actions td3_default.py or sac_default.py.
"""

from ml_collections import ConfigDict


def get_config() -> ConfigDict:
    config = ConfigDict()
    config.env_type = "gym"
    config.env_id = "CartPole-v1"  # any registered gymnasium id (memrl/... ids included)
    config.obs_indices = ()  # observation entries kept; () keeps them all
    config.max_episode_steps = 0  # 0: the env's registered time limit

    config.eval_interval = 5  # evaluate every 5 x max_episode_steps env steps
    config.eval_episodes = 10
    return config
