"""mLSTM, the matrix-memory LSTM of xLSTM (Beck, Poeppel, Spanring, Auer, Prudnikova, Kopp,
Klambauer, Brandstetter, Hochreiter; "xLSTM: Extended Long Short-Term Memory", NeurIPS 2024).

Each head stores key-value associations in a d x d matrix C and a normaliser vector n:

    C_t = f_t C_{t-1} + i_t v_t k_t^T,   n_t = f_t n_{t-1} + i_t k_t,
    h_t = o_t * C_t q_t / max(|n_t . q_t|, 1)

with a scalar forget gate f_t = sigmoid(f~_t) and an exponential input gate i_t = exp(i~_t) per
head (k scaled by 1 / sqrt(d)). The exponential input gate lets a new input outweigh everything
stored so far, which a sigmoid cannot; to keep exp() finite, C and n are stored divided by
exp(m_t), m_t = max(log f_t + m_{t-1}, i~_t), and the lower bound 1 becomes exp(-m_t). Any
stabiliser gives the same h_t, so the forms below agree to rounding.

Training uses the parallel form: with F_t = sum of log f up to t, step s enters C_t with weight
exp(F_t - F_s + i~_s), a causal (T, T) matrix like attention's, and the state carried in with
weight exp(F_t + m_0); O(T^2) per window. The final state is the same weighted sum at t = T-1.
Acting runs windows of one step, which is the recurrent form: O(d^2) per head and step, the same
at every t. The layer is xLSTM's mLSTM cell in a pre-LayerNorm residual block; as in xLSTM's
block, each head's readout is normalised (before the output gate here), and the block's causal
convolution and up-projection are left out, so the whole state is C, n and m.

Initialisation under every init scheme: xLSTM's gate init (input-independent gates, forget gates
biased open); the other Linear layers PyTorch's default.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from ml_collections import ConfigDict
from torch import nn

from memrl.nets.seq.base import LayerStack

# Per layer: C (B, heads, d, d), n (B, heads, d), m (B, heads), stored divided by exp(m).
LayerState = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


class MLSTMLayer(nn.Module):
    def __init__(self, width: int, n_head: int):
        super().__init__()
        if width % n_head:
            raise ValueError(f"mLSTM width {width} (config_seq.model.seq_model_config.width) is "
                             f"not divisible by n_head = {n_head}; change one")
        self.n_head, self.head_dim = n_head, width // n_head
        self.norm = nn.LayerNorm(width)
        self.qkvo = nn.Linear(width, 4 * width)  # queries, keys, values, output gate
        self.gates = nn.Linear(width, 2 * n_head)  # input and forget gate, one scalar per head
        # xLSTM's gate init: the gates start independent of the input, the forget gates open
        # (sigmoid(3..6) = 0.95..0.998 per step) so memories start long.
        nn.init.zeros_(self.gates.weight)
        with torch.no_grad():
            nn.init.normal_(self.gates.bias[:n_head], std=0.1)
            self.gates.bias[n_head:] = torch.linspace(3.0, 6.0, n_head)
        self.head_norm = nn.Parameter(torch.ones(width))
        self.out_proj = nn.Linear(width, width)

    def initial_state(self, batch_size: int, device: torch.device | str) -> LayerState:
        shape = (batch_size, self.n_head)
        return (torch.zeros(*shape, self.head_dim, self.head_dim, device=device),
                torch.zeros(*shape, self.head_dim, device=device),
                torch.zeros(*shape, device=device))

    def forward(
        self, u: torch.Tensor, state: LayerState | None
    ) -> tuple[torch.Tensor, LayerState]:
        """u: (T, B, width) -> (T, B, width) and the state after the last step."""
        T, B, W = u.shape
        x = self.norm(u)
        q, k, v, o = (z.reshape(T, B, self.n_head, self.head_dim).permute(1, 2, 0, 3)
                      for z in self.qkvo(x).chunk(4, dim=-1))  # (B, heads, T, d)
        i_pre, f_pre = self.gates(x).permute(1, 2, 0).chunk(2, dim=1)  # (B, heads, T)
        # fp32 under bf16 autocast: the gates are exponentiated and the memory sums T inputs.
        with torch.autocast(u.device.type, enabled=False):
            q, k, v = q.float(), k.float() / math.sqrt(self.head_dim), v.float()
            cum_log_f = torch.cumsum(F.logsigmoid(f_pre.float()), dim=-1)  # F_t
            i_pre = i_pre.float()
            # log weight of step s in C_t: F_t - F_s + i~_s for s <= t
            log_w = cum_log_f[..., :, None] - cum_log_f[..., None, :] + i_pre[..., None, :]
            causal = torch.ones(T, T, dtype=torch.bool, device=u.device).tril()
            log_w = log_w.masked_fill(~causal, -math.inf)
            m = log_w.amax(dim=-1)  # (B, heads, T)
            if state is not None:
                c0, n0, m0 = state
                log_w0 = cum_log_f + m0[..., None]  # log weight of the carried-in memory
                m = torch.maximum(m, log_w0)
            w = torch.exp(log_w - m[..., None])  # (B, heads, T, T)
            scores = (q @ k.transpose(-1, -2)) * w
            num, den = scores @ v, scores.sum(-1)  # C_t q_t and n_t . q_t, both / exp(m_t)
            w_last = w[..., -1, :]  # weights of the final state
            c_last = torch.einsum("bhs,bhsv,bhsk->bhvk", w_last, v, k)
            n_last = torch.einsum("bhs,bhsk->bhk", w_last, k)
            if state is not None:
                w0 = torch.exp(log_w0 - m)
                num = num + w0[..., None] * torch.einsum("bhvk,bhtk->bhtv", c0, q)
                den = den + w0 * torch.einsum("bhk,bhtk->bht", n0, q)
                c_last = c_last + w0[..., -1, None, None] * c0
                n_last = n_last + w0[..., -1, None] * n0
            h = num / torch.maximum(den.abs(), torch.exp(-m))[..., None]
        h = F.layer_norm(h, (self.head_dim,)).to(o.dtype) * torch.sigmoid(o)  # (B, heads, T, d)
        h = h.permute(2, 0, 1, 3).reshape(T, B, W) * self.head_norm
        return u + self.out_proj(h), (c_last, n_last, m[..., -1])


class MLSTM(LayerStack):
    leaf_rules: ClassVar[dict[str, str]] = {"n_head": "int >= 1"}

    def __init__(self, input_size: int, width: int = 128, n_head: int = 4, n_layer: int = 1):
        layers = [MLSTMLayer(width, n_head) for _ in range(n_layer)]
        super().__init__(input_size, width, layers, nn.LayerNorm(width))

    @classmethod
    def from_config(cls, cfg: ConfigDict, input_size: int, max_seq_len: int) -> MLSTM:
        return cls(input_size, width=cfg.width, n_head=cfg.n_head, n_layer=cfg.n_layer)
