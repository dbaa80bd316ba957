"""Episode replay: windows, masks and previous-step inputs, as properties over random data."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memrl.replay import NO_ACTION, EpisodeReplay


def fill(replay, num_episodes, lengths, rng):
    """Episodes whose every field encodes (episode id, step) so samples can be checked."""
    stored = []
    for e, length in zip(range(num_episodes), lengths):
        steps = np.arange(length)
        obs = np.stack([np.full(length + 1, e), np.arange(length + 1)], -1)[:, None]
        actions = ((e + steps) % 4)[:, None]
        rewards = (e * 1000 + steps)[:, None].astype(np.float32)
        dones = (steps == length - 1)[:, None].astype(np.float32)
        replay.add(obs.astype(np.float32), actions, rewards, dones)
        stored.append(e)
    return stored


@settings(max_examples=40, deadline=None)
@given(
    horizon=st.integers(1, 12),
    num_episodes=st.integers(1, 8),
    seq_len=st.one_of(st.just(-1), st.integers(1, 15)),
    batch=st.integers(1, 9),
    seed=st.integers(0, 2**16),
)
def test_windows_are_consistent(horizon, num_episodes, seq_len, batch, seed):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, horizon + 1, size=num_episodes)
    replay = EpisodeReplay(horizon, (2,), np.float32, max_transitions=1, min_episodes=16, seed=seed)
    fill(replay, num_episodes, lengths, rng)
    b = replay.sample(batch, seq_len)
    S = horizon if seq_len == -1 else seq_len
    assert b.obs.shape == (S + 1, batch, 2)
    assert b.prev_actions.shape == b.prev_rewards.shape == (S + 1, batch)
    for field in (b.actions, b.rewards, b.dones, b.mask):
        assert field.shape == (S, batch)
    episode = b.obs[0, :, 0].astype(int)
    start = b.obs[0, :, 1].astype(int)
    length = lengths[episode]
    for k in range(S):
        t = start + k
        valid = t < length
        np.testing.assert_array_equal(b.mask[k], valid)
        # Inside the episode every field is the stored one for (episode, t).
        np.testing.assert_array_equal(b.obs[k, valid, 1], t[valid])
        np.testing.assert_array_equal(b.obs[k + 1, valid, 1], t[valid] + 1)
        np.testing.assert_array_equal(b.actions[k, valid], ((episode + t) % 4)[valid])
        np.testing.assert_array_equal(b.rewards[k, valid], (episode * 1000 + t)[valid])
        np.testing.assert_array_equal(b.dones[k, valid], (t == length - 1)[valid])
        # The model's input k+1 carries the action and reward of transition k.
        np.testing.assert_array_equal(b.prev_actions[k + 1, valid], b.actions[k, valid])
        np.testing.assert_array_equal(b.prev_rewards[k + 1, valid], b.rewards[k, valid])
    # The first input of an episode has no previous action or reward.
    at_start = start == 0
    assert (b.prev_actions[0, at_start] == NO_ACTION).all()
    assert (b.prev_rewards[0, at_start] == 0).all()
    if seq_len == -1:
        assert (start == 0).all()
    assert (start < length).all()


def test_ring_overwrites_oldest_and_capacity_rule():
    replay = EpisodeReplay(10, (1,), np.float32, max_transitions=50, min_episodes=3, seed=0)
    assert replay.capacity == 5  # max(50 transitions / T = 5 episodes, 3 episodes)
    replay2 = EpisodeReplay(10, (1,), np.float32, max_transitions=10, min_episodes=3)
    assert replay2.capacity == 3
    for e in range(7):
        obs = np.full((11, 1, 1), e, np.float32)
        replay.add(obs, np.zeros((10, 1), int), np.zeros((10, 1)), np.zeros((10, 1)))
    assert len(replay) == 5
    held = set(replay.obs[:, 0, 0].astype(int))
    assert held == {2, 3, 4, 5, 6}


def test_batched_add_and_state_round_trip():
    replay = EpisodeReplay(4, (3,), np.uint8, max_transitions=1, min_episodes=8, seed=1)
    obs = np.random.default_rng(0).integers(0, 255, (5, 3, 3), dtype=np.uint8)
    replay.add(obs, np.ones((4, 3), int), np.ones((4, 3)), np.zeros((4, 3)))
    assert len(replay) == 3 and replay.num_transitions == 12
    np.testing.assert_array_equal(replay.obs[1], obs[:, 1])
    copy = EpisodeReplay(4, (3,), np.uint8, max_transitions=1, min_episodes=8, seed=99)
    copy.load_state_dict(replay.state_dict())
    a, b = replay.sample(6, 2), copy.sample(6, 2)
    for name in vars(a):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.obs.dtype == np.uint8  # pixels stay bytes


def test_errors():
    replay = EpisodeReplay(4, (1,), np.float32, min_episodes=2)
    with pytest.raises(RuntimeError, match="empty"):
        replay.sample(2)
    with pytest.raises(ValueError, match="horizon"):
        replay.add(np.zeros((6, 1, 1)), np.zeros((5, 1), int), np.zeros((5, 1)), np.zeros((5, 1)))
    replay.add(np.zeros((5, 1, 1)), np.zeros((4, 1), int), np.zeros((4, 1)), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="sampled_seq_len"):
        replay.sample(2, 0)
