"""`memrl plot LOGS_DIR`: learning curves, aggregation plots and score tables for all runs."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from memrl.analysis.aggregate import (
    BOOTSTRAP_REPS,
    aggregate_table,
    group_runs,
    score_table,
    to_markdown,
    write_table,
)
from memrl.analysis.plots import plot_aggregation, plot_curves
from memrl.analysis.runs import CONFIG_FILE, PROGRESS_FILE, load_runs
from memrl.args import OneLineParser, int_at_least, output_dir, positive_float


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="memrl plot",
        description="Aggregate run folders as Ni et al. (2023) do: smooth each run over 10 "
        "evaluations, score it by the last 5% of its curve, average over seeds with 95% "
        "bootstrap intervals, and plot score against the task's length.",
    )
    parser.add_argument("logs_dir", metavar="LOGS_DIR",
                        help="folder holding run folders at any depth (training's --save_dir)")
    parser.add_argument("--out", type=output_dir, default=None,
                        help="output folder (default LOGS_DIR/plots)")
    parser.add_argument("--metric", default=None,
                        help="progress.csv column to score (default: return for T-Maze, "
                        "success for visual_match and key_to_door)")
    parser.add_argument("--horizon", type=positive_float, default=None,
                        help="env steps the curves run to (default: the furthest run of each "
                        "(task, L)); runs stopping before 90%% of it are left out")
    parser.add_argument("--env_type", nargs="+", default=None,
                        help="only these tasks, e.g. tmaze_passive visual_match")
    parser.add_argument("--seed", type=int_at_least(0), default=0,
                        help="seed of the bootstrap")
    parser.add_argument("--reps", type=int_at_least(1), default=BOOTSTRAP_REPS,
                        help="bootstrap resamples (default %(default)s)")
    return parser


def _error(message: str, status: int = 2) -> int:
    """Say what is wrong in one line; status 2: refused (bad input, nothing written), 1: the
    plots could not be written."""
    print(f"memrl plot: error: {message}", file=sys.stderr)
    return status


def _plot(args: argparse.Namespace) -> int:
    logs_dir = Path(args.logs_dir)
    if not logs_dir.is_dir():
        return _error(f"{logs_dir} is not a folder; pass the folder training wrote its runs "
                      "to (its --save_dir, 'logs' by default)")
    runs = load_runs(logs_dir, args.env_type)
    if not runs:
        only = f" of env_type {' / '.join(args.env_type)}" if args.env_type else ""
        return _error(f"no runs{only} under {logs_dir}: a run folder holds {PROGRESS_FILE} "
                      f"and {CONFIG_FILE}; check the path (and --env_type)")
    print(f"loaded {len(runs)} runs from {logs_dir}")

    groups = group_runs(runs, args.metric, args.horizon)
    for note in (note for group in groups for note in group.notes):
        print(f"note: {note}")
    scores = score_table(groups, reps=args.reps, seed=args.seed)
    if scores.empty:
        return _error("every run was left out (see the notes): lower --horizon or check "
                      "--metric names a progress.csv column")
    aggregates = aggregate_table(groups, reps=args.reps, seed=args.seed)

    out = Path(args.out) if args.out else logs_dir / "plots"
    try:
        written = plot_curves(groups, out, seed=args.seed) + plot_aggregation(scores, out)
        written += write_table(scores, out, "scores") + write_table(aggregates, out, "aggregates")
    except OSError as err:
        return _error(f"could not write to {out}: {err.strerror or err}", status=1)

    print("\nfinal scores (mean over seeds of the last 5% of each smoothed curve, 95% CI):")
    print(to_markdown(scores.drop(columns="horizon")))
    print(f"IQM / mean across lengths ({aggregates['backend'].iloc[0]} stratified bootstrap):")
    print(to_markdown(aggregates.drop(columns="backend")))
    print(f"wrote {len(written)} files to {out}:")
    for path in written:
        print(f"  {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_or_report(argv)
    if args is None:
        return 2
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = lambda message, *_, **__: print(f"warning: {message}",
                                                                file=sys.stderr)
        return _plot(args)


if __name__ == "__main__":
    sys.exit(main())
