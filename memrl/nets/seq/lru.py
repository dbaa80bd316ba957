"""Linear Recurrent Unit (Orvieto, Smith, Gu, Fernando, Gulcehre, Pascanu, De; "Resurrecting
Recurrent Neural Networks for Long Sequences", ICML 2023).

Each layer keeps a complex diagonal linear recurrence of N units over its input u_t:

    x_t = lambda * x_{t-1} + gamma * (B u_t),    y_t = Re(C x_t) + D * u_t

- lambda = exp(-exp(nu) + i exp(theta)) has |lambda| < 1 for every (nu, theta), so the
  recurrence is stable by construction, and the log-parameters give well-scaled gradients
  when |lambda| sits close to 1, which is where long memory lives.
- gamma = sqrt(1 - |lambda|^2) (learned from that initial value, as log gamma) normalises the
  input: without it a unit with |lambda| -> 1 would sum ~1 / (1 - |lambda|) inputs and its
  state would blow up.
- |lambda| starts uniform on the ring [r_min, r_max] and its phase uniform in [0, max_phase];
  a ring near 1 and small phases are the paper's setting for long-range tasks.

Being linear in x, a window is one scan (scan.py); the nonlinearity sits between layers, in the
paper's block: pre-LayerNorm, LRU, GELU, a gated linear unit, residual. State: x of every layer
(B, N) complex; a step costs O(N x width) for the B and C projections.

Initialisation under every init scheme: the paper's (lambda on the ring, gamma from it, B and C
variance-preserving); the other Linear layers PyTorch's default.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from ml_collections import ConfigDict
from torch import nn

from memrl.nets.seq.base import LayerStack
from memrl.nets.seq.scan import linear_scan


class LRULayer(nn.Module):
    def __init__(self, width: int, d_state: int, r_min: float, r_max: float, max_phase: float):
        super().__init__()
        # |lambda|^2 uniform on [r_min^2, r_max^2]: uniform over the ring's area.
        radius = torch.sqrt(torch.rand(d_state) * (r_max**2 - r_min**2) + r_min**2)
        self.nu_log = nn.Parameter(torch.log(-torch.log(radius)))
        self.theta_log = nn.Parameter(torch.log(max_phase * torch.rand(d_state).clamp_min(1e-4)))
        self.gamma_log = nn.Parameter(0.5 * torch.log(1 - radius**2))
        # B and C as (real, imaginary) pairs; variance-preserving init for a complex input and a
        # real part of a complex sum.
        self.b = nn.Parameter(torch.randn(2, d_state, width) / math.sqrt(2 * width))
        self.c = nn.Parameter(torch.randn(2, width, d_state) / math.sqrt(d_state))
        self.d = nn.Parameter(torch.randn(width))
        self.norm = nn.LayerNorm(width)
        self.glu = nn.Linear(width, 2 * width)

    def initial_state(self, batch_size: int, device: torch.device | str) -> torch.Tensor:
        return torch.zeros(batch_size, len(self.nu_log), device=device, dtype=torch.complex64)

    def forward(
        self, u: torch.Tensor, x0: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """u: (T, B, width), x0: (B, N) complex or None -> (T, B, width), x_T."""
        v = self.norm(u)
        # The recurrence in fp32 under bf16 autocast: the state sums ~1 / (1 - |lambda|) inputs.
        with torch.autocast(u.device.type, enabled=False):
            v = v.float()
            lam = torch.exp(torch.complex(-torch.exp(self.nu_log), torch.exp(self.theta_log)))
            b = self.b * torch.exp(self.gamma_log)[:, None]
            bu = torch.complex(v @ b[0].T, v @ b[1].T)  # (T, B, N)
            x = linear_scan(lam, bu, x0)
            # Re(C x) = C_re x_re - C_im x_im
            y = x.real @ self.c[0].T - x.imag @ self.c[1].T + self.d * v
        gate_in, gate = self.glu(F.gelu(y)).chunk(2, dim=-1)
        return u + gate_in * torch.sigmoid(gate), x[-1]


class LRU(LayerStack):
    leaf_rules: ClassVar[dict[str, str]] = {
        "d_state": "int >= 1", "r_min": "[0, 1) and <= r_max", "r_max": "(0, 1)",
        "max_phase": "> 0",
    }

    def __init__(
        self,
        input_size: int,
        width: int = 128,
        d_state: int = 128,
        n_layer: int = 1,
        r_min: float = 0.9,
        r_max: float = 0.999,
        max_phase: float = math.pi / 10,
    ):
        layers = [LRULayer(width, d_state, r_min, r_max, max_phase) for _ in range(n_layer)]
        super().__init__(input_size, width, layers, nn.LayerNorm(width))

    @classmethod
    def from_config(cls, cfg: ConfigDict, input_size: int, max_seq_len: int) -> LRU:
        return cls(input_size, width=cfg.width, d_state=cfg.d_state, n_layer=cfg.n_layer,
                   r_min=cfg.r_min, r_max=cfg.r_max, max_phase=cfg.max_phase)
