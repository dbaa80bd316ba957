"""What the TD3 and SAC tests share: a small agent on a continuous-action task, a replay batch
whose episodes end at different steps (some for good, some by a time limit), and the twin Q
heads applied by hand."""

import csv

import numpy as np
import torch
from conftest import box_spec, seed_command

from memrl.agents import TrainSpec, build_agent, set_switches
from memrl.cli import parse_train_args
from memrl.replay import EpisodeReplay
from memrl.trainer import Trainer

SPEC = box_spec(6)
LAYOUTS = {
    "separate": {},
    "shared": {"shared_encoder": True},
    "shared_freeze_critic": {"shared_encoder": True, "freeze_critic": True},
    "shared_freeze_all": {"shared_encoder": True, "freeze_all": True},
}


def make_agent(algo, seq="lstm", layout="separate", seed=0, device="cpu", **rl):
    """`algo` "td3" or "sac" with 32-unit heads; GPT without dropout, so that separate passes
    of a network agree and the losses can be recomputed by hand."""
    extra = "--config_seq.model.seq_model_config.pdrop 0" if seq == "gpt" else ""
    run = parse_train_args(seed_command("sign_match", f"{algo}_default", f"{seq}_default",
                                        extra))
    set_switches(run.config_rl, **LAYOUTS[layout])
    run.config_rl.config_actor.hidden_dims = (32, 32)
    run.config_rl.config_critic.hidden_dims = (32, 32)
    run.config_rl.update(rl)
    torch.manual_seed(seed)
    return build_agent(run.config_rl, run.config_seq, SPEC, TrainSpec(100, -1),
                       torch.device(device), seed)


def box_batch(batch_size=6, seq_len=-1, seed=0):
    """Episodes of 2..T steps; odd ones end for good (terminated), even ones by a time limit."""
    rng = np.random.default_rng(seed)
    T, n = SPEC.max_episode_steps, 8
    lengths = rng.integers(2, T + 1, n)
    lengths[:2] = T
    terminated, truncated = np.zeros((T, n), bool), np.zeros((T, n), bool)
    for i, length in enumerate(lengths):
        (terminated if i % 2 else truncated)[length - 1, i] = True
    replay = EpisodeReplay(T, SPEC.observation_space, SPEC.action_space, max_transitions=1,
                           min_episodes=n, seed=seed)
    replay.add(rng.normal(size=(T + 1, n, 3)).astype(np.float32),
               rng.uniform(-1, 1, (T, n, 2)).astype(np.float32),
               rng.normal(size=(T, n)).astype(np.float32), terminated, truncated, lengths)
    return replay.sample(batch_size, seq_len)


def min_q(critic, hidden, actions):
    """min(Q1, Q2)(h, a) from the two head MLPs on the concatenation of h and a."""
    x = torch.cat([hidden, actions], -1)
    return torch.min(critic.q1(x)[..., 0], critic.q2(x)[..., 0])


def twin_td_loss(critic, hidden, actions, target, mask):
    """sum over both heads of the masked mean squared error."""
    x = torch.cat([hidden, actions], -1)
    return sum((((q(x)[..., 0] - target) ** 2) * mask).sum() / mask.sum()
               for q in (critic.q1, critic.q2))


def grads_zero(module):
    return all(p.grad is None or not p.grad.any() for p in module.parameters())


def grads_nonzero(module):
    return any(p.grad is not None and p.grad.any() for p in module.parameters())


def train_with_small_heads(run, hidden: int = 64) -> tuple[Trainer, list[dict[str, float]]]:
    """Train `run` through the real trainer with `hidden` x `hidden` actor and critic heads;
    the trainer and its progress.csv rows as floats."""
    run.config_rl.config_actor.hidden_dims = (hidden, hidden)
    run.config_rl.config_critic.hidden_dims = (hidden, hidden)
    trainer = Trainer(run)
    run_dir = trainer.train()
    with open(run_dir / "progress.csv", newline="") as f:
        return trainer, [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
