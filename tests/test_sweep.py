"""`memrl sweep` and the tasks' budgets: the grid it builds, real local runs (skip finished,
resume unfinished, keep going past a failure), and the Ray launcher on a loopback-only head."""

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

import pytest
from conftest import ROOT

from memrl import sweep
from memrl.envs import TASKS, task_of
from memrl.analysis.runs import load_runs

TINY = ["--tasks", "tmaze_passive", "--seq_models", "lstm", "--train_episodes", "10"]


# --- budgets --------------------------------------------------------------------------------

@pytest.mark.parametrize("env_type, length, episodes", [
    ("tmaze_passive", 50, 20000), ("tmaze_passive", 250, 16000), ("tmaze_passive", 1500, 6700),
    ("tmaze_active", 20, 40000), ("tmaze_active", 500, 16000),
    ("visual_match", 120, 30000), ("visual_match", 1000, 10000),
    ("key_to_door", 250, 30000), ("key_to_door", 500, 15000),
])
def test_budget_matches_reference_table(env_type, length, episodes):
    assert TASKS[env_type].train_episodes(length) == episodes


def test_budget_scale_and_errors():
    assert TASKS["tmaze_passive"].train_episodes(1500, scale=0.1) == 670
    assert TASKS["tmaze_passive"].train_episodes(50, scale=1e-9) == 1  # never below 1
    assert TASKS["tmaze_active"].variants() == [20, 50, 100, 250, 500]
    with pytest.raises(ValueError, match="L=7; known: 20, 50, 100, 250, 500"):
        TASKS["tmaze_active"].train_episodes(7)
    with pytest.raises(ValueError, match="choose one of tmaze_passive, tmaze_active"):
        task_of("tmaze")
    with pytest.raises(ValueError, match="scale must be > 0"):
        TASKS["tmaze_passive"].train_episodes(50, scale=0)


# --- dry run: the grid and its command lines ------------------------------------------------

def _dry_run(capsys, *args):
    assert sweep.main(["--dry_run", *args]) == 0
    return capsys.readouterr().out.splitlines()


def test_dry_run_lists_the_grid_with_overrides(capsys, tmp_path):
    out = tmp_path / "sw"
    lines = _dry_run(capsys, "--tasks", "tmaze_active", "key_to_door", "--lengths", "500",
                     "--num_seeds", "2", "--scale", "0.01", "--out", str(out),
                     "--threads_per_run", "2", "--", "--num_envs", "4")
    runs = [line.split(None, 1)[1] for line in lines if line.startswith("fresh")]
    assert runs == [f"{task} L=500 {seq} seed {s}" for task in ("tmaze_active", "key_to_door")
                    for seq in ("lstm", "gpt") for s in (0, 1)]
    commands = {run: cmd.strip() for run, cmd in zip(runs, lines[1::2])}
    seq = "--config_seq.model.seq_model_config"
    active_gpt = commands["tmaze_active L=500 gpt seed 1"]
    assert active_gpt.startswith("memrl train --config_env configs/envs/tmaze_active.py "
                                 "--config_rl configs/rl/dqn_default.py "
                                 "--config_seq configs/seq_models/gpt_default.py")
    assert f"{seq}.n_layer 2 {seq}.n_head 2" in active_gpt
    assert ("--config_env.env_name 500 --seed 1 --train_episodes 160 --threads 2 "
            f"--run_dir {out / 'tmaze_active' / '500' / 'gpt-seed1'} --num_envs 4") in active_gpt
    assert "n_layer" not in commands["tmaze_active L=500 lstm seed 0"]
    door_lstm = commands["key_to_door L=500 lstm seed 0"]
    assert "configs/envs/keytodoor.py --config_rl configs/rl/sacd_default.py " \
           "--config_seq configs/seq_models/lstm_cnn.py" in door_lstm
    assert f"{seq}.n_layer 2 --shared_encoder --freeze_critic" in door_lstm
    assert "n_head" not in door_lstm and "--train_episodes 150 " in door_lstm
    assert f"{seq}.n_head 2" in commands["key_to_door L=500 gpt seed 0"]
    assert lines[-1].startswith("memrl sweep: 8 runs")


def test_dry_run_default_lengths_and_resume_skip_plan(capsys, tmp_path):
    out = tmp_path / "sw"
    (out / "tmaze_passive/50/gpt-seed3").mkdir(parents=True)
    (out / "tmaze_passive/50/gpt-seed3/config.json").write_text("{}")
    (out / "tmaze_passive/100/gpt-seed3").mkdir(parents=True)
    (out / "tmaze_passive/100/gpt-seed3/summary.json").write_text("{}")
    lines = _dry_run(capsys, "--tasks", "tmaze_passive", "--seq_models", "gpt", "--seeds", "3",
                     "--out", str(out))
    plans = [line for line in lines if not line.startswith(" ")][:-1]
    assert plans[:3] == ["resume  tmaze_passive L=50 gpt seed 3",
                         "skip    tmaze_passive L=100 gpt seed 3",
                         "fresh   tmaze_passive L=250 gpt seed 3"]
    assert len(plans) == len(TASKS["tmaze_passive"].budgets)
    assert lines[1].strip() == (f"memrl train --resume {out / 'tmaze_passive/50/gpt-seed3'} "
                                "--threads 1")


@pytest.mark.parametrize("dry_run", [["--dry_run"], []])
def test_outside_the_repo_root_a_sweep_is_refused(tmp_path, monkeypatch, capsys, dry_run):
    """The runs' commands name their config files relative to the repo root."""
    monkeypatch.chdir(tmp_path)
    assert sweep.main([*TINY, "--out", str(tmp_path / "sw"), *dry_run]) == 2
    err = capsys.readouterr().err
    assert "configs/envs/tmaze_passive.py" in err and "run the sweep from the repo root" in err
    assert not (tmp_path / "sw").exists()


def test_bad_arguments_are_one_line_errors(capsys):
    assert sweep.main(["--tasks", "tmaze_active", "--lengths", "7", "--dry_run"]) == 2
    err = capsys.readouterr().err
    assert "no budget for tmaze_active L=7" in err and "--train_episodes" in err
    assert sweep.main(["--tasks", "tmaze_passive", "--scale", "0", "--dry_run"]) == 2
    assert "--scale: must be > 0" in capsys.readouterr().err


# --- real local sweeps ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    """4 tiny Passive T-Maze runs (L 2 and 3, two seeds), 2 at a time."""
    out = tmp_path_factory.mktemp("sweep")
    args = [*TINY, "--lengths", "2", "3", "--seeds", "0", "1", "--out", str(out),
            "--workers", "2"]
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        code = sweep.main(args)
    return out, args, code


def test_local_sweep_runs_the_grid(local_sweep, capsys):
    out, _, code = local_sweep
    assert code == 0
    runs = load_runs(out)
    assert sorted((r.env_type, r.length, r.seq_model, r.seed) for r in runs) == [
        ("tmaze_passive", L, "lstm", s) for L in (2, 3) for s in (0, 1)]
    for run in runs:  # the fixed layout, a finished marker and the captured output
        assert run.path == out / "tmaze_passive" / str(run.length) / f"lstm-seed{run.seed}"
        assert (run.path / "summary.json").is_file()  # written by the trainer (--run_dir flow)
        log = (run.path / "stdout.log").read_text()
        assert log.startswith("# memrl sweep") and "[memrl] done" in log
        assert run.config["flags"]["train_episodes"] == 10 and run.config["flags"]["threads"] == 1


def test_rerun_skips_resumes_and_survives_a_failure(local_sweep, capsys):
    """Started again: finished runs are skipped, one without summary.json is resumed, and a
    fresh run given a bad flag fails (exit 2, reported) without stopping the others."""
    out, args, _ = local_sweep
    (out / "tmaze_passive/2/lstm-seed1/summary.json").unlink()
    shutil.rmtree(out / "tmaze_passive/3/lstm-seed1")
    capsys.readouterr()
    code = sweep.main([*args, "--", "--no_such_flag"])  # extra flags reach fresh runs only
    report = capsys.readouterr().out
    assert code == 1
    assert "resumed  tmaze_passive L=2 lstm seed 1" in report
    assert "skipped  tmaze_passive L=2 lstm seed 0" in report
    assert "skipped  tmaze_passive L=3 lstm seed 0" in report
    failed = next(line for line in report.splitlines() if "failed" in line and "seed 1" in line)
    assert "L=3 lstm seed 1: exit 2: memrl: error:" in failed and "no_such_flag" in failed
    assert report.splitlines()[-1] == "memrl sweep: 0 done, 1 resumed, 2 skipped, 1 failed"
    orphan = out / "tmaze_passive/3/lstm-seed1.stdout.log"  # the run never made its folder
    assert "no_such_flag" in orphan.read_text() and str(orphan) in failed
    assert (out / "tmaze_passive/2/lstm-seed1/summary.json").is_file()
    assert len(load_runs(out)) == 3
    resumed_log = (out / "tmaze_passive/2/lstm-seed1/stdout.log").read_text()
    assert resumed_log.count("# memrl sweep") == 2 and "--resume" in resumed_log


# --- Ray ------------------------------------------------------------------------------------

def _can_isolate_network() -> bool:
    if not shutil.which("unshare") or not shutil.which("ip"):
        return False
    probe = subprocess.run(["unshare", "--net", "--pid", "--fork", "--mount-proc", "true"],
                           check=False, capture_output=True)
    return probe.returncode == 0


@pytest.fixture
def short_temp_dir():
    """Ray's unix sockets live under its temp dir, and socket paths must stay under 108 bytes."""
    path = tempfile.mkdtemp(prefix="memrl-ray-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_ray_sweep_on_a_local_head(tmp_path, short_temp_dir):
    """A 2-run sweep through a Ray head on 127.0.0.1.

    Ray's servers listen on every interface and probe the internet to find the node's IP, so
    the head and the sweep run in a fresh network namespace that has only loopback (needs
    root or CAP_SYS_ADMIN) and a fresh PID namespace, so `ray stop` there can only reach this
    test's Ray processes, and everything dies with the namespace even if the test is killed.
    """
    pytest.importorskip("ray")
    if not _can_isolate_network():
        pytest.skip("needs `unshare --net --pid` (root) to keep Ray on loopback only")
    out = tmp_path / "sweep"
    port = 6379  # free by construction: the namespace has no other listener
    sweep_cmd = [sys.executable, "-m", "memrl.sweep", *TINY, "--lengths", "2", "--seeds", "0",
                 "1", "--out", str(out), "--launcher", "ray",
                 "--ray_address", f"127.0.0.1:{port}"]
    # Ray's command line as this interpreter's own module: `ray` by name may be another
    # environment's, or missing when the venv is not activated.
    ray = f"{shlex.quote(sys.executable)} -m ray.scripts.scripts"
    script = "\n".join([
        "ip link set lo up",
        (f"{ray} start --head --port {port} --num-cpus 2 --include-dashboard=false "
         f"--disable-usage-stats --temp-dir {short_temp_dir} > {tmp_path}/ray_start.log 2>&1 "
         "|| exit 90"),
        shlex.join(sweep_cmd),
        "code=$?",
        f"{ray} stop --force > /dev/null 2>&1",
        "exit $code",
    ])
    env = os.environ | {"RAY_USAGE_STATS_ENABLED": "0"}
    result = subprocess.run(
        ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc", "sh", "-c",
         script], check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode != 90, (tmp_path / "ray_start.log").read_text()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "memrl sweep: 2 done, 0 resumed, 0 skipped, 0 failed" in result.stdout
    runs = load_runs(out)
    assert sorted(r.seed for r in runs) == [0, 1]
    for run in runs:
        summary = json.loads((run.path / "summary.json").read_text())
        assert summary and (run.path / "stdout.log").is_file()


def test_dry_run_knows_the_pybullet_tasks_and_their_budget(capsys, tmp_path):
    """Figure 8's grid: robots as variants, the README's flags, 1500 episodes = 1.5M steps."""
    out = tmp_path / "sw"
    lines = _dry_run(capsys, "--tasks", "pomdp/bullet_p", "pomdp/bullet_v", "--scale", "0.01",
                     "--seeds", "0", "--out", str(out))
    runs = [line.split(None, 1)[1] for line in lines if line.startswith("fresh")]
    assert runs == [f"pomdp/bullet_{s} robot={robot} {seq} seed 0" for s in "pv"
                    for robot in ("ant", "cheetah", "hopper", "walker") for seq in ("lstm", "gpt")]
    command = lines[lines.index("fresh   pomdp/bullet_v robot=cheetah gpt seed 0") + 1].strip()
    assert command.startswith("memrl train --config_env configs/envs/pomdps/pybullet_v.py "
                              "--config_rl configs/rl/td3_default.py "
                              "--config_seq configs/seq_models/gpt_default.py "
                              "--config_seq.sampled_seq_len 64 --shared_encoder --freeze_all "
                              "--config_env.env_name cheetah --seed 0 --train_episodes 15 ")
    assert f"--run_dir {out / 'pomdp/bullet_v/cheetah/gpt-seed0'}" in command
    assert TASKS["pomdp/bullet_p"].train_episodes("hopper") == 1500
