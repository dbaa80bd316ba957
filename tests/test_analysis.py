"""The analysis package on synthetic run folders whose curves, and so scores, are known."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from memrl.analysis import aggregate as agg
from memrl.analysis.cli import build_parser, main
from memrl.analysis.runs import find_run_dirs, load_runs
from memrl.envs import TASKS

HORIZON = 10_000
FINAL = {"lstm": 0.5, "gpt": 1.0}  # each model's plateau


def write_run(root, env_type, length, model, seed, values, last_step=HORIZON, algo="dqn"):
    """A run folder as the trainer writes it: evaluations evenly spaced up to last_step."""
    path = root / env_type / str(length) / f"2024-01-01-00-00-{seed:02d}+{1000 + seed}-{model}"
    path.mkdir(parents=True)
    steps = np.linspace(0, last_step, len(values)).round()
    pd.DataFrame({
        "env_steps": steps, "episodes": np.arange(len(values)) * 10,
        "updates": steps // 4, "wall_time": steps / 100, "fps": 100.0,
        "return": values, "success": np.asarray(values) > 0.75, "length": 100,
        "loss": np.nan, "grad_norm": np.nan, "q_mean": np.nan,
    }).to_csv(path / "progress.csv", index=False)
    config = {
        "config_env": {"env_type": env_type, "env_name": length},
        "config_rl": {"algo": algo},
        "config_seq": {"sampled_seq_len": -1,
                       "model": {"seq_model_config": {"name": model}}},
        "flags": {"seed": seed, "train_episodes": 1000},
    }
    (path / "config.json").write_text(json.dumps(config))
    return path


def plateau_curve(final, seed, n=101):
    """Rises from 0 to `final` by mid-run, then holds it, with a little seed noise."""
    noise = np.random.default_rng(seed).normal(0, 0.01, n)
    return np.minimum(np.linspace(0, 2 * final, n), final) + noise


@pytest.fixture
def logs(tmp_path):
    root = tmp_path / "logs"
    for length in (50, 100, 250):
        for model, final in FINAL.items():
            for seed in range(3):
                write_run(root, "tmaze_passive", length, model, seed,
                          plateau_curve(final, seed + length))
    return root


def test_discovery_finds_runs_at_any_depth_and_skips_unreadable(logs):
    nested = write_run(logs / "sweep" / "deep", "key_to_door", 60, "gpt", 7, [0.0, 1.0])
    broken = logs / "tmaze_passive" / "50" / "broken"
    broken.mkdir()
    (broken / "progress.csv").write_text("env_steps,return\n0,0\n")
    (broken / "config.json").write_text("{not json")
    (logs / "plots").mkdir()  # a folder without run files is ignored

    assert len(find_run_dirs(logs)) == 3 * 2 * 3 + 2
    with pytest.warns(UserWarning, match="skipping unreadable run .*broken"):
        runs = load_runs(logs)
    assert len(runs) == 3 * 2 * 3 + 1
    run = next(r for r in runs if r.path == nested)
    assert (run.env_type, run.length, run.seq_model, run.seed, run.algo) == (
        "key_to_door", 60, "gpt", 7, "dqn")
    assert list(run.progress["return"]) == [0.0, 1.0]
    assert {r.seq_model for r in runs} == {"lstm", "gpt"}
    with pytest.warns(UserWarning):
        assert {r.env_type for r in load_runs(logs, ["key_to_door"])} == {"key_to_door"}


def test_score_of_a_linear_curve_is_known():
    # y = x / H at 101 evenly spaced evaluations; the trailing mean over 10 evaluations lags
    # by 4.5 evaluations (0.045), and the last 15 of 300 points average to x = 292/299 H.
    steps = np.linspace(0, HORIZON, 101)
    progress = pd.DataFrame({"env_steps": steps, "return": steps / HORIZON})
    curve = agg.smoothed_curve(progress, "return", HORIZON)
    assert curve.shape == (300,)
    assert curve[-1] == pytest.approx(1 - 0.045)
    assert agg.final_score(curve) == pytest.approx(292 / 299 - 0.045)


def test_smoothing_uses_evaluation_rows_only():
    # Rows without the metric (e.g. training-only log lines) must not enter the window.
    progress = pd.DataFrame({"env_steps": [0, 50, 100, 150, 200],
                             "return": [1.0, np.nan, 1.0, np.nan, 1.0]})
    assert agg.smoothed_curve(progress, "return", 200) == pytest.approx(np.ones(300))
    with pytest.raises(ValueError, match="no evaluation rows"):
        agg.smoothed_curve(progress, "success", 200)


def test_runs_stopping_before_90_percent_of_the_horizon_are_left_out(tmp_path):
    for seed, last in enumerate((HORIZON, 0.95 * HORIZON, 0.85 * HORIZON)):
        write_run(tmp_path, "tmaze_passive", 50, "gpt", seed, plateau_curve(1.0, seed), last)
    (group,) = agg.group_runs(load_runs(tmp_path))
    assert group.horizon == HORIZON and group.metric == "return"
    assert len(group.curves["gpt"]) == 2
    assert [r.seed for r in group.runs["gpt"]] == [0, 1]
    (note,) = group.notes
    assert "before 90% of the horizon" in note and "+1002" in note

    # A given horizon beyond every run leaves all of them out.
    (group,) = agg.group_runs(load_runs(tmp_path), horizon=2 * HORIZON)
    assert group.curves == {} and len(group.notes) == 3


def test_default_metric_and_memoryless_lines():
    """Figures read them from the task records."""
    tasks = ["tmaze_passive", "tmaze_active", "visual_match", "key_to_door"]
    assert [agg.default_metric(e) for e in tasks] == ["return", "return", "success", "success"]
    assert agg.default_metric("someone_elses_task") == "return"
    assert {e: TASKS[e].memoryless for e in tasks} == {
        "tmaze_passive": 0.5, "tmaze_active": 0.5, "visual_match": pytest.approx(1 / 3),
        "key_to_door": 0.0}
    # As the paper's figures label them: Passive T-Maze and Visual Match by memory length,
    # Active T-Maze and Key-to-Door by credit assignment length.
    assert {e: TASKS[e].axis_label for e in tasks} == {
        "tmaze_passive": "memory length", "tmaze_active": "credit assignment length",
        "visual_match": "memory length", "key_to_door": "credit assignment length"}


def test_bootstrap_ci_contains_the_mean_and_shrinks_with_more_seeds():
    population = np.random.default_rng(0).normal(0.7, 0.2, 200)
    widths = []
    for n in (5, 50):
        values = population[:n]
        low, high = agg.bootstrap_ci(values, seed=1)
        assert low <= values.mean() <= high
        widths.append(high - low)
    assert widths[1] < widths[0]
    assert agg.bootstrap_ci(np.array([0.3]))[0] == 0.3  # one seed: no spread to resample
    # The same seed gives the same interval; a stack of curves gets one interval per point.
    assert agg.bootstrap_ci(population[:5], seed=3) == agg.bootstrap_ci(population[:5], seed=3)
    low, high = agg.bootstrap_ci(np.stack([population[:5], population[5:10]], 1), seed=3)
    assert low.shape == high.shape == (2,) and np.all(low < high)


def test_iqm_on_a_known_array():
    assert agg.iqm(np.arange(1, 9)) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    assert agg.iqm([6, -100, 2, 4, 100, 1, 5, 3]) == pytest.approx(3.5)  # outliers trimmed
    assert agg.iqm([[1, 2], [3, 4]]) == pytest.approx(2.5)  # pools every entry
    assert agg.iqm(np.array([[1, 2, 3, 4], [0, 0, 0, 9]]), axis=1) == pytest.approx([2.5, 0])


def test_stratified_bootstrap_keeps_each_tasks_run_count():
    # Task A's runs all score 0, task B's one run 1: every stratified resample has mean 1/4.
    low, high = agg.stratified_bootstrap_ci([np.zeros(3), np.ones(1)], lambda x: x.mean(-1))
    assert low == pytest.approx(0.25) and high == pytest.approx(0.25)


def test_numpy_interval_estimates():
    scores = [np.array([0.1, 0.2, 0.3, 0.9]), np.array([0.5, 0.6])]
    est, backend = agg.interval_estimates(scores, reps=2000, backend="numpy")
    assert backend == "numpy"
    assert est["iqm"][0] == pytest.approx(np.mean([0.2, 0.3, 0.5, 0.6]))
    assert est["mean"][0] == pytest.approx((0.375 + 0.55) / 2)  # mean of task means
    for point, low, high in est.values():
        assert low <= point <= high


def test_auto_backend_falls_back_to_numpy(monkeypatch):
    scores = [np.array([0.1, 0.2, 0.3])]
    monkeypatch.setitem(sys.modules, "rliable", None)  # not installed
    assert agg.interval_estimates(scores, reps=100)[1] == "numpy"
    with pytest.raises(ModuleNotFoundError):
        agg.interval_estimates(scores, reps=100, backend="rliable")

    broken = types.ModuleType("rliable")  # installed but failing, as against a new `arch`
    broken.library = types.SimpleNamespace(get_interval_estimates=_raise_type_error)
    broken.metrics = types.SimpleNamespace()
    monkeypatch.setitem(sys.modules, "rliable", broken)
    with pytest.warns(UserWarning, match="rliable failed"):
        assert agg.interval_estimates(scores, reps=100)[1] == "numpy"


def _raise_type_error(*args, **kwargs):
    raise TypeError("incompatible arch")


def _rliable_usable():
    try:
        from rliable import library  # noqa: F401
    except Exception:  # noqa: BLE001  missing, or broken against the installed arch/pandas
        return False
    return True


@pytest.mark.skipif(not _rliable_usable(), reason="rliable not installed or not importable")
def test_rliable_and_numpy_backends_agree():
    rng = np.random.default_rng(0)
    scores = [rng.normal(0.5, 0.2, 5), rng.normal(0.8, 0.1, 5), rng.normal(0.2, 0.3, 3)]
    rl, backend = agg.interval_estimates(scores, reps=2000, seed=1, backend="rliable")
    assert backend == "rliable"
    ours, _ = agg.interval_estimates(scores, reps=2000, seed=1, backend="numpy")
    for name in ("iqm", "mean"):
        assert rl[name][0] == pytest.approx(ours[name][0], abs=1e-12)
        assert rl[name][1:] == pytest.approx(ours[name][1:], abs=0.04)


def test_score_table_recovers_each_models_plateau(logs):
    groups = agg.group_runs(load_runs(logs))
    assert [(g.env_type, g.length) for g in groups] == [
        ("tmaze_passive", 50), ("tmaze_passive", 100), ("tmaze_passive", 250)]
    table = agg.score_table(groups, reps=500)
    assert len(table) == 6 and set(table["n_seeds"]) == {3}
    for row in table.itertuples():
        assert row.mean == pytest.approx(FINAL[row.model], abs=0.02)
        assert row.ci_low <= row.mean <= row.ci_high
    aggregates = agg.aggregate_table(groups, reps=200, backend="numpy")
    assert list(aggregates["model"]) == ["gpt", "lstm"]
    assert set(aggregates["n_runs"]) == {9} and set(aggregates["n_lengths"]) == {3}
    assert aggregates["iqm"].to_numpy() == pytest.approx([1.0, 0.5], abs=0.02)


def test_model_labels_name_the_algorithm_only_when_a_task_mixes_them(tmp_path):
    write_run(tmp_path, "visual_match", 60, "gpt", 0, [0.0, 1.0], algo="sacd")
    write_run(tmp_path, "visual_match", 60, "gpt", 1, [0.0, 1.0], algo="dqn")
    write_run(tmp_path, "key_to_door", 60, "lstm", 0, [0.0, 1.0], algo="sacd")
    labels = agg.model_labels(load_runs(tmp_path))
    assert sorted(labels) == ["gpt-dqn", "gpt-sacd", "lstm"]


def test_cli_writes_plots_and_tables(logs, tmp_path, capsys):
    write_run(logs, "key_to_door", 60, "lstm", 0, plateau_curve(0.0, 0))
    out = tmp_path / "report"
    assert main([str(logs), "--out", str(out), "--reps", "200", "--seed", "3"]) == 0
    for task in ("tmaze_passive", "key_to_door"):
        for kind in ("curves", "aggregation"):
            for ext in ("png", "pdf"):
                assert (out / f"{kind}_{task}.{ext}").stat().st_size > 0
    for name in ("scores.csv", "scores.md", "aggregates.csv", "aggregates.md"):
        assert (out / name).stat().st_size > 0
    scores = pd.read_csv(out / "scores.csv")
    assert len(scores) == 7
    assert scores.set_index("env_type").loc["key_to_door", "metric"] == "success"
    assert (out / "scores.md").read_text().startswith("| env_type | L | model |")
    printed = capsys.readouterr().out
    assert "loaded 19 runs" in printed and str(out / "aggregation_tmaze_passive.png") in printed

    # Default output folder, one task only.
    assert main([str(logs), "--env_type", "key_to_door", "--reps", "100"]) == 0
    assert (logs / "plots" / "aggregation_key_to_door.pdf").exists()
    assert not (logs / "plots" / "aggregation_tmaze_passive.pdf").exists()


def test_cli_refuses_a_missing_or_empty_folder_with_status_2(tmp_path, capsys):
    assert main([str(tmp_path / "nope")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "no runs" in err and "progress.csv" in err
    write_run(tmp_path / "one", "tmaze_passive", 50, "gpt", 0, [0.0, 1.0])
    assert main([str(tmp_path / "one"), "--env_type", "visual_match"]) == 2
    assert "no runs of env_type visual_match" in capsys.readouterr().err
    assert main([str(tmp_path / "one"), "--horizon", "1e9"]) == 2
    assert "every run was left out" in capsys.readouterr().err


def test_plot_help_says_percent_once():
    assert "%%" not in build_parser().format_help()


def test_pybullet_runs_make_figure_8_and_no_aggregation_plot(tmp_path, capsys):
    """Robots as variants: curves per task with the reference returns, the 2 x 4 Figure 8,
    scores per robot, and no score-vs-length plot for tasks without a length."""
    root = tmp_path / "logs"
    for env_type in ("pomdp/bullet_p", "pomdp/bullet_v"):
        for robot in ("ant", "cheetah", "hopper", "walker"):
            for model, final in FINAL.items():
                for seed in range(2):
                    write_run(root, env_type, robot, model, seed,
                              1000 * plateau_curve(final, seed), algo="td3")
    runs = load_runs(root)
    assert {r.length for r in runs} == {"ant", "cheetah", "hopper", "walker"}
    groups = agg.group_runs(runs)
    assert all(len(g.steps) == 100 for g in groups)  # Figure 8's 100 points
    out = tmp_path / "figs"
    assert main([str(root), "--out", str(out), "--reps", "200"]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert "figure8.png" in names and "curves_pomdp_bullet_p.png" in names
    assert not any(n.startswith("aggregation_pomdp") for n in names)
    scores = pd.read_csv(out / "scores.csv")
    gpt = scores[(scores.model == "gpt") & (scores.L == "hopper")]
    assert len(gpt) == 2 and np.allclose(gpt["mean"], 1000, rtol=0.05)
    assert "1 seed)" not in capsys.readouterr().out


def test_plot_imports_neither_torch_nor_the_games(tmp_path):
    """`memrl plot` reads the task records and the sequence models' names, never their code:
    it runs where torch, gymnasium and the simulators are not installed."""
    tmaze, bullet = tmp_path / "tmaze", tmp_path / "bullet"
    write_run(tmaze, "tmaze_passive", 50, "lstm", 0, plateau_curve(1.0, 0))
    for env_type in ("pomdp/bullet_p", "pomdp/bullet_v"):
        write_run(bullet, env_type, "hopper", "gpt", 0, plateau_curve(1.0, 0), algo="td3")
    script = f"""
import sys
from memrl.cli import main
for root in ({str(tmaze)!r}, {str(bullet)!r}):
    assert main(["plot", root, "--reps", "20"]) == 0
heavy = ("torch", "gymnasium", "pybullet", "memrl.envs", "memrl.agents", "memrl.nets.seq.",
         "memrl.trainer")
print("IMPORTED", sorted(m for m in sys.modules if m.startswith(heavy)))
"""
    repo = str(Path(__file__).resolve().parents[1])
    env = os.environ | {"PYTHONPATH": os.pathsep.join([repo, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "IMPORTED []" in proc.stdout, proc.stdout.splitlines()[-1]
    assert (tmaze / "plots" / "aggregation_tmaze_passive.png").exists()
    assert (bullet / "plots" / "figure8.png").exists()


def test_a_folder_mixing_discrete_and_continuous_runs_draws_each_kind(tmp_path, capsys):
    """T-Maze lengths (numbers) beside PyBullet robots and gymnasium ids (names) in one table:
    each task gets its curves, T-Maze its score-vs-length plot too."""
    root = tmp_path / "logs"
    for seed in range(2):
        for length in (4, 8):
            write_run(root, "tmaze_passive", length, "lstm", seed, plateau_curve(0.5, seed))
        write_run(root, "pomdp/bullet_p", "hopper", "lstm", seed,
                  1000 * plateau_curve(0.5, seed), algo="td3")
    out = tmp_path / "figs"
    assert main([str(root), "--out", str(out), "--reps", "100"]) == 0, capsys.readouterr().err
    names = {p.name for p in out.iterdir()}
    assert {"curves_tmaze_passive.png", "aggregation_tmaze_passive.png",
            "curves_pomdp_bullet_p.png", "scores.csv"} <= names
