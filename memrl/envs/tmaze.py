"""Passive and Active T-Maze (Ni et al., 2023), N mazes stepped as arrays.

A corridor along x at y = 0: the oracle cell at x = 0, the agent's start at x = o, the
junction J at x = o + L, and two goal cells (J, +1) and (J, -1). The oracle shows the goal side
the first time the agent stands on it; the agent is paid 1 at the last step if it stands on the
goal side, and a pace penalty of -1/L on earlier steps when it lags behind x = t - o.

Passive (o = 0): the agent starts on the oracle, so memory length is L and credit assignment
length 1. Active (o = 1): the agent must first step left to the oracle, paid only at the end,
so both lengths are about L.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from memrl.envs.base import BatchedEnv
from memrl.tasks import positive_length

# Action -> (dx, dy): 0 right, 1 up, 2 left, 3 down.
MOVES = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], dtype=np.int64)
RIGHT, UP, LEFT, DOWN = 0, 1, 2, 3


class TMaze(BatchedEnv):
    """`oracle_length` o = 0 gives Passive T-Maze, o = 1 Active; `length` is L."""

    observation_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    action_space = gym.spaces.Discrete(4)

    def __init__(
        self,
        length: int,
        oracle_length: int,
        num_envs: int = 1,
        seed: int | None = None,
        goal_reward: float = 1.0,
        distract_reward: float = 0.0,
    ):
        if int(length) != length or length < 1:
            raise ValueError(f"T-Maze length must be a positive integer, got {length!r}")
        if oracle_length not in (0, 1):
            raise ValueError(f"oracle_length is 0 (passive) or 1 (active), got {oracle_length!r}")
        self.length = int(length)
        self.oracle_length = oracle_length
        self.junction = oracle_length + self.length
        self.max_episode_steps = self.length + 2 * oracle_length + 1
        self.num_envs = num_envs
        self.goal_reward = goal_reward
        self.penalty = -1.0 / self.length  # sums to at most -1 over an episode
        self.distract_reward = distract_reward
        self.rng = np.random.default_rng(seed)

        self.x = np.zeros(num_envs, dtype=np.int64)
        self.y = np.zeros(num_envs, dtype=np.int64)
        self.goal = np.ones(num_envs, dtype=np.int64)
        self.oracle_seen = np.zeros(num_envs, dtype=bool)
        self.t = 0

    def reset(self, seed: int | None = None) -> np.ndarray:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.x[:] = self.oracle_length
        self.y[:] = 0
        self.goal[:] = self.rng.choice(np.array([-1, 1]), size=self.num_envs)
        self.oracle_seen[:] = False
        self.t = 0
        return self._observe()

    def step(self, actions: np.ndarray):
        if self.t >= self.max_episode_steps:
            raise RuntimeError("step() called after the episode ended; call reset() first")
        move = MOVES[np.asarray(actions, dtype=np.int64)]
        nx, ny = self.x + move[:, 0], self.y + move[:, 1]
        in_corridor = (ny == 0) & (nx >= 0) & (nx <= self.junction)
        at_goal_cell = (nx == self.junction) & (np.abs(ny) == 1)
        walkable = in_corridor | at_goal_cell
        self.x = np.where(walkable, nx, self.x)
        self.y = np.where(walkable, ny, self.y)
        self.t += 1

        last = self.t >= self.max_episode_steps
        at_goal = self.y == self.goal
        if last:
            reward = at_goal * self.goal_reward
        else:
            lagging = self.x < self.t - self.oracle_length
            reward = lagging * self.penalty + (self.x == 0) * self.distract_reward
        # The horizon is the task's own end (no value after it), not a time limit.
        terminated = np.full(self.num_envs, last)
        info = {"success": terminated & at_goal}
        return (self._observe(), reward.astype(np.float32), terminated,
                np.zeros(self.num_envs, dtype=bool), info)

    def render(self, index: int = 0) -> np.ndarray:
        """3 rows (y = +1, 0, -1) x (J + 1) columns: corridor grey, the oracle cell coloured by
        the goal side while it is still unseen, the goal cell green, the other goal cell red,
        the agent black."""
        image = np.full((3, self.junction + 1, 3), 40, dtype=np.uint8)  # walls
        image[1, :] = 200
        goal_row = 1 - self.goal[index]
        image[goal_row, self.junction] = (60, 180, 75)
        image[2 - goal_row, self.junction] = (200, 60, 60)
        if not self.oracle_seen[index]:
            image[1, 0] = (60, 180, 75) if self.goal[index] == 1 else (70, 110, 220)
        image[1 - self.y[index], self.x[index]] = (0, 0, 0)
        return image

    def _observe(self) -> np.ndarray:
        """[0, goal] on the first visit to the oracle, [1, y] at the junction, else [0, 0]."""
        obs = np.zeros((self.num_envs, 2), dtype=np.float32)
        on_oracle = self.x == 0
        shows_goal = on_oracle & ~self.oracle_seen
        obs[:, 1] = np.where(shows_goal, self.goal, 0)
        self.oracle_seen |= on_oracle
        at_junction = self.x == self.junction
        obs[at_junction, 0] = 1.0
        obs[at_junction, 1] = self.y[at_junction]
        return obs


class PassiveTMaze(TMaze):
    def __init__(self, length: int, num_envs: int = 1, seed: int | None = None, **kwargs):
        super().__init__(length, oracle_length=0, num_envs=num_envs, seed=seed, **kwargs)


class ActiveTMaze(TMaze):
    def __init__(self, length: int, num_envs: int = 1, seed: int | None = None, **kwargs):
        super().__init__(length, oracle_length=1, num_envs=num_envs, seed=seed, **kwargs)


def _maze(cls: type[TMaze]):
    def make(cfg, num_envs: int, seed: int | None) -> TMaze:
        return cls(positive_length(cfg), num_envs, seed, distract_reward=cfg.distract_reward)
    return make


make_passive = _maze(PassiveTMaze)  # the task records' builders (memrl/tasks.py)
make_active = _maze(ActiveTMaze)
