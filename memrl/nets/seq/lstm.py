"""LSTM sequence model (the paper's recurrent baseline)."""

from __future__ import annotations

import torch
from ml_collections import ConfigDict
from torch import nn

from memrl.nets.seq.base import SequenceModel


class LSTM(SequenceModel):
    def __init__(self, input_size: int, hidden_size: int = 128, n_layer: int = 1):
        super().__init__()
        self.input_size, self.hidden_size, self.n_layer = input_size, hidden_size, n_layer
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers=n_layer)
        # Orthogonal weights and zero biases, as the reference implementation initialises.
        for name, param in self.lstm.named_parameters():
            if "weight" in name:
                nn.init.orthogonal_(param)
            else:
                nn.init.zeros_(param)

    @classmethod
    def from_config(cls, cfg: ConfigDict, input_size: int, max_seq_len: int) -> LSTM:
        return cls(input_size, hidden_size=cfg.hidden_size, n_layer=cfg.n_layer)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        # Under --precision bf16, CPU autocast runs the recurrence in bf16 too (oneDNN's
        # mkldnn_rnn_layer; fp32 master weights). CUDA autocast would run cuDNN's LSTM in fp16
        # whatever dtype was asked for, and fp16 gradients underflow without the loss scaling
        # that bf16 training does not use: on CUDA the recurrence stays fp32.
        if inputs.device.type == "cuda":
            with torch.autocast("cuda", enabled=False):
                outputs, _ = self.lstm(inputs.float())
        else:
            outputs, _ = self.lstm(inputs)
        return outputs

    def initial_state(self, batch_size: int, device: torch.device | str):
        zeros = torch.zeros(self.n_layer, batch_size, self.hidden_size, device=device)
        return zeros, zeros.clone()

    def step(self, inputs: torch.Tensor, state):
        output, state = self.lstm(inputs.unsqueeze(0), state)
        return output.squeeze(0), state
