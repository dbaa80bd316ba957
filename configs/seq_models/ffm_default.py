"""FFM agent for vector observations: lstm_default.py's embedders (obs 32, action 16) and
window, projected to width 128, one FFM layer with 32 decaying traces x 4 frequencies
(~0.9x the LSTM's parameters)."""

import runpy
from pathlib import Path

from ml_collections import ConfigDict

HERE = Path(__file__).resolve().parent


def get_config() -> ConfigDict:
    config = runpy.run_path(str(HERE / "lstm_default.py"))["get_config"]()
    seq = config.model.seq_model_config = ConfigDict()
    seq.name = "ffm"
    seq.width = 128  # hidden state size
    seq.memory_size = 32  # traces with their own decay (m)
    seq.context_size = 4  # frequencies each trace is seen through (c)
    seq.n_layer = 1
    # Initial decays and periods span min_period..max_period steps.
    seq.min_period = 1.0
    seq.max_period = 1024.0
    return config
