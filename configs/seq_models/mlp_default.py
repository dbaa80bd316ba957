"""The Markov baseline for vector observations (no memory): lstm_default.py's embedders
(obs 32, action 16) and whole-episode windows, each step through an MLP of its own inputs
(2 layers of 256, about the LSTM's parameter count)."""

import runpy
from pathlib import Path

from ml_collections import ConfigDict

HERE = Path(__file__).resolve().parent


def get_config() -> ConfigDict:
    config = runpy.run_path(str(HERE / "lstm_default.py"))["get_config"]()
    seq = config.model.seq_model_config = ConfigDict()
    seq.name = "mlp"
    seq.hidden_size = 256
    seq.n_layer = 2  # Linear + ReLU layers
    return config
