"""Sign Match: the smallest continuous-action memory task, T-Maze's cue-then-choice with a
continuous choice.

At t = 0 the agent sees a sign s, +1 or -1, drawn uniformly; for the next L steps it sees
nothing (zeros); at the last step a flag asks for the answer, and the action a in [-1, 1]
there is paid s * a. Other steps pay nothing, whatever the action. Episodes last L + 1 steps.

The optimum, a = s, returns 1; without memory the agent cannot tell s at the last step, so
every memoryless policy returns 0 in expectation (and success, a of the right sign, 1/2).
Memory length L, credit assignment length 1, like Passive T-Maze.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from memrl.envs.base import BatchedEnv
from memrl.tasks import positive_length


class SignMatch(BatchedEnv):
    """`length` is L, the steps between the sign and the question."""

    observation_space = gym.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
    action_space = gym.spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)

    def __init__(self, length: int, num_envs: int = 1, seed: int | None = None):
        if isinstance(length, bool) or int(length) != length or length < 1:
            raise ValueError(f"Sign Match length must be a positive integer, got {length!r}")
        self.length = int(length)
        self.max_episode_steps = self.length + 1
        self.num_envs = num_envs
        self.rng = np.random.default_rng(seed)
        self.sign = np.ones(num_envs, dtype=np.float32)
        self.t = self.max_episode_steps  # no episode running until reset()

    def reset(self, seed: int | None = None) -> np.ndarray:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.sign = self.rng.choice(np.array([-1.0, 1.0], dtype=np.float32), size=self.num_envs)
        self.t = 0
        return self._observe()

    def step(self, actions: np.ndarray):
        if self.t >= self.max_episode_steps:
            raise RuntimeError("step() called after the episode ended; call reset() first")
        actions = np.clip(np.asarray(actions, dtype=np.float32).reshape(self.num_envs), -1, 1)
        last = self.t == self.max_episode_steps - 1  # the step that answers the question
        reward = (self.sign * actions if last else np.zeros(self.num_envs)).astype(np.float32)
        self.t += 1
        terminated = np.full(self.num_envs, last)
        info = {"success": terminated & (reward > 0)}
        return (self._observe(), reward, terminated, np.zeros(self.num_envs, dtype=bool),
                info)

    def _observe(self) -> np.ndarray:
        """[s, 0] at t = 0, [0, 1] at the question (t = L), [0, 0] in between and after."""
        obs = np.zeros((self.num_envs, 2), dtype=np.float32)
        if self.t == 0:
            obs[:, 0] = self.sign
        if self.t == self.max_episode_steps - 1:
            obs[:, 1] = 1.0
        return obs

    def render(self, index: int = 0) -> np.ndarray:
        """One row of L + 1 cells: the cue cell coloured by the sign, the current step black."""
        image = np.full((1, self.max_episode_steps, 3), 200, dtype=np.uint8)
        image[0, 0] = (60, 180, 75) if self.sign[index] > 0 else (70, 110, 220)
        image[0, min(self.t, self.max_episode_steps - 1)] = 0
        return image


def make(cfg, num_envs: int, seed: int | None) -> SignMatch:
    """The task record's builder (memrl/tasks.py)."""
    return SignMatch(positive_length(cfg), num_envs, seed)
