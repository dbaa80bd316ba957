"""One resolved description of a run: the three configs plus the command-line flags.

It is validated before anything is built or written, and saved as config.json in the run folder
(which is also what `--resume` and the analysis read back).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ml_collections import ConfigDict

from memrl.precision import PRECISIONS


class ConfigError(ValueError):
    """A run description that cannot work; the message says what to change."""


@dataclass
class RunConfig:
    config_env: ConfigDict
    config_rl: ConfigDict
    config_seq: ConfigDict
    seed: int = 42
    batch_size: int = 64
    train_episodes: int = 1000
    updates_per_step: float = 0.25
    start_training: int = 10
    shared_encoder: bool = False
    freeze_critic: bool = False
    debug: bool = False
    save_dir: str = "logs"
    num_envs: int = 1
    device: str = "auto"
    threads: int = 0  # torch CPU threads; 0 = the cores not already busy
    checkpoint_interval: float = 600.0  # seconds between checkpoints (taken at evaluations)
    keep_checkpoints: int = 2
    tensorboard: bool = False  # also write TensorBoard scalars to <run_dir>/tensorboard
    precision: str = "fp32"  # "bf16": autocast the update's forward passes; "auto": see precision.py
    compile: bool = False  # torch.compile the networks' whole-sequence forward
    extra: dict[str, Any] = field(default_factory=dict)  # room for later flags

    FLAG_NAMES = (
        "seed", "batch_size", "train_episodes", "updates_per_step", "start_training",
        "shared_encoder", "freeze_critic", "debug", "save_dir", "num_envs", "device", "threads",
        "checkpoint_interval", "keep_checkpoints", "tensorboard", "precision", "compile",
    )

    def __post_init__(self) -> None:
        if self.seed < 0:  # the seed's convention: a negative seed is drawn from the pid
            self.seed = os.getpid() % 100_000

    @property
    def env_type(self) -> str:
        return self.config_env.env_type

    @property
    def length(self) -> int:
        return self.config_env.env_name

    def validate(self) -> None:
        from memrl.agents import ALGOS
        from memrl.envs import ENV_TYPES
        from memrl.nets.seq import SEQ_MODELS

        def need(ok: bool, message: str) -> None:
            if not ok:
                raise ConfigError(message)

        need(self.env_type in ENV_TYPES,
             f"unknown config_env.env_type {self.env_type!r}; choose one of {sorted(ENV_TYPES)}")
        L = self.length
        need(isinstance(L, int) and not isinstance(L, bool) and L >= 1,
             f"config_env.env_name is the task length L and must be a positive integer, got "
             f"{L!r}; e.g. --config_env.env_name 50")
        need(self.config_rl.algo in ALGOS,
             f"unknown config_rl.algo {self.config_rl.algo!r}; choose one of {sorted(ALGOS)}")
        seq_name = self.config_seq.model.seq_model_config.name
        need(seq_name in SEQ_MODELS,
             f"unknown sequence model {seq_name!r} (config_seq.model.seq_model_config.name); "
             f"choose one of {sorted(SEQ_MODELS)}")
        seq_len = self.config_seq.sampled_seq_len
        need(seq_len == -1 or seq_len >= 1,
             f"config_seq.sampled_seq_len must be -1 (whole episodes) or >= 1, got {seq_len}")
        need(self.batch_size >= 1, f"--batch_size must be >= 1, got {self.batch_size}")
        need(self.train_episodes >= 0, f"--train_episodes must be >= 0, got {self.train_episodes}")
        need(self.start_training >= 1,
             f"--start_training (random warm-up episodes) must be >= 1, got {self.start_training}")
        need(self.updates_per_step >= 0,
             f"--updates_per_step must be >= 0, got {self.updates_per_step}")
        need(self.num_envs >= 1, f"--num_envs must be >= 1, got {self.num_envs}")
        need(self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:"),
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
        for key in ("eval_interval", "eval_episodes"):
            need(self.config_env[key] >= 1, f"config_env.{key} must be >= 1")

    def flags(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.FLAG_NAMES} | dict(self.extra)

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
        known = {k: flags.pop(k) for k in cls.FLAG_NAMES if k in flags}
        return cls(
            config_env=ConfigDict(data["config_env"]),
            config_rl=ConfigDict(data["config_rl"]),
            config_seq=ConfigDict(data["config_seq"]),
            extra=flags,
            **known,
        )

    def save(self, run_dir: Path, **facts: Any) -> None:
        """config.json: everything needed to repeat or resume the run, plus `facts` (T, ...)."""
        payload = self.to_dict() | facts | {"host": socket.gethostname()}
        tmp = Path(run_dir) / "config.json.tmp"
        tmp.write_text(json.dumps(payload, indent=2, default=_jsonable))
        tmp.replace(Path(run_dir) / "config.json")

    @classmethod
    def load(cls, run_dir: Path) -> RunConfig:
        path = Path(run_dir) / "config.json"
        if not path.exists():
            raise ConfigError(f"{path} not found; --resume takes a run folder made by memrl")
        return cls.from_dict(json.loads(path.read_text()))

    def new_run_dir(self) -> Path:
        """logs/<env_type>/<L>/<timestamp>+<pid> (with the SLURM job id when there is one)."""
        root = "debug" if self.debug else self.save_dir
        stamp = time.strftime("%Y-%m-%d-%H-%M-%S")
        job = os.environ.get("SLURM_JOB_ID")
        name = f"{stamp}+{job}-{os.getpid()}" if job else f"{stamp}+{os.getpid()}"
        run_dir = Path(root) / self.env_type / str(self.length) / name
        suffix = 1
        while run_dir.exists():  # two runs started in the same second by one process
            run_dir = run_dir.with_name(f"{name}.{suffix}")
            suffix += 1
        return run_dir

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, set)):
        return list(value)
    return str(value)
