"""Mamba, the selective state-space model (Gu and Dao, "Mamba: Linear-Time Sequence Modeling
with Selective State Spaces", 2023), in plain PyTorch: no CUDA kernels, so it runs anywhere.

Each layer (pre-RMSNorm, residual) projects its input to two branches of width d_inner:
- x: a causal depthwise convolution over the last d_conv steps, SiLU, then the selective SSM:
  per channel, an N-dimensional state h_t = exp(delta_t A) h_{t-1} + delta_t B_t x_t read out as
  y_t = C_t . h_t + D x_t, where the step size delta_t (softplus of a low-rank projection) and
  B_t, C_t are functions of the input. That selectivity is what sets Mamba apart from earlier
  linear SSMs: a large delta_t resets the channel onto the current input, a small one keeps it.
- z: a gate, y * SiLU(z), then a projection back to the width.
A is diagonal and negative (-exp(A_log), initialised to -1..-N, the S4D-real values), so the
recurrence decays; delta's bias is initialised so delta starts between dt_min and dt_max.

Training runs the SSM over the window with a scan (scan.py); acting carries, per layer, the last
d_conv - 1 convolution inputs and the SSM state h: a step costs O(d_inner x N + width x d_inner),
the same at every t. The (T, B, d_inner, N) tensors of the scan are what make this slower than
the fused CUDA kernel, which never writes them to memory.

Initialisation under every init scheme: the paper's (A as S4D-real, delta's bias and dt_proj as
above); the other Linear layers PyTorch's default.
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

# Per layer: the last d_conv - 1 conv inputs (d_conv - 1, B, d_inner) and h (B, d_inner, N).
LayerState = tuple[torch.Tensor, torch.Tensor]


class RMSNorm(nn.Module):
    """x / rms(x) * weight, Mamba's norm (written out: nn.RMSNorm needs torch 2.4)."""

    def __init__(self, width: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class MambaLayer(nn.Module):
    def __init__(self, width: int, d_state: int, d_conv: int, expand: int, n_layer: int,
                 dt_min: float = 1e-3, dt_max: float = 0.1):
        super().__init__()
        d_inner = expand * width
        self.d_inner, self.d_state, self.d_conv = d_inner, d_state, d_conv
        self.dt_rank = math.ceil(width / 16)
        self.norm = RMSNorm(width)
        self.in_proj = nn.Linear(width, 2 * d_inner, bias=False)
        # Depthwise causal conv, as nn.Conv1d(d_inner, d_inner, d_conv, groups=d_inner) would
        # be initialised; kept as a weight so a step can apply it to its carried window.
        bound = 1 / math.sqrt(d_conv)
        self.conv_weight = nn.Parameter(torch.empty(d_conv, d_inner).uniform_(-bound, bound))
        self.conv_bias = nn.Parameter(torch.empty(d_inner).uniform_(-bound, bound))
        self.x_proj = nn.Linear(d_inner, self.dt_rank + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(self.dt_rank, d_inner)
        nn.init.uniform_(self.dt_proj.weight, -self.dt_rank**-0.5, self.dt_rank**-0.5)
        dt = torch.exp(torch.rand(d_inner) * (math.log(dt_max) - math.log(dt_min))
                       + math.log(dt_min)).clamp_min(1e-4)
        with torch.no_grad():  # softplus(bias) = dt
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1.0)).repeat(d_inner, 1))
        self.D = nn.Parameter(torch.ones(d_inner))
        self.out_proj = nn.Linear(d_inner, width, bias=False)
        with torch.no_grad():  # GPT-2's rescaling: the residual stream's variance stays put
            self.out_proj.weight /= math.sqrt(n_layer)

    def initial_state(self, batch_size: int, device: torch.device | str) -> LayerState:
        return (torch.zeros(self.d_conv - 1, batch_size, self.d_inner, device=device),
                torch.zeros(batch_size, self.d_inner, self.d_state, device=device))

    def forward(
        self, u: torch.Tensor, state: LayerState | None
    ) -> tuple[torch.Tensor, LayerState]:
        """u: (T, B, width) -> (T, B, width) and the state after the last step."""
        T, B, _ = u.shape
        x, z = self.in_proj(self.norm(u)).chunk(2, dim=-1)  # (T, B, d_inner) each
        past = (x.new_zeros(self.d_conv - 1, B, self.d_inner) if state is None
                else state[0].to(x.dtype))
        window = torch.cat([past, x])  # the conv sees d_conv - 1 steps before the first
        conv = self.conv_bias + sum(
            self.conv_weight[k] * window[k : k + T] for k in range(self.d_conv)
        )
        x = F.silu(conv)
        dt, b, c = self.x_proj(x).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        delta = F.softplus(self.dt_proj(dt))  # (T, B, d_inner)
        # The SSM in fp32 under bf16 autocast: exp(delta A) and the state accumulate over T.
        with torch.autocast(u.device.type, enabled=False):
            delta, x, b, c = delta.float(), x.float(), b.float(), c.float()
            decay = torch.exp(delta[..., None] * -torch.exp(self.A_log))  # (T, B, d_inner, N)
            drive = (delta * x)[..., None] * b[:, :, None, :]
            h = linear_scan(decay, drive, None if state is None else state[1])
            y = (h @ c[..., None]).squeeze(-1) + self.D * x  # C_t . h_t per channel
        y = y * F.silu(z)
        return u + self.out_proj(y), (window[T:], h[-1])


class Mamba(LayerStack):
    leaf_rules: ClassVar[dict[str, str]] = {
        "d_state": "int >= 1", "d_conv": "int >= 1", "expand": "int >= 1",
    }

    def __init__(self, input_size: int, width: int = 64, d_state: int = 16, d_conv: int = 4,
                 expand: int = 2, n_layer: int = 2):
        layers = [MambaLayer(width, d_state, d_conv, expand, n_layer) for _ in range(n_layer)]
        super().__init__(input_size, width, layers, RMSNorm(width))

    @classmethod
    def from_config(cls, cfg: ConfigDict, input_size: int, max_seq_len: int) -> Mamba:
        return cls(input_size, width=cfg.width, d_state=cfg.d_state, d_conv=cfg.d_conv,
                   expand=cfg.expand, n_layer=cfg.n_layer)
