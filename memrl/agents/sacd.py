"""Recurrent SAC-Discrete with a fixed temperature (the paper's pixel-task agent).

Soft value of a history, summed over actions with the policy's probabilities:
    V(h) = sum_a pi(a|h) [min(Q1_tgt, Q2_tgt)(h, a) - alpha log pi(a|h)]
    critic: (Qi(h_t, a_t) - (r_t + gamma (1 - d_t) V(h_{t+1})))^2, i = 1, 2, masked mean each
    actor:  sum_a pi(a|h_t) [alpha log pi(a|h_t) - min(Q1, Q2)(h_t, a)], masked mean
The next-step policy in V is the online policy (there is no target actor), as in the reference.
The Q heads give the values of every action from a hidden state.

On the actor-critic layout (actor_critic.py), with the reference implementation's parameters:
- separate (default): the actor (memory + policy head) and the critic (memory + twin Q heads)
  own their memories and optimisers. The target critic is a Polyak copy of the whole critic,
  memory included. The critic steps first and the actor loss then reads the stepped critic.
- shared_encoder: one memory feeds the policy and Q heads; one optimiser (critic_lr) steps
  0.5 (critic loss) + actor loss. The target is a Polyak copy of the Q heads alone, applied to
  the online hidden states (the reference has no target memory in this layout).
  freeze_critic: the actor loss sees detached hidden states and the Q heads as constants, so
  only the policy head learns from it; the shared memory learns from the critic loss alone
  (TD3's freeze_all). The paper describes it so, Appendix C.1; the public code detaches the
  states fed to the frozen Q heads but not those fed to the policy, which lets the actor loss
  reach the memory through the policy's probabilities. Without it the actor loss also trains
  the Q heads and the memory through Q, the path the paper's appendix C.1 blames for exploding
  gradients.

Acting samples from the policy when exploring (in train mode, as the reference collects) and
takes its argmax otherwise (in eval mode), with the agent's own numpy stream for the draws.
Networks start as config_rl.init_scheme says (memrl/nets/init.py; the main code's by default),
the policy head before the critic is built.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from memrl.agents.actor_critic import ActorCriticAgent, Freeze, QReading
from memrl.agents.base import EnvSpec, masked_mean, sample_categorical
from memrl.nets.embedders import mlp
from memrl.replay import Batch

# Checkpoints of SAC-D runs saved before it shared the actor-critic layout name the networks
# as its own code did; old prefix -> today's, so that those runs still resume and evaluate.
OLD_NAMES = (
    ("critic_target.encoder.", "target.critic_encoder."),
    ("critic_target.", "target.critic."),
    ("critic.encoder.", "net.critic_encoder."),
    ("critic.", "net.critic."),
    ("policy.", "net.actor."),
    ("encoder.", "net.encoder."),
)


def todays_name(name: str) -> str:
    for old, new in OLD_NAMES:
        if name.startswith(old):
            return new + name[len(old):]
    return name


class DiscreteTwinQ(nn.Module):
    """Two Q heads over hidden states, each giving the values of every action."""

    def __init__(self, hidden_size: int, hidden_dims: tuple[int, ...], num_actions: int):
        super().__init__()
        self.q1 = mlp(hidden_size, hidden_dims, num_actions)
        self.q2 = mlp(hidden_size, hidden_dims, num_actions)

    def forward(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.q1(hidden).float(), self.q2(hidden).float()  # fp32 under --precision bf16


class SACD(ActorCriticAgent):
    leaf_rules: ClassVar[dict[str, str]] = {"temperature": ">= 0"}
    metric_names = ("critic_loss", "actor_loss", "entropy", "q_mean", "critic_grad_norm",
                    "actor_grad_norm")
    actor_metric_names = ("actor_loss", "actor_grad_norm", "entropy")
    switches = ("shared_encoder", "freeze_critic")
    freeze_switches: ClassVar[dict[str, Freeze]] = {
        "freeze_critic": Freeze(critic=True, actor_input=True)}
    shared_critic_weight = 0.5
    one_shared_lr = True
    shared_target_memory = False
    target_has_actor = False
    actor_init_first = True

    def __init__(self, rl_cfg, seq_cfg, env, train, device, seed):
        super().__init__(rl_cfg, seq_cfg, env, train, device, seed)
        self.alpha = rl_cfg.temperature

    def make_actor(self, env: EnvSpec, hidden_size: int,
                   hidden_dims: tuple[int, ...]) -> nn.Module:
        return mlp(hidden_size, hidden_dims, env.num_actions)  # the policy's logits

    def make_critic(self, env: EnvSpec, hidden_size: int,
                    hidden_dims: tuple[int, ...]) -> nn.Module:
        return DiscreteTwinQ(hidden_size, hidden_dims, env.num_actions)

    def shared_params(self) -> list[nn.Parameter]:
        """The reference's order: the memory, the policy head, the Q heads."""
        net = self.net
        return [*net.encoder.parameters(), *net.actor.parameters(), *net.critic.parameters()]

    def policy_action(self, hidden: torch.Tensor, explore: bool) -> np.ndarray:
        logits = self.net.actor(hidden)
        if not explore:
            return logits.argmax(-1).cpu().numpy()
        return sample_categorical(logits, self.rng)

    # -- update ------------------------------------------------------------------------------

    def actor_outputs(self, hidden: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """pi(.|h) and log pi(.|h) at steps 0..S, for the soft value and the actor loss."""
        log_pi = F.log_softmax(self.net.actor(hidden).float(), -1)
        return log_pi.exp(), log_pi

    def next_value(self, b: Batch[torch.Tensor], target_hidden: torch.Tensor,
                   actor: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """V(h) at steps 1..S, from the target Q heads and the online policy."""
        pi, log_pi = actor
        q_next = [q[1:] for q in self.target.critic(target_hidden)]
        soft_q = torch.min(*q_next) - self.alpha * log_pi[1:]
        return (pi[1:] * soft_q).sum(-1)

    def critic_loss(self, b: Batch[torch.Tensor], critic: QReading,
                    target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Sum of the twin heads' masked TD errors, and the mean Q1(h_t, a_t)."""
        actions = b.actions.unsqueeze(-1)
        preds = [q.gather(-1, actions).squeeze(-1) for q in critic()]
        loss = sum(masked_mean((pred - target) ** 2, b.mask) for pred in preds)
        return {"critic_loss": loss, "q_mean": masked_mean(preds[0].detach(), b.mask)}

    def actor_loss(self, b: Batch[torch.Tensor], actor: tuple[torch.Tensor, torch.Tensor],
                   critic: QReading) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Masked mean of sum_a pi [alpha log pi - min Q] at steps 0..S-1, and the entropy."""
        pi, log_pi = (x[:-1] for x in actor)
        q_min = torch.min(*critic())
        loss = masked_mean((pi * (self.alpha * log_pi - q_min)).sum(-1), b.mask)
        entropy = masked_mean(-(pi * log_pi).detach().sum(-1), b.mask)
        return loss, {"entropy": entropy}

    # -- checkpoints -------------------------------------------------------------------------

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        if any(todays_name(name) != name for name in state_dict):
            state_dict = {todays_name(name): value for name, value in state_dict.items()}
        return super().load_state_dict(state_dict, strict, assign)

    def load_extra_state(self, state: dict) -> None:
        # Checkpoints from before the shared layout keep no update counter: SAC-D steps its
        # actor on every update.
        super().load_extra_state({"updates": 0, "last_actor_metrics": {}, **state})
