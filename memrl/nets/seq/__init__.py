"""Sequence models. Add one by writing a `SequenceModel` (see base.py) with a
`from_config(cfg, input_size, max_seq_len)` classmethod and one line in `SEQ_MODELS`, plus
configs/seq_models/<name>_default.py and <name>_cnn.py."""

from __future__ import annotations

from ml_collections import ConfigDict

from memrl.nets.seq.base import SequenceModel
from memrl.nets.seq.ffm import FFM
from memrl.nets.seq.gpt import GPT
from memrl.nets.seq.gru import GRU
from memrl.nets.seq.lru import LRU
from memrl.nets.seq.lstm import LSTM
from memrl.nets.seq.mamba import Mamba
from memrl.nets.seq.mlp import MLP
from memrl.nets.seq.mlstm import MLSTM

# config_seq.model.seq_model_config.name -> class, in the order plots and tables list them:
# the paper's two, the reference's GRU, the newer models, the memoryless baseline last.
SEQ_MODELS: dict[str, type[SequenceModel]] = {
    "lstm": LSTM,
    "gpt": GPT,
    "gru": GRU,
    "lru": LRU,
    "mamba": Mamba,
    "mlstm": MLSTM,
    "ffm": FFM,
    "mlp": MLP,
}


def build_seq_model(cfg: ConfigDict, input_size: int, max_seq_len: int) -> SequenceModel:
    """`max_seq_len` is the longest input sequence seen in training (window + 1 prepended step)."""
    if cfg.name not in SEQ_MODELS:
        raise ValueError(
            f"unknown sequence model {cfg.name!r} (config_seq.model.seq_model_config.name); "
            f"choose one of {sorted(SEQ_MODELS)}"
        )
    return SEQ_MODELS[cfg.name].from_config(cfg, input_size, max_seq_len)


__all__ = ["SEQ_MODELS", "SequenceModel", "build_seq_model"]
