"""Name the PyTorch ops that make a fixed-seed run compute differently on two CPUs.

The regression fixtures pin the math libraries to portable code paths, yet some runs still give
other rows on an AMD EPYC than on an Intel Xeon (tests/test_regression_fixtures.py keeps a set
per vendor). This records, on one machine, one fixture configuration run under the fixtures'
pins: for the first occurrences of every op signature (op, input dtypes, shapes and strides), a
hash of its tensor inputs and of its outputs. Compare two machines' records: an op that got
bit-identical inputs and gave different outputs is a kernel whose result depends on the CPU;
everything after it in the run differs only because its inputs do.

    python bench/fp_fingerprint.py record sign_match_td3_shared_gpt amd.json.gz   # machine A
    python bench/fp_fingerprint.py record sign_match_td3_shared_gpt intel.json.gz # machine B
    python bench/fp_fingerprint.py compare amd.json.gz intel.json.gz

A record (gzipped JSON) is 40-120 kB; recording takes about twice the fixture run's time. If
compare names no op but says where inputs first differ, the op misbehaves only on later calls:
record again with a larger --occurrences.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from test_regression_fixtures import (
    FIXTURES,
    PORTABLE_MATH,
    RUNS,
    TIMING_COLUMNS,
    _same,
    cpu_vendor,
)

OCCURRENCES = 8  # calls recorded per op signature: enough to see a value-dependent difference
_PINNED_MARK = "MEMRL_FP_FINGERPRINT_PINNED"
# Results that are scratch space, not values: oneDNN's LSTM returns a workspace (its 4th result)
# for the backward pass, with bytes that the forward does not all write.
_SCRATCH_RESULTS = {"aten::mkldnn_rnn_layer": 3}
_SCRATCH_ARGUMENTS = {"workspace"}
_ALLOCATORS = {"aten::empty", "aten::empty_like", "aten::empty_strided", "aten::new_empty",
               "aten::new_empty_strided"}


def _digest(values: list) -> str:
    import torch

    h = hashlib.blake2b(digest_size=4)
    for v in values:
        if isinstance(v, torch.Tensor):
            t = v.detach()
            if t.layout != torch.strided:
                t = t.to_dense()
            h.update(str(tuple(t.shape)).encode())
            if t.numel():
                h.update(t.contiguous().cpu().view(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(v, (bool, int, float, str)) or v is None:
            h.update(repr(v).encode())
        else:  # an opaque object (a profiler handle): its repr carries a memory address
            h.update(type(v).__name__.encode())
    return h.hexdigest()


def _without_scratch_args(func, args: tuple) -> tuple:
    names = [a.name for a in func._schema.arguments]
    return tuple("scratch" if i < len(names) and names[i] in _SCRATCH_ARGUMENTS else a
                 for i, a in enumerate(args))


def _without_scratch_results(func, result):
    index = _SCRATCH_RESULTS.get(func._schema.name)
    if index is None:
        return result
    return tuple("scratch" if i == index else r for i, r in enumerate(result))


def _flat(obj) -> list:
    if isinstance(obj, (list, tuple)):
        return [x for o in obj for x in _flat(o)]
    if isinstance(obj, dict):
        return [x for k in sorted(obj) for x in _flat(obj[k])]
    return [obj]


def _signature(func, args: tuple, kwargs: dict) -> str:
    import torch

    parts = [str(func)]
    for v in _flat([args, kwargs]):
        if isinstance(v, torch.Tensor):
            parts.append(f"{str(v.dtype)[6:]}{list(v.shape)}{list(v.stride())}")
        elif isinstance(v, (bool, int, float, str)) or v is None:
            parts.append(repr(v))
    return " ".join(parts)


def record(name: str, out: Path, occurrences: int = OCCURRENCES) -> None:
    """Run fixture configuration `name` in this process and write its op record to `out`."""
    import tempfile

    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    from memrl.cli import main

    calls: dict[str, list[list]] = {}
    order = [0]

    class Recorder(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            sig = _signature(func, args, kwargs)
            seen = calls.setdefault(sig, [])
            record_this = len(seen) < occurrences
            if record_this:
                in_hash = _digest(_flat([_without_scratch_args(func, args), kwargs]))
            result = func(*args, **kwargs)
            order[0] += 1
            if func._schema.name in _ALLOCATORS:
                # Fill fresh memory so that what the allocator left there (it differs from
                # run to run) never reaches a hash; a correct program writes before it reads.
                for t in _flat(result):
                    t.zero_()
            if record_this:
                seen.append([order[0], in_hash, _digest(_flat(_without_scratch_results(func, result)))])
            return result

    with tempfile.TemporaryDirectory() as tmp:
        argv = ["train", *RUNS[name].split(), "--seed", "3", "--threads", "1",
                "--run_dir", str(Path(tmp) / name)]
        with Recorder():
            rc = main(argv)
        if rc:
            raise SystemExit(f"the fixture run {name} failed (exit {rc}); nothing recorded")
        rows = _rows(Path(tmp) / name / "progress.csv")
    recorded = FIXTURES / f"{name}.csv"
    same = recorded.exists() and _same_rows(_rows(recorded), rows)
    print(f"the recorded run {'gives' if same else 'does NOT give'} this machine's fixture "
          f"rows ({recorded})")
    with gzip.open(out, "wt") as f:
        json.dump({"fixture": name, "cpu_vendor": cpu_vendor(), "torch": torch.__version__,
                   "ops": calls}, f, separators=(",", ":"))
    print(f"{out}: {len(calls)} op signatures, {order[0]} op calls, vendor {cpu_vendor()}")


def _rows(path: Path) -> list[dict[str, str]]:
    import csv

    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _same_rows(want: list[dict], got: list[dict]) -> bool:
    return len(want) == len(got) and all(
        _same(w[c], g.get(c, "nan")) for w, g in zip(want, got) for c in w
        if c not in TIMING_COLUMNS)


def _load(path: Path) -> dict:
    try:
        with gzip.open(path, "rt") as f:
            return json.load(f)
    except (OSError, EOFError, ValueError) as e:  # missing, not gzip, cut short, not JSON
        raise SystemExit(f"{path}: not a record written by `fp_fingerprint.py record` ({e})")


def compare(a_path: Path, b_path: Path) -> list[tuple[int, str]]:
    """Print (and return) the op calls that got the same inputs on both machines and gave
    different outputs, earliest first; also say where the two runs first part."""
    a, b = _load(a_path), _load(b_path)
    if a["fixture"] != b["fixture"]:
        raise SystemExit(f"the records are of different runs: {a['fixture']} and {b['fixture']}")
    if a["torch"] != b["torch"]:
        print(f"warning: torch {a['torch']} and {b['torch']} differ; ops may differ by version")
    culprits, first_input_difference = [], None
    for sig, calls_a in a["ops"].items():
        for (order, in_a, out_a), (_, in_b, out_b) in zip(calls_a, b["ops"].get(sig, [])):
            if in_a == in_b and out_a != out_b:
                culprits.append((order, sig))
            elif in_a != in_b and (first_input_difference is None or order < first_input_difference[0]):
                first_input_difference = (order, sig)
    culprits.sort()
    print(f"{a_path} ({a['cpu_vendor']}) vs {b_path} ({b['cpu_vendor']}), fixture {a['fixture']}")
    for order, sig in culprits[:40]:
        print(f"  call {order}: same inputs, different outputs: {sig}")
    if not culprits:
        print("  no op gave different outputs from the same inputs")
    if first_input_difference:
        print(f"  first recorded call whose inputs differ: {first_input_difference[0]} "
              f"{first_input_difference[1]}")
    return culprits


def _parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("record", help="run a fixture configuration and record its ops")
    r.add_argument("fixture", choices=sorted(RUNS))
    r.add_argument("out", type=Path)
    r.add_argument("--occurrences", type=int, default=OCCURRENCES,
                   help="calls recorded per op signature (default %(default)s)")
    c = sub.add_parser("compare", help="name the ops that differ between two records")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    args = p.parse_args()
    if args.command == "record" and args.occurrences < 1:
        p.error(f"--occurrences must be at least 1, got {args.occurrences}")
    return args


if __name__ == "__main__":
    args = _parse()
    if args.command == "compare":
        compare(args.a, args.b)
    elif os.environ.get(_PINNED_MARK):
        record(args.fixture, args.out, args.occurrences)
    else:  # the pins act only when set before torch and MKL load: run again with them
        env = os.environ | PORTABLE_MATH | {_PINNED_MARK: "1"}
        os.execvpe(sys.executable, [sys.executable, *sys.argv], env)
