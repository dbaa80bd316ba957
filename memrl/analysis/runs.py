"""Find the run folders a trainer left behind and load each into one small record.

A run folder is any folder holding both `progress.csv` and `config.json`, at any depth under
the root (the trainer writes `<root>/<env_type>/<L>/<timestamp>+<pid>/`, but sweeps and
copies move folders around, so the layout is not relied on). What identifies a run (task,
length, sequence model, seed, algorithm) is read from config.json, never from the path.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from memrl.tasks import TASKS

PROGRESS_FILE = "progress.csv"
CONFIG_FILE = "config.json"


@dataclass
class Run:
    path: Path
    env_type: str
    length: int | str  # the task's variant: its length L, or its robot / env id
    seq_model: str
    seed: int
    algo: str
    progress: pd.DataFrame = field(repr=False)
    config: dict[str, Any] = field(repr=False)


def find_run_dirs(root: str | Path) -> list[Path]:
    """Every folder under `root` (itself included) holding progress.csv and config.json."""
    root = Path(root)
    return sorted(p.parent for p in root.rglob(PROGRESS_FILE) if (p.parent / CONFIG_FILE).is_file())


def _lookup(config: dict[str, Any], dotted: str) -> Any:
    node: Any = config
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            raise KeyError(f"{CONFIG_FILE} has no {dotted!r}")
        node = node[key]
    return node


def _variant(config: dict[str, Any]) -> int | str:
    """config_env's variant leaf (the task record's; env_name for tasks memrl does not know)."""
    task = TASKS.get(_lookup(config, "config_env.env_type"))
    value = _lookup(config, f"config_env.{task.variant_key if task else 'env_name'}")
    return value if isinstance(value, str) else int(value)


def load_run(path: str | Path) -> Run:
    """Load one run folder; raises (ValueError, KeyError, OSError) when it cannot be read."""
    path = Path(path)
    with open(path / CONFIG_FILE) as f:
        config = json.load(f)
    progress = pd.read_csv(path / PROGRESS_FILE)
    if "env_steps" not in progress.columns:
        raise KeyError(f"{PROGRESS_FILE} has no 'env_steps' column")
    return Run(
        path=path,
        env_type=str(_lookup(config, "config_env.env_type")),
        length=_variant(config),
        seq_model=str(_lookup(config, "config_seq.model.seq_model_config.name")),
        seed=int(_lookup(config, "flags.seed")),
        algo=str(_lookup(config, "config_rl.algo")),
        progress=progress,
        config=config,
    )


def load_runs(root: str | Path, env_types: list[str] | None = None) -> list[Run]:
    """All readable runs under `root`, optionally only those of the given env types.

    A folder that cannot be read (a half-written file, a config missing a key) is skipped with
    a warning rather than failing the whole analysis: sweeps write while we plot.
    """
    runs = []
    for path in find_run_dirs(root):
        try:
            run = load_run(path)
        except (OSError, ValueError, KeyError, TypeError) as e:  # JSON and CSV errors are ValueErrors
            warnings.warn(f"skipping unreadable run {path}: {e}", stacklevel=2)
            continue
        if env_types is None or run.env_type in env_types:
            runs.append(run)
    return runs
