"""GPT-2 agent for vector observations (paper: 1 layer, 1 head, width obs 64 + action 64)."""

from ml_collections import ConfigDict


def get_config() -> ConfigDict:
    config = ConfigDict()
    config.sampled_seq_len = -1  # training window length; -1 = whole episodes
    config.clip = False  # clip the global gradient norm to max_norm
    config.max_norm = 1.0

    config.model = ConfigDict()
    config.model.seq_model_config = ConfigDict()
    config.model.seq_model_config.name = "gpt"
    # The width (n_embd) is the sum of the embedding sizes below.
    config.model.seq_model_config.n_layer = 1
    config.model.seq_model_config.n_head = 1
    config.model.seq_model_config.pdrop = 0.1  # attention, residual and embedding dropout
    config.model.seq_model_config.position_encoding = "sine"  # or "none"

    # Embedders are one Linear + ReLU each; size 0 leaves that input out.
    config.model.observ_embedder = ConfigDict()
    config.model.observ_embedder.name = "mlp"
    config.model.observ_embedder.hidden_size = 64
    config.model.action_embedder = ConfigDict()
    config.model.action_embedder.hidden_size = 64
    config.model.reward_embedder = ConfigDict()
    config.model.reward_embedder.hidden_size = 0
    return config
