"""The actor-critic layout that SAC-D, TD3 and SAC share: a memory (HistoryEncoder) for the
actor and one for the critic or one shared by both, an actor head, twin Q heads, their targets,
the optimisers and the order of an update. An algorithm supplies its heads, its TD target's
next-step value, its critic and actor losses and how it acts.

A window has S + 1 inputs (previous action and reward zero at its first step), hence hidden
states h_0..h_S. The critic is trained at steps t < S under the mask against
    y_t = r_t + gamma (1 - d_t) V(h_{t+1}),
V from the target network (`next_value`), no bootstrap through a true end (d_t = 1) and
bootstrap through a time limit.

Layouts:
- separate (default): the actor (memory + head) and the critic (memory + twin Q heads) each own
  an Adam. The critic steps first; the actor loss then reads the stepped critic, whose
  parameters are constants there.
- shared_encoder: one memory feeds the actor and both Q heads, and one Adam step takes
  shared_critic_weight x (critic loss) + actor loss. The freeze switches (`freeze_switches`,
  each algorithm's meaning) make the Q heads constants in the actor loss, reading detached
  hidden states (`Freeze.critic`), and detach the actor head's input too
  (`Freeze.actor_input`): then the actor loss trains only the actor head and the memory learns
  from the critic loss alone. Without them the actor loss also trains the Q heads and the memory
  through Q.

The target network is a Polyak copy (tau) of the parts the TD target reads: the Q heads, the
critic's memory (in the shared layout only where `shared_target_memory`; otherwise the target
heads read the online hidden states) and, for `target_has_actor`, the actor with its memory.
With policy_delay d (TD3), the actor steps and the targets move on every d-th update only, as
in Fujimoto et al.'s TD3; the original's default is d = 1.

Where the two original codes differ, the layout takes a parameter, set by each algorithm as the
code it comes from does (sacd.py: the main code; continuous.py: the continuous-control code).
"""

from __future__ import annotations

import abc
import copy
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from ml_collections import ConfigDict
from torch import nn

from memrl.agents.base import (
    Agent,
    EnvSpec,
    TrainSpec,
    grad_norm,
    make_adam,
    optimizer_step,
    polyak_update,
)
from memrl.nets.history import HistoryEncoder
from memrl.nets.init import POLICY_HEAD_LAST_BOUND, Q_HEAD_LAST_BOUND, init_head
from memrl.replay import Batch


@dataclass(frozen=True)
class Freeze:
    """What a freeze switch does to the shared layout's actor loss."""

    critic: bool = False  # the Q heads are constants there, reading detached hidden states
    actor_input: bool = False  # the actor head reads detached hidden states too


class ActorCritic(nn.Module):
    """The actor's memory and head, the twin Q heads (`q1`, `q2`), and the critic's own memory
    unless the memory is shared (`critic_encoder` None). A target copy drops what its TD target
    does not read (None)."""

    def __init__(self, encoder: HistoryEncoder | None, actor: nn.Module | None,
                 critic_encoder: HistoryEncoder | None, critic: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.actor = actor
        self.critic_encoder = critic_encoder
        self.critic = critic

    @property
    def critic_memory(self) -> HistoryEncoder | None:
        return self.encoder if self.critic_encoder is None else self.critic_encoder


def with_constant_params(module: nn.Module, *args: torch.Tensor) -> Any:
    """module(*args) with its parameters as constants: gradients reach the inputs only, as the
    original evaluates the critic at parameters it does not differentiate."""
    params = {name: p.detach() for name, p in module.named_parameters()}
    return torch.func.functional_call(module, params, args)


class QReading:
    """The online twin Q heads over hidden states h_0..h_S as a loss reads them, at steps
    0..S-1: Q_i(h_t, a_t) at given actions, or Q_i(h_t, .) of every action for heads that take
    no action (SAC-D's).

    Heads of every action are evaluated once per reading, over the window's S + 1 steps (the
    numbers SAC-D was recorded with): the shared layout's critic and actor losses then read one
    evaluation, so the backward pass runs through the heads once. A constant reading
    (`constant()`) treats the heads' parameters as constants and reads detached hidden states."""

    def __init__(self, heads: nn.Module, hidden: torch.Tensor, is_constant: bool = False):
        self.heads = heads
        self.hidden = hidden
        self.is_constant = is_constant
        self._every_action: tuple[torch.Tensor, ...] | None = None

    def __call__(self, *actions: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if actions:
            return self._apply(self.hidden[:-1], *actions)
        if self._every_action is None:
            self._every_action = tuple(q[:-1] for q in self._apply(self.hidden))
        return self._every_action

    def constant(self) -> QReading:
        """The same heads as constants on detached hidden states (values of every action already
        read are reused, detached)."""
        reading = QReading(self.heads, self.hidden.detach(), is_constant=True)
        if self._every_action is not None:
            reading._every_action = tuple(q.detach() for q in self._every_action)
        return reading

    def _apply(self, *args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return with_constant_params(self.heads, *args) if self.is_constant else self.heads(*args)


class ActorCriticAgent(Agent):
    """An actor-critic over a memory; a subclass gives its heads, next-step value, losses and
    acting, and the layout parameters below."""

    # Metrics of the actor step: with policy_delay > 1 an update without one repeats the last.
    actor_metric_names: tuple[str, ...]
    # Switch name -> what it freezes in the shared layout's actor loss.
    freeze_switches: ClassVar[dict[str, Freeze]]
    # Shared layout: one step on shared_critic_weight x (critic loss) + actor loss.
    shared_critic_weight: ClassVar[float]
    # Shared layout: one learning rate (critic_lr) for the whole network, or one per part
    # (encoder_lr, actor_lr, critic_lr).
    one_shared_lr: ClassVar[bool]
    # Shared layout: whether the target copies the memory or its Q heads read the online one.
    shared_target_memory: ClassVar[bool]
    # Whether the TD target reads a target actor (TD3) or the online one (SAC, SAC-D).
    target_has_actor: ClassVar[bool]
    # Whether the actor head draws its initial weights before the critic is built (SAC-D) or
    # after (TD3, SAC): the order of torch's random draws, part of the recorded numbers.
    actor_init_first: ClassVar[bool]

    def __init__(
        self,
        rl_cfg: ConfigDict,
        seq_cfg: ConfigDict,
        env: EnvSpec,
        train: TrainSpec,
        device: torch.device,
        seed: int,
    ):
        super().__init__(rl_cfg, seq_cfg, env, train, device, seed)
        self.shared_encoder = bool(rl_cfg.get("shared_encoder", False))
        frozen = [name for name in self.freeze_switches if rl_cfg.get(name, False)]
        if frozen and not self.shared_encoder:
            raise ValueError(f"{' and '.join(f'--{name}' for name in frozen)} "
                             f"need{'s' if len(frozen) == 1 else ''} --shared_encoder: with "
                             "separate sequence models the actor loss never trains the critic")
        chosen = [self.freeze_switches[name] for name in frozen]
        self.freeze = Freeze(critic=any(f.critic for f in chosen),
                             actor_input=any(f.actor_input for f in chosen))
        self.policy_delay = int(rl_cfg.get("policy_delay", 1))
        if self.policy_delay < 1:
            raise ValueError(f"config_rl.policy_delay must be >= 1, got {self.policy_delay}")

        def memory() -> HistoryEncoder:
            encoder = HistoryEncoder(seq_cfg.model, env.obs_size, env.action_space,
                                     self.max_seq_len, env.image_shape)
            encoder.initialise(self.init_scheme)
            return encoder

        encoder = memory()
        hidden = encoder.hidden_size
        actor = self.make_actor(env, hidden, tuple(rl_cfg.config_actor.hidden_dims))
        if self.actor_init_first:
            init_head(actor, self.init_scheme, POLICY_HEAD_LAST_BOUND)
        critic_encoder = None if self.shared_encoder else memory()
        critic = self.make_critic(env, hidden, tuple(rl_cfg.config_critic.hidden_dims))
        if not self.actor_init_first:
            init_head(actor, self.init_scheme, POLICY_HEAD_LAST_BOUND)
        init_head(critic.q1, self.init_scheme, Q_HEAD_LAST_BOUND)
        init_head(critic.q2, self.init_scheme, Q_HEAD_LAST_BOUND)
        self.net = ActorCritic(encoder, actor, critic_encoder, critic).to(device)

        self.target = copy.deepcopy(self.net).requires_grad_(False)
        if not self.target_has_actor:
            self.target.actor = None
            if not self.shared_encoder:  # the actor's memory is the actor's alone
                self.target.encoder = None
        if self.shared_encoder and not self.shared_target_memory:
            self.target.encoder = None

        net = self.net
        if not self.shared_encoder:
            self.actor_optimizer = make_adam(self.actor_params(), rl_cfg.actor_lr)
            self.critic_optimizer = make_adam(self.critic_params(), rl_cfg.critic_lr)
        elif self.one_shared_lr:
            self.optimizer = make_adam(self.shared_params(), rl_cfg.critic_lr)
        else:
            self.optimizer = torch.optim.Adam([
                {"params": net.encoder.parameters(), "lr": rl_cfg.encoder_lr},
                {"params": net.actor.parameters(), "lr": rl_cfg.actor_lr},
                {"params": net.critic.parameters(), "lr": rl_cfg.critic_lr},
            ], foreach=True)
        self.updates = 0
        self.last_actor_metrics = {name: torch.zeros((), device=device)
                                   for name in self.actor_metric_names}

    # -- what an algorithm supplies ------------------------------------------------------------

    @abc.abstractmethod
    def make_actor(self, env: EnvSpec, hidden_size: int,
                   hidden_dims: tuple[int, ...]) -> nn.Module: ...

    @abc.abstractmethod
    def make_critic(self, env: EnvSpec, hidden_size: int,
                    hidden_dims: tuple[int, ...]) -> nn.Module:
        """The twin Q heads (`q1`, `q2`)."""

    def actor_outputs(self, hidden: torch.Tensor) -> Any:
        """What the TD target and the actor loss read of the online actor at hidden states
        0..S: the states themselves, unless the algorithm evaluates its head once for both."""
        return hidden

    @abc.abstractmethod
    def next_value(self, b: Batch[torch.Tensor], target_hidden: torch.Tensor,
                   actor: Any) -> torch.Tensor:
        """V(h_{t+1}) at t = 0..S-1 (no gradients). `target_hidden`: the target critic's memory
        at 0..S (the online one where the target has none); `actor`: the online actor's
        outputs (None on a separate-layout update without an actor step)."""

    @abc.abstractmethod
    def critic_loss(self, b: Batch[torch.Tensor], critic: QReading,
                    target: torch.Tensor) -> dict[str, torch.Tensor]:
        """"critic_loss" (both heads' masked squared TD errors, summed) and metrics."""

    @abc.abstractmethod
    def actor_loss(self, b: Batch[torch.Tensor], actor: Any,
                   critic: QReading) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The actor loss at steps 0..S-1 (and extra metrics)."""

    @abc.abstractmethod
    def policy_action(self, hidden: torch.Tensor, explore: bool) -> np.ndarray:
        """Actions for hidden states (N, H), random draws from self.rng."""

    def after_actor_step(self, out: dict[str, torch.Tensor]) -> None:
        """Anything stepped after the actor (SAC's temperature)."""

    # -- parameters ----------------------------------------------------------------------------

    def actor_params(self) -> list[nn.Parameter]:
        memory = [] if self.shared_encoder else list(self.net.encoder.parameters())
        return memory + list(self.net.actor.parameters())

    def critic_params(self) -> list[nn.Parameter]:
        """The critic's heads and its memory (the shared one counts with the critic)."""
        return [*self.net.critic_memory.parameters(), *self.net.critic.parameters()]

    def shared_params(self) -> list[nn.Parameter]:
        """The shared layout's parameters in the order its gradient clipping sums their norms (a
        float sum, so the order is part of the numbers) and one_shared_lr's optimiser holds
        them."""
        return [*self.critic_params(), *self.actor_params()]

    # -- acting --------------------------------------------------------------------------------

    def initial_state(self, batch_size: int) -> Any:
        return self.net.encoder.initial_state(batch_size, self.device)

    @torch.no_grad()
    def act(self, obs, prev_actions, prev_rewards, state, explore: bool):
        self.set_acting_mode(explore)
        hidden, state = self.net.encoder.step(
            *self.step_tensors(obs, prev_actions, prev_rewards), state
        )
        return self.policy_action(hidden, explore), state

    # -- update --------------------------------------------------------------------------------

    @torch.no_grad()
    def td_target(self, b: Batch[torch.Tensor], actor: Any,
                  online_hidden: torch.Tensor | None = None) -> torch.Tensor:
        """y_t = r_t + gamma (1 - d_t) V(h_{t+1}), t = 0..S-1."""
        memory = self.target.critic_memory
        target_hidden = online_hidden if memory is None else memory(*b.inputs)
        value = self.next_value(b, target_hidden, actor)
        return b.rewards + self.discount * (1.0 - b.terminals) * value

    def update(self, batch: Batch[np.ndarray]) -> dict[str, torch.Tensor]:
        self.train()
        b = self.to_device(batch)
        actor_step = self.updates % self.policy_delay == 0
        if self.shared_encoder:
            out = self._shared_update(b, actor_step)
        else:
            out = self._separate_update(b, actor_step)
        if actor_step:
            self.after_actor_step(out)
            self.last_actor_metrics = {name: out[name].detach()
                                       for name in self.actor_metric_names}
            polyak_update(self.target, self.net, self.tau)
        self.updates += 1
        out |= self.last_actor_metrics
        return {name: out[name].detach() for name in self.metric_names}

    def shared_losses(self, b: Batch[torch.Tensor],
                      actor_step: bool = True) -> dict[str, torch.Tensor]:
        """Shared layout: critic and actor losses from one pass of the memory."""
        with self.autocast():
            hidden = self.net.encoder(*b.inputs)
            actor = self.actor_outputs(hidden.detach() if self.freeze.actor_input else hidden)
            critic = QReading(self.net.critic, hidden)
            out = self.critic_loss(b, critic, self.td_target(b, actor, online_hidden=hidden))
            if actor_step:
                loss, extra = self.actor_loss(
                    b, actor, critic.constant() if self.freeze.critic else critic)
                out |= {"actor_loss": loss, **extra}
        return out

    def _shared_update(self, b: Batch[torch.Tensor],
                       actor_step: bool) -> dict[str, torch.Tensor]:
        out = self.shared_losses(b, actor_step)
        loss = self.shared_critic_weight * out["critic_loss"]
        if actor_step:
            loss = loss + out["actor_loss"]
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        # The shared memory counts with the critic, as its own memory in the other layout.
        out["critic_grad_norm"] = grad_norm(self.critic_params())
        out["actor_grad_norm"] = grad_norm(self.actor_params())
        if self.max_norm is not None:
            nn.utils.clip_grad_norm_(self.shared_params(), self.max_norm, foreach=True)
        self.optimizer.step()
        return out

    def _separate_update(self, b: Batch[torch.Tensor],
                         actor_step: bool) -> dict[str, torch.Tensor]:
        net = self.net
        with self.autocast():
            # The actor's pass, before the critic's step (which leaves the actor as it is).
            actor = self.actor_outputs(net.encoder(*b.inputs)) if actor_step else None
            target = self.td_target(b, actor)
            out = self.critic_loss(b, QReading(net.critic, net.critic_encoder(*b.inputs)),
                                   target)
        out["critic_grad_norm"] = optimizer_step(self.critic_optimizer, out["critic_loss"],
                                                 self.critic_params(), self.max_norm)
        if actor_step:
            with self.autocast():
                with torch.no_grad():  # the actor reads the critic after its step
                    critic_hidden = net.critic_encoder(*b.inputs)
                loss, extra = self.actor_loss(
                    b, actor, QReading(net.critic, critic_hidden, is_constant=True))
            out |= {"actor_loss": loss, **extra}
            out["actor_grad_norm"] = optimizer_step(self.actor_optimizer, loss,
                                                    self.actor_params(), self.max_norm)
        return out

    def compiled_modules(self) -> list[nn.Module]:
        """The memories (the heads are small, and the critic's also run through
        torch.func.functional_call)."""
        memories = [self.net.encoder, self.net.critic_encoder, self.target.encoder,
                    self.target.critic_encoder]
        return [m for m in memories if m is not None]

    # -- checkpoints ---------------------------------------------------------------------------

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        if self.shared_encoder:
            return {"optimizer": self.optimizer}
        return {"actor_optimizer": self.actor_optimizer,
                "critic_optimizer": self.critic_optimizer}

    def extra_state(self) -> dict:
        return {**{name: opt.state_dict() for name, opt in self.optimizers().items()},
                "rng": self.rng.bit_generator.state, "updates": self.updates,
                "last_actor_metrics": {k: v.item() for k, v in self.last_actor_metrics.items()}}

    def load_extra_state(self, state: dict) -> None:
        for name, opt in self.optimizers().items():
            opt.load_state_dict(state[name])
        self.rng.bit_generator.state = state["rng"]
        self.updates = state["updates"]
        self.last_actor_metrics = {k: torch.tensor(v, device=self.device)
                                   for k, v in state["last_actor_metrics"].items()}
