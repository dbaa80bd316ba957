"""Speed of the hot paths at the paper's settings (batch 64, whole episodes).

For each workload: ms per update and updates/s, env steps/s of collection (one exploring
episode per env copy), the time split (env / act / sample / update) and the peak memory of the
process (each workload runs in its own process so peaks do not mix); then GPT's acting cost
per step at t = 10 and t = 1500. Every table starts with the CPU's model name and whether it (and
the GPU, if any) computes in bf16 natively.

"ref-str ms" estimates what the reference implementation's update costs on this machine: our
update in fp32 (whatever --precision the row runs) plus, for DQN, the extra no-gradient pass of
the online network that the reference runs in each update (for SAC-D with a shared encoder it
is our fp32 update alone; the reference's extra policy-head pass and copy of the Q heads are
left out, so that ratio is slightly low). With --threads 1 (the reference sets one thread) it
stands for the original on this machine; "x ref" is ref-str ms / ms/update, and "x fp32" our
fp32 update's ms / ms/update (1 for fp32 rows; for others both are timed in the same process,
one after the other). "cpu ms" is the update's process CPU time: with one thread on a machine
other jobs share, it stays close to what an idle machine's wall clock would show. Example:

    python bench/speed.py                                   # all workloads (~10 min on 2 cores)
    python bench/speed.py --workloads tmaze_passive:50:lstm --updates 20
    python bench/speed.py --extra "--threads 1"             # any train flags
    python bench/speed.py --extra "--threads 1 --precision bf16"
    python bench/speed.py --workloads tmaze_passive:50:gpt --profile   # where the time goes
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import time

import torch
from common import make_parts

from memrl.collector import rollout
from memrl.precision import bf16_support, cpu_model

DEFAULT_WORKLOADS = [
    "tmaze_passive:50:lstm", "tmaze_passive:50:gpt",
    "tmaze_passive:250:lstm", "tmaze_passive:250:gpt",
    "tmaze_passive:1500:lstm", "tmaze_passive:1500:gpt",
    "visual_match:60:lstm", "visual_match:60:gpt",
]


def profile(workload: str, updates: int, extra: str) -> None:
    """Print the operators an update spends its time in (torch.profiler, self CPU time)."""
    task, length, seq = workload.split(":")
    run, parts = make_parts(task, int(length), seq, extra, random_collections=4)
    seq_len = run.config_seq.sampled_seq_len
    parts.agent.update(parts.store.sample(64, seq_len))
    with torch.profiler.profile() as prof:
        for _ in range(updates):
            parts.agent.update(parts.store.sample(64, seq_len))
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def measure(workload: str, updates: int, extra: str) -> dict:
    task, length, seq = workload.split(":")
    run, parts = make_parts(task, int(length), seq, extra, random_collections=4)
    agent, replay = parts.agent, parts.store

    t0 = time.perf_counter()
    episodes = rollout(parts.env, agent, explore=True)
    collect_time = time.perf_counter() - t0
    env_time = episodes.env_seconds

    seq_len = run.config_seq.sampled_seq_len
    ms = fp32 = time_updates(agent, replay, seq_len, updates)
    if parts.precision != "fp32":  # the reference computes in fp32: time our update in fp32
        agent.set_execution(precision="fp32")
        fp32 = time_updates(agent, replay, seq_len, updates)
    peak_gpu = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else 0
    return {
        "workload": workload,
        "device": str(parts.device),
        "threads": torch.get_num_threads(),
        "precision": parts.precision,
        "ms_per_update": ms["update"],
        "fp32_ms_per_update": fp32["update"],
        "reference_structure_ms": fp32["update"] + fp32["extra"],
        "cpu_ms_per_update": ms["update_cpu"],
        "fp32_cpu_ms_per_update": fp32["update_cpu"],
        "reference_structure_cpu_ms": fp32["update_cpu"] + fp32["extra_cpu"],
        "updates_per_s": 1000 / ms["update"],
        "sample_ms": ms["sample"],
        "collect_steps_per_s": episodes.num_steps / collect_time,
        "env_share": env_time / collect_time,
        "act_ms_per_step": 1000 * (collect_time - env_time) / parts.T,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_gpu_mb": peak_gpu,
    }


def time_updates(agent, replay, seq_len: int, updates: int) -> dict[str, float]:
    """Mean ms per update ("update"), of the reference's extra no-gradient online pass ("extra";
    DQN, else 0) and of replay sampling ("sample"), over `updates` updates after two untimed
    ones; "update_cpu" and "extra_cpu" are the same in process CPU time, which for a one-thread
    run on a busy machine is far less disturbed than wall time."""
    for _ in range(2):  # warm-up: allocator, lazy init, compile
        agent.update(replay.sample(64, seq_len))
    total = dict.fromkeys(("update", "extra", "sample", "update_cpu", "extra_cpu"), 0.0)

    def timed(name: str, fn):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        float(out.reshape(-1)[0])  # wait for the device
        total[name] += time.perf_counter() - wall
        total[f"{name}_cpu"] += time.process_time() - cpu

    for _ in range(updates):
        t0 = time.perf_counter()
        batch = replay.sample(64, seq_len)
        total["sample"] += time.perf_counter() - t0
        timed("update", lambda: next(iter(agent.update(batch).values())))
        if hasattr(agent, "q_net"):
            # The reference implementation's DQN update also runs the online network once more,
            # without gradients, for the double-DQN argmax (in fp32, as all of its update).
            b = agent.to_device(batch)
            with torch.no_grad():
                timed("extra", lambda: agent.q_net(*b.inputs))
    return {name: 1000 * value / updates for name, value in total.items()}


def machine_lines(extra: str) -> list[str]:
    """The CPU's model and bf16 support, and the GPU's when the runs may use one."""
    lines = [f"cpu: {cpu_model()}, {os.cpu_count()} cores, "
             f"bf16 {bf16_support(torch.device('cpu'))}"]
    if torch.cuda.is_available() and "--device cpu" not in extra:
        gpu = torch.device("cuda")
        lines.append(f"gpu: {torch.cuda.get_device_name(gpu)}, bf16 {bf16_support(gpu)}")
    lines.append(f"flags: {shlex.join(extra.split()) or '(defaults)'}; load average "
                 f"{os.getloadavg()[0]:.2f}")
    return lines


def act_cost(seq: str, extra: str) -> dict:
    """Mean time of one batch-1 acting step at t = 10 and at t = 1500 (GPT: KV cache)."""
    _, parts = make_parts("tmaze_passive", 1500, seq, extra)
    agent = parts.agent
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

    print("\n".join(machine_lines(args.extra)))
    print(f"{'workload':<24} {'device':>6} {'thr':>3} {'prec':>4} {'ms/update':>9} {'cpu ms':>7} "
          f"{'ref-str ms':>10} {'x ref':>5} {'x fp32':>6} {'upd/s':>6} {'sample ms':>9} "
          f"{'collect st/s':>12} {'env %':>5} {'act ms/st':>9} {'peak MB':>8}")
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
        print(f"{workload:<24} {r['device']:>6} {r['threads']:>3} {r['precision']:>4} "
              f"{r['ms_per_update']:>9.1f} {r['cpu_ms_per_update']:>7.1f} "
              f"{r['reference_structure_ms']:>10.1f} "
              f"{r['reference_structure_ms'] / r['ms_per_update']:>5.2f} "
              f"{r['fp32_ms_per_update'] / r['ms_per_update']:>6.2f} "
              f"{r['updates_per_s']:>6.2f} {r['sample_ms']:>9.2f} "
              f"{r['collect_steps_per_s']:>12.0f} {100 * r['env_share']:>5.1f} "
              f"{r['act_ms_per_step']:>9.3f} {peak:>8.0f}", flush=True)


if __name__ == "__main__":
    main()
