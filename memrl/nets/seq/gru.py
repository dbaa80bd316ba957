"""GRU sequence model, the reference implementation's other recurrent network (Cho et al.,
"Learning Phrase Representations using RNN Encoder-Decoder for Statistical Machine
Translation", EMNLP 2014). State: h of every layer; a step costs O(hidden^2) like the LSTM's,
with three gates instead of four and no cell state.

Initialisation under every init scheme: orthogonal weights on each stacked gate matrix and
zero biases, as the main code initialises its recurrent networks.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from ml_collections import ConfigDict
from torch import nn

from memrl.nets.seq.base import SequenceModel
from memrl.nets.seq.lstm import orthogonal_init


class GRU(SequenceModel):
    leaf_rules: ClassVar[dict[str, str]] = {"hidden_size": "int >= 1"}

    def __init__(self, input_size: int, hidden_size: int = 128, n_layer: int = 1):
        super().__init__()
        self.input_size, self.hidden_size, self.n_layer = input_size, hidden_size, n_layer
        self.gru = nn.GRU(input_size, hidden_size, num_layers=n_layer)
        orthogonal_init(self.gru)

    @classmethod
    def from_config(cls, cfg: ConfigDict, input_size: int, max_seq_len: int) -> GRU:
        return cls(input_size, hidden_size=cfg.hidden_size, n_layer=cfg.n_layer)

    def forward(
        self, inputs: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # fp32 under --precision bf16. torch has no bf16 GRU kernel on the CPU (autocast leaves
        # nn.GRU in fp32; oneDNN's bf16 RNN path is the LSTM's only), and a hand-cast bf16 GRU
        # measured 1.25x faster forward+backward at the T-Maze-50 shape (1 thread, AMX Xeon)
        # before paying for bf16 copies of its weights each update: not worth the rounding.
        with torch.autocast(inputs.device.type, enabled=False):
            return self.gru(inputs.float(), state)

    def initial_state(self, batch_size: int, device: torch.device | str) -> torch.Tensor:
        return torch.zeros(self.n_layer, batch_size, self.hidden_size, device=device)
