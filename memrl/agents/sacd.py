"""Recurrent SAC-Discrete with a fixed temperature (the paper's pixel-task agent).

Soft value of a history, summed over actions with the policy's probabilities:
    V(h) = sum_a pi(a|h) [min(Q1_tgt, Q2_tgt)(h, a) - alpha log pi(a|h)]
    critic: (Qi(h_t, a_t) - (r_t + gamma (1 - d_t) V(h_{t+1})))^2, i = 1, 2, masked mean each
    actor:  sum_a pi(a|h_t) [alpha log pi(a|h_t) - min(Q1, Q2)(h_t, a)], masked mean
The next-step policy in V is the online policy (there is no target actor), as in the reference.

Two layouts, as in the reference implementation:
- separate (default): the actor (HistoryEncoder + policy head) and the critic (HistoryEncoder
  + twin Q heads) own their memories and optimisers. The target critic is a Polyak copy of the
  whole critic, memory included. As in the reference, the critic steps first and the actor loss
  then reads the stepped critic (one extra forward pass of the critic, without gradients).
- shared_encoder: one HistoryEncoder feeds the policy and Q heads; one optimiser steps
  0.5 (critic loss) + actor loss. The target is a Polyak copy of the Q heads alone, applied to
  the online hidden states (the reference has no target memory in this layout).
  freeze_critic: the actor loss sees detached hidden states and the Q heads as constants, so
  only the policy head learns from it; the shared memory learns from the critic loss alone.
  (the paper describes it so, Appendix C.1; the public code detaches the states fed to
  the frozen Q heads but not those fed to the policy, which lets the actor loss reach the
  memory through the policy's probabilities.) Without it the actor loss also trains the Q heads
  and the memory through Q, the path the paper's appendix C.1 blames for exploding gradients.

Acting samples from the policy when exploring (in train mode, as the reference collects) and
takes its argmax otherwise (in eval mode), with the agent's own numpy stream for the draws.
Networks start as config_rl.init_scheme says (memrl/nets/init.py; the main code's by default).
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
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


class TwinQ(nn.Module):
    """Two Q heads over hidden states; `encoder` is their own memory, or None when shared."""

    def __init__(self, hidden_size: int, hidden_dims: tuple[int, ...], num_actions: int,
                 encoder: HistoryEncoder | None):
        super().__init__()
        self.encoder = encoder
        self.q1 = mlp(hidden_size, hidden_dims, num_actions)
        self.q2 = mlp(hidden_size, hidden_dims, num_actions)

    def forward(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.q1(hidden).float(), self.q2(hidden).float()  # fp32 under --precision bf16


class SACD(Agent):
    leaf_rules: ClassVar[dict[str, str]] = {"temperature": ">= 0"}
    metric_names = ("critic_loss", "actor_loss", "entropy", "q_mean", "critic_grad_norm",
                    "actor_grad_norm")
    switches = ("shared_encoder", "freeze_critic")

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
        shared_encoder = bool(rl_cfg.get("shared_encoder", False))
        freeze_critic = bool(rl_cfg.get("freeze_critic", False))
        if freeze_critic and not shared_encoder:
            raise ValueError("--freeze_critic needs --shared_encoder: with separate sequence "
                             "models the actor loss never trains the critic anyway")
        self.shared_encoder = shared_encoder
        self.freeze_critic = freeze_critic
        self.alpha = rl_cfg.temperature

        def encoder() -> HistoryEncoder:
            memory = HistoryEncoder(seq_cfg.model, env.obs_size, env.action_space,
                                    self.max_seq_len, env.image_shape)
            memory.initialise(self.init_scheme)
            return memory

        # The actor's memory; with shared_encoder also the critic's.
        self.encoder = encoder()
        hidden = self.encoder.hidden_size
        self.policy = mlp(hidden, tuple(rl_cfg.config_actor.hidden_dims), env.num_actions)
        init_head(self.policy, self.init_scheme, POLICY_HEAD_LAST_BOUND)
        self.critic = TwinQ(hidden, tuple(rl_cfg.config_critic.hidden_dims), env.num_actions,
                            None if shared_encoder else encoder())
        init_head(self.critic.q1, self.init_scheme, Q_HEAD_LAST_BOUND)
        init_head(self.critic.q2, self.init_scheme, Q_HEAD_LAST_BOUND)
        self.to(device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)

        if shared_encoder:
            self.optimizer = make_adam(self.online_params(), rl_cfg.critic_lr)
        else:
            self.actor_optimizer = make_adam(self.actor_params(), rl_cfg.actor_lr)
            self.critic_optimizer = make_adam(self.critic.parameters(), rl_cfg.critic_lr)

    def actor_params(self) -> list[nn.Parameter]:
        return [*self.encoder.parameters(), *self.policy.parameters()]

    def online_params(self) -> list[nn.Parameter]:
        return [*self.actor_params(), *self.critic.parameters()]

    def initial_state(self, batch_size: int) -> Any:
        return self.encoder.initial_state(batch_size, self.device)

    @torch.no_grad()
    def act(self, obs, prev_actions, prev_rewards, state, explore: bool):
        self.set_acting_mode(explore)
        hidden, state = self.encoder.step(
            *self.step_tensors(obs, prev_actions, prev_rewards), state
        )
        logits = self.policy(hidden)
        if not explore:
            return logits.argmax(-1).cpu().numpy(), state
        # Inverse-CDF draw from pi(.|h), one uniform per episode.
        cdf = torch.softmax(logits.double(), -1).cumsum(-1).cpu().numpy()
        u = self.rng.random((len(cdf), 1)) * cdf[:, -1:]
        actions = np.minimum((cdf <= u).sum(-1), cdf.shape[-1] - 1)
        return actions, state

    # -- update ------------------------------------------------------------------------------

    def _pi(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_pi = F.log_softmax(self.policy(hidden).float(), -1)
        return log_pi.exp(), log_pi

    def _soft_target(self, b: dict[str, torch.Tensor], q_next: tuple[torch.Tensor, ...],
                     pi: torch.Tensor, log_pi: torch.Tensor) -> torch.Tensor:
        """r + gamma (1 - d) V(h'), from target Q values and the policy at steps 1..S."""
        soft_q = torch.min(*q_next) - self.alpha * log_pi
        value = (pi * soft_q).sum(-1)
        return b["rewards"] + self.discount * (1.0 - b["terminals"]) * value

    def _critic_loss(self, b: dict[str, torch.Tensor], q: tuple[torch.Tensor, ...],
                     target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Sum of the twin heads' masked TD errors, and the mean Q1(h_t, a_t)."""
        actions = b["actions"].unsqueeze(-1)
        preds = [qi[:-1].gather(-1, actions).squeeze(-1) for qi in q]
        loss = sum(masked_mean((pred - target) ** 2, b["mask"]) for pred in preds)
        return loss, masked_mean(preds[0].detach(), b["mask"])

    def _actor_loss(self, b: dict[str, torch.Tensor], pi: torch.Tensor, log_pi: torch.Tensor,
                    q_min: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Masked mean of sum_a pi [alpha log pi - min Q] at steps 0..S-1, and the entropy."""
        pi, log_pi, q_min = pi[:-1], log_pi[:-1], q_min[:-1]
        loss = masked_mean((pi * (self.alpha * log_pi - q_min)).sum(-1), b["mask"])
        entropy = masked_mean(-(pi * log_pi).detach().sum(-1), b["mask"])
        return loss, entropy

    def shared_losses(self, b: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Shared layout: both losses from one pass of the memory over the S + 1 inputs."""
        hidden = self.encoder(b["obs"], b["prev_actions"], b["prev_rewards"])
        pi, log_pi = self._pi(hidden.detach() if self.freeze_critic else hidden)
        q = self.critic(hidden)
        with torch.no_grad():
            q_next = [qi[1:] for qi in self.critic_target(hidden)]
            target = self._soft_target(b, q_next, pi[1:], log_pi[1:])
        critic_loss, q_mean = self._critic_loss(b, q, target)
        q_min = torch.min(*q)
        if self.freeze_critic:
            q_min = q_min.detach()
        actor_loss, entropy = self._actor_loss(b, pi, log_pi, q_min)
        return {"critic_loss": critic_loss, "actor_loss": actor_loss, "entropy": entropy,
                "q_mean": q_mean}

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        self.train()
        b = self.to_device(batch)
        if self.shared_encoder:
            with self.autocast():
                out = self.shared_losses(b)
            self.optimizer.zero_grad(set_to_none=True)
            (0.5 * out["critic_loss"] + out["actor_loss"]).backward()
            # The memory counts with the critic: it is the critic's in the other layout too.
            critic_params = [*self.encoder.parameters(), *self.critic.parameters()]
            out["critic_grad_norm"] = grad_norm(critic_params)
            out["actor_grad_norm"] = grad_norm(list(self.policy.parameters()))
            if self.max_norm is not None:
                nn.utils.clip_grad_norm_(self.online_params(), self.max_norm, foreach=True)
            self.optimizer.step()
        else:
            out = self._separate_update(b)
        polyak_update(self.critic_target, self.critic, self.tau)
        return {name: out[name].detach() for name in self.metric_names}

    def _separate_update(self, b: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        inputs = (b["obs"], b["prev_actions"], b["prev_rewards"])
        with self.autocast():
            pi, log_pi = self._pi(self.encoder(*inputs))
            with torch.no_grad():
                q_next = [qi[1:] for qi in self.critic_target(self.critic_target.encoder(*inputs))]
                target = self._soft_target(b, q_next, pi[1:].detach(), log_pi[1:].detach())
            q = self.critic(self.critic.encoder(*inputs))
            critic_loss, q_mean = self._critic_loss(b, q, target)
        critic_norm = optimizer_step(self.critic_optimizer, critic_loss,
                                     list(self.critic.parameters()), self.max_norm)
        with torch.no_grad(), self.autocast():  # the actor reads the critic after its step
            q_min = torch.min(*self.critic(self.critic.encoder(*inputs)))
        actor_loss, entropy = self._actor_loss(b, pi, log_pi, q_min)
        actor_norm = optimizer_step(self.actor_optimizer, actor_loss, self.actor_params(),
                                    self.max_norm)
        return {"critic_loss": critic_loss, "actor_loss": actor_loss, "entropy": entropy,
                "q_mean": q_mean, "critic_grad_norm": critic_norm, "actor_grad_norm": actor_norm}

    def compiled_modules(self) -> list[nn.Module]:
        modules = [self.encoder, self.policy, self.critic, self.critic_target]
        return modules + [q.encoder for q in (self.critic, self.critic_target)
                          if q.encoder is not None]

    # -- checkpoints -------------------------------------------------------------------------

    def _optimizers(self) -> dict[str, torch.optim.Optimizer]:
        if self.shared_encoder:
            return {"optimizer": self.optimizer}
        return {"actor_optimizer": self.actor_optimizer,
                "critic_optimizer": self.critic_optimizer}

    def extra_state(self) -> dict:
        return {**{name: opt.state_dict() for name, opt in self._optimizers().items()},
                "rng": self.rng.bit_generator.state}

    def load_extra_state(self, state: dict) -> None:
        for name, opt in self._optimizers().items():
            opt.load_state_dict(state[name])
        self.rng.bit_generator.state = state["rng"]
