"""Checkpoint files: written atomically (temp file + rename), the newest K kept.

A checkpoint is one torch-saved dict holding everything a run needs to continue exactly where
it stopped: networks, optimisers, replay, every random stream, counters and the number of
progress.csv rows written so far. They live in <run_dir>/checkpoints/ckpt_<episodes>.pt.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

_NAME = re.compile(r"ckpt_(\d+)\.pt")


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first (a temp file left by a kill is not one)."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.fullmatch(p.name))]
    return [p for _, p in sorted(found)]


def save_checkpoint(run_dir: Path, episodes: int, state: dict[str, Any], keep: int) -> Path:
    folder = checkpoint_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ckpt_{episodes}.pt"
    tmp = folder / f".{path.name}.tmp"
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink()
    return path


def load_latest_checkpoint(run_dir: Path) -> dict[str, Any] | None:
    checkpoints = list_checkpoints(run_dir)
    if not checkpoints:
        return None
    return torch.load(checkpoints[-1], map_location="cpu", weights_only=False)
