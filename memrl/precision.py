"""Which number format an update runs in: `--precision fp32`, `bf16`, or `auto`.

bf16 autocast makes an update faster only where matrix units compute in bf16: AMX (amx_bf16)
on a CPU, the tensor cores of a GPU of compute capability 8.0 or newer. AVX-512 BF16 alone
(avx512_bf16 without AMX) is not enough: on a 2-core Intel Xeon with it and no AMX, bf16
updates ran at 0.66-0.78x the speed of fp32; on the AMX Xeon of the README's Speed section,
1.4-2.6x faster. Without bf16 instructions at all it is emulated, slower still.

`auto` takes bf16 where both hold: the run's sequence model learns in bf16 as in fp32 (its
class says so, `bf16_learns_as_fp32`, from bench/precision_study.py) and the device has bf16
matrix units; fp32 otherwise. The trainer records the choice and its reason in config.json
(`resolved_precision`, `precision_reason`, `bf16_support`).
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

PRECISIONS = ("fp32", "bf16", "auto")
CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo flags of bf16 arithmetic
CPU_BF16_MATRIX_FLAG = "amx_bf16"  # ... of the one done in matrix units (AMX tiles)


@dataclass(frozen=True)
class Bf16Support:
    native: bool  # bf16 matrix units: bf16 updates run faster than fp32 ones
    detail: str  # what was detected, e.g. "cpu amx_bf16 avx512_bf16" or "cuda sm_90"

    def __str__(self) -> str:
        return f"{'native' if self.native else 'none'} ({self.detail})"


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux
        return ""


def cpu_model() -> str:
    """The CPU's model name as lscpu prints it (falls back to platform.processor())."""
    for line in _cpuinfo().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def cpu_bf16_flags() -> list[str]:
    """Which of CPU_BF16_FLAGS this CPU has (Linux; elsewhere none are detected)."""
    for line in _cpuinfo().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            return [flag for flag in CPU_BF16_FLAGS if flag in flags]
    return []


def bf16_support(device: torch.device) -> Bf16Support:
    """Whether `device` has bf16 matrix units (not only bf16 vector instructions, not
    emulation)."""
    if device.type == "cuda":
        import torch

        major, minor = torch.cuda.get_device_capability(device)
        units = "tensor cores" if major >= 8 else "no bf16 tensor cores"
        return Bf16Support(major >= 8, f"cuda sm_{major}{minor}, {units}")
    if device.type == "cpu":
        flags = cpu_bf16_flags()
        if CPU_BF16_MATRIX_FLAG in flags:
            return Bf16Support(True, f"cpu {' '.join(flags)}")
        if flags:
            return Bf16Support(False, f"cpu {' '.join(flags)} without amx_bf16: bf16 vector "
                                      "instructions only, measured slower than fp32")
        return Bf16Support(False, "cpu without amx_bf16 or avx512_bf16: bf16 emulated")
    return Bf16Support(False, device.type)


def bf16_learns_as_fp32(seq_model: str) -> bool:
    """The precision verdict of a registered sequence model (False for unknown names)."""
    from memrl.nets.seq import SEQ_MODELS

    return seq_model in SEQ_MODELS and SEQ_MODELS[seq_model].cls.bf16_learns_as_fp32


def resolve_precision(requested: str, device: torch.device,
                      seq_model: str) -> tuple[str, Bf16Support, str]:
    """fp32 or bf16 for `requested` (one of PRECISIONS), the device's bf16 support, and why."""
    support = bf16_support(device)
    if requested != "auto":
        return requested, support, f"--precision {requested}"
    if not bf16_learns_as_fp32(seq_model):
        return "fp32", support, (f"auto: fp32, as {seq_model} is not known to learn in bf16 "
                                 "as in fp32 (bench/precision_study.py)")
    if not support.native:
        return "fp32", support, f"auto: fp32, no bf16 matrix units ({support.detail})"
    return "bf16", support, (f"auto: bf16, {seq_model} learns in bf16 as in fp32 "
                             f"(bench/precision_study.py) and {support.detail} has bf16 matrix "
                             "units")
