"""LRU agent for vector observations: lstm_default.py's embedders (obs 32, action 16) and
window, projected to width 128, one LRU block with 128 complex units (~1.2x the LSTM's
parameters)."""

import math
import runpy
from pathlib import Path

from ml_collections import ConfigDict

HERE = Path(__file__).resolve().parent


def get_config() -> ConfigDict:
    config = runpy.run_path(str(HERE / "lstm_default.py"))["get_config"]()
    seq = config.model.seq_model_config = ConfigDict()
    seq.name = "lru"
    seq.width = 128  # residual width = hidden state size
    seq.d_state = 128  # complex units per layer
    seq.n_layer = 1
    # |lambda| starts uniform on the ring [r_min, r_max], its phase in [0, max_phase]: the
    # paper's long-range setting (a unit at 0.999 keeps half an input for ~700 steps).
    seq.r_min = 0.9
    seq.r_max = 0.999
    seq.max_phase = math.pi / 10
    return config
