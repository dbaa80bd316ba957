"""The training loop and the rows it logs. One loop for every schedule:

    while the schedule's budget is not spent:
        collect num_envs episodes into the data store, acting as the schedule says
        (uniformly random in a warm-up, else with the exploring policy)
        the updates the schedule asks for after them, each on a batch the store samples
        evaluate when the schedule says so: one row of progress.csv
    checkpoint, summary.json

What it drives: the parts the run builder makes (memrl/build.py: envs, the schedule the
agent's algorithm asks for with its data store, the agent), the schedule (memrl/schedule.py:
when to collect, how many updates, when to evaluate and stop) and the run folder
(memrl/run_folder.py: lock, new or resumed, checkpoints, summary). Whoever watches a run
(benchmarks, tests, a user's code) registers with `add_callback`.

Safe points: after a collection (before its first update), between updates, and after each
round (its evaluation included). There everything a checkpoint needs is in reach (the
updates still owed to the last collection, and the training metrics since the last row,
included), so the trainer checkpoints only there: when the run folder says one is due, and
when SIGINT or SIGTERM asked the run to stop (memrl/stopping.py); it then ends with
RunInterrupted and a resume continues as if nothing had happened.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from memrl.build import build_run
from memrl.checkpoint import LoadedCheckpoint
from memrl.collector import Episodes, rollout
from memrl.envs import EnvError
from memrl.integrity import IntegrityError, NonFiniteError
from memrl.logger import progress_bar
from memrl.run_config import ConfigError, RunConfig
from memrl.run_folder import PROGRESS_FILE, RunFolder, learning_rate_hint
from memrl.schedule import Counts, Schedule
from memrl.stopping import RunInterrupted, StopRequest, stop_on_signals

DISCOUNTS = (0.99, 0.999)  # discounted returns logged with every evaluation


class Trainer:
    """Builds a run from a RunConfig (memrl/build.py), opens its folder, then `train()` runs
    the schedule.

    `run_dir` given: write there (it must not hold a run yet). `resume=True`: continue the run
    in `run_dir` from its newest checkpoint (or from the start if it has none).
    """

    def __init__(self, run: RunConfig, run_dir: Path | None = None, resume: bool = False):
        run.validate()
        self.run = run
        self.folder = RunFolder(Path(run_dir) if run_dir is not None else run.new_run_dir(), run)
        self.run_dir = self.folder.path
        # Only the process holding the lock writes the run. A resume takes it first, then
        # checks the run's files agree before anything is built from them.
        loaded = self.folder.open_to_resume() if resume else None
        try:
            try:
                self.parts = parts = build_run(run)
            except (AttributeError, KeyError) as err:
                if not resume:
                    raise
                # A run with a checkpoint was compared with its copy of the settings above;
                # one killed before its first checkpoint has only config.json to go by.
                raise ConfigError(f"{self.run_dir / 'config.json'} lacks a setting the run "
                                  f"needs ({err}); restore it or start the run again") from None
            self.agent, self.env, self.eval_env = parts.agent, parts.env, parts.eval_env
            self.store, self.schedule = parts.store, parts.schedule
            self.device, self.precision = parts.device, parts.precision

            self.counts = Counts()
            self.owed_updates = 0  # updates the last collection is still owed
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
            self._stop = StopRequest()  # train() sets it from SIGINT and SIGTERM

            # Everything above can fail on bad input; only from here on is anything written.
            if resume:
                self._take_up(loaded)
            else:
                self.folder.create(
                    max_episode_steps=parts.T, device=str(self.device),
                    torch_version=torch.__version__, resolved_precision=self.precision,
                    bf16_support=str(parts.bf16_support),
                    precision_reason=parts.precision_reason)
            self.log = self.folder.progress_log()
        except BaseException:
            self.folder.release()
            raise
        self._start = time.perf_counter()
        self._bar = _progress_bar(self.schedule, self.counts, show=False)  # train(): a live one

    def _take_up(self, loaded: LoadedCheckpoint | None) -> None:
        if loaded is not None:
            try:
                self.load_state_dict(loaded.state)
            except (RuntimeError, KeyError, ValueError) as err:  # a checkpoint of another model
                raise IntegrityError(f"{loaded.path} does not fit the run config.json "
                                     f"describes: {str(err).splitlines()[0]}") from None
        self.folder.take_up(loaded)

    @property
    def episodes(self) -> int:
        return self.counts.episodes

    @property
    def env_steps(self) -> int:
        return self.counts.env_steps

    @property
    def updates(self) -> int:
        return self.counts.updates

    @property
    def wall_time(self) -> float:
        return self._elapsed_before + time.perf_counter() - self._start

    def add_callback(self, callback: Callable, event: str = "row") -> None:
        """event "row": call `callback(trainer, row)` after each row is logged; "collect":
        `callback(trainer, episodes, explore)` after each collection (explore None: random).
        An exception raised by a callback ends the run there, without a checkpoint."""
        if event not in self.callbacks:
            raise ValueError(f"unknown event {event!r}; choose one of {', '.join(self.callbacks)}")
        self.callbacks[event].append(callback)

    def train(self) -> Path:
        threads = torch.get_num_threads()
        print(f"[memrl] run folder: {self.run_dir}  (device {self.device}, {threads} torch "
              f"thread{'s' * (threads != 1)})", flush=True)
        try:
            self._bar = _progress_bar(self.schedule, self.counts)
            with stop_on_signals() as stop:  # (a stop asked for after the loop is too late)
                self._stop = stop
                self._run_schedule()
                self.checkpoint()
                self.folder.write_summary({
                    "episodes": self.episodes, "env_steps": self.env_steps,
                    "updates": self.updates, "wall_time": round(self.wall_time, 3),
                    "time_split": self.time_split(),
                })
        except EnvError:
            # The env failed in a collection or an evaluation: neither had changed anything a
            # checkpoint holds (counts, store, rows), so this is a safe point. Keep what was
            # learned before those episodes, so the run resumes once the env is fixed.
            self.checkpoint()
            raise
        finally:
            self._bar.close()
            self.close()
        if (self.run_dir / PROGRESS_FILE).exists():
            print(f"[memrl] done: {self.run_dir / PROGRESS_FILE}", flush=True)
        else:
            print(f"[memrl] done: {self.run_dir} (no progress.csv: the run ended before its "
                  f"first evaluation, which comes after {self.schedule.eval_period} "
                  f"{self.schedule.unit})", flush=True)
        return self.run_dir

    def close(self) -> None:
        """Release the run's lock, so another process may write it (train() does this when
        it ends; a Trainer used step by step, as tests do, calls it when done)."""
        self.folder.release()

    def _run_schedule(self) -> None:
        schedule = self.schedule
        while self.owed_updates or not schedule.finished(self.counts):
            if not self.owed_updates:  # (else a resumed run first pays what it owed)
                episodes = self.collect(schedule.explore(self.counts))
                self.owed_updates = schedule.updates_after(episodes, self.counts)
            while self.owed_updates:
                self._safe_point()
                self.update(1)
                self.owed_updates -= 1
            evaluated = schedule.evaluation_due(self.counts)
            if evaluated:
                had_updates = bool(self._metric_counts)
                row = self.evaluate()
                # Only once it is done: an evaluation the env failed is done again.
                schedule.evaluated(self.counts)
                self._log_row(row, had_updates)
            self._safe_point(evaluated)

    def _safe_point(self, evaluated: bool = False) -> None:
        """Checkpoint here if the run was asked to stop (then stop) or one is due."""
        if self._stop.signum is not None:
            path = self.checkpoint()
            raise RunInterrupted(
                self._stop.signum,
                f"stopped by {self._stop.name} after {self.episodes} episodes and "
                f"{self.updates} updates, with a checkpoint ({path.name}); continue with "
                f"memrl train --resume {self.run_dir}")
        if self.folder.checkpoint_due(evaluated):
            self.checkpoint()

    def collect(self, explore: bool | None) -> Episodes:
        """Play num_envs episodes into the store; explore=None: uniformly random actions."""
        t0 = time.perf_counter()
        agent = None if explore is None else self.agent
        episodes = rollout(self.env, agent, explore=bool(explore), rng=self.parts.warmup_rng)
        self.store.add_episodes(episodes)
        before = self.schedule.clock(self.counts)
        self.counts.episodes += episodes.num_episodes
        self.counts.env_steps += episodes.num_steps
        self._train_returns.extend(episodes.returns.tolist())
        self._train_successes.extend(episodes.success.tolist())
        self._timers["collect"] += time.perf_counter() - t0
        self._bar.update(self.schedule.clock(self.counts) - before)
        for callback in self.callbacks["collect"]:
            callback(self, episodes, explore)
        return episodes

    def update(self, num_updates: int) -> None:
        """`num_updates` gradient updates, each on a fresh batch from the store."""
        seq_len = self.run.config_seq.sampled_seq_len
        for _ in range(num_updates):
            t0 = time.perf_counter()
            batch = self.store.sample(self.run.batch_size, seq_len)
            t1 = time.perf_counter()
            for name, value in self.agent.update(batch).items():
                if name in self._metric_sums:
                    self._metric_sums[name].add_(value)
                else:
                    self._metric_sums[name] = value.detach().to(torch.float64, copy=True)
                self._metric_counts[name] += 1
            self._timers["sample"] += t1 - t0
            self._timers["update"] += time.perf_counter() - t1
        self.counts.updates += num_updates

    def _log_row(self, row: dict, had_updates: bool) -> None:
        """Write the row, tell the watchers, and stop on a non-finite training metric (NaN
        only counts once there were updates to average)."""
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
                f"in {self.run_dir / PROGRESS_FILE}); {learning_rate_hint(self.run)}"
            )

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

    def time_split(self) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self._timers.items()}

    # ---- checkpoints -------------------------------------------------------------------------

    def checkpoint(self) -> Path:
        """Save the state (only at a safe point; see the module docstring). Non-finite weights or
        optimiser state stop the run instead (NonFiniteError), its last good checkpoint kept."""
        return self.folder.save_checkpoint(self.state_dict(), self.episodes)

    def state_dict(self) -> dict:
        return {
            **self.parts.state_dict(),
            "counters": {
                **vars(self.counts), **self.schedule.state_dict(),
                "owed_updates": self.owed_updates, "wall_time": self.wall_time,
            },
            "train_returns": list(self._train_returns),
            "train_successes": list(self._train_successes),
            "metric_sums": {name: total.cpu() for name, total in self._metric_sums.items()},
            "metric_counts": dict(self._metric_counts),
            **self.folder.resume_record(self.log),
        }

    def load_state_dict(self, state: dict) -> None:
        self.parts.load_state_dict(state)
        counters = state["counters"]
        self.counts = Counts(counters["episodes"], counters["env_steps"], counters["updates"])
        self.schedule.load_state_dict(counters)
        # Checkpoints taken before safe points between evaluations have none of these.
        self.owed_updates = counters.get("owed_updates", 0)
        self._elapsed_before = counters["wall_time"]
        self._train_returns = list(state["train_returns"])
        self._train_successes = list(state["train_successes"])
        self._metric_sums = {name: total.to(self.device)
                             for name, total in state.get("metric_sums", {}).items()}
        self._metric_counts = defaultdict(int, state.get("metric_counts", {}))


def _progress_bar(schedule: Schedule, counts: Counts, show: bool | None = None):
    """The schedule's clock / its budget, with ETA; show=None: only on a terminal."""
    unit = "step" if schedule.unit == "env steps" else "ep"
    return progress_bar(schedule.budget, schedule.clock(counts), show=show, unit=unit)


def _mean(values: list) -> float:
    """The mean, NaN for no values or values that are all NaN (tasks without success)."""
    values = np.asarray(values, dtype=float)
    if not len(values) or np.isnan(values).all():
        return math.nan
    return float(np.nanmean(values))
