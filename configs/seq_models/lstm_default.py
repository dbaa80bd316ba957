"""LSTM agent for vector observations (paper: 1 layer, hidden 128; obs 32, action 16)."""

from ml_collections import ConfigDict


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

    # Embedders are one Linear + ReLU each; size 0 leaves that input out.
    config.model.observ_embedder = ConfigDict()
    config.model.observ_embedder.name = "mlp"
    config.model.observ_embedder.hidden_size = 32
    config.model.action_embedder = ConfigDict()
    config.model.action_embedder.hidden_size = 16
    config.model.reward_embedder = ConfigDict()
    config.model.reward_embedder.hidden_size = 0
    return config
