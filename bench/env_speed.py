"""Env steps per second under uniformly random actions: our batched games, and the PyBullet
POMDPs through the gymnasium adapter.

One env step is one step of one of the N copies, so a batched `step` counts N. Each cell runs
whole episodes (reset included) for about `SECONDS`; action sampling is outside the timing.
PyBullet copies are stepped one after another by gymnasium's SyncVectorEnv, so N only adds
copies, not speed; episodes end when the robot falls.

    python bench/env_speed.py
    python bench/env_speed.py --tasks bullet      # only the PyBullet rows
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

from memrl.collector import random_actions
from memrl.envs.gym_adapter import GymEnv
from memrl.envs.pomdp import BULLET_ROBOTS, require_pybullet
from memrl.envs.tmaze import PassiveTMaze
from memrl.envs.tvt import KeyToDoor, VisualMatch

SECONDS = 1.0
GAMES = {  # name -> (builder(n), batch sizes)
    "Passive T-Maze L=50": (lambda n: PassiveTMaze(50, num_envs=n, seed=0), (1, 64, 1024, 4096)),
    "Visual Match L=60": (lambda n: VisualMatch(60, num_envs=n, seed=0), (1, 64, 1024, 4096)),
    "Key-to-Door L=60": (lambda n: KeyToDoor(60, num_envs=n, seed=0), (1, 64, 1024, 4096)),
}


def bullet_tasks() -> dict:
    require_pybullet()
    tasks = {}
    for robot, (_, name, _, _) in BULLET_ROBOTS.items():
        env_id = f"memrl/{name}-V-v0"
        tasks[env_id] = (lambda n, env_id=env_id: GymEnv(lambda: gym.make(env_id), n, seed=0),
                         (1, 4))
    return tasks


def steps_per_second(env, rng: np.random.Generator) -> float:
    """Whole episodes; a copy that ended stops counting (the adapter may run it on)."""
    steps, elapsed = 0, 0.0
    while elapsed < SECONDS:
        start = time.perf_counter()
        env.reset()
        elapsed += time.perf_counter() - start
        running = np.ones(env.num_envs, dtype=bool)
        for _ in range(env.max_episode_steps):
            action = random_actions(env.action_space, env.num_envs, rng)
            start = time.perf_counter()
            _, _, terminated, truncated, _ = env.step(action)
            elapsed += time.perf_counter() - start
            steps += int(running.sum())
            running &= ~(terminated | truncated)
            if not running.any():
                break
    return steps / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", choices=["all", "games", "bullet"], default="all")
    args = parser.parse_args()
    tasks = {}
    if args.tasks in ("all", "games"):
        tasks |= GAMES
    if args.tasks in ("all", "bullet"):
        tasks |= bullet_tasks()
    rng = np.random.default_rng(0)
    print("env steps/s (random actions)")
    for name, (build, sizes) in tasks.items():
        cells = "".join(f"{f'N={n}: ':>10}{steps_per_second(build(n), rng):>11,.0f}"
                        for n in sizes)
        print(f"{name:<28}{cells}", flush=True)


if __name__ == "__main__":
    main()
