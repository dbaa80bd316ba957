"""bench/device_check.sh stops at once, with one line, where there is no CUDA GPU to check."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "bench" / "device_check.sh"


def run_check(path: str) -> tuple[int, list[str], float]:
    start = time.monotonic()
    proc = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=60,
                          env=os.environ | {"PATH": path})
    return proc.returncode, (proc.stdout + proc.stderr).splitlines(), time.monotonic() - start


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has a GPU")
def test_fails_at_once_without_a_gpu():
    code, lines, seconds = run_check(os.environ["PATH"])
    assert code == 2 and len(lines) == 1 and "no NVIDIA GPU" in lines[0]
    assert seconds < 5


@pytest.mark.skipif(torch.cuda.is_available(), reason="this torch sees a GPU")
def test_fails_at_once_with_a_gpu_but_no_cuda_torch(tmp_path):
    fake = tmp_path / "nvidia-smi"  # a GPU as nvidia-smi lists it, which this torch cannot use
    fake.write_text("#!/bin/sh\necho 'GPU 0: Some GPU (UUID: GPU-0)'\n")
    fake.chmod(0o755)
    code, lines, seconds = run_check(f"{tmp_path}:{os.environ['PATH']}")
    assert code == 2 and len(lines) == 1 and "CUDA-enabled torch" in lines[0]
    assert seconds < 30
