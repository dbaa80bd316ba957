"""GRU agent for vector observations (the reference implementation's GRU: 1 layer, hidden 128):
lstm_default.py's embedders (obs 32, action 16) and window with a GRU in place of the LSTM."""

import runpy
from pathlib import Path

from ml_collections import ConfigDict

HERE = Path(__file__).resolve().parent


def get_config() -> ConfigDict:
    config = runpy.run_path(str(HERE / "lstm_default.py"))["get_config"]()
    config.model.seq_model_config.name = "gru"
    return config
