"""Play one episode in each of N env copies with a policy and return them whole, time-major.

The N episodes start together and the agent acts for all N at once, carrying one batched
memory state. Copies may end at different steps: a copy that ended is left out from then on
(its later steps are not recorded; the env may run it on, unseen) until the longest episode
ends. With the paper's fixed-horizon tasks all copies end together.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from memrl.agents.base import Agent
from memrl.envs.base import BatchedEnv
from memrl.replay import action_storage, no_action


@dataclass
class Episodes:
    """N finished episodes, time-major and padded to the longest: obs (L+1, N, ...), actions
    (L, N, ...), rewards / terminated / truncated (L, N), lengths (N,), success (N,) (1.0 or
    0.0, NaN where the task reports no success)."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    lengths: np.ndarray
    success: np.ndarray
    env_seconds: float = 0.0  # wall time spent in env.step
    act_seconds: float = 0.0  # wall time spent choosing actions

    @property
    def num_episodes(self) -> int:
        return len(self.lengths)

    @property
    def num_steps(self) -> int:
        return int(self.lengths.sum())

    @property
    def returns(self) -> np.ndarray:
        return self.rewards.sum(axis=0)  # steps after an episode's end hold 0

    def discounted_returns(self, discount: float) -> np.ndarray:
        weights = discount ** np.arange(len(self.rewards), dtype=np.float64)
        return (self.rewards * weights[:, None]).sum(axis=0)


def random_actions(space: gym.Space, n: int, rng: np.random.Generator) -> np.ndarray:
    """n uniformly random actions of `space`, drawn from `rng` (the warm-up's stream)."""
    if isinstance(space, gym.spaces.Discrete):
        return space.start + rng.integers(0, space.n, size=n)
    return rng.uniform(space.low, space.high, size=(n, *space.shape)).astype(np.float32)


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
    n, horizon = env.num_envs, env.max_episode_steps
    action_shape, action_dtype = action_storage(env.action_space)
    obs_buf = np.empty((horizon + 1, n, *env.obs_shape), dtype=env.obs_dtype)
    actions = np.zeros((horizon, n, *action_shape), dtype=action_dtype)
    rewards = np.zeros((horizon, n), dtype=np.float32)
    terminated = np.zeros((horizon, n), dtype=bool)
    truncated = np.zeros((horizon, n), dtype=bool)
    lengths = np.full(n, horizon, dtype=np.int64)
    success = np.full(n, np.nan)

    obs_buf[0] = env.reset()
    prev_action = np.broadcast_to(no_action(env.action_space), (n, *action_shape)).copy()
    prev_reward = np.zeros(n, dtype=np.float32)
    state = agent.initial_state(n) if agent is not None else None
    running = np.ones(n, dtype=bool)
    env_seconds = act_seconds = 0.0
    steps = horizon
    for t in range(horizon):
        t0 = time.perf_counter()
        if agent is None:
            action = random_actions(env.action_space, n, rng)
        else:
            action, state = agent.act(obs_buf[t], prev_action, prev_reward, state, explore)
        t1 = time.perf_counter()
        obs, reward, term, trunc, info = env.step(action)
        t2 = time.perf_counter()
        act_seconds += t1 - t0
        env_seconds += t2 - t1

        obs_buf[t + 1], actions[t] = obs, action
        rewards[t] = np.where(running, reward, 0.0)
        # A true end that coincides with the time limit is a true end: no bootstrap.
        terminated[t], truncated[t] = term & running, trunc & ~term & running
        prev_action, prev_reward = actions[t], rewards[t]
        ended = (term | trunc) & running
        if ended.any():
            lengths[ended] = t + 1
            if "success" in info:
                success[ended] = np.asarray(info["success"], dtype=float)[ended]
            running &= ~ended
            if not running.any():
                steps = t + 1
                break
    else:
        truncated[-1] |= running  # still running at max_episode_steps: cut by the time limit
    return Episodes(obs_buf[: steps + 1], actions[:steps], rewards[:steps], terminated[:steps],
                    truncated[:steps], lengths, success, env_seconds, act_seconds)
