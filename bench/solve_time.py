"""Wall-clock to solve Passive T-Maze at the paper's settings (default L = 50).

"Solved" = the last `--hold` evaluations all scored return >= 0.99. Prints, per sequence model,
the env steps, episodes and wall time at which that first happened (or the budget ran out).
The paper's budget for L = 50 is 20000 episodes; the original code's LSTM run (seed 42) first
held 1.0 at ~145k env steps, ~53 minutes into the run, on a 2-core machine.

    python bench/solve_time.py --seq_models lstm gpt --length 50
    python bench/solve_time.py --seq_models lstm --extra "--threads 1"
"""

from __future__ import annotations

import argparse
import time

from common import make_trainer


class Solved(Exception):
    pass


def time_to_solve(length: int, seq: str, episodes: int, hold: int, seed: int, extra: str):
    trainer = make_trainer("tmaze_passive", length, seq,
                           f"--train_episodes {episodes} --seed {seed} {extra}")
    returns: list[float] = []

    def watch(_trainer, row: dict) -> None:  # called after each row is written
        returns.append(row["return"])
        if len(returns) >= hold and min(returns[-hold:]) >= 0.99:
            raise Solved  # ends the run (a callback's exception does)

    trainer.add_callback(watch, "row")
    start = time.perf_counter()
    try:
        trainer.train()
        solved = False
    except Solved:
        solved = True
    return solved, trainer, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=50)
    parser.add_argument("--seq_models", nargs="+", default=["lstm", "gpt"])
    parser.add_argument("--episodes", type=int, default=20000, help="budget (paper: 20000)")
    parser.add_argument("--hold", type=int, default=3, help="evaluations in a row at 1.0")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--extra", default="", help="more train flags")
    args = parser.parse_args()
    results = []
    for seq in args.seq_models:
        solved, trainer, wall = time_to_solve(args.length, seq, args.episodes, args.hold,
                                              args.seed, args.extra)
        results.append((seq, solved, trainer, wall))
    print(f"\nPassive T-Maze L={args.length}, seed {args.seed}, solved = {args.hold} evaluations "
          f"in a row at return >= 0.99")
    for seq, solved, trainer, wall in results:
        status = "solved" if solved else "NOT solved"
        print(f"{seq:>5}: {status} at {trainer.env_steps} env steps, {trainer.episodes} "
              f"episodes, {trainer.updates} updates, {wall / 60:.1f} min wall")


if __name__ == "__main__":
    main()
