"""The paper's question for every registered sequence model, at lengths a CPU affords: does it
handle long memory (Passive T-Maze: memory length L, credit assignment 1) and long credit
assignment (Active T-Maze: both L)?

Every model x task x length x seed is one `python -m memrl.cli train` run, one at a time with
one thread, in a fixed folder `<out>/<env_type>/<L>/<model>-seed<S>/`, run by memrl.sweep's
local launcher: run the same command again after an interruption and finished runs are skipped,
started ones resumed. All runs of a task get the same episode budget (the paper's budgets are
tens of thousands of episodes; these are a few hundred) and the paper's per-model overrides
(Active T-Maze GPT: 2 layers, 2 heads). Then aggregate (mean and 95% CI over seeds):

    python bench/seq_compare.py --out ~/seq_compare
    python -m memrl.cli plot ~/seq_compare --out ~/seq_compare/plots
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from common import ROOT, train_args

from memrl.nets.seq import SEQ_MODELS
from memrl.sweep import RunResult, RunSpec, launch_local


def build_runs(args: argparse.Namespace) -> list[RunSpec]:
    """Seed-major order, so an interrupted comparison has every model at its first seeds."""
    out = Path(args.out).expanduser().resolve()
    grid = [("tmaze_passive", length, args.passive_episodes) for length in args.passive_lengths]
    grid += [("tmaze_active", length, args.active_episodes) for length in args.active_lengths]
    runs = []
    for seed in args.seeds:
        for env_type, length, episodes in grid:
            for seq in args.models:
                run_dir = out / env_type / str(length) / f"{seq}-seed{seed}"
                argv = train_args(env_type, length, seq,
                                  f"--train_episodes {episodes} --seed {seed} "
                                  f"--threads {args.threads} --run_dir {run_dir}")
                runs.append(RunSpec(env_type, length, seq, seed, run_dir, tuple(argv),
                                    args.threads, str(ROOT)))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="root folder of the runs")
    parser.add_argument("--models", nargs="+", default=list(SEQ_MODELS), choices=SEQ_MODELS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--passive_lengths", nargs="+", type=int, default=[4, 8])
    parser.add_argument("--active_lengths", nargs="+", type=int, default=[2, 4])
    parser.add_argument("--passive_episodes", type=int, default=400)
    parser.add_argument("--active_episodes", type=int, default=400)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    args = parser.parse_args()

    runs = build_runs(args)
    start = time.perf_counter()

    def report(result: RunResult) -> None:
        print(f"[{time.perf_counter() - start:7.0f}s] {result.status:>7} {result.spec.name} "
              f"({result.seconds:.0f}s) {result.message}", flush=True)

    results = launch_local(runs, workers=1, report=report)
    failed = sum(r.status == "failed" for r in results)
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(f"{len(results)} runs, {failed} failed, {time.perf_counter() - start:.0f}s wall, "
          f"{cpu.ru_utime + cpu.ru_stime:.0f}s CPU")
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
