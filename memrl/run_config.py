"""One resolved description of a run: the three configs plus the command-line flags.

It is validated before anything is built or written, and saved as config.json in the run folder
(which is also what `--resume` and the analysis read back).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ml_collections import ConfigDict

from memrl.args import DEVICE_NAME
from memrl.files import write_atomic
from memrl.precision import PRECISIONS
from memrl.tasks import ENV_STEPS, TASKS, Task, task_of
from memrl.validate import check_config


class ConfigError(ValueError):
    """A run description that cannot work; the message says what to change."""


# Flags that may change when a run is resumed: they change where and how fast, not what is
# learned.
RESUME_FLAGS = ("device", "threads", "compile")


def flag(default: Any, help: str, **more: Any) -> Any:
    """A RunConfig field that is also a `memrl train` flag: its default and its --help text are
    written here and nowhere else (memrl/cli.py defines the flags from these fields).
    `task_default=True`: None means the task's default (its record's train_defaults)."""
    return field(default=default, metadata={"help": help, **more})


@dataclass
class RunConfig:
    config_env: ConfigDict
    config_rl: ConfigDict
    config_seq: ConfigDict
    seed: int = flag(42, "Run seed; negative = drawn from the pid.")
    batch_size: int | None = flag(None, "Sequences per gradient update.", task_default=True)
    train_episodes: int = flag(
        1000, "Training episodes after the warm-up. Env-step tasks (PyBullet, gym) count it in "
        "units of T env steps (T: the longest episode), warm-up included: see "
        "--train_env_steps.")
    train_env_steps: int | None = flag(
        None, "Env-step tasks: the budget in env steps, warm-up included, instead of "
        "--train_episodes (rounded up to a whole number of T).")
    updates_per_step: float | None = flag(None, "Gradient updates per env step.",
                                          task_default=True)
    start_training: int | None = flag(
        None, "Episodes of uniformly random actions before training (env-step tasks: units of "
        "T env steps).", task_default=True)
    debug: bool = flag(False, "Log to debug/ and echo every row.")
    save_dir: str = flag("logs", "Root folder of run logs.")
    num_envs: int = flag(1, "Episodes collected at once (1 keeps the paper's update-to-data "
                            "schedule).")
    device: str = flag("auto", "auto, cpu or cuda[:N] (auto: CUDA when present).")
    threads: int = flag(0, "Torch CPU threads; 0 = the cores not already busy (by load "
                           "average).")
    checkpoint_interval: float = flag(600.0, "Seconds between checkpoints (taken at "
                                             "evaluations, or between them when none came for "
                                             "that long; 0 = at every evaluation).")
    # Seconds from the start to the run's first checkpoint, taken at the next safe point even
    # between evaluations (memrl/run_folder.py); not a flag, so not in config.json.
    first_checkpoint: float = 60.0
    keep_checkpoints: int = flag(2, "Newest checkpoints kept.")
    tensorboard: bool = flag(False, "Also write TensorBoard scalars to <run_dir>/tensorboard "
                                    "(pip install 'memrl[tensorboard]').")
    precision: str = flag(
        "fp32", "Number format of the updates: fp32; bf16 autocasts the networks' forward "
        "passes (fp32 weights, losses and optimiser); auto: bf16 where the sequence model "
        "learns in it as in fp32 and the device has bf16 matrix units (AMX, a GPU of compute "
        "capability 8.0+), with the reason in config.json.", choices=PRECISIONS)
    compile: bool = flag(False, "torch.compile the networks' whole-sequence forward (slow "
                                "first updates).")
    extra: dict[str, Any] = field(default_factory=dict)  # flags of later memrl versions

    def __post_init__(self) -> None:
        if self.seed < 0:  # the seed's convention: a negative seed is drawn from the pid
            self.seed = os.getpid() % 100_000
        task = TASKS.get(self.config_env.get("env_type"))
        for name in TASK_DEFAULT_FLAGS:
            if getattr(self, name) is None and task is not None:
                setattr(self, name, task.default(name))

    @property
    def env_type(self) -> str:
        return self.config_env.env_type

    @property
    def task(self) -> Task:
        return task_of(self.env_type)

    @property
    def variant(self) -> int | str:
        """The task's variant (config_env.env_name: the length L, or the robot)."""
        return self.config_env[self.task.variant_key]

    def validate(self) -> None:
        from memrl.agents import AlgorithmError, check_algorithm
        from memrl.nets.seq import SEQ_MODELS

        def need(ok: bool, message: str) -> None:
            if not ok:
                raise ConfigError(message)

        need(self.env_type in TASKS,
             f"unknown config_env.env_type {self.env_type!r}; choose one of {', '.join(TASKS)}")
        try:
            self.task.variant(self.config_env)
            check_algorithm(self.config_rl)
        except (ValueError, AlgorithmError) as err:
            raise ConfigError(str(err)) from None
        seq_name = self.config_seq.model.seq_model_config.name
        need(seq_name in SEQ_MODELS,
             f"unknown sequence model {seq_name!r} (config_seq.model.seq_model_config.name); "
             f"choose one of {sorted(SEQ_MODELS)}")
        for name in ("config_env", "config_rl", "config_seq"):
            try:
                check_config(name, getattr(self, name))
            except ValueError as err:
                raise ConfigError(str(err)) from None
        need(0 <= self.seed < 2**63, f"--seed must be below 2**63, got {self.seed}")
        need(self.batch_size >= 1, f"--batch_size must be >= 1, got {self.batch_size}")
        need(self.train_episodes >= 0, f"--train_episodes must be >= 0, got {self.train_episodes}")
        if self.train_env_steps is not None:
            need(self.task.schedule == ENV_STEPS,
                 f"--train_env_steps is the budget of the env-step tasks "
                 f"({', '.join(t for t, task in TASKS.items() if task.schedule == ENV_STEPS)}); "
                 f"{self.env_type} counts episodes: give --train_episodes")
            need(self.train_env_steps >= 1,
                 f"--train_env_steps must be >= 1, got {self.train_env_steps}")
        need(self.start_training >= 1,
             f"--start_training (random warm-up episodes) must be >= 1, got {self.start_training}")
        need(0 <= self.updates_per_step < math.inf,
             f"--updates_per_step must be >= 0 and finite, got {self.updates_per_step}")
        need(self.num_envs >= 1, f"--num_envs must be >= 1, got {self.num_envs}")
        need(bool(DEVICE_NAME.fullmatch(self.device)),
             f"--device must be auto, cpu or cuda[:N], got {self.device!r}")
        need(self.precision in PRECISIONS,
             f"--precision must be fp32, bf16 or auto, got {self.precision!r}")
        need(self.threads >= 0, f"--threads must be >= 0 (0 = the idle cores), got {self.threads}")
        need(self.checkpoint_interval >= 0,
             f"--checkpoint_interval must be >= 0 seconds, got {self.checkpoint_interval}")
        need(self.keep_checkpoints >= 1,
             f"--keep_checkpoints must be >= 1, got {self.keep_checkpoints}")
        need(not self.tensorboard or importlib.util.find_spec("tensorboard") is not None,
             "--tensorboard needs the tensorboard package: pip install 'memrl[tensorboard]'")

    def with_env_step_budget(self) -> RunConfig:
        """The run with --train_env_steps N as its train_episodes: ceil(N / T) units of T env
        steps, T being the task's longest episode (read from one copy of its env)."""
        from memrl import envs

        env = envs.make(self.config_env, 1, 0)
        env.close()
        return self.replace(train_episodes=math.ceil(self.train_env_steps / env.max_episode_steps))

    def flags(self) -> dict[str, Any]:
        """The flags' values; one left unset (None) is not written, so a flag added to memrl
        later leaves the settings of runs made before it as they were."""
        values = {name: getattr(self, name) for name in FLAG_NAMES}
        return {name: v for name, v in values.items() if v is not None} | dict(self.extra)

    def to_dict(self) -> dict[str, Any]:
        return {
            "config_env": self.config_env.to_dict(),
            "config_rl": self.config_rl.to_dict(),
            "config_seq": self.config_seq.to_dict(),
            "flags": self.flags(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        flags = dict(data["flags"])
        known = {k: flags.pop(k) for k in FLAG_NAMES if k in flags}
        config_rl = ConfigDict(data["config_rl"])
        # Runs written before the switches moved into config_rl kept them as flags.
        from memrl.agents import SWITCHES, set_switches

        set_switches(config_rl, **{k: bool(flags.pop(k)) for k in SWITCHES if k in flags})
        return cls(
            config_env=ConfigDict(data["config_env"]),
            config_rl=config_rl,
            config_seq=ConfigDict(data["config_seq"]),
            extra=flags,
            **known,
        )

    def save(self, run_dir: Path, **facts: Any) -> None:
        """config.json: everything needed to repeat or resume the run, plus `facts` (T, ...)."""
        payload = self.to_dict() | facts | {"host": socket.gethostname()}
        write_atomic(Path(run_dir) / "config.json",
                     json.dumps(payload, indent=2, default=_jsonable))

    @classmethod
    def load(cls, run_dir: Path) -> RunConfig:
        """The run config.json describes, checked as a new run's would be."""
        path = Path(run_dir) / "config.json"
        if not path.is_file():
            raise ConfigError(f"{path} not found; pass a run folder made by memrl train")
        from memrl.integrity import SETTINGS_IN_CHECKPOINT

        restore = f"restore it ({SETTINGS_IN_CHECKPOINT})"
        try:
            data = json.loads(path.read_text())
        except (ValueError, OSError) as err:  # JSONDecodeError and UnicodeDecodeError included
            raise ConfigError(f"{path} is not valid JSON ({err}); {restore}") from None
        try:
            run = cls.from_dict(data)
        except (KeyError, TypeError, AttributeError, ValueError) as err:
            raise ConfigError(f"{path} is not a memrl run config ({type(err).__name__}: "
                              f"{err}); {restore}") from None
        try:
            run.validate()
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from None
        return run

    def new_run_dir(self) -> Path:
        """logs/<env_type>/<variant>/<timestamp>+<pid> (with the SLURM job id when there is one)."""
        root = "debug" if self.debug else self.save_dir
        stamp = time.strftime("%Y-%m-%d-%H-%M-%S")
        job = os.environ.get("SLURM_JOB_ID")
        name = f"{stamp}+{job}-{os.getpid()}" if job else f"{stamp}+{os.getpid()}"
        run_dir = Path(root) / self.env_type / str(self.variant) / name
        suffix = 1
        while run_dir.exists():  # two runs started in the same second by one process
            run_dir = run_dir.with_name(f"{name}.{suffix}")
            suffix += 1
        return run_dir

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)


# The fields that are `memrl train` flags, in --help order.
FLAGS: tuple[dataclasses.Field, ...] = tuple(f for f in dataclasses.fields(RunConfig)
                                             if "help" in f.metadata)
FLAG_NAMES = tuple(f.name for f in FLAGS)
TASK_DEFAULT_FLAGS = tuple(f.name for f in FLAGS if f.metadata.get("task_default"))


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, set)):
        return list(value)
    return str(value)
