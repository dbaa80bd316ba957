"""Env steps per second of the batched tasks under uniformly random actions.

One env step is one step of one of the N copies, so a batched `step` counts N. Each cell runs
whole episodes (reset included) for about `SECONDS`; action sampling is outside the timing.

    python bench/env_speed.py
"""

from __future__ import annotations

import time

import numpy as np

from memrl.envs.tmaze import PassiveTMaze
from memrl.envs.tvt import KeyToDoor, VisualMatch

BATCH_SIZES = (1, 64, 1024, 4096)
SECONDS = 1.0
TASKS = {
    "Passive T-Maze L=50": lambda n: PassiveTMaze(50, num_envs=n, seed=0),
    "Visual Match L=60": lambda n: VisualMatch(60, num_envs=n, seed=0),
    "Key-to-Door L=60": lambda n: KeyToDoor(60, num_envs=n, seed=0),
}


def steps_per_second(env, rng: np.random.Generator) -> float:
    steps, elapsed = 0, 0.0
    while elapsed < SECONDS:
        actions = rng.integers(env.action_space.n, size=(env.max_episode_steps, env.num_envs))
        start = time.perf_counter()
        env.reset()
        for a in actions:
            env.step(a)
        elapsed += time.perf_counter() - start
        steps += actions.size
    return steps / elapsed


def main() -> None:
    rng = np.random.default_rng(0)
    header = f"{'task':<22}" + "".join(f"{f'N={n}':>12}" for n in BATCH_SIZES)
    print("env steps/s (random actions)")
    print(header)
    print("-" * len(header))
    for name, build in TASKS.items():
        row = [steps_per_second(build(n), rng) for n in BATCH_SIZES]
        print(f"{name:<22}" + "".join(f"{v:>12,.0f}" for v in row), flush=True)


if __name__ == "__main__":
    main()
