"""Shared helpers for the bench scripts: build a run from the seed's configs, quietly."""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

from memrl.cli import parse_train_args
from memrl.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
TASK_CONFIGS = {
    "tmaze_passive": ("tmaze_passive", "dqn_default", "{seq}_default", ""),
    "tmaze_active": ("tmaze_active", "dqn_default", "{seq}_default", ""),
    "visual_match": ("visual_match", "sacd_default", "{seq}_cnn",
                     "--shared_encoder --freeze_critic"),
    "key_to_door": ("keytodoor", "sacd_default", "{seq}_cnn", "--shared_encoder --freeze_critic"),
}


def train_args(task: str, length: int, seq: str, extra: str = "") -> list[str]:
    env, rl, seq_cfg, flags = TASK_CONFIGS[task]
    return (
        f"--config_env {ROOT}/configs/envs/{env}.py --config_env.env_name {length} "
        f"--config_rl {ROOT}/configs/rl/{rl}.py "
        f"--config_seq {ROOT}/configs/seq_models/{seq_cfg.format(seq=seq)}.py {flags} {extra}"
    ).split()


def make_trainer(task: str, length: int, seq: str, extra: str = "") -> Trainer:
    """A Trainer writing into a throw-away folder."""
    save_dir = tempfile.mkdtemp(prefix="memrl-bench-")
    run = parse_train_args(train_args(task, length, seq, f"{extra} --save_dir {save_dir}"))
    return Trainer(run)


def quietly(fn, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args, **kwargs)
