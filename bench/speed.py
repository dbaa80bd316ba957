"""Speed of the hot paths at the paper's settings (batch 64, whole episodes).

For each workload: ms per update and updates/s, env steps/s of collection (one exploring
episode per env copy), the time split (env / act / sample / update) and the peak memory of the
process (each workload runs in its own process so peaks do not mix); then GPT's acting cost
per step at t = 10 and t = 1500. "ref-str ms" adds, for DQN, the extra no-gradient pass of the
online network that the reference implementation runs in each update: with --threads 1 it
estimates the original's cost on this machine. Example:

    python bench/speed.py                                   # all workloads (~10 min on 2 cores)
    python bench/speed.py --workloads tmaze_passive:50:lstm --updates 20
    python bench/speed.py --extra "--threads 1"             # any train flags
    python bench/speed.py --workloads tmaze_passive:50:gpt --profile   # where the time goes
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch
from common import make_trainer, quietly

from memrl.collector import rollout

DEFAULT_WORKLOADS = [
    "tmaze_passive:50:lstm", "tmaze_passive:50:gpt",
    "tmaze_passive:250:lstm", "tmaze_passive:250:gpt",
    "tmaze_passive:1500:lstm", "tmaze_passive:1500:gpt",
    "visual_match:60:lstm", "visual_match:60:gpt",
]


def profile(workload: str, updates: int, extra: str) -> None:
    """Print the operators an update spends its time in (torch.profiler, self CPU time)."""
    task, length, seq = workload.split(":")
    trainer = make_trainer(task, int(length), seq, extra)
    quietly(lambda: [trainer.collect(explore=None) for _ in range(4)])
    seq_len = trainer.run.config_seq.sampled_seq_len
    trainer.agent.update(trainer.replay.sample(64, seq_len))
    with torch.profiler.profile() as prof:
        for _ in range(updates):
            trainer.agent.update(trainer.replay.sample(64, seq_len))
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def measure(workload: str, updates: int, extra: str) -> dict:
    task, length, seq = workload.split(":")
    trainer = make_trainer(task, int(length), seq, extra)
    agent, replay = trainer.agent, trainer.replay
    quietly(lambda: [trainer.collect(explore=None) for _ in range(4)])

    t0 = time.perf_counter()
    episodes = rollout(trainer.env, agent, explore=True)
    collect_time = time.perf_counter() - t0
    env_time = episodes.env_seconds

    seq_len = trainer.run.config_seq.sampled_seq_len
    for _ in range(2):  # warm-up: allocator, lazy init, compile
        agent.update(replay.sample(64, seq_len))
    sample_time = update_time = extra_pass_time = 0.0
    for _ in range(updates):
        t0 = time.perf_counter()
        batch = replay.sample(64, seq_len)
        t1 = time.perf_counter()
        metrics = agent.update(batch)
        float(next(iter(metrics.values())))  # wait for the device
        sample_time += t1 - t0
        update_time += time.perf_counter() - t1
        if hasattr(agent, "q_net"):
            # The reference implementation's DQN update also runs the online network once more,
            # without gradients, for the double-DQN argmax: time that pass to estimate what the
            # same update would cost with the reference's structure on this machine.
            b = agent.to_device(batch)
            t2 = time.perf_counter()
            with torch.no_grad():
                agent.q_net(b["obs"], b["prev_actions"], b["prev_rewards"])
            extra_pass_time += time.perf_counter() - t2
    peak_gpu = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else 0
    return {
        "workload": workload,
        "device": str(trainer.device),
        "threads": torch.get_num_threads(),
        "ms_per_update": 1000 * update_time / updates,
        "reference_structure_ms": 1000 * (update_time + extra_pass_time) / updates,
        "updates_per_s": updates / update_time,
        "sample_ms": 1000 * sample_time / updates,
        "collect_steps_per_s": episodes.num_steps / collect_time,
        "env_share": env_time / collect_time,
        "act_ms_per_step": 1000 * (collect_time - env_time) / trainer.T,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_gpu_mb": peak_gpu,
    }


def act_cost(seq: str, extra: str) -> dict:
    """Mean time of one batch-1 acting step at t = 10 and at t = 1500 (GPT: KV cache)."""
    trainer = make_trainer("tmaze_passive", 1500, seq, extra)
    agent = trainer.agent
    obs = torch.zeros(1, 2).numpy()
    prev_action, prev_reward = torch.zeros(1, dtype=torch.long).numpy(), obs[:, 0]
    state = agent.initial_state(1)
    cost = {}
    for t in range(1501):
        if t in (10, 1500):
            start = time.perf_counter()
            for _ in range(50):  # the same step again: states are values, never written into
                agent.act(obs, prev_action, prev_reward, state, explore=False)
            cost[t] = 1000 * (time.perf_counter() - start) / 50
        _, state = agent.act(obs, prev_action, prev_reward, state, explore=False)
    return {"act_ms_t10": cost[10], "act_ms_t1500": cost[1500]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", nargs="+", default=DEFAULT_WORKLOADS,
                        help="task:L:seq items")
    parser.add_argument("--updates", type=int, default=10, help="timed updates per workload")
    parser.add_argument("--extra", default="", help="train flags, e.g. '--threads 1'")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # child process: one workload
    parser.add_argument("--no_act_cost", action="store_true")
    parser.add_argument("--profile", action="store_true",
                        help="print the top operators of each workload's updates instead")
    args = parser.parse_args()

    if args.profile:
        for workload in args.workloads:
            print(workload)
            profile(workload, args.updates, args.extra)
        return

    if args.one:
        kind, _, seq = args.one.partition(":")  # "act:<seq>" or a workload
        result = act_cost(seq, args.extra) if kind == "act" else \
            measure(args.one, args.updates, args.extra)
        print(json.dumps(result))
        return

    print(f"{'workload':<24} {'device':>6} {'thr':>3} {'ms/update':>9} {'ref-str ms':>10} "
          f"{'upd/s':>6} "
          f"{'sample ms':>9} {'collect st/s':>12} {'env %':>5} {'act ms/st':>9} "
          f"{'peak MB':>8}")
    for workload in args.workloads + ([] if args.no_act_cost else ["act:gpt"]):
        proc = subprocess.run(
            [sys.executable, __file__, "--one", workload, "--updates", str(args.updates),
             "--extra", args.extra], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(f"{workload:<24} failed: {proc.stderr.strip().splitlines()[-1:]}")
            continue
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        if workload == "act:gpt":
            print(f"GPT acting, batch 1: {r['act_ms_t10']:.3f} ms/step at t=10, "
                  f"{r['act_ms_t1500']:.3f} ms/step at t=1500 "
                  f"(ratio {r['act_ms_t1500'] / r['act_ms_t10']:.2f})")
            continue
        peak = r["peak_gpu_mb"] or r["peak_rss_mb"]
        print(f"{workload:<24} {r['device']:>6} {r['threads']:>3} {r['ms_per_update']:>9.1f} "
              f"{r['reference_structure_ms']:>10.1f} {r['updates_per_s']:>6.2f} {r['sample_ms']:>9.2f} "
              f"{r['collect_steps_per_s']:>12.0f} {100 * r['env_share']:>5.1f} "
              f"{r['act_ms_per_step']:>9.3f} {peak:>8.0f}", flush=True)


if __name__ == "__main__":
    main()
