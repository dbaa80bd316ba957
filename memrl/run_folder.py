"""A run's folder and its files: the lock, config.json, progress.csv, checkpoints, summary.json.

What can go wrong with them is stopped where it starts: one process writes a run at a time
(the lock, memrl/runlock.py); a new run refuses a folder that already holds one; a resume takes
the newest checkpoint that is whole and finite, and only if config.json and progress.csv still
agree with it (memrl/integrity.py), renaming newer unusable ones *.unusable and dropping rows
written after it; a checkpoint is written only when weights and optimiser state are finite, so
a run that turns non-finite stops with its last good checkpoint; a failed write (disk full)
leaves the previous version of the file (memrl/files.py).

When to checkpoint is decided here too (`checkpoint_due`): at an evaluation once
--checkpoint_interval seconds have passed since the last checkpoint; between evaluations (the
trainer asks at every safe point) the run's first checkpoint once first_checkpoint seconds
have passed since the start, whatever the evaluation interval, and later ones once
max(--checkpoint_interval, first_checkpoint) have, so a long stretch without evaluations still
gets checkpoints.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from memrl.checkpoint import (
    CheckpointError,
    LoadedCheckpoint,
    list_checkpoints,
    load_latest_checkpoint,
    save_checkpoint,
)
from memrl.files import file_in_the_way, write_atomic, writing
from memrl.integrity import (
    NonFiniteError,
    check_progress,
    check_settings,
    nonfinite_entries,
    rows_digest,
    settings_copy,
)
from memrl.logger import ProgressLog
from memrl.run_config import RESUME_FLAGS, ConfigError, RunConfig
from memrl.runlock import RunLock

CONFIG_FILE = "config.json"  # written when a run starts
PROGRESS_FILE = "progress.csv"
SUMMARY_FILE = "summary.json"  # written when a run finishes: its presence marks it finished


class RunFolder:
    """The files of `run` in `path`. Opened either way: `open_to_resume` (lock, check) then
    `take_up`, or `create`; `release` when done (the trainer does)."""

    def __init__(self, path: Path, run: RunConfig):
        self.path = Path(path)
        self.run = run
        self._lock = RunLock(self.path)
        self.has_checkpoint = False
        self._last_checkpoint = time.perf_counter()  # or the start of this session

    # ---- opening -----------------------------------------------------------------------------

    def create(self, **facts: Any) -> None:
        """A new run: its folder, locked, then config.json with the run's settings and `facts`
        (refused where a run already is)."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            blocker = file_in_the_way(self.path)
            why = f"{blocker} is a file" if blocker else err.strerror or str(err)
            raise ConfigError(f"cannot make the run folder {self.path}: {why} (see "
                              "--save_dir / --run_dir)") from None
        self._take_lock()
        if (self.path / CONFIG_FILE).exists():
            raise ConfigError(f"{self.path} already holds a run; continue it with "
                              f"--resume {self.path} or choose another --run_dir")
        self.run.save(self.path, **facts)

    def open_to_resume(self) -> LoadedCheckpoint | None:
        """Lock the run and find its newest whole, finite checkpoint, once config.json and
        progress.csv are known to agree with it (None: the run has no checkpoint yet). Nothing
        is changed until `take_up`."""
        if (self.path / SUMMARY_FILE).exists():
            raise ConfigError(f"{self.path} is finished ({SUMMARY_FILE}); nothing to resume")
        self._take_lock()
        try:
            loaded = load_latest_checkpoint(self.path, check=check_finite_checkpoint)
            if loaded is not None:
                check_settings(self.path / CONFIG_FILE, self.run.to_dict(),
                               loaded.state.get("config"), loaded.path, may_differ=RESUME_FLAGS)
                check_progress(self.path / PROGRESS_FILE, loaded.state["csv_rows"],
                               loaded.state.get("csv_digest"), loaded.path)
        except BaseException:
            self.release()
            raise
        return loaded

    def take_up(self, loaded: LoadedCheckpoint | None) -> None:
        """Continue from `loaded` (its state already taken up by the trainer): newer unusable
        checkpoints are set aside, rows written after it dropped (they will be written again).
        Without a checkpoint the run starts over, and says so."""
        if loaded is None:
            print(f"[memrl] {self.path} has no checkpoint yet (it stopped before its first): "
                  f"starting it over from the beginning", flush=True)
            ProgressLog.truncate(self.path / PROGRESS_FILE, 0)
            return
        for path, reason in loaded.passed_over:
            with writing(path):
                path.rename(path.with_name(path.name + ".unusable"))
            print(f"[memrl] {reason}; renamed it {path.name}.unusable, resuming from "
                  f"{loaded.path.name}", flush=True)
        ProgressLog.truncate(self.path / PROGRESS_FILE, loaded.state["csv_rows"])
        self.has_checkpoint = True

    def progress_log(self) -> ProgressLog:
        return ProgressLog(
            self.path / PROGRESS_FILE, echo_rows=self.run.debug,
            tensorboard_dir=self.path / "tensorboard" if self.run.tensorboard else None,
        )

    def release(self) -> None:
        """Let another process write the run."""
        self._lock.release()

    def _take_lock(self) -> None:
        stale = self._lock.acquire()
        if stale:
            print(f"[memrl] {self.path}: taking over the lock left by {stale} (a process "
                  "that was stopped)", flush=True)

    # ---- checkpoints -------------------------------------------------------------------------

    def checkpoint_due(self, at_evaluation: bool) -> bool:
        """Whether to checkpoint at this safe point (see the module docstring)."""
        waited = time.perf_counter() - self._last_checkpoint
        if at_evaluation and waited >= self.run.checkpoint_interval:
            return True
        if not self.has_checkpoint:
            return waited >= self.run.first_checkpoint
        return waited >= max(self.run.checkpoint_interval, self.run.first_checkpoint)

    def resume_record(self, log: ProgressLog) -> dict[str, Any]:
        """What a checkpoint keeps so that a resume can check config.json and progress.csv."""
        return {
            "csv_rows": log.rows_written(),
            "csv_digest": rows_digest(log.path, log.rows_written()),
            "config": settings_copy(self.run.to_dict()),
        }

    def save_checkpoint(self, state: dict[str, Any], episodes: int) -> Path:
        """Write ckpt_<episodes>.pt, unless weights or optimiser state are non-finite: then the
        run stops (NonFiniteError) with its last good checkpoint as the newest."""
        bad = nonfinite_entries({"agent": state["agent"], "agent_extra": state["agent_extra"]})
        if bad:
            kept = list_checkpoints(self.path)
            last = f"the newest checkpoint is still {kept[-1]}" if kept else "no checkpoint saved"
            more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
            raise NonFiniteError(
                f"non-finite values in {bad[0]}{more} by update {state['counters']['updates']}; "
                f"not saved ({last}; progress.csv rows are kept); {learning_rate_hint(self.run)}"
            )
        path = save_checkpoint(self.path, episodes, state, keep=self.run.keep_checkpoints)
        self.has_checkpoint = True
        self._last_checkpoint = time.perf_counter()
        return path

    def write_summary(self, summary: dict[str, Any]) -> None:
        """summary.json marks a finished run (sweeps skip it) and holds its headline figures."""
        write_atomic(self.path / SUMMARY_FILE, json.dumps(summary, indent=2))


def check_finite_checkpoint(state: dict, path: Path) -> None:
    """A checkpoint with NaN or inf weights or optimiser state is not one to continue or play
    from (runs since this check never save one; older runs may have)."""
    bad = nonfinite_entries({"agent": state.get("agent"), "agent_extra": state.get("agent_extra")})
    if bad:
        raise CheckpointError(f"{path} holds non-finite values ({bad[0]})")


def newest_checkpoint(path: Path) -> Path | None:
    kept = list_checkpoints(path)
    return kept[-1] if kept else None


def learning_rate_hint(run: RunConfig) -> str:
    """What to change after a non-finite loss, in the names of this run's algorithm."""
    leaves = [f"--config_rl.{name}" for name in run.config_rl
              if name == "lr" or name.endswith("_lr")]
    return (f"lower the learning rate ({' / '.join(leaves) or 'config_rl'}) or clip gradients "
            "(--config_seq.clip True)")
