"""Recurrent PPO (Schulman et al. 2017), the on-policy baseline of POPGym and Memory Gym. Its
maths follows CleanRL's ppo_atari_lstm.py (Huang et al. 2022):

    ratio_t   = pi(a_t|h_t) / pi_old(a_t|h_t)
    A_t       = GAE(gamma, lambda) from V_old, normalised over the minibatch's steps (norm_adv)
    L_clip    = mean max(-A_t ratio_t, -A_t clip(ratio_t, 1 - c, 1 + c))
    L_value   = 0.5 mean max((V - R_t)^2, (V_old + clip(V - V_old, -c, c) - R_t)^2)   (clip_vloss;
                0.5 mean (V - R_t)^2 without), R_t = A_t + V_old(h_t) before normalisation
    loss      = L_clip - ent_coef * mean entropy(pi(.|h_t)) + vf_coef * L_value
means over the valid steps of a minibatch (the mask), one Adam step (lr 2.5e-4, eps 1e-5) with
the global gradient norm clipped to max_grad_norm (0.5; config_seq.clip and max_norm, the
off-policy agents' switch, can only tighten it). c = clip_coef, 0.1 as ppo_atari_lstm.py (0.2
in CleanRL's ppo.py); gamma 0.99, lambda 0.95, ent_coef 0.01, vf_coef 0.5, update_epochs 4.

The choices, where memrl's shape asked for one:
- Layout: one memory (HistoryEncoder, any registered sequence model) shared by the policy and
  the value, as CleanRL's LSTM agent shares its LSTM; a categorical policy head (Discrete
  actions only: a Box task is refused with one line, `action_spaces`) and a scalar value head,
  linear by default as CleanRL's (config_rl.config_actor/config_critic.hidden_dims).
- Loop: `schedule = "rollouts"`: each collection of --num_envs whole episodes is learned from by
  config_rl.update_epochs passes in minibatches of --batch_size episodes, then thrown away. A
  minibatch is whole episodes, each from its start and so from its stored initial state, the
  zero state (CleanRL's sequences start mid-episode from a stored LSTM state).
- Old log-probabilities and values are recomputed, not stored while acting: on the first
  minibatch of a collection (the rollout buffer hands the whole collection with it,
  rollout_buffer.RolloutBatch), before any update, one pass over every episode gives
  log pi_old(a_t|h_t), V_old(h_t) and, per whole episode, the advantages and returns; later
  minibatches read their episodes' columns. No update happened since the collection, so these
  are the networks that acted, and the ratio of the first minibatch is 1. They are kept in the
  agent's checkpoint state: between two updates of a rollout the acting networks are gone.
- Dropout is off: PPO acts and learns in eval mode (GPT's pdrop does nothing here), so the ratio
  compares two policies, not two dropout masks, and equals 1 where it should.
- Ends: the value bootstraps through a time-limit end (truncated: V(h_n) of the final
  observation) and not through a true end (terminated), as everywhere in memrl.
- Initialisation: config_rl.init_scheme "cleanrl" (memrl/nets/init.py): orthogonal dense layers,
  gain sqrt(2), the policy's output 0.01 and the value's 1, zero biases, the LSTM orthogonal.
- Acting samples from the policy with the agent's own numpy stream; evaluation takes its argmax,
  as for every memrl agent.
Not in CleanRL's defaults here: the learning rate is constant (no anneal_lr) and there is no
target_kl early stop.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
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
    masked_mean,
    optimizer_step,
    sample_categorical,
)
from memrl.nets.embedders import mlp
from memrl.nets.history import HistoryEncoder
from memrl.nets.init import POLICY_HEAD_LAST_BOUND, Q_HEAD_LAST_BOUND, init_head
from memrl.replay import Batch
from memrl.rollout_buffer import RolloutBatch

POLICY_GAIN = 0.01  # CleanRL: the logits start near zero, the first policy near uniform
VALUE_GAIN = 1.0


class PolicyValue(nn.Module):
    """A memory shared by a policy head (logits) and a value head."""

    def __init__(self, model_cfg: ConfigDict, env: EnvSpec, max_seq_len: int,
                 actor_dims: tuple[int, ...], critic_dims: tuple[int, ...]):
        super().__init__()
        self.encoder = HistoryEncoder(model_cfg, env.obs_size, env.action_space, max_seq_len,
                                      env.image_shape)
        self.actor = mlp(self.encoder.hidden_size, actor_dims, env.num_actions)
        self.critic = mlp(self.encoder.hidden_size, critic_dims, 1)

    def forward(self, obs, prev_actions, prev_rewards) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits (S+1, B, A) and values (S+1, B) at every input step, in fp32."""
        hidden = self.encoder(obs, prev_actions, prev_rewards)
        return self.actor(hidden).float(), self.critic(hidden).squeeze(-1).float()


@dataclass(frozen=True)
class Rollout:
    """What the old policy says of a collection, (S, N) each, computed once before its first
    update: log pi_old(a_t|h_t), V_old(h_t), the advantages and the value targets."""

    log_probs: torch.Tensor
    values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor

    def select(self, episodes: torch.Tensor) -> Rollout:
        """The columns of a minibatch's episodes."""
        return Rollout(*(getattr(self, f.name)[:, episodes] for f in fields(self)))

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {f.name: getattr(self, f.name).cpu() for f in fields(self)}

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor], device: torch.device) -> Rollout:
        return cls(**{name: value.to(device) for name, value in state.items()})


def gae(rewards: torch.Tensor, values: torch.Tensor, terminals: torch.Tensor,
        mask: torch.Tensor, discount: float, gae_lambda: float) -> torch.Tensor:
    """Generalised advantage estimates of whole episodes, time-major (S, B); `values` are
    V(h_0..h_S) (S+1, B). Backwards over t:
        delta_t = r_t + gamma (1 - d_t) V(h_{t+1}) - V(h_t)
        A_t     = delta_t + gamma lambda (1 - d_t) A_{t+1},   A = 0 past an episode's end
    so a true end (d_t = 1) bootstraps nothing and a time-limit end bootstraps V of its final
    observation. Padding steps get 0."""
    advantages = torch.zeros_like(rewards)
    next_advantage = torch.zeros_like(rewards[0])  # A_{t+1}, zero past the end
    for t in reversed(range(len(rewards))):
        live = 1.0 - terminals[t]
        delta = rewards[t] + discount * live * values[t + 1] - values[t]
        next_advantage = (delta + discount * gae_lambda * live * next_advantage) * mask[t]
        advantages[t] = next_advantage
    return advantages


def normalise(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(x - mean) / (std + 1e-8) over the valid steps, the std with Bessel's correction as
    torch's .std() in CleanRL."""
    n = mask.sum()
    mean = (x * mask).sum() / n
    std = (((x - mean) ** 2 * mask).sum() / (n - 1).clamp(min=1.0)).sqrt()
    return (x - mean) / (std + 1e-8)


def clipped_surrogate(ratio: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
                      clip_coef: float) -> torch.Tensor:
    """PPO's policy loss: mean max(-A ratio, -A clip(ratio, 1 - c, 1 + c))."""
    unclipped = -advantages * ratio
    clipped = -advantages * ratio.clamp(1.0 - clip_coef, 1.0 + clip_coef)
    return masked_mean(torch.max(unclipped, clipped), mask)


def value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor,
               mask: torch.Tensor, clip_coef: float | None) -> torch.Tensor:
    """0.5 mean (V - R)^2, or with clip_coef the larger of that and the error of the value
    kept within +-clip_coef of the old one."""
    error = (values - returns) ** 2
    if clip_coef is not None:
        kept = old_values + (values - old_values).clamp(-clip_coef, clip_coef)
        error = torch.max(error, (kept - returns) ** 2)
    return 0.5 * masked_mean(error, mask)


class PPO(Agent):
    leaf_rules: ClassVar[dict[str, str]] = {
        "lr": "> 0", "adam_eps": "> 0", "gae_lambda": "[0, 1]",
        "update_epochs": "int >= 1",  # read by the RolloutSchedule
        "clip_coef": "> 0", "norm_adv": "bool", "clip_vloss": "bool", "ent_coef": ">= 0",
        "vf_coef": ">= 0", "max_grad_norm": "> 0",
    }
    schedule = "rollouts"
    metric_names = ("policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac",
                    "grad_norm")
    default_init_scheme = "cleanrl"

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
        self.collect_in_train_mode = False  # dropout off while acting too (module docstring)
        self.gae_lambda = rl_cfg.gae_lambda
        self.clip_coef = rl_cfg.clip_coef
        self.norm_adv = rl_cfg.norm_adv
        self.clip_vloss = rl_cfg.clip_vloss
        self.ent_coef = rl_cfg.ent_coef
        self.vf_coef = rl_cfg.vf_coef
        # PPO always clips, at max_grad_norm; config_seq.clip can only tighten it.
        self.max_norm = min(rl_cfg.max_grad_norm, self.max_norm or float("inf"))

        self.net = PolicyValue(seq_cfg.model, env, self.max_seq_len,
                               tuple(rl_cfg.config_actor.hidden_dims),
                               tuple(rl_cfg.config_critic.hidden_dims))
        self.net.encoder.initialise(self.init_scheme)
        init_head(self.net.actor, self.init_scheme, POLICY_HEAD_LAST_BOUND, POLICY_GAIN)
        init_head(self.net.critic, self.init_scheme, Q_HEAD_LAST_BOUND, VALUE_GAIN)
        self.net.to(device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=rl_cfg.lr,
                                          eps=rl_cfg.adam_eps, foreach=True)
        self.rollout: Rollout | None = None  # the latest collection's, once it is prepared

    # -- acting --------------------------------------------------------------------------------

    def initial_state(self, batch_size: int) -> Any:
        return self.net.encoder.initial_state(batch_size, self.device)

    @torch.no_grad()
    def act(self, obs, prev_actions, prev_rewards, state, explore: bool):
        self.set_acting_mode(explore)
        hidden, state = self.net.encoder.step(
            *self.step_tensors(obs, prev_actions, prev_rewards), state)
        logits = self.net.actor(hidden).float()
        if not explore:
            return logits.argmax(-1).cpu().numpy(), state
        return sample_categorical(logits, self.rng), state

    # -- update --------------------------------------------------------------------------------

    @torch.no_grad()
    def prepare(self, collection: Batch[torch.Tensor]) -> Rollout:
        """The old policy's log-probabilities and values over a whole collection, its
        advantages (per whole episode) and value targets."""
        with self.autocast():
            logits, values = self.net(*collection.inputs)
        log_probs = taken(F.log_softmax(logits[:-1], -1), collection.actions)
        advantages = gae(collection.rewards, values, collection.terminals, collection.mask,
                         self.discount, self.gae_lambda)
        return Rollout(log_probs, values[:-1], advantages, advantages + values[:-1])

    def losses(self, b: Batch[torch.Tensor], old: Rollout) -> dict[str, torch.Tensor]:
        """The loss of one minibatch and what it is made of (`ratio` included, for tests)."""
        with self.autocast():
            logits, values = self.net(*b.inputs)
        log_pi = F.log_softmax(logits[:-1], -1)
        log_ratio = taken(log_pi, b.actions) - old.log_probs
        ratio = log_ratio.exp()
        advantages = normalise(old.advantages, b.mask) if self.norm_adv else old.advantages
        policy_loss = clipped_surrogate(ratio, advantages, b.mask, self.clip_coef)
        v_loss = value_loss(values[:-1], old.values, old.returns, b.mask,
                            self.clip_coef if self.clip_vloss else None)
        entropy = masked_mean(-(log_pi.exp() * log_pi).sum(-1), b.mask)
        with torch.no_grad():  # http://joschu.net/blog/kl-approx.html, as CleanRL logs it
            approx_kl = masked_mean((ratio - 1.0) - log_ratio, b.mask)
            clipfrac = masked_mean(((ratio - 1.0).abs() > self.clip_coef).float(), b.mask)
        return {
            "loss": policy_loss - self.ent_coef * entropy + self.vf_coef * v_loss,
            "policy_loss": policy_loss, "value_loss": v_loss, "entropy": entropy,
            "approx_kl": approx_kl, "clipfrac": clipfrac, "ratio": ratio,
        }

    def update(self, batch: RolloutBatch[np.ndarray]) -> dict[str, torch.Tensor]:
        if not isinstance(batch, RolloutBatch):
            raise TypeError("PPO learns from a RolloutBuffer's minibatches (its schedule is "
                            "'rollouts'), not from replay windows")
        self.eval()  # no dropout: see the module docstring
        if batch.collection is not None:  # a new collection, no update on it yet
            self.rollout = self.prepare(self.to_device(batch.collection))
        b = self.to_device(batch)
        out = self.losses(b, self.rollout.select(b.episodes))
        out["grad_norm"] = optimizer_step(self.optimizer, out["loss"],
                                          list(self.net.parameters()), self.max_norm)
        return {name: out[name].detach() for name in self.metric_names}

    def compiled_modules(self) -> list[nn.Module]:
        return [self.net.encoder]

    # -- checkpoints ---------------------------------------------------------------------------

    def extra_state(self) -> dict:
        # A checkpoint between two updates of a collection keeps what was computed before the
        # first: the networks that acted are gone by then.
        rollout = None if self.rollout is None else self.rollout.state_dict()
        return {"optimizer": self.optimizer.state_dict(), "rng": self.rng.bit_generator.state,
                "rollout": rollout}

    def load_extra_state(self, state: dict) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        rollout = state["rollout"]
        self.rollout = None if rollout is None else Rollout.from_state_dict(rollout, self.device)


def taken(log_pi: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """log pi(a_t|h_t) of the actions taken, from log pi(.|h_t) (S, B, A)."""
    return log_pi.gather(-1, actions.unsqueeze(-1)).squeeze(-1)
