"""Episode replay: windows, masks, previous-step inputs and bootstrapping flags, as properties
over random episodes of different lengths, discrete and continuous actions."""

import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from memrl.replay import NO_ACTION, Batch, EpisodeReplay

OBS = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
DISCRETE = gym.spaces.Discrete(4)
BOX = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)


def encoded_action(space, e, t):
    """An action that says which (episode, step) it belongs to."""
    if isinstance(space, gym.spaces.Discrete):
        return (e + t) % 4
    return np.stack([np.full_like(t, e), t, -t], -1).astype(np.float32)


def fill(replay, lengths, space, truncate_every=3):
    """Episodes whose every field encodes (episode id, step); every third one is cut by a time
    limit (truncated), the rest end for good (terminated)."""
    for e, length in enumerate(lengths):
        steps = np.arange(length)
        obs = np.stack([np.full(length + 1, e), np.arange(length + 1)], -1)[:, None]
        actions = np.asarray(encoded_action(space, e, steps))[:, None]
        rewards = (e * 1000 + steps)[:, None].astype(np.float32)
        truncated = e % truncate_every == 0
        last = (steps == length - 1)[:, None]
        replay.add(obs.astype(np.float32), actions, rewards, last & (not truncated),
                   last & truncated)


@settings(max_examples=60, deadline=None)
@given(
    horizon=st.integers(1, 12),
    num_episodes=st.integers(1, 8),
    seq_len=st.one_of(st.just(-1), st.integers(1, 15)),
    batch=st.integers(1, 9),
    seed=st.integers(0, 2**16),
    continuous=st.booleans(),
)
def test_windows_are_consistent(horizon, num_episodes, seq_len, batch, seed, continuous):
    space = BOX if continuous else DISCRETE
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, horizon + 1, size=num_episodes)
    replay = EpisodeReplay(horizon, OBS, space, max_transitions=1, min_episodes=16, seed=seed)
    fill(replay, lengths, space)
    b = replay.sample(batch, seq_len)
    S = horizon if seq_len == -1 else seq_len
    action_shape = space.shape
    assert b.obs.shape == (S + 1, batch, 2)
    assert b.prev_actions.shape == (S + 1, batch, *action_shape)
    assert b.actions.shape == (S, batch, *action_shape)
    assert b.prev_rewards.shape == (S + 1, batch)
    for field in (b.rewards, b.terminals, b.mask):
        assert field.shape == (S, batch)
    episode = b.obs[0, :, 0].astype(int)
    start = b.obs[0, :, 1].astype(int)
    length = lengths[episode]
    truncated = episode % 3 == 0
    for k in range(S):
        t = start + k
        valid = t < length
        np.testing.assert_array_equal(b.mask[k], valid)
        # Inside the episode every field is the stored one for (episode, t) ...
        np.testing.assert_array_equal(b.obs[k, valid, 1], t[valid])
        np.testing.assert_array_equal(b.obs[k + 1, valid, 1], t[valid] + 1)
        np.testing.assert_array_equal(b.obs[k + 1, valid, 0], episode[valid])  # never crosses
        np.testing.assert_array_equal(b.actions[k, valid], encoded_action(space, episode, t)[valid])
        np.testing.assert_array_equal(b.rewards[k, valid], (episode * 1000 + t)[valid])
        # ... and only a true end stops bootstrapping; a time-limit end does not.
        np.testing.assert_array_equal(b.terminals[k, valid],
                                      ((t == length - 1) & ~truncated)[valid])
        # The model's input k+1 carries the action and reward of transition k.
        np.testing.assert_array_equal(b.prev_actions[k + 1, valid], b.actions[k, valid])
        np.testing.assert_array_equal(b.prev_rewards[k + 1, valid], b.rewards[k, valid])
    # Every window starts from the zero state: no previous action or reward, wherever it starts.
    if continuous:
        assert (b.prev_actions[0] == 0).all()
    else:
        assert (b.prev_actions[0] == NO_ACTION).all()
    assert (b.prev_rewards[0] == 0).all()
    if seq_len == -1:
        assert (start == 0).all()
    else:  # valid starts: 0..n-S, or only 0 when the episode is no longer than the window
        assert (start <= np.maximum(0, length - S)).all()


def test_windows_are_uniform_over_valid_starts():
    """An episode of n steps offers max(1, n - S + 1) starts; each start is equally likely."""
    replay = EpisodeReplay(10, OBS, DISCRETE, max_transitions=1, min_episodes=4, seed=0)
    fill(replay, [10, 4, 7], DISCRETE)  # S = 4: 7 + 1 + 4 = 12 valid starts
    b = replay.sample(120_000, 4)
    pairs = b.obs[0, :, 0].astype(int) * 100 + b.obs[0, :, 1].astype(int)
    values, counts = np.unique(pairs, return_counts=True)
    expected = [e * 100 + s for e, n in enumerate([10, 4, 7]) for s in range(max(1, n - 3))]
    assert sorted(values) == expected
    np.testing.assert_allclose(counts / counts.sum(), 1 / 12, rtol=0.05)


def test_ring_evicts_oldest_episodes_whole():
    replay = EpisodeReplay(10, OBS, DISCRETE, max_transitions=50, min_episodes=3, seed=0)
    assert replay.capacity == 5  # max(50 transitions / T = 5 episodes, 3 episodes)
    assert EpisodeReplay(10, OBS, DISCRETE, max_transitions=10, min_episodes=3).capacity == 3
    fill(replay, [10] * 7, DISCRETE)
    assert len(replay) == 5 and replay.num_transitions == 50
    held = {int(replay.sample(1).obs[0, 0, 0]) for _ in range(200)}
    assert held == {2, 3, 4, 5, 6}
    # Short episodes pack more of them into the same slots; a long one evicts several.
    fill(replay, [2] * 10, DISCRETE)
    assert replay.num_transitions == 2 * 10 + 10 * 2  # the 3 oldest long ones made room
    fill(replay, [10, 10, 10], DISCRETE)
    lengths = replay.ep_length[replay._live_records()]
    assert replay.num_transitions <= 5 * 10 and lengths[-3:].tolist() == [10, 10, 10]


def test_batched_add_with_lengths_and_state_round_trip():
    space = gym.spaces.Box(0, 255, (3,), np.uint8)
    replay = EpisodeReplay(4, space, DISCRETE, max_transitions=1, min_episodes=8, seed=1)
    obs = np.random.default_rng(0).integers(0, 255, (5, 3, 3), dtype=np.uint8)
    replay.add(obs, np.ones((4, 3), int), np.ones((4, 3)), np.zeros((4, 3), bool),
               lengths=np.array([4, 2, 3]))
    assert len(replay) == 3 and replay.num_transitions == 9
    copy = EpisodeReplay(4, space, DISCRETE, max_transitions=1, min_episodes=8, seed=99)
    copy.load_state_dict(replay.state_dict())
    for seq_len in (2, -1):
        a, b = replay.sample(6, seq_len), copy.sample(6, seq_len)
        for name in vars(a):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.obs.dtype == np.uint8  # pixels stay bytes


def test_errors():
    replay = EpisodeReplay(4, OBS, DISCRETE, min_episodes=2)
    with pytest.raises(RuntimeError, match="empty"):
        replay.sample(2)
    with pytest.raises(ValueError, match="max_episode_steps"):
        replay.add(np.zeros((6, 1, 2)), np.zeros((5, 1), int), np.zeros((5, 1)),
                   np.zeros((5, 1)))
    replay.add(np.zeros((5, 1, 2)), np.zeros((4, 1), int), np.zeros((4, 1)), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="sampled_seq_len"):
        replay.sample(2, 0)
    with pytest.raises(TypeError, match="Discrete and Box"):
        EpisodeReplay(4, OBS, gym.spaces.MultiDiscrete([2, 2]))


def test_a_batch_is_one_typed_record_for_arrays_and_tensors():
    """An agent moves a sampled batch onto its device as the same record (Batch.map), and its
    losses read the fields by name; nothing reassigns them."""
    replay = EpisodeReplay(5, OBS, BOX, max_transitions=1, min_episodes=4, seed=0)
    fill(replay, [5, 3, 4], BOX)
    batch = replay.sample(3, 2)
    tensors = batch.map(torch.from_numpy)
    assert isinstance(tensors, Batch)
    for field in dataclasses.fields(Batch):
        value = getattr(tensors, field.name)
        assert isinstance(value, torch.Tensor)
        np.testing.assert_array_equal(value.numpy(), getattr(batch, field.name))
    inputs = (tensors.obs, tensors.prev_actions, tensors.prev_rewards)
    assert all(a is b for a, b in zip(tensors.inputs, inputs, strict=True))
    with pytest.raises(dataclasses.FrozenInstanceError):
        tensors.mask = tensors.mask * 0
