"""What recurrent TD3 and continuous SAC share: the networks, the two encoder layouts, and one
update that steps the critic and then the actor, as the continuous-control code of Ni et al.
(2023) (Memory-RL, branch pybullet_jax) does.

Networks (`ActorCritic`): a HistoryEncoder (the actor's memory), an actor head on its hidden
states, twin Q heads Q_i(h, a) on a hidden state concatenated with an action, and the critic's
own HistoryEncoder unless the encoder is shared.

Networks start as config_rl.init_scheme says (memrl/nets/init.py; by default as the
continuous-control code: orthogonal dense layers with zero biases, the LSTM orthogonal per
gate). Training episodes are collected in train mode (GPT's dropout on), evaluation in eval
mode, as that code acts.

A window has S + 1 inputs (previous action and reward zero at its first step), hence hidden
states h_0..h_S. Q(h_t, a_t) is trained for t < S under the mask against
    y_t = r_t + gamma (1 - d_t) [min_i Q'_i(h'_{t+1}, a') + bonus],
with a' and the bonus from the algorithm (`next_action`), no bootstrap through a true end
(d_t = 1) and bootstrap through a time limit. Critic loss: the sum over both heads of the
masked mean squared error. The actor loss (`actor_loss`) reads min(Q1, Q2)(h_t, pi(h_t)).

Layouts:
- separate (default): the actor (encoder + head) and the critic (encoder + twin Q) each own a
  memory and an Adam. The critic steps first; the actor loss then reads the stepped critic,
  whose parameters are constants there (gradients reach the actor through the action only).
- shared_encoder: one memory feeds the actor and both Q heads; one Adam step on
  critic loss + actor loss, with a learning rate per group (encoder_lr, actor_lr, critic_lr).
  freeze_critic: in the actor loss the Q heads are constants (as before this update) and read
    detached hidden states; the actor head's own input keeps its gradient to the memory.
  freeze_all (implies freeze_critic): the actor head reads detached hidden states too, so the
    actor loss trains only the actor head and the memory learns from the critic loss alone.
  Without either, the actor loss also trains the Q heads and the memory through Q.

The target network is a Polyak copy (tau) of the parts the TD target reads, memories included:
TD3 the whole actor-critic (target actor and target critic), SAC the critic side only (its
backup samples the next action from the online policy). With policy_delay d (TD3), the actor
steps and the targets move on every d-th update only, as in Fujimoto et al.'s TD3; the
original's default is d = 1.
"""

from __future__ import annotations

import abc
import copy
from collections.abc import Callable
from typing import Any

import gymnasium as gym
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
    masked_mean,
    optimizer_step,
    polyak_update,
)
from memrl.nets.embedders import mlp
from memrl.nets.history import HistoryEncoder
from memrl.nets.init import POLICY_HEAD_LAST_BOUND, Q_HEAD_LAST_BOUND, init_head
from memrl.replay import Batch

QFunction = Callable[[torch.Tensor], torch.Tensor]  # actions (S, B, A) -> min(Q1, Q2) (S, B)


class TwinQ(nn.Module):
    """Two Q heads over a hidden state and a continuous action (concatenated)."""

    def __init__(self, hidden_size: int, hidden_dims: tuple[int, ...], action_dim: int):
        super().__init__()
        self.q1 = mlp(hidden_size + action_dim, hidden_dims, 1)
        self.q2 = mlp(hidden_size + action_dim, hidden_dims, 1)

    def forward(self, hidden: torch.Tensor,
                actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.cat([hidden, actions.to(hidden.dtype)], dim=-1)
        # fp32 under --precision bf16, where the losses are taken.
        return self.q1(x).squeeze(-1).float(), self.q2(x).squeeze(-1).float()


class ActorCritic(nn.Module):
    """The actor's memory and head, the twin Q heads, and the critic's own memory unless the
    memory is shared (`critic_encoder` None)."""

    def __init__(self, make_encoder: Callable[[], HistoryEncoder],
                 make_actor: Callable[[int], nn.Module], critic_dims: tuple[int, ...],
                 action_dim: int, shared_encoder: bool):
        super().__init__()
        self.encoder: HistoryEncoder | None = make_encoder()
        hidden = self.encoder.hidden_size
        self.actor: nn.Module | None = make_actor(hidden)
        self.critic_encoder = None if shared_encoder else make_encoder()
        self.critic = TwinQ(hidden, critic_dims, action_dim)

    @property
    def critic_memory(self) -> HistoryEncoder:
        return self.encoder if self.critic_encoder is None else self.critic_encoder


def with_constant_params(module: nn.Module, *args: torch.Tensor) -> Any:
    """module(*args) with its parameters as constants: gradients reach the inputs only, as the
    original evaluates the critic at parameters it does not differentiate."""
    params = {name: p.detach() for name, p in module.named_parameters()}
    return torch.func.functional_call(module, params, args)


def check_unit_box(space: gym.Space, algo: str) -> None:
    if not (isinstance(space, gym.spaces.Box) and len(space.shape) == 1
            and np.all(space.low == -1.0) and np.all(space.high == 1.0)):
        raise ValueError(f"{algo} acts in [-1, 1]^A (tanh policies); the task's action space "
                         f"is {space}: rescale it, e.g. gymnasium.wrappers.RescaleAction("
                         "env, -1, 1)")


class ActorCriticAgent(Agent):
    """TD3 and SAC over a memory; a subclass gives its actor head, the next action of its TD
    target, its actor loss and how it acts."""

    action_spaces = (gym.spaces.Box,)
    switches = ("shared_encoder", "freeze_critic", "freeze_all")
    default_init_scheme = "orthogonal"  # the continuous-control code's
    metric_names: tuple[str, ...] = ("critic_loss", "actor_loss", "q1", "q2",
                                     "critic_grad_norm", "actor_grad_norm")
    # Metrics of the actor step: with policy_delay > 1 an update without one repeats the last.
    actor_metric_names: tuple[str, ...] = ("actor_loss", "actor_grad_norm")
    target_has_actor: bool  # whether the TD target reads a target actor (TD3) or not (SAC)

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
        check_unit_box(env.action_space, rl_cfg.algo)
        self.shared_encoder = bool(rl_cfg.get("shared_encoder", False))
        self.freeze_all = bool(rl_cfg.get("freeze_all", False))
        self.freeze_critic = bool(rl_cfg.get("freeze_critic", False)) or self.freeze_all
        if self.freeze_critic and not self.shared_encoder:
            raise ValueError("--freeze_critic and --freeze_all need --shared_encoder: with "
                             "separate sequence models the actor loss never trains the critic")
        self.action_dim = env.action_dim
        self.policy_delay = int(rl_cfg.get("policy_delay", 1))
        if self.policy_delay < 1:
            raise ValueError(f"config_rl.policy_delay must be >= 1, got {self.policy_delay}")

        def encoder() -> HistoryEncoder:
            memory = HistoryEncoder(seq_cfg.model, env.obs_size, env.action_space,
                                    self.max_seq_len, env.image_shape)
            memory.initialise(self.init_scheme)
            return memory

        actor_dims = tuple(rl_cfg.config_actor.hidden_dims)
        self.net = ActorCritic(encoder, lambda hidden: self.make_actor(hidden, actor_dims),
                               tuple(rl_cfg.config_critic.hidden_dims), self.action_dim,
                               self.shared_encoder)
        init_head(self.net.actor, self.init_scheme, POLICY_HEAD_LAST_BOUND)
        init_head(self.net.critic.q1, self.init_scheme, Q_HEAD_LAST_BOUND)
        init_head(self.net.critic.q2, self.init_scheme, Q_HEAD_LAST_BOUND)
        self.net.to(device)
        self.target = copy.deepcopy(self.net).requires_grad_(False)
        if not self.target_has_actor:
            self.target.actor = None
            if not self.shared_encoder:  # the actor's memory is the actor's alone
                self.target.encoder = None

        net = self.net
        if self.shared_encoder:
            self.optimizer = torch.optim.Adam([
                {"params": net.encoder.parameters(), "lr": rl_cfg.encoder_lr},
                {"params": net.actor.parameters(), "lr": rl_cfg.actor_lr},
                {"params": net.critic.parameters(), "lr": rl_cfg.critic_lr},
            ], foreach=True)
        else:
            self.actor_optimizer = make_adam(self.actor_params(), rl_cfg.actor_lr)
            self.critic_optimizer = make_adam(self.critic_params(), rl_cfg.critic_lr)
        self.updates = 0
        self.last_actor_metrics = {name: torch.zeros((), device=device)
                                   for name in self.actor_metric_names}

    # -- what an algorithm supplies ------------------------------------------------------------

    @abc.abstractmethod
    def make_actor(self, hidden_size: int, hidden_dims: tuple[int, ...]) -> nn.Module: ...

    @abc.abstractmethod
    def next_action(self, inputs: tuple[torch.Tensor, ...], target_hidden: torch.Tensor,
                    actor_hidden: torch.Tensor | None) -> tuple[torch.Tensor, Any]:
        """The TD target's action at steps 1..S and the bonus added to min Q' there.
        `target_hidden`: the target critic's memory at 1..S; `actor_hidden`: the online actor's
        at 0..S (None on an update without an actor step)."""

    @abc.abstractmethod
    def actor_loss(self, b: Batch[torch.Tensor], hidden: torch.Tensor,
                   q_min: QFunction) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The actor loss on hidden states at 0..S-1 (and extra metrics)."""

    @abc.abstractmethod
    def policy_action(self, hidden: torch.Tensor, explore: bool) -> np.ndarray:
        """Actions (N, A) float32 in [-1, 1] for hidden states (N, H); noise from self.rng."""

    def after_actor_step(self, out: dict[str, torch.Tensor]) -> None:
        """Anything stepped after the actor (SAC's temperature)."""

    # -- parameters ----------------------------------------------------------------------------

    def actor_params(self) -> list[nn.Parameter]:
        memory = [] if self.shared_encoder else list(self.net.encoder.parameters())
        return memory + list(self.net.actor.parameters())

    def critic_params(self) -> list[nn.Parameter]:
        """The critic's heads and its memory (the shared one counts with the critic)."""
        return [*self.net.critic_memory.parameters(), *self.net.critic.parameters()]

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
    def td_target(self, b: Batch[torch.Tensor], inputs: tuple[torch.Tensor, ...],
                  actor_hidden: torch.Tensor | None) -> torch.Tensor:
        """y_t = r_t + gamma (1 - d_t) [min_i Q'_i(h'_{t+1}, a') + bonus], t = 0..S-1."""
        target_hidden = self.target.critic_memory(*inputs)[1:]
        actions, bonus = self.next_action(inputs, target_hidden, actor_hidden)
        q_next = torch.min(*self.target.critic(target_hidden, actions)) + bonus
        return b.rewards + self.discount * (1.0 - b.terminals) * q_next

    def critic_loss(self, b: Batch[torch.Tensor], critic_hidden: torch.Tensor,
                    target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Both heads' masked squared TD errors, summed, at hidden states 0..S-1."""
        q1, q2 = self.net.critic(critic_hidden, b.actions)
        mask = b.mask
        loss = masked_mean((q1 - target) ** 2, mask) + masked_mean((q2 - target) ** 2, mask)
        return {"critic_loss": loss, "q1": masked_mean(q1.detach(), mask),
                "q2": masked_mean(q2.detach(), mask)}

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
        inputs = b.inputs
        with self.autocast():
            hidden = self.net.encoder(*inputs)
            out = self.critic_loss(b, hidden[:-1], self.td_target(b, inputs, hidden))
            if actor_step:
                now = hidden[:-1]
                q_hidden = now.detach() if self.freeze_critic else now
                critic = self.net.critic
                if self.freeze_critic:
                    def q_min(actions):
                        return torch.min(*with_constant_params(critic, q_hidden, actions))
                else:
                    def q_min(actions):
                        return torch.min(*critic(q_hidden, actions))
                loss, extra = self.actor_loss(b, now.detach() if self.freeze_all else now,
                                              q_min)
                out |= {"actor_loss": loss, **extra}
        return out

    def _shared_update(self, b: Batch[torch.Tensor],
                       actor_step: bool) -> dict[str, torch.Tensor]:
        out = self.shared_losses(b, actor_step)
        loss = out["critic_loss"] + out["actor_loss"] if actor_step else out["critic_loss"]
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        # The shared memory counts with the critic, as its own memory in the other layout.
        out["critic_grad_norm"] = grad_norm(self.critic_params())
        out["actor_grad_norm"] = grad_norm(self.actor_params())
        if self.max_norm is not None:
            nn.utils.clip_grad_norm_([*self.critic_params(), *self.actor_params()],
                                     self.max_norm, foreach=True)
        self.optimizer.step()
        return out

    def _separate_update(self, b: Batch[torch.Tensor],
                         actor_step: bool) -> dict[str, torch.Tensor]:
        net = self.net
        inputs = b.inputs
        with self.autocast():
            # The actor's pass, before the critic's step (which leaves the actor as it is).
            actor_hidden = net.encoder(*inputs) if actor_step else None
            target = self.td_target(b, inputs, actor_hidden)
            out = self.critic_loss(b, net.critic_encoder(*inputs)[:-1], target)
        out["critic_grad_norm"] = optimizer_step(self.critic_optimizer, out["critic_loss"],
                                                 self.critic_params(), self.max_norm)
        if actor_step:
            with self.autocast():
                with torch.no_grad():  # the actor reads the critic after its step
                    critic_hidden = net.critic_encoder(*inputs)[:-1]

                def q_min(actions):
                    return torch.min(*with_constant_params(net.critic, critic_hidden, actions))

                loss, extra = self.actor_loss(b, actor_hidden[:-1], q_min)
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
