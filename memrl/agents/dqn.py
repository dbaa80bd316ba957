"""Recurrent double DQN with epsilon-greedy exploration (the paper's T-Maze agent).

One update runs the online network once over the S + 1 inputs of a window: its outputs at
steps 0..S-1 give Q(h_t, a_t) (with gradients) and, detached, its outputs at steps 1..S give
the double-DQN argmax. The target network runs once, without gradients. The reference
implementation runs the online network a second time for the argmax; the maths is the same
(for GPT, the argmax here sees the same dropout mask as the prediction). As in the reference,
both networks are in train mode during updates, so GPT's dropout is active in the target pass
too, and while collecting training episodes; evaluation acts in eval mode.
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import numpy as np
import torch
from ml_collections import ConfigDict
from torch import nn

from memrl.agents.base import (
    Agent,
    EnvSpec,
    TrainSpec,
    make_adam,
    optimizer_step,
    polyak_update,
)
from memrl.nets.embedders import mlp
from memrl.nets.history import HistoryEncoder
from memrl.nets.init import Q_HEAD_LAST_BOUND, init_head
from memrl.replay import Batch


class QNetwork(nn.Module):
    def __init__(self, model_cfg: ConfigDict, head_dims: tuple[int, ...], env: EnvSpec,
                 max_seq_len: int):
        super().__init__()
        self.encoder = HistoryEncoder(
            model_cfg, env.obs_size, env.action_space, max_seq_len, env.image_shape
        )
        self.head = mlp(self.encoder.hidden_size, head_dims, env.num_actions)

    def forward(self, obs, prev_actions, prev_rewards) -> torch.Tensor:
        return self.head(self.encoder(obs, prev_actions, prev_rewards))


class DQN(Agent):
    leaf_rules: ClassVar[dict[str, str]] = {"init_eps": "[0, 1]", "schedule_end": ">= 0"}
    metric_names = ("critic_loss", "grad_norm", "q_mean")

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
        self.num_actions = env.num_actions
        self.q_net = QNetwork(seq_cfg.model, tuple(rl_cfg.config_critic.hidden_dims), env,
                              self.max_seq_len)
        self.q_net.encoder.initialise(self.init_scheme)
        init_head(self.q_net.head, self.init_scheme, Q_HEAD_LAST_BOUND)
        self.q_net.to(device)
        self.target_net = copy.deepcopy(self.q_net).requires_grad_(False)
        self.optimizer = make_adam(self.q_net.parameters(), rl_cfg.critic_lr)

        # Epsilon: linear from init_eps to 1/T over schedule_end x train_episodes x T actions.
        self.init_eps = rl_cfg.init_eps
        self.end_eps = 1.0 / env.max_episode_steps
        self.schedule_steps = rl_cfg.schedule_end * train.train_episodes * env.max_episode_steps
        self.explore_steps = 0  # actions taken by the exploring policy so far

    def epsilon_at(self, explore_steps: np.ndarray | int) -> np.ndarray | float:
        frac = np.minimum(1.0, explore_steps / max(self.schedule_steps, 1.0))
        return self.init_eps + frac * (self.end_eps - self.init_eps)

    @property
    def epsilon(self) -> float:
        return float(self.epsilon_at(self.explore_steps))

    def schedule_values(self) -> dict[str, float]:
        return {"epsilon": self.epsilon}

    def initial_state(self, batch_size: int) -> Any:
        return self.q_net.encoder.initial_state(batch_size, self.device)

    @torch.no_grad()
    def act(self, obs, prev_actions, prev_rewards, state, explore: bool):
        self.set_acting_mode(explore)
        hidden, state = self.q_net.encoder.step(
            *self.step_tensors(obs, prev_actions, prev_rewards), state
        )
        actions = self.q_net.head(hidden).argmax(-1).cpu().numpy()
        if explore:
            n = len(actions)
            # Each action draws against the epsilon of its own position in the schedule.
            eps = self.epsilon_at(self.explore_steps + np.arange(n))
            random = self.rng.random(n) < eps
            actions = np.where(random, self.rng.integers(0, self.num_actions, n), actions)
            self.explore_steps += n
        return actions, state

    def update(self, batch: Batch[np.ndarray]) -> dict[str, torch.Tensor]:
        self.train()  # the online and target networks
        b = self.to_device(batch)
        with self.autocast():
            q_all = self.q_net(*b.inputs).float()  # (S+1, B, A)
            with torch.no_grad():
                q_target_all = self.target_net(*b.inputs).float()
        q_pred = q_all[:-1].gather(-1, b.actions.unsqueeze(-1)).squeeze(-1)
        with torch.no_grad():
            next_actions = q_all[1:].argmax(-1, keepdim=True)  # double DQN: online argmax
            q_next = q_target_all[1:].gather(-1, next_actions).squeeze(-1)
            target = b.rewards + self.discount * (1.0 - b.terminals) * q_next
        mask = b.mask
        num_valid = mask.sum().clamp(min=1.0)
        loss = ((q_pred - target) ** 2 * mask).sum() / num_valid

        grad_norm = optimizer_step(self.optimizer, loss, list(self.q_net.parameters()),
                                   self.max_norm)
        polyak_update(self.target_net, self.q_net, self.tau)
        return {
            "critic_loss": loss.detach(),
            "grad_norm": grad_norm.detach(),
            "q_mean": (q_pred.detach() * mask).sum() / num_valid,
        }

    def compiled_modules(self) -> list[nn.Module]:
        return [self.q_net, self.target_net]

    def extra_state(self) -> dict:
        return {
            "optimizer": self.optimizer.state_dict(),
            "explore_steps": self.explore_steps,
            "rng": self.rng.bit_generator.state,
        }

    def load_extra_state(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.explore_steps = state["explore_steps"]
        self.rng.bit_generator.state = state["rng"]
