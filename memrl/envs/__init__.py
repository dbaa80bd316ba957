"""Environments: our games and the gymnasium adapter, built by `make` from the task record
(memrl/tasks.py) that config_env names. Importing this registers the gymnasium ids."""

from __future__ import annotations

import gymnasium as gym
from ml_collections import ConfigDict

from memrl.entry_point import load
from memrl.envs.base import BatchedEnv, SingleEnv
from memrl.envs.gym_adapter import EnvError, GymEnv, UnsupportedEnvError
from memrl.envs.pomdp import MissingDependency, register_pomdps
from memrl.envs.sign_match import SignMatch
from memrl.envs.tmaze import ActiveTMaze, PassiveTMaze
from memrl.envs.tvt import KeyToDoor, VisualMatch
from memrl.tasks import ENV_STEPS, EPISODES, TASKS, Task, task_of


def make(env_cfg: ConfigDict, num_envs: int = 1, seed: int | None = None,
         drawing: bool = False) -> BatchedEnv:
    """Build `num_envs` copies of the task that `env_cfg` names, stepped as one batch
    (`drawing`: copies whose render() draws them, for `memrl eval --render`)."""
    task = task_of(env_cfg.env_type)
    task.variant(env_cfg)  # a clear error for a bad env_name before anything is built
    return task.make(env_cfg, num_envs, seed, drawing=drawing)


def _make_single(entry: str, **kwargs) -> SingleEnv:
    """gym.make("memrl/PassiveTMaze-v0", length=50): one copy of a batched core."""
    return SingleEnv(load(entry)(num_envs=1, **kwargs))


def register_gym_envs() -> None:
    for task in TASKS.values():
        if task.gym_id and task.gym_id not in gym.registry:
            gym.register(task.gym_id, entry_point=_make_single, kwargs={"entry": task.gym_entry})


register_gym_envs()
register_pomdps()

# The task records are memrl.tasks'; they are here too for code that builds envs from them.
__all__ = ["ENV_STEPS", "EPISODES", "TASKS", "ActiveTMaze", "BatchedEnv", "EnvError", "GymEnv",
           "KeyToDoor", "MissingDependency", "PassiveTMaze", "SignMatch", "SingleEnv", "Task",
           "UnsupportedEnvError", "VisualMatch", "make", "task_of"]
