"""Checkpoints: atomic files, the newest K kept, and a killed run resumed to the same result."""

import csv
import random
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, seed_command

from memrl.checkpoint import list_checkpoints, save_checkpoint
from memrl.cli import main

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
