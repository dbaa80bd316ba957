"""The paper's training budgets and per-task setups (REFERENCE section 6), as data.

Two tables: BUDGETS says how many training episodes each (task, length L) gets, and TASKS says
how a run of a task is launched (which env / RL / sequence-model config files, which flags,
and the README's per-model overrides). `memrl sweep` builds every run's command line from
them, so a grid of runs needs nothing but task names, lengths and seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# train_episodes per task and length; env steps ~ episodes x T.
BUDGETS: dict[str, dict[int, int]] = {
    "tmaze_passive": {50: 20000, 100: 20000, 250: 16000, 500: 8000, 750: 8000, 1000: 8000,
                      1250: 8000, 1500: 6700},
    "tmaze_active": {20: 40000, 50: 40000, 100: 40000, 250: 32000, 500: 16000},
    "visual_match": {60: 40000, 120: 30000, 250: 15000, 500: 10000, 750: 10000, 1000: 10000},
    "key_to_door": {60: 40000, 120: 40000, 250: 30000, 500: 15000},
}

SEQ_CONFIGS = "configs/seq_models"
VECTOR_SEQ = {"lstm": f"{SEQ_CONFIGS}/lstm_default.py", "gpt": f"{SEQ_CONFIGS}/gpt_default.py"}
PIXEL_SEQ = {"lstm": f"{SEQ_CONFIGS}/lstm_cnn.py", "gpt": f"{SEQ_CONFIGS}/gpt_cnn.py"}

_SEQ_KEY = "--config_seq.model.seq_model_config"
TWO_LAYERS = (f"{_SEQ_KEY}.n_layer", "2")
TWO_LAYERS_TWO_HEADS = (*TWO_LAYERS, f"{_SEQ_KEY}.n_head", "2")


@dataclass(frozen=True)
class TaskSetup:
    """How the paper runs one task: config files (relative to the repo root) and flags."""

    env_config: str
    rl_config: str
    seq_configs: dict[str, str]  # sequence model name -> its config file
    flags: tuple[str, ...] = ()  # train flags every run of the task gets
    overrides: dict[str, tuple[str, ...]] = field(default_factory=dict)  # per sequence model

    def argv(self, seq_model: str) -> list[str]:
        """The config part of a `memrl train` command line (no length, seed or budget)."""
        if seq_model not in self.seq_configs:
            raise ValueError(f"unknown sequence model {seq_model!r}; known: "
                             f"{', '.join(self.seq_configs)}")
        return ["--config_env", self.env_config, "--config_rl", self.rl_config,
                "--config_seq", self.seq_configs[seq_model],
                *self.overrides.get(seq_model, ()), *self.flags]


# The README's settings: Active T-Maze GPT and Key-to-Door GPT use 2 layers and 2 heads,
# Key-to-Door LSTM 2 layers; the pixel tasks run SAC-D with one shared, critic-frozen encoder.
_SACD_FLAGS = ("--shared_encoder", "--freeze_critic")
TASKS: dict[str, TaskSetup] = {
    "tmaze_passive": TaskSetup("configs/envs/tmaze_passive.py", "configs/rl/dqn_default.py",
                               VECTOR_SEQ),
    "tmaze_active": TaskSetup("configs/envs/tmaze_active.py", "configs/rl/dqn_default.py",
                              VECTOR_SEQ, overrides={"gpt": TWO_LAYERS_TWO_HEADS}),
    "visual_match": TaskSetup("configs/envs/visual_match.py", "configs/rl/sacd_default.py",
                              PIXEL_SEQ, flags=_SACD_FLAGS),
    "key_to_door": TaskSetup("configs/envs/keytodoor.py", "configs/rl/sacd_default.py",
                             PIXEL_SEQ, flags=_SACD_FLAGS,
                             overrides={"gpt": TWO_LAYERS_TWO_HEADS, "lstm": TWO_LAYERS}),
}


def task(env_type: str) -> TaskSetup:
    if env_type not in TASKS:
        raise ValueError(f"unknown task {env_type!r}; known tasks: {', '.join(TASKS)}")
    return TASKS[env_type]


def lengths(env_type: str) -> list[int]:
    """The lengths L the paper runs for a task, shortest first."""
    task(env_type)
    return sorted(BUDGETS[env_type])


def train_episodes(env_type: str, length: int, scale: float = 1.0) -> int:
    """The paper's budget for (task, L), times `scale` (quick versions), at least 1 episode."""
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    task(env_type)  # a clear error for an unknown task
    table = BUDGETS[env_type]
    if length not in table:
        raise ValueError(f"no budget for {env_type} L={length}; known lengths: "
                         f"{', '.join(map(str, sorted(table)))}")
    return max(1, round(table[length] * scale))
