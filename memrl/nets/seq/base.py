"""The one interface every sequence model implements.

Training runs a whole window at once (`forward`), acting runs one step at a time with a carried
state (`step`: the LSTM's (h, c), the GPT's key/value cache). Both start from the same empty
state at the first step of the window, so, in eval mode, stepping through a sequence gives the
same outputs as running it whole (tests/test_seq_models.py checks this for every model).
"""

from __future__ import annotations

import abc
from typing import Any

import torch
from torch import nn

State = Any


class SequenceModel(nn.Module, abc.ABC):
    """Causal map from input vectors (T, B, input_size) to hidden states (T, B, hidden_size)."""

    input_size: int
    hidden_size: int

    @abc.abstractmethod
    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Whole-sequence pass from the empty state: (T, B, input_size) -> (T, B, hidden_size)."""

    @abc.abstractmethod
    def initial_state(self, batch_size: int, device: torch.device | str) -> State:
        """The empty state for `batch_size` new sequences."""

    @abc.abstractmethod
    def step(self, inputs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One step: (B, input_size) and a state -> (B, hidden_size) and the next state."""
