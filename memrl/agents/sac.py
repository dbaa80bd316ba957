"""Recurrent SAC for continuous actions (in the continuous-control code, not in its figures).

Policy: a = tanh(u), u ~ N(mu(h), sigma(h)^2), mu and log sigma from one MLP, log sigma
clipped to [-20, 2]; its log-density is the Gaussian's minus sum log(1 - tanh(u)^2).
    target: y_t = r_t + gamma (1 - d_t) [min(Q1', Q2')(h'_{t+1}, a') - alpha log pi(a'|h_{t+1})],
            a' ~ pi(.|h_{t+1}) from the online policy (there is no target actor)
    actor:  alpha log pi(a|h_t) - min(Q1, Q2)(h_t, a), a ~ pi(.|h_t) reparameterised, masked mean
    temperature: alpha = exp(log alpha), one Adam step after the actor's on
                 alpha (H - target_entropy), H the actor loss's masked mean of -log pi;
                 target_entropy -|A| unless the config gives one
Exploring samples from the policy (the agent's numpy stream); greedy acts tanh(mu).
Layouts, targets and the update order: actor_critic.py and continuous.py. The draws inside an
update (next actions, then the actor's actions) come from torch's default generator, which the
trainer seeds and checkpoints.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from memrl.agents.actor_critic import QReading
from memrl.agents.base import EnvSpec, make_adam, masked_mean
from memrl.agents.continuous import ContinuousActorCritic
from memrl.nets.embedders import mlp

LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0


def tanh_gaussian_log_prob(noise: torch.Tensor, pre_tanh: torch.Tensor,
                           log_std: torch.Tensor) -> torch.Tensor:
    """log pi(tanh(u)) for u = mu + sigma * noise, summed over the action's dimensions.

    log N(u; mu, sigma) = -noise^2 / 2 - log sigma - log(2 pi) / 2, and the change of variables
    subtracts log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), a form that stays finite
    where tanh(u) rounds to +-1."""
    gaussian = -0.5 * noise**2 - log_std - 0.5 * math.log(2 * math.pi)
    log_det = 2.0 * (math.log(2.0) - pre_tanh - F.softplus(-2.0 * pre_tanh))
    return (gaussian - log_det).sum(-1)


class TanhGaussianActor(nn.Module):
    """mu(h) and log sigma(h) (state-dependent) from one MLP."""

    def __init__(self, hidden_size: int, hidden_dims: tuple[int, ...], action_dim: int):
        super().__init__()
        self.mlp = mlp(hidden_size, hidden_dims, 2 * action_dim)

    def forward(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.mlp(hidden).float().chunk(2, dim=-1)
        return mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX)

    def sample(self, hidden: torch.Tensor,
               noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Actions tanh(mu + sigma * noise) and their log-probabilities (reparameterised)."""
        mean, log_std = self(hidden)
        pre_tanh = mean + log_std.exp() * noise
        return torch.tanh(pre_tanh), tanh_gaussian_log_prob(noise, pre_tanh, log_std)


class SAC(ContinuousActorCritic):
    leaf_rules: ClassVar[dict[str, str]] = {
        "init_temperature": "> 0", "target_entropy": "float or none",  # None: -|A|
    }
    metric_names = ContinuousActorCritic.metric_names + ("entropy",)
    actor_metric_names = ContinuousActorCritic.actor_metric_names + ("entropy",)
    target_has_actor = False

    def __init__(self, rl_cfg, seq_cfg, env, train, device, seed):
        super().__init__(rl_cfg, seq_cfg, env, train, device, seed)
        target_entropy = rl_cfg.get("target_entropy")
        self.target_entropy = -float(self.action_dim) if target_entropy is None \
            else float(target_entropy)
        self.log_alpha = nn.Parameter(
            torch.tensor(math.log(rl_cfg.init_temperature), device=device))
        self.temperature_optimizer = make_adam([self.log_alpha], rl_cfg.temp_lr)

    @property
    def alpha(self) -> torch.Tensor:
        """The temperature as the losses read it (a constant there)."""
        return self.log_alpha.detach().exp()

    def make_actor(self, env: EnvSpec, hidden_size: int,
                   hidden_dims: tuple[int, ...]) -> nn.Module:
        return TanhGaussianActor(hidden_size, hidden_dims, env.action_dim)

    def schedule_values(self) -> dict[str, float]:
        return {"temperature": self.alpha.item()}

    def _noise(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.randn(*hidden.shape[:-1], self.action_dim, device=hidden.device)

    def next_action(self, b, target_hidden, actor):
        hidden = actor[1:].detach()
        actions, log_prob = self.net.actor.sample(hidden, self._noise(hidden))
        return actions, -self.alpha * log_prob

    def actor_loss(self, b, actor: torch.Tensor, critic: QReading):
        hidden = actor[:-1]
        actions, log_prob = self.net.actor.sample(hidden, self._noise(hidden))
        loss = masked_mean(self.alpha * log_prob - torch.min(*critic(actions)), b.mask)
        return loss, {"entropy": masked_mean(-log_prob.detach(), b.mask)}

    def after_actor_step(self, out: dict[str, torch.Tensor]) -> None:
        loss = self.log_alpha.exp() * (out["entropy"] - self.target_entropy)
        self.temperature_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.temperature_optimizer.step()

    def policy_action(self, hidden: torch.Tensor, explore: bool) -> np.ndarray:
        mean, log_std = (x.cpu().numpy() for x in self.net.actor(hidden))
        if explore:
            mean = mean + np.exp(log_std) * self.rng.standard_normal(mean.shape)
        return np.tanh(mean).astype(np.float32)

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return super().optimizers() | {"temperature_optimizer": self.temperature_optimizer}
