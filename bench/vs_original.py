"""memrl against the original code (twni2016/Memory-RL, branch main) on the same T-Maze cells.

What it measures. Each cell (task, length L, sequence model, budget in training episodes) is
trained with both codes at the paper's DQN settings (configs/rl/dqn_default.py, whole
episodes `--config_seq.sampled_seq_len -1`, 10 random warm-up episodes, batch 64, 0.25 updates
per env step), one process per (code, cell, seed), one thread each. From each run's evaluation
rows (10 greedy episodes every 10 episodes, warm-up episodes counted):

- episodes to solve: the episode count at the first evaluation with return >= 0.99 (the
  optimum is 1.0); a run that never gets there is censored at its whole budget (warm-up
  included), so a mean over seeds with unsolved runs is a lower bound; the solved count is
  given beside it;
- final return: the mean evaluation return over the last 10% of the training episodes.

Per cell and code: the mean over seeds with a 95% percentile-bootstrap interval (10k
resamples, fixed rng), and memrl - original with a 95% bootstrap interval that resamples each
code's seeds independently. A cell is flagged where memrl is significantly worse: the interval
of the difference lies wholly above 0 for episodes to solve or wholly below 0 for final return.

How runs are kept. <out>/<code>/<cell>/seed<S>/ holds one run (memrl: the run folder; the
original: its --save_dir, which it fills with <env_type>/<L>/<timestamp>+<pid>/progress.csv),
<out>/<code>/<cell>/seed<S>.log its output and seed<S>.json its wall and CPU time. Running the same
command again skips runs whose progress.csv reaches the budget, resumes unfinished memrl runs
(--resume) and restarts unfinished original runs from scratch (the original cannot resume).
This script imports nothing from memrl, so the original's side runs whatever state memrl is in.

Set up the original once, in its own checkout and virtual environment (README, "Fidelity":
the packages it needs on Python 3.11 and its one edit, an absl flag `run_name` that its
main.py sets without defining), then, from the repo root:

    python bench/vs_original.py --original /work/orig/Memory-RL \
        --original_python /work/orig/venv/bin/python --out /work/runs/vs_original \
        --code both --jobs 1                      # or --code memrl / --code original
    python bench/vs_original.py --original /work/orig/Memory-RL --out /work/runs/vs_original \
        --report                                  # the table from what is there, runs nothing
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CODES = ("memrl", "original")
START_TRAINING = 10  # random warm-up episodes (both codes' default, passed explicitly)
EVAL_INTERVAL = 10  # both codes evaluate whenever the episode count is a multiple of this
SOLVED_RETURN = 0.99
FINAL_SHARE = 0.1  # final return: evaluations in the last 10% of the training episodes
REPS = 10_000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Cell:
    env_type: str  # tmaze_passive or tmaze_active
    length: int
    seq: str  # lstm or gpt
    train_episodes: int
    overrides: tuple[str, ...] = ()

    @property
    def episode_length(self) -> int:
        """T: L + 1 steps on Passive T-Maze, L + 3 on Active (the oracle one step behind)."""
        return self.length + (1 if self.env_type == "tmaze_passive" else 3)

    @property
    def total_episodes(self) -> int:
        """The episode count at the end of a run, warm-up included."""
        return START_TRAINING + self.train_episodes

    def argv(self, seed: int) -> list[str]:
        """The training flags, identical for both codes (paths relative to each checkout)."""
        return ["--config_env", f"configs/envs/{self.env_type}.py",
                "--config_env.env_name", str(self.length),
                "--config_rl", "configs/rl/dqn_default.py",
                "--config_seq", f"configs/seq_models/{self.seq}_default.py",
                "--config_seq.sampled_seq_len", "-1", *self.overrides,
                "--train_episodes", str(self.train_episodes), "--seed", str(seed),
                "--start_training", str(START_TRAINING), "--batch_size", "64",
                "--updates_per_step", "0.25"]


GPT_2X2 = ("--config_seq.model.seq_model_config.n_layer", "2",
           "--config_seq.model.seq_model_config.n_head", "2")
# Budgets (training episodes) from pilot runs of the original code, one thread on a shared
# 2-core "Intel(R) Xeon(R) Processor" (episode of first return-1.0 evaluation, warm-up counted;
# CPU seconds per episode), so that it solves in most seeds within ~10 CPU minutes a run:
#   Passive 20 LSTM: 810 (seed 0, budget 2000), 380 (seed 1, budget 1500); 0.23-0.29 s
#   Passive 20 GPT: 500 (seed 0, budget 1500); 0.66 s
#   Active 5 LSTM: 2070 (seed 0, budget 5000), 1930 (seed 1, budget 3000); 0.066 s
#   Active 5 GPT 2x2: 1610 (seed 0, budget 3000); 0.18 s
# The budget also sets the exploration schedule (epsilon reaches 1/T after 10% of it).
CELLS = {
    "passive20_lstm": Cell("tmaze_passive", 20, "lstm", 1500),
    "passive20_gpt": Cell("tmaze_passive", 20, "gpt", 1000),
    "active5_lstm": Cell("tmaze_active", 5, "lstm", 4000),
    "active5_gpt": Cell("tmaze_active", 5, "gpt", 3000, GPT_2X2),  # the paper's Active GPT
}


@dataclass(frozen=True)
class Run:
    code: str
    cell_name: str
    seed: int
    out: Path

    @property
    def cell(self) -> Cell:
        return CELLS[self.cell_name]

    @property
    def run_dir(self) -> Path:
        return self.out / self.code / self.cell_name / f"seed{self.seed}"

    @property
    def log(self) -> Path:
        return self.run_dir.with_name(f"seed{self.seed}.log")

    @property
    def timing(self) -> Path:
        return self.run_dir.with_name(f"seed{self.seed}.json")


def progress_file(run: Run) -> Path | None:
    """The run's progress.csv; the original's lies under <save_dir>/<env_type>/<L>/<uid>/."""
    if run.code == "memrl":
        path = run.run_dir / "progress.csv"
        return path if path.exists() else None
    found = sorted(run.run_dir.glob("*/*/*/progress.csv"))
    return found[-1] if found else None


def evaluations(run: Run) -> list[tuple[int, float]]:
    """(episode count, warm-up included; mean greedy return) of every evaluation row so far.

    memrl writes one row per evaluation with an `episodes` column. The original writes a row
    per training episode and, every EVAL_INTERVAL episodes, a separate row with `return` set;
    its only counter is env_steps, and every T-Maze episode lasts exactly T steps.
    """
    path = progress_file(run)
    if path is None:
        return []
    with open(path, newline="") as f:
        rows = [row for row in csv.DictReader(f) if row.get("return") not in (None, "")]
    if run.code == "memrl":
        return [(int(row["episodes"]), float(row["return"])) for row in rows]
    steps_per_episode = run.cell.episode_length
    return [(int(row["env_steps"]) // steps_per_episode, float(row["return"])) for row in rows]


def is_finished(run: Run) -> bool:
    evals = evaluations(run)
    return bool(evals) and evals[-1][0] >= run.cell.total_episodes


def command(run: Run, args: argparse.Namespace) -> tuple[list[str], str]:
    """(command line, working folder) that starts or continues `run`."""
    if run.code == "original":
        cmd = [args.original_python, "main.py", *run.cell.argv(run.seed),
               "--save_dir", str(run.run_dir)]
        return cmd, str(Path(args.original).resolve())
    memrl = [args.memrl_python, "-m", "memrl.cli", "train"]
    if (run.run_dir / "config.json").exists():
        return [*memrl, "--resume", str(run.run_dir), "--threads", "1"], str(ROOT)
    return [*memrl, *run.cell.argv(run.seed), "--threads", "1", "--run_dir", str(run.run_dir)], \
        str(ROOT)


def execute(run: Run, args: argparse.Namespace) -> str:
    """Skip, resume or (re)start one run; returns a line for the console."""
    name = f"{run.code:8} {run.cell_name:15} seed {run.seed}"
    if is_finished(run):
        return f"skipped  {name} (finished)"
    if run.code == "original" and run.run_dir.exists():
        shutil.rmtree(run.run_dir)  # an unfinished original run starts over
    cmd, cwd = command(run, args)
    resumed = "--resume" in cmd
    run.log.parent.mkdir(parents=True, exist_ok=True)
    env = os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                        "PYTHONUNBUFFERED": "1"}
    start = time.perf_counter()
    with open(run.log, "a") as log:
        log.write(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} cd {cwd} && {shlex.join(cmd)}\n")
        log.flush()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        # wait4 gives this child's own CPU time, which other load on the machine hardly changes
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = code = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    cpu_seconds = usage.ru_utime + usage.ru_stime
    finished = is_finished(run)
    run.timing.write_text(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds,
                                      "exit_code": code, "resumed": resumed,
                                      "finished": finished}) + "\n")
    status = "done" if finished else f"FAILED (exit {code}, log {run.log})"
    return (f"{status:8} {name} ({seconds / 60:.1f} min, CPU {cpu_seconds / 60:.1f} min"
            f"{', resumed' if resumed else ''})")


def run_result(run: Run, hold: int) -> dict | None:
    """Scores of a finished run (None while it is unfinished)."""
    if not is_finished(run):
        return None
    cell = run.cell
    evals = [(ep, ret) for ep, ret in evaluations(run) if ep <= cell.total_episodes]
    solve, solved = cell.total_episodes, False
    for i, (episode, _) in enumerate(evals):
        window = [ret for _, ret in evals[max(0, i - hold + 1):i + 1]]
        if len(window) == hold and min(window) >= SOLVED_RETURN:
            solve, solved = episode, True
            break
    final_from = cell.total_episodes - FINAL_SHARE * cell.train_episodes
    final = float(np.mean([ret for ep, ret in evals if ep > final_from]))
    minutes = math.nan  # CPU minutes of an uninterrupted run (resumed runs left out)
    if run.timing.exists():
        timing = json.loads(run.timing.read_text())
        if not timing["resumed"]:
            minutes = timing["cpu_seconds"] / 60
    return {"solve": solve, "solved": solved, "final": final, "minutes": minutes}


def bootstrap_means(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """REPS means of resamples (with replacement) of `values`."""
    idx = rng.integers(0, len(values), size=(REPS, len(values)))
    return values[idx].mean(axis=1)


def interval(samples: np.ndarray) -> tuple[float, float]:
    tail = 100 * (1 - CONFIDENCE) / 2
    low, high = np.percentile(samples, [tail, 100 - tail])
    return float(low), float(high)


def fmt(mean: float, low: float, high: float, decimals: int, signed: bool = False) -> str:
    f = f"{{:{'+' if signed else ''}.{decimals}f}}"
    return f"{f.format(mean)} [{f.format(low)}, {f.format(high)}]"


def compare(memrl: list[dict], original: list[dict], key: str, worse_if_higher: bool,
            decimals: int) -> tuple[list[str], bool]:
    """Three table cells (memrl, original, memrl - original) for one metric, and whether
    memrl is significantly worse on it."""
    rng = np.random.default_rng(0)
    texts, boots = [], []
    for results in (memrl, original):
        values = np.array([r[key] for r in results], float)
        if len(values) == 0:
            texts.append("-")
            boots.append(None)
            continue
        boot = bootstrap_means(values, rng)
        boots.append((values.mean(), boot))
        texts.append(fmt(values.mean(), *interval(boot), decimals))
    if boots[0] is None or boots[1] is None:
        return texts + ["-"], False
    diff = boots[0][1] - boots[1][1]
    low, high = interval(diff)
    texts.append(fmt(boots[0][0] - boots[1][0], low, high, decimals, signed=True))
    return texts, (low > 0) if worse_if_higher else (high < 0)


def report(args: argparse.Namespace) -> str:
    header = ["cell", "budget", "seeds memrl / orig", "solved memrl / orig",
              "episodes to solve memrl", "original", "memrl - original",
              "final return memrl", "original", "memrl - original",
              "CPU min/run memrl / orig", "memrl worse?"]
    intro = (f"memrl vs the original code on {cpu_model()}; one thread per run. Episodes "
             f"counted with the {START_TRAINING} warm-up ones; solved = {args.hold} "
             f"evaluation(s) in a row with return >= {SOLVED_RETURN} (unsolved runs count as "
             f"budget + {START_TRAINING}); final return = mean evaluation return over the last "
             f"{FINAL_SHARE:.0%} of the training episodes. Means over seeds [95% bootstrap CI, "
             f"{REPS} resamples]; the difference resamples each code's seeds independently. "
             f"CPU min/run: median CPU minutes of the runs that were not resumed.")
    lines = [intro, "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    per_seed = ["| cell | seed | episodes to solve memrl | original | final memrl | original |",
                "|" + "---|" * 6]
    for name in args.cells:
        cell = CELLS[name]
        results = {code: {} for code in CODES}
        for code in CODES:
            for seed in args.seeds:
                result = run_result(Run(code, name, seed, args.out), args.hold)
                if result is not None:
                    results[code][seed] = result
        m, o = list(results["memrl"].values()), list(results["original"].values())
        solve, solve_worse = compare(m, o, "solve", worse_if_higher=True, decimals=0)
        final, final_worse = compare(m, o, "final", worse_if_higher=False, decimals=2)
        worse = [what for what, bad in (("episodes to solve", solve_worse),
                                        ("final return", final_worse)) if bad]
        if min(len(m), len(o)) < 2:
            verdict = "- (needs 2+ seeds each)"
        else:
            verdict = "**yes: " + ", ".join(worse) + "**" if worse else "no"
        minutes = " / ".join(f"{np.nanmedian([r['minutes'] for r in rs]):.1f}"
                             if rs and not all(math.isnan(r["minutes"]) for r in rs) else "-"
                             for rs in (m, o))
        lines.append("| " + " | ".join([
            name, str(cell.train_episodes), f"{len(m)} / {len(o)}",
            f"{sum(r['solved'] for r in m)} / {sum(r['solved'] for r in o)}",
            *solve, *final, minutes, verdict])
            + " |")
        for seed in args.seeds:
            texts = []
            for key in ("solve", "final"):
                for code in CODES:
                    r = results[code].get(seed)
                    texts.append("" if r is None else
                                 (f"{r['final']:.2f}" if key == "final" else
                                  (str(r["solve"]) if r["solved"] else "-")))
            if any(texts):
                per_seed.append(f"| {name} | {seed} | " + " | ".join(texts) + " |")
    return "\n".join(lines + ["", "Per seed (- = unsolved; empty = not finished):", ""]
                     + per_seed)


def cpu_model() -> str:
    """lscpu's "Model name"."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return "unknown CPU"
    for line in text.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--original", default="",
                        help="export of twni2016/Memory-RL main with its own virtual "
                             "environment (README, Fidelity)")
    parser.add_argument("--original_python", default="python",
                        help="the Python of the original's virtual environment")
    parser.add_argument("--memrl_python", default=sys.executable,
                        help="the Python memrl is installed in (default: this one)")
    parser.add_argument("--out", type=Path, required=True, help="root folder of the runs")
    parser.add_argument("--code", choices=[*CODES, "both"], default="both")
    parser.add_argument("--cells", nargs="+", choices=list(CELLS), default=list(CELLS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (one thread each)")
    parser.add_argument("--hold", type=int, default=1,
                        help="evaluations in a row at return >= 0.99 that count as solved")
    parser.add_argument("--report", action="store_true", help="print the table, run nothing")
    args = parser.parse_args()
    args.out = args.out.expanduser().resolve()

    for name in args.cells:  # the last evaluation must fall on the budget
        if CELLS[name].total_episodes % EVAL_INTERVAL:
            parser.error(f"{name}: budget + {START_TRAINING} is not a multiple of {EVAL_INTERVAL}")
    if not args.report:
        if args.code in ("original", "both") and not (Path(args.original) / "main.py").exists():
            parser.error(f"no main.py in --original {args.original}")
        codes = CODES if args.code == "both" else (args.code,)
        # Seed-major, so a partial comparison has every cell and code at its first seeds.
        runs = [Run(code, name, seed, args.out)
                for seed in args.seeds for name in args.cells for code in codes]
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(execute, run, args) for run in runs]
            for i, future in enumerate(as_completed(futures), 1):
                print(f"[{(time.perf_counter() - start) / 60:6.1f} min] [{i}/{len(runs)}] "
                      f"{future.result()}", flush=True)
    table = report(args)
    print(table)
    if not args.report:
        (args.out / f"table-{args.code}.md").write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
