"""The training schedule (REFERENCE section 5), the only place that knows it.

    warm-up: start_training random episodes, then int(updates_per_step x their steps) updates
    repeat:  collect num_envs episodes with the exploring policy,
             then ceil(updates_per_step x their steps) updates of batch_size windows,
             evaluate whenever the episode count reaches a new multiple of eval_interval
             (and checkpoint there, at most every checkpoint_interval seconds)
    stop:    after start_training + train_episodes episodes; write summary.json
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from memrl import envs
from memrl.agents import EnvSpec, TrainSpec, build_agent
from memrl.checkpoint import load_latest_checkpoint, save_checkpoint
from memrl.collector import Episodes, rollout
from memrl.envs import BatchedEnv
from memrl.logger import ProgressLog, progress_bar
from memrl.precision import resolve_precision
from memrl.replay import EpisodeReplay
from memrl.run_config import ConfigError, RunConfig


class NonFiniteLossError(FloatingPointError):
    pass


def idle_cores() -> int:
    """Cores not already busy (by the 1-minute load average), at least 1.

    More torch threads than free cores is far worse than too few: OpenMP threads wait on each
    other, and we measured a 20x slower update with 2 threads while another job held one of
    2 cores. So --threads 0 means all cores on an idle machine and fewer on a busy one.
    """
    cores = os.cpu_count() or 1
    try:
        busy = round(os.getloadavg()[0])
    except OSError:  # no load average on this platform
        busy = 0
    return max(1, cores - busy)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda asked for, but torch sees no CUDA device; "
                          "use --device cpu")
    return device


class Trainer:
    """Builds everything a run needs from a RunConfig, then `train()` runs the schedule.

    `run_dir` given: write there (it must not hold a run yet). `resume=True`: continue the run
    in `run_dir` from its newest checkpoint (or from scratch if it has none).
    """

    def __init__(self, run: RunConfig, run_dir: Path | None = None, resume: bool = False):
        run.validate()
        self.run = run
        torch.set_num_threads(run.threads or idle_cores())
        torch.manual_seed(run.seed)
        self.device = resolve_device(run.device)

        _, replay_seed, agent_seed, warmup_seed = stream_seeds(run.seed)
        self.env = make_train_env(run)
        self.eval_env = envs.make(run.config_env, run.config_env.eval_episodes, run.seed + 42)
        self.warmup_rng = np.random.default_rng(warmup_seed)
        self.T = self.env.episode_length
        rl = run.config_rl
        self.replay = EpisodeReplay(
            self.T, self.env.obs_shape, self.env.obs_dtype,
            max_transitions=int(rl.replay_buffer_size),
            min_episodes=int(rl.replay_buffer_num_episodes),
            seed=_int(replay_seed),
        )
        self.agent = build_agent(
            rl, run.config_seq, EnvSpec.of(self.env),
            TrainSpec(run.train_episodes, run.config_seq.sampled_seq_len),
            self.device, _int(agent_seed),
            **algo_options(run),
        )
        # --precision auto resolves here (and is recorded in config.json) for this device.
        self.precision, self.bf16_support = resolve_precision(
            run.precision, self.device, run.config_seq.model.seq_model_config.name)
        self.agent.set_execution(self.precision, run.compile)

        # Counters (all saved in checkpoints).
        self.episodes = 0
        self.env_steps = 0
        self.updates = 0
        self.last_eval_episode = 0
        self.warmup_done = False
        self._elapsed_before = 0.0  # wall time of earlier sessions of a resumed run

        self._metrics: dict[str, list[torch.Tensor]] = defaultdict(list)
        self._train_returns: list[float] = []  # training episodes since the last row
        self._train_successes: list[bool] = []
        self._timers: dict[str, float] = defaultdict(float)
        self._bar = progress_bar(0, 0, show=False)  # train() replaces it with a live one

        # Everything above can fail on bad input; only from here on is anything written.
        if resume:
            self.run_dir = Path(run_dir)
            state = load_latest_checkpoint(self.run_dir)
            if state is not None:
                self.load_state_dict(state)
            ProgressLog.truncate(self.run_dir / "progress.csv",
                                 state["csv_rows"] if state else 0)
        else:
            self.run_dir = Path(run_dir) if run_dir is not None else run.new_run_dir()
            if (self.run_dir / "config.json").exists():
                raise ConfigError(f"{self.run_dir} already holds a run; continue it with "
                                  f"--resume {self.run_dir} or choose another --run_dir")
            self.run_dir.mkdir(parents=True, exist_ok=True)
            run.save(self.run_dir, episode_length=self.T, device=str(self.device),
                     torch_version=torch.__version__, resolved_precision=self.precision,
                     bf16_support=str(self.bf16_support))
        self.log = ProgressLog(
            self.run_dir / "progress.csv", echo_rows=run.debug,
            tensorboard_dir=self.run_dir / "tensorboard" if run.tensorboard else None,
        )
        self._start = time.perf_counter()
        self._last_checkpoint = self._start

    @property
    def total_episodes(self) -> int:
        return self.run.start_training + self.run.train_episodes

    @property
    def wall_time(self) -> float:
        return self._elapsed_before + time.perf_counter() - self._start

    def train(self) -> Path:
        print(f"[memrl] run folder: {self.run_dir}  (device {self.device}, "
              f"{torch.get_num_threads()} torch threads)", flush=True)
        self._bar = progress_bar(self.total_episodes, self.episodes)
        if not self.warmup_done:
            while self.episodes < self.run.start_training:
                self.collect(explore=None)
            self.update(int(self.run.updates_per_step * self.env_steps))
            self.warmup_done = True
            self._maybe_evaluate()

        while self.episodes < self.total_episodes:
            episodes = self.collect(explore=True)
            self.update(math.ceil(self.run.updates_per_step * episodes.num_steps))
            self._maybe_evaluate()
        self._bar.close()
        self.checkpoint()
        self._write_summary()
        print(f"[memrl] done: {self.run_dir / 'progress.csv'}", flush=True)
        return self.run_dir

    def collect(self, explore: bool | None) -> Episodes:
        """Play num_envs episodes into replay; explore=None: uniformly random warm-up actions."""
        t0 = time.perf_counter()
        agent = None if explore is None else self.agent
        episodes = rollout(self.env, agent, explore=bool(explore), rng=self.warmup_rng)
        self.replay.add(episodes.obs, episodes.actions, episodes.rewards, episodes.dones)
        self.episodes += episodes.num_episodes
        self.env_steps += episodes.num_steps
        self._train_returns.extend(episodes.returns.tolist())
        self._train_successes.extend(episodes.success.tolist())
        self._timers["collect"] += time.perf_counter() - t0
        self._bar.update(episodes.num_episodes)
        return episodes

    def update(self, num_updates: int) -> None:
        """`num_updates` gradient updates, each on a fresh batch from replay."""
        seq_len = self.run.config_seq.sampled_seq_len
        for _ in range(num_updates):
            t0 = time.perf_counter()
            batch = self.replay.sample(self.run.batch_size, seq_len)
            t1 = time.perf_counter()
            for name, value in self.agent.update(batch).items():
                self._metrics[name].append(value)
            self._timers["sample"] += t1 - t0
            self._timers["update"] += time.perf_counter() - t1
        self.updates += num_updates

    def _maybe_evaluate(self) -> None:
        """Evaluate when the episode count has reached a new multiple of eval_interval."""
        interval = self.run.config_env.eval_interval
        if self.episodes // interval <= self.last_eval_episode // interval:
            return
        self.last_eval_episode = self.episodes
        had_updates = bool(self._metrics)
        row = self.evaluate()
        self.log.write(row)
        self._bar.set_postfix({"return": f"{row['return']:.2f}",
                               "success": f"{row['success']:.2f}"}, refresh=False)
        bad = [name for name in self.agent.metric_names
               if math.isinf(row[name]) or (math.isnan(row[name]) and had_updates)]
        if bad:
            raise NonFiniteLossError(
                f"non-finite {', '.join(bad)} by update {self.updates} (rows so far are saved "
                f"in {self.run_dir / 'progress.csv'}); lower the learning rate "
                f"(--config_rl.critic_lr) or clip gradients (--config_seq.clip True)"
            )
        if time.perf_counter() - self._last_checkpoint >= self.run.checkpoint_interval:
            self.checkpoint()

    def evaluate(self) -> dict:
        """Greedy episodes on the evaluation env, plus training metrics since the last row."""
        t0 = time.perf_counter()
        episodes = rollout(self.eval_env, self.agent, explore=False)
        self._timers["eval"] += time.perf_counter() - t0
        metrics = {name: torch.stack(values).float().mean().item()
                   for name, values in self._metrics.items()}
        self._metrics.clear()
        wall = self.wall_time
        row = {
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "updates": self.updates,
            "return": float(episodes.returns.mean()),
            "success": float(episodes.success.mean()),
            "length": float(self.T),
            # The exploring policy's episodes: for SAC-D they can be far better than the greedy
            # evaluation while its policy is still flat (argmax of a near-uniform policy).
            "train_return": _mean(self._train_returns),
            "train_success": _mean(self._train_successes),
            "epsilon": float(getattr(self.agent, "epsilon", math.nan)),
            "wall_time": round(wall, 3),
            "fps": self.env_steps / max(wall, 1e-9),
        }
        row.update({name: metrics.get(name, math.nan) for name in self.agent.metric_names})
        self._train_returns.clear()
        self._train_successes.clear()
        return row

    # ---- checkpoints -------------------------------------------------------------------------

    def checkpoint(self) -> Path:
        path = save_checkpoint(self.run_dir, self.episodes, self.state_dict(),
                               keep=self.run.keep_checkpoints)
        self._last_checkpoint = time.perf_counter()
        return path

    def state_dict(self) -> dict:
        """Taken only between episodes, right after an evaluation row (metrics are empty)."""
        return {
            "agent": self.agent.state_dict(),
            "agent_extra": self.agent.extra_state(),
            "replay": self.replay.state_dict(),
            "env": self.env.get_state(),
            "eval_env": self.eval_env.get_state(),
            "warmup_rng": self.warmup_rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            "counters": {
                "episodes": self.episodes, "env_steps": self.env_steps, "updates": self.updates,
                "last_eval_episode": self.last_eval_episode, "warmup_done": self.warmup_done,
                "wall_time": self.wall_time,
            },
            "train_returns": list(self._train_returns),
            "train_successes": list(self._train_successes),
            "csv_rows": self.log.rows_written(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.agent.load_state_dict(state["agent"])
        self.agent.load_extra_state(state["agent_extra"])
        self.replay.load_state_dict(state["replay"])
        self.env.set_state(state["env"])
        self.eval_env.set_state(state["eval_env"])
        self.warmup_rng.bit_generator.state = state["warmup_rng"]
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        counters = state["counters"]
        self.episodes = counters["episodes"]
        self.env_steps = counters["env_steps"]
        self.updates = counters["updates"]
        self.last_eval_episode = counters["last_eval_episode"]
        self.warmup_done = counters["warmup_done"]
        self._elapsed_before = counters["wall_time"]
        self._train_returns = list(state["train_returns"])
        self._train_successes = list(state["train_successes"])

    def _write_summary(self) -> None:
        """summary.json marks a finished run (sweeps skip it) and holds its headline figures."""
        summary = {
            "episodes": self.episodes, "env_steps": self.env_steps, "updates": self.updates,
            "wall_time": round(self.wall_time, 3), "time_split": self.time_split(),
        }
        tmp = self.run_dir / "summary.json.tmp"
        tmp.write_text(json.dumps(summary, indent=2))
        tmp.replace(self.run_dir / "summary.json")

    def time_split(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self._timers.items()}


def algo_options(run: RunConfig) -> dict:
    options = {}
    if run.shared_encoder:
        options["shared_encoder"] = True
    if run.freeze_critic:
        options["freeze_critic"] = True
    return options


def _mean(values: list) -> float:
    return float(np.mean(values)) if values else math.nan


def _int(seed_sequence: np.random.SeedSequence) -> int:
    return int(seed_sequence.generate_state(1)[0])


def stream_seeds(seed: int) -> list[np.random.SeedSequence]:
    """Independent random streams per concern, all derived from the run seed: the training
    env, replay sampling, the agent, the random warm-up."""
    return np.random.SeedSequence(seed).spawn(4)


def make_train_env(run: RunConfig) -> BatchedEnv:
    """The run's training env as it was built at the start (its seed, hence its layouts)."""
    return envs.make(run.config_env, run.num_envs, _int(stream_seeds(run.seed)[0]))
