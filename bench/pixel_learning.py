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

from common import LEARNING_HEADER, learning_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=1, help="distractor length L")
    parser.add_argument("--seq_models", nargs="+", default=["lstm", "gpt"])
    parser.add_argument("--episodes", type=int, default=60, help="train_episodes per run")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--extra", default="--threads 1 --config_env.eval_interval 20",
                        help="more train flags")
    args = parser.parse_args()

    print(LEARNING_HEADER)
    for seq in args.seq_models:
        print(learning_run("visual_match", args.length, seq, "success",
                           f"--train_episodes {args.episodes} --seed {args.seed} {args.extra}"),
              flush=True)


if __name__ == "__main__":
    main()
