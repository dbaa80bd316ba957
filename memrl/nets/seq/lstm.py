"""LSTM sequence model (the paper's recurrent baseline; Hochreiter and Schmidhuber, "Long
Short-Term Memory", Neural Computation 1997). State: (h, c) of every layer.

Initialisation follows the agent's scheme (`initialise`): the main code orthogonalises each
stacked 4-gate weight matrix, the continuous-control code (flax's OptimizedLSTMCell) each gate's
own kernel; biases are zero in both. Orthogonalising the stack instead of each gate leaves each
gate's block with singular values of about 0.5, not 1.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from ml_collections import ConfigDict
from torch import nn

from memrl.nets.seq.base import SequenceModel


def orthogonal_init(rnn: nn.RNNBase, per_gate: bool = False) -> None:
    """Orthogonal weights and zero biases, as both original codes initialise their recurrent
    networks (PyTorch's default uniform init lets gradients explode or vanish). `per_gate`:
    each gate's (hidden, in) block of a stacked weight is orthogonal on its own."""
    gates = rnn.weight_hh_l0.shape[0] // rnn.hidden_size
    for name, param in rnn.named_parameters():
        if "weight" not in name:
            nn.init.zeros_(param)
        elif per_gate:
            for block in param.data.chunk(gates, dim=0):
                nn.init.orthogonal_(block)
        else:
            nn.init.orthogonal_(param)


class LSTM(SequenceModel):
    leaf_rules: ClassVar[dict[str, str]] = {"hidden_size": "int >= 1"}
    # bench/precision_study.py (DQN on Passive T-Maze 10 and 20 and Active T-Maze 5, 5 seeds;
    # the README's Speed section): per seed bf16 solved the same runs as fp32, at -4 [-18, +6]
    # (L = 10) and -46 [-124, +20] (L = 20) episodes from fp32. (GPT: no significant
    # difference either, but at L = 20 bf16 lost two seeds fp32 solved and won one, final
    # return -0.08 [-0.35, +0.21]; 5 seeds cannot tell, so GPT keeps the default, False.)
    bf16_learns_as_fp32 = True

    def __init__(self, input_size: int, hidden_size: int = 128, n_layer: int = 1):
        super().__init__()
        self.input_size, self.hidden_size, self.n_layer = input_size, hidden_size, n_layer
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers=n_layer)
        orthogonal_init(self.lstm)

    @classmethod
    def from_config(cls, cfg: ConfigDict, input_size: int, max_seq_len: int) -> LSTM:
        return cls(input_size, hidden_size=cfg.hidden_size, n_layer=cfg.n_layer)

    def initialise(self, scheme: str) -> None:
        if scheme == "torch":
            self.lstm.reset_parameters()
        else:
            orthogonal_init(self.lstm, per_gate=scheme == "orthogonal")

    def forward(
        self, inputs: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        # Under --precision bf16, CPU autocast runs the recurrence in bf16 too (oneDNN's
        # mkldnn_rnn_layer; fp32 master weights). CUDA autocast would run cuDNN's LSTM in fp16
        # whatever dtype was asked for, and fp16 gradients underflow without the loss scaling
        # that bf16 training does not use: on CUDA the recurrence stays fp32.
        if inputs.device.type == "cuda":
            with torch.autocast("cuda", enabled=False):
                if state is not None:
                    state = tuple(s.float() for s in state)
                return self.lstm(inputs.float(), state)
        outputs, (h, c) = self.lstm(inputs, state)
        return outputs, (h.float(), c.float())  # states stay fp32 whatever the window ran in

    def initial_state(
        self, batch_size: int, device: torch.device | str
    ) -> tuple[torch.Tensor, torch.Tensor]:
        zeros = torch.zeros(self.n_layer, batch_size, self.hidden_size, device=device)
        return zeros, zeros.clone()
