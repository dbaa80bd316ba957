"""Checkpoints: atomic files, the newest K kept, a killed run resumed to the same result, and
nothing lost on interruption (SIGINT, SIGTERM, a run stopped before its first evaluation)."""

import csv
import random
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import ROOT, seed_command

from memrl.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint
from memrl.cli import main, parse_train_args
from memrl.stopping import RunInterrupted
from memrl.trainer import Trainer

TIMING = {"wall_time", "fps"}


def rows_without_timing(run_dir):
    with open(run_dir / "progress.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(f)]


def test_keeps_newest_k_and_ignores_temp_files(tmp_path):
    for episodes in (10, 20, 30, 40):
        save_checkpoint(tmp_path, episodes, {"x": episodes}, keep=2)
    (tmp_path / "checkpoints" / ".ckpt_50.pt.tmp").write_bytes(b"torn")
    assert [p.name for p in list_checkpoints(tmp_path)] == ["ckpt_30.pt", "ckpt_40.pt"]


@pytest.mark.parametrize("seq", ["lstm", "gpt"])
def test_sigkill_and_resume_gives_the_same_progress(tmp_path, seq):
    args = seed_command(seq=f"{seq}_default", extra=(
        "--config_env.env_name 3 --train_episodes 150 --seed 3 --threads 1 "
        "--checkpoint_interval 0 --keep_checkpoints 2"))
    reference = tmp_path / "reference"
    assert main(["train", *args, "--run_dir", str(reference)]) == 0

    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "memrl.cli", "train", *args,
                             "--run_dir", str(killed)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list_checkpoints(killed) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(random.uniform(0.0, 1.5))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "summary.json").exists(), "the run finished before it was killed"

    assert main(["train", "--resume", str(killed), "--threads", "1"]) == 0
    assert (killed / "summary.json").exists()
    assert rows_without_timing(killed) == rows_without_timing(reference)
    assert len(list_checkpoints(killed)) == 2


def test_resume_errors(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path / "nothing")]) == 2
    assert "config.json not found" in capsys.readouterr().err
    run_dir = tmp_path / "run"
    args = seed_command(extra="--config_env.env_name 2 --train_episodes 0")
    assert main(["train", *args, "--run_dir", str(run_dir)]) == 0
    assert main(["train", "--resume", str(run_dir), "--batch_size", "3"]) == 2
    assert "drop --batch_size" in capsys.readouterr().err
    assert main(["train", *args, "--run_dir", str(run_dir)]) == 2  # would overwrite
    assert "already holds a run" in capsys.readouterr().err
    # Resuming a finished run changes nothing.
    before = (run_dir / "progress.csv").read_text()
    assert main(["train", "--resume", str(run_dir)]) == 0
    assert (run_dir / "progress.csv").read_text() == before


# --- interruption: nothing lost -------------------------------------------------------------

SHORT = "--config_env.env_name 3 --train_episodes 150 --seed 3 --threads 1 --keep_checkpoints 2"


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("uninterrupted") / "run"
    assert main(["train", *seed_command(extra=SHORT), "--run_dir", str(run_dir)]) == 0
    return run_dir


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_saves_a_checkpoint_and_exits_with_one_line(tmp_path, uninterrupted, signum):
    """Ctrl-C or SIGTERM mid-run (checkpoints otherwise only every 10 minutes): a checkpoint
    at the next safe point, one line, no lock left, and a resume ends as if never stopped."""
    run_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "memrl.cli", "train",
                             *seed_command(extra=SHORT), "--run_dir", str(run_dir)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run_dir / "progress.csv").exists() and time.time() < deadline:
        time.sleep(0.05)  # training has started: its first evaluation row is written
    time.sleep(random.uniform(0.0, 0.5))
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err
    assert err == ""  # no traceback
    last = out.strip().splitlines()[-1]
    assert last.startswith(f"[memrl] stopped by {signal.Signals(signum).name} after ")
    assert f"memrl train --resume {run_dir}" in last and out.count("stopped by") == 1
    assert list_checkpoints(run_dir) and not (run_dir / ".lock").exists()
    assert not (run_dir / "summary.json").exists(), "the run finished before the signal"

    assert main(["train", "--resume", str(run_dir)]) == 0
    assert rows_without_timing(run_dir) == rows_without_timing(uninterrupted)


def test_a_stop_between_updates_resumes_to_the_same_run(tmp_path, uninterrupted):
    """Asked to stop right after a collection, the run checkpoints before that collection's
    updates and before the next row: the resume owes them, and the training metrics of the
    row span both sessions."""
    run = parse_train_args(seed_command(extra=SHORT))
    trainer = Trainer(run, run_dir=tmp_path / "run")

    def interrupt(trainer, episodes, explore):
        if trainer.episodes == 15:
            signal.raise_signal(signal.SIGINT)

    trainer.add_callback(interrupt, event="collect")
    with pytest.raises(RunInterrupted, match="stopped by SIGINT after 15 episodes"):
        trainer.train()
    state = load_checkpoint(list_checkpoints(trainer.run_dir)[-1])
    assert state["counters"]["owed_updates"] == 1 and state["metric_counts"]
    Trainer(run, run_dir=trainer.run_dir, resume=True).train()
    assert rows_without_timing(trainer.run_dir) == rows_without_timing(uninterrupted)


def test_a_run_without_evaluations_checkpoints_early(tmp_path):
    """The eval interval is longer than the run: the first checkpoint still comes early
    (first_checkpoint seconds after the start, here at once), and a run stopped after it
    resumes from there to the same end."""
    extra = "--config_env.env_name 3 --train_episodes 30 --seed 4 --config_env.eval_interval 1000"
    run = parse_train_args(seed_command(extra=extra)).replace(first_checkpoint=0.0)
    trainer = Trainer(run, run_dir=tmp_path / "run")
    killed = tmp_path / "killed"

    def copy_at_third_collection(trainer, episodes, explore):
        if trainer.episodes == 3:  # as a run killed here would have left its folder
            assert [p.name for p in list_checkpoints(trainer.run_dir)] == ["ckpt_1.pt"]
            shutil.copytree(trainer.run_dir, killed)

    trainer.add_callback(copy_at_third_collection, event="collect")
    trainer.train()
    assert not (trainer.run_dir / "progress.csv").exists()
    Trainer(run, run_dir=killed, resume=True).train()
    final = [load_checkpoint(list_checkpoints(d)[-1]) for d in (trainer.run_dir, killed)]
    assert final[0]["counters"]["updates"] == final[1]["counters"]["updates"] > 0
    for name, weights in final[0]["agent"].items():
        assert torch.equal(weights, final[1]["agent"][name]), name


def test_resume_without_a_checkpoint_says_it_starts_over(tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = seed_command(extra="--config_env.env_name 2 --train_episodes 10 --seed 5")
    assert main(["train", *args, "--run_dir", str(run_dir)]) == 0
    before = rows_without_timing(run_dir)
    shutil.rmtree(run_dir / "checkpoints")  # as if killed before its first checkpoint
    (run_dir / "summary.json").unlink()
    capsys.readouterr()
    assert main(["train", "--resume", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert f"[memrl] {run_dir} has no checkpoint yet" in out and "starting it over" in out
    assert rows_without_timing(run_dir) == before
