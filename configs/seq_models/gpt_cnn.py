"""GPT-2 agent for pixel tasks (paper: 1 layer, 1 head; width = CNN obs embedding 100, so
n_head must divide 100): gpt_default.py with the changes in cnn.py."""

import runpy
from pathlib import Path

from ml_collections import ConfigDict


def get_config() -> ConfigDict:
    pixel_config = runpy.run_path(str(Path(__file__).resolve().parent / "cnn.py"))["pixel_config"]
    return pixel_config("gpt_default")
