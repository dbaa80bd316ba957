"""Algorithms. Add one by writing an `Agent` (see base.py) and one line in `ALGOS`."""

from __future__ import annotations

import torch
from ml_collections import ConfigDict

from memrl.agents.base import Agent, EnvSpec, TrainSpec
from memrl.agents.dqn import DQN
from memrl.agents.sacd import SACD

# config_rl.algo -> class, constructed as cls(rl_cfg, seq_cfg, env_spec, train_spec, device,
# seed, **options) where options are the algorithm's own command-line switches.
ALGOS: dict[str, type[Agent]] = {
    "dqn": DQN,
    "sacd": SACD,
}


def build_agent(
    rl_cfg: ConfigDict,
    seq_cfg: ConfigDict,
    env: EnvSpec,
    train: TrainSpec,
    device: torch.device,
    seed: int,
    **options,
) -> Agent:
    if rl_cfg.algo not in ALGOS:
        raise ValueError(f"unknown config_rl.algo {rl_cfg.algo!r}; choose one of {sorted(ALGOS)}")
    return ALGOS[rl_cfg.algo](rl_cfg, seq_cfg, env, train, device, seed, **options)


__all__ = ["ALGOS", "Agent", "EnvSpec", "TrainSpec", "build_agent"]
