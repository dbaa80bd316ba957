"""Episode replay: whole episodes in one flat ring, sampled as time-major windows with a mask.

Storage. An episode of n transitions takes n + 1 consecutive slots of a flat ring: slot k holds
observation o_k and, for k < n, the transition o_k --a_k--> (r_k, o_{k+1}) with its
`terminated` flag; slot n holds the final observation. Episodes may have any length up to the
env's `max_episode_steps` T. The ring has room for `capacity` full-length episodes,
capacity = max(min_episodes, ceil(max_transitions / T)) (the paper's max(1e6 transitions,
1000 episodes)); an episode that does not fit before the ring's end starts again at slot 0, and
writing over the oldest episodes evicts them whole. Whether an episode ended by a true end
(`terminated`: no bootstrap) or by a time limit (`truncated`: bootstrap from the last
observation) is kept apart: `terminated` per transition, `truncated` per episode.

Sampling. Whole episodes (seq_len = -1): B episodes drawn uniformly, every window starting at
step 0 and padded to T. Windows of S steps: starts drawn uniformly over all valid starts in the
buffer, as the paper's code does: an episode of n steps offers starts 0..n-S (only 0 when
n <= S), windows never cross into another episode and run past the episode's end only as
masked padding. Every window starts from the zero memory state, so its first input has no
previous action (zeros) and reward 0, wherever it starts. All fields are gathered with one
fancy-indexing call each; no Python loop per sequence.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Generic, TypeVar

import gymnasium as gym
import numpy as np

NO_ACTION = -1  # a discrete prev_action with no action before it: embedded as zeros

ArrayT = TypeVar("ArrayT")  # numpy arrays as sampled, torch tensors on an agent's device
OtherT = TypeVar("OtherT")


@dataclass(frozen=True)
class Batch(Generic[ArrayT]):
    """A (window, batch) sample. Model input step k is (prev_actions[k], prev_rewards[k], obs[k]).

    Shapes (S = window length, B = batch size, A = the action's shape, () for discrete):
    obs (S+1, B, *obs_shape), prev_actions (S+1, B, *A), prev_rewards (S+1, B), actions
    (S, B, *A), rewards / terminals / mask (S, B). Step k < S is the transition
    o_k --a_k--> (r_k, o_{k+1}); terminals[k] = 1 when o_{k+1} ends the episode for good (no
    bootstrap; a time-limit end is 0); mask says which transitions lie inside their episode.

    The replay samples numpy arrays; an agent moves the same record onto its device
    (`Agent.to_device`) and its losses read the fields by name.
    """

    obs: ArrayT
    prev_actions: ArrayT
    prev_rewards: ArrayT
    actions: ArrayT
    rewards: ArrayT
    terminals: ArrayT
    mask: ArrayT

    @property
    def inputs(self) -> tuple[ArrayT, ArrayT, ArrayT]:
        """What a memory reads at steps 0..S: (obs, prev_actions, prev_rewards)."""
        return self.obs, self.prev_actions, self.prev_rewards

    def map(self, fn: Callable[[ArrayT], OtherT]) -> Batch[OtherT]:
        """The same sample with every array passed through `fn` (e.g. onto a device). A
        subclass's record stays that subclass (the rollout buffer's carries more); a field
        that holds a batch is mapped too, one that holds None stays None."""
        def apply(value):
            if value is None:
                return None
            return value.map(fn) if isinstance(value, Batch) else fn(value)

        return replace(self, **{f.name: apply(getattr(self, f.name)) for f in fields(self)})


def no_action(action_space: gym.Space) -> np.ndarray:
    """The 'previous action' before an episode's first step: index -1 (a zero one-hot) for a
    Discrete space, a zero vector for a Box."""
    if isinstance(action_space, gym.spaces.Discrete):
        return np.array(NO_ACTION, dtype=np.int64)
    return np.zeros(action_space.shape, dtype=np.float32)


def action_storage(action_space: gym.Space) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype in which actions of this space are stored and fed to the networks."""
    if isinstance(action_space, gym.spaces.Discrete):
        return (), np.dtype(np.int64)
    if isinstance(action_space, gym.spaces.Box):
        return tuple(action_space.shape), np.dtype(np.float32)
    raise TypeError(f"unsupported action space {action_space}; memrl handles Discrete and Box")


class EpisodeReplay:
    def __init__(
        self,
        max_episode_steps: int,
        observation_space: gym.spaces.Box,
        action_space: gym.Space,
        max_transitions: int = 1_000_000,
        min_episodes: int = 1000,
        seed: int | None = None,
    ):
        self.max_episode_steps = T = int(max_episode_steps)
        self.num_slots = self.slots_for(T, max_transitions, min_episodes)
        self.capacity = self.num_slots // (T + 1)  # in T-episodes
        self.action_shape, action_dtype = action_storage(action_space)
        self.no_action = no_action(action_space)
        self.obs = np.zeros((self.num_slots, *observation_space.shape),
                            dtype=observation_space.dtype)
        self.actions = np.zeros((self.num_slots, *self.action_shape), dtype=action_dtype)
        self.rewards = np.zeros(self.num_slots, dtype=np.float32)
        self.terminals = np.zeros(self.num_slots, dtype=np.float32)
        # Episode records, a ring indexed by episode id % len: first slot, length, truncated.
        max_live = self.num_slots // 2 + 1  # every episode takes at least 2 slots
        self.ep_start = np.zeros(max_live, dtype=np.int64)
        self.ep_length = np.zeros(max_live, dtype=np.int64)
        self.ep_truncated = np.zeros(max_live, dtype=bool)
        self.oldest = 0  # id of the oldest episode held
        self.next_id = 0  # id of the next episode added
        self.head = 0  # slot where the next episode starts
        self.rng = np.random.default_rng(seed)
        # (S, live records, cumulative valid starts): cached between adds for windowed sampling
        self._valid_starts: tuple[int, np.ndarray, np.ndarray] | None = None

    @staticmethod
    def slots_for(max_episode_steps: int, max_transitions: int, min_episodes: int) -> int:
        """Ring slots for max(min_episodes, max_transitions / T) episodes of T steps."""
        T = int(max_episode_steps)
        return max(int(min_episodes), math.ceil(max_transitions / T)) * (T + 1)

    @staticmethod
    def step_bytes(observation_space: gym.spaces.Box, action_space: gym.Space) -> int:
        """Bytes a slot takes: observation, action, reward and terminal flag."""
        action_shape, action_dtype = action_storage(action_space)
        return (int(np.prod(observation_space.shape)) * np.dtype(observation_space.dtype).itemsize
                + int(np.prod(action_shape)) * action_dtype.itemsize + 8)

    def __len__(self) -> int:
        return self.next_id - self.oldest

    @property
    def num_episodes(self) -> int:
        return len(self)

    @property
    def num_transitions(self) -> int:
        return int(self.ep_length[self._live_records()].sum())

    def _live_records(self) -> np.ndarray:
        return np.arange(self.oldest, self.next_id) % len(self.ep_start)

    def add(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray | None = None,
        lengths: np.ndarray | None = None,
    ) -> None:
        """Store N episodes given time-major: obs (L+1, N, ...), the rest (L, N, ...).

        `lengths` (N,) gives each episode's number of steps (default: all L); steps past an
        episode's length are ignored. `truncated` (L, N) marks time-limit ends.
        """
        horizon, n = rewards.shape
        if lengths is None:
            lengths = np.full(n, horizon)
        if truncated is None:
            truncated = np.zeros_like(terminated)
        for i in range(n):  # one episode at a time: a copy per field, not per step
            length = int(lengths[i])
            if not 1 <= length <= self.max_episode_steps:
                raise ValueError(f"episode of {length} steps; max_episode_steps is "
                                 f"{self.max_episode_steps}")
            start = self._claim(length + 1)
            slots = slice(start, start + length + 1)
            self.obs[slots] = obs[: length + 1, i]
            self.actions[start:start + length] = actions[:length, i]
            self.rewards[start:start + length] = rewards[:length, i]
            self.terminals[start:start + length] = terminated[:length, i]
            self.actions[start + length] = self.no_action  # the final slot holds no transition
            self.rewards[start + length] = 0.0
            self.terminals[start + length] = 0.0
            record = self.next_id % len(self.ep_start)
            self.ep_start[record] = start
            self.ep_length[record] = length
            self.ep_truncated[record] = bool(truncated[length - 1, i])
            self.next_id += 1
        self._valid_starts = None

    def add_episodes(self, episodes) -> None:
        """Store what the collector played (a collector.Episodes)."""
        self.add(episodes.obs, episodes.actions, episodes.rewards, episodes.terminated,
                 episodes.truncated, episodes.lengths)

    def _claim(self, size: int) -> int:
        """First slot of `size` free slots at the head, evicting the episodes that held them."""
        start = self.head if self.head + size <= self.num_slots else 0
        end = start + size
        while len(self):
            record = self.oldest % len(self.ep_start)
            first = self.ep_start[record]
            last = first + self.ep_length[record] + 1
            wrapped = start < self.head  # the slots from head to the ring's end are dropped
            if (first < end and last > start) or (wrapped and first >= self.head):
                self.oldest += 1
            else:
                break
        self.head = end if end < self.num_slots else 0
        return start

    # --- sampling --------------------------------------------------------------------------

    def sample(self, batch_size: int, seq_len: int = -1) -> Batch[np.ndarray]:
        """B windows of `seq_len` transitions (-1: whole episodes, padded to the horizon)."""
        if not len(self):
            raise RuntimeError("cannot sample from an empty replay")
        if seq_len == -1:
            S = self.max_episode_steps
            # Uniform over the episodes held; the draw maps to ids as slot j of a ring of
            # `capacity` episodes would, so full-length episodes are picked as before the
            # replay held episodes of different lengths.
            j = self.rng.integers(0, len(self), size=batch_size)
            ids = self.oldest + (j - self.oldest) % len(self)
            records = ids % len(self.ep_start)
            offset = np.zeros(batch_size, dtype=np.int64)
        elif seq_len >= 1:
            S = seq_len
            records, offset = self._uniform_valid_starts(batch_size, S)
        else:
            raise ValueError(f"sampled_seq_len must be -1 or a positive integer, got {seq_len}")
        return self._gather(records, offset, S)

    def _uniform_valid_starts(self, batch_size: int, S: int) -> tuple[np.ndarray, np.ndarray]:
        if self._valid_starts is None or self._valid_starts[0] != S:
            records = self._live_records()
            starts = np.maximum(1, self.ep_length[records] - S + 1)
            self._valid_starts = (S, records, np.cumsum(starts))
        _, records, cumulative = self._valid_starts
        u = self.rng.integers(0, cumulative[-1], size=batch_size)
        which = np.searchsorted(cumulative, u, side="right")
        before = np.where(which > 0, cumulative[which - 1], 0)
        return records[which], u - before

    def _gather(self, records: np.ndarray, offset: np.ndarray, S: int) -> Batch[np.ndarray]:
        start, length = self.ep_start[records], self.ep_length[records]
        k = np.arange(S + 1)[:, None]  # (S+1, 1) input step within the window
        t = offset[None, :] + k  # (S+1, B) step within the episode
        # Past the episode's end, indices are clipped to its final slot; the mask hides them.
        obs_slot = start + np.minimum(t, length)
        step_slot = start + np.minimum(t[:-1], length - 1)
        actions = self.actions[step_slot]
        rewards = self.rewards[step_slot]
        prev_actions = np.concatenate(
            [np.broadcast_to(self.no_action, (1, len(records), *self.action_shape)),
             actions], axis=0)
        prev_rewards = np.concatenate([np.zeros((1, len(records)), np.float32), rewards], axis=0)
        return Batch(
            obs=self.obs[obs_slot],
            prev_actions=prev_actions,
            prev_rewards=prev_rewards,
            actions=actions,
            rewards=rewards,
            terminals=self.terminals[step_slot],
            mask=(t[:-1] < length[None, :]).astype(np.float32),
        )

    # --- checkpoints -----------------------------------------------------------------------

    def state_dict(self) -> dict:
        records = self._live_records()
        sizes = self.ep_length[records] + 1
        first = np.cumsum(sizes) - sizes  # where each episode begins in the packed copy
        used = (np.arange(sizes.sum()) - np.repeat(first, sizes)
                + np.repeat(self.ep_start[records], sizes))  # every slot the episodes hold
        return {
            "slots": used,
            "obs": self.obs[used].copy(),
            "actions": self.actions[used].copy(),
            "rewards": self.rewards[used].copy(),
            "terminals": self.terminals[used].copy(),
            "ep_start": self.ep_start[records].copy(),
            "ep_length": self.ep_length[records].copy(),
            "ep_truncated": self.ep_truncated[records].copy(),
            "oldest": self.oldest,
            "next_id": self.next_id,
            "head": self.head,
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict) -> None:
        if "slots" not in state:
            return self._load_episode_major(state)
        used = state["slots"]
        for name in ("obs", "actions", "rewards", "terminals"):
            getattr(self, name)[used] = state[name]
        self.oldest, self.next_id, self.head = state["oldest"], state["next_id"], state["head"]
        records = self._live_records()
        self.ep_start[records] = state["ep_start"]
        self.ep_length[records] = state["ep_length"]
        self.ep_truncated[records] = state["ep_truncated"]
        self.rng.bit_generator.state = state["rng"]
        self._valid_starts = None

    def _load_episode_major(self, state: dict) -> None:
        """Checkpoints written before episodes could differ in length kept (episode, step)
        arrays in a ring of episodes; add them again oldest first."""
        n, next_slot = state["num_episodes"], state["next_slot"]
        order = np.arange(n) if n < self.capacity else (next_slot + np.arange(n)) % n
        for slot in order:
            length = int(state["lengths"][slot])
            self.add(state["obs"][slot][:, None], state["actions"][slot][:, None],
                     state["rewards"][slot][:, None], state["dones"][slot][:, None],
                     lengths=np.array([length]))
        self.rng.bit_generator.state = state["rng"]
