"""Does a bf16 update learn what an fp32 update learns? fp32 vs bf16 on short T-Maze runs.

The grid: Passive T-Maze at two lengths and Active T-Maze at one, LSTM and GPT, several seeds,
each run once with --precision fp32 and once with --precision bf16. Every run is a
`python -m memrl.cli train` process at the paper's settings (configs, flags and per-model
overrides from the task's record in memrl/envs/) with a short budget and one torch thread, written to
<out>/<precision>/<env_type>/<L>/<seq>-seed<S>/. Running the same command again skips finished
runs and resumes unfinished ones, so the study can be stopped and continued at any time.
Runs go seed by seed, fp32 and bf16 of one setting back to back, so a partial study is balanced
and both precisions see the same machine load.

Per (task, L, model) the table gives, for each precision, the seeds solved, the episodes to
solve (the episode count, warm-up included, at which the last --hold evaluations all returned
>= 0.99; an unsolved run counts as its whole budget, so that mean is a lower bound), the final
return (mean of the evaluations in the last 10% of the budget), the means' 95% bootstrap
intervals over seeds, the bf16 - fp32 difference (per seed: both runs of a seed share every
random stream, so they are compared pairwise) with its 95% bootstrap interval, and the
median ms per update of each precision with their ratio (from the runs' summary.json, runs
that were resumed left out; the machine's other load is in these). "no significant difference"
means both difference intervals contain 0; with 5 seeds, read their widths too.

    nice -n 5 python bench/precision_study.py --out /tmp/precision_study   # ~3 h of one core
    python bench/precision_study.py --out /tmp/precision_study --report    # the table so far
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np
import torch

from memrl.analysis.aggregate import bootstrap_ci
from memrl.envs import task_of
from memrl.precision import bf16_support, cpu_model
from memrl.sweep import RunSpec, execute_run

ROOT = Path(__file__).resolve().parents[1]
# (task, L, train_episodes), sized so the whole study takes about 3 hours of one core. In pilot
# runs (seed 1) LSTM and GPT solved Passive T-Maze 10 in ~250 episodes; neither had left the
# memoryless 0.5 on Active T-Maze 5 after 800 episodes (epsilon reaches 1/T after 10% of the
# budget, and the agent must first step away from the goal to the oracle).
DEFAULT_CELLS = ["tmaze_passive:10:500", "tmaze_passive:20:700", "tmaze_active:5:600"]
SOLVED_RETURN = 0.99
REPS = 10_000


def run_specs(args: argparse.Namespace) -> list[tuple[str, RunSpec]]:
    """(precision, spec) for every run, seed by seed, the two precisions of a setting adjacent."""
    specs = []
    for seed in range(args.seeds):
        for cell in args.cells:
            env_type, length, episodes = cell.split(":")
            for seq in args.seq_models:
                for precision in args.precisions:
                    run_dir = (Path(args.out).resolve() / precision / env_type / length /
                               f"{seq}-seed{seed}")
                    argv = [*task_of(env_type).argv(seq), "--config_env.env_name", length,
                            "--seed", str(seed), "--train_episodes", episodes,
                            "--precision", precision, "--threads", "1",
                            "--checkpoint_interval", "120", "--run_dir", str(run_dir)]
                    specs.append((precision, RunSpec(env_type, int(length), seq, seed, run_dir,
                                                     tuple(argv), 1, str(ROOT))))
    return specs


def episodes_to_solve(rows: list[dict], hold: int, budget_episodes: int) -> tuple[int, bool]:
    returns = []
    for row in rows:
        returns.append(float(row["return"]))
        if len(returns) >= hold and min(returns[-hold:]) >= SOLVED_RETURN:
            return int(row["episodes"]), True
    return budget_episodes, False


def run_result(run_dir: Path, hold: int) -> dict | None:
    """Scores of a finished run, None while it is unfinished."""
    summary_path = run_dir / "summary.json"
    if not summary_path.exists():
        return None
    summary = json.loads(summary_path.read_text())
    with open(run_dir / "progress.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    total = summary["episodes"]
    solve, solved = episodes_to_solve(rows, hold, total)
    final = [float(r["return"]) for r in rows if int(r["episodes"]) > 0.9 * total]
    # The time split covers the last session of a run only: no per-update time when resumed.
    log = run_dir / "stdout.log"
    resumed = log.exists() and "--resume" in log.read_text()
    ms = None if resumed else 1000 * summary["time_split"]["update"] / max(summary["updates"], 1)
    return {"solve": solve, "solved": solved, "final": float(np.mean(final)), "ms_per_update": ms}


def _mean_ci(values: np.ndarray, signed: bool = False) -> str:
    low, high = (float(x) for x in bootstrap_ci(values, reps=REPS, seed=0))
    f = "{:+.3g}" if signed else "{:.3g}"
    return f"{f.format(values.mean())} [{f.format(low)}, {f.format(high)}]"


def sign_flip_p(differences: np.ndarray) -> float:
    """Exact two-sided p of a paired sign-flip test that the mean difference is 0: the share of
    the 2^n sign patterns whose mean is at least as far from 0. With n seeds it is never below
    2 / 2^n (0.0625 for 5 seeds)."""
    d = np.asarray(differences, float)
    signs = np.array(np.meshgrid(*[[1.0, -1.0]] * len(d))).reshape(len(d), -1)
    return float(np.mean(np.abs(d @ signs) >= abs(d.sum()) - 1e-12))


def _median_ms(runs: list[dict]) -> float:
    times = [r["ms_per_update"] for r in runs if r["ms_per_update"] is not None]
    return float(np.median(times)) if times else float("nan")


def report(args: argparse.Namespace) -> str:
    """The table: one row per (task, L, model), over the seeds finished in both precisions."""
    a, b = args.precisions
    groups: dict[tuple, dict[int, dict[str, dict]]] = {}
    for precision, spec in run_specs(args):
        key = (spec.env_type, spec.length, spec.seq_model)
        result = run_result(spec.run_dir, args.hold)
        if result is not None:
            groups.setdefault(key, {}).setdefault(spec.seed, {})[precision] = result
    lines = [
        f"Precision study on {cpu_model()}, bf16 {bf16_support(torch.device('cpu'))}. Solved = "
        f"{args.hold} evaluations in a row with return >= {SOLVED_RETURN} (episodes counted "
        f"with the 10 warm-up ones; unsolved = the whole run). Means over seeds [95% bootstrap "
        f"CI]; {b} - {a} is the mean of the per-seed differences (a seed's two runs share "
        f"every random stream), p its exact paired sign-flip p-value.",
        "",
        f"| task | L | model | budget | seeds | solved {a} | solved {b} | "
        f"episodes to solve {a} | {b} | {b} - {a} | p | final return {a} | {b} | {b} - {a} | p | "
        f"ms/update {a} | {b} | {a}/{b} | verdict |",
        "|" + "---|" * 19,
    ]
    per_seed = [f"| task | L | model | seed | episodes to solve {a} | {b} | "
                f"final return {a} | {b} |", "|" + "---|" * 8]
    budgets = {tuple(c.split(":")[:2]): c.split(":")[2] for c in args.cells}
    for (env_type, length, seq), by_seed in groups.items():
        pairs = [(runs[a], runs[b]) for runs in by_seed.values() if len(runs) == 2]
        cells = [env_type, str(length), seq, budgets[(env_type, str(length))], str(len(pairs))]
        for seed, runs in sorted(by_seed.items()):
            if len(runs) == 2:
                per_seed.append("| " + " | ".join(
                    [env_type, str(length), seq, str(seed)]
                    + [_solve_text(runs[p]) for p in (a, b)]
                    + [f"{runs[p]['final']:.3g}" for p in (a, b)]) + " |")
        if len(pairs) < 2:
            lines.append("| " + " | ".join(cells + ["(fewer than 2 seeds done)"] + [""] * 13)
                         + " |")
            continue
        ra, rb = zip(*pairs)
        cells += [f"{sum(r['solved'] for r in ra)}", f"{sum(r['solved'] for r in rb)}"]
        verdict = []
        for name in ("solve", "final"):
            xa = np.array([r[name] for r in ra], float)
            xb = np.array([r[name] for r in rb], float)
            low, high = bootstrap_ci(xb - xa, reps=REPS, seed=0)
            cells += [_mean_ci(xa), _mean_ci(xb), _mean_ci(xb - xa, signed=True),
                      f"{sign_flip_p(xb - xa):.2f}"]
            if low > 0 or high < 0:
                verdict.append("episodes to solve" if name == "solve" else "final return")
        ms_a, ms_b = _median_ms(ra), _median_ms(rb)
        cells += [f"{ms_a:.1f}", f"{ms_b:.1f}", f"{ms_a / ms_b:.2f}",
                  f"{b} differs: {', '.join(verdict)}" if verdict
                  else "no significant difference"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines + ["", "Per seed (unsolved runs marked -):", ""] + per_seed)


def _solve_text(result: dict) -> str:
    return str(result["solve"]) if result["solved"] else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="precision_study", help="study folder")
    parser.add_argument("--cells", nargs="+", default=DEFAULT_CELLS,
                        help="task:L:train_episodes items (default: %(default)s)")
    parser.add_argument("--seq_models", nargs="+", default=["lstm", "gpt"])
    parser.add_argument("--precisions", nargs=2, default=["fp32", "bf16"])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (default 5)")
    parser.add_argument("--hold", type=int, default=3,
                        help="evaluations in a row at return >= 0.99 that count as solved")
    parser.add_argument("--report", action="store_true", help="print the table, run nothing")
    args = parser.parse_args()

    if not args.report:
        specs = run_specs(args)
        for i, (_, spec) in enumerate(specs, 1):
            result = execute_run(spec)
            print(f"[{i}/{len(specs)}] {result.status:8} {spec.run_dir} "
                  f"({result.seconds:.0f} s){' ' + result.message if result.message else ''}",
                  flush=True)
    table = report(args)
    print(table)
    (Path(args.out) / "study.md").parent.mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "study.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
