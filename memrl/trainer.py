"""The training schedule, the only place that knows it. Two loops, as the paper's two codes:

Budget in episodes (the main code, Sections 5.1-5.2; the task record's schedule "episodes"):
    warm-up: start_training random episodes, then int(updates_per_step x their steps) updates
    repeat:  collect num_envs episodes with the exploring policy,
             then ceil(updates_per_step x their steps) updates of batch_size windows,
             evaluate whenever the episode count reaches a new multiple of eval_interval
    stop:    after start_training + train_episodes episodes

Budget in env steps (the continuous-control code, Section 5.3; schedule "env_steps"), with
T = max_episode_steps:
    repeat until train_episodes x T env steps:
             collect num_envs episodes, uniformly random while fewer than start_training x T
             env steps were taken, then with the exploring policy;
             once start_training x T steps are reached, ceil(updates_per_step x their steps)
             updates after each collection (no separate warm-up updates);
             evaluate whenever the env-step count reaches a new multiple of eval_interval x T

Both checkpoint at evaluations (at most every checkpoint_interval seconds) and at the end, and
write summary.json when done. Whoever watches a run (benchmarks, tests, a user's code)
registers with `add_callback`: on "row" it is called with each logged row, on "collect" with
each collection of episodes.

What can go wrong is stopped where it starts: one process writes a run at a time (a lock in
the run folder); a resume uses the newest checkpoint that is whole and only if config.json and
progress.csv still agree with it; a checkpoint is written only when weights and optimiser
state are finite, so a run that turns non-finite stops with its last good checkpoint; a failed
write (disk full) leaves the previous version of the file and stops the run naming it.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from memrl import envs
from memrl.agents import EnvSpec, TrainSpec, build_agent
from memrl.checkpoint import (
    CheckpointError,
    LoadedCheckpoint,
    list_checkpoints,
    load_latest_checkpoint,
    save_checkpoint,
)
from memrl.collector import Episodes, rollout
from memrl.envs import ENV_STEPS, BatchedEnv, EnvError
from memrl.files import file_in_the_way, write_atomic, writing
from memrl.integrity import (
    IntegrityError,
    check_progress,
    check_settings,
    nonfinite_entries,
    rows_digest,
    settings_copy,
)
from memrl.logger import ProgressLog, progress_bar
from memrl.precision import resolve_precision
from memrl.replay import EpisodeReplay
from memrl.run_config import RESUME_FLAGS, ConfigError, RunConfig
from memrl.runlock import RunLock
from memrl.validate import check_memory

SUMMARY_FILE = "summary.json"  # written when a run finishes: its presence marks it finished
PROGRESS_FILE = "progress.csv"


class NonFiniteError(FloatingPointError):
    """Losses, weights or optimiser state turned NaN or inf; the run stops there."""


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
        self.run_dir = Path(run_dir) if run_dir is not None else run.new_run_dir()
        # Only the process holding the lock writes the run. A resume takes it first, then
        # checks the run's files agree before anything is built from them.
        self._lock = RunLock(self.run_dir)
        resumed = self._open_to_resume() if resume else None
        try:
            try:
                self._build(run)
            except (AttributeError, KeyError) as err:
                if not resume:
                    raise
                # A run with a checkpoint was compared with its copy of the settings above;
                # one killed before its first checkpoint has only config.json to go by.
                raise ConfigError(f"{self.run_dir / 'config.json'} lacks a setting the run "
                                  f"needs ({err}); restore it or start the run again") from None
            # Everything above can fail on bad input; only from here on is anything written.
            if resume:
                self._continue(resumed)
            else:
                self._begin()
            self.log = ProgressLog(
                self.run_dir / PROGRESS_FILE, echo_rows=run.debug,
                tensorboard_dir=self.run_dir / "tensorboard" if run.tensorboard else None,
            )
        except BaseException:
            self._lock.release()
            raise
        self._start = time.perf_counter()
        self._last_checkpoint = self._start

    def _build(self, run: RunConfig) -> None:
        """Envs, replay and agent, counters at zero (a resume then loads its checkpoint)."""
        torch.set_num_threads(run.threads or idle_cores())
        torch.manual_seed(run.seed)
        self.device = resolve_device(run.device)

        _, replay_seed, agent_seed, warmup_seed = stream_seeds(run.seed)
        self.task = run.task
        # One copy first: the run's size (T, spaces) is checked before N copies are built.
        check_memory(*memory_needs(run, envs.make(run.config_env, 1, 0)))
        self.env = make_train_env(run)
        self.T = self.env.max_episode_steps
        self.eval_env = envs.make(run.config_env, run.config_env.eval_episodes, run.seed + 42)
        self.warmup_rng = np.random.default_rng(warmup_seed)
        rl = run.config_rl
        self.replay = EpisodeReplay(
            self.T, self.env.observation_space, self.env.action_space,
            max_transitions=int(rl.replay_buffer_size),
            min_episodes=int(rl.replay_buffer_num_episodes),
            seed=_int(replay_seed),
        )
        self.agent = build_agent(
            rl, run.config_seq, EnvSpec.of(self.env),
            TrainSpec(run.train_episodes, run.config_seq.sampled_seq_len),
            self.device, _int(agent_seed),
        )
        # --precision auto resolves here (and is recorded in config.json) for this device.
        self.precision, self.bf16_support = resolve_precision(
            run.precision, self.device, run.config_seq.model.seq_model_config.name)
        self.agent.set_execution(self.precision, run.compile)
        self.by_env_steps = self.task.schedule == ENV_STEPS

        # Counters (all saved in checkpoints).
        self.episodes = 0
        self.env_steps = 0
        self.updates = 0
        self.last_eval_clock = 0  # episodes (or env steps) at the last evaluation
        self.warmup_done = False
        self._elapsed_before = 0.0  # wall time of earlier sessions of a resumed run
        self.callbacks: dict[str, list[Callable]] = {"row": [], "collect": []}

        # Training metrics since the last row: a float64 sum and a count per name, on the
        # device, so nothing waits for it between rows. (Keeping every update's 0-d tensor
        # instead fragmented the CPU heap: ~1 MB more resident memory per update.)
        self._metric_sums: dict[str, torch.Tensor] = {}
        self._metric_counts: dict[str, int] = defaultdict(int)
        self._train_returns: list[float] = []  # training episodes since the last row
        self._train_successes: list[bool] = []
        self._timers: dict[str, float] = defaultdict(float)
        self._bar = progress_bar(0, 0, show=False)  # train() replaces it with a live one

    def _begin(self) -> None:
        """A new run: its folder, locked, then config.json (refused where a run already is)."""
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            blocker = file_in_the_way(self.run_dir)
            why = f"{blocker} is a file" if blocker else err.strerror or str(err)
            raise ConfigError(f"cannot make the run folder {self.run_dir}: {why} (see "
                              "--save_dir / --run_dir)") from None
        self._take_lock()
        if (self.run_dir / "config.json").exists():
            raise ConfigError(f"{self.run_dir} already holds a run; continue it with "
                              f"--resume {self.run_dir} or choose another --run_dir")
        self.run.save(self.run_dir, max_episode_steps=self.T, device=str(self.device),
                      torch_version=torch.__version__, resolved_precision=self.precision,
                      bf16_support=str(self.bf16_support))

    def _open_to_resume(self) -> LoadedCheckpoint | None:
        """Lock the run and find the newest whole checkpoint, once config.json and
        progress.csv are known to agree with it (None: the run has no checkpoint yet)."""
        if (self.run_dir / SUMMARY_FILE).exists():
            raise ConfigError(f"{self.run_dir} is finished ({SUMMARY_FILE}); nothing to resume")
        self._take_lock()
        try:
            loaded = load_latest_checkpoint(self.run_dir, check=check_finite_checkpoint)
            if loaded is not None:
                check_settings(self.run_dir / "config.json", self.run.to_dict(),
                               loaded.state.get("config"), loaded.path, may_differ=RESUME_FLAGS)
                check_progress(self.run_dir / PROGRESS_FILE, loaded.state["csv_rows"],
                               loaded.state.get("csv_digest"), loaded.path)
        except BaseException:
            self._lock.release()
            raise
        return loaded

    def _continue(self, loaded: LoadedCheckpoint | None) -> None:
        """Take up the checkpoint's state; rows written after it are dropped (they will be
        written again)."""
        rows = 0
        if loaded is not None:
            try:
                self.load_state_dict(loaded.state)
            except (RuntimeError, KeyError, ValueError) as err:  # a checkpoint of another model
                raise IntegrityError(f"{loaded.path} does not fit the run config.json "
                                     f"describes: {str(err).splitlines()[0]}") from None
            self._set_aside(loaded)
            rows = loaded.state["csv_rows"]
        ProgressLog.truncate(self.run_dir / PROGRESS_FILE, rows)

    def _take_lock(self) -> None:
        stale = self._lock.acquire()
        if stale:
            print(f"[memrl] {self.run_dir}: taking over the lock left by {stale} (a process "
                  "that was stopped)", flush=True)

    @staticmethod
    def _set_aside(loaded: LoadedCheckpoint) -> None:
        """Rename newer checkpoints that could not be used to *.unusable: kept for a look, out
        of the way of resuming and of pruning."""
        for path, reason in loaded.passed_over:
            with writing(path):
                path.rename(path.with_name(path.name + ".unusable"))
            print(f"[memrl] {reason}; renamed it {path.name}.unusable, resuming from "
                  f"{loaded.path.name}", flush=True)

    @property
    def total_episodes(self) -> int:
        return self.run.start_training + self.run.train_episodes

    @property
    def total_env_steps(self) -> int:
        """The budget of an env-step schedule: train_episodes x max_episode_steps."""
        return self.run.train_episodes * self.T

    @property
    def wall_time(self) -> float:
        return self._elapsed_before + time.perf_counter() - self._start

    def add_callback(self, callback: Callable, event: str = "row") -> None:
        """event "row": call `callback(trainer, row)` after each row is logged; "collect":
        `callback(trainer, episodes, explore)` after each collection (explore None: random)."""
        if event not in self.callbacks:
            raise ValueError(f"unknown event {event!r}; choose one of {', '.join(self.callbacks)}")
        self.callbacks[event].append(callback)

    def train(self) -> Path:
        print(f"[memrl] run folder: {self.run_dir}  (device {self.device}, "
              f"{torch.get_num_threads()} torch threads)", flush=True)
        try:
            if self.by_env_steps:
                self._bar = progress_bar(self.total_env_steps, self.env_steps, unit="step")
                self._train_by_env_steps()
            else:
                self._bar = progress_bar(self.total_episodes, self.episodes)
                self._train_by_episodes()
            self.checkpoint()
            self._write_summary()
        except EnvError:
            # The episodes the env failed in changed nothing a checkpoint holds: keep what was
            # learned before them, so the run resumes once the env is fixed.
            self.checkpoint()
            raise
        finally:
            self._bar.close()
            self.close()
        progress = self.run_dir / PROGRESS_FILE
        if progress.exists():
            print(f"[memrl] done: {progress}", flush=True)
        else:
            _, period = self._eval_clock()
            unit = "env steps" if self.by_env_steps else "episodes"
            print(f"[memrl] done: {self.run_dir} (no progress.csv: the run ended before its "
                  f"first evaluation, which comes after {period} {unit})", flush=True)
        return self.run_dir

    def close(self) -> None:
        """Release the run's lock, so another process may write it (train() does this when
        it ends; a Trainer used step by step, as the benchmarks do, calls it when done)."""
        self._lock.release()

    def _train_by_episodes(self) -> None:
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

    def _train_by_env_steps(self) -> None:
        warmup_steps = self.run.start_training * self.T
        while self.env_steps < self.total_env_steps:
            self.warmup_done = self.warmup_done or self.env_steps >= warmup_steps
            episodes = self.collect(explore=True if self.warmup_done else None)
            if self.env_steps >= warmup_steps:
                self.update(math.ceil(self.run.updates_per_step * episodes.num_steps))
            self._maybe_evaluate()

    def collect(self, explore: bool | None) -> Episodes:
        """Play num_envs episodes into replay; explore=None: uniformly random warm-up actions."""
        t0 = time.perf_counter()
        agent = None if explore is None else self.agent
        episodes = rollout(self.env, agent, explore=bool(explore), rng=self.warmup_rng)
        self.replay.add(episodes.obs, episodes.actions, episodes.rewards, episodes.terminated,
                        episodes.truncated, episodes.lengths)
        self.episodes += episodes.num_episodes
        self.env_steps += episodes.num_steps
        self._train_returns.extend(episodes.returns.tolist())
        self._train_successes.extend(episodes.success.tolist())
        self._timers["collect"] += time.perf_counter() - t0
        self._bar.update(episodes.num_steps if self.by_env_steps else episodes.num_episodes)
        for callback in self.callbacks["collect"]:
            callback(self, episodes, explore)
        return episodes

    def update(self, num_updates: int) -> None:
        """`num_updates` gradient updates, each on a fresh batch from replay."""
        seq_len = self.run.config_seq.sampled_seq_len
        for _ in range(num_updates):
            t0 = time.perf_counter()
            batch = self.replay.sample(self.run.batch_size, seq_len)
            t1 = time.perf_counter()
            for name, value in self.agent.update(batch).items():
                if name in self._metric_sums:
                    self._metric_sums[name].add_(value)
                else:
                    self._metric_sums[name] = value.detach().to(torch.float64, copy=True)
                self._metric_counts[name] += 1
            self._timers["sample"] += t1 - t0
            self._timers["update"] += time.perf_counter() - t1
        self.updates += num_updates

    def _eval_clock(self) -> tuple[int, int]:
        """(what evaluation is counted in now, the period): episodes and eval_interval, or env
        steps and eval_interval x max_episode_steps."""
        interval = self.run.config_env.eval_interval
        if self.by_env_steps:
            return self.env_steps, interval * self.T
        return self.episodes, interval

    def _maybe_evaluate(self) -> None:
        """Evaluate when the clock has reached a new multiple of its period."""
        clock, period = self._eval_clock()
        if clock // period <= self.last_eval_clock // period:
            return
        had_updates = bool(self._metric_counts)
        row = self.evaluate()
        self.last_eval_clock = clock  # after it: an evaluation the env failed is done again
        self.log.write(row)
        for callback in self.callbacks["row"]:
            callback(self, row)
        self._bar.set_postfix({"return": f"{row['return']:.2f}",
                               "success": f"{row['success']:.2f}"}, refresh=False)
        bad = [name for name in self.agent.metric_names
               if math.isinf(row[name]) or (math.isnan(row[name]) and had_updates)]
        if bad:
            raise NonFiniteError(
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
        metrics = {name: float(total.item() / self._metric_counts[name])
                   for name, total in self._metric_sums.items()}
        self._metric_sums.clear()
        self._metric_counts.clear()
        wall = self.wall_time
        row = {
            "env_steps": self.env_steps,
            "episodes": self.episodes,
            "updates": self.updates,
            "return": float(episodes.returns.mean()),
            "success": _mean(episodes.success.tolist()),  # NaN: the task reports no success
            "length": float(episodes.lengths.mean()),
            # The exploring policy's episodes: for SAC-D they can be far better than the greedy
            # evaluation while its policy is still flat (argmax of a near-uniform policy).
            "train_return": _mean(self._train_returns),
            "train_success": _mean(self._train_successes),
            **self.agent.schedule_values(),
            "wall_time": round(wall, 3),
            "fps": self.env_steps / max(wall, 1e-9),
        }
        row.update({name: metrics.get(name, math.nan) for name in self.agent.metric_names})
        for discount in DISCOUNTS:  # as the continuous-control code logs them
            row[f"return-{discount}"] = float(episodes.discounted_returns(discount).mean())
        self._train_returns.clear()
        self._train_successes.clear()
        return row

    # ---- checkpoints -------------------------------------------------------------------------

    def checkpoint(self) -> Path:
        """Save the state, unless weights or optimiser state are non-finite: then the run stops
        (NonFiniteError) with its last good checkpoint as the newest."""
        state = self.state_dict()
        bad = nonfinite_entries({"agent": state["agent"], "agent_extra": state["agent_extra"]})
        if bad:
            kept = list_checkpoints(self.run_dir)
            last = f"the newest checkpoint is still {kept[-1]}" if kept else "no checkpoint saved"
            more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
            raise NonFiniteError(
                f"non-finite values in {bad[0]}{more} by update {self.updates}; not saved "
                f"({last}; progress.csv rows are kept); lower the learning rate "
                f"(--config_rl.critic_lr) or clip gradients (--config_seq.clip True)"
            )
        path = save_checkpoint(self.run_dir, self.episodes, state,
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
                "last_eval_clock": self.last_eval_clock, "warmup_done": self.warmup_done,
                "wall_time": self.wall_time,
            },
            "train_returns": list(self._train_returns),
            "train_successes": list(self._train_successes),
            "csv_rows": self.log.rows_written(),
            # What a resume checks config.json and progress.csv against.
            "csv_digest": rows_digest(self.log.path, self.log.rows_written()),
            "config": settings_copy(self.run.to_dict()),
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
        # Checkpoints of the episode schedule before env-step schedules existed
        self.last_eval_clock = counters.get("last_eval_clock", counters.get("last_eval_episode"))
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
        write_atomic(self.run_dir / SUMMARY_FILE, json.dumps(summary, indent=2))

    def time_split(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self._timers.items()}


DISCOUNTS = (0.99, 0.999)  # discounted returns logged with every evaluation


def _mean(values: list) -> float:
    """The mean, NaN for no values or values that are all NaN (tasks without success)."""
    values = np.asarray(values, dtype=float)
    if not len(values) or np.isnan(values).all():
        return math.nan
    return float(np.nanmean(values))


def _int(seed_sequence: np.random.SeedSequence) -> int:
    return int(seed_sequence.generate_state(1)[0])


def stream_seeds(seed: int) -> list[np.random.SeedSequence]:
    """Independent random streams per concern, all derived from the run seed: the training
    env, replay sampling, the agent, the random warm-up."""
    return np.random.SeedSequence(seed).spawn(4)


def check_finite_checkpoint(state: dict, path: Path) -> None:
    """A checkpoint with NaN or inf weights or optimiser state is not one to continue or play
    from (runs since this check never save one; older runs may have)."""
    bad = nonfinite_entries({"agent": state.get("agent"), "agent_extra": state.get("agent_extra")})
    if bad:
        raise CheckpointError(f"{path} holds non-finite values ({bad[0]})")


def memory_needs(run: RunConfig, env: BatchedEnv) -> tuple[dict[str, int], str]:
    """What a run allocates up front (replay, the rollouts of training and evaluation, one
    batch), for validate.check_memory, and what to lower when it is too much."""
    T = env.max_episode_steps
    step = EpisodeReplay.step_bytes(env.observation_space, env.action_space)
    rl = run.config_rl
    slots = EpisodeReplay.slots_for(T, rl.replay_buffer_size, rl.replay_buffer_num_episodes)
    window = T if run.config_seq.sampled_seq_len == -1 else run.config_seq.sampled_seq_len
    needs = {
        f"replay of max(config_rl.replay_buffer_num_episodes, config_rl.replay_buffer_size / T) "
        f"episodes of T = {T} steps": slots * step,
        "rollouts of --num_envs + config_env.eval_episodes episodes":
            (run.num_envs + run.config_env.eval_episodes) * (T + 1) * step,
        "a batch of --batch_size windows": 2 * run.batch_size * (window + 1) * step,
    }
    return needs, f"lower config_env.{run.task.variant_key} or the sizes named"


def make_train_env(run: RunConfig) -> BatchedEnv:
    """The run's training env as it was built at the start (its seed, hence its layouts)."""
    return envs.make(run.config_env, run.num_envs, _int(stream_seeds(run.seed)[0]))
