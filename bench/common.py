"""Shared helpers for the bench scripts: build a run from the seed's configs (its parts alone,
through the run builder, or a Trainer writing a throw-away folder), quietly."""

from __future__ import annotations

import contextlib
import csv
import io
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from memrl.build import RunParts, build_run
from memrl.cli import parse_train_args
from memrl.collector import rollout
from memrl.envs import task_of
from memrl.run_config import RunConfig
from memrl.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]


def train_args(task: str, length: int | str, seq: str, extra: str = "") -> list[str]:
    """The paper's command line for a task (its record's configs, flags and per-model
    settings) at one variant, with config paths made absolute, plus `extra` flags."""
    record = task_of(task)
    argv = [str(ROOT / arg) if arg.startswith("configs/") else arg for arg in record.argv(seq)]
    return [*argv, f"--config_env.{record.variant_key}", str(length), *extra.split()]


def make_parts(task: str, length: int | str, seq: str, extra: str = "",
               random_collections: int = 0) -> tuple[RunConfig, RunParts]:
    """The run's settings and what it trains with (envs, replay, agent), no run folder; the
    replay holds `random_collections` x num_envs episodes of the random warm-up."""
    run = parse_train_args(train_args(task, length, seq, extra))
    parts = build_run(run)
    for _ in range(random_collections):
        parts.store.add_episodes(rollout(parts.env, None, rng=parts.warmup_rng))
    return run, parts


def make_trainer(task: str, length: int, seq: str, extra: str = "") -> Trainer:
    """A Trainer writing into a throw-away folder."""
    save_dir = tempfile.mkdtemp(prefix="memrl-bench-")
    run = parse_train_args(train_args(task, length, seq, f"{extra} --save_dir {save_dir}"))
    return Trainer(run)


def quietly(fn, *args, **kwargs):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args, **kwargs)


LEARNING_HEADER = (f"{'task':<14} {'L':>5} {'model':>5} {'episodes':>8} {'env_steps':>9} "
                   f"{'wall_s':>7} {'updates/s':>9} {'ms/update':>9}  "
                   f"split (collect/sample/update/eval s)  last evaluations")


def learning_run(task: str, length: int, seq: str, metrics: str | tuple[str, ...], extra: str,
                 probe: Callable[[Trainer], str] | None = None) -> str:
    """Train one run to its budget and return a table row (see LEARNING_HEADER): the last five
    values of each of `metrics` from progress.csv, then what `probe(trainer)` reports."""
    trainer = make_trainer(task, length, seq, extra)
    start = time.perf_counter()
    run_dir = quietly(trainer.train)
    wall = time.perf_counter() - start
    split = trainer.time_split()
    with open(run_dir / "progress.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    scores = [f"{name} " + " ".join(f"{float(row[name]):.2f}" for row in rows[-5:])
              for name in ((metrics,) if isinstance(metrics, str) else metrics)]
    if probe is not None:
        scores.append(probe(trainer))
    return (f"{task:<14} {length:>5} {seq:>5} {trainer.episodes:>8} {trainer.env_steps:>9} "
            f"{wall:>7.1f} {trainer.updates / split['update']:>9.2f} "
            f"{1000 * split['update'] / trainer.updates:>9.1f}  "
            f"{split['collect']:.1f}/{split['sample']:.1f}/{split['update']:.1f}/"
            f"{split['eval']:.1f}  " + "; ".join(scores))
