"""`memrl sweep`: a grid of training runs (tasks x lengths x sequence models x seeds) from one
command, on this machine's cores or on a Ray cluster.

    memrl sweep --tasks tmaze_passive --lengths 50 100 --seq_models lstm gpt --num_seeds 3
    memrl sweep --tasks tmaze_passive --scale 0.05 --out sweeps/quick --launcher ray
    memrl sweep ... -- --num_envs 4            (flags after `--` go to every new run)
    memrl sweep --tasks tmaze_passive --algo ppo ... -- --num_envs 16 --batch_size 4

Every run has a fixed folder, `<out>/<env_type>/<L>/<seq>-seed<S>/` (L: the task's variant,
its length or its robot; `<seq>-<algo>-seed<S>` with --algo), so a sweep can simply be
started again after a crash, a pre-emption or a Ctrl-C: a run whose folder holds summary.json
is finished and skipped, one holding config.json is continued (`memrl train --resume`), any
other starts afresh (`memrl train ... --run_dir`). Budgets and per-task settings come from
each task's record (memrl/envs/); `--algo` trains every run with another algorithm than the
task's own (configs/rl/<algo>_default.py, without the task's switches it does not take).

Each run is its own `python -m memrl.cli train` process, not a function call in a pool worker:
a fresh interpreter sets its torch threads before any work, keeps no absl or torch state from
the run before, returns its memory when it ends, and turns a crash (segfault, OOM kill) into an
exit code instead of a broken pool. Its output, C-level included, goes to
`<run folder>/stdout.log`, and the command is exactly the one --dry_run prints. Starting an
interpreter costs a second or two, nothing beside runs of minutes to days. The local launcher
waits on these processes from a thread pool; the Ray launcher runs the same function
(`execute_run`) as a Ray task, so the two differ only in where the process starts.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from ml_collections import ConfigDict

from memrl.args import OneLineParser, int_at_least, output_dir, positive_float
from memrl.nets.seq import SEQ_MODELS
from memrl.tasks import TASKS, Variant, task_of

LOG_FILE = "stdout.log"
SUMMARY_FILE = "summary.json"  # written by the trainer when a run finishes
CONFIG_FILE = "config.json"  # written by the trainer when a run starts


class SweepError(Exception):
    """Bad sweep arguments; the message says what to change."""


@dataclass(frozen=True)
class RunSpec:
    env_type: str
    length: Variant
    seq_model: str
    seed: int
    run_dir: Path  # absolute, so a Ray worker with another working folder finds it
    train_argv: tuple[str, ...]  # `memrl train` arguments of a fresh start, --run_dir included
    threads: int
    cwd: str  # where config paths are relative to (the repo root the sweep was started in)
    algo: str | None = None  # --algo: not the task's own algorithm

    @property
    def name(self) -> str:
        variant = TASKS[self.env_type].variant_name
        model = self.seq_model if self.algo is None else f"{self.seq_model} {self.algo}"
        return f"{self.env_type} {variant}={self.length} {model} seed {self.seed}"

    def action(self) -> str:
        """What starting this run now means: 'skip' (finished), 'resume' or 'fresh'."""
        if (self.run_dir / SUMMARY_FILE).exists():
            return "skip"
        return "resume" if (self.run_dir / CONFIG_FILE).exists() else "fresh"

    def argv(self, action: str) -> list[str]:
        """`memrl train` arguments for `action`; a resumed run takes all else from config.json."""
        if action == "resume":
            return ["--resume", str(self.run_dir), "--threads", str(self.threads)]
        return list(self.train_argv)


@dataclass(frozen=True)
class RunResult:
    spec: RunSpec
    status: str  # skipped | done | resumed | failed
    exit_code: int | None = None
    seconds: float = 0.0
    message: str = ""  # a failed run's last output line and where its log is


def execute_run(spec: RunSpec) -> RunResult:
    """Skip, resume or start one run in a child process; used by both launchers."""
    action = spec.action()
    if action == "skip":
        return RunResult(spec, "skipped")
    start = time.perf_counter()
    cmd = [sys.executable, "-m", "memrl.cli", "train", *spec.argv(action)]
    env = os.environ | {
        "PYTHONUNBUFFERED": "1",  # the log shows progress as it happens
        "OMP_NUM_THREADS": str(spec.threads), "MKL_NUM_THREADS": str(spec.threads),
    }
    spec.run_dir.parent.mkdir(parents=True, exist_ok=True)  # the trainer makes run_dir itself
    code, last_line, log = _run_logged(cmd, spec.cwd, env, spec.run_dir)
    seconds = time.perf_counter() - start
    if code != 0:
        return RunResult(spec, "failed", code, seconds, f"{last_line} (log: {log})")
    return RunResult(spec, "resumed" if action == "resume" else "done", code, seconds)


def _run_logged(cmd: list[str], cwd: str, env: dict[str, str],
                run_dir: Path) -> tuple[int, str, Path]:
    """Run `cmd`, appending its output to run_dir/stdout.log -> (exit code, last line, log).

    The trainer creates run_dir only once its arguments are good, so output is held back until
    the folder appears; a run that never makes it (bad arguments) logs next to it instead.
    """
    orphan_log = run_dir.with_name(f"{run_dir.name}.{LOG_FILE}")
    orphan_log.unlink(missing_ok=True)  # from an earlier failed attempt
    pending = [f"# memrl sweep {time.strftime('%Y-%m-%d %H:%M:%S')}: {shlex.join(cmd)}\n"]
    last_line = ""
    with ExitStack() as stack:
        log = None
        proc = stack.enter_context(subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        for line in proc.stdout:
            last_line = line.strip() or last_line
            if log is None and run_dir.is_dir():
                log = stack.enter_context(open(run_dir / LOG_FILE, "a"))
                log.writelines(pending)
            if log is None:
                pending.append(line)
            else:
                log.write(line)
                log.flush()
        code = proc.wait()
        if log is None:
            path = run_dir / LOG_FILE if run_dir.is_dir() else orphan_log
            with open(path, "a") as f:
                f.writelines(pending)
        else:
            path = Path(log.name)
    return code, last_line, path


Report = Callable[[RunResult], None]


def launch_local(runs: list[RunSpec], workers: int, report: Report) -> list[RunResult]:
    """Up to `workers` runs at once on this machine."""
    results = []
    executor = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = [executor.submit(execute_run, spec) for spec in runs]
        for future in as_completed(futures):
            results.append(future.result())
            report(results[-1])
    finally:  # on Ctrl-C, start nothing new (running children get the SIGINT themselves)
        executor.shutdown(wait=True, cancel_futures=True)
    return results


def launch_ray(runs: list[RunSpec], address: str | None, report: Report) -> list[RunResult]:
    """One Ray task per run, needing threads_per_run CPUs; run folders must be on storage every
    node sees at the same path, and memrl installed on every node."""
    try:
        import ray
    except ImportError:
        raise SweepError("--launcher ray needs Ray: pip install 'memrl[ray]' (or "
                         "pip install 'ray>=2.9'); --launcher local needs nothing") from None
    ray.init(address=address)
    try:
        task = ray.remote(execute_run)
        pending = {task.options(num_cpus=spec.threads).remote(spec): spec for spec in runs}
        results = []
        while pending:
            (ref,), _ = ray.wait(list(pending), num_returns=1)
            spec = pending.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayError as err:  # the task died (node lost, worker killed)
                result = RunResult(spec, "failed", None, 0.0, f"ray: {err}".splitlines()[0])
            results.append(result)
            report(result)
        return results
    finally:
        ray.shutdown()


def build_runs(args: argparse.Namespace, extra: list[str]) -> list[RunSpec]:
    """The grid, in a stable order (task, length, sequence model, seed)."""
    out = Path(args.out).resolve()
    seeds = args.seeds if args.seeds is not None else list(range(args.num_seeds))
    runs = []
    for env_type in args.tasks:
        task = task_of(env_type)
        for length in args.lengths or task.variants():
            if args.train_episodes is not None:
                episodes = args.train_episodes
            else:
                try:
                    episodes = task.train_episodes(length, args.scale)
                except ValueError as err:
                    raise SweepError(f"{err} (or give every run --train_episodes N)") from None
            for seq_model in args.seq_models:
                configs = task.argv(seq_model)
                if args.algo is not None:
                    configs = with_algo(configs, args.algo)
                model = seq_model if args.algo is None else f"{seq_model}-{args.algo}"
                for seed in seeds:
                    run_dir = out / env_type / str(length) / f"{model}-seed{seed}"
                    argv = [*configs, f"--config_env.{task.variant_key}",
                            str(length),
                            "--seed", str(seed), "--train_episodes", str(episodes),
                            "--threads", str(args.threads_per_run), "--run_dir", str(run_dir),
                            *extra]
                    runs.append(RunSpec(env_type, length, seq_model, seed, run_dir,
                                        tuple(argv), args.threads_per_run, os.getcwd(),
                                        args.algo))
    return runs


def with_algo(argv: list[str], algo: str) -> list[str]:
    """A task's `memrl train` configs with `algo`'s default rl config instead of the task's
    own, and without the task's switches that `algo` does not take (the pixel tasks'
    --shared_encoder --freeze_critic, for PPO)."""
    from memrl.agents import ALGOS, SWITCHES

    argv = list(argv)
    argv[argv.index("--config_rl") + 1] = f"configs/rl/{algo}_default.py"
    refused = {f"--{name}" for name in SWITCHES if name not in ALGOS[algo].switches}
    return [arg for arg in argv if arg not in refused]


def _missing_configs(runs: Iterable[RunSpec]) -> list[str]:
    files = set()
    for env_type, seq_model in {(r.env_type, r.seq_model) for r in runs}:
        task = TASKS[env_type]
        files |= {task.env_config, task.rl_config, task.seq_config_path(seq_model)}
    return sorted(f for f in files if not Path(f).is_file())


def _usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _variant(text: str) -> Variant:
    return int(text) if text.lstrip("-").isdigit() else text


def algo_names() -> list[str]:
    from memrl.agents import ALGOS

    return list(ALGOS)


def seq_model_names() -> list[str]:
    """Every registered sequence model, in the registry's order."""
    return list(SEQ_MODELS)


def _parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="memrl sweep",
        description="Run a grid of trainings; run it again to skip finished runs and resume "
                    "unfinished ones. Train flags after `--` go to every new run.",
        epilog="example: memrl sweep --tasks tmaze_passive --lengths 50 100 --num_seeds 3 "
               "--scale 0.1 --out sweeps/quick -- --num_envs 4")
    p.add_argument("--tasks", nargs="+", required=True, choices=list(TASKS),
                   metavar="ENV_TYPE", help=f"one or more of: {', '.join(TASKS)}")
    p.add_argument("--lengths", "--variants", nargs="+", type=_variant, metavar="L",
                   help="task lengths, or robots for the PyBullet tasks (default: the "
                        "variants the paper runs)")
    p.add_argument("--seq_models", nargs="+", default=["lstm", "gpt"], choices=seq_model_names(),
                   metavar="SEQ", help=f"one or more of: {', '.join(seq_model_names())} "
                                       "(default: lstm gpt)")
    p.add_argument("--algo", choices=algo_names(), metavar="ALGO",
                   help=f"train every run with this algorithm, one of {', '.join(algo_names())} "
                        "(configs/rl/<algo>_default.py), instead of each task's own; run "
                        "folders are then <seq>-<algo>-seed<S>")
    seeds = p.add_mutually_exclusive_group()
    seeds.add_argument("--seeds", nargs="+", type=int_at_least(0), metavar="S")
    seeds.add_argument("--num_seeds", type=int_at_least(1), default=3,
                       help="seeds 0..N-1 (default 3)")
    p.add_argument("--scale", type=positive_float, default=1.0,
                   help="factor on the paper's train_episodes, for quick versions (default 1)")
    p.add_argument("--train_episodes", type=int_at_least(1),
                   help="the same budget for every run instead of the table (needed for "
                        "lengths the table lacks)")
    p.add_argument("--out", type=output_dir, default="sweeps",
                   help="sweep root (default: sweeps)")
    p.add_argument("--launcher", choices=["local", "ray"], default="local")
    p.add_argument("--workers", type=int_at_least(1),
                   help="local: runs at once (default: cores // threads_per_run)")
    p.add_argument("--threads_per_run", type=int_at_least(1), default=1,
                   help="torch CPU threads per run, and Ray CPUs per task (default 1)")
    p.add_argument("--ray_address", default=os.environ.get("RAY_ADDRESS"),
                   help="Ray cluster to join, host:port or ray://host:10001 (default: "
                        "$RAY_ADDRESS; none starts Ray on this machine)")
    p.add_argument("--dry_run", action="store_true", help="print the runs, run nothing")
    return p


def _check(args: argparse.Namespace) -> None:
    """What the argument types cannot see alone: repeats (two runs in one folder) and lengths
    each task would refuse."""
    for flag, values in (("--tasks", args.tasks), ("--lengths", args.lengths),
                         ("--seq_models", args.seq_models), ("--seeds", args.seeds)):
        repeated = sorted({str(v) for v in values or () if list(values).count(v) > 1})
        if repeated:
            raise SweepError(f"{flag} lists {', '.join(repeated)} more than once")
    for env_type in args.tasks:
        task = task_of(env_type)
        if not args.lengths and not task.budgets:
            raise SweepError(f"--tasks {env_type} has no variants of its own: name them with "
                             f"--variants (its config_env.{task.variant_key}), e.g. "
                             f"--variants CartPole-v1 popgym:popgym-RepeatPreviousEasy-v0")
        for length in args.lengths or ():
            try:
                task.variant(ConfigDict({"env_type": env_type, task.variant_key: length}))
            except ValueError as err:
                raise SweepError(f"--lengths {length} for {env_type}: {err}") from None
            except (AttributeError, KeyError):
                pass  # the task's check reads more of its config: each run checks it then


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    args = _parser().parse_or_report(argv[:argv.index("--")] if "--" in argv else argv)
    if args is None:
        return 2
    try:
        _check(args)
        runs = build_runs(args, extra)
        missing = _missing_configs(runs)
        if missing:  # the runs' commands name configs by paths relative to the repo root
            raise SweepError(f"config files not found (from {os.getcwd()}): "
                             f"{', '.join(missing)}; run the sweep from the repo root")
    except SweepError as err:
        print(f"memrl sweep: error: {err}", file=sys.stderr)
        return 2
    workers = args.workers or max(1, _usable_cores() // args.threads_per_run)

    if args.dry_run:
        for spec in runs:
            action = spec.action()
            print(f"{action:6}  {spec.name}")
            if action != "skip":
                print(f"        memrl train {shlex.join(spec.argv(action))}")
        where = f"ray {args.ray_address or '(local)'}" if args.launcher == "ray" else \
            f"local, {workers} at once"
        print(f"memrl sweep: {len(runs)} runs ({where}); dry run, nothing started")
        return 0

    print(f"memrl sweep: {len(runs)} runs into {Path(args.out).resolve()}", flush=True)
    counter = iter(range(1, len(runs) + 1))

    def report(result: RunResult) -> None:
        spec, status = result.spec, result.status
        line = f"[{next(counter)}/{len(runs)}] {status:8} {spec.name}"
        if status == "failed":
            line += f": exit {result.exit_code}: {result.message}"
        elif status != "skipped":
            line += f" ({result.seconds:.0f} s) {spec.run_dir}"
        print(line, flush=True)

    try:
        if args.launcher == "ray":
            results = launch_ray(runs, args.ray_address, report)
        else:
            results = launch_local(runs, workers, report)
    except SweepError as err:
        print(f"memrl sweep: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("memrl sweep: interrupted; the same command continues where it stopped",
              file=sys.stderr)
        return 130
    counts = Counter(r.status for r in results)
    print("memrl sweep: " + ", ".join(f"{counts[s]} {s}" for s in
                                      ("done", "resumed", "skipped", "failed")), flush=True)
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
