"""Any gymnasium environment as a memrl task: N copies through gymnasium's vector API.

`GymEnv` steps N copies of a gymnasium env with `gymnasium.vector.SyncVectorEnv` and presents
them as a `BatchedEnv`. What memrl needs from the env is made explicit here, once:
- observations: a Box. Vectors are cast to float32 (as the paper's code casts them);
  `obs_indices` keeps only some of them, which is how a fully observed task becomes a POMDP
  (e.g. CartPole without its velocities). Images (H, W, C) uint8 are turned channel-first and
  flattened, with `image_shape` set, so the CNN embedders take them.
- actions: Discrete, or a one-dimensional bounded Box, rescaled to [-1, 1] (the agents act in
  [-1, 1], as the paper's code rescales every env).
- a time limit (`max_episode_steps` from the env's registration, or given): episodes cut by it
  are `truncated` and bootstrap; true ends (the robot fell) are `terminated`.
Anything else is refused with one line saying what to do.

Copies may end at different steps. The vector env runs in gymnasium's next-step autoreset
mode: a copy that ended restarts on its next step; the collector has stopped recording it
then, and every collection begins with a `reset()` of all copies.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from memrl.envs.base import BatchedEnv, StepResult


class UnsupportedEnvError(ValueError):
    """A gymnasium env memrl cannot run as it is; the message says what to change."""


class ObservationSubset(gym.ObservationWrapper):
    """Keep observation entries `indices` of a one-dimensional Box (occlusion)."""

    def __init__(self, env: gym.Env, indices: Sequence[int]):
        super().__init__(env)
        space = env.observation_space
        size = space.shape[0]
        bad = [i for i in indices if not isinstance(i, int | np.integer) or not 0 <= i < size]
        if not indices or bad or len(set(indices)) != len(indices):
            raise UnsupportedEnvError(
                f"obs_indices {tuple(indices)} must be distinct integers in [0, {size}) for "
                f"{env.spec.id if env.spec else env}'s {size} observation entries")
        self.indices = np.asarray(indices, dtype=np.int64)
        self.observation_space = gym.spaces.Box(space.low[self.indices], space.high[self.indices],
                                                dtype=space.dtype)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return observation[self.indices]


class ChannelFirstFlat(gym.ObservationWrapper):
    """(H, W, C) uint8 images -> flattened (C, H, W), as our CNN embedders read pixels."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        h, w, c = env.observation_space.shape
        self.image_shape = (c, h, w)
        self.observation_space = gym.spaces.Box(0, 255, (c * h * w,), dtype=np.uint8)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(observation.transpose(2, 0, 1)).reshape(-1)


def prepare(env: gym.Env, obs_indices: Sequence[int] | None = None) -> gym.Env:
    """Check the spaces of a gymnasium env and wrap it as memrl runs it (see module doc)."""
    name = env.spec.id if env.spec else type(env.unwrapped).__name__
    obs_space, action_space = env.observation_space, env.action_space
    if not isinstance(obs_space, gym.spaces.Box):
        raise UnsupportedEnvError(
            f"{name} observes {obs_space}; memrl takes Box observations (flatten a Dict or "
            "Tuple space with gymnasium.wrappers.FlattenObservation in an env you register)")
    if isinstance(action_space, gym.spaces.Box):
        if len(action_space.shape) != 1:
            raise UnsupportedEnvError(f"{name} acts in {action_space}; memrl takes "
                                      "one-dimensional Box actions")
        if not (np.isfinite(action_space.low).all() and np.isfinite(action_space.high).all()):
            raise UnsupportedEnvError(f"{name}'s action space {action_space} is unbounded; "
                                      "memrl's agents act in [-1, 1] rescaled to the bounds")
        if not (np.all(action_space.low == -1) and np.all(action_space.high == 1)):
            with warnings.catch_warnings():  # its float64 bounds on a float32 space: harmless
                warnings.filterwarnings("ignore", message=".*precision lowered by casting")
                env = gym.wrappers.RescaleAction(env, np.float32(-1), np.float32(1))
    elif not isinstance(action_space, gym.spaces.Discrete):
        raise UnsupportedEnvError(f"{name} acts in {action_space}; memrl's agents take "
                                  "Discrete or Box action spaces")
    if len(obs_space.shape) == 3 and obs_space.dtype == np.uint8:
        if obs_indices:
            raise UnsupportedEnvError(f"{name} observes images; obs_indices applies to "
                                      "vector observations")
        return ChannelFirstFlat(env)
    if len(obs_space.shape) != 1:
        raise UnsupportedEnvError(f"{name} observes {obs_space}; memrl takes vectors or "
                                  "(H, W, C) uint8 images")
    if obs_space.dtype != np.float32:
        env = gym.wrappers.DtypeObservation(env, np.float32)
    if obs_indices:
        env = ObservationSubset(env, list(obs_indices))
    return env


@contextlib.contextmanager
def quiet_stdout(fds: tuple[int, ...] = (1,)):
    """Silence what C extensions print to the process's stdout (PyBullet prints a line each
    time it connects), leaving Python's own output alone; `fds=(1, 2)` silences stderr too."""
    try:
        saved = [os.dup(fd) for fd in fds]
    except OSError:  # no such stream to silence
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            for fd in fds:
                os.dup2(devnull.fileno(), fd)
            yield
    finally:
        _flush_c_stdout()  # what C code buffered goes to /dev/null, not out later
        for fd, copy in zip(fds, saved):
            os.dup2(copy, fd)
            os.close(copy)


def _flush_c_stdout() -> None:
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # no C library to ask (not on Linux or macOS)
        pass


class GymEnv(BatchedEnv):
    """`num_envs` copies of the env that `make_env()` builds, run as one batch.

    `make_env` returns a plain gymnasium env; `prepare` checks and wraps each copy.
    `max_episode_steps` defaults to the env's registered time limit.
    """

    def __init__(
        self,
        make_env: Callable[[], gym.Env],
        num_envs: int = 1,
        seed: int | None = None,
        obs_indices: Sequence[int] | None = None,
        max_episode_steps: int | None = None,
    ):
        self.num_envs = num_envs
        with quiet_stdout():
            self.vector = gym.vector.SyncVectorEnv(
                [lambda: prepare(make_env(), obs_indices)] * num_envs,
                autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP,
            )
        first = self.vector.envs[0]
        limit = max_episode_steps or (first.spec.max_episode_steps if first.spec else None)
        if not limit:
            raise UnsupportedEnvError(
                f"{first.spec.id if first.spec else first} has no time limit; set "
                "config_env.max_episode_steps (every memrl episode has a longest length)")
        self.max_episode_steps = int(limit)
        self.observation_space = first.observation_space
        self.action_space = first.action_space
        self.image_shape = getattr(first, "image_shape", None)
        self._seed = seed
        self.rng = np.random.default_rng(seed)  # unused by the env; kept for the contract

    def reset(self, seed: int | None = None) -> np.ndarray:
        seed = seed if seed is not None else self._seed
        self._seed = None  # gymnasium seeds once; later resets continue each copy's stream
        with quiet_stdout():
            obs, _ = self.vector.reset(seed=seed)
        return obs

    def step(self, actions: np.ndarray) -> StepResult:
        obs, reward, terminated, truncated, info = self.vector.step(actions)
        out: dict[str, np.ndarray] = {}
        if "is_success" in info:
            out["success"] = np.asarray(info["is_success"], dtype=bool)
        return (obs, np.asarray(reward, dtype=np.float32), np.asarray(terminated, dtype=bool),
                np.asarray(truncated, dtype=bool), out)

    def render(self, index: int = 0) -> np.ndarray:
        frame = self.vector.envs[index].render()
        if frame is None:
            raise NotImplementedError("this gymnasium env was not made with "
                                      "render_mode='rgb_array'")
        return np.asarray(frame, dtype=np.uint8)

    def close(self) -> None:
        self.vector.close()

    def get_state(self) -> dict[str, Any]:
        """Each copy's random stream (what its next reset draws from), saved between episodes
        so a resumed run continues them; a physics engine's internal state is not saved."""
        return {"copies": [env.unwrapped.np_random.bit_generator.state
                           for env in self.vector.envs],
                "pending_seed": self._seed}

    def set_state(self, state: dict[str, Any]) -> None:
        for env, copy_state in zip(self.vector.envs, state["copies"]):
            env.unwrapped.np_random.bit_generator.state = copy_state
        self._seed = state["pending_seed"]
