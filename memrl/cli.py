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

import dataclasses
import difflib
import importlib.util
import re
import sys
import textwrap
import typing
from dataclasses import dataclass
from pathlib import Path

from absl import flags
from ml_collections import ConfigDict, config_flags

from memrl.run_config import FLAG_NAMES, FLAGS, RESUME_FLAGS, ConfigError, RunConfig
from memrl.tasks import ENV_STEPS, TASKS, TRAIN_DEFAULTS

# The three config files of a run: what each is, and an example.
CONFIG_FLAGS = {
    "config_env": ("The task", "configs/envs/tmaze_passive.py"),
    "config_rl": ("The algorithm", "configs/rl/dqn_default.py"),
    "config_seq": ("The sequence model", "configs/seq_models/lstm_default.py"),
}
# Where the run goes (not settings of the run, so not in config.json).
PLACE_FLAGS = {
    "run_dir": "Write the run into exactly this folder (default: "
               "<save_dir>/<env_type>/<L>/<timestamp>+<pid>).",
    "resume": "Continue the run in this folder from its newest checkpoint; its config.json "
              "gives every setting.",
}
DEFINE = {int: flags.DEFINE_integer, float: flags.DEFINE_float, bool: flags.DEFINE_boolean,
          str: flags.DEFINE_string}
HELP = ("-h", "--help", "-help", "--helpfull")


class UsageError(Exception):
    pass


def define_train_flags(fv: flags.FlagValues, argv: list[str]) -> None:
    """`argv` (with the program name) is where ml_collections finds the config overrides.
    The flags are RunConfig's flag fields (their defaults and help are written there), the
    algorithms' switches (memrl/agents: SWITCHES), and where the run goes."""
    from memrl.agents import SWITCHES

    for name, (what, _) in CONFIG_FLAGS.items():
        config_flags.DEFINE_config_file(name, None, f"{what} config file.", flag_values=fv,
                                        sys_argv=argv)
    for f in FLAGS:
        if "choices" in f.metadata:
            flags.DEFINE_enum(f.name, f.default, list(f.metadata["choices"]), f.metadata["help"],
                              flag_values=fv)
        else:
            DEFINE[_value_type(f)](f.name, f.default, f.metadata["help"], flag_values=fv)
    for name in SWITCHES:
        flags.DEFINE_boolean(name, False, switch_help(name), flag_values=fv)
    for name, help_text in PLACE_FLAGS.items():
        flags.DEFINE_string(name, None, help_text, flag_values=fv)


def _value_type(f: dataclasses.Field) -> type:
    """int for a field typed `int | None`, and so on."""
    hint = typing.get_type_hints(RunConfig)[f.name]
    return next(t for t in typing.get_args(hint) or (hint,) if t is not type(None))


def switch_help(name: str) -> str:
    from memrl.agents import SWITCHES, switch_users

    return f"{SWITCHES[name]} ({', '.join(switch_users(name))}; sets config_rl.{name})."


def _default_text(f: dataclasses.Field) -> str:
    """A flag's default as --help shows it; a task default with the tasks that differ."""
    if f.metadata.get("task_default"):
        others: dict[object, list[str]] = {}
        for env_type, task in TASKS.items():
            if task.default(f.name) != TRAIN_DEFAULTS[f.name]:
                others.setdefault(task.default(f.name), []).append(env_type)
        tasks = "; ".join(f"{value} for {', '.join(names)}" for value, names in others.items())
        return f"{TRAIN_DEFAULTS[f.name]}" + (f" ({tasks})" if tasks else "")
    if f.default is None or isinstance(f.default, bool):
        return {None: "unset", False: "off", True: "on"}[f.default]
    return f"{f.default:g}" if isinstance(f.default, float) else str(f.default)


def train_help() -> str:
    """`memrl train --help` (and `python main.py --help`): every flag with its default."""
    from memrl.agents import SWITCHES

    def entry(name: str, metavar: str, text: str) -> str:
        head, indent = f"  --{name} {metavar}", " " * 28
        if len(head) >= len(indent):  # a long name: its help starts on the next line
            return f"{head}\n" + textwrap.fill(text, 100, initial_indent=indent,
                                                subsequent_indent=indent)
        return textwrap.fill(text, 100, initial_indent=head.ljust(len(indent)),
                             subsequent_indent=indent)

    lines = [
        "usage: memrl train --config_env FILE --config_rl FILE --config_seq FILE [flags]",
        "       memrl train --resume RUN_DIR [--device D] [--threads N] [--compile]",
        "       python main.py ...   (the same as memrl train)",
        "",
        ("An experiment is three ml_collections config files; every leaf of each can be set "
         "on the"),
        ("command line, e.g. --config_env.env_name 50 "
         "--config_seq.model.seq_model_config.n_layer 2."),
        "",
        *(entry(name, "FILE", f"{what}, e.g. {example} (required).")
          for name, (what, example) in CONFIG_FLAGS.items()),
        "",
        "flags [default]:",
    ]
    for f in FLAGS:
        metavar = "|".join(f.metadata["choices"]) if "choices" in f.metadata else \
            {int: "N", float: "X", str: "TEXT", bool: ""}[_value_type(f)]
        lines.append(entry(f.name, metavar, f"{f.metadata['help']} [{_default_text(f)}]"))
    lines += [entry(name, "", f"{switch_help(name)} [off]") for name in SWITCHES]
    lines += [entry(name, "DIR", help_text) for name, help_text in PLACE_FLAGS.items()]
    return "\n".join(lines)


def _load_config_file(flag: str, path: str) -> ConfigDict:
    file = Path(path)
    if not file.is_file():
        raise UsageError(f"--{flag} {path}: no such file; pass a config file such as "
                         f"{CONFIG_FLAGS[flag][1]} (paths are relative to the current folder)")
    spec = importlib.util.spec_from_file_location(f"memrl_{flag}", file)
    if spec is None:
        raise UsageError(f"--{flag} {path}: not a Python file; a config file is a .py file "
                         f"with get_config(), such as {CONFIG_FLAGS[flag][1]}")
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
            raise UsageError(f"--{flag} is required, e.g. --{flag} {CONFIG_FLAGS[flag][1]}")
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
    if fv["train_env_steps"].present and fv["train_episodes"].present:
        raise UsageError("--train_env_steps and --train_episodes are two ways to give the "
                         "budget; give one")
    # The algorithm switches become leaves of the rl config: it alone then says how the
    # agent is built (and an algorithm that does not take a switch refuses it in validate).
    from memrl.agents import SWITCHES, set_switches

    set_switches(fv.config_rl, **{name: fv[name].value for name in SWITCHES})
    if fv.freeze_all and fv.freeze_critic:
        print("memrl: note: --freeze_all implies --freeze_critic: the run is the one "
              "--freeze_all alone gives", file=sys.stderr)
    run = RunConfig(
        config_env=fv.config_env, config_rl=fv.config_rl, config_seq=fv.config_seq,
        **{name: fv[name].value for name in FLAG_NAMES},
    )
    run.validate()
    if run.train_env_steps is not None:
        run = run.with_env_step_budget()
    return TrainCommand(run, Path(fv.run_dir) if fv.run_dir else None, resume=False)


def parse_train_args(argv: list[str]) -> RunConfig:
    """The RunConfig of a (non-resume) train command line."""
    return parse_train_command(argv).run


def env_step_budget(run: RunConfig, T: int) -> str:
    """What the budget of an env-step task buys, said when the run starts: a short one can
    end inside the random warm-up, or before the first evaluation writes a row."""
    budget, warmup = run.train_episodes * T, run.start_training * T
    period = run.config_env.eval_interval * T
    line = (f"[memrl] budget: {budget} env steps ({run.train_episodes} x T = {T}), random "
            f"actions for the first {warmup}, an evaluation every {period}")
    if budget <= warmup:
        line += ("; no update fits in it: raise --train_env_steps or lower --start_training "
                 "(units of T)")
    elif budget < period:
        line += ("; it ends before the first evaluation, so progress.csv gets no row: raise "
                 "--train_env_steps or lower config_env.eval_interval (units of T)")
    return line


def train_main(argv: list[str]) -> int:
    """Exit 0: trained (or nothing left to train); 2: refused before writing anything (bad
    input, a run another process is writing, run files that disagree); 1: the run started
    and stopped (non-finite values, a failed write, an env that failed), its last checkpoint
    intact; 128 + the signal (130 for Ctrl-C, 143 for SIGTERM): stopped by it, with a
    checkpoint to resume."""
    if any(arg in HELP for arg in argv):
        print(train_help())
        return 0
    from memrl.envs import EnvError
    from memrl.files import RunFileError
    from memrl.integrity import NonFiniteError
    from memrl.run_folder import SUMMARY_FILE, newest_checkpoint
    from memrl.stopping import RunInterrupted
    from memrl.trainer import Trainer

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
    except KeyboardInterrupt:  # Ctrl-C while the run was being built or opened
        print("[memrl] interrupted while starting the run, before any training", flush=True)
        return 130
    if command.run.task.schedule == ENV_STEPS:
        print(env_step_budget(command.run, trainer.parts.T), flush=True)
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
    except RunInterrupted as stop:
        print(f"[memrl] {stop}", flush=True)
        return stop.exit_code
    except KeyboardInterrupt:  # a second Ctrl-C: stopped at once, without a new checkpoint
        last = newest_checkpoint(trainer.run_dir)
        print("[memrl] stopped at once by a second Ctrl-C; "
              + (f"continue from {last.name} with memrl train --resume {trainer.run_dir}"
                 if last else "it has no checkpoint yet (--resume starts it over)"), flush=True)
        return 130
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
