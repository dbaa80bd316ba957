"""--precision auto: bf16 only where the sequence model learns in bf16 as in fp32 and the
device has bf16 matrix units, with the reason recorded in config.json."""

import json

import pytest
import torch
from conftest import seed_command

from memrl import precision
from memrl.cli import parse_train_args
from memrl.nets.seq import SEQ_MODELS
from memrl.trainer import Trainer


def config_after_start(tmp_path, flags: str, seq: str = "lstm_default") -> dict:
    run = parse_train_args(seed_command(seq=seq, extra=f"--train_episodes 0 {flags}"))
    Trainer(run, run_dir=tmp_path / "run")
    return json.loads((tmp_path / "run" / "config.json").read_text())


@pytest.mark.parametrize("flags, units", [([], False), (["avx512_bf16"], False),
                                          (["amx_bf16", "avx512_bf16"], True)])
def test_cpu_bf16_matrix_units_are_amx(monkeypatch, flags, units):
    """AVX-512 BF16 without AMX made bf16 updates slower than fp32 (0.66-0.78x): not enough."""
    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda: flags)
    support = precision.bf16_support(torch.device("cpu"))
    assert support.native == units
    assert all(flag in support.detail for flag in flags)


@pytest.mark.parametrize("flags", [[], ["avx512_bf16"]])
def test_auto_is_fp32_without_matrix_units_and_says_why(tmp_path, monkeypatch, flags):
    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda: flags)
    config = config_after_start(tmp_path, "--precision auto --device cpu")
    assert config["flags"]["precision"] == "auto"
    assert config["resolved_precision"] == "fp32"
    assert config["bf16_support"].startswith("none")
    assert config["precision_reason"].startswith("auto: fp32, no bf16 matrix units (cpu ")


def test_auto_is_bf16_only_with_matrix_units_for_a_model_that_learns_as_in_fp32(tmp_path,
                                                                                monkeypatch):
    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda: ["amx_bf16"])
    config = config_after_start(tmp_path, "--precision auto --device cpu")
    assert config["resolved_precision"] == "bf16"
    assert config["bf16_support"] == "native (cpu amx_bf16)"
    assert config["precision_reason"].startswith("auto: bf16, lstm learns in bf16 as in fp32")
    name, _, reason = precision.resolve_precision("auto", torch.device("cpu"), "gpt")
    assert name == "fp32" and "gpt is not known to learn in bf16" in reason


def test_each_model_gives_its_verdict():
    verdicts = {name: precision.bf16_learns_as_fp32(name) for name in SEQ_MODELS}
    assert verdicts == {name: name == "lstm" for name in SEQ_MODELS}


def test_explicit_precision_is_kept_whatever_the_hardware(monkeypatch):
    monkeypatch.setattr(precision, "cpu_bf16_flags", list)
    for name in ("fp32", "bf16"):
        assert precision.resolve_precision(name, torch.device("cpu"), "gpt")[:3:2] == \
            (name, f"--precision {name}")


def test_cpu_model_is_named():
    assert precision.cpu_model().strip()
