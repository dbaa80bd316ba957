"""Any gymnasium environment as a memrl task: N copies through gymnasium's vector API.

`GymEnv` steps N copies of a gymnasium env with `gymnasium.vector.SyncVectorEnv` and presents
them as a `BatchedEnv`. What memrl needs from the env is made explicit here, once:
- observations: any space obs_layout.py encodes (Box, Discrete, MultiDiscrete, MultiBinary,
  Dict and Tuple of them), as one flat array per step: uint8 pixels alone, or float32 (image
  bytes first, then the vector entries). Applied in this order: the env's own wrappers
  (config_env.wrappers), `obs_keys` (the Dict or Tuple entries kept), the encoding, then
  `obs_indices` (the entries of the flat vector kept), which is how a fully observed task
  becomes a POMDP (e.g. CartPole without its velocities).
- actions: Discrete, or a one-dimensional bounded Box, rescaled to [-1, 1] (the agents act in
  [-1, 1], as the paper's code rescales every env).
- a time limit: `max_episode_steps` as given, else the env's registered one, else the one the
  env states itself (LIMIT_ATTRIBUTES: MiniGrid's, POPGym's). Episodes cut by it are
  `truncated` and bootstrap; true ends (the robot fell) are `terminated`.
Anything else is refused with one line saying what to do.

The env boundary is checked: each copy is probed with one reset and one step when it is built
(a broken env is refused before a run writes anything), and every reset and step after that
must give observations that fit the space and finite observations and rewards. What goes wrong
there is an `EnvError` naming the env, the step and the fault, whatever the env raised.

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
from memrl.envs.gym_source import UnsupportedEnvError, describe
from memrl.envs.obs_layout import FlatObservation, ObservationError

# Attributes by which envs that register no time limit state their longest episode.
LIMIT_ATTRIBUTES = ("max_steps", "max_episode_length")  # MiniGrid's, POPGym's


class EnvError(RuntimeError):
    """The env failed while a run played it (raised, or returned what its spaces forbid);
    the message names the env, the step and what was wrong."""


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


def prepare(env: gym.Env, obs_indices: Sequence[int] | None = None,
            obs_keys: Sequence[str | int] | None = None, name: str | None = None) -> gym.Env:
    """Check the spaces of a gymnasium env and wrap it as memrl runs it (see module doc)."""
    name = name or (env.spec.id if env.spec else type(env.unwrapped).__name__)
    action_space = env.action_space
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
        raise UnsupportedEnvError(
            f"{name} acts in {action_space}; memrl's agents take Discrete or one-dimensional "
            "Box actions: map it to one with a wrapper (--config_env.wrappers)")
    env = FlatObservation(env, name, obs_keys)
    if obs_indices:
        if env.image_shape is not None:
            raise UnsupportedEnvError(f"{name} observes images; obs_indices applies to "
                                      "vector observations (pick Dict entries with obs_keys)")
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

    `make_env` returns a plain gymnasium env; `prepare` checks and wraps each copy, and one
    copy is probed (see module doc). `name` is how messages call the env (config_env.env_id).
    """

    def __init__(
        self,
        make_env: Callable[[], gym.Env],
        num_envs: int = 1,
        seed: int | None = None,
        obs_indices: Sequence[int] | None = None,
        max_episode_steps: int | None = None,
        obs_keys: Sequence[str | int] | None = None,
        name: str | None = None,
    ):
        self.num_envs = num_envs
        with quiet_stdout():
            self.vector = gym.vector.SyncVectorEnv(
                [lambda: prepare(make_env(), obs_indices, obs_keys, name)] * num_envs,
                autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP,
            )
        first = self.vector.envs[0]
        self.name = name or (first.spec.id if first.spec else type(first.unwrapped).__name__)
        limit = max_episode_steps or (first.spec.max_episode_steps if first.spec else None) \
            or _stated_limit(first.unwrapped)
        if not limit:
            raise UnsupportedEnvError(
                f"{self.name} has no time limit; set config_env.max_episode_steps (every memrl "
                "episode has a longest length)")
        self.max_episode_steps = int(limit)
        self.observation_space = first.observation_space
        self.action_space = first.action_space
        self.image_shape = first.get_wrapper_attr("image_shape")
        self._seed = seed
        self._step = 0  # steps since the last reset, for messages
        self.rng = np.random.default_rng(seed)  # unused by the env; kept for the contract
        self._probe(first)

    def _probe(self, env: gym.Env) -> None:
        """One reset and one random step of copy 0, so a broken env is refused when it is
        built (the first real reset re-seeds it, or all copies start afresh anyway)."""
        for stage in ("its first reset", "its first step"):
            try:
                with quiet_stdout():
                    if stage == "its first reset":
                        obs, _ = env.reset(seed=self._seed)
                        reward = 0.0
                    else:
                        env.action_space.seed(0)
                        obs, reward, *_ = env.step(env.action_space.sample())
                problem = _nonfinite(np.asarray(obs)[None], np.asarray([reward], np.float64))
            except Exception as err:
                raise UnsupportedEnvError(f"{self.name}: {stage}: {_fault(err)}") from err
            if problem:
                raise UnsupportedEnvError(f"{self.name}: {stage}: {problem}")

    def reset(self, seed: int | None = None) -> np.ndarray:
        seed = seed if seed is not None else self._seed
        self._seed = None  # gymnasium seeds once; later resets continue each copy's stream
        self._step = 0
        with quiet_stdout():
            obs, _ = self._checked("reset", lambda: self.vector.reset(seed=seed))
        return obs

    def step(self, actions: np.ndarray) -> StepResult:
        self._step += 1
        obs, reward, terminated, truncated, info = self._checked(
            f"step {self._step} of its episodes", lambda: self.vector.step(actions))
        out: dict[str, np.ndarray] = {}
        if "is_success" in info:
            out["success"] = np.asarray(info["is_success"], dtype=bool)
        return (obs, np.asarray(reward, dtype=np.float32), np.asarray(terminated, dtype=bool),
                np.asarray(truncated, dtype=bool), out)

    def _checked(self, where: str, call: Callable[[], tuple]) -> tuple:
        """`call()`, with whatever the env raises or returns non-finite as an EnvError."""
        try:
            result = call()
        except Exception as err:
            raise EnvError(f"env {self.name}, {where}: {_fault(err)}") from err
        rewards = result[1] if len(result) == 5 else np.zeros(self.num_envs)
        problem = _nonfinite(result[0], np.asarray(rewards, dtype=np.float64))
        if problem:
            raise EnvError(f"env {self.name}, {where}: {problem}")
        return result

    def render(self, index: int = 0) -> np.ndarray:
        try:
            frame = self.vector.envs[index].render()
        except Exception as err:  # a missing drawing library, say
            raise EnvError(f"env {self.name} could not draw itself: {describe(err)}") from err
        if frame is None:
            raise NotImplementedError(f"{self.name} draws nothing in render_mode "
                                      f"{self.vector.envs[index].render_mode!r}")
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


def _stated_limit(env: gym.Env) -> int | None:
    """The longest episode an env states by one of LIMIT_ATTRIBUTES, if any."""
    for attribute in LIMIT_ATTRIBUTES:
        value = getattr(env, attribute, None)
        if isinstance(value, int | np.integer) and not isinstance(value, bool) and value > 0:
            return int(value)
    return None


def _fault(err: Exception) -> str:
    """What an env raised, in one line (an observation that does not fit its space says so)."""
    if isinstance(err, (ObservationError, UnsupportedEnvError)):
        return str(err)
    return f"raised {describe(err)}"


def _nonfinite(obs: np.ndarray, rewards: np.ndarray) -> str | None:
    """Which copy's observation or reward is NaN or inf, or None."""
    bad_rewards = ~np.isfinite(rewards)
    if bad_rewards.any():
        copy = int(np.flatnonzero(bad_rewards)[0])
        return f"reward {rewards[copy]} (copy {copy})"
    if obs.dtype.kind == "f":
        bad = ~np.isfinite(obs.reshape(len(obs), -1))
        if bad.any():
            copy, entry = (int(i[0]) for i in np.nonzero(bad))
            return (f"entry {entry} of the flattened observation is "
                    f"{obs.reshape(len(obs), -1)[copy, entry]} (copy {copy})")
    return None
