"""The `memrl` command and the seed's `main.py` flags.

    memrl train --config_env F --config_rl F --config_seq F [--config_env.env_name 50] [flags]
    memrl eval RUN_DIR [--render out.gif]
    memrl plot LOGS_DIR [...]
    memrl sweep --tasks tmaze_passive --num_seeds 3 --scale 0.05 --out sweeps/quick
    python main.py ...            (same as `memrl train ...`, the seed's entry point)

Config files are ml_collections files whose leaves can all be overridden
(`--config_seq.model.seq_model_config.n_layer 2`). Bad input ends with one `memrl: error:` line
saying what to change, exit status 2, and nothing written.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from absl import flags
from ml_collections import ConfigDict, config_flags

from memrl.precision import PRECISIONS
from memrl.run_config import RESUME_FLAGS, SWITCHES, ConfigError, RunConfig, set_switches

CONFIG_FLAGS = ("config_env", "config_rl", "config_seq")
EXAMPLE_CONFIG = {
    "config_env": "configs/envs/tmaze_passive.py",
    "config_rl": "configs/rl/dqn_default.py",
    "config_seq": "configs/seq_models/lstm_default.py",
}


class UsageError(Exception):
    pass


def define_train_flags(fv: flags.FlagValues, argv: list[str]) -> None:
    """`argv` (with the program name) is where ml_collections finds the config overrides."""
    for name, what in zip(CONFIG_FLAGS, ("Environment", "RL algorithm", "Sequence model")):
        config_flags.DEFINE_config_file(name, None, f"{what} config file.", flag_values=fv,
                                        sys_argv=argv)
    d = RunConfig  # defaults live on RunConfig, in one place
    flags.DEFINE_integer("seed", 42, "Run seed; negative = drawn from the pid.", flag_values=fv)
    flags.DEFINE_integer("batch_size", None, "Sequences per gradient update (default 64; 256 "
                         "for the continuous-control tasks, as the paper's code for them).",
                         flag_values=fv)
    flags.DEFINE_integer("train_episodes", 1000, "Training episodes after the warm-up; for "
                         "env-step tasks, units of max_episode_steps env steps (the paper's "
                         "budgets are in each task's record, memrl/envs/).", flag_values=fv)
    flags.DEFINE_float("updates_per_step", None, "Gradient updates per env step (default "
                       "0.25; 1.0 for the continuous-control tasks).", flag_values=fv)
    flags.DEFINE_integer("start_training", None, "Random warm-up episodes (default 10; for "
                         "env-step tasks, units of max_episode_steps env steps).",
                         flag_values=fv)
    flags.DEFINE_boolean("shared_encoder", False, "SAC-D, TD3, SAC: one sequence model for "
                         "actor and critic (sets config_rl.shared_encoder).", flag_values=fv)
    flags.DEFINE_boolean("freeze_critic", False, "With --shared_encoder: the actor loss "
                         "trains neither the critic nor the shared memory (sets "
                         "config_rl.freeze_critic).", flag_values=fv)
    flags.DEFINE_boolean("freeze_all", False, "TD3, SAC with --shared_encoder: the actor loss "
                         "trains only the actor head (sets config_rl.freeze_all).",
                         flag_values=fv)
    flags.DEFINE_boolean("debug", False, "Log to debug/ and echo every row.", flag_values=fv)
    flags.DEFINE_string("save_dir", d.save_dir, "Root folder of run logs.", flag_values=fv)
    flags.DEFINE_integer("num_envs", d.num_envs, "Episodes collected at once (1 keeps the "
                         "paper's update-to-data schedule).", flag_values=fv)
    flags.DEFINE_string("device", d.device, "auto, cpu or cuda.", flag_values=fv)
    flags.DEFINE_integer("threads", d.threads, "Torch CPU threads (0 = the cores not already busy, by load average).",
                         flag_values=fv)
    flags.DEFINE_float("checkpoint_interval", d.checkpoint_interval, "Seconds between "
                       "checkpoints (taken at evaluations; 0 = at every evaluation).",
                       flag_values=fv)
    flags.DEFINE_integer("keep_checkpoints", d.keep_checkpoints, "Newest checkpoints kept.",
                         flag_values=fv)
    flags.DEFINE_boolean("tensorboard", False, "Also write TensorBoard scalars to "
                         "<run_dir>/tensorboard (pip install 'memrl[tensorboard]').",
                         flag_values=fv)
    flags.DEFINE_enum("precision", d.precision, list(PRECISIONS), "bf16 autocasts the "
                      "networks' forward passes in updates (fp32 weights, loss and optimiser); "
                      "auto: bf16 where the hardware has it and it learns as fp32 does.",
                      flag_values=fv)
    flags.DEFINE_boolean("compile", d.compile, "torch.compile the networks' whole-sequence "
                         "forward (slow first updates).", flag_values=fv)
    flags.DEFINE_string("run_dir", None, "Write the run into exactly this folder (default: "
                        "<save_dir>/<env_type>/<L>/<timestamp>+<pid>).", flag_values=fv)
    flags.DEFINE_string("resume", None, "Continue the run in this folder from its newest "
                        "checkpoint; its config.json gives every setting.", flag_values=fv)


def _load_config_file(flag: str, path: str) -> ConfigDict:
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"--{flag} {path}: no such file; pass a config file such as "
                         f"{EXAMPLE_CONFIG[flag]} (paths are relative to the current folder)")
    spec = importlib.util.spec_from_file_location(f"memrl_{flag}", file)
    if spec is None:
        raise UsageError(f"--{flag} {path}: not a Python file; a config file is a .py file "
                         f"with get_config(), such as {EXAMPLE_CONFIG[flag]}")
    try:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not hasattr(module, "get_config"):
            raise UsageError(f"--{flag} {path}: the file has no get_config() function")
        config = module.get_config()
    except UsageError:
        raise
    except Exception as err:  # whatever the file does wrong, say where and what in one line
        first = str(err).splitlines()[0] if str(err) else ""
        raise UsageError(f"--{flag} {path}: {type(err).__name__}: {first}") from None
    if not isinstance(config, ConfigDict):
        raise UsageError(f"--{flag} {path}: get_config() returned a {type(config).__name__}, "
                         "not an ml_collections ConfigDict")
    return config


def _leaf_paths(config: ConfigDict, prefix: str = "") -> list[str]:
    paths = []
    for key, value in config.items():
        path = f"{prefix}{key}"
        paths += _leaf_paths(value, path + ".") if isinstance(value, ConfigDict) else [path]
    return paths


def check_config_args(argv: list[str]) -> None:
    """Catch what absl reports badly: missing config files and unknown override keys."""
    files: dict[str, str] = {}
    overrides: list[tuple[str, str]] = []
    for i, arg in enumerate(argv):
        match = re.fullmatch(r"--(config_env|config_rl|config_seq)(\.[^=]+)?(=.*)?", arg)
        if not match:
            continue
        flag, key, inline = match.groups()
        if key:
            overrides.append((flag, key[1:]))
        else:
            value = inline[1:] if inline else (argv[i + 1] if i + 1 < len(argv) else "")
            files[flag] = value
    for flag in CONFIG_FLAGS:
        if flag not in files:
            raise UsageError(f"--{flag} is required, e.g. --{flag} {EXAMPLE_CONFIG[flag]}")
    configs = {flag: _load_config_file(flag, path) for flag, path in files.items()}
    for flag, key in overrides:
        known = _leaf_paths(configs[flag])
        if key not in known:
            close = difflib.get_close_matches(key, known, n=3)
            hint = f"did you mean {', '.join(f'--{flag}.{c}' for c in close)}?" if close else \
                f"known keys: {', '.join(known)}"
            raise UsageError(f"unknown config key --{flag}.{key} in {files[flag]}; {hint}")


def _parse_flags(argv: list[str]) -> flags.FlagValues:
    fv = flags.FlagValues()
    full_argv = ["memrl"] + argv
    define_train_flags(fv, full_argv)
    try:
        fv(full_argv)
    except flags.Error as err:
        raise UsageError(str(err)) from None
    return fv


@dataclass
class TrainCommand:
    run: RunConfig
    run_dir: Path | None  # None: a new timestamped folder under save_dir
    resume: bool


def parse_train_command(argv: list[str]) -> TrainCommand:
    """argv without the program name -> what to train (raises UsageError/ConfigError)."""
    if not any(arg == "--resume" or arg.startswith("--resume=") for arg in argv):
        check_config_args(argv)
    fv = _parse_flags(argv)
    if fv.resume is not None:
        run_dir = Path(fv.resume)
        run = RunConfig.load(run_dir)
        extra = [name for name in fv
                 if fv[name].present and name not in (*RESUME_FLAGS, "resume")]
        if extra:
            raise UsageError(
                f"--resume takes every setting from {run_dir / 'config.json'}; drop "
                f"--{', --'.join(extra)} (only --{', --'.join(RESUME_FLAGS)} may change)"
            )
        run = run.replace(**{name: fv[name].value for name in RESUME_FLAGS if fv[name].present})
        run.validate()
        return TrainCommand(run, run_dir, resume=True)
    # The algorithm switches become leaves of the rl config: it alone then says how the
    # agent is built (and an algorithm that does not take a switch refuses it in validate).
    set_switches(fv.config_rl, **{name: fv[name].value for name in SWITCHES})
    run = RunConfig(
        config_env=fv.config_env, config_rl=fv.config_rl, config_seq=fv.config_seq,
        **{name: fv[name].value for name in RunConfig.FLAG_NAMES},
    )
    run.validate()
    return TrainCommand(run, Path(fv.run_dir) if fv.run_dir else None, resume=False)


def parse_train_args(argv: list[str]) -> RunConfig:
    """The RunConfig of a (non-resume) train command line."""
    return parse_train_command(argv).run


def train_main(argv: list[str]) -> int:
    """Exit 0: trained (or nothing left to train); 2: refused before writing anything (bad
    input, a run another process is writing, run files that disagree); 1: the run started
    and stopped (non-finite values, a failed write, an env that failed), its last checkpoint
    intact."""
    from memrl.envs import EnvError
    from memrl.files import RunFileError
    from memrl.trainer import SUMMARY_FILE, NonFiniteError, Trainer

    try:
        command = parse_train_command(argv)
        if command.resume and (command.run_dir / SUMMARY_FILE).exists():
            print(f"[memrl] {command.run_dir} is finished ({SUMMARY_FILE}); nothing to do, "
                  "no file changed")
            return 0
        trainer = Trainer(command.run, run_dir=command.run_dir, resume=command.resume)
    except (UsageError, ConfigError, ValueError) as err:
        print(f"memrl: error: {err}", file=sys.stderr)
        return 2
    except MemoryError as err:
        print(f"memrl: error: out of memory building the run ({err}); lower --num_envs, "
              "config_env.eval_episodes or the replay sizes", file=sys.stderr)
        return 2
    except RunFileError as err:
        print(f"memrl: error: {err}", file=sys.stderr)
        return 1
    try:
        trainer.train()
    except NonFiniteError as err:
        print(f"memrl: error: {err}", file=sys.stderr)
        return 1
    except EnvError as err:
        print(f"memrl: error: {err}; the run stopped after {trainer.env_steps} env steps, "
              f"what it learned before that episode checkpointed: fix the env, then memrl "
              f"train --resume {trainer.run_dir}", file=sys.stderr)
        return 1
    except RunFileError as err:
        print(f"memrl: error: {err}; the run stopped with its last checkpoint and rows "
              f"intact: free space, then memrl train --resume {trainer.run_dir}",
              file=sys.stderr)
        return 1
    return 0


def plot_main(argv: list[str]) -> int:
    from memrl.analysis.cli import main as analysis_main

    return analysis_main(argv)


def eval_main(argv: list[str]) -> int:
    from memrl.evaluate import main as evaluate_main

    return evaluate_main(argv)


def sweep_main(argv: list[str]) -> int:
    from memrl.sweep import main as sweep

    return sweep(argv)


COMMANDS = {
    "train": train_main,
    "eval": eval_main,
    "plot": plot_main,
    "sweep": sweep_main,
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__.strip())
        print(f"\ncommands: {', '.join(COMMANDS)}")
        return 0
    command = argv[0]
    if command not in COMMANDS:
        print(f"memrl: error: unknown command {command!r}; choose one of {', '.join(COMMANDS)}",
              file=sys.stderr)
        return 2
    return COMMANDS[command](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
