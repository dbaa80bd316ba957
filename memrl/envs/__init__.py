"""Tasks. Add one by writing a `BatchedEnv` (see base.py) and one line in `ENV_TYPES`."""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
from ml_collections import ConfigDict

from memrl.envs.base import BatchedEnv, SingleEnv
from memrl.envs.tmaze import ActiveTMaze, PassiveTMaze
from memrl.envs.tvt import KeyToDoor, VisualMatch


def _tvt_game(core_cls: type[BatchedEnv], cfg: ConfigDict, n: int, seed: int | None) -> BatchedEnv:
    """Visual Match and Key-to-Door read the same config leaves."""
    return core_cls(
        cfg.env_name,
        n,
        seed,
        final_reward=cfg.final_reward,
        apple_reward=cfg.apple_reward,
        respawn_every=cfg.respawn_every,
        num_apples=cfg.num_apples,
    )


# env_type (config_env.env_type) -> builder(config_env, num_envs, seed). config_env.env_name
# is the task's length L.
ENV_TYPES: dict[str, Callable[[ConfigDict, int, int | None], BatchedEnv]] = {
    "tmaze_passive": lambda cfg, n, seed: PassiveTMaze(
        cfg.env_name, n, seed, distract_reward=cfg.distract_reward
    ),
    "tmaze_active": lambda cfg, n, seed: ActiveTMaze(
        cfg.env_name, n, seed, distract_reward=cfg.distract_reward
    ),
    "visual_match": lambda cfg, n, seed: _tvt_game(VisualMatch, cfg, n, seed),
    "key_to_door": lambda cfg, n, seed: _tvt_game(KeyToDoor, cfg, n, seed),
}

# gymnasium ids, each taking the length as a keyword: gym.make("memrl/PassiveTMaze-v0", length=50)
GYM_IDS: dict[str, type[BatchedEnv]] = {
    "memrl/PassiveTMaze-v0": PassiveTMaze,
    "memrl/ActiveTMaze-v0": ActiveTMaze,
    "memrl/PassiveVisualMatch-v0": VisualMatch,
    "memrl/KeyToDoor-v0": KeyToDoor,
}


def make(env_cfg: ConfigDict, num_envs: int = 1, seed: int | None = None) -> BatchedEnv:
    """Build `num_envs` copies of the task that `env_cfg` names, stepped as one batch."""
    env_type = env_cfg.env_type
    if env_type not in ENV_TYPES:
        raise ValueError(
            f"unknown env_type {env_type!r}; choose one of {sorted(ENV_TYPES)}"
        )
    length = env_cfg.env_name
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(
            f"config_env.env_name is the task length L and must be a positive integer, "
            f"got {length!r}; set e.g. --config_env.env_name 50"
        )
    return ENV_TYPES[env_type](env_cfg, num_envs, seed)


def _make_single(core_cls: type[BatchedEnv], **kwargs) -> SingleEnv:
    return SingleEnv(core_cls(num_envs=1, **kwargs))


def register_gym_envs() -> None:
    for env_id, core_cls in GYM_IDS.items():
        if env_id not in gym.registry:
            gym.register(env_id, entry_point=_make_single, kwargs={"core_cls": core_cls})


register_gym_envs()

__all__ = ["ENV_TYPES", "GYM_IDS", "BatchedEnv", "SingleEnv", "make"]
