"""Sequence models. Add one by writing a `SequenceModel` (see base.py) with a
`from_config(cfg, input_size, max_seq_len)` classmethod and one line in `SEQ_MODELS`, plus
configs/seq_models/<name>_default.py and <name>_cnn.py.

The registry names each class as "module:Class", imported when a model is built: reading it
(the names, their order, how plots name them) imports no torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ml_collections import ConfigDict

from memrl.entry_point import load

if TYPE_CHECKING:
    from memrl.nets.seq.base import SequenceModel


@dataclass(frozen=True)
class Registered:
    """A registry line: where the class is, and how plots and tables name the model."""

    target: str  # "module:Class"
    display_name: str

    @property
    def cls(self) -> type[SequenceModel]:
        return load(self.target)


# config_seq.model.seq_model_config.name -> its model, in the order plots and tables list them:
# the paper's two, the reference's GRU, the newer models, the memoryless baseline last.
SEQ_MODELS: dict[str, Registered] = {
    "lstm": Registered("memrl.nets.seq.lstm:LSTM", "LSTM"),
    "gpt": Registered("memrl.nets.seq.gpt:GPT", "GPT"),
    "gru": Registered("memrl.nets.seq.gru:GRU", "GRU"),
    "lru": Registered("memrl.nets.seq.lru:LRU", "LRU"),
    "mamba": Registered("memrl.nets.seq.mamba:Mamba", "Mamba"),
    "mlstm": Registered("memrl.nets.seq.mlstm:MLSTM", "mLSTM"),
    "ffm": Registered("memrl.nets.seq.ffm:FFM", "FFM"),
    "mlp": Registered("memrl.nets.seq.mlp:MLP", "MLP"),
}


def build_seq_model(cfg: ConfigDict, input_size: int, max_seq_len: int) -> SequenceModel:
    """`max_seq_len` is the longest input sequence seen in training (window + 1 prepended step)."""
    if cfg.name not in SEQ_MODELS:
        raise ValueError(
            f"unknown sequence model {cfg.name!r} (config_seq.model.seq_model_config.name); "
            f"choose one of {sorted(SEQ_MODELS)}"
        )
    return SEQ_MODELS[cfg.name].cls.from_config(cfg, input_size, max_seq_len)


__all__ = ["SEQ_MODELS", "Registered", "build_seq_model"]
