"""How an agent's networks start: the initialisation schemes of the two original codes (and
CleanRL's, for PPO).

The training dynamics of small RL networks depend on their initial weights, and both codes
of Ni et al. (2023) set their own (config_rl.init_scheme):

- "fanin": the main branch (PyTorch; DQN and SAC-Discrete, Sections 5.1-5.2). Embedders keep
  PyTorch's defaults. Head MLPs (Q heads, the policy head) start as rlkit's `fanin_init`:
  hidden weights uniform in +-1/sqrt(n) with n the weight's FIRST dimension (out_features,
  although the name says fan-in), hidden biases 0.1, the last layer's weights and biases uniform
  in +-`last_bound` (3e-3 for Q heads, 1e-3 for the policy head). The LSTM: orthogonal on each
  whole stacked weight matrix, zero biases.
- "orthogonal": the pybullet_jax branch (flax; TD3 and SAC, Section 5.3). Every dense layer of
  the embedders and heads: orthogonal kernel (gain 1), zero bias. The LSTM: orthogonal per gate
  (flax's OptimizedLSTMCell creates one kernel per gate), zero biases.
- "torch": PyTorch's defaults everywhere (nn.Linear's, nn.LSTM's), for comparison.
- "cleanrl": CleanRL's PPO (ppo_atari_lstm.py; recurrent PPO, memrl/agents/ppo.py). Every dense
  layer of the embedders and heads: orthogonal kernel with gain sqrt(2), zero bias, except a
  head's output layer, whose gain the head gives (`last_gain`: 0.01 for the policy's logits, so
  the first policy is near uniform, 1 for the value). The LSTM: orthogonal on each whole stacked
  matrix (gain 1), zero biases, as CleanRL's (and the main code's).

Sequence models other than the LSTM keep their own papers' initialisations under every scheme
(GPT: GPT-2's N(0, 0.02), in both codes too); `SequenceModel.initialise(scheme)` is where a
model says what a scheme means for it.
"""

from __future__ import annotations

import math

from torch import nn

INIT_SCHEMES = ("fanin", "orthogonal", "torch", "cleanrl")
Q_HEAD_LAST_BOUND = 3e-3  # main branch: the Q heads' last layer
POLICY_HEAD_LAST_BOUND = 1e-3  # main branch: the SAC-D policy head's last layer
CLEANRL_HIDDEN_GAIN = math.sqrt(2)  # CleanRL's layer_init default: ReLU layers


def check_scheme(scheme: str) -> str:
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"unknown config_rl.init_scheme {scheme!r}; choose one of "
                         f"{', '.join(INIT_SCHEMES)} (fanin: the paper's main code, orthogonal: "
                         "its continuous-control code, torch: PyTorch's defaults, cleanrl: "
                         "CleanRL's PPO)")
    return scheme


def fanin_init_(linear: nn.Linear, bias: float = 0.1) -> None:
    """rlkit's fanin_init: weights uniform in +-1/sqrt(weight.shape[0]), the bias constant."""
    bound = 1.0 / math.sqrt(linear.weight.shape[0])
    nn.init.uniform_(linear.weight, -bound, bound)
    nn.init.constant_(linear.bias, bias)


def orthogonal_(linear: nn.Linear, gain: float = 1.0) -> None:
    """flax's Dense with kernel_init orthogonal() and bias_init zeros (CleanRL's layer_init with
    std = gain)."""
    nn.init.orthogonal_(linear.weight, gain)
    nn.init.zeros_(linear.bias)


def torch_default_(linear: nn.Linear) -> None:
    linear.reset_parameters()


def init_head(head: nn.Module, scheme: str, last_bound: float, last_gain: float = 1.0) -> None:
    """A head MLP (its Linear layers in order; the last one outputs Q values, the policy or a
    value). The output layer: uniform in +-`last_bound` under "fanin", orthogonal with gain
    `last_gain` under "cleanrl"."""
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    if scheme == "fanin":
        for linear in linears[:-1]:
            fanin_init_(linear)
        nn.init.uniform_(linears[-1].weight, -last_bound, last_bound)
        nn.init.uniform_(linears[-1].bias, -last_bound, last_bound)
    elif scheme == "cleanrl":
        for linear in linears[:-1]:
            orthogonal_(linear, CLEANRL_HIDDEN_GAIN)
        orthogonal_(linears[-1], last_gain)
    else:
        init = orthogonal_ if scheme == "orthogonal" else torch_default_
        for linear in linears:
            init(linear)


def init_embedders(embedders: list[nn.Module], scheme: str) -> None:
    """Observation, action and reward embedders: orthogonal dense layers in the continuous-
    control code (gain sqrt(2) in CleanRL's); PyTorch's defaults in the main code (the CNN's
    convolutions always)."""
    for module in embedders:
        for linear in (m for m in module.modules() if isinstance(m, nn.Linear)):
            if scheme == "orthogonal":
                orthogonal_(linear)
            elif scheme == "cleanrl":
                orthogonal_(linear, CLEANRL_HIDDEN_GAIN)
            else:
                torch_default_(linear)
