"""Passive T-Maze at the paper's settings for a fixed number of episodes (issue: core).

Prints, per (L, sequence model): env steps, wall time, updates/s, the time split and the last
evaluations. Example (about 10 minutes on a 2-core CPU):

    python bench/tmaze_learning.py --lengths 10 50 --seq_models lstm gpt --episodes 300
"""

from __future__ import annotations

import argparse

from common import LEARNING_HEADER, learning_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--seq_models", nargs="+", default=["lstm", "gpt"])
    parser.add_argument("--episodes", type=int, default=300, help="train_episodes per run")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--extra", default="", help="more train flags, e.g. '--threads 1'")
    args = parser.parse_args()

    print(LEARNING_HEADER)
    for length in args.lengths:
        for seq in args.seq_models:
            print(learning_run("tmaze_passive", length, seq, "return",
                               f"--train_episodes {args.episodes} --seed {args.seed} "
                               f"{args.extra}"), flush=True)


if __name__ == "__main__":
    main()
