"""`memrl eval RUN_DIR`: rebuild a run's agent from its newest checkpoint and play it greedily.

It plays from the newest checkpoint that is whole and finite (saying which it passed over and
why), and only when config.json still describes the model that checkpoint holds.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from memrl import envs
from memrl.agents import Agent, EnvSpec
from memrl.args import OneLineParser, device, int_at_least, output_file
from memrl.build import make_agent, make_train_env, probe_env, resolve_device
from memrl.checkpoint import load_latest_checkpoint
from memrl.collector import rollout
from memrl.envs import BatchedEnv, EnvError
from memrl.integrity import IntegrityError, check_settings
from memrl.render import episode_frames, save_gif
from memrl.replay import EpisodeReplay
from memrl.run_config import RESUME_FLAGS, ConfigError, RunConfig
from memrl.run_folder import check_finite_checkpoint
from memrl.validate import check_memory


@dataclass
class TrainedAgent:
    run: RunConfig
    agent: Agent
    env_spec: EnvSpec
    episodes: int  # how many it had trained
    checkpoint: Path
    passed_over: list[str] = field(default_factory=list)  # newer checkpoints not used, and why


def load_trained_agent(run_dir: Path, device: str = "auto") -> TrainedAgent:
    """The run's agent with the weights of its newest usable checkpoint."""
    run = RunConfig.load(run_dir)
    loaded = load_latest_checkpoint(run_dir, check=check_finite_checkpoint)
    if loaded is None:
        raise ConfigError(f"{run_dir} has no checkpoint yet (checkpoints/ckpt_*.pt); train "
                          "longer or lower --checkpoint_interval")
    check_settings(Path(run_dir) / "config.json", run.to_dict(), loaded.state.get("config"),
                   loaded.path, may_differ=RESUME_FLAGS)
    spec = EnvSpec.of(probe_env(run))
    agent = make_agent(run, spec, resolve_device(device), seed=run.seed)
    try:
        agent.load_state_dict(loaded.state["agent"])
    except (RuntimeError, KeyError) as err:  # a checkpoint of another model size
        raise IntegrityError(f"{loaded.path} does not fit the model config.json describes: "
                             f"{str(err).splitlines()[0]}") from None
    return TrainedAgent(run, agent, spec, loaded.state["counters"]["episodes"], loaded.path,
                        [reason for _, reason in loaded.passed_over])


def eval_env(run: RunConfig, n: int, seed: int, training_arrangement: bool = False,
             drawing: bool = False) -> BatchedEnv:
    """n copies of the run's task seeded `seed`; with `training_arrangement`, Visual Match
    copy j takes the colour arrangement of training copy j mod num_envs; `drawing`: copies
    that can draw themselves (for --render)."""
    env = envs.make(run.config_env, n, seed, drawing=drawing)
    if training_arrangement:
        if not hasattr(env, "set_arrangement"):
            raise ConfigError(f"--training_arrangement applies to Visual Match only, not "
                              f"{run.config_env.env_type}")
        train_env = make_train_env(run)
        env.set_arrangement(train_env.slot_colours[np.arange(n) % train_env.num_envs])
    return env


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="memrl eval", description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path, help="a run folder written by memrl train")
    parser.add_argument("--episodes", type=int_at_least(1), default=None,
                        help="greedy episodes (default: the run's config_env.eval_episodes)")
    parser.add_argument("--seed", type=int_at_least(0), default=None,
                        help="env seed (default: the run's evaluation seed, seed + 42)")
    parser.add_argument("--training_arrangement", action="store_true",
                        help="Visual Match: place the colours as in the run's training env "
                             "(not a new arrangement per copy), to tell memory from matching "
                             "colours by appearance")
    parser.add_argument("--render", type=output_file, default=None, metavar="OUT.gif",
                        help="also draw one episode into this GIF")
    parser.add_argument("--device", type=device, default="auto",
                        help="auto, cpu or cuda[:N] (default auto)")
    args = parser.parse_or_report(argv)
    if args is None:
        return 2
    try:
        trained = load_trained_agent(args.run_dir, args.device)
        run = trained.run
        n = args.episodes or run.config_env.eval_episodes
        seed = run.seed + 42 if args.seed is None else args.seed
        spec = trained.env_spec
        step = EpisodeReplay.step_bytes(spec.observation_space, spec.action_space)
        check_memory({f"{n} episodes of {spec.max_episode_steps} steps":
                      n * (spec.max_episode_steps + 1) * step}, "lower --episodes")
        env = eval_env(run, n, seed, args.training_arrangement)
        draw_env = None if args.render is None else \
            eval_env(run, 1, seed, args.training_arrangement, drawing=True)
    except ValueError as err:  # ConfigError, CheckpointError, IntegrityError, an env refused
        print(f"memrl eval: error: {err}", file=sys.stderr)
        return 2
    for reason in trained.passed_over:
        print(f"memrl eval: {reason}; playing {trained.checkpoint.name}", file=sys.stderr)
    try:
        with torch.no_grad():
            episodes = rollout(env, trained.agent, explore=False)
    except EnvError as err:
        print(f"memrl eval: error: {err}", file=sys.stderr)
        return 1
    print(f"{args.run_dir}: {trained.episodes} episodes trained; {n} greedy episodes: "
          f"return {episodes.returns.mean():.3f} +- {episodes.returns.std():.3f}, "
          f"length {episodes.lengths.mean():.1f}"
          + ("" if np.isnan(episodes.success).all() else
             f", success {np.nanmean(episodes.success):.2f}"))
    if draw_env is not None:
        try:
            with torch.no_grad():
                frames, total = episode_frames(draw_env, trained.agent)
        except (EnvError, NotImplementedError) as err:
            print(f"memrl eval: error: --render: {err}", file=sys.stderr)
            return 1
        try:
            path = save_gif(frames, args.render)
        except OSError as err:
            print(f"memrl eval: error: could not write {args.render}: {err.strerror or err}",
                  file=sys.stderr)
            return 1
        print(f"drew one episode (return {total:.2f}, {len(frames)} frames) to {path}")
    return 0 if np.isfinite(episodes.returns).all() else 1
