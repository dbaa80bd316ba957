"""--precision auto: resolved from the device's native bf16 support and the study's verdict, and
recorded in config.json."""

import json

import pytest
import torch
from conftest import seed_command

from memrl import precision
from memrl.cli import parse_train_args
from memrl.trainer import Trainer


def config_after_start(tmp_path, flags: str) -> dict:
    run = parse_train_args(seed_command(extra=f"--train_episodes 0 {flags}"))
    Trainer(run, run_dir=tmp_path / "run")
    return json.loads((tmp_path / "run" / "config.json").read_text())


@pytest.mark.parametrize("flags", [[], ["avx512_bf16"], ["amx_bf16", "avx512_bf16"]])
def test_cpu_bf16_support_is_native_only_with_bf16_instructions(monkeypatch, flags):
    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda: flags)
    support = precision.bf16_support(torch.device("cpu"))
    assert support.native == bool(flags)
    assert all(flag in support.detail for flag in flags)


def test_auto_is_fp32_without_native_bf16_and_says_so_in_config_json(tmp_path, monkeypatch):
    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda: [])
    monkeypatch.setattr(precision, "BF16_EQUIVALENT_SEQ_MODELS", frozenset({"lstm"}))
    config = config_after_start(tmp_path, "--precision auto --device cpu")
    assert config["flags"]["precision"] == "auto"
    assert config["resolved_precision"] == "fp32"
    assert config["bf16_support"].startswith("none")


def test_auto_is_bf16_only_where_native_and_proven(tmp_path, monkeypatch):
    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda: ["amx_bf16"])
    monkeypatch.setattr(precision, "BF16_EQUIVALENT_SEQ_MODELS", frozenset({"lstm"}))
    config = config_after_start(tmp_path, "--precision auto --device cpu")
    assert config["resolved_precision"] == "bf16"
    assert config["bf16_support"] == "native (cpu amx_bf16)"
    assert precision.resolve_precision("auto", torch.device("cpu"), "gpt")[0] == "fp32"


def test_explicit_precision_is_kept_whatever_the_hardware(monkeypatch):
    monkeypatch.setattr(precision, "cpu_bf16_flags", lambda: [])
    for name in ("fp32", "bf16"):
        assert precision.resolve_precision(name, torch.device("cpu"), "gpt")[0] == name


def test_cpu_model_is_named():
    assert precision.cpu_model().strip()
