"""The Markov baseline: no memory, each step sees only its own inputs (a_{t-1}, r_{t-1}, o_t).

The reference implementation's `mlp_default` agent; whatever it scores is what can be done
without remembering, so its curve is the measured memoryless line next to the analytic one
(T-Maze 0.5). It runs through the same sequence-model interface with an empty state, so it
trains on the same whole-episode batches as the memory models and differs from them in memory
alone (the reference trains its Markov agent on single transitions, `sampled_seq_len 1`).
Cost per step: O(width^2), the same at every t. Its Linear layers keep PyTorch's default under
every init scheme.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from ml_collections import ConfigDict
from torch import nn

from memrl.nets.embedders import mlp
from memrl.nets.seq.base import SequenceModel


class MLP(SequenceModel):
    leaf_rules: ClassVar[dict[str, str]] = {"hidden_size": "int >= 1"}

    def __init__(self, input_size: int, hidden_size: int = 256, n_layer: int = 2):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        # n_layer Linear + ReLU layers (the last ReLU too: the heads expect a hidden state).
        self.net = nn.Sequential(mlp(input_size, (hidden_size,) * (n_layer - 1), hidden_size),
                                 nn.ReLU())

    @classmethod
    def from_config(cls, cfg: ConfigDict, input_size: int, max_seq_len: int) -> MLP:
        return cls(input_size, hidden_size=cfg.hidden_size, n_layer=cfg.n_layer)

    def forward(
        self, inputs: torch.Tensor, state: tuple | None = None
    ) -> tuple[torch.Tensor, tuple]:
        return self.net(inputs), ()

    def initial_state(self, batch_size: int, device: torch.device | str) -> tuple:
        return ()
