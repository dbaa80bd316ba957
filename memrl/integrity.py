"""Checks that a run's files agree with each other before anything builds on them.

A checkpoint records, besides the training state, a copy of every setting of its run and the
SHA-256 of the progress.csv rows written before it. On resume (and, for the settings, on
eval) these are compared with config.json and progress.csv as they are now, so a file that was
cut short, edited or swapped is refused with the fix instead of being continued: a resumed run
must rewrite exactly the rows an uninterrupted run would have written. And nothing non-finite
is kept as a result: `nonfinite_entries` finds NaN or inf in weights and optimiser state.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

# Where a damaged config.json can be restored from.
SETTINGS_IN_CHECKPOINT = ("every checkpoint holds the run's settings too: torch.load(path, "
                          "weights_only=False)['config']")


class IntegrityError(ValueError):
    """Run files that disagree; the message says which and how to put it right."""


class NonFiniteError(FloatingPointError):
    """Losses, weights or optimiser state turned NaN or inf; the run stops there."""


def nonfinite_entries(tree: Any, prefix: str = "") -> list[str]:
    """Dotted names of the floating-point tensors and arrays in a nested dict/list that hold
    NaN or inf."""
    if isinstance(tree, torch.Tensor):
        finite = not tree.is_floating_point() or bool(torch.isfinite(tree).all())
        return [] if finite else [prefix]
    if isinstance(tree, np.ndarray):
        finite = not np.issubdtype(tree.dtype, np.floating) or bool(np.isfinite(tree).all())
        return [] if finite else [prefix]
    if isinstance(tree, float):
        return [] if np.isfinite(tree) else [prefix]
    items: Iterable = ()
    if isinstance(tree, Mapping):
        items = tree.items()
    elif isinstance(tree, (list, tuple)):
        items = enumerate(tree)
    return [name for key, value in items
            for name in nonfinite_entries(value, f"{prefix}.{key}" if prefix else str(key))]


# ---- progress.csv ----------------------------------------------------------------------------

def _lines(path: Path) -> list[bytes]:
    return Path(path).read_bytes().splitlines(keepends=True)


def rows_digest(path: Path, rows: int) -> str | None:
    """SHA-256 of the header and the first `rows` rows of a progress.csv (None for no rows)."""
    if rows == 0:
        return None
    return hashlib.sha256(b"".join(_lines(path)[: 1 + rows])).hexdigest()


def check_progress(path: Path, rows: int, digest: str | None, checkpoint: Path) -> None:
    """progress.csv must still hold, unchanged, the `rows` rows `checkpoint` was taken after
    (`digest`: their rows_digest; None in checkpoints written before digests existed)."""
    if rows == 0:
        return
    fix = ("restore it from a copy, or start the run again in a new folder (resuming would "
           "give a progress.csv that no single run wrote)")
    name = Path(checkpoint).name
    if not path.exists():
        raise IntegrityError(f"{path} is missing, but {name} was taken after {rows} rows of "
                             f"it; {fix}")
    lines = _lines(path)
    complete = [line for line in lines[: 1 + rows] if line.endswith(b"\n")]
    if len(complete) < 1 + rows:
        whole = max(len(complete) - 1, 0)
        raise IntegrityError(f"{path} holds {whole} whole row{'s' * (whole != 1)}, but {name} "
                             f"was taken after {rows}; {fix}")
    header, *body = csv.reader(io.StringIO(b"".join(complete).decode(errors="replace")))
    for number, row in enumerate(body, start=1):
        if len(row) != len(header):
            raise IntegrityError(f"{path}: row {number} has {len(row)} fields, the header "
                                 f"{len(header)}; {fix}")
    if digest is not None and rows_digest(path, rows) != digest:
        raise IntegrityError(f"{path}: its first {rows} rows differ from those {name} was "
                             f"taken after (edited or damaged); {fix}")


# ---- config.json -----------------------------------------------------------------------------

def settings_copy(run_dict: dict[str, Any]) -> dict[str, Any]:
    """A run's settings as config.json holds them (tuples as lists), for keeping in a
    checkpoint."""
    return json.loads(json.dumps(run_dict, default=str))


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(tree, Mapping):
        return {prefix: tree}
    return {name: value for key, sub in tree.items()
            for name, value in _flatten(sub, f"{prefix}.{key}" if prefix else key).items()}


def check_settings(config_path: Path, settings: dict[str, Any], saved: dict[str, Any] | None,
                   checkpoint: Path, may_differ: Iterable[str] = ()) -> None:
    """config.json (read back as `settings`) must describe the run `checkpoint` was trained as
    (`saved`: the copy it holds; None in checkpoints written before copies were kept).
    `may_differ`: flags a resume may change (the device, the threads)."""
    if saved is None:
        return
    ignore = {f"flags.{name}" for name in may_differ}
    now, then = _flatten(settings_copy(settings)), _flatten(saved)
    for key in sorted((now.keys() | then.keys()) - ignore):
        if now.get(key, KeyError) != then.get(key, KeyError):
            said = "lacks it" if key not in now else f"says {now[key]!r}"
            was = "without it" if key not in then else f"with {then[key]!r}"
            raise IntegrityError(
                f"{config_path} does not describe the run {Path(checkpoint).name} holds: "
                f"{key}: config.json {said}, the checkpoint was trained {was}; restore "
                f"config.json ({SETTINGS_IN_CHECKPOINT})"
            )
