"""Algorithms. Add one by writing an `Agent` (see base.py) and one line in `ALGOS`."""

from __future__ import annotations

import torch
from ml_collections import ConfigDict

from memrl.agents.base import Agent, EnvSpec, TrainSpec
from memrl.agents.dqn import DQN
from memrl.agents.ppo import PPO
from memrl.agents.sac import SAC
from memrl.agents.sacd import SACD
from memrl.agents.td3 import TD3
from memrl.run_config import SWITCHES, set_switches

# config_rl.algo -> class, constructed as cls(rl_cfg, seq_cfg, env_spec, train_spec, device,
# seed); the algorithm's switches are leaves of rl_cfg.
ALGOS: dict[str, type[Agent]] = {
    "dqn": DQN,
    "sacd": SACD,
    "td3": TD3,
    "sac": SAC,
    "ppo": PPO,
}


class AlgorithmError(ValueError):
    """An rl config that its algorithm cannot run; the message says what to change."""


def check_algorithm(rl_cfg: ConfigDict, env: EnvSpec | None = None) -> type[Agent]:
    """The algorithm class of `rl_cfg`, after checking its switches (and the env's action
    space, when given) are ones it accepts."""
    algo = rl_cfg.get("algo")
    if algo not in ALGOS:
        raise AlgorithmError(f"unknown config_rl.algo {algo!r}; choose one of {sorted(ALGOS)}")
    cls = ALGOS[algo]
    for name in SWITCHES:
        if rl_cfg.get(name, False) and name not in cls.switches:
            users = [a for a, c in ALGOS.items() if name in c.switches]
            raise AlgorithmError(f"--{name} is not an option of {algo}; it applies to "
                                 f"{', '.join(users) or 'no algorithm'}")
    if env is not None and not isinstance(env.action_space, cls.action_spaces):
        kinds = " or ".join(space.__name__ for space in cls.action_spaces)
        users = [a for a, c in ALGOS.items() if isinstance(env.action_space, c.action_spaces)]
        raise AlgorithmError(f"{algo} needs a {kinds} action space, the task has "
                             f"{env.action_space}; use config_rl.algo "
                             f"{' or '.join(users) or '(none fits)'}")
    return cls


def build_agent(
    rl_cfg: ConfigDict,
    seq_cfg: ConfigDict,
    env: EnvSpec,
    train: TrainSpec,
    device: torch.device,
    seed: int,
) -> Agent:
    return check_algorithm(rl_cfg, env)(rl_cfg, seq_cfg, env, train, device, seed)


__all__ = ["ALGOS", "SWITCHES", "Agent", "AlgorithmError", "EnvSpec", "TrainSpec",
           "build_agent", "check_algorithm", "set_switches"]
