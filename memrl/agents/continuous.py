"""What recurrent TD3 and continuous SAC share on the actor-critic layout (actor_critic.py), as
the continuous-control code of Ni et al. (2023) (Memory-RL, branch pybullet_jax) trains them.

Twin Q heads Q_i(h, a) read a hidden state concatenated with an action. The TD target is
    y_t = r_t + gamma (1 - d_t) [min_i Q'_i(h'_{t+1}, a') + bonus],
with a' and the bonus from the algorithm (`next_action`); the critic loss is the sum over both
heads of the masked mean squared error; the actor loss reads min(Q1, Q2)(h_t, pi(h_t)).

The continuous-control code's layout: the shared step takes critic loss + actor loss with a
learning rate per part (encoder_lr, actor_lr, critic_lr), the target copies the memories too,
and the freeze switches are two: freeze_critic (in the actor loss the Q heads are constants
reading detached hidden states; the actor head's own input keeps its gradient to the memory)
and freeze_all (the actor head reads detached hidden states too, so the actor loss trains only
the actor head).

Networks start as config_rl.init_scheme says (memrl/nets/init.py; by default as this code:
orthogonal dense layers with zero biases, the LSTM orthogonal per gate). Training episodes are
collected in train mode (GPT's dropout on), evaluation in eval mode, as that code acts.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from ml_collections import ConfigDict
from torch import nn

from memrl.agents.actor_critic import ActorCriticAgent, Freeze, QReading
from memrl.agents.base import EnvSpec, TrainSpec, masked_mean
from memrl.nets.embedders import mlp
from memrl.replay import Batch


class ContinuousTwinQ(nn.Module):
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


def check_unit_box(space: gym.Space, algo: str) -> None:
    if not (isinstance(space, gym.spaces.Box) and len(space.shape) == 1
            and np.all(space.low == -1.0) and np.all(space.high == 1.0)):
        raise ValueError(f"{algo} acts in [-1, 1]^A (tanh policies); the task's action space "
                         f"is {space}: rescale it, e.g. gymnasium.wrappers.RescaleAction("
                         "env, -1, 1)")


class ContinuousActorCritic(ActorCriticAgent):
    """TD3 and SAC; a subclass gives its actor head, the next action of its TD target, its
    actor loss and how it acts."""

    action_spaces = (gym.spaces.Box,)
    switches = ("shared_encoder", "freeze_critic", "freeze_all")
    default_init_scheme = "orthogonal"  # the continuous-control code's
    metric_names: tuple[str, ...] = ("critic_loss", "actor_loss", "q1", "q2",
                                     "critic_grad_norm", "actor_grad_norm")
    actor_metric_names: tuple[str, ...] = ("actor_loss", "actor_grad_norm")
    freeze_switches: ClassVar[dict[str, Freeze]] = {
        "freeze_critic": Freeze(critic=True), "freeze_all": Freeze(critic=True, actor_input=True)}
    shared_critic_weight = 1.0
    one_shared_lr = False
    shared_target_memory = True
    actor_init_first = False

    def __init__(
        self,
        rl_cfg: ConfigDict,
        seq_cfg: ConfigDict,
        env: EnvSpec,
        train: TrainSpec,
        device: torch.device,
        seed: int,
    ):
        check_unit_box(env.action_space, rl_cfg.algo)
        super().__init__(rl_cfg, seq_cfg, env, train, device, seed)
        self.action_dim = env.action_dim

    def make_critic(self, env: EnvSpec, hidden_size: int,
                    hidden_dims: tuple[int, ...]) -> nn.Module:
        return ContinuousTwinQ(hidden_size, hidden_dims, env.action_dim)

    @abc.abstractmethod
    def next_action(self, b: Batch[torch.Tensor], target_hidden: torch.Tensor,
                    actor: torch.Tensor | None) -> tuple[torch.Tensor, Any]:
        """The TD target's action at steps 1..S and the bonus added to min Q' there.
        `target_hidden`: the target critic's memory at 1..S; `actor`: the online actor's hidden
        states at 0..S (None on an update without an actor step)."""

    def next_value(self, b: Batch[torch.Tensor], target_hidden: torch.Tensor,
                   actor: torch.Tensor | None) -> torch.Tensor:
        target_hidden = target_hidden[1:]
        actions, bonus = self.next_action(b, target_hidden, actor)
        return torch.min(*self.target.critic(target_hidden, actions)) + bonus

    def critic_loss(self, b: Batch[torch.Tensor], critic: QReading,
                    target: torch.Tensor) -> dict[str, torch.Tensor]:
        q1, q2 = critic(b.actions)
        mask = b.mask
        loss = masked_mean((q1 - target) ** 2, mask) + masked_mean((q2 - target) ** 2, mask)
        return {"critic_loss": loss, "q1": masked_mean(q1.detach(), mask),
                "q2": masked_mean(q2.detach(), mask)}
