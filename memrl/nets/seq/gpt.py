"""GPT-2 sequence model (the paper's Transformer), with a key/value cache for acting.

Training runs whole windows through causal self-attention. Acting calls `step` once per env step;
each layer keeps the keys and values of earlier steps in a `KVCache`, so step t costs O(t) and
never re-runs the prefix.

Episodes longer than training: the model was trained on windows of at most `max_seq_len` steps,
so when acting runs past that the context is cut to the training length, a sliding window over
the most recent `max_seq_len` steps. The cache is a ring buffer of that capacity (step t writes
slot t % max_seq_len). Positions stay absolute: step t is encoded as position t however long the
episode, since the sinusoidal table extends to any index. With absolute positions attention does
not care in which slot a key sits, so the ring needs no reordering.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import NamedTuple

import torch
import torch.nn.functional as F
from ml_collections import ConfigDict
from torch import nn

from memrl.nets.dropout import Dropout
from memrl.nets.seq.base import SequenceModel

POSITION_ENCODINGS = ("sine", "none")


def sinusoidal_encoding(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """The standard table, computed for any positions: pe[p, 2i] = sin(p / 10000^(2i/dim)),
    pe[p, 2i+1] = cos(p / 10000^(2i/dim)). Computed on the fly rather than looked up in a fixed
    table, so acting past the training length needs no special case."""
    freqs = torch.exp(
        torch.arange(0, dim, 2, device=positions.device, dtype=torch.float32)
        * (-math.log(10000.0) / dim)
    )
    angles = positions.to(torch.float32)[:, None] * freqs  # (P, ceil(dim / 2))
    pe = torch.empty(len(positions), dim, device=positions.device)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : dim // 2])
    return pe


class KVCache(NamedTuple):
    """Acting state for B sequences run in lockstep.

    keys, values: (n_layer, B, n_head, capacity, head_dim) ring buffers, capacity = max_seq_len;
    t: steps taken so far (the absolute position of the next step). `step` writes into the
    buffers in place and returns a new KVCache over the same buffers, so a state must not be
    stepped twice (clone its tensors to branch).
    """

    keys: torch.Tensor
    values: torch.Tensor
    t: int

    @property
    def length(self) -> int:
        """Number of past steps the next step attends to (besides itself)."""
        return min(self.t, self.keys.shape[3])


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int, pdrop: float):
        super().__init__()
        self.n_head, self.pdrop = n_head, pdrop
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.resid_drop = Dropout(pdrop)

    def forward(
        self,
        x: torch.Tensor,
        cache: tuple[torch.Tensor, torch.Tensor, int, int] | None = None,
    ) -> torch.Tensor:
        """x: (B, T, C). With `cache` = (keys, values, slot, n) of this layer, x is one step
        (T = 1): its key/value go to `slot` and it attends to the first n slots (all in the past
        or itself, so no mask)."""
        B, T, C = x.shape
        q, k, v = (
            z.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            for z in self.c_attn(x).split(C, dim=2)
        )
        if cache is not None:
            keys, values, slot, n = cache
            keys[:, :, slot], values[:, :, slot] = k[:, :, 0], v[:, :, 0]
            k, v = keys[:, :, :n], values[:, :, :n]
        y = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.pdrop if self.training else 0.0, is_causal=cache is None
        )
        return self.resid_drop(self.c_proj(y.transpose(1, 2).reshape(B, T, C)))


class Block(nn.Module):
    """GPT-2 block: pre-LayerNorm attention and 4x GELU MLP, each added to the residual."""

    def __init__(self, n_embd: int, n_head: int, pdrop: float):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(n_embd), nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, pdrop)
        self.mlp = nn.Sequential(
            OrderedDict(
                c_fc=nn.Linear(n_embd, 4 * n_embd),
                gelu=nn.GELU(),
                c_proj=nn.Linear(4 * n_embd, n_embd),
                drop=Dropout(pdrop),
            )
        )

    def forward(self, x: torch.Tensor, cache=None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache)
        return x + self.mlp(self.ln_2(x))


class GPT(SequenceModel):
    """GPT-2 over the concatenated input embeddings; width n_embd = input_size = hidden_size."""

    def __init__(
        self,
        input_size: int,
        max_seq_len: int,
        n_layer: int = 1,
        n_head: int = 1,
        pdrop: float = 0.1,
        position_encoding: str = "sine",
    ):
        super().__init__()
        if input_size % n_head:
            raise ValueError(
                f"GPT width n_embd = input_size = {input_size} (the sum of the embedder sizes, "
                "config_seq.model.{observ,action,reward}_embedder.hidden_size) is not divisible "
                f"by n_head = {n_head} (config_seq.model.seq_model_config.n_head); change one"
            )
        if position_encoding not in POSITION_ENCODINGS:
            raise ValueError(
                f"unknown position_encoding {position_encoding!r} "
                f"(config_seq.model.seq_model_config.position_encoding); "
                f"choose one of {POSITION_ENCODINGS}"
            )
        self.input_size = self.hidden_size = input_size
        self.max_seq_len, self.n_layer, self.n_head = max_seq_len, n_layer, n_head
        self.position_encoding = position_encoding
        self.embed_drop = Dropout(pdrop)
        self.blocks = nn.ModuleList(Block(input_size, n_head, pdrop) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(input_size)
        # GPT-2 init; the residual projections are scaled down so the residual stream's variance
        # does not grow with depth.
        for name, param in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(param)
            elif param.dim() == 2:
                std = 0.02 / math.sqrt(2 * n_layer) if name.endswith("c_proj.weight") else 0.02
                nn.init.normal_(param, mean=0.0, std=std)

    @classmethod
    def from_config(cls, cfg: ConfigDict, input_size: int, max_seq_len: int) -> GPT:
        return cls(
            input_size,
            max_seq_len,
            n_layer=cfg.n_layer,
            n_head=cfg.n_head,
            pdrop=cfg.pdrop,
            position_encoding=cfg.position_encoding,
        )

    def _embed(self, x: torch.Tensor, start: int) -> torch.Tensor:
        """x: (B, T, C) at absolute positions start .. start + T - 1."""
        if self.position_encoding == "sine":
            positions = torch.arange(start, start + x.shape[1], device=x.device)
            x = x + sinusoidal_encoding(positions, self.input_size).to(x.dtype)
        return self.embed_drop(x)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = self._embed(inputs.transpose(0, 1), start=0)
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x).transpose(0, 1)

    def initial_state(self, batch_size: int, device: torch.device | str) -> KVCache:
        head_dim = self.input_size // self.n_head
        shape = (self.n_layer, batch_size, self.n_head, self.max_seq_len, head_dim)
        dtype = self.ln_f.weight.dtype
        return KVCache(
            torch.zeros(shape, device=device, dtype=dtype),
            torch.zeros(shape, device=device, dtype=dtype),
            0,
        )

    def step(self, inputs: torch.Tensor, state: KVCache) -> tuple[torch.Tensor, KVCache]:
        """For acting, under torch.no_grad (the cache is written in place)."""
        keys, values, t = state
        slot, n = t % self.max_seq_len, min(t + 1, self.max_seq_len)
        x = self._embed(inputs[:, None], start=t)
        for i, block in enumerate(self.blocks):
            x = block(x, (keys[i], values[i], slot, n))
        return self.ln_f(x)[:, 0], KVCache(keys, values, t + 1)
