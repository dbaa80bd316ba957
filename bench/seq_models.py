"""What each registered sequence model costs at the paper's settings.

Per model: the parameters of its memory (embedders + sequence model, lstm_default's embedders
for all but GPT), ms per DQN update on Passive T-Maze at each length (batch 64, whole episodes),
and the acting cost of one batch-1 step at t = 10 and t = 1500 of a Passive T-Maze-1500
episode. Every figure comes from its own process (bench/speed.py --one), so caches and
allocator state do not carry over; the CPU model is printed with the table. Example:

    python bench/seq_models.py --extra "--threads 1"              # every model, L = 50 and 250
    python bench/seq_models.py --models lstm mamba --lengths 50 --updates 3
"""

from __future__ import annotations

import argparse
import json
import runpy
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
from common import ROOT

from memrl.nets.history import HistoryEncoder
from memrl.nets.seq import SEQ_MODELS
from memrl.precision import cpu_model

SPEED = Path(__file__).resolve().parent / "speed.py"


def memory_params(seq: str) -> int:
    """Parameters of the T-Maze agent's memory: embedders and sequence model."""
    config = runpy.run_path(str(ROOT / "configs" / "seq_models" / f"{seq}_default.py"))
    encoder = HistoryEncoder(config["get_config"]().model, obs_size=2,
                             action_space=gym.spaces.Discrete(4), max_seq_len=52)
    return sum(p.numel() for p in encoder.parameters())


def one(item: str, updates: int, extra: str) -> dict | str:
    """bench/speed.py --one ITEM in its own process: its JSON, or why it failed."""
    proc = subprocess.run([sys.executable, str(SPEED), "--one", item, "--updates", str(updates),
                           "--extra", extra], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return (proc.stderr.strip().splitlines() or ["failed"])[-1]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(SEQ_MODELS), choices=SEQ_MODELS)
    parser.add_argument("--lengths", nargs="+", type=int, default=[50, 250],
                        help="Passive T-Maze lengths L to time updates at")
    parser.add_argument("--updates", type=int, default=5, help="timed updates per figure")
    parser.add_argument("--extra", default="", help="train flags, e.g. '--threads 1'")
    parser.add_argument("--no_act_cost", action="store_true")
    args = parser.parse_args()

    print(f"CPU: {cpu_model()}; train flags: {args.extra or '(none)'}; "
          f"{args.updates} timed updates per figure")
    # Wall ms and, in brackets, the update's process CPU ms: with one thread the CPU time barely
    # moves when other jobs share the machine, the wall time does.
    header = ["model", "params"] + [f"ms/update L={L} (CPU ms)" for L in args.lengths]
    if not args.no_act_cost:
        header += ["act ms t=10", "act ms t=1500"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header), flush=True)
    for seq in args.models:
        cells = [SEQ_MODELS[seq].display_name, f"{memory_params(seq):,}"]
        for length in args.lengths:
            r = one(f"tmaze_passive:{length}:{seq}", args.updates, args.extra)
            cells.append(f"{r['ms_per_update']:.0f} ({r['cpu_ms_per_update']:.0f})"
                         if isinstance(r, dict) else f"failed: {r}")
        if not args.no_act_cost:
            r = one(f"act:{seq}", args.updates, args.extra)
            cells += ([f"{r['act_ms_t10']:.2f}", f"{r['act_ms_t1500']:.2f}"]
                      if isinstance(r, dict) else [f"failed: {r}", ""])
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
