"""Things named as "package.module:attribute" and imported the first time they are used.

This is how gymnasium names its envs' entry points, and how memrl's registries (the task
records, the sequence models) point at the code they describe: reading a registry then imports
nothing heavy, so `memrl plot` and `memrl sweep` read the tasks and the models' names without
torch or the games.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any


def load(target: str) -> Any:
    """The object `target` names ("package.module:attribute", the attribute maybe dotted)."""
    module, _, attribute = target.partition(":")
    if not attribute:
        raise ValueError(f"{target!r} is not an entry point; write it package.module:attribute")
    return functools.reduce(getattr, attribute.split("."), importlib.import_module(module))
