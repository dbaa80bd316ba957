"""mLSTM agent for vector observations: lstm_default.py's embedders (obs 32, action 16) and
window, projected to width 128, one mLSTM block with 4 heads of 32 x 32 matrix memory
(~1.0x the LSTM's parameters)."""

import runpy
from pathlib import Path

from ml_collections import ConfigDict

HERE = Path(__file__).resolve().parent


def get_config() -> ConfigDict:
    config = runpy.run_path(str(HERE / "lstm_default.py"))["get_config"]()
    seq = config.model.seq_model_config = ConfigDict()
    seq.name = "mlstm"
    seq.width = 128  # residual width = hidden state size
    seq.n_head = 4  # heads, each with a (width / n_head)^2 matrix memory
    seq.n_layer = 1
    return config
