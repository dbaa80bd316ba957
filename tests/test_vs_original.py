"""bench/vs_original.py reads both codes' progress files the same way and scores them right.

The two codes log differently (memrl: one row per evaluation with an `episodes` column; the
original: a row per training episode plus separate evaluation rows, counted in env steps), so
the table is only a comparison if both are turned into (episode, return) alike. These tests
write small progress files in each format and check the scores and the verdict.
"""
import argparse
import csv
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("vs_original", ROOT / "bench" / "vs_original.py")
vs = importlib.util.module_from_spec(_spec)
sys.modules["vs_original"] = vs  # dataclasses look their module up by name
_spec.loader.exec_module(vs)

CELL = "active5_lstm"  # T = 5 + 3 = 8 steps an episode; 4000 + 10 episodes in all


def write_memrl(run: "vs.Run", returns: dict[int, float]) -> None:
    run.run_dir.mkdir(parents=True)
    with open(run.run_dir / "progress.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["env_steps", "episodes", "return", "success"])
        for episode, ret in sorted(returns.items()):
            writer.writerow([episode * 8, episode, ret, float(ret > 0)])


def write_original(run: "vs.Run", returns: dict[int, float]) -> None:
    folder = run.run_dir / "tmaze_active" / "5" / "run-uid"
    folder.mkdir(parents=True)
    with open(folder / "progress.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["env_steps", "critic_loss", "return", "success"])
        for episode, ret in sorted(returns.items()):
            writer.writerow([episode * 8, 0.01, "", ""])  # the training row
            writer.writerow([episode * 8, "", ret, float(ret > 0)])  # the evaluation row


def curve(solve_at: int | None, final: float = 1.0) -> dict[int, float]:
    """Evaluations every 10 episodes: 0.5 before `solve_at`, then `final`."""
    total = vs.CELLS[CELL].total_episodes
    return {ep: (final if solve_at is not None and ep >= solve_at else 0.5)
            for ep in range(10, total + 1, 10)}


def test_both_formats_give_the_same_evaluations(tmp_path: Path) -> None:
    returns = curve(2000)
    memrl, original = (vs.Run(code, CELL, 0, tmp_path) for code in vs.CODES)
    write_memrl(memrl, returns)
    write_original(original, returns)
    assert vs.evaluations(memrl) == vs.evaluations(original) == sorted(returns.items())
    assert vs.is_finished(memrl) and vs.is_finished(original)
    assert vs.run_result(memrl, hold=1)["solve"] == 2000
    assert vs.run_result(original, hold=1)["solve"] == 2000


def test_scores_solve_final_and_unsolved(tmp_path: Path) -> None:
    returns = curve(2000)
    returns[1500] = 1.0  # a lucky evaluation, then back to 0.5
    run = vs.Run("memrl", CELL, 0, tmp_path)
    write_memrl(run, returns)
    assert vs.run_result(run, hold=1)["solve"] == 1500
    assert vs.run_result(run, hold=2)["solve"] == 2010  # two in a row from 2000 on
    assert vs.run_result(run, hold=1)["final"] == pytest.approx(1.0)

    never = vs.Run("memrl", CELL, 1, tmp_path)
    write_memrl(never, curve(None))
    result = vs.run_result(never, hold=1)
    assert not result["solved"]
    assert result["solve"] == vs.CELLS[CELL].total_episodes  # counts as its budget
    assert result["final"] == pytest.approx(0.5)

    unfinished = vs.Run("memrl", CELL, 2, tmp_path)
    write_memrl(unfinished, {ep: r for ep, r in curve(100).items() if ep <= 3000})
    assert vs.run_result(unfinished, hold=1) is None


def test_final_return_averages_the_last_tenth(tmp_path: Path) -> None:
    total, budget = vs.CELLS[CELL].total_episodes, vs.CELLS[CELL].train_episodes
    returns = curve(100)
    last_tenth = [ep for ep in returns if ep > total - 0.1 * budget]
    for ep in last_tenth[: len(last_tenth) // 2]:
        returns[ep] = 0.0
    run = vs.Run("memrl", CELL, 0, tmp_path)
    write_memrl(run, returns)
    half = len(last_tenth) // 2
    assert vs.run_result(run, hold=1)["final"] == pytest.approx(
        (len(last_tenth) - half) / len(last_tenth))


def report_for(tmp_path: Path, memrl_solves: list, original_solves: list) -> str:
    for code, solves in (("memrl", memrl_solves), ("original", original_solves)):
        write = write_memrl if code == "memrl" else write_original
        for seed, solve in enumerate(solves):
            write(vs.Run(code, CELL, seed, tmp_path), curve(solve))
    args = argparse.Namespace(out=tmp_path, cells=[CELL], seeds=list(range(5)), hold=1)
    return next(line for line in vs.report(args).splitlines() if line.startswith(f"| {CELL} |"))


def test_report_flags_memrl_only_when_significantly_worse(tmp_path: Path) -> None:
    alike = report_for(tmp_path / "alike", [1900, 2000, 2100, 2000, 1950],
                       [2000, 1950, 2050, 1900, 2100])
    assert alike.endswith("| no |")
    assert "| 5 / 5 | 5 / 5 |" in alike

    worse = report_for(tmp_path / "worse", [3500, 3600, None, 3400, 3550],
                       [2000, 1950, 2050, 1900, 2100])
    assert "**yes: episodes to solve**" in worse
    assert "| 4 / 5 |" in worse  # memrl solved 4 of its 5 seeds
    assert "| 3612 [" in worse  # (3500 + 3600 + 4010 + 3400 + 3550) / 5: unsolved counts 4010
    # one unsolved seed of five (final 0.5 against 1.0 everywhere else) is not significant
    assert "final return" not in worse.split("**yes:")[1]

    better = report_for(tmp_path / "better", [1000, 1100, 1050, 900, 950],
                        [2000, 1950, 2050, 1900, 2100])
    assert better.endswith("| no |")
