"""The task records: everything memrl knows about each task, in one place.

A record says how to build the task's env (`builder`: the function in memrl/envs/ that makes N
copies from config_env, named "module:function" and imported only when a run builds the env),
which config files and flags the paper trains the task with, its budgets and training loop, how
its runs are scored and drawn (metric, the line a memoryless agent reaches, reference scores,
axis labels, the figure it joins) and under which gymnasium id it is registered. The trainer,
`memrl sweep`, `memrl plot`, `memrl eval` and the benchmarks all read the records; reading
them imports neither torch nor the games, so `memrl plot` needs neither.

Adding a task: its env in memrl/envs/ with a builder function, its record here with a line in
TASKS, and its config file (configs/envs/).

`config_env.env_name` picks a variant of the task: the length L for the paper's memory tasks,
the robot for the PyBullet tasks. Runs are logged under logs/<env_type>/<variant>/.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ml_collections import ConfigDict

from memrl.entry_point import load

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
class Figure:
    """A figure that draws several tasks together: a row of panels per task (in the order of
    TASKS), a panel per variant; drawn when runs of every task in it are plotted."""

    name: str  # its files: <name>.png, <name>.pdf
    title: str


@dataclass(frozen=True)
class Task:
    env_type: str  # config_env.env_type; also the first level of the log folder
    title: str  # as figures name it
    builder: str  # "module:function" making the env: function(config_env, num_envs, seed)
    env_config: str  # the task's config file, relative to the repo root
    rl_config: str  # the algorithm the paper trains it with
    seq_config: str = "configs/seq_models/{seq}_default.py"  # {seq}: a sequence model's name
    flags: tuple[str, ...] = ()  # train flags every paper run of the task gets
    overrides: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # per model
    budgets: Mapping[Variant, int] = field(default_factory=dict)  # variant -> train_episodes
    variant_key: str = "env_name"  # the config_env leaf naming the variant
    variant_name: str = "L"  # what a variant is called in messages and panel titles
    # Checks config_env's variant (raising ValueError naming the leaf to change): a function,
    # or "module:function" where the check needs the env layer (gymnasium's registry).
    check_variant: Callable[[ConfigDict], Variant] | str = positive_length
    # The rules of its config_env leaves beyond env_type, env_name and the evaluation ones
    # (memrl/validate.py says how a rule reads).
    leaf_rules: Mapping[str, str] = field(default_factory=dict)
    schedule: str = EPISODES
    train_defaults: Mapping[str, Any] = field(default_factory=dict)
    metric: str = "return"  # what figures score by default
    memoryless: float | None = None  # the best score without memory, drawn dashed
    reference: Mapping[Variant, float] = field(default_factory=dict)  # published scores
    reference_label: str = "reference"
    axis_label: str = "memory length"  # the aggregation plot's x axis (what L measures)
    plot: str = "aggregation"  # "aggregation": score vs L; "curves": learning curves only
    curve_points: int = 300  # points a curve is interpolated on
    figure: Figure | None = None  # a figure it is drawn in with other tasks ...
    figure_label: str = ""  # ... its panels there titled "<variant> (<figure_label>)"
    gym_id: str | None = None  # gymnasium id (registered by memrl.envs) ...
    gym_entry: str | None = None  # ... "module:Class", built as Class(num_envs=1, **kwargs)
    # "module:function" like `builder`, making copies that can draw themselves (gymnasium envs
    # draw only when made with render_mode="rgb_array", which costs a frame per step), for
    # `memrl eval --render`; None: `builder`'s copies draw.
    drawing_builder: str | None = None

    def make(self, cfg: ConfigDict, num_envs: int, seed: int | None,
             drawing: bool = False) -> Any:
        """`num_envs` copies of the task's env (a memrl.envs.BatchedEnv), built from `cfg`;
        `drawing`: copies whose render() draws them."""
        builder = self.drawing_builder if drawing and self.drawing_builder else self.builder
        return load(builder)(cfg, num_envs, seed)

    def variant(self, cfg: ConfigDict) -> Variant:
        """The run's variant, checked (raises ValueError naming the leaf to change)."""
        check = self.check_variant
        return (load(check) if isinstance(check, str) else check)(cfg)

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


# --- T-Maze (memrl/envs/tmaze.py) ------------------------------------------------------------

# The paper's budgets (train_episodes per L) and the seed README's settings. A memoryless
# agent walks right and guesses the side: return 0.5.
PASSIVE_TMAZE = Task(
    env_type="tmaze_passive",
    title="Passive T-Maze",
    builder="memrl.envs.tmaze:make_passive",
    env_config="configs/envs/tmaze_passive.py",
    leaf_rules={"distract_reward": "float"},
    rl_config="configs/rl/dqn_default.py",
    budgets={50: 20000, 100: 20000, 250: 16000, 500: 8000, 750: 8000, 1000: 8000, 1250: 8000,
             1500: 6700},
    memoryless=0.5,
    gym_id="memrl/PassiveTMaze-v0",
    gym_entry="memrl.envs.tmaze:PassiveTMaze",
)
ACTIVE_TMAZE = Task(
    env_type="tmaze_active",
    title="Active T-Maze",
    builder="memrl.envs.tmaze:make_active",
    env_config="configs/envs/tmaze_active.py",
    leaf_rules={"distract_reward": "float"},
    rl_config="configs/rl/dqn_default.py",
    overrides={"gpt": ("--config_seq.model.seq_model_config.n_layer", "2",
                       "--config_seq.model.seq_model_config.n_head", "2")},
    budgets={20: 40000, 50: 40000, 100: 40000, 250: 32000, 500: 16000},
    memoryless=0.5,
    # The paper's Active T-Maze figure plots against L as the credit assignment length (the
    # goal's reward comes ~L steps after the step left that earns it).
    axis_label="credit assignment length",
    gym_id="memrl/ActiveTMaze-v0",
    gym_entry="memrl.envs.tmaze:ActiveTMaze",
)

# --- Passive Visual Match and Key-to-Door (memrl/envs/tvt/) ----------------------------------

# The paper trains both with SAC-D, one shared and critic-frozen memory, from pixels.
PIXEL_TASK: dict[str, Any] = {
    "rl_config": "configs/rl/sacd_default.py", "seq_config": "configs/seq_models/{seq}_cnn.py",
    "flags": ("--shared_encoder", "--freeze_critic"), "metric": "success",
    "leaf_rules": {
        "final_reward": "float",
        "apple_reward": "float",
        "respawn_every": "int >= 0",  # 0: eaten apples do not return
        "num_apples": "int >= 0",  # the board checks its own maximum
    },
}

# Picking one of three colours at random succeeds 1/3 of the time.
VISUAL_MATCH = Task(
    env_type="visual_match",
    title="Passive Visual Match",
    builder="memrl.envs.tvt.visual_match:make",
    env_config="configs/envs/visual_match.py",
    budgets={60: 40000, 120: 30000, 250: 15000, 500: 10000, 750: 10000, 1000: 10000},
    memoryless=1 / 3,
    gym_id="memrl/PassiveVisualMatch-v0",
    gym_entry="memrl.envs.tvt.visual_match:VisualMatch",
    **PIXEL_TASK,
)
# Without the key the door never opens: success 0. The seed README runs GPT with 2 layers and
# 2 heads and LSTM with 2 layers here; the paper labels L a credit assignment length.
KEY_TO_DOOR = Task(
    env_type="key_to_door",
    title="Key-to-Door",
    builder="memrl.envs.tvt.key_to_door:make",
    env_config="configs/envs/keytodoor.py",
    overrides={"gpt": ("--config_seq.model.seq_model_config.n_layer", "2",
                       "--config_seq.model.seq_model_config.n_head", "2"),
               "lstm": ("--config_seq.model.seq_model_config.n_layer", "2")},
    budgets={60: 40000, 120: 40000, 250: 30000, 500: 15000},
    memoryless=0.0,
    axis_label="credit assignment length",
    gym_id="memrl/KeyToDoor-v0",
    gym_entry="memrl.envs.tvt.key_to_door:KeyToDoor",
    **PIXEL_TASK,
)

# --- Sign Match (memrl/envs/sign_match.py) ---------------------------------------------------

SIGN_MATCH = Task(
    env_type="sign_match",
    title="Sign Match",
    builder="memrl.envs.sign_match:make",
    env_config="configs/envs/sign_match.py",
    rl_config="configs/rl/td3_default.py",
    memoryless=0.0,
    gym_id="memrl/SignMatch-v0",
    gym_entry="memrl.envs.sign_match:SignMatch",
)

# --- PyBullet POMDPs, Section 5.3 (memrl/envs/pomdp.py) --------------------------------------

BULLET_ROBOTS = ("ant", "cheetah", "hopper", "walker")  # memrl/envs/pomdp.py builds each

# Figure 8's reference returns: recurrent TD3/SAC of Ni et al. (2022), as the paper draws them.
BULLET_REFERENCE = {
    "P": {"ant": 348, "cheetah": 2693, "hopper": 2133, "walker": 982},
    "V": {"ant": 1113, "cheetah": 1980, "hopper": 1495, "walker": 121},
}

FIGURE_8 = Figure("figure8", "PyBullet with positions (top) or velocities (bottom) only")


def _robot(cfg: ConfigDict) -> str:
    if cfg.env_name not in BULLET_ROBOTS:
        raise ValueError(f"config_env.env_name is the robot, one of "
                         f"{', '.join(BULLET_ROBOTS)}; got {cfg.env_name!r}")
    return cfg.env_name


def _bullet_task(suffix: str, kept: str) -> Task:
    return Task(
        env_type=f"pomdp/bullet_{suffix.lower()}",
        title=f"PyBullet, {kept} only (-{suffix})",
        builder=f"memrl.envs.pomdp:make_bullet_{suffix.lower()}",
        drawing_builder=f"memrl.envs.pomdp:make_bullet_{suffix.lower()}_drawing",
        env_config=f"configs/envs/pomdps/pybullet_{suffix.lower()}.py",
        rl_config="configs/rl/td3_default.py",
        # The README's commands: 64-step windows, one shared encoder trained by the critic.
        flags=("--config_seq.sampled_seq_len", "64", "--shared_encoder", "--freeze_all"),
        budgets={robot: 1500 for robot in BULLET_ROBOTS},  # 1500 x 1000 = 1.5M env steps
        check_variant=_robot,
        variant_name="robot",
        schedule=ENV_STEPS,
        train_defaults={"batch_size": 256, "updates_per_step": 1.0, "start_training": 10},
        reference=BULLET_REFERENCE[suffix],
        reference_label="Ni et al. (2022)",
        plot="curves",
        curve_points=100,
        figure=FIGURE_8,
        figure_label=f"-{suffix}",
    )


BULLET_P = _bullet_task("P", "positions")
BULLET_V = _bullet_task("V", "velocities")

# --- any gymnasium env (memrl/envs/pomdp.py) -------------------------------------------------

GYM = Task(
    env_type="gym",
    title="gymnasium env",
    builder="memrl.envs.pomdp:make_gym",
    drawing_builder="memrl.envs.pomdp:make_gym_drawing",
    env_config="configs/envs/gym.py",
    rl_config="configs/rl/dqn_default.py",  # Discrete actions; Box ones take td3/sac_default
    variant_key="env_id",
    check_variant="memrl.envs.pomdp:env_id_of",
    leaf_rules={
        "env_id": "str",  # memrl/envs/gym_source.py checks it (env_id_of)
        "wrappers": "str",  # module:Callable(key=value, ...); gym_source.py parses them
        "obs_keys": "any",  # Dict keys (str) or Tuple positions (int); checked against the space
        "obs_indices": "int >= 0",  # () keeps every entry
        "max_episode_steps": "int >= 0",  # 0: the env's own time limit
    },
    variant_name="env",
    schedule=ENV_STEPS,
    train_defaults={"batch_size": 256, "updates_per_step": 1.0, "start_training": 10},
    plot="curves",
    curve_points=100,
)

# config_env.env_type -> its record.
TASKS: dict[str, Task] = {
    task.env_type: task
    for task in (
        PASSIVE_TMAZE,
        ACTIVE_TMAZE,
        VISUAL_MATCH,
        KEY_TO_DOOR,
        SIGN_MATCH,
        BULLET_P,
        BULLET_V,
        GYM,
    )
}


def task_of(env_type: str) -> Task:
    if env_type not in TASKS:
        raise ValueError(f"unknown env_type {env_type!r} (config_env.env_type); choose one of "
                         f"{', '.join(TASKS)}")
    return TASKS[env_type]
