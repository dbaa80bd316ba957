"""Arguments of `memrl eval`, `plot` and `sweep` (argparse, with every error on one line), and
the formats of values every command reads (DEVICE_NAME).

argparse prints its usage before an error; memrl's rule is one line that says what to change,
so `OneLineParser.error` prints just that (the usage is under --help). The `type=` helpers
refuse values out of range with the reason, which argparse prints after the flag's name
("argument --episodes: must be >= 1, got -3").
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from memrl.files import file_in_the_way

DEVICE_NAME = re.compile(r"auto|cpu|cuda(:\d+)?")  # what --device may say


class ArgumentsError(Exception):
    pass


class OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ArgumentsError(f"{message} (see {self.prog} --help)")

    def parse_or_report(self, argv: list[str] | None) -> argparse.Namespace | None:
        """The arguments, or None after printing the one line that says what is wrong (the
        caller then exits with status 2)."""
        try:
            return self.parse_args(argv)
        except ArgumentsError as err:
            print(f"{self.prog}: error: {err}", file=sys.stderr)
            return None


def _named(name: str, parse: Callable[[str], object]):
    parse.__name__ = name  # argparse's "invalid <name> value: 'x'" uses it
    return parse


def int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value
    return _named("int", parse)


def positive_float(text: str) -> float:
    value = float(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be > 0 and finite, got {text}")
    return value


def device(text: str) -> str:
    if not DEVICE_NAME.fullmatch(text):
        raise argparse.ArgumentTypeError(f"must be auto, cpu or cuda[:N], got {text!r}")
    return text


def output_dir(text: str) -> Path:
    """A folder to write into: existing, or to be made."""
    path = Path(text)
    if (blocker := file_in_the_way(path)) is not None:
        raise argparse.ArgumentTypeError(f"{path}: {blocker} is a file, not a folder")
    return path


def output_file(text: str) -> Path:
    """A file to write (made or replaced)."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder; give a file name in it")
    if (blocker := file_in_the_way(path.parent)) is not None:
        raise argparse.ArgumentTypeError(f"{path}: {blocker} is a file, not a folder")
    return path
