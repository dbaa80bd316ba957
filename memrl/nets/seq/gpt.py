"""GPT-2 sequence model (the paper's Transformer; Radford et al., "Language Models are
Unsupervised Multitask Learners", 2019), with a key/value cache for acting.

Training runs whole windows through causal self-attention. Acting calls `step` once per env
step; the state keeps each layer's keys and values of the steps so far, so step t costs O(t)
and never re-runs the prefix.

Acting while collecting training episodes runs in train mode, as both original codes do, so
dropout is on: a cached step draws masks for its own computations only (its embedding, its row
of attention weights, its residual branches), and the keys and values of earlier steps keep the
masks they were computed with, as a forward pass with a key/value cache draws them.

Episodes longer than training: the model was trained on windows of at most `max_seq_len`
inputs at positions 0..max_seq_len-1, so past that acting keeps the last `max_seq_len` inputs
and re-bases their positions to 0..max_seq_len-1 at every step, so acting looks like training
(as the paper's continuous-control code does). A cached key would then sit at a new position
at every step, so there the cache is dropped and each step runs the whole window again:
O(max_seq_len^2) per step. With whole-episode training (max_seq_len = T + 1, the paper's
discrete-task setting) acting never gets there.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import ClassVar, NamedTuple

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
    table, so no size has to be chosen in advance."""
    freqs = torch.exp(
        torch.arange(0, dim, 2, device=positions.device, dtype=torch.float32)
        * (-math.log(10000.0) / dim)
    )
    angles = positions.to(torch.float32)[:, None] * freqs  # (P, ceil(dim / 2))
    pe = torch.empty(len(positions), dim, device=positions.device)
    pe[:, 0::2] = torch.sin(angles)
    pe[:, 1::2] = torch.cos(angles[:, : dim // 2])
    return pe


class GPTState(NamedTuple):
    """Acting state of B sequences run in lockstep, n <= max_seq_len steps deep.

    inputs: (B, n, C), the last n inputs (before position encoding);
    keys, values: one (B, n_head, n, head_dim) tensor per layer, of those n inputs at positions
    0..n-1; None once the sequence is longer than max_seq_len (then positions are re-based at
    every step and nothing can be cached).
    """

    inputs: torch.Tensor
    keys: tuple[torch.Tensor, ...] | None
    values: tuple[torch.Tensor, ...] | None


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int, pdrop: float):
        super().__init__()
        self.n_head, self.pdrop = n_head, pdrop
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)
        self.c_proj = nn.Linear(n_embd, n_embd)
        self.resid_drop = Dropout(pdrop)

    def forward(
        self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """x: (B, T, C), the T steps after the keys and values in `past` (B, n_head, P, d);
        returns the output and this layer's keys and values of all P + T steps."""
        B, T, C = x.shape
        q, k, v = (
            z.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
            for z in self.c_attn(x).split(C, dim=2)
        )
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        P = k.shape[2] - T
        # Step P + i attends to steps 0..P + i. One query attends to everything (no mask);
        # with P > 0, is_causal would align the triangle to the top-left, so spell it out.
        mask = None if P == 0 or T == 1 else torch.ones(
            T, P + T, dtype=torch.bool, device=x.device).tril(diagonal=P)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.pdrop if self.training else 0.0,
            is_causal=P == 0 and T > 1,
        )
        return self.resid_drop(self.c_proj(y.transpose(1, 2).reshape(B, T, C))), (k, v)


class Block(nn.Module):
    """GPT-2 block: pre-LayerNorm attention and 4x GELU MLP, each added to the residual.

    Masked attention logits are -inf here (the codes use -1e4): the same softmax in fp32, as
    every row keeps at least its own step."""

    def __init__(self, n_embd: int, n_head: int, pdrop: float):
        super().__init__()
        self.ln_1, self.ln_2 = nn.LayerNorm(n_embd), nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head, pdrop)
        self.mlp = nn.Sequential(
            OrderedDict(
                c_fc=nn.Linear(n_embd, 4 * n_embd),
                gelu=nn.GELU(approximate="tanh"),  # GPT-2's gelu_new, as both codes use
                c_proj=nn.Linear(4 * n_embd, n_embd),
                drop=Dropout(pdrop),
            )
        )

    def forward(
        self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        y, keys_values = self.attn(self.ln_1(x), past)
        x = x + y
        return x + self.mlp(self.ln_2(x)), keys_values


class GPT(SequenceModel):
    """GPT-2 over the concatenated input embeddings; width n_embd = input_size = hidden_size."""

    leaf_rules: ClassVar[dict[str, str]] = {
        "n_head": "int >= 1", "pdrop": "[0, 1)", "position_encoding": "str",
    }

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
        # GPT-2's init as both original codes apply it: every weight N(0, 0.02), c_proj too
        # (without GPT-2's 1/sqrt(2 n_layer) scaling of the residual projections), biases 0,
        # LayerNorms 1 and 0.
        for name, param in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(param)
            elif param.dim() == 2:
                nn.init.normal_(param, mean=0.0, std=0.02)

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
        """x: (B, T, C) at positions start .. start + T - 1."""
        if self.position_encoding == "sine":
            positions = torch.arange(start, start + x.shape[1], device=x.device)
            x = x + sinusoidal_encoding(positions, self.input_size).to(x.dtype)
        return self.embed_drop(x)

    def forward(
        self, inputs: torch.Tensor, state: GPTState | None = None
    ) -> tuple[torch.Tensor, GPTState]:
        x = inputs.transpose(0, 1)  # (B, T, C)
        held = 0 if state is None else state.inputs.shape[1]
        cached = max(0, min(x.shape[1], self.max_seq_len - held))  # steps that fit the window
        outputs = []
        if cached:  # training: the whole window in one causal pass
            y, state = self._extend(x[:, :cached], state)
            outputs.append(y)
        for t in range(cached, x.shape[1]):
            y, state = self._slide(x[:, t], state)
            outputs.append(y[:, None])
        y = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=1)
        return y.transpose(0, 1), state

    def _extend(self, x: torch.Tensor, state: GPTState | None) -> tuple[torch.Tensor, GPTState]:
        """x: (B, T, C), the steps after those in `state`, which all fit in max_seq_len."""
        start = 0 if state is None else state.inputs.shape[1]
        h = self._embed(x, start)
        keys, values = [], []
        for i, block in enumerate(self.blocks):
            h, (k, v) = block(h, None if state is None else (state.keys[i], state.values[i]))
            keys.append(k)
            values.append(v)
        inputs = x if state is None else torch.cat([state.inputs, x], dim=1)
        return self.ln_f(h), GPTState(inputs, tuple(keys), tuple(values))

    def _slide(self, x: torch.Tensor, state: GPTState) -> tuple[torch.Tensor, GPTState]:
        """One step x (B, C) past max_seq_len: the last max_seq_len inputs at positions
        0..max_seq_len-1, as in training."""
        window = torch.cat([state.inputs[:, 1:], x[:, None]], dim=1)
        y, _ = self._extend(window, None)
        return y[:, -1], GPTState(window, None, None)

    def initial_state(self, batch_size: int, device: torch.device | str) -> GPTState:
        head_dim = self.input_size // self.n_head
        dtype = self.ln_f.weight.dtype
        empty = torch.zeros(batch_size, self.n_head, 0, head_dim, device=device, dtype=dtype)
        return GPTState(
            torch.zeros(batch_size, 0, self.input_size, device=device, dtype=dtype),
            (empty,) * self.n_layer,
            (empty,) * self.n_layer,
        )
