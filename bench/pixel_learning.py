"""SAC-D (shared encoder, freeze_critic) on Passive Visual Match for a fixed number of episodes.

Prints, per sequence model: episodes, env steps, wall time, updates/s, the time split and the
last evaluations' success (chance = 1/3). Default (L = 1, LSTM-CNN and GPT-CNN, 60 episodes,
one thread) takes about 5 minutes on a busy 2-core CPU; the paper trains thousands of episodes,
so expect chance-level success at this budget:

    python bench/pixel_learning.py --episodes 60
    python bench/pixel_learning.py --length 5 --episodes 2000 --extra "--threads 2"
"""

from __future__ import annotations

import argparse
import csv
import time

from common import make_trainer, quietly


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=1, help="distractor length L")
    parser.add_argument("--seq_models", nargs="+", default=["lstm", "gpt"])
    parser.add_argument("--episodes", type=int, default=60, help="train_episodes per run")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--extra", default="--threads 1 --config_env.eval_interval 20",
                        help="more train flags")
    args = parser.parse_args()

    print(f"{'L':>4} {'model':>5} {'episodes':>8} {'env_steps':>9} {'wall_s':>7} "
          f"{'updates/s':>9} {'ms/update':>9}  split (collect/sample/update/eval s)  "
          f"last success")
    for seq in args.seq_models:
        trainer = make_trainer("visual_match", args.length, seq,
                               f"--train_episodes {args.episodes} --seed {args.seed} "
                               f"{args.extra}")
        start = time.perf_counter()
        run_dir = quietly(trainer.train)
        wall = time.perf_counter() - start
        split = trainer.time_split()
        with open(run_dir / "progress.csv", newline="") as f:
            success = [float(row["success"]) for row in csv.DictReader(f)]
        last = " ".join(f"{s:.2f}" for s in success[-5:])
        print(f"{args.length:>4} {seq:>5} {trainer.episodes:>8} {trainer.env_steps:>9} "
              f"{wall:>7.1f} {trainer.updates / split['update']:>9.2f} "
              f"{1000 * split['update'] / trainer.updates:>9.1f}  "
              f"{split['collect']:.1f}/{split['sample']:.1f}/{split['update']:.1f}/"
              f"{split['eval']:.1f}  {last}", flush=True)


if __name__ == "__main__":
    main()
