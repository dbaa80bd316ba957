"""Contracts every sequence model keeps (shapes, step == forward, causality), and the GPT's
key/value cache: its growth, its sliding window past the training length, and dropout."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from ml_collections import ConfigDict

from memrl.nets.seq import SEQ_MODELS, SequenceModel, build_seq_model
from memrl.nets.seq.gpt import sinusoidal_encoding

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "seq_models"
INPUT_SIZE = 8


def seq_config(name: str, n_layer: int = 1, n_head: int = 1, **overrides) -> ConfigDict:
    """The model's shipped default config (configs/seq_models/<name>_default.py), so a new model
    is tested as soon as it has a registry line and a default config; depth and heads set here."""
    spec = importlib.util.spec_from_file_location(name, CONFIGS / f"{name}_default.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cfg = module.get_config().model.seq_model_config
    cfg.n_layer = n_layer
    if "n_head" in cfg:
        cfg.n_head = n_head
    cfg.update(overrides)
    return cfg


def make(name: str, max_seq_len: int = 32, **kwargs) -> SequenceModel:
    torch.manual_seed(0)
    return build_seq_model(seq_config(name, **kwargs), INPUT_SIZE, max_seq_len)


def run_steps(model: SequenceModel, inputs: torch.Tensor) -> tuple[torch.Tensor, list]:
    """Step through (T, B, D) inputs from the empty state; the outputs and every state seen."""
    state = model.initial_state(inputs.shape[1], inputs.device)
    outputs, states = [], []
    with torch.no_grad():
        for x in inputs:
            out, state = model.step(x, state)
            outputs.append(out)
            states.append(state)
    return torch.stack(outputs), states


@pytest.mark.parametrize("name", sorted(SEQ_MODELS))
def test_output_shapes(name):
    model = make(name).eval()
    inputs = torch.randn(5, 3, INPUT_SIZE)
    assert model(inputs).shape == (5, 3, model.hidden_size)
    out, _ = model.step(inputs[0], model.initial_state(3, "cpu"))
    assert out.shape == (3, model.hidden_size)


@pytest.mark.parametrize("name", sorted(SEQ_MODELS))
@pytest.mark.parametrize("n_layer", [1, 2])
@pytest.mark.parametrize("n_head", [1, 2])
@pytest.mark.parametrize("T,B", [(1, 1), (7, 3), (20, 2)])
def test_step_matches_forward(name, n_layer, n_head, T, B):
    model = make(name, n_layer=n_layer, n_head=n_head).eval()
    inputs = torch.randn(T, B, INPUT_SIZE)
    with torch.no_grad():
        whole = model(inputs)
    stepped, _ = run_steps(model, inputs)
    torch.testing.assert_close(stepped, whole, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", sorted(SEQ_MODELS))
@pytest.mark.parametrize("k", [0, 4, 9])
def test_causal(name, k):
    model = make(name, n_layer=2, n_head=2).eval()
    inputs = torch.randn(10, 2, INPUT_SIZE)
    changed = inputs.clone()
    changed[k] += torch.randn(2, INPUT_SIZE)  # not a constant: LayerNorm would remove that
    with torch.no_grad():
        before, after = model(inputs), model(changed)
    torch.testing.assert_close(after[:k], before[:k], atol=0.0, rtol=0.0)
    assert not torch.allclose(after[k], before[k])  # the change does reach step k


def test_gpt_cache_grows_one_per_step():
    model = make("gpt", max_seq_len=6).eval()
    _, states = run_steps(model, torch.randn(10, 2, INPUT_SIZE))
    assert [s.t for s in states] == list(range(1, 11))
    assert [s.length for s in states] == [1, 2, 3, 4, 5, 6, 6, 6, 6, 6]
    assert all(s.keys.shape[3] == 6 and s.values.shape[3] == 6 for s in states)


@pytest.mark.parametrize("position_encoding", ["sine", "none"])
def test_gpt_slides_past_max_seq_len(position_encoding):
    """Past max_seq_len L the step at t sees exactly inputs t-L+1..t at their absolute positions.
    With one layer the keys/values depend only on each step's own input and position, so the
    step's output equals a forward over the last L inputs, once the forward (which counts
    positions from 0) is given the absolute-position encodings in place of its own."""
    L, T = 5, 17
    model = make("gpt", max_seq_len=L, position_encoding=position_encoding).eval()
    inputs = torch.randn(T, 3, INPUT_SIZE)
    stepped, states = run_steps(model, inputs)
    assert max(s.length for s in states) == L
    for t in range(L - 1, T):
        window = inputs[t - L + 1 : t + 1]
        if position_encoding == "sine":
            shift = sinusoidal_encoding(torch.arange(t - L + 1, t + 1), INPUT_SIZE)
            window = window + (shift - sinusoidal_encoding(torch.arange(L), INPUT_SIZE))[:, None]
        with torch.no_grad():
            expected = model(window)[-1]
        torch.testing.assert_close(stepped[t], expected, atol=1e-5, rtol=1e-5)


def test_gpt_deep_keeps_stepping_past_max_seq_len():
    L = 4
    model = make("gpt", max_seq_len=L, n_layer=2, n_head=2).eval()
    inputs = torch.randn(3 * L, 2, INPUT_SIZE)
    stepped, states = run_steps(model, inputs)
    assert torch.isfinite(stepped).all()
    assert all(s.length <= L for s in states)
    with torch.no_grad():  # within the training length it is still the exact forward
        torch.testing.assert_close(stepped[:L], model(inputs[:L]), atol=1e-5, rtol=1e-5)


def test_gpt_dropout_only_in_train_mode():
    model = make("gpt", pdrop=0.5)
    inputs = torch.randn(6, 2, INPUT_SIZE)
    model.train()
    assert not torch.allclose(model(inputs), model(inputs))
    model.eval()
    torch.testing.assert_close(model(inputs), model(inputs), atol=0.0, rtol=0.0)


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
        build_seq_model(ConfigDict({"name": "mamba"}), INPUT_SIZE, 10)
