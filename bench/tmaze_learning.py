"""Passive T-Maze at the paper's settings for a fixed number of episodes (issue: core).

Prints, per (L, sequence model): env steps, wall time, updates/s, the time split and the last
evaluations. Example (about 10 minutes on a 2-core CPU):

    python bench/tmaze_learning.py --lengths 10 50 --seq_models lstm gpt --episodes 300
"""

from __future__ import annotations

import argparse
import csv
import time

from common import make_trainer, quietly


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--seq_models", nargs="+", default=["lstm", "gpt"])
    parser.add_argument("--episodes", type=int, default=300, help="train_episodes per run")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--extra", default="", help="more train flags, e.g. '--threads 1'")
    args = parser.parse_args()

    print(f"{'L':>5} {'model':>5} {'episodes':>8} {'env_steps':>9} {'wall_s':>7} "
          f"{'updates/s':>9} {'ms/update':>9}  split (collect/sample/update/eval s)  "
          f"last returns")
    for length in args.lengths:
        for seq in args.seq_models:
            trainer = make_trainer("tmaze_passive", length, seq,
                                   f"--train_episodes {args.episodes} --seed {args.seed} "
                                   f"{args.extra}")
            start = time.perf_counter()
            run_dir = quietly(trainer.train)
            wall = time.perf_counter() - start
            split = trainer.time_split()
            with open(run_dir / "progress.csv", newline="") as f:
                returns = [float(row["return"]) for row in csv.DictReader(f)]
            last = " ".join(f"{r:.2f}" for r in returns[-5:])
            print(f"{length:>5} {seq:>5} {trainer.episodes:>8} {trainer.env_steps:>9} "
                  f"{wall:>7.1f} {trainer.updates / split['update']:>9.2f} "
                  f"{1000 * split['update'] / trainer.updates:>9.1f}  "
                  f"{split['collect']:.1f}/{split['sample']:.1f}/{split['update']:.1f}/"
                  f"{split['eval']:.1f}  {last}", flush=True)


if __name__ == "__main__":
    main()
