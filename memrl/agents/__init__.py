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

# config_rl.algo -> class, constructed as cls(rl_cfg, seq_cfg, env_spec, train_spec, device,
# seed); the algorithm's switches are leaves of rl_cfg.
ALGOS: dict[str, type[Agent]] = {
    "dqn": DQN,
    "sacd": SACD,
    "td3": TD3,
    "sac": SAC,
    "ppo": PPO,
}


# Command-line switches that change an algorithm's layout (the seed's --shared_encoder and
# --freeze_critic; the continuous-control code's --freeze_all), with what each does. The command
# line sets them as leaves of config_rl, so a run's rl config alone says how its agent is built;
# each algorithm names the ones it accepts (Agent.switches).
SWITCHES: dict[str, str] = {
    "shared_encoder": "One sequence model for actor and critic",
    "freeze_critic": "With --shared_encoder, the actor loss cannot change the Q heads (sacd: "
                     "nor the shared memory, as the paper's appendix C.1 describes; td3, sac: "
                     "the memory still learns through the actor head's input)",
    "freeze_all": "With --shared_encoder, the actor loss trains only the actor head; implies "
                  "--freeze_critic",
}


def set_switches(rl_cfg: ConfigDict, **switches: bool) -> None:
    """Turn on the switches given as True (a False flag leaves the config's own value)."""
    for name, on in switches.items():
        if name not in SWITCHES:
            raise KeyError(name)
        if on:
            with rl_cfg.unlocked():
                rl_cfg[name] = True


def switch_users(name: str) -> list[str]:
    """The algorithms that accept switch `name`."""
    return [algo for algo, cls in ALGOS.items() if name in cls.switches]


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
            raise AlgorithmError(f"--{name} is not an option of {algo}; it applies to "
                                 f"{', '.join(switch_users(name)) or 'no algorithm'}")
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
           "build_agent", "check_algorithm", "set_switches", "switch_users"]
