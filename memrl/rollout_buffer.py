"""The data store of on-policy agents: the latest collection of episodes, and nothing older.

Each `add_episodes` replaces what the buffer holds (an on-policy update may only learn from
the policy that is being updated), and each `sample` hands out the next minibatch of a pass
over those episodes in a random order, a new order for every pass; so the RolloutSchedule's
update_epochs x ceil(N / B) updates see every episode of the collection exactly update_epochs
times. Batches are whole episodes, time-major and padded to the longest episode of the collection,
in the replay's `Batch` layout (its mask marks the steps inside each episode), so agents read
them alike. They are `RolloutBatch`es: each also says which episodes of the collection it holds,
and the first one handed out after a collection arrived carries the whole collection, so an
agent can compute what it needs of the whole rollout once, before its first update on it
(PPO: the old policy's log-probabilities, values and advantages).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from memrl.replay import ArrayT, Batch, no_action

if TYPE_CHECKING:
    from memrl.collector import Episodes


@dataclass(frozen=True)
class RolloutBatch(Batch[ArrayT]):
    """A minibatch of whole episodes, and where they sit in their collection."""

    episodes: ArrayT  # (B,) each episode's column in the collection
    # The whole collection (all its episodes in column order, same padding), on the first
    # minibatch handed out after it arrived; None on the others.
    collection: Batch[ArrayT] | None = None


class RolloutBuffer:
    def __init__(self, action_space: gym.Space, seed: int | None = None):
        self.no_action = no_action(action_space)
        self.rng = np.random.default_rng(seed)  # minibatch order
        self.obs = self.actions = self.rewards = self.terminated = self.lengths = None
        self.order = np.zeros(0, dtype=np.int64)  # the episodes of this pass not yet handed out
        self.fresh = False  # no minibatch of the collection handed out yet

    @property
    def num_episodes(self) -> int:
        return 0 if self.lengths is None else len(self.lengths)

    def __len__(self) -> int:
        return self.num_episodes

    def add_episodes(self, episodes: Episodes) -> None:
        """Hold exactly these episodes (the collector's time-major arrays, not copied)."""
        self.obs, self.actions, self.rewards = episodes.obs, episodes.actions, episodes.rewards
        self.terminated, self.lengths = episodes.terminated, episodes.lengths
        self.order = np.zeros(0, dtype=np.int64)
        self.fresh = True

    def sample(self, batch_size: int, seq_len: int = -1) -> RolloutBatch[np.ndarray]:
        """The next up to `batch_size` whole episodes of this pass (seq_len must be -1)."""
        if not self.num_episodes:
            raise RuntimeError("cannot sample from an empty rollout buffer")
        if seq_len != -1:
            raise ValueError(f"a rollout buffer hands out whole episodes; seq_len is {seq_len}")
        if not len(self.order):
            self.order = self.rng.permutation(self.num_episodes)
        picked, self.order = self.order[:batch_size], self.order[batch_size:]
        collection = self._batch(np.arange(self.num_episodes)) if self.fresh else None
        self.fresh = False
        return RolloutBatch(**vars(self._batch(picked)), episodes=picked, collection=collection)

    def _batch(self, picked: np.ndarray) -> Batch[np.ndarray]:
        actions = self.actions[:, picked]
        rewards = self.rewards[:, picked]
        steps = np.arange(len(rewards))[:, None]
        return Batch(
            obs=self.obs[:, picked],
            prev_actions=np.concatenate(
                [np.broadcast_to(self.no_action, (1, len(picked), *self.no_action.shape)),
                 actions]),
            prev_rewards=np.concatenate([np.zeros((1, len(picked)), np.float32), rewards]),
            actions=actions,
            rewards=rewards,
            terminals=self.terminated[:, picked].astype(np.float32),
            mask=(steps < self.lengths[picked][None, :]).astype(np.float32),
        )

    def state_dict(self) -> dict[str, Any]:
        return {"obs": self.obs, "actions": self.actions, "rewards": self.rewards,
                "terminated": self.terminated, "lengths": self.lengths,
                "order": self.order.copy(), "fresh": self.fresh,
                "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in ("obs", "actions", "rewards", "terminated", "lengths", "order"):
            setattr(self, name, state[name])
        self.fresh = state.get("fresh", False)  # (checkpoints from before PPO have none)
        self.rng.bit_generator.state = state["rng"]
