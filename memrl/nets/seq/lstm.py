"""LSTM sequence model (the paper's recurrent baseline; Hochreiter and Schmidhuber, "Long
Short-Term Memory", Neural Computation 1997). State: (h, c) of every layer."""

from __future__ import annotations

import torch
from ml_collections import ConfigDict
from torch import nn

from memrl.nets.seq.base import SequenceModel


def orthogonal_init(rnn: nn.RNNBase) -> None:
    """Orthogonal weights and zero biases, as the reference implementation initialises its
    recurrent networks (PyTorch's default uniform init lets gradients explode or vanish)."""
    for name, param in rnn.named_parameters():
        if "weight" in name:
            nn.init.orthogonal_(param)
        else:
            nn.init.zeros_(param)


class LSTM(SequenceModel):
    display_name = "LSTM"

    def __init__(self, input_size: int, hidden_size: int = 128, n_layer: int = 1):
        super().__init__()
        self.input_size, self.hidden_size, self.n_layer = input_size, hidden_size, n_layer
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers=n_layer)
        orthogonal_init(self.lstm)

    @classmethod
    def from_config(cls, cfg: ConfigDict, input_size: int, max_seq_len: int) -> LSTM:
        return cls(input_size, hidden_size=cfg.hidden_size, n_layer=cfg.n_layer)

    def forward(
        self, inputs: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        # Always fp32: oneDNN has no bf16 LSTM on most CPUs, and under --precision bf16 the
        # recurrence is where rounding would accumulate; the heads around it may still use bf16.
        with torch.autocast(inputs.device.type, enabled=False):
            outputs, state = self.lstm(inputs.float(), state)
        return outputs, state

    def initial_state(
        self, batch_size: int, device: torch.device | str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        zeros = torch.zeros(self.n_layer, batch_size, self.hidden_size, device=device)
        return zeros, zeros.clone()
