"""Run output: progress.csv (one row per evaluation) and a line per evaluation on the terminal."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any


class ProgressLog:
    """Appends rows to progress.csv; each row is flushed and fsynced so a killed run keeps it.

    The header is fixed by the first row; later rows must carry the same keys.
    """

    def __init__(self, path: Path, echo_rows: bool = False):
        self.path = Path(path)
        self.echo_rows = echo_rows
        self.fieldnames: list[str] | None = None
        self._rows = 0
        if self.path.exists() and self.path.stat().st_size > 0:
            with open(self.path, newline="") as f:
                reader = csv.reader(f)
                self.fieldnames = next(reader, None)
                self._rows = sum(1 for _ in reader)

    def rows_written(self) -> int:
        return self._rows

    @staticmethod
    def truncate(path: Path, rows: int) -> None:
        """Keep the header and the first `rows` rows (a resumed run rewrites the rest).

        Rows after the checkpoint, and a row torn by a kill, are dropped; the file is replaced
        atomically so a second kill cannot leave it half-written.
        """
        path = Path(path)
        if not path.exists():
            return
        lines = path.read_text().splitlines(keepends=True)
        kept = lines[: 1 + rows] if rows > 0 else []
        tmp = path.with_suffix(".csv.tmp")
        tmp.write_text("".join(kept))
        os.replace(tmp, path)

    def write(self, row: dict[str, Any]) -> None:
        if self.fieldnames is None:
            self.fieldnames = list(row)
            with open(self.path, "w", newline="") as f:
                csv.writer(f).writerow(self.fieldnames)
        if set(row) != set(self.fieldnames):
            raise ValueError(f"row keys {sorted(row)} differ from header {self.fieldnames}")
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, self.fieldnames).writerow(row)
            f.flush()
            os.fsync(f.fileno())
        self._rows += 1
        print(self.summary(row), flush=True)
        if self.echo_rows:
            print("  " + "  ".join(f"{k}={_fmt(v)}" for k, v in row.items()), flush=True)

    @staticmethod
    def summary(row: dict[str, Any]) -> str:
        return (
            f"[eval] episodes {row['episodes']:>7d}  env_steps {row['env_steps']:>10d}  "
            f"return {row['return']:7.3f}  success {row['success']:5.2f}  "
            f"fps {row['fps']:8.0f}"
        )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)
