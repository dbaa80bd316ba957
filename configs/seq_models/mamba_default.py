"""Mamba agent for vector observations: lstm_default.py's embedders (obs 32, action 16) and
window, projected to width 64, two Mamba layers (d_inner 128, state 16; ~0.75x the LSTM's
parameters: the (T, B, d_inner, state) scan tensors, not the weights, are what cost here)."""

import runpy
from pathlib import Path

from ml_collections import ConfigDict

HERE = Path(__file__).resolve().parent


def get_config() -> ConfigDict:
    config = runpy.run_path(str(HERE / "lstm_default.py"))["get_config"]()
    seq = config.model.seq_model_config = ConfigDict()
    seq.name = "mamba"
    seq.width = 64  # residual width = hidden state size
    seq.d_state = 16  # SSM state per channel (N)
    seq.d_conv = 4  # causal depthwise convolution length
    seq.expand = 2  # d_inner = expand x width
    seq.n_layer = 2
    return config
