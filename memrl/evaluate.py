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
from memrl.envs import BatchedEnv
from memrl.render import episode_frames, save_gif
from memrl.run_config import ConfigError, RunConfig
from memrl.trainer import make_train_env, resolve_device


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
                        resolve_device(device), seed=run.seed)
    agent.load_state_dict(state["agent"])
    return run, agent, state["counters"]["episodes"]


def eval_env(run: RunConfig, n: int, seed: int, training_arrangement: bool = False) -> BatchedEnv:
    """n copies of the run's task seeded `seed`; with `training_arrangement`, Visual Match
    copy j takes the colour arrangement of training copy j mod num_envs."""
    env = envs.make(run.config_env, n, seed)
    if training_arrangement:
        if not hasattr(env, "set_arrangement"):
            raise ConfigError(f"--training_arrangement applies to Visual Match only, not "
                              f"{run.config_env.env_type}")
        train_env = make_train_env(run)
        env.set_arrangement(train_env.slot_colours[np.arange(n) % train_env.num_envs])
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="memrl eval", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run folder written by memrl train")
    parser.add_argument("--episodes", type=int, default=None,
                        help="greedy episodes (default: the run's config_env.eval_episodes)")
    parser.add_argument("--seed", type=int, default=None,
                        help="env seed (default: the run's evaluation seed, seed + 42)")
    parser.add_argument("--training_arrangement", action="store_true",
                        help="Visual Match: place the colours as in the run's training env "
                             "(not a new arrangement per copy), to tell memory from matching "
                             "colours by appearance")
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
    try:
        env = eval_env(run, n, seed, args.training_arrangement)
    except ConfigError as err:
        print(f"memrl eval: error: {err}", file=sys.stderr)
        return 2
    with torch.no_grad():
        episodes = rollout(env, agent, explore=False)
    print(f"{args.run_dir}: {trained} episodes trained; {n} greedy episodes: "
          f"return {episodes.returns.mean():.3f} +- {episodes.returns.std():.3f}, "
          f"success {episodes.success.mean():.2f}")
    if args.render is not None:
        frames, total = episode_frames(eval_env(run, 1, seed, args.training_arrangement), agent)
        path = save_gif(frames, args.render)
        print(f"drew one episode (return {total:.2f}, {len(frames)} frames) to {path}")
    return 0 if np.isfinite(episodes.returns).all() else 1
