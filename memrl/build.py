"""The run builder: what a RunConfig describes, built the one way train, eval and bench share.

`build_run` sets torch's global state (threads, seed), then builds the training env, the
evaluation env, the schedule the agent's algorithm asks for and that schedule's data store,
and the agent; `RunParts` holds them and saves and loads their state for checkpoints. The
order of construction is the order of random draws (the agent's initial weights come from
torch's global generator, seeded here), so it is fixed: a change shows in the fixed-seed
regression fixtures.

Random streams: one `SeedSequence` child per concern (training env, data store, agent,
warm-up actions), all derived from the run seed; the evaluation env is seeded seed + 42.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from memrl import envs
from memrl.agents import Agent, EnvSpec, TrainSpec, build_agent, check_algorithm
from memrl.envs import BatchedEnv
from memrl.precision import Bf16Support, resolve_precision
from memrl.replay import EpisodeReplay
from memrl.rollout_buffer import RolloutBuffer
from memrl.run_config import ConfigError, RunConfig
from memrl.schedule import SCHEDULES, Schedule
from memrl.validate import check_memory


@dataclass
class RunParts:
    """Everything a run trains with; `state_dict` is their part of a checkpoint."""

    device: torch.device
    env: BatchedEnv  # training episodes, num_envs copies
    eval_env: BatchedEnv  # greedy evaluation episodes, config_env.eval_episodes copies
    store: EpisodeReplay | RolloutBuffer  # what updates sample from (the schedule's choice)
    agent: Agent
    warmup_rng: np.random.Generator  # uniformly random warm-up actions
    schedule: Schedule
    precision: str  # fp32 or bf16, --precision auto resolved for this device
    bf16_support: Bf16Support
    precision_reason: str  # why that precision (recorded in config.json)

    @property
    def T(self) -> int:
        return self.env.max_episode_steps

    def state_dict(self) -> dict[str, Any]:
        return {
            "agent": self.agent.state_dict(),
            "agent_extra": self.agent.extra_state(),
            "replay": self.store.state_dict(),
            "env": self.env.get_state(),
            "eval_env": self.eval_env.get_state(),
            "warmup_rng": self.warmup_rng.bit_generator.state,
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.agent.load_state_dict(state["agent"])
        self.agent.load_extra_state(state["agent_extra"])
        self.store.load_state_dict(state["replay"])
        self.env.set_state(state["env"])
        self.eval_env.set_state(state["eval_env"])
        self.warmup_rng.bit_generator.state = state["warmup_rng"]
        torch.set_rng_state(state["torch_rng"])
        if state["cuda_rng"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])


def build_run(run: RunConfig) -> RunParts:
    """Torch's global state, then the parts of `run` (raises ConfigError on what cannot work,
    before anything is written)."""
    torch.set_num_threads(run.threads or idle_cores())
    torch.manual_seed(run.seed)
    device = resolve_device(run.device)
    _, store_seed, agent_seed, warmup_seed = stream_seeds(run.seed)
    schedule_class = schedule_for(run)
    # One copy first: the run's size (T, spaces) is checked before N copies are built.
    check_memory(*memory_needs(run, probe_env(run), replay=not schedule_class.on_policy))
    env = make_train_env(run)
    eval_env = envs.make(run.config_env, run.config_env.eval_episodes, run.seed + 42)
    warmup_rng = np.random.default_rng(warmup_seed)
    store = schedule_class.make_store(run, env, seed=_int(store_seed))
    agent = make_agent(run, EnvSpec.of(env), device, _int(agent_seed))
    precision, bf16_support, precision_reason = resolve_precision(
        run.precision, device, run.config_seq.model.seq_model_config.name)
    agent.set_execution(precision, run.compile)
    return RunParts(device, env, eval_env, store, agent, warmup_rng,
                    schedule_class(run, env.max_episode_steps), precision, bf16_support,
                    precision_reason)


def schedule_for(run: RunConfig) -> type[Schedule]:
    """The loop the run follows: the one its algorithm declares (an on-policy agent class says
    `schedule = "rollouts"`), else its task's budget (episodes, or env steps)."""
    name = getattr(check_algorithm(run.config_rl), "schedule", None) or run.task.schedule
    if name not in SCHEDULES:
        raise ConfigError(f"config_rl.algo {run.config_rl.algo!r} asks for the schedule "
                          f"{name!r}; memrl/schedule.py has {', '.join(SCHEDULES)}")
    return SCHEDULES[name]


def make_agent(run: RunConfig, spec: EnvSpec, device: torch.device, seed: int) -> Agent:
    """The run's agent, with fresh weights (from torch's global generator)."""
    return build_agent(run.config_rl, run.config_seq, spec,
                       TrainSpec(run.train_episodes, run.config_seq.sampled_seq_len),
                       device, seed)


def probe_env(run: RunConfig) -> BatchedEnv:
    """One copy of the task, for its spaces and T without building N copies."""
    return envs.make(run.config_env, 1, 0)


def make_train_env(run: RunConfig) -> BatchedEnv:
    """The run's training env as it was built at the start (its seed, hence its layouts)."""
    return envs.make(run.config_env, run.num_envs, _int(stream_seeds(run.seed)[0]))


def stream_seeds(seed: int) -> list[np.random.SeedSequence]:
    """Independent random streams per concern, all derived from the run seed: the training
    env, the data store's sampling, the agent, the random warm-up."""
    return np.random.SeedSequence(seed).spawn(4)


def _int(seed_sequence: np.random.SeedSequence) -> int:
    return int(seed_sequence.generate_state(1)[0])


def idle_cores() -> int:
    """Cores not already busy (by the 1-minute load average), at least 1.

    More torch threads than free cores is far worse than too few: OpenMP threads wait on each
    other, and we measured a 20x slower update with 2 threads while another job held one of
    2 cores. So --threads 0 means all cores on an idle machine and fewer on a busy one.
    """
    cores = os.cpu_count() or 1
    try:
        busy = round(os.getloadavg()[0])
    except OSError:  # no load average on this platform
        busy = 0
    return max(1, cores - busy)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda asked for, but torch sees no CUDA device; "
                          "use --device cpu")
    return device


def memory_needs(run: RunConfig, env: BatchedEnv,
                 replay: bool = True) -> tuple[dict[str, int], str]:
    """What a run allocates up front (the replay, unless on-policy; the rollouts of training
    and evaluation; one batch), for validate.check_memory, and what to lower when it is too
    much."""
    T = env.max_episode_steps
    step = EpisodeReplay.step_bytes(env.observation_space, env.action_space)
    rl = run.config_rl
    window = T if run.config_seq.sampled_seq_len == -1 else run.config_seq.sampled_seq_len
    needs = {}
    if replay:
        slots = EpisodeReplay.slots_for(T, rl.replay_buffer_size, rl.replay_buffer_num_episodes)
        needs[f"replay of max(config_rl.replay_buffer_num_episodes, config_rl.replay_buffer_size "
              f"/ T) episodes of T = {T} steps"] = slots * step
    needs["rollouts of --num_envs + config_env.eval_episodes episodes"] = \
        (run.num_envs + run.config_env.eval_episodes) * (T + 1) * step
    needs["a batch of --batch_size windows"] = 2 * run.batch_size * (window + 1) * step
    return needs, f"lower config_env.{run.task.variant_key} or the sizes named"
