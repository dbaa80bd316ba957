"""Any gymnasium env as a task: `--config_env.env_id CartPole-v1`, and optionally
`--config_env.obs_indices "(0, 2)"` to observe only those entries (a POMDP).

env_id is a registered id, `module:env_id` (the module registers the id, e.g.
popgym:popgym-RepeatPreviousEasy-v0) or `module:Class` (your own env class). `wrappers` are
applied to each copy in order, e.g. `--config_env.wrappers "('minigrid.wrappers:ImgObsWrapper',)"`,
with keyword arguments as `module:Callable(key=value)`. Dict and Tuple observations are flattened
(an image entry goes to the CNN); `obs_keys` keeps only those entries, e.g.
`--config_env.obs_keys "('image', 'direction')"`. memrl/envs/gym_source.py and obs_layout.py
say how each is read.

Runs with the continuous-control code's loop: budgets and evaluation in env steps, counted in
units of the env's time limit. Discrete actions take configs/rl/dqn_default.py or
sacd_default.py, Box actions td3_default.py or sac_default.py.
"""

from ml_collections import ConfigDict


def get_config() -> ConfigDict:
    config = ConfigDict()
    config.env_type = "gym"
    config.env_id = "CartPole-v1"  # registered id, module:env_id or module:Class
    config.wrappers = ()  # "module:Callable" or "module:Callable(key=value, ...)", in order
    config.obs_keys = ()  # Dict keys (or Tuple positions) kept; () keeps them all
    config.obs_indices = ()  # entries of the flattened observation kept; () keeps them all
    config.max_episode_steps = 0  # 0: the env's registered (or stated) time limit

    config.eval_interval = 5  # evaluate every 5 x max_episode_steps env steps
    config.eval_episodes = 10
    return config
