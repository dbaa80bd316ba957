"""A run's files when things go wrong: one writer per run, damaged checkpoints, progress.csv and
config.json found on resume and eval, nothing non-finite saved, a full disk, a finished run.

Most tests copy one tiny finished run (Passive T-Maze L = 2, evaluations and checkpoints at 10
and 20 episodes) and break it; a resume that must recover is compared with the untouched run.
"""

import builtins
import csv
import errno
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from conftest import ROOT, seed_command

from memrl import checkpoint as checkpoint_module
from memrl import files
from memrl.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint
from memrl.cli import main
from memrl.files import RunFileError, append_durable, write_atomic
from memrl.runlock import LOCK_FILE, RunBusyError, RunLock
from memrl.trainer import Trainer

ARGS = seed_command(extra="--config_env.env_name 2 --train_episodes 10 --seed 5 "
                          "--checkpoint_interval 0 --keep_checkpoints 2")
TIMING = {"wall_time", "fps"}


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    assert main(["train", *ARGS, "--run_dir", str(run_dir)]) == 0
    assert [p.name for p in list_checkpoints(run_dir)] == ["ckpt_10.pt", "ckpt_20.pt"]
    return run_dir


@pytest.fixture
def unfinished(reference, tmp_path):
    """The reference run as if killed after its last checkpoint, before summary.json."""
    run_dir = tmp_path / "run"
    shutil.copytree(reference, run_dir)
    (run_dir / "summary.json").unlink()
    return run_dir


def rows(run_dir):
    with open(run_dir / "progress.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(f)]


def snapshot(folder):
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run_cli(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    assert "\n" not in err.strip(), err
    return code, out, err.strip()


def stray_temp_files(run_dir):
    return [p for p in run_dir.rglob("*") if p.name.endswith(".tmp")]


# --- one writer per run ----------------------------------------------------------------------

def test_resume_of_a_run_still_training_is_refused_and_a_killed_runs_lock_is_stale(tmp_path,
                                                                                   capsys):
    run_dir = tmp_path / "run"
    args = [a if a != "10" else "100000" for a in ARGS]  # far longer than this test
    proc = subprocess.Popen([sys.executable, "-m", "memrl.cli", "train", *args, "--run_dir",
                             str(run_dir)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 120
        while not list_checkpoints(run_dir) and time.time() < deadline:
            time.sleep(0.05)
        assert (run_dir / LOCK_FILE).exists()
        code, _, err = run_cli(["train", "--resume", str(run_dir)], capsys)
        assert code == 2
        assert f"is being written by pid {proc.pid}" in err
        with pytest.raises(RunBusyError):
            RunLock(run_dir).acquire()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    lock = RunLock(run_dir)
    assert f"pid {proc.pid}" in lock.acquire()  # left by the killed process: stale, taken over
    lock.release()
    assert not (run_dir / LOCK_FILE).exists()
    episodes = [int(row["episodes"]) for row in rows(run_dir)]
    assert episodes == sorted(set(episodes))  # one writer: no row twice


def test_a_second_trainer_in_one_process_is_refused_too(reference, tmp_path):
    run_dir = tmp_path / "run"
    shutil.copytree(reference, run_dir)
    (run_dir / "summary.json").unlink()
    first = Trainer(parse_resume(run_dir), run_dir, resume=True)
    with pytest.raises(RunBusyError, match=f"pid {os.getpid()}"):
        Trainer(parse_resume(run_dir), run_dir, resume=True)
    first.train()
    assert not (run_dir / LOCK_FILE).exists()


def parse_resume(run_dir):
    from memrl.cli import parse_train_command

    return parse_train_command(["--resume", str(run_dir)]).run


# --- damaged checkpoints ---------------------------------------------------------------------

def damage(path, how):
    data = path.read_bytes()
    if how == "empty":
        path.write_bytes(b"")
    elif how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "flipped":  # one byte inside a tensor: torch.load alone would not notice
        path.write_bytes(data[:-4096] + bytes([data[-4096] ^ 0xFF]) + data[-4095:])


@pytest.mark.parametrize("how", ["empty", "truncated", "flipped"])
def test_resume_passes_over_a_damaged_newest_checkpoint(reference, unfinished, capsys, how):
    damage(unfinished / "checkpoints" / "ckpt_20.pt", how)
    code, out, _ = run_cli(["train", "--resume", str(unfinished)], capsys)
    assert code == 0
    assert "ckpt_20.pt" in out and "resuming from ckpt_10.pt" in out
    assert (unfinished / "checkpoints" / "ckpt_20.pt.unusable").exists()
    assert rows(unfinished) == rows(reference)  # rows 20.. rewritten as the first run wrote them
    assert [p.name for p in list_checkpoints(unfinished)] == ["ckpt_10.pt", "ckpt_20.pt"]
    load_checkpoint(unfinished / "checkpoints" / "ckpt_20.pt")


@pytest.mark.parametrize("how", ["empty", "truncated", "flipped"])
def test_eval_plays_the_newest_whole_checkpoint(reference, unfinished, capsys, how):
    damage(unfinished / "checkpoints" / "ckpt_20.pt", how)
    before = snapshot(unfinished)
    code, out, err = run_cli(["eval", str(unfinished), "--episodes", "2"], capsys)
    assert code == 0
    assert "ckpt_20.pt" in err and "playing ckpt_10.pt" in err
    assert "10 episodes trained" in out
    assert snapshot(unfinished) == before


def test_no_usable_checkpoint_is_refused(unfinished, capsys):
    for path in list_checkpoints(unfinished):
        damage(path, "truncated")
    before = snapshot(unfinished)
    for command in (["train", "--resume"], ["eval"]):
        code, _, err = run_cli([*command, str(unfinished)], capsys)
        assert code == 2 and "no usable checkpoint" in err and "ckpt_10.pt" in err
    assert snapshot(unfinished) == before


def test_checkpoint_digest_is_sha256sum_format(tmp_path):
    path = save_checkpoint(tmp_path, 7, {"w": torch.ones(3)}, keep=1)
    digest, name = (path.parent / "ckpt_7.pt.sha256").read_text().split()
    assert name == "ckpt_7.pt" and len(digest) == 64
    save_checkpoint(tmp_path, 8, {"w": torch.ones(3)}, keep=1)  # the old one and its digest go
    assert sorted(p.name for p in path.parent.iterdir()) == ["ckpt_8.pt", "ckpt_8.pt.sha256"]


# --- progress.csv and config.json that disagree with the checkpoint --------------------------

def cut_rows(path, keep_lines):
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:keep_lines]))


PROGRESS_DAMAGE = {
    "missing": lambda p: p.unlink(),
    "fewer rows": lambda p: cut_rows(p, 2),
    "torn row": lambda p: p.write_bytes(p.read_bytes()[: -len(p.read_bytes()) // 4]),
    "edited row": lambda p: edit_first_row(p),
}


def edit_first_row(path):
    header, first, *rest = path.read_bytes().splitlines(keepends=True)
    assert first.startswith(b"30,")  # env_steps of the evaluation at 10 episodes
    path.write_bytes(b"".join([header, b"31," + first[3:], *rest]))


@pytest.mark.parametrize("how", PROGRESS_DAMAGE)
def test_resume_refuses_a_progress_csv_that_disagrees(unfinished, capsys, how):
    PROGRESS_DAMAGE[how](unfinished / "progress.csv")
    before = snapshot(unfinished)
    code, _, err = run_cli(["train", "--resume", str(unfinished)], capsys)
    assert code == 2
    assert "progress.csv" in err and "ckpt_20.pt" in err or "row" in err
    assert "restore it" in err
    assert snapshot(unfinished) == before


def edit_config(path, change):
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))


CONFIG_DAMAGE = {
    "truncated": (lambda p: p.write_text(p.read_text()[:200]), "not valid JSON"),
    "not a run config": (lambda p: p.write_text("[1, 2]"), "not a memrl run config"),
    "lacks a leaf": (lambda p: edit_config(p, lambda c: c["config_rl"].pop("discount")),
                     "config_rl.discount"),
    "another model size": (lambda p: edit_config(
        p, lambda c: c["config_seq"]["model"]["seq_model_config"].update(hidden_size=64)),
        "config_seq.model.seq_model_config.hidden_size"),
    "a bad value": (lambda p: edit_config(p, lambda c: c["config_rl"].update(discount=2)),
                    "config_rl.discount must be"),
}


@pytest.mark.parametrize("how", CONFIG_DAMAGE)
def test_a_damaged_config_json_is_refused_by_resume_and_eval(unfinished, capsys, how):
    change, message = CONFIG_DAMAGE[how]
    change(unfinished / "config.json")
    before = snapshot(unfinished)
    for command, prefix in ((["train", "--resume"], "memrl: error:"),
                            (["eval"], "memrl eval: error:")):
        code, _, err = run_cli([*command, str(unfinished)], capsys)
        assert code == 2
        assert err.startswith(prefix) and "config.json" in err and message in err, err
    assert snapshot(unfinished) == before


# --- nothing non-finite is saved ---------------------------------------------------------------

def test_weights_turning_nan_before_a_checkpoint_stop_the_run(tmp_path, capsys, monkeypatch):
    """The weights go NaN after the last evaluation's row (its losses finite): the checkpoint
    that would follow is refused, and the run stops with ckpt_10 and both rows."""
    evaluate = Trainer.evaluate

    def evaluate_then_poison(self):
        row = evaluate(self)
        if self.episodes >= 20:
            with torch.no_grad():
                next(self.agent.parameters()).fill_(float("nan"))
        return row

    monkeypatch.setattr(Trainer, "evaluate", evaluate_then_poison)
    run_dir = tmp_path / "run"
    code, _, err = run_cli(["train", *ARGS, "--run_dir", str(run_dir)], capsys)
    assert code == 1
    assert err.startswith("memrl: error: non-finite values in agent.") and "ckpt_10.pt" in err
    assert [p.name for p in list_checkpoints(run_dir)] == ["ckpt_10.pt"]
    assert [row["episodes"] for row in rows(run_dir)] == ["10", "20"]
    assert not (run_dir / "summary.json").exists() and not (run_dir / LOCK_FILE).exists()
    monkeypatch.undo()
    code, out, _ = run_cli(["eval", str(run_dir), "--episodes", "2"], capsys)
    assert code == 0 and "10 episodes trained" in out  # eval plays the last good checkpoint


def test_eval_refuses_a_non_finite_checkpoint(unfinished, capsys):
    for path in list_checkpoints(unfinished):
        state = load_checkpoint(path)
        next(iter(state["agent"].values())).fill_(float("inf"))
        save_checkpoint(unfinished, int(path.stem.split("_")[1]), state, keep=2)
    code, _, err = run_cli(["eval", str(unfinished)], capsys)
    assert code == 2 and "non-finite" in err and "no usable checkpoint" in err


# --- a full disk --------------------------------------------------------------------------------

def no_space():
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class FillingFile(io.FileIO):
    """A file on a disk with 50 kB left."""

    def write(self, data):
        if self.tell() + len(data) > 50_000:
            raise no_space()
        return super().write(data)


def fail_checkpoint_20(monkeypatch):
    def open_filling(path, mode="r", *args, **kwargs):
        if str(path).endswith(".ckpt_20.pt.tmp"):
            return FillingFile(path, "wb")
        return builtins.open(path, mode, *args, **kwargs)

    monkeypatch.setattr(checkpoint_module, "open", open_filling, raising=False)


def fail_second_row(monkeypatch):
    fsync = os.fsync
    appended = []

    def fsync_until_full(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith("progress.csv"):
            appended.append(fd)
            if len(appended) == 2:
                raise no_space()
        fsync(fd)

    monkeypatch.setattr(files.os, "fsync", fsync_until_full)


def fail_summary(monkeypatch):
    replace = os.replace

    def replace_until_full(src, dst):
        if str(dst).endswith("summary.json"):
            raise no_space()
        replace(src, dst)

    monkeypatch.setattr(files.os, "replace", replace_until_full)


DISK_FULL = {  # what fails -> (how, the file named, rows and checkpoints left)
    "checkpoint": (fail_checkpoint_20, "ckpt_20.pt", ["10", "20"], ["ckpt_10.pt"]),
    "row": (fail_second_row, "progress.csv", ["10"], ["ckpt_10.pt"]),
    "summary": (fail_summary, "summary.json", ["10", "20"], ["ckpt_10.pt", "ckpt_20.pt"]),
}


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="finds the file by /proc")
@pytest.mark.parametrize("what", DISK_FULL)
def test_a_full_disk_stops_the_run_with_the_previous_state_intact(reference, tmp_path, capsys,
                                                                  monkeypatch, what):
    fail, name, kept_rows, kept_checkpoints = DISK_FULL[what]
    fail(monkeypatch)
    run_dir = tmp_path / "run"
    code, _, err = run_cli(["train", *ARGS, "--run_dir", str(run_dir)], capsys)
    assert code == 1
    assert err.startswith("memrl: error: could not write ") and name in err
    assert "No space left on device" in err and f"--resume {run_dir}" in err
    assert [row["episodes"] for row in rows(run_dir)] == kept_rows
    assert [p.name for p in list_checkpoints(run_dir)] == kept_checkpoints
    for path in list_checkpoints(run_dir):
        load_checkpoint(path)
    assert not stray_temp_files(run_dir) and not (run_dir / "summary.json").exists()
    monkeypatch.undo()  # space freed: the resume ends as the uninterrupted run
    assert main(["train", "--resume", str(run_dir)]) == 0
    assert rows(run_dir) == rows(reference)


def test_failed_writes_leave_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "progress.csv"
    path.write_bytes(b"a,b\r\n1,2\r\n")

    def full(*_):
        raise no_space()

    monkeypatch.setattr(files.os, "fsync", full)
    with pytest.raises(RunFileError, match="progress.csv: No space left on device"):
        append_durable(path, b"3,4\r\n")
    with pytest.raises(RunFileError, match="progress.csv"):
        write_atomic(path, b"x")
    assert path.read_bytes() == b"a,b\r\n1,2\r\n" and not stray_temp_files(tmp_path)


# --- finished and too-short runs ----------------------------------------------------------------

def test_resuming_a_finished_run_changes_nothing(reference, capsys):
    before = snapshot(reference)
    code, out, _ = run_cli(["train", "--resume", str(reference)], capsys)
    assert code == 0 and "is finished" in out and "nothing to do" in out
    assert snapshot(reference) == before


def test_a_run_too_short_for_an_evaluation_says_so(tmp_path, capsys):
    args = seed_command(extra="--config_env.env_name 2 --train_episodes 0 --start_training 3")
    code, out, _ = run_cli(["train", *args, "--run_dir", str(tmp_path / "run")], capsys)
    assert code == 0
    assert not (tmp_path / "run" / "progress.csv").exists()
    assert "no progress.csv" in out and "after 10 episodes" in out
    assert "done: " + str(tmp_path / "run" / "progress.csv") not in out
