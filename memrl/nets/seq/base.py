"""The one interface every sequence model implements.

A model runs a window from a state and returns its outputs and the final state (`forward`);
acting runs one step at a time from a state (`step`). States are values: a model never writes
into the state it was given, so a state can be kept, replayed or branched freely. The contract
(tests/test_seq_zoo.py checks it for every registered model):

- `forward(x, None)` starts from the empty state, `initial_state(B, device)`;
- continuing from a returned state equals running the concatenated window:
  `forward(x2, forward(x1, s)[1])[0] == forward(cat(x1, x2), s)[0][len(x1):]`;
- in eval mode, stepping through a window gives the same outputs as running it whole.

Starting from a state is what burn-in and stored-state replay need; today's training starts
every window from the empty state and acting starts each episode from it.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import torch
from ml_collections import ConfigDict
from torch import nn

State = Any  # a model's own pytree of tensors (and ints); opaque to everyone else


class SequenceModel(nn.Module, abc.ABC):
    """Causal map from input vectors (T, B, input_size) to hidden states (T, B, hidden_size)."""

    # The rules of the model's leaves in config_seq.model.seq_model_config (memrl/validate.py
    # collects them, a subclass's added to its bases'); `name` is checked by the registry.
    leaf_rules: ClassVar[dict[str, str]] = {"n_layer": "int >= 1"}
    # Whether bench/precision_study.py found its learning unchanged by bf16 updates (then
    # `--precision auto` takes bf16 on hardware with bf16 matrix units, memrl/precision.py).
    bf16_learns_as_fp32: ClassVar[bool] = False
    input_size: int
    hidden_size: int

    @classmethod
    @abc.abstractmethod
    def from_config(cls, cfg: ConfigDict, input_size: int, max_seq_len: int) -> SequenceModel:
        """Build from config_seq.model.seq_model_config; `max_seq_len` is the longest input
        sequence seen in training (the window plus the zero-prepended step)."""

    @abc.abstractmethod
    def forward(
        self, inputs: torch.Tensor, state: State | None = None
    ) -> tuple[torch.Tensor, State]:
        """Run a window (T, B, input_size) from `state` (None: the empty state); return the
        outputs (T, B, hidden_size) and the state after the last step."""

    @abc.abstractmethod
    def initial_state(self, batch_size: int, device: torch.device | str) -> State:
        """The empty state for `batch_size` new sequences."""

    def initialise(self, scheme: str) -> None:
        """Re-initialise as the agent's init scheme asks (config_rl.init_scheme: "fanin",
        "orthogonal" or "torch", see memrl/nets/init.py). A model whose own paper fixes its
        initialisation keeps it under every scheme: the default does nothing."""

    def step(self, inputs: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One step for acting: (B, input_size) and a state -> (B, hidden_size) and the next
        state. A window of length 1; models override it where a step has a cheaper form."""
        outputs, state = self(inputs.unsqueeze(0), state)
        return outputs.squeeze(0), state


class LayerStack(SequenceModel):
    """The shape the newer models share: a linear projection of the inputs to `width`, layers
    that each map (T, B, width) and their own state to (T, B, width) and their next state
    (`layer(u, state_or_None)`, `layer.initial_state(batch_size, device)`), a final norm."""

    leaf_rules: ClassVar[dict[str, str]] = {"width": "int >= 1"}

    def __init__(self, input_size: int, width: int, layers: list[nn.Module], norm: nn.Module):
        super().__init__()
        self.input_size, self.hidden_size = input_size, width
        self.embed = nn.Linear(input_size, width)
        self.layers = nn.ModuleList(layers)
        self.norm = norm

    def forward(
        self, inputs: torch.Tensor, state: tuple | None = None
    ) -> tuple[torch.Tensor, tuple]:
        # The residual stream stays fp32 under bf16 autocast; the layers' matmuls still use bf16.
        h = self.embed(inputs).float()
        finals = []
        for i, layer in enumerate(self.layers):
            h, layer_state = layer(h, None if state is None else state[i])
            finals.append(layer_state)
        return self.norm(h), tuple(finals)

    def initial_state(self, batch_size: int, device: torch.device | str) -> tuple:
        return tuple(layer.initial_state(batch_size, device) for layer in self.layers)
