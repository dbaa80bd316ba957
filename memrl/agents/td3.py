"""Recurrent TD3 (the paper's Section 5.3 agent, as the continuous-control code trains it).

    target: y_t = r_t + gamma (1 - d_t) min(Q1', Q2')(h'_{t+1}, a'),
            a' = clip(pi'(h'_{t+1}) + clip(N(0, target_noise^2), -target_noise_clip,
                 target_noise_clip), -1, 1)
    actor:  -min(Q1, Q2)(h_t, pi(h_t)), masked mean, pi = tanh(MLP(h))
Exploring acts pi(h) + N(0, exploration_noise^2), clipped to [-1, 1]; greedy acts pi(h).
Layouts, targets and the update order: actor_critic.py and continuous.py. The original has no
policy delay (the actor steps with every critic step); config_rl.policy_delay sets one.

The exploration noise comes from the agent's numpy stream; the target-smoothing noise from
torch's default generator, which the trainer seeds and checkpoints.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from torch import nn

from memrl.agents.actor_critic import QReading
from memrl.agents.base import EnvSpec, masked_mean
from memrl.agents.continuous import ContinuousActorCritic
from memrl.nets.embedders import mlp


class DeterministicActor(nn.Module):
    """pi(h) = tanh(MLP(h)), in [-1, 1]^A."""

    def __init__(self, hidden_size: int, hidden_dims: tuple[int, ...], action_dim: int):
        super().__init__()
        self.mlp = mlp(hidden_size, hidden_dims, action_dim)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.mlp(hidden).float())


class TD3(ContinuousActorCritic):
    leaf_rules: ClassVar[dict[str, str]] = {
        "exploration_noise": ">= 0", "target_noise": ">= 0", "target_noise_clip": ">= 0",
        "policy_delay": "int >= 1",
    }
    target_has_actor = True

    def __init__(self, rl_cfg, seq_cfg, env, train, device, seed):
        super().__init__(rl_cfg, seq_cfg, env, train, device, seed)
        self.exploration_noise = rl_cfg.exploration_noise
        self.target_noise = rl_cfg.target_noise
        self.target_noise_clip = rl_cfg.target_noise_clip

    def make_actor(self, env: EnvSpec, hidden_size: int,
                   hidden_dims: tuple[int, ...]) -> nn.Module:
        return DeterministicActor(hidden_size, hidden_dims, env.action_dim)

    def schedule_values(self) -> dict[str, float]:
        return {"exploration_noise": self.exploration_noise}

    def next_action(self, b, target_hidden, actor):
        # The target actor reads its own memory, which is the target critic's when shared.
        hidden = target_hidden if self.shared_encoder else self.target.encoder(*b.inputs)[1:]
        actions = self.target.actor(hidden)
        noise = (torch.randn_like(actions) * self.target_noise).clamp(
            -self.target_noise_clip, self.target_noise_clip)
        return (actions + noise).clamp(-1.0, 1.0), 0.0

    def actor_loss(self, b, actor: torch.Tensor, critic: QReading):
        return masked_mean(-torch.min(*critic(self.net.actor(actor[:-1]))), b.mask), {}

    def policy_action(self, hidden: torch.Tensor, explore: bool) -> np.ndarray:
        actions = self.net.actor(hidden).cpu().numpy()
        if explore:
            actions = actions + self.rng.normal(0.0, self.exploration_noise, actions.shape)
        return np.clip(actions, -1.0, 1.0).astype(np.float32)
