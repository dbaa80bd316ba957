"""End to end: determinism of a run, NaN handling, and that a tiny task is learned."""

import csv
import math

import pytest
from conftest import seed_command

from memrl.cli import parse_train_args
from memrl.trainer import NonFiniteError, Trainer

TIMING_COLUMNS = {"wall_time", "fps"}


def read_rows(run_dir):
    with open(run_dir / "progress.csv", newline="") as f:
        return list(csv.DictReader(f))


def train(tmp_path, seq="lstm", extra=""):
    run = parse_train_args(seed_command(seq=f"{seq}_default",
                                        extra=f"{extra} --save_dir {tmp_path}"))
    trainer = Trainer(run)
    return trainer, trainer.train()


@pytest.mark.parametrize("seq", ["lstm", "gpt"])
def test_same_seed_same_progress(tmp_path, seq):
    extra = "--config_env.env_name 3 --train_episodes 30 --seed 7"
    _, a = train(tmp_path / "a", seq, extra)
    _, b = train(tmp_path / "b", seq, extra)
    _, c = train(tmp_path / "c", seq, extra.replace("--seed 7", "--seed 8"))
    rows_a, rows_b, rows_c = read_rows(a), read_rows(b), read_rows(c)
    assert len(rows_a) == 4
    strip = [{k: v for k, v in r.items() if k not in TIMING_COLUMNS} for r in rows_a]
    assert strip == [{k: v for k, v in r.items() if k not in TIMING_COLUMNS} for r in rows_b]
    assert strip != [{k: v for k, v in r.items() if k not in TIMING_COLUMNS} for r in rows_c]


def test_schedule_counts(tmp_path):
    trainer, run_dir = train(tmp_path, extra="--config_env.env_name 4 --train_episodes 7")
    T = 5
    warmup_updates = int(0.25 * 10 * T)
    per_episode = math.ceil(0.25 * T)
    assert trainer.episodes == 17
    assert trainer.env_steps == 17 * T
    assert trainer.updates == warmup_updates + 7 * per_episode
    rows = read_rows(run_dir)
    assert [int(r["episodes"]) for r in rows] == [10]  # eval at each multiple of 10
    assert int(rows[0]["updates"]) == warmup_updates


def test_nan_loss_stops_with_clear_error_and_keeps_rows(tmp_path):
    run = parse_train_args(seed_command(extra=f"--config_env.env_name 3 --train_episodes 20 "
                                              f"--save_dir {tmp_path}"))
    trainer = Trainer(run)
    for group in trainer.agent.optimizer.param_groups:
        group["lr"] = float("nan")
    with pytest.raises(NonFiniteError, match="critic_lr"):
        trainer.train()
    rows = read_rows(trainer.run_dir)
    assert rows and rows[-1]["critic_loss"] in ("nan", "inf")


@pytest.mark.parametrize("seq", ["lstm", "gpt"])
def test_passive_tmaze_is_learned(tmp_path, seq):
    """Passive T-Maze L = 5 at the paper's settings: the last evaluation scores 1.0."""
    _, run_dir = train(tmp_path, seq, "--config_env.env_name 5 --train_episodes 250 --seed 1")
    rows = read_rows(run_dir)
    assert float(rows[-1]["return"]) == pytest.approx(1.0)
    assert float(rows[-1]["success"]) == 1.0
