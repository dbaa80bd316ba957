"""Around a run: memrl eval, --render GIFs, TensorBoard scalars, the render of every task."""

import numpy as np
import pytest
from conftest import seed_command
from ml_collections import ConfigDict
from PIL import Image

from memrl.cli import main
from memrl.envs import make


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run") / "tmaze"
    args = seed_command(extra="--config_env.env_name 3 --train_episodes 20 --threads 1")
    assert main(["train", *args, "--run_dir", str(run_dir)]) == 0
    return run_dir


def test_eval_prints_scores_and_renders_a_gif(trained_run, tmp_path, capsys):
    gif = tmp_path / "episode.gif"
    assert main(["eval", str(trained_run), "--episodes", "4", "--render", str(gif)]) == 0
    out = capsys.readouterr().out
    assert "30 episodes trained; 4 greedy episodes: return" in out
    image = Image.open(gif)
    assert image.size == (16 * 4, 16 * 3)  # (J + 1) x 3 cells of 16 pixels
    # T = L + 1 steps plus the first picture, 120 ms each (Pillow merges repeated frames).
    durations = []
    for index in range(image.n_frames):
        image.seek(index)
        durations.append(image.info["duration"])
    assert sum(durations) == 120 * (4 + 1)


def test_eval_errors(tmp_path, capsys):
    assert main(["eval", str(tmp_path)]) == 2
    assert "config.json not found" in capsys.readouterr().err


def test_training_arrangement_is_for_visual_match_only(trained_run, capsys):
    assert main(["eval", str(trained_run), "--training_arrangement"]) == 2
    assert "Visual Match only" in capsys.readouterr().err


def test_eval_without_checkpoint(trained_run, tmp_path, capsys):
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "config.json").write_text((trained_run / "config.json").read_text())
    assert main(["eval", str(bare)]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_tensorboard_scalars(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = tmp_path / "tb"
    args = seed_command(extra="--config_env.env_name 2 --train_episodes 10 --tensorboard")
    assert main(["train", *args, "--run_dir", str(run_dir)]) == 0
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    returns = events.Scalars("return")
    assert [e.step for e in returns] == [30, 60]  # env steps at episodes 10 and 20 (T = 3)


@pytest.mark.parametrize("env_type", ["tmaze_passive", "tmaze_active", "visual_match",
                                      "key_to_door"])
def test_every_task_draws_itself(env_type):
    config = ConfigDict({"env_type": env_type, "env_name": 3, "distract_reward": 0.0,
                         "final_reward": 5.0, "apple_reward": 1.0, "respawn_every": 20,
                         "num_apples": 10})
    env = make(config, num_envs=2, seed=0)
    env.reset()
    frame = env.render(1)
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
    env.step(np.zeros(2, dtype=np.int64))
    assert env.render(0).shape == frame.shape


def test_progress_bar_shows_episodes_eta_and_latest_scores(tmp_path, monkeypatch, capsys):
    """On a terminal the bar counts episodes to the total, with ETA, return and success."""
    import memrl.logger
    import memrl.trainer

    monkeypatch.setattr(memrl.trainer, "progress_bar", lambda total, initial, show=None, **kw:
                        memrl.logger.progress_bar(total, initial, show=True, **kw))
    args = seed_command(extra="--config_env.env_name 2 --train_episodes 20")
    assert main(["train", *args, "--run_dir", str(tmp_path / "bar")]) == 0
    err = capsys.readouterr().err
    assert "30/30" in err and "ep/s" in err and "<" in err  # count, rate, ETA
    assert "return=" in err and "success=" in err
