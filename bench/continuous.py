"""The paper's Section 5.3 on a CPU: what an update costs at its shape, and short learning runs.

Speed (default): ms per update of recurrent TD3 at the shape of Figure 8's runs, batch 256 x
65 inputs (64-step windows plus the zero-prepended step), `--shared_encoder --freeze_all`,
LSTM and GPT, on HalfCheetah-P, at 1 and 2 torch threads, each in its own process. "ref-str
ms" adds what the original's update computes besides ours: three matrix ranks of the (B x 64,
H) encoding per update (its logged rank-1/2/3 collapse metrics), timed on the same machine, so
it estimates the original's update structure here (always from an fp32 update, timed in the
same process after a --precision bf16 row's own updates). A full Figure 8 run is 1.5M such
updates.

Learning (--learn): short runs on HalfCheetah-P and Hopper-V at the paper's settings except
the budget (and the batch, with --batch_size), one core each; prints the evaluation returns
and writes the runs under --out for `memrl plot`.

    python bench/continuous.py                                  # speed table
    python bench/continuous.py --precision bf16 --threads 1     # bf16 rows
    python bench/continuous.py --learn --train_episodes 20 --batch_size 32 --out runs/bullet
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import torch
from common import ROOT, make_parts, train_args

from memrl.precision import bf16_support, cpu_model

SPEED_WORKLOADS = [("pomdp/bullet_p", "cheetah", "lstm"), ("pomdp/bullet_p", "cheetah", "gpt")]
LEARN_WORKLOADS = [("pomdp/bullet_p", "cheetah"), ("pomdp/bullet_v", "hopper")]


def measure(task: str, robot: str, seq: str, updates: int, threads: int,
            precision: str = "fp32") -> dict:
    """ms per update in `precision`; the reference estimate is always an fp32 update (the
    original computes in fp32) plus its rank metrics, timed in the same process."""
    run, parts = make_parts(task, robot, seq, f"--threads {threads} --precision {precision}",
                            random_collections=3)
    agent, replay = parts.agent, parts.store
    seq_len, batch_size = run.config_seq.sampled_seq_len, run.batch_size

    def time_updates() -> tuple[float, float]:
        for _ in range(2):  # warm-up: allocator, lazy init
            agent.update(replay.sample(batch_size, seq_len))
        update_time = rank_time = 0.0
        for _ in range(updates):
            batch = replay.sample(batch_size, seq_len)
            t0 = time.perf_counter()
            metrics = agent.update(batch)
            float(next(iter(metrics.values())))  # wait for the device
            update_time += time.perf_counter() - t0
            rank_time += _rank_metrics_time(agent, batch)
        return 1000 * update_time / updates, 1000 * rank_time / updates

    ms, rank_ms = time_updates()
    fp32_ms = ms
    if parts.precision != "fp32":
        agent.set_execution("fp32")
        fp32_ms, rank_ms = time_updates()
    return {"workload": f"{task}:{robot}:{seq}", "threads": torch.get_num_threads(),
            "precision": parts.precision, "batch": f"{batch_size}x{seq_len + 1}", "ms": ms,
            "fp32_ms": fp32_ms, "ref_ms": fp32_ms + rank_ms}


@torch.no_grad()
def _rank_metrics_time(agent, batch) -> float:
    """Seconds the original's three rank metrics of the encoding take on this batch."""
    b = agent.to_device(batch)
    hidden = agent.net.encoder(*b.inputs)[:-1]
    flat = (hidden * b.mask[..., None]).reshape(-1, hidden.shape[-1])
    start = time.perf_counter()
    for tol in (1e-1, 1e-2, 1e-3):
        torch.linalg.matrix_rank(flat, atol=tol)
    return time.perf_counter() - start


def speed(updates: int, precision: str, thread_counts: list[int]) -> None:
    print(f"cpu: {cpu_model()}, bf16 {bf16_support(torch.device('cpu'))}")
    print(f"{'workload':<32} {'thr':>3} {'prec':>4} {'batch':>7} {'ms/update':>9} "
          f"{'fp32 ms':>8} {'ref-str ms':>10} {'x ref':>6} {'1.5M updates':>12}")
    for task, robot, seq in SPEED_WORKLOADS:
        for threads in thread_counts:
            proc = subprocess.run(
                [sys.executable, __file__, "--one", f"{task}:{robot}:{seq}", "--threads",
                 str(threads), "--updates", str(updates), "--precision", precision],
                capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"{task}:{robot}:{seq} failed: {proc.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            days = 1.5e6 * r["ms"] / 1000 / 86400
            print(f"{r['workload']:<32} {r['threads']:>3} {r['precision']:>4} {r['batch']:>7} "
                  f"{r['ms']:>9.1f} {r['fp32_ms']:>8.1f} "
                  f"{r['ref_ms']:>10.1f} {r['ref_ms'] / r['ms']:>6.2f} {days:>9.1f} d",
                  flush=True)


def learn(args: argparse.Namespace) -> None:
    for task, robot in LEARN_WORKLOADS:
        for seq in args.seq_models:
            run_dir = Path(args.out) / task / robot / f"{seq}-seed{args.seed}"
            extra = (f"--train_episodes {args.train_episodes} --seed {args.seed} --threads 1 "
                     f"--run_dir {run_dir}")
            if args.batch_size:
                extra += f" --batch_size {args.batch_size}"
            cmd = [sys.executable, "-m", "memrl.cli", "train", *train_args(task, robot, seq, extra)]
            start = time.perf_counter()
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            wall = time.perf_counter() - start
            if proc.returncode != 0:
                print(f"{task} {robot} {seq}: failed: {proc.stderr.strip()[-300:]}")
                continue
            with open(run_dir / "progress.csv", newline="") as f:
                rows = list(csv.DictReader(f))
            returns = " ".join(f"{float(r['return']):.0f}" for r in rows)
            print(f"{task} {robot} {seq}: {rows[-1]['env_steps']} env steps, "
                  f"{rows[-1]['updates']} updates, {wall / 60:.1f} min; eval returns {returns}",
                  flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=5, help="timed updates per workload")
    parser.add_argument("--learn", action="store_true", help="run the short learning runs")
    parser.add_argument("--train_episodes", type=int, default=20,
                        help="learning budget in units of 1000 env steps (paper: 1500)")
    parser.add_argument("--batch_size", type=int, default=None, help="(paper: 256)")
    parser.add_argument("--seq_models", nargs="+", default=["lstm", "gpt"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="bench-runs/bullet")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child process: one workload
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="torch threads of the speed rows")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"],
                        help="precision of the speed rows' updates")
    args = parser.parse_args()
    if args.one:
        task, robot, seq = args.one.split(":")
        print(json.dumps(measure(task, robot, seq, args.updates, args.threads[0],
                                 args.precision)))
    elif args.learn:
        learn(args)
    else:
        speed(args.updates, args.precision, args.threads)


if __name__ == "__main__":
    main()
