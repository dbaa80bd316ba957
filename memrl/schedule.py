"""Schedules: when the trainer collects and how, how many updates follow, when it evaluates and
when it stops. One per kind of loop; the trainer's loop is the same for all of them:

    while the budget is not spent:
        collect num_envs episodes            (explore(): None = uniformly random warm-up actions)
        into the schedule's data store        (make_store(): replay, or a rollout buffer)
        updates_after(those episodes) updates, each on a batch the store samples
        evaluate if evaluation_due()

EpisodeSchedule, the paper's main code (Sections 5.1-5.2; a task record's schedule "episodes"):
    start_training random episodes, then int(updates_per_step x their steps) updates; then
    each collection of exploring episodes is followed by ceil(updates_per_step x its steps)
    updates; evaluation whenever the episode count reaches a new multiple of eval_interval
    (not during the warm-up); stop after start_training + train_episodes episodes.

EnvStepSchedule, the continuous-control code (Section 5.3; schedule "env_steps"), every unit
being T = max_episode_steps env steps: random episodes while fewer than start_training x T
env steps were taken, exploring ones after; once that many steps are reached,
ceil(updates_per_step x its steps) updates after each collection (no separate warm-up
updates); evaluation whenever the env-step count reaches a new multiple of eval_interval x T;
stop at train_episodes x T env steps.

RolloutSchedule, for on-policy agents (an agent class says `schedule = "rollouts"`): each
collection replaces a rollout buffer's episodes, then update_epochs passes over exactly those
episodes in minibatches of batch_size episodes; no random warm-up. Budget and evaluations
are counted as the task counts them: in episodes, or in units of T env steps for an env-step
task.

A schedule reads the counts, it never touches the agent, the envs or the store, so it draws
nothing: its only state is the evaluation clock (moved on by `evaluated` once an evaluation
is done, so one the env failed is done again), saved in checkpoints.
"""

from __future__ import annotations

import abc
import math
from dataclasses import dataclass
from typing import Any

from memrl.collector import Episodes
from memrl.envs import ENV_STEPS, EPISODES, BatchedEnv
from memrl.replay import EpisodeReplay
from memrl.rollout_buffer import RolloutBuffer
from memrl.run_config import ConfigError, RunConfig

ROLLOUTS = "rollouts"


@dataclass
class Counts:
    """What a run has done so far (saved in checkpoints)."""

    episodes: int = 0
    env_steps: int = 0
    updates: int = 0


class Schedule(abc.ABC):
    """One kind of training loop; see the module docstring."""

    unit = "episodes"  # what the budget and the evaluation period count
    on_policy = False  # True: no replay, the store holds only the latest collection

    def __init__(self, run: RunConfig, max_episode_steps: int):
        self.run = run
        self.T = max_episode_steps
        self.last_eval_clock = 0  # the clock at the last evaluation

    @classmethod
    def make_store(cls, run: RunConfig, env: BatchedEnv, seed: int) -> EpisodeReplay:
        """The data store updates sample from: the replay of the paper's codes."""
        rl = run.config_rl
        return EpisodeReplay(
            env.max_episode_steps, env.observation_space, env.action_space,
            max_transitions=int(rl.replay_buffer_size),
            min_episodes=int(rl.replay_buffer_num_episodes), seed=seed,
        )

    @abc.abstractmethod
    def clock(self, counts: Counts) -> int:
        """What the budget and evaluations are counted in: episodes or env steps."""

    @property
    @abc.abstractmethod
    def budget(self) -> int:
        """The clock's value at which training stops."""

    @property
    def eval_period(self) -> int:
        return self.run.config_env.eval_interval

    def finished(self, counts: Counts) -> bool:
        return self.clock(counts) >= self.budget

    @abc.abstractmethod
    def explore(self, counts: Counts) -> bool | None:
        """How the next collection acts: True with the exploring policy, None with uniformly
        random actions (the warm-up)."""

    @abc.abstractmethod
    def updates_after(self, collected: Episodes, counts: Counts) -> int:
        """Updates that follow the collection `collected` (`counts` include it)."""

    def evaluation_due(self, counts: Counts) -> bool:
        """Whether the clock has reached a new multiple of the period since the last
        evaluation. Asking changes nothing: `evaluated` records the evaluation once it is
        done, so one the env failed is still due (and done again)."""
        clock, period = self.clock(counts), self.eval_period
        return clock // period > self.last_eval_clock // period

    def evaluated(self, counts: Counts) -> None:
        """An evaluation was done at `counts`: the next one is counted from here."""
        self.last_eval_clock = self.clock(counts)

    def state_dict(self) -> dict[str, Any]:
        return {"last_eval_clock": self.last_eval_clock}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        # Checkpoints of the episode schedule before env-step schedules existed
        self.last_eval_clock = state.get("last_eval_clock", state.get("last_eval_episode"))


class EpisodeSchedule(Schedule):
    def clock(self, counts: Counts) -> int:
        return counts.episodes

    @property
    def budget(self) -> int:
        return self.run.start_training + self.run.train_episodes

    def explore(self, counts: Counts) -> bool | None:
        return None if counts.episodes < self.run.start_training else True

    def updates_after(self, collected: Episodes, counts: Counts) -> int:
        start = self.run.start_training
        if counts.episodes < start:  # still warming up
            return 0
        if counts.episodes - collected.num_episodes < start:  # this collection ended it
            return int(self.run.updates_per_step * counts.env_steps)
        return math.ceil(self.run.updates_per_step * collected.num_steps)

    def evaluation_due(self, counts: Counts) -> bool:
        return counts.episodes >= self.run.start_training and super().evaluation_due(counts)


class EnvStepSchedule(Schedule):
    unit = "env steps"

    def clock(self, counts: Counts) -> int:
        return counts.env_steps

    @property
    def budget(self) -> int:
        return self.run.train_episodes * self.T

    @property
    def eval_period(self) -> int:
        return self.run.config_env.eval_interval * self.T

    def warmed_up(self, counts: Counts) -> bool:
        return counts.env_steps >= self.run.start_training * self.T

    def explore(self, counts: Counts) -> bool | None:
        return True if self.warmed_up(counts) else None

    def updates_after(self, collected: Episodes, counts: Counts) -> int:
        if not self.warmed_up(counts):
            return 0
        return math.ceil(self.run.updates_per_step * collected.num_steps)


class RolloutSchedule(Schedule):
    """On-policy: collect, learn from exactly that collection, throw it away.

    Episodes per rollout are --num_envs (one collection); config_rl.update_epochs (default 1)
    passes over them in minibatches of --batch_size episodes. --start_training and
    --updates_per_step do not apply."""

    on_policy = True

    def __init__(self, run: RunConfig, max_episode_steps: int):
        super().__init__(run, max_episode_steps)
        self.by_env_steps = run.task.schedule == ENV_STEPS  # the task's kind of budget
        self.unit = "env steps" if self.by_env_steps else "episodes"
        self.scale = max_episode_steps if self.by_env_steps else 1  # clock ticks per unit

    @classmethod
    def make_store(cls, run: RunConfig, env: BatchedEnv, seed: int) -> RolloutBuffer:
        if run.config_seq.sampled_seq_len != -1:
            raise ConfigError("an on-policy agent learns from whole episodes: set "
                              "--config_seq.sampled_seq_len -1")
        return RolloutBuffer(env.action_space, seed=seed)

    @property
    def update_epochs(self) -> int:
        return int(self.run.config_rl.get("update_epochs", 1))

    def clock(self, counts: Counts) -> int:
        return counts.env_steps if self.by_env_steps else counts.episodes

    @property
    def budget(self) -> int:
        return self.run.train_episodes * self.scale

    @property
    def eval_period(self) -> int:
        return self.run.config_env.eval_interval * self.scale

    def explore(self, counts: Counts) -> bool | None:
        return True

    def updates_after(self, collected: Episodes, counts: Counts) -> int:
        return self.update_epochs * math.ceil(collected.num_episodes / self.run.batch_size)


SCHEDULES: dict[str, type[Schedule]] = {
    EPISODES: EpisodeSchedule,
    ENV_STEPS: EnvStepSchedule,
    ROLLOUTS: RolloutSchedule,
}
