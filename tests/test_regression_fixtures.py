"""Regression guard: short fixed-seed runs of every task kind and agent layout must keep
giving the progress.csv they gave when the fixtures were recorded (wall_time and fps aside).

The fixtures in tests/fixtures/regression/ were re-recorded once, on purpose, when the agents
were made to start and act as the original codes do (their initialisation schemes; training
episodes collected in train mode, GPT's dropout on); the TD3 and SAC runs were added then. A
refactor that changes what these runs compute (a random draw moved, a mask changed, a target
computed differently) shows up here as a row that differs.

Each run is a subprocess with one thread and the math libraries pinned to portable code paths
(MKL's conditional numerical reproducibility, oneDNN limited to AVX2, ATen's generic kernels),
so the same rows come out on Intel AVX2, AVX-512 and AMX machines. An AMD EPYC (Zen 4) still
gives 4 of the 12 runs rows that differ from Intel's in the 5th-6th significant digit at first
(growing to a few percent in grad norms by the last rows), so each CPU vendor has its own set,
recorded from the same code: tests/fixtures/regression/ (GenuineIntel) and
tests/fixtures/regression/amd/ (AuthenticAMD, recorded at commit 728e7ef, which reproduces the
Intel set on Intel). bench/fp_fingerprint.py names the ops that compute differently on two
machines; bench/fp_records/ holds the four AMD-specific runs' records to compare against.

    python tests/test_regression_fixtures.py --write     # re-record (only on purpose!)
"""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_ROOT = Path(__file__).resolve().parent / "fixtures" / "regression"
FIXTURE_SETS = {"GenuineIntel": FIXTURE_ROOT, "AuthenticAMD": FIXTURE_ROOT / "amd"}


def cpu_vendor() -> str:
    """/proc/cpuinfo's vendor_id ("GenuineIntel", "AuthenticAMD"); "unknown" elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("vendor_id"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


FIXTURES = FIXTURE_SETS.get(cpu_vendor(), FIXTURE_ROOT)
TIMING_COLUMNS = {"wall_time", "fps"}

PORTABLE_MATH = {
    "MKL_CBWR": "COMPATIBLE",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "ATEN_CPU_CAPABILITY": "default",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
}

_TMAZE = "--config_rl configs/rl/dqn_default.py --config_env.eval_interval 5 --batch_size 8"
_PIXEL = ("--config_rl configs/rl/sacd_default.py --config_env.env_name 1 "
          "--config_env.eval_interval 5 --config_env.eval_episodes 4 --batch_size 8 "
          "--train_episodes 10 --start_training 5")
_SIGN = ("--config_env configs/envs/sign_match.py --config_env.env_name 4 "
         "--config_env.eval_interval 5 --config_env.eval_episodes 4 --batch_size 8 "
         "--train_episodes 15 --start_training 5")
_PENDULUM = ("--config_env configs/envs/gym.py --config_env.env_id memrl/Pendulum-P-v0 "
             "--config_env.eval_interval 1 "
             "--config_env.eval_episodes 2 --batch_size 8 --train_episodes 3 --start_training 1")

# name -> train arguments (configs relative to the repo root)
RUNS: dict[str, str] = {
    "tmaze_passive_lstm": f"--config_env configs/envs/tmaze_passive.py --config_env.env_name 5 "
                          f"--config_seq configs/seq_models/lstm_default.py {_TMAZE} "
                          f"--train_episodes 25 --start_training 5",
    "tmaze_passive_gpt": f"--config_env configs/envs/tmaze_passive.py --config_env.env_name 5 "
                         f"--config_seq configs/seq_models/gpt_default.py {_TMAZE} "
                         f"--train_episodes 25 --start_training 5",
    "tmaze_active_lstm_num_envs2": f"--config_env configs/envs/tmaze_active.py "
                                   f"--config_env.env_name 4 "
                                   f"--config_seq configs/seq_models/lstm_default.py {_TMAZE} "
                                   f"--train_episodes 20 --start_training 4 --num_envs 2",
    "tmaze_active_gpt2x2": f"--config_env configs/envs/tmaze_active.py --config_env.env_name 4 "
                           f"--config_seq configs/seq_models/gpt_default.py {_TMAZE} "
                           f"--config_seq.model.seq_model_config.n_layer 2 "
                           f"--config_seq.model.seq_model_config.n_head 2 "
                           f"--train_episodes 20 --start_training 5",
    "visual_match_sacd_shared_lstm": f"--config_env configs/envs/visual_match.py "
                                     f"--config_seq configs/seq_models/lstm_cnn.py {_PIXEL} "
                                     f"--shared_encoder --freeze_critic",
    "key_to_door_sacd_shared_gpt": f"--config_env configs/envs/keytodoor.py "
                                   f"--config_seq configs/seq_models/gpt_cnn.py {_PIXEL} "
                                   f"--shared_encoder --freeze_critic",
    "visual_match_sacd_separate_lstm": f"--config_env configs/envs/visual_match.py "
                                       f"--config_seq configs/seq_models/lstm_cnn.py {_PIXEL}",
    "sign_match_td3_separate_lstm": f"{_SIGN} --config_rl configs/rl/td3_default.py "
                                    f"--config_seq configs/seq_models/lstm_default.py",
    "sign_match_td3_shared_gpt": f"{_SIGN} --config_rl configs/rl/td3_default.py "
                                 f"--config_seq configs/seq_models/gpt_default.py "
                                 f"--shared_encoder --freeze_all",
    "sign_match_sac_separate_gpt": f"{_SIGN} --config_rl configs/rl/sac_default.py "
                                   f"--config_seq configs/seq_models/gpt_default.py",
    "sign_match_sac_shared_lstm": f"{_SIGN} --config_rl configs/rl/sac_default.py "
                                  f"--config_seq configs/seq_models/lstm_default.py "
                                  f"--shared_encoder --freeze_critic",
    "pendulum_p_td3_shared_lstm": f"{_PENDULUM} --config_rl configs/rl/td3_default.py "
                                  f"--config_seq configs/seq_models/lstm_default.py "
                                  f"--config_seq.sampled_seq_len 16 --shared_encoder --freeze_all",
}


def run_rows(name: str, out_dir: Path) -> list[dict[str, str]]:
    run_dir = out_dir / name
    cmd = [sys.executable, "-m", "memrl.cli", "train", *RUNS[name].split(),
           "--seed", "3", "--threads", "1", "--run_dir", str(run_dir)]
    env = os.environ | PORTABLE_MATH
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    with open(run_dir / "progress.csv", newline="") as f:
        return list(csv.DictReader(f))


def _same(expected: str, actual: str) -> bool:
    if expected == actual:
        return True
    try:
        a, b = float(expected), float(actual)
    except ValueError:
        return False
    if math.isnan(a) and math.isnan(b):
        return True
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


@pytest.mark.parametrize("name", sorted(RUNS))
def test_fixed_seed_run_gives_the_recorded_rows(tmp_path, name):
    if cpu_vendor() not in FIXTURE_SETS:
        pytest.skip(f"no fixtures recorded on a {cpu_vendor()} CPU; add a folder for it to "
                    f"FIXTURE_SETS and record it there with --write")
    with open(FIXTURES / f"{name}.csv", newline="") as f:
        expected = list(csv.DictReader(f))
    rows = run_rows(name, tmp_path)
    assert len(rows) == len(expected)
    # A column that only ever held NaN may be gone: agents now name the schedule values they
    # log, and SAC-D, which has no epsilon, no longer logs an always-NaN `epsilon`.
    dropped = {c for c in expected[0] if c not in rows[0]
               and all(r[c] == "nan" for r in expected)}
    for i, (want, got) in enumerate(zip(expected, rows)):
        for column, value in want.items():
            if column in TIMING_COLUMNS | dropped:
                continue
            assert column in got, f"row {i}: column {column} missing"
            assert _same(value, got[column]), \
                f"row {i} column {column}: recorded {value}, now {got[column]}"


def write_fixtures() -> None:
    if cpu_vendor() not in FIXTURE_SETS:  # never overwrite another vendor's set
        sys.exit(f"no fixture folder for a {cpu_vendor()} CPU: add one to FIXTURE_SETS first")
    FIXTURES.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in sorted(RUNS):
            rows = run_rows(name, Path(tmp))
            with open(FIXTURES / f"{name}.csv", "w", newline="") as f:
                writer = csv.DictWriter(f, list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
            print(f"wrote {FIXTURES / name}.csv ({len(rows)} rows)")


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write_fixtures()
    else:
        sys.exit("usage: python tests/test_regression_fixtures.py --write")
