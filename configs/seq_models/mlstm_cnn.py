"""mLSTM agent for pixel tasks: mlstm_default.py with the changes in cnn.py (CNN obs embedding
100, no action or reward input)."""

import runpy
from pathlib import Path

from ml_collections import ConfigDict


def get_config() -> ConfigDict:
    pixel_config = runpy.run_path(str(Path(__file__).resolve().parent / "cnn.py"))["pixel_config"]
    return pixel_config("mlstm_default")
