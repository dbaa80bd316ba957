"""The batched environment contract every memrl task implements, and its gymnasium face.

A task is N copies of one environment stepped as arrays: `reset()` starts an episode in every
copy, `step(actions)` advances them all and returns gymnasium's five values per copy,
(obs, reward, terminated, truncated, info). A copy's episode ends when it is `terminated` (a
true end: no value after it, so TD targets do not bootstrap) or `truncated` (cut by a time
limit: the state after it still has a value, so TD targets bootstrap from the last
observation). Copies may end at different steps; what `step` does to a copy after its episode
ended is up to the env, and the collector ignores it until the next `reset()`. No episode lasts
longer than `max_episode_steps`.

Spaces are gymnasium's: `observation_space` is a flat Box (float vectors; uint8 pixels with
`image_shape` set; or, from a gymnasium Dict of an image and more, float32 image bytes followed
by vector entries, envs/obs_layout.py), `action_space` a Discrete or a Box, both for ONE copy. Our own games are
numpy code over all N copies at once (no per-copy Python loop); `GymEnv` (gym_adapter.py)
wraps any gymnasium environment. `SingleEnv` below is the other direction: one copy of a
batched core as a plain gymnasium environment, so `gymnasium.make("memrl/...")` and the
trainer run exactly the same dynamics.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

StepResult = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, np.ndarray]]


class BatchedEnv(abc.ABC):
    """N environments of one task stepped as arrays.

    Subclasses set in `__init__`: num_envs, observation_space and action_space (of one copy),
    max_episode_steps, and image_shape ((C, H, W) of the pixels the flat observation starts
    with, or None)
    and own the source of their randomness, seeded from `seed`, with `get_state`/`set_state`
    saving it between episodes so that a resumed run continues the same streams.
    """

    num_envs: int
    observation_space: gym.spaces.Box
    action_space: gym.spaces.Discrete | gym.spaces.Box
    max_episode_steps: int
    image_shape: tuple[int, int, int] | None = None
    rng: np.random.Generator

    @property
    def obs_shape(self) -> tuple[int, ...]:
        return tuple(self.observation_space.shape)

    @property
    def obs_dtype(self) -> np.dtype:
        return np.dtype(self.observation_space.dtype)

    @abc.abstractmethod
    def reset(self, seed: int | None = None) -> np.ndarray:
        """Start N new episodes; return observations of shape (N, *obs_shape).

        `seed` (optional) re-seeds the env's randomness first, as gymnasium's reset does.
        """

    @abc.abstractmethod
    def step(self, actions: np.ndarray) -> StepResult:
        """Advance all N episodes by one step.

        Returns obs (N, *obs_shape), reward float32 (N,), terminated and truncated bool (N,),
        and info mapping names to arrays of shape (N,); when a task has a goal,
        info["success"] (bool) says, at a copy's last step, whether it was met.
        """

    def render(self, index: int = 0) -> np.ndarray:
        """A picture of env `index` now, RGB bytes (H, W, 3)."""
        raise NotImplementedError(f"{type(self).__name__} does not draw itself")

    def close(self) -> None:
        """Release what the env holds (physics servers, worker processes)."""

    def get_state(self) -> dict[str, Any]:
        """What must be saved to continue the same random streams after a checkpoint."""
        return {"rng": self.rng.bit_generator.state}

    def set_state(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]


def pixel_space(image_shape: tuple[int, int, int]) -> gym.spaces.Box:
    """Flattened uint8 (C, H, W) images, as our pixel games observe."""
    return gym.spaces.Box(0, 255, shape=(int(np.prod(image_shape)),), dtype=np.uint8)


class SingleEnv(gym.Env):
    """A gymnasium environment over a batched core with one copy."""

    metadata: ClassVar[dict] = {"render_modes": []}

    def __init__(self, core: BatchedEnv):
        if core.num_envs != 1:
            raise ValueError("SingleEnv wraps a batched core with num_envs=1")
        self.core = core
        self.action_space = core.action_space
        self.observation_space = core.observation_space

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        obs = self.core.reset(seed=seed)
        return obs[0], {}

    def step(self, action):
        actions = np.asarray(action, dtype=self.action_space.dtype)[None]
        obs, reward, terminated, truncated, info = self.core.step(actions)
        single_info = {k: v[0].item() for k, v in info.items()}
        return obs[0], float(reward[0]), bool(terminated[0]), bool(truncated[0]), single_info
