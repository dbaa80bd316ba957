"""The task record: everything memrl knows about one task, in one place.

A record says how to build the task's env from its config, which config files and flags the
paper trains it with, its budgets, how its runs are scored and plotted (metric, the line a
memoryless agent reaches, reference scores, axis labels) and under which gymnasium id it is
registered. The trainer, `memrl sweep`, `memrl plot`, `memrl eval` and the benchmarks all read
it, so adding a task is its env module (with its record) and its config file, plus one line in
memrl/envs/__init__.py.

`config_env.env_name` picks a variant of the task: the length L for the paper's memory tasks,
the robot for the PyBullet tasks. Runs are logged under logs/<env_type>/<variant>/.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ml_collections import ConfigDict

from memrl.envs.base import BatchedEnv

Variant = int | str

# The training loop of the paper's main code (Sections 5.1-5.2): a budget of episodes,
# evaluation every `eval_interval` episodes, warm-up updates after the random episodes.
EPISODES = "episodes"
# The loop of its continuous-control code (Section 5.3): budgets, warm-up and evaluation
# counted in env steps, each `train_episodes` / `start_training` / `eval_interval` unit being
# max_episode_steps env steps; no separate warm-up updates.
ENV_STEPS = "env_steps"

# The main code's flag defaults; a task may replace them with its own code's (`train_defaults`).
TRAIN_DEFAULTS: dict[str, Any] = {"batch_size": 64, "updates_per_step": 0.25,
                                  "start_training": 10}


def positive_length(cfg: ConfigDict) -> int:
    """config_env.env_name as a task length L (a positive integer)."""
    length = cfg.env_name
    if isinstance(length, bool) or not isinstance(length, int) or length < 1:
        raise ValueError(f"config_env.env_name is the task length L and must be a positive "
                         f"integer, got {length!r}; e.g. --config_env.env_name 50")
    return length


@dataclass(frozen=True)
class Task:
    env_type: str  # config_env.env_type; also the first level of the log folder
    title: str  # as figures name it
    make: Callable[[ConfigDict, int, int | None], BatchedEnv]  # (config_env, num_envs, seed)
    env_config: str  # the task's config file, relative to the repo root
    rl_config: str  # the algorithm the paper trains it with
    seq_config: str = "configs/seq_models/{seq}_default.py"  # {seq}: a sequence model's name
    flags: tuple[str, ...] = ()  # train flags every paper run of the task gets
    overrides: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # per model
    budgets: Mapping[Variant, int] = field(default_factory=dict)  # variant -> train_episodes
    variant_key: str = "env_name"  # the config_env leaf naming the variant
    variant_name: str = "L"  # what a variant is called in messages and panel titles
    check_variant: Callable[[ConfigDict], Variant] = positive_length
    schedule: str = EPISODES
    train_defaults: Mapping[str, Any] = field(default_factory=dict)
    metric: str = "return"  # what figures score by default
    memoryless: float | None = None  # the best score without memory, drawn dashed
    reference: Mapping[Variant, float] = field(default_factory=dict)  # published scores
    reference_label: str = "reference"
    axis_label: str = "memory length"  # the aggregation plot's x axis (what L measures)
    plot: str = "aggregation"  # "aggregation": score vs L; "curves": learning curves only
    curve_points: int = 300  # points a curve is interpolated on
    gym_id: str | None = None  # gymnasium id (registered by memrl.envs) ...
    gym_entry: Callable[..., BatchedEnv] | None = None  # ... built as gym_entry(num_envs=1, **kw)
    # Builds copies that can draw themselves, like `make` (gymnasium envs draw only when made
    # with render_mode="rgb_array", which costs a frame per step); None: `make`'s copies draw.
    make_drawing: Callable[[ConfigDict, int, int | None], BatchedEnv] | None = None

    def variant(self, cfg: ConfigDict) -> Variant:
        """The run's variant, checked (raises ValueError naming the leaf to change)."""
        return self.check_variant(cfg)

    def default(self, flag: str) -> Any:
        """The default of a train flag for this task (its paper code's, else the main code's)."""
        return self.train_defaults.get(flag, TRAIN_DEFAULTS[flag])

    def variants(self) -> list[Variant]:
        """The variants the paper runs, in order."""
        return sorted(self.budgets, key=lambda v: (isinstance(v, str), v))

    def train_episodes(self, variant: Variant, scale: float = 1.0) -> int:
        """The paper's budget for a variant, times `scale`, at least 1 episode."""
        if not scale > 0:
            raise ValueError(f"scale must be > 0, got {scale}")
        if variant not in self.budgets:
            known = ", ".join(map(str, self.variants())) or "none"
            raise ValueError(f"no budget for {self.env_type} {self.variant_name}={variant}; "
                             f"known: {known}")
        return max(1, round(self.budgets[variant] * scale))

    def seq_config_path(self, seq_model: str) -> str:
        return self.seq_config.format(seq=seq_model)

    def argv(self, seq_model: str) -> list[str]:
        """The config part of a paper run's `memrl train` command line (no variant, seed or
        budget)."""
        return ["--config_env", self.env_config, "--config_rl", self.rl_config,
                "--config_seq", self.seq_config_path(seq_model),
                *self.overrides.get(seq_model, ()), *self.flags]
