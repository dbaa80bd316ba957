"""LSTM agent for pixel tasks (paper: 1 layer, hidden 128; CNN obs embedding 100, no action
or reward input)."""

import runpy
from pathlib import Path

from ml_collections import ConfigDict

CNN_CONFIG = Path(__file__).resolve().parents[1] / "vis_models" / "cnn_default.py"


def get_config() -> ConfigDict:
    config = ConfigDict()
    config.sampled_seq_len = -1  # training window length; -1 = whole episodes
    config.clip = False  # clip the global gradient norm to max_norm
    config.max_norm = 1.0

    config.model = ConfigDict()
    config.model.seq_model_config = ConfigDict()
    config.model.seq_model_config.name = "lstm"
    config.model.seq_model_config.hidden_size = 128
    config.model.seq_model_config.n_layer = 1

    # The observation embedder is the CNN of configs/vis_models/cnn_default.py; size 0 leaves
    # an input out (one Linear + ReLU otherwise).
    config.model.observ_embedder = runpy.run_path(str(CNN_CONFIG))["get_config"]()
    config.model.action_embedder = ConfigDict()
    config.model.action_embedder.hidden_size = 0
    config.model.reward_embedder = ConfigDict()
    config.model.reward_embedder.hidden_size = 0
    return config
