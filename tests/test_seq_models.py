"""The GPT's acting state: a key/value cache while the episode fits the training window, and
past it the last max_seq_len inputs re-run at positions 0..max_seq_len-1, as in training; its
dropout, position table and config errors. The contract all models share is in
test_seq_zoo.py."""

from __future__ import annotations

import pytest
import torch
from ml_collections import ConfigDict
from test_seq_zoo import INPUT_SIZE, make, run_steps, seq_config

from memrl.nets.seq import build_seq_model
from memrl.nets.seq.gpt import sinusoidal_encoding


def test_gpt_cache_grows_one_per_step_then_holds_the_window():
    model = make("gpt", max_seq_len=6, n_layer=2).eval()
    _, states = run_steps(model, torch.randn(10, 2, INPUT_SIZE))
    assert [s.inputs.shape[1] for s in states] == [1, 2, 3, 4, 5, 6, 6, 6, 6, 6]
    for s in states[:6]:  # the cache covers every step so far, in every layer
        n = s.inputs.shape[1]
        assert [k.shape[2] for k in s.keys] == [v.shape[2] for v in s.values] == [n, n]
    assert all(s.keys is None and s.values is None for s in states[6:])


@pytest.mark.parametrize("position_encoding", ["sine", "none"])
@pytest.mark.parametrize("n_layer,n_head", [(1, 1), (2, 2)])
def test_gpt_acts_past_max_seq_len_as_it_trained(position_encoding, n_layer, n_head):
    """Step t >= L = max_seq_len gives what a whole-window forward gives over the last L inputs,
    which counts their positions 0..L-1 as training did."""
    L, T = 5, 17
    model = make("gpt", max_seq_len=L, n_layer=n_layer, n_head=n_head,
                 position_encoding=position_encoding).eval()
    inputs = torch.randn(T, 3, INPUT_SIZE)
    stepped, _ = run_steps(model, inputs)
    with torch.no_grad():
        torch.testing.assert_close(stepped[:L], model(inputs[:L])[0], atol=1e-5, rtol=1e-5)
        for t in range(L, T):
            expected = model(inputs[t - L + 1 : t + 1])[0][-1]
            torch.testing.assert_close(stepped[t], expected, atol=1e-5, rtol=1e-5)


def test_gpt_whole_episode_training_never_leaves_the_cache():
    """max_seq_len = T + 1 (whole episodes): acting a whole episode stays on the cache."""
    T = 12
    model = make("gpt", max_seq_len=T + 1).eval()
    _, states = run_steps(model, torch.randn(T, 2, INPUT_SIZE))
    assert all(s.keys is not None for s in states)


def test_gpt_dropout_only_in_train_mode():
    model = make("gpt", pdrop=0.5)
    inputs = torch.randn(6, 2, INPUT_SIZE)
    model.train()
    assert not torch.allclose(model(inputs)[0], model(inputs)[0])
    model.eval()
    torch.testing.assert_close(model(inputs)[0], model(inputs)[0], atol=0.0, rtol=0.0)


def test_sinusoidal_encoding_is_the_standard_table():
    pe = sinusoidal_encoding(torch.arange(50), 6)
    positions = torch.arange(50, dtype=torch.float32)
    for i in range(3):
        angle = positions / 10000 ** (2 * i / 6)
        torch.testing.assert_close(pe[:, 2 * i], torch.sin(angle))
        torch.testing.assert_close(pe[:, 2 * i + 1], torch.cos(angle))
    assert sinusoidal_encoding(torch.arange(3), 5).shape == (3, 5)  # odd widths too


def test_gpt_bad_n_head():
    with pytest.raises(ValueError, match="n_head"):
        build_seq_model(seq_config("gpt", n_head=3), INPUT_SIZE, 10)


def test_gpt_bad_position_encoding():
    with pytest.raises(ValueError, match="position_encoding"):
        build_seq_model(seq_config("gpt", position_encoding="learned"), INPUT_SIZE, 10)


def test_unknown_model_name():
    with pytest.raises(ValueError, match="unknown sequence model"):
        build_seq_model(ConfigDict({"name": "rnn"}), INPUT_SIZE, 10)
