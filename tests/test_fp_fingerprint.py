"""bench/fp_fingerprint.py names the op that gave different outputs from the same inputs.

It is how a CPU-dependent kernel is found when a regression fixture differs between machines,
so it must (a) record a fixture run without changing what the run computes and (b) in a
comparison, blame only ops whose inputs agreed, not everything downstream of them.
"""
import gzip
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("fp_fingerprint", ROOT / "bench" / "fp_fingerprint.py")
fp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fp)  # it puts tests/ on sys.path for the fixture configurations
from test_regression_fixtures import FIXTURE_SETS, cpu_vendor


def write_record(path: Path, ops: dict, fixture: str = "tmaze_passive_lstm") -> Path:
    with gzip.open(path, "wt") as f:
        json.dump({"fixture": fixture, "cpu_vendor": "test", "torch": "x", "ops": ops}, f)
    return path


def test_compare_blames_the_op_whose_inputs_agreed(tmp_path, capsys):
    a = write_record(tmp_path / "a.json.gz", {
        "aten.mm.default float32[2, 3]": [[1, "in0", "out0"], [4, "in1", "out1"]],
        "aten.tanh.default float32[2, 2]": [[2, "in2", "out2"], [5, "in3", "out3"]],
    })
    b = write_record(tmp_path / "b.json.gz", {
        "aten.mm.default float32[2, 3]": [[1, "in0", "out0"], [4, "in1", "OUT1"]],  # the kernel
        "aten.tanh.default float32[2, 2]": [[2, "in2", "out2"], [5, "IN3", "OUT3"]],  # downstream
    })
    assert fp.compare(a, b) == [(4, "aten.mm.default float32[2, 3]")]
    assert "first recorded call whose inputs differ: 5 aten.tanh" in capsys.readouterr().out
    assert fp.compare(a, a) == []


def test_compare_refuses_records_of_different_runs(tmp_path):
    a = write_record(tmp_path / "a.json.gz", {}, fixture="tmaze_passive_lstm")
    b = write_record(tmp_path / "b.json.gz", {}, fixture="tmaze_passive_gpt")
    with pytest.raises(SystemExit, match="different runs"):
        fp.compare(a, b)


def test_a_recorded_run_computes_what_the_fixture_run_computes(tmp_path):
    """Recording runs the fixture configuration under the fixtures' pins; it must give the
    recorded rows of this machine's vendor, and two recordings must agree op for op."""
    if cpu_vendor() not in FIXTURE_SETS:
        pytest.skip(f"no fixtures recorded on a {cpu_vendor()} CPU")
    outs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.json.gz"
        proc = subprocess.run([sys.executable, str(ROOT / "bench" / "fp_fingerprint.py"), "record",
                               "sign_match_sac_shared_lstm", str(out)],
                              cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert "gives this machine's fixture rows" in proc.stdout
        outs.append(out)
    record = fp._load(outs[0])
    assert any(sig.startswith("aten.addmm") for sig in record["ops"])
    assert fp.compare(*outs) == []
