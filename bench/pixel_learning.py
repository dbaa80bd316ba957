"""SAC-D (shared encoder, freeze_critic) on a pixel task for a fixed number of episodes.

Passive Visual Match by default (`--task key_to_door` for Key-to-Door). Prints, per sequence model: episodes, env steps, wall time, updates/s, the time split, the last
evaluations' success on new colour arrangements (`success`), the training episodes' success
(`train_success`: the training env's arrangement, one per copy), and at the end the greedy
success over 300 episodes on the training arrangement(s) (Visual Match only). Chance is 1/3 for all three on Visual Match; on
Key-to-Door L = 1 the first, near-random episodes succeed 5-10% of the time. The paper's settings are the defaults; the
small settings below learn the training arrangement in a few hundred episodes (one core):

    python bench/pixel_learning.py --episodes 400 --small
    python bench/pixel_learning.py --episodes 1000 --small --seq_models lstm \
        --extra "--threads 1 --num_envs 8 --config_env.eval_interval 100"  # 8 arrangements
    python bench/pixel_learning.py --task key_to_door --episodes 500 --small --seq_models lstm
    python bench/pixel_learning.py --length 60 --episodes 2000 --extra "--threads 2"
"""

from __future__ import annotations

import argparse

import torch
from common import LEARNING_HEADER, learning_run

from memrl.collector import rollout
from memrl.evaluate import eval_env
from memrl.trainer import Trainer

# Smaller batch and heads, larger learning rates: the tests' setting (tests/test_sacd.py).
SMALL = ("--batch_size 16 --config_rl.critic_lr 1e-3 --config_rl.actor_lr 1e-3 "
         "--config_rl.config_actor.hidden_dims (64,64) --config_rl.config_critic.hidden_dims (64,64)")


def training_arrangement_success(trainer: Trainer, episodes: int = 300) -> str:
    """Greedy success on the colour arrangement(s) the agent trained on."""
    env = eval_env(trainer.run, episodes, trainer.run.seed + 7, training_arrangement=True)
    with torch.no_grad():
        success = rollout(env, trainer.agent, explore=False).success.mean()
    return f"greedy on training arrangement {success:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=["visual_match", "key_to_door"], default="visual_match")
    parser.add_argument("--length", type=int, default=1, help="distractor length L")
    parser.add_argument("--seq_models", nargs="+", default=["lstm", "gpt"])
    parser.add_argument("--episodes", type=int, default=60, help="train_episodes per run")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--small", action="store_true", help=f"add: {SMALL}")
    parser.add_argument("--extra", default="--threads 1 --config_env.eval_interval 25",
                        help="more train flags")
    args = parser.parse_args()
    extra = f"{SMALL if args.small else ''} {args.extra}"

    print(LEARNING_HEADER)
    for seq in args.seq_models:
        probe = training_arrangement_success if args.task == "visual_match" else None
        print(learning_run(args.task, args.length, seq, ("success", "train_success"),
                           f"--train_episodes {args.episodes} --seed {args.seed} {extra}",
                           probe=probe), flush=True)


if __name__ == "__main__":
    main()
