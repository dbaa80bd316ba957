"""The field's memory benchmarks as a new user runs them, by their gymnasium ids alone: POPGym
(memrl[popgym]) and MiniGrid's memory tasks (memrl[minigrid]), both in the dev extra.

An LSTM learns POPGym's RepeatPreviousEasy (say the suit of the card dealt 4 cards ago) where
the memoryless MLP stays at chance; MiniGrid-MemoryS7 trains end to end through the CNN with
its direction beside the image; runs of both are swept, evaluated (and drawn) and resumed
through the command line alone, in fresh processes that import nothing by hand."""

from __future__ import annotations

import csv
import os
import subprocess
import sys

import pytest
from conftest import ROOT

from memrl import sweep
from memrl.cli import main

POPGYM = "popgym:popgym-RepeatPreviousEasy-v0"


def _rows(run_dir):
    with open(run_dir / "progress.csv", newline="") as f:
        return list(csv.DictReader(f))


def _cli(*args, cwd=ROOT):
    """`memrl ...` in a new process, as a user types it."""
    env = os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "memrl.cli", *map(str, args)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def _repeat_previous(tmp_path, seq_model):
    """RepeatPreviousEasy (51-step episodes, +-1/48 per answer; chance is -0.5 a game) for 50
    episodes, evaluated every 10 over 10 greedy episodes."""
    run_dir = tmp_path / seq_model
    code = main(["train", "--config_env", "configs/envs/gym.py",
                 "--config_env.env_id", POPGYM, "--config_env.eval_interval", "10",
                 "--config_rl", "configs/rl/dqn_default.py", "--config_rl.critic_lr", "1e-3",
                 "--config_seq", f"configs/seq_models/{seq_model}_default.py",
                 "--config_seq.sampled_seq_len", "16", "--batch_size", "16",
                 "--updates_per_step", "0.5", "--train_episodes", "50",
                 "--start_training", "5", "--threads", "1", "--seed", "0",
                 "--run_dir", str(run_dir)])
    assert code == 0
    return [float(row["return"]) for row in _rows(run_dir)]


def test_an_lstm_learns_repeat_previous_where_the_memoryless_mlp_cannot(tmp_path):
    lstm = _repeat_previous(tmp_path, "lstm")
    mlp = _repeat_previous(tmp_path, "mlp")
    assert len(lstm) == len(mlp) == 5
    assert max(mlp) < -0.3, mlp  # chance: the card 4 back is not in what it sees
    assert max(lstm) > 0.3 and max(lstm) - max(mlp) > 0.7, (lstm, mlp)


def test_minigrid_memory_trains_with_the_cnn_and_is_drawn_and_resumed_by_the_cli(tmp_path):
    """Its image goes to the CNN and its direction (a one-hot) to the vector embedder; the
    text mission is left out with obs_keys. The time limit is MiniGrid's own (245 steps)."""
    run_dir = tmp_path / "memory"
    done = _cli("train", "--config_env", "configs/envs/gym.py",
                "--config_env.env_id", "MiniGrid-MemoryS7-v0",
                "--config_env.obs_keys", "('image', 'direction')",
                "--config_env.eval_interval", "1", "--config_env.eval_episodes", "2",
                "--config_rl", "configs/rl/dqn_default.py",
                "--config_seq", "configs/seq_models/lstm_cnn.py",
                "--config_seq.sampled_seq_len", "16", "--batch_size", "8",
                "--updates_per_step", "0.05", "--train_episodes", "2", "--start_training", "1",
                "--threads", "1", "--run_dir", run_dir)
    assert done.returncode == 0, done.stderr[-2000:]
    config = (run_dir / "config.json").read_text()
    assert '"max_episode_steps": 245' in config
    rows = _rows(run_dir)
    assert [int(r["env_steps"]) // 245 for r in rows] == list(range(1, len(rows) + 1))
    assert float(rows[-1]["critic_loss"]) >= 0

    gif = tmp_path / "memory.gif"
    played = _cli("eval", run_dir, "--episodes", "2", "--render", gif)
    assert played.returncode == 0, played.stderr[-2000:]
    assert "2 greedy episodes" in played.stdout and gif.stat().st_size > 0

    (run_dir / "summary.json").unlink()  # as if it had been stopped after its last checkpoint
    resumed = _cli("train", "--resume", run_dir)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert (run_dir / "summary.json").exists() and len(_rows(run_dir)) == len(rows)


def test_a_popgym_sweep_is_evaluated_and_resumed_by_the_cli(tmp_path, capsys):
    out = tmp_path / "sweep"
    code = sweep.main(["--tasks", "gym", "--variants", POPGYM, "--seq_models", "gru",
                       "--seeds", "0", "--train_episodes", "2", "--out", str(out), "--",
                       "--batch_size", "8", "--start_training", "1",
                       "--config_env.eval_interval", "1", "--config_env.eval_episodes", "2",
                       "--config_seq.sampled_seq_len", "8", "--updates_per_step", "0.1"])
    assert code == 0, capsys.readouterr().out
    run_dir = out / "gym" / POPGYM / "gru-seed0"
    assert [int(r["env_steps"]) for r in _rows(run_dir)] == [51, 102]

    played = _cli("eval", run_dir)
    assert played.returncode == 0, played.stderr[-2000:]
    assert "2 greedy episodes: return" in played.stdout
    (run_dir / "summary.json").unlink()
    resumed = _cli("train", "--resume", run_dir)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert sweep.main(["--tasks", "gym", "--variants", POPGYM, "--seq_models", "gru",
                       "--seeds", "0", "--train_episodes", "2", "--out", str(out)]) == 0
    assert "1 skipped" in capsys.readouterr().out


@pytest.mark.parametrize("env_id, message", [
    ("popgym-NoSuchGame-v0", "not a registered gymnasium id"),
    ("MiniGrid-MemoryS7-v0", ("observation entry 'mission' is a MissionSpace, which memrl "
                              "cannot embed; leave it out with --config_env.obs_keys "
                              "\"('direction', 'image')\"")),
    ("popgym-BattleshipEasy-v0", "acts in MultiDiscrete([8 8])"),
])
def test_what_memrl_cannot_run_says_how_to_fix_it(tmp_path, capsys, env_id, message):
    code = main(["train", "--config_env", "configs/envs/gym.py", "--config_env.env_id", env_id,
                 "--config_rl", "configs/rl/dqn_default.py",
                 "--config_seq", "configs/seq_models/lstm_default.py",
                 "--save_dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and "\n" not in err, err
    assert not any(tmp_path.iterdir())
