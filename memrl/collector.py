"""Run N episodes in lockstep with a policy and return them whole, time-major."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from memrl.agents.base import Agent
from memrl.envs.base import BatchedEnv
from memrl.replay import NO_ACTION


@dataclass
class Episodes:
    """N finished episodes: obs (T+1, N, ...), actions / rewards / dones (T, N), success (N,)."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    success: np.ndarray
    env_seconds: float = 0.0  # wall time spent in env.step
    act_seconds: float = 0.0  # wall time spent choosing actions

    @property
    def num_episodes(self) -> int:
        return self.actions.shape[1]

    @property
    def num_steps(self) -> int:
        return self.actions.size

    @property
    def returns(self) -> np.ndarray:
        return self.rewards.sum(axis=0)


def rollout(
    env: BatchedEnv,
    agent: Agent | None,
    explore: bool = True,
    rng: np.random.Generator | None = None,
) -> Episodes:
    """Play one episode in each of the env's N copies.

    agent=None plays uniformly random actions drawn from `rng` (the warm-up); otherwise the
    agent acts for all N at once, exploring or greedy, carrying its memory state.
    """
    n, horizon = env.num_envs, env.episode_length
    obs_buf = np.empty((horizon + 1, n, *env.obs_shape), dtype=env.obs_dtype)
    actions = np.empty((horizon, n), dtype=np.int64)
    rewards = np.empty((horizon, n), dtype=np.float32)
    dones = np.empty((horizon, n), dtype=bool)

    obs_buf[0] = env.reset()
    prev_action = np.full(n, NO_ACTION, dtype=np.int64)
    prev_reward = np.zeros(n, dtype=np.float32)
    state = agent.initial_state(n) if agent is not None else None
    success = np.zeros(n, dtype=bool)
    env_seconds = act_seconds = 0.0
    for t in range(horizon):
        t0 = time.perf_counter()
        if agent is None:
            action = rng.integers(0, env.num_actions, size=n)
        else:
            action, state = agent.act(obs_buf[t], prev_action, prev_reward, state, explore)
        t1 = time.perf_counter()
        obs, reward, done, info = env.step(action)
        t2 = time.perf_counter()
        act_seconds += t1 - t0
        env_seconds += t2 - t1
        obs_buf[t + 1], actions[t], rewards[t], dones[t] = obs, action, reward, done
        prev_action, prev_reward = actions[t], rewards[t]
        if done.any():
            if not done.all() or t != horizon - 1:
                raise RuntimeError(
                    f"{type(env).__name__} ended episodes at step {t + 1} of {horizon}; "
                    "batched envs must end all episodes together at episode_length"
                )
            success = info.get("success", success)
    if not dones[-1].all():
        raise RuntimeError(
            f"{type(env).__name__} did not end its episodes at episode_length={horizon}"
        )
    return Episodes(obs_buf, actions, rewards, dones, np.asarray(success, dtype=bool),
                    env_seconds, act_seconds)
