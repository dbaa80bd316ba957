"""Checkpoint files: written atomically (temp file + rename), verified on load, the newest K kept.

A checkpoint is one torch-saved dict holding everything a run needs to continue exactly where
it stopped: networks, optimisers, replay, every random stream, counters and the number of
progress.csv rows written so far. They live in <run_dir>/checkpoints/ckpt_<episodes>.pt, each
with its SHA-256 beside it in ckpt_<episodes>.pt.sha256 (the format of `sha256sum`, so
`sha256sum -c` checks them too). torch.load notices a truncated or empty file, but not flipped
bytes inside a tensor; the digest does. SHA-256 runs at ~500 MB/s on a 2-core EPYC: a
checkpoint with a full Visual Match replay (150 MiB) took 2.2 s to write instead of 1.8 s and
1.4 s to verify and load instead of 1.1 s (T-Maze 50, 36 MiB: 0.42 vs 0.36 s, 0.26 vs 0.12 s),
once per --checkpoint_interval (10 minutes by default).

A checkpoint that fails to load is passed over for the one before it, and the caller is told
which and why: a run resumes, and `memrl eval` plays, from the newest checkpoint that is whole.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from memrl.files import temp_path, write_atomic, writing

_NAME = re.compile(r"ckpt_(\d+)\.pt")
DIGEST_SUFFIX = ".sha256"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message says which file and why."""


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first (a temp file left by a kill is not one)."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.fullmatch(p.name))]
    return [p for _, p in sorted(found)]


def digest_path(path: Path) -> Path:
    return path.with_name(path.name + DIGEST_SUFFIX)


class _HashingWriter:
    """A write-only stream that hashes what passes through it, so torch.save's bytes are
    digested as they are written rather than read back. It keeps the first write error: torch
    reports a failed write as a RuntimeError of its own ("unexpected pos"), hiding the disk's."""

    def __init__(self, f, digest):
        self.f, self.digest = f, digest
        self.error: OSError | None = None

    def write(self, data) -> int:
        self.digest.update(data)
        try:
            return self.f.write(data)
        except OSError as err:
            self.error = self.error or err
            raise

    def flush(self) -> None:
        self.f.flush()


def save_checkpoint(run_dir: Path, episodes: int, state: dict[str, Any], keep: int) -> Path:
    """Write ckpt_<episodes>.pt and its digest, then drop all but the newest `keep`.

    The order makes every moment safe to be killed at: the data goes to a temp file first; an
    existing checkpoint of the same name is removed before the new digest is written (so a
    digest never sits beside a file it does not describe); the rename comes last. A failed
    write (disk full) raises RunFileError and leaves the older checkpoints as they were.
    """
    folder = checkpoint_dir(run_dir)
    path = folder / f"ckpt_{episodes}.pt"
    tmp = temp_path(path)
    digest = hashlib.sha256()
    with writing(path):
        folder.mkdir(parents=True, exist_ok=True)
        try:
            with open(tmp, "wb") as f:
                writer = _HashingWriter(f, digest)
                try:
                    torch.save(state, writer)
                except RuntimeError:
                    if writer.error is None:
                        raise
                    raise writer.error from None
                f.flush()
                os.fsync(f.fileno())
            path.unlink(missing_ok=True)
            write_atomic(digest_path(path), f"{digest.hexdigest()}  {path.name}\n")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        for old in list_checkpoints(run_dir)[:-keep]:
            old.unlink()
            digest_path(old).unlink(missing_ok=True)
    return path


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def load_checkpoint(path: Path) -> dict[str, Any]:
    """The state in `path`, after checking it against its digest (checkpoints written before
    digests existed are only checked by torch.load). Raises CheckpointError."""
    path = Path(path)
    try:
        recorded = digest_path(path).read_text().split()[0] if digest_path(path).exists() else None
        if recorded is not None and file_digest(path) != recorded:
            raise CheckpointError(f"{path} is damaged (its SHA-256 differs from "
                                  f"{digest_path(path).name})")
        state = torch.load(path, map_location="cpu", weights_only=False)
    except CheckpointError:
        raise
    except Exception as err:  # torch.load fails in many ways on a damaged file
        raise CheckpointError(f"{path} cannot be read ({type(err).__name__}: "
                              f"{str(err).splitlines()[0] if str(err) else 'empty'})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} does not hold a memrl checkpoint")
    return state


@dataclass
class LoadedCheckpoint:
    state: dict[str, Any]
    path: Path
    passed_over: list[tuple[Path, str]] = field(default_factory=list)  # newer ones, and why


def load_latest_checkpoint(
    run_dir: Path, check: Callable[[dict[str, Any], Path], None] | None = None
) -> LoadedCheckpoint | None:
    """The newest checkpoint that loads (and passes `check`, which raises CheckpointError);
    None when the run has none. Raises CheckpointError when none of them can be used."""
    passed_over: list[tuple[Path, str]] = []
    for path in reversed(list_checkpoints(run_dir)):
        try:
            state = load_checkpoint(path)
            if check is not None:
                check(state, path)
        except CheckpointError as err:
            passed_over.append((path, str(err)))
            continue
        return LoadedCheckpoint(state, path, passed_over)
    if passed_over:
        raise CheckpointError(f"no usable checkpoint in {checkpoint_dir(run_dir)}: "
                              f"{'; '.join(reason for _, reason in passed_over)}")
    return None
