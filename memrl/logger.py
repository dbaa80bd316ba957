"""Run output: progress.csv (one row per evaluation), a line per evaluation on the terminal,
optionally TensorBoard scalars, and a progress bar for interactive runs."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from tqdm import tqdm

from memrl.files import append_durable, write_atomic


class ProgressLog:
    """Appends rows to progress.csv; each row is flushed and fsynced so a killed run keeps it,
    and taken back off if that fails (a full disk), so the file holds whole rows only.

    The header is fixed by the first row; later rows must carry the same keys.
    """

    def __init__(self, path: Path, echo_rows: bool = False, tensorboard_dir: Path | None = None):
        self.path = Path(path)
        self.echo_rows = echo_rows
        self.tensorboard = make_tensorboard_writer(tensorboard_dir) if tensorboard_dir else None
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
        lines = path.read_bytes().splitlines(keepends=True)
        write_atomic(path, b"".join(lines[: 1 + rows] if rows > 0 else []))

    def write(self, row: dict[str, Any]) -> None:
        text = io.StringIO(newline="")
        fieldnames = self.fieldnames or list(row)
        if self.fieldnames is None:
            csv.writer(text).writerow(fieldnames)
        if set(row) != set(fieldnames):
            raise ValueError(f"row keys {sorted(row)} differ from header {fieldnames}")
        csv.DictWriter(text, fieldnames).writerow(row)
        append_durable(self.path, text.getvalue().encode())
        self.fieldnames = fieldnames
        self._rows += 1
        # tqdm.write prints above a progress bar without breaking it (and plainly without one).
        tqdm.write(self.summary(row))
        if self.echo_rows:
            tqdm.write("  " + "  ".join(f"{k}={_fmt(v)}" for k, v in row.items()))
        if self.tensorboard is not None:
            for key, value in row.items():
                if key != "env_steps" and isinstance(value, (int, float)):
                    self.tensorboard.add_scalar(key, value, global_step=row["env_steps"])
            self.tensorboard.flush()

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


def make_tensorboard_writer(log_dir: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise ImportError("--tensorboard needs the tensorboard package: "
                          "pip install 'memrl[tensorboard]'") from None
    return SummaryWriter(log_dir=str(log_dir))


def progress_bar(total: int, initial: int, show: bool | None = None, unit: str = "ep") -> tqdm:
    """Episodes (or env steps) done / total with ETA; show=None: only on a terminal (tqdm's
    disable=None)."""
    return tqdm(total=total, initial=initial, unit=unit, disable=None if show is None else not show,
                dynamic_ncols=True, leave=False, desc="train", unit_scale=unit == "step")
