"""Fast and Forgetful Memory (Morad, Kortvelesy, Liwicki, Prorok; "Reinforcement Learning with
Fast and Forgetful Memory", NeurIPS 2023), a memory model designed for RL.

FFM keeps an m x c complex matrix S of exponentially decaying, oscillating traces of its gated
input: trace j decays at rate alpha_j < 0 and is seen through c frequencies omega_k,

    S_t = gamma * S_{t-1} + (x~_t * g_in,t) (broadcast over the c columns),
    gamma_jk = exp(alpha_j + i omega_k),

so each entry of S is a discounted Fourier-like summary of the inputs: the decays give recency,
the frequencies relative time. The output mixes the real and imaginary parts of S through a
linear layer and a LayerNorm, gated against a linear skip of the input:
y_t = LN(W [Re S_t, Im S_t]) * g_out,t + skip_t * (1 - g_out,t). gamma does not depend on the
input, so a window is one scan (scan.py) and a step one multiply-add, O(m c x width) with the
projections, the same at every t.

Init: the traces fall to `forgotten_at` of an input after periods spaced evenly on a log scale
between min_period and max_period steps; omega_k = 2 pi / period_k for periods spaced linearly
between the same bounds, as in the paper's code. alpha is clamped below zero so |gamma| < 1.
Layers are stacked behind a linear projection of the inputs to `width`. This init holds under
every init scheme; the Linear layers keep PyTorch's default.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from ml_collections import ConfigDict
from torch import nn

from memrl.nets.seq.base import LayerStack
from memrl.nets.seq.scan import linear_scan


class FFMLayer(nn.Module):
    def __init__(self, width: int, memory_size: int, context_size: int, min_period: float,
                 max_period: float, forgotten_at: float = 0.01):
        super().__init__()
        self.width, self.memory_size, self.context_size = width, memory_size, context_size
        # memory input x~, skip, input gate, output gate
        self.pre = nn.Linear(width, 2 * memory_size + 2 * width)
        decay_periods = torch.logspace(math.log10(min_period), math.log10(max_period),
                                       memory_size)
        self.alpha = nn.Parameter(math.log(forgotten_at) / decay_periods)
        self.omega = nn.Parameter(
            2 * math.pi / torch.linspace(min_period, max_period, context_size))
        self.mix = nn.Linear(2 * memory_size * context_size, width)
        self.ln = nn.LayerNorm(width, elementwise_affine=False)

    def initial_state(self, batch_size: int, device: torch.device | str) -> torch.Tensor:
        return torch.zeros(batch_size, self.memory_size, self.context_size, device=device,
                           dtype=torch.complex64)

    def forward(
        self, u: torch.Tensor, state: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """u: (T, B, width), state: S (B, m, c) complex or None -> (T, B, width), S_T."""
        T, B, _ = u.shape
        m, c = self.memory_size, self.context_size
        memory_in, skip, gates = self.pre(u).split([m, self.width, m + self.width], dim=-1)
        in_gate, out_gate = torch.sigmoid(gates).split([m, self.width], dim=-1)
        # fp32 under bf16 autocast: the traces sum up to ~1 / (1 - |gamma|) inputs.
        with torch.autocast(u.device.type, enabled=False):
            gamma = torch.exp(torch.complex(self.alpha.clamp(max=-1e-6)[:, None].expand(m, c),
                                            self.omega.expand(m, c)))
            drive = (memory_in * in_gate).float().to(torch.complex64)[..., None]
            traces = linear_scan(gamma, drive.expand(T, B, m, c), state)  # (T, B, m, c)
            z = self.mix(torch.view_as_real(traces).reshape(T, B, -1))
        return self.ln(z) * out_gate + skip * (1 - out_gate), traces[-1]


class FFM(LayerStack):
    leaf_rules: ClassVar[dict[str, str]] = {
        "memory_size": "int >= 1", "context_size": "int >= 1",
        "min_period": "> 0 and <= max_period", "max_period": "> 0",
    }

    def __init__(self, input_size: int, width: int = 128, memory_size: int = 32,
                 context_size: int = 4, n_layer: int = 1, min_period: float = 1.0,
                 max_period: float = 1024.0):
        layers = [FFMLayer(width, memory_size, context_size, min_period, max_period)
                  for _ in range(n_layer)]
        # No final norm: each layer's output is already a LayerNorm blended with its skip.
        super().__init__(input_size, width, layers, nn.Identity())

    @classmethod
    def from_config(cls, cfg: ConfigDict, input_size: int, max_seq_len: int) -> FFM:
        return cls(input_size, width=cfg.width, memory_size=cfg.memory_size,
                   context_size=cfg.context_size, n_layer=cfg.n_layer,
                   min_period=cfg.min_period, max_period=cfg.max_period)
