"""What every algorithm shares: the env facts it needs, batches on the device, optimiser steps.

An agent is a `torch.nn.Module` with four jobs: `initial_state(n)` for n new episodes,
`act(...)` for one step of n episodes (returns numpy actions and the next memory state),
`update(batch)` for one gradient step (returns metrics as 0-d tensors, so nothing waits on the
device until the trainer logs), and `state_dict()` covering networks, optimisers and counters.
It states which action spaces it handles (`action_spaces`), which command-line switches it
accepts (`switches`, read from its rl config), and which schedule values it wants logged
(`schedule_values()`: epsilon, exploration noise, temperature).
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from ml_collections import ConfigDict
from torch import nn

from memrl.nets.init import check_scheme
from memrl.replay import Batch


@dataclass(frozen=True)
class EnvSpec:
    """The facts about a task an agent is built from (and nothing else about the env)."""

    observation_space: gym.spaces.Box
    action_space: gym.Space
    max_episode_steps: int
    image_shape: tuple[int, int, int] | None = None

    @classmethod
    def of(cls, env: Any) -> EnvSpec:
        return cls(env.observation_space, env.action_space, env.max_episode_steps,
                   env.image_shape)

    @property
    def obs_size(self) -> int:
        return int(np.prod(self.observation_space.shape))

    @property
    def num_actions(self) -> int:
        """Discrete spaces: the number of actions."""
        return int(self.action_space.n)

    @property
    def action_dim(self) -> int:
        """Box spaces: the length of the action vector."""
        return int(np.prod(self.action_space.shape))


@dataclass(frozen=True)
class TrainSpec:
    """The facts about the run an agent's schedules need."""

    train_episodes: int
    sampled_seq_len: int  # -1 = whole episodes

    def max_seq_len(self, episode_length: int) -> int:
        """Longest input sequence in training: the window plus the step before it."""
        window = episode_length if self.sampled_seq_len == -1 else self.sampled_seq_len
        return window + 1


class Agent(nn.Module, abc.ABC):
    device: torch.device
    metric_names: tuple[str, ...]  # the keys update() returns, in the order they are logged
    autocast_dtype: torch.dtype | None = None  # set by set_execution(precision="bf16")
    # The action spaces the algorithm handles, and the switches (--shared_encoder,
    # --freeze_critic, --freeze_all) it accepts, as leaves of its rl config.
    action_spaces: ClassVar[tuple[type[gym.Space], ...]] = (gym.spaces.Discrete,)
    switches: ClassVar[tuple[str, ...]] = ()
    # The rules of the rl config leaves the algorithm adds to those every algorithm reads
    # (memrl/validate.py collects them: a subclass's are added to its bases').
    leaf_rules: ClassVar[dict[str, str]] = {}
    # How the networks start when config_rl.init_scheme is not given: the scheme of the
    # original code the algorithm comes from (memrl/nets/init.py).
    default_init_scheme: ClassVar[str] = "fanin"

    def __init__(
        self,
        rl_cfg: ConfigDict,
        seq_cfg: ConfigDict,
        env: EnvSpec,
        train: TrainSpec,
        device: torch.device,
        seed: int,
    ):
        """What every algorithm reads the same way from its configs."""
        super().__init__()
        self.device = device
        self.discount = rl_cfg.discount
        self.tau = rl_cfg.get("tau")  # Polyak step of target networks (None: it has none)
        self.max_norm = seq_cfg.max_norm if seq_cfg.clip else None
        self.init_scheme = check_scheme(rl_cfg.get("init_scheme", self.default_init_scheme))
        # Both original codes collect training episodes with the networks in train mode (GPT's
        # dropout on while acting) and evaluate in eval mode.
        self.collect_in_train_mode = bool(rl_cfg.get("collect_in_train_mode", True))
        self.max_seq_len = train.max_seq_len(env.max_episode_steps)
        self.rng = np.random.default_rng(seed)  # the agent's own draws while acting

    def set_acting_mode(self, explore: bool) -> None:
        """Train mode while collecting training episodes (unless config_rl.collect_in_train_mode
        is False), eval mode while evaluating."""
        self.train(explore and self.collect_in_train_mode)

    def schedule_values(self) -> dict[str, float]:
        """Values of the agent's schedules to log with each row (epsilon, noise, temperature)."""
        return {}

    def set_execution(self, precision: str = "fp32", compile: bool = False) -> None:
        """How updates run, not what they compute: bf16 autocast and torch.compile are flags
        (--precision, --compile) because they change the numbers a little."""
        self.autocast_dtype = {"fp32": None, "bf16": torch.bfloat16}[precision]
        if compile:
            for module in self.compiled_modules():
                module.compile()  # in place: parameter names, and so checkpoints, stay the same

    def compiled_modules(self) -> list[nn.Module]:
        """The networks whose whole-sequence forward an update runs (what --compile compiles)."""
        return []

    def autocast(self):
        """Mixed precision for the networks' forward passes in an update (off by default)."""
        return torch.autocast(self.device.type, dtype=self.autocast_dtype or torch.bfloat16,
                              enabled=self.autocast_dtype is not None)

    @abc.abstractmethod
    def initial_state(self, batch_size: int) -> Any: ...

    @abc.abstractmethod
    def act(
        self,
        obs: np.ndarray,
        prev_actions: np.ndarray,
        prev_rewards: np.ndarray,
        state: Any,
        explore: bool,
    ) -> tuple[np.ndarray, Any]: ...

    @abc.abstractmethod
    def update(self, batch: Batch[np.ndarray]) -> dict[str, torch.Tensor]: ...

    @abc.abstractmethod
    def extra_state(self) -> dict[str, Any]:
        """What a checkpoint needs beyond the parameters: optimisers, counters, random streams."""

    @abc.abstractmethod
    def load_extra_state(self, state: dict[str, Any]) -> None: ...

    def to_device(self, batch: Batch[np.ndarray]) -> Batch[torch.Tensor]:
        """Move a numpy batch to the device once per update (pinned, async on CUDA)."""
        if self.device.type != "cuda":
            return batch.map(torch.from_numpy)
        return batch.map(lambda value: torch.from_numpy(value).pin_memory().to(
            self.device, non_blocking=True))

    def step_tensors(
        self, obs: np.ndarray, prev_actions: np.ndarray, prev_rewards: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (
            torch.as_tensor(obs, device=self.device),
            torch.as_tensor(prev_actions, device=self.device),
            torch.as_tensor(prev_rewards, device=self.device),
        )


def optimizer_step(
    optimizer: torch.optim.Optimizer,
    loss: torch.Tensor,
    params: list[nn.Parameter],
    max_norm: float | None,
) -> torch.Tensor:
    """Backward, optional global-norm clipping, step. Returns the gradient norm before clipping."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = nn.utils.clip_grad_norm_(
        params, max_norm if max_norm is not None else math.inf, foreach=True
    )
    optimizer.step()
    return grad_norm


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the valid steps of a window (the mask), as every loss here averages."""
    return (x * mask).sum() / mask.sum().clamp(min=1.0)


def grad_norm(params: list[nn.Parameter]) -> torch.Tensor:
    """Global norm of the gradients `params` hold now (zero when none has one)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.zeros(())
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))


@torch.no_grad()
def polyak_update(target: nn.Module, online: nn.Module, tau: float) -> None:
    """target <- (1 - tau) target + tau online, with one fused op over all parameters.

    Parameters are paired by name, so a target may hold only part of the online network (the
    parts its TD target reads)."""
    online_params = dict(online.named_parameters())
    names, params = zip(*target.named_parameters())
    torch._foreach_lerp_(list(params), [online_params[name] for name in names], tau)


def sample_categorical(logits: torch.Tensor, rng: np.random.Generator) -> np.ndarray:
    """One action per row of `logits` (N, A), drawn from softmax(logits) by the inverse CDF with
    one uniform per row from `rng` (the agent's own numpy stream, so acting draws nothing from
    torch's generators)."""
    cdf = torch.softmax(logits.double(), -1).cumsum(-1).cpu().numpy()
    u = rng.random((len(cdf), 1)) * cdf[:, -1:]
    return np.minimum((cdf <= u).sum(-1), cdf.shape[-1] - 1)


def make_adam(params, lr: float) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=lr, foreach=True)
