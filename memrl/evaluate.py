"""`memrl eval RUN_DIR`: rebuild a run's agent from its newest checkpoint and play it greedily."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from memrl import envs
from memrl.agents import EnvSpec, TrainSpec, build_agent
from memrl.checkpoint import load_latest_checkpoint
from memrl.collector import rollout
from memrl.render import episode_frames, save_gif
from memrl.run_config import ConfigError, RunConfig
from memrl.trainer import algo_options, resolve_device


def load_trained_agent(run_dir: Path, device: str = "auto"):
    """(RunConfig, agent with the newest checkpoint's weights, episodes it had trained)."""
    run = RunConfig.load(run_dir)
    state = load_latest_checkpoint(run_dir)
    if state is None:
        raise ConfigError(f"{run_dir} has no checkpoint yet (checkpoints/ckpt_*.pt); train "
                          "longer or lower --checkpoint_interval")
    probe = envs.make(run.config_env, 1, 0)
    agent = build_agent(run.config_rl, run.config_seq, EnvSpec.of(probe),
                        TrainSpec(run.train_episodes, run.config_seq.sampled_seq_len),
                        resolve_device(device), seed=run.seed, **algo_options(run))
    agent.load_state_dict(state["agent"])
    return run, agent, state["counters"]["episodes"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="memrl eval", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run folder written by memrl train")
    parser.add_argument("--episodes", type=int, default=None,
                        help="greedy episodes (default: the run's config_env.eval_episodes)")
    parser.add_argument("--seed", type=int, default=None,
                        help="env seed (default: the run's evaluation seed, seed + 42)")
    parser.add_argument("--render", type=Path, default=None, metavar="OUT.gif",
                        help="also draw one episode into this GIF")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    try:
        run, agent, trained = load_trained_agent(args.run_dir, args.device)
    except (ConfigError, ValueError) as err:
        print(f"memrl eval: error: {err}", file=sys.stderr)
        return 2
    n = args.episodes or run.config_env.eval_episodes
    seed = run.seed + 42 if args.seed is None else args.seed
    with torch.no_grad():
        episodes = rollout(envs.make(run.config_env, n, seed), agent, explore=False)
    print(f"{args.run_dir}: {trained} episodes trained; {n} greedy episodes: "
          f"return {episodes.returns.mean():.3f} +- {episodes.returns.std():.3f}, "
          f"success {episodes.success.mean():.2f}")
    if args.render is not None:
        frames, total = episode_frames(envs.make(run.config_env, 1, seed), agent)
        path = save_gif(frames, args.render)
        print(f"drew one episode (return {total:.2f}, {len(frames)} frames) to {path}")
    return 0 if np.isfinite(episodes.returns).all() else 1
