"""Writing run files so that a failed write leaves the previous version whole.

A disk that fills up, a folder made read-only or a quota reached can stop any write half-way.
Each of a run's files is therefore written one of two ways, and a failure becomes one
`RunFileError` that names the file:
- `write_atomic`: a whole file (config.json, summary.json, a checkpoint's digest, a shortened
  progress.csv) goes to a temp file beside it, is flushed to disk, then renamed over the old
  one, so readers and a later resume see either the old file or the new one;
- `append_durable`: a row appended to progress.csv is flushed to disk, and taken back off
  again if that fails, so the file never ends in half a row written by a live run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path


class RunFileError(Exception):
    """A run file could not be written; the previous version of it is intact."""

    def __init__(self, path: Path, err: OSError):
        self.path = Path(path)
        super().__init__(f"could not write {path}: {err.strerror or err}")


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """Report an OSError raised inside as a RunFileError naming `path`."""
    try:
        yield
    except OSError as err:
        raise RunFileError(path, err) from err


def file_in_the_way(path: Path) -> Path | None:
    """`path` itself or the nearest existing path above it, where that is a file: then no
    folder can be made at `path`."""
    for candidate in (Path(path).absolute(), *Path(path).absolute().parents):
        if candidate.exists():
            return None if candidate.is_dir() else candidate
    return None


def temp_path(path: Path) -> Path:
    """Where `path` is written before it is renamed into place (a dot file: listings skip it)."""
    return path.with_name(f".{path.name}.tmp")


def write_atomic(path: Path, data: str | bytes) -> None:
    path = Path(path)
    tmp = temp_path(path)
    with writing(path):
        try:
            with open(tmp, "wb") as f:
                f.write(data.encode() if isinstance(data, str) else data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def append_durable(path: Path, data: bytes) -> None:
    path = Path(path)
    with writing(path):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            except OSError:
                with suppress(OSError):  # the disk that refused the row may refuse this too
                    os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)
