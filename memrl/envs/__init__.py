"""Tasks. Add one by writing its env with a `Task` record (see task.py) and one line in `TASKS`."""

from __future__ import annotations

import gymnasium as gym
from ml_collections import ConfigDict

from memrl.envs.base import BatchedEnv, SingleEnv
from memrl.envs.gym_adapter import EnvError, GymEnv, UnsupportedEnvError
from memrl.envs.pomdp import BULLET_P, BULLET_V, GYM, MissingDependency, register_pomdps
from memrl.envs.sign_match import SIGN_MATCH, SignMatch
from memrl.envs.task import ENV_STEPS, EPISODES, Task
from memrl.envs.tmaze import ACTIVE_TMAZE, PASSIVE_TMAZE, ActiveTMaze, PassiveTMaze
from memrl.envs.tvt import KEY_TO_DOOR, VISUAL_MATCH, KeyToDoor, VisualMatch

# config_env.env_type -> its record.
TASKS: dict[str, Task] = {
    task.env_type: task
    for task in (
        PASSIVE_TMAZE,
        ACTIVE_TMAZE,
        VISUAL_MATCH,
        KEY_TO_DOOR,
        SIGN_MATCH,
        BULLET_P,
        BULLET_V,
        GYM,
    )
}


def task_of(env_type: str) -> Task:
    if env_type not in TASKS:
        raise ValueError(f"unknown env_type {env_type!r} (config_env.env_type); choose one of "
                         f"{', '.join(TASKS)}")
    return TASKS[env_type]


def make(env_cfg: ConfigDict, num_envs: int = 1, seed: int | None = None,
         drawing: bool = False) -> BatchedEnv:
    """Build `num_envs` copies of the task that `env_cfg` names, stepped as one batch
    (`drawing`: copies whose render() draws them, for `memrl eval --render`)."""
    task = task_of(env_cfg.env_type)
    task.variant(env_cfg)  # a clear error for a bad env_name before anything is built
    make_copies = task.make_drawing if drawing and task.make_drawing else task.make
    return make_copies(env_cfg, num_envs, seed)


def _make_single(entry, **kwargs) -> SingleEnv:
    """gym.make("memrl/PassiveTMaze-v0", length=50): one copy of a batched core."""
    return SingleEnv(entry(num_envs=1, **kwargs))


def register_gym_envs() -> None:
    for task in TASKS.values():
        if task.gym_id and task.gym_id not in gym.registry:
            gym.register(task.gym_id, entry_point=_make_single, kwargs={"entry": task.gym_entry})


register_gym_envs()
register_pomdps()

__all__ = ["ENV_STEPS", "EPISODES", "TASKS", "ActiveTMaze", "BatchedEnv", "EnvError", "GymEnv",
           "KeyToDoor", "MissingDependency", "PassiveTMaze", "SignMatch", "SingleEnv", "Task",
           "UnsupportedEnvError", "VisualMatch", "make", "task_of"]
