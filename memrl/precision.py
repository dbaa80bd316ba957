"""Which number format an update runs in: `--precision fp32`, `bf16`, or `auto`.

bf16 autocast makes an update faster only where the hardware computes in bf16 natively: a
CUDA GPU of compute capability 8.0 or newer, or a CPU with AMX (amx_bf16) or AVX-512 BF16
(avx512_bf16). Elsewhere bf16 is emulated and slower than fp32. `auto` picks bf16 only for
sequence models whose learning the precision study (bench/precision_study.py) found unchanged
by bf16, and only on such hardware; fp32 otherwise.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

PRECISIONS = ("fp32", "bf16", "auto")
CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo flags of native bf16 arithmetic

# Sequence models for which bench/precision_study.py found no difference in learning between
# fp32 and bf16 updates (episodes to solve and final return; DQN on Passive T-Maze 10 and 20
# and Active T-Maze 5, 5 seeds; the README's Speed section gives the table). The LSTM: per seed,
# bf16 solved the same runs, at -4 [-18, +6] (L = 10) and -46 [-124, +20] (L = 20) episodes from
# fp32. GPT is left out: no significant difference either, but at L = 20 bf16 lost two seeds
# that fp32 solved and won one (final return -0.08 [-0.35, +0.21]); 5 seeds cannot tell.
BF16_EQUIVALENT_SEQ_MODELS: frozenset[str] = frozenset({"lstm"})


@dataclass(frozen=True)
class Bf16Support:
    native: bool
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
    """Whether `device` computes in bf16 natively (not emulated)."""
    if device.type == "cuda":
        import torch

        major, minor = torch.cuda.get_device_capability(device)
        return Bf16Support(major >= 8, f"cuda sm_{major}{minor}")
    if device.type == "cpu":
        flags = cpu_bf16_flags()
        return Bf16Support(bool(flags), "cpu " + (" ".join(flags) or "without amx_bf16 or "
                                                                    "avx512_bf16"))
    return Bf16Support(False, device.type)


def resolve_precision(requested: str, device: torch.device,
                      seq_model: str) -> tuple[str, Bf16Support]:
    """fp32 or bf16 for `requested` (one of PRECISIONS), and the device's bf16 support."""
    support = bf16_support(device)
    if requested != "auto":
        return requested, support
    proven = seq_model in BF16_EQUIVALENT_SEQ_MODELS
    return ("bf16" if proven and support.native else "fp32"), support
