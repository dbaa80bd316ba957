"""The batched environment contract every memrl task implements, and its gymnasium face.

A task is written once, as numpy code that steps N copies at the same time (arrays in, arrays
out, no per-env Python loop). Every task in the paper has a fixed horizon, so the N episodes of
a batch start together and end together after `episode_length` steps; the collector relies on
that. The single-env gymnasium class below is a thin adapter over the batched core with N = 1,
so `gymnasium.make("memrl/...")` and the trainer run exactly the same dynamics.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np


class BatchedEnv(abc.ABC):
    """N environments of one task stepped as arrays.

    Subclasses set in `__init__`:
      num_envs, num_actions, obs_shape (per env), obs_dtype, episode_length (T),
      image_shape ((C, H, W) of the flattened pixel observation, or None for vector tasks),
      obs_low / obs_high (bounds for the observation space).
    and own one `np.random.Generator` in `self.rng` (seeded from `seed`), the only source of
    randomness, so that saving `rng.bit_generator.state` between episodes is enough to resume.
    """

    num_envs: int
    num_actions: int
    obs_shape: tuple[int, ...]
    obs_dtype: np.dtype
    episode_length: int
    image_shape: tuple[int, int, int] | None = None
    obs_low: float = -np.inf
    obs_high: float = np.inf
    rng: np.random.Generator

    @abc.abstractmethod
    def reset(self, seed: int | None = None) -> np.ndarray:
        """Start N new episodes; return observations of shape (N, *obs_shape).

        `seed` (optional) re-seeds `self.rng` first, as gymnasium's reset does.
        """

    @abc.abstractmethod
    def step(
        self, actions: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """Advance all N episodes by one step.

        Returns (obs (N, *obs_shape), reward float32 (N,), done bool (N,), info) where info
        maps names to arrays of shape (N,); at the last step info["success"] (bool) says
        whether the episode met the task's goal.
        """

    def render(self, index: int = 0) -> np.ndarray:
        """A picture of env `index` now, RGB bytes (H, W, 3), one pixel per cell."""
        raise NotImplementedError(f"{type(self).__name__} does not draw itself")

    def get_state(self) -> dict[str, Any]:
        """What must be saved to continue the same random streams after a checkpoint."""
        return {"rng": self.rng.bit_generator.state}

    def set_state(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]


class SingleEnv(gym.Env):
    """A gymnasium environment over a batched core with one copy.

    Subclasses (or `functools.partial` entry points) pass a factory that builds the core from
    `num_envs` and `seed`; everything else (spaces, reset, step) is shared here.
    """

    metadata: ClassVar[dict] = {"render_modes": []}

    def __init__(self, core: BatchedEnv):
        if core.num_envs != 1:
            raise ValueError("SingleEnv wraps a batched core with num_envs=1")
        self.core = core
        self.action_space = gym.spaces.Discrete(core.num_actions)
        self.observation_space = gym.spaces.Box(
            low=core.obs_low, high=core.obs_high, shape=core.obs_shape, dtype=core.obs_dtype
        )

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        obs = self.core.reset(seed=seed)
        return obs[0], {}

    def step(self, action):
        obs, reward, done, info = self.core.step(np.asarray([action], dtype=np.int64))
        single_info = {k: v[0].item() for k, v in info.items()}
        return obs[0], float(reward[0]), bool(done[0]), False, single_info
