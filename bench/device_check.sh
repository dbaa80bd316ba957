#!/usr/bin/env bash
# GPU check, ready to run at once on a CUDA machine that has never seen the project (< 8 min):
#
#   bash bench/device_check.sh          (from anywhere; PYTHON=... picks the interpreter)
#
# 1. the card: name, memory, driver, torch and CUDA versions, bf16 support
# 2. installs the project over the torch that is already there (never a second torch)
# 3. the test suite's device-independent tests (those taking the `device` fixture) on CUDA
# 4. bench/speed.py on CUDA, fp32 then bf16: Passive T-Maze 50/250/1500 and Visual Match 60,
#    LSTM and GPT, and GPT's acting cost per step at t = 10 and t = 1500
# 5. a timed Passive T-Maze 50 GPT run at the paper's settings to a fixed number of episodes
#
# Without a CUDA GPU (or without a CUDA-enabled torch) it stops at once with one line, exit 2.
#
# Installing: the GPU machine's own torch (a CUDA build) must be kept, so pip gets a constraint
# pinning torch to the installed version and --no-build-isolation (setuptools from the machine).
# Only the core dependencies and [test] are installed, not [dev]: the [ray] and [tensorboard]
# extras serve no device test and are large downloads. Machines with no package registry (the
# lent GPU machines reach nothing outside) lack gymnasium, Farama-Notifications and
# ml-collections; fetch their wheels on a connected machine into .wheels/ (ignored by git) and
# carry that folder along:
#     pip download --no-deps -d .wheels gymnasium farama-notifications ml-collections
# When .wheels/ exists pip installs from it and the machine's packages alone (--no-index).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
die() { echo "device_check: $*" >&2; exit 2; }

command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 ||
    die "no NVIDIA GPU on this machine (nvidia-smi finds none); this check needs a CUDA GPU"
"$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null ||
    die "$PY has no CUDA-enabled torch that sees the GPU; install the CUDA build of torch first"

START=$SECONDS
phase() { echo; echo "== $* ($((SECONDS - START)) s in)"; }
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

phase "card"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$PY" - <<'EOF'
import torch
from memrl.precision import bf16_support, cpu_model
gpu = torch.device("cuda")
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(gpu)}, "
      f"bf16 {bf16_support(gpu)}")
print(f"cpu: {cpu_model()}, bf16 {bf16_support(torch.device('cpu'))}")
EOF

phase "install (torch kept at the machine's own build)"
if "$PY" -c 'import gymnasium, ml_collections, absl, pytest, pandas' 2>/dev/null; then
    echo "dependencies already importable; memrl is used from $PWD (PYTHONPATH)"
else
    constraints=$(mktemp)
    "$PY" -c 'import torch; print(f"torch=={torch.__version__}")' >"$constraints"
    source_args=(--retries 1 --timeout 20)
    [ -d .wheels ] && source_args=(--no-index --find-links .wheels)
    "$PY" -m pip install -q --no-build-isolation -c "$constraints" "${source_args[@]}" \
        -e ".[test]" || die "pip install failed (no registry? see the top of this script)"
fi
"$PY" -c 'import torch; assert torch.cuda.is_available()' || die "the install replaced torch"

phase "device-independent tests on CUDA"
PYTHONPATH="$PWD/bench:$PYTHONPATH" timeout 100 "$PY" -m pytest -q -p device_tests_only \
    --device cuda tests || echo "device_check: TESTS FAILED OR TIMED OUT (exit $?)"

# The short workloads first, so a timeout costs the long ones.
WORKLOADS="tmaze_passive:50:lstm tmaze_passive:50:gpt visual_match:60:lstm visual_match:60:gpt
    tmaze_passive:250:lstm tmaze_passive:250:gpt tmaze_passive:1500:lstm tmaze_passive:1500:gpt"
phase "bench/speed.py on CUDA, fp32 (with GPT acting cost)"
timeout 130 "$PY" bench/speed.py --updates 5 --workloads $WORKLOADS \
    --extra "--device cuda --precision fp32" ||
    echo "device_check: speed fp32 failed or timed out (exit $?)"

phase "bench/speed.py on CUDA, bf16 (each row also times its fp32 update)"
timeout 130 "$PY" bench/speed.py --updates 5 --no_act_cost --workloads $WORKLOADS \
    --extra "--device cuda --precision bf16" ||
    echo "device_check: speed bf16 failed or timed out (exit $?)"

EPISODES=200
phase "Passive T-Maze 50, GPT, paper settings, $EPISODES episodes (+10 warm-up) on CUDA"
run_dir=$(mktemp -d)/run
timeout 70 "$PY" -m memrl.cli train --config_env configs/envs/tmaze_passive.py \
    --config_env.env_name 50 --config_rl configs/rl/dqn_default.py \
    --config_seq configs/seq_models/gpt_default.py --train_episodes $EPISODES --seed 42 \
    --device cuda --run_dir "$run_dir" | tail -n 3 ||
    echo "device_check: timed run failed or timed out (exit $?)"
"$PY" - "$run_dir" <<'EOF'
import json, sys
from pathlib import Path
path = Path(sys.argv[1]) / "summary.json"
if path.exists():
    s = json.loads(path.read_text())
    split = s["time_split"]
    print(f"{s['episodes']} episodes, {s['env_steps']} env steps, {s['updates']} updates in "
          f"{s['wall_time']:.1f} s: {1000 * split['update'] / max(s['updates'], 1):.2f} ms/update, "
          f"split " + ", ".join(f"{k} {v:.1f} s" for k, v in split.items()))
EOF

phase "done"
