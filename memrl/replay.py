"""Episode replay: whole episodes in a ring, sampled as time-major windows with a mask.

Every task has a fixed horizon T, so storage is episode-major: slot e holds one episode's
T + 1 observations (the last one is the observation after the final step) and T actions,
rewards and dones. A shorter episode (not produced by the paper's tasks, but allowed) is padded
and its `length` masks the rest. Sampling picks B episodes and a start step in each, and gathers
every field with one fancy-indexing call per field; no Python loop per sequence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

NO_ACTION = -1  # prev_action at an episode's first step: embedded as an all-zero one-hot


@dataclass
class Batch:
    """A (window, batch) sample. Model input step k is (prev_actions[k], prev_rewards[k], obs[k]).

    Shapes (S = window length, B = batch size): obs (S+1, B, *obs_shape), prev_actions and
    prev_rewards (S+1, B), actions / rewards / dones / mask (S, B). Step k < S is a transition
    o_k --a_k--> (r_k, o_{k+1}); mask says which transitions lie inside their episode.
    """

    obs: np.ndarray
    prev_actions: np.ndarray
    prev_rewards: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    mask: np.ndarray


class EpisodeReplay:
    def __init__(
        self,
        episode_length: int,
        obs_shape: tuple[int, ...],
        obs_dtype: np.dtype,
        max_transitions: int = 1_000_000,
        min_episodes: int = 1000,
        seed: int | None = None,
    ):
        self.episode_length = T = episode_length
        # Capacity is max(max_transitions, min_episodes x T) transitions, in whole episodes.
        self.capacity = max(int(min_episodes), math.ceil(max_transitions / T))
        self.obs = np.zeros((self.capacity, T + 1, *obs_shape), dtype=obs_dtype)
        self.actions = np.zeros((self.capacity, T), dtype=np.int64)
        self.rewards = np.zeros((self.capacity, T), dtype=np.float32)
        self.dones = np.zeros((self.capacity, T), dtype=np.float32)
        self.lengths = np.zeros(self.capacity, dtype=np.int64)
        self.next_slot = 0  # ring position of the next episode written
        self.num_episodes = 0  # episodes held (<= capacity)
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return self.num_episodes

    @property
    def num_transitions(self) -> int:
        return int(self.lengths[: self.num_episodes].sum())

    def add(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        dones: np.ndarray,
    ) -> None:
        """Store N whole episodes given time-major: obs (L+1, N, ...), the rest (L, N)."""
        length, n = actions.shape
        if length > self.episode_length:
            raise ValueError(f"episode of {length} steps exceeds horizon {self.episode_length}")
        if n > self.capacity:
            raise ValueError(f"adding {n} episodes at once exceeds capacity {self.capacity}")
        slots = (self.next_slot + np.arange(n)) % self.capacity
        self.obs[slots, : length + 1] = np.swapaxes(obs, 0, 1)
        self.actions[slots, :length] = actions.T
        self.rewards[slots, :length] = rewards.T
        self.dones[slots, :length] = dones.T
        self.lengths[slots] = length
        self.next_slot = int((self.next_slot + n) % self.capacity)
        self.num_episodes = min(self.num_episodes + n, self.capacity)

    def sample(self, batch_size: int, seq_len: int = -1) -> Batch:
        """B windows of `seq_len` transitions (-1: whole episodes), starting at random steps."""
        if self.num_episodes == 0:
            raise RuntimeError("cannot sample from an empty replay")
        T = self.episode_length
        S = T if seq_len == -1 else seq_len
        if S < 1:
            raise ValueError(f"sampled_seq_len must be -1 or a positive integer, got {seq_len}")
        episode = self.rng.integers(0, self.num_episodes, size=batch_size)
        length = self.lengths[episode]
        if seq_len == -1:
            start = np.zeros(batch_size, dtype=np.int64)
        else:
            start = (self.rng.random(batch_size) * length).astype(np.int64)
        t = start[None, :] + np.arange(S + 1)[:, None]  # (S+1, B) episode step of each input
        ep = episode[None, :]
        prev_t = t - 1
        # Indices past the episode end are clipped into storage; the mask hides them.
        prev_action = self.actions[ep, np.clip(prev_t, 0, T - 1)]
        prev_reward = self.rewards[ep, np.clip(prev_t, 0, T - 1)]
        first = prev_t < 0
        prev_action[first] = NO_ACTION
        prev_reward[first] = 0.0
        tt = np.minimum(t[:-1], T - 1)
        return Batch(
            obs=self.obs[ep, np.minimum(t, T)],
            prev_actions=prev_action,
            prev_rewards=prev_reward,
            actions=self.actions[ep, tt],
            rewards=self.rewards[ep, tt],
            dones=self.dones[ep, tt],
            mask=(t[:-1] < length[None, :]).astype(np.float32),
        )

    def state_dict(self) -> dict:
        n = self.num_episodes
        return {
            "obs": self.obs[:n].copy(),
            "actions": self.actions[:n].copy(),
            "rewards": self.rewards[:n].copy(),
            "dones": self.dones[:n].copy(),
            "lengths": self.lengths[:n].copy(),
            "next_slot": self.next_slot,
            "num_episodes": n,
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict) -> None:
        n = state["num_episodes"]
        for name in ("obs", "actions", "rewards", "dones", "lengths"):
            getattr(self, name)[:n] = state[name]
        self.next_slot = state["next_slot"]
        self.num_episodes = n
        self.rng.bit_generator.state = state["rng"]
