"""The env boundary never crashes a run: an env that raises, or whose reset or step returns what
its spaces forbid or NaN / inf, is one line naming the env, the step and the fault. An env
broken from its first reset or step is refused before anything is written; one that breaks
during a run stops it with what it learned checkpointed, so it resumes once the env is fixed."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from memrl.cli import main
from memrl.envs.gym_adapter import EnvError, GymEnv, UnsupportedEnvError

# What goes wrong (None: nothing), from which step of an episode (0 = reset), from which
# episode of each env copy on (its first is the probe when it is built).
FAULT: dict = {"kind": None, "step": 3, "episode": 1}
ENV_ID = f"{__name__}:Faulty"  # this module, imported by memrl as a user's module would be


class Faulty(gym.Env):
    """Observes [t, 1]; rewards 1 per step; episodes of 6 steps. Goes wrong as FAULT says."""

    observation_space = gym.spaces.Box(-10, 10, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)
    max_episode_length = 6  # stated, as POPGym envs do

    def __init__(self):
        self.episode = -1

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.episode = 0, self.episode + 1
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        reward = float("inf") if self._now("inf_reward") else 1.0
        return self._obs(), reward, self.t >= 6, False, {}

    def _now(self, kind):
        return FAULT["kind"] == kind and self.t == FAULT["step"] \
            and self.episode >= FAULT["episode"]

    def _obs(self):
        if self._now("raise"):
            raise KeyError("lost the deck")
        if self._now("shape"):
            return np.zeros(3, np.float32)
        if self._now("dtype"):
            return np.array(["a", "b"])
        if self._now("nan_obs"):
            return np.array([self.t, np.nan], np.float32)
        return np.array([self.t, 1.0], np.float32)


@pytest.fixture(autouse=True)
def _no_fault():
    yield
    FAULT.update(kind=None, step=3, episode=1)


def _make():
    return GymEnv(Faulty, num_envs=2, seed=0, name="my/Faulty")


@pytest.mark.parametrize("kind, message", [
    ("raise", ("env my/Faulty, step 3 of its episodes: raised KeyError: 'lost the deck' "
               "(test_env_boundary.py:")),
    ("shape", ("env my/Faulty, step 3 of its episodes: the observation has shape (3,), its "
               "space says (2,)")),
    ("dtype", "the observation has dtype <U1"),
    ("nan_obs", ("env my/Faulty, step 3 of its episodes: entry 1 of the flattened observation "
                 "is nan (copy 0)")),
    ("inf_reward", "env my/Faulty, step 3 of its episodes: reward inf (copy 0)"),
])
def test_faults_while_playing_are_one_line_errors(kind, message):
    env = _make()  # the probe (episode 0) passes
    FAULT["kind"] = kind
    env.reset()
    for _ in range(2):
        env.step(np.zeros(2, np.int64))
    with pytest.raises(EnvError) as info:
        env.step(np.zeros(2, np.int64))
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("kind, step, message", [
    ("raise", 0, "my/Faulty: its first reset: raised KeyError"),
    ("nan_obs", 1, "my/Faulty: its first step: entry 1 of the flattened observation is nan"),
    ("inf_reward", 1, "my/Faulty: its first step: reward inf"),
])
def test_an_env_broken_from_the_start_is_refused_when_built(kind, step, message):
    FAULT.update(kind=kind, step=step, episode=0)
    with pytest.raises(UnsupportedEnvError, match=message):
        _make()


def _train(tmp_path, *extra):
    return main(["train", "--config_env", "configs/envs/gym.py", "--config_env.env_id", ENV_ID,
                 "--config_env.eval_interval", "2", "--config_env.eval_episodes", "2",
                 "--config_rl", "configs/rl/dqn_default.py",
                 "--config_seq", "configs/seq_models/lstm_default.py",
                 "--batch_size", "4", "--train_episodes", "8", "--start_training", "1",
                 "--checkpoint_interval", "1e9", "--threads", "1", *extra])


def test_a_broken_env_is_refused_before_anything_is_written(tmp_path, capsys):
    FAULT.update(kind="nan_obs", step=0, episode=0)
    assert _train(tmp_path, "--save_dir", str(tmp_path)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"memrl: error: {ENV_ID}: its first reset: entry 1 of the "
                          "flattened observation is nan") and "\n" not in err
    assert not any(tmp_path.iterdir())


def test_a_run_whose_env_breaks_keeps_what_it_learned_and_resumes(tmp_path, capsys):
    """The env raises in the training env's 4th episode, before the first checkpoint is due:
    the run stops (exit 1) with one line, not a learning-rate hint, and a checkpoint of the
    state before that episode; once the env is fixed, --resume finishes the run."""
    run_dir = tmp_path / "run"
    FAULT.update(kind="raise", step=4, episode=4)
    assert _train(tmp_path, "--run_dir", str(run_dir)) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"memrl: error: env {ENV_ID}, step 4 of its episodes: raised "
                          "KeyError: 'lost the deck'") and "\n" not in err
    assert "learning rate" not in err and f"--resume {run_dir}" in err
    assert (run_dir / "config.json").exists() and not (run_dir / "summary.json").exists()
    assert [p.name for p in (run_dir / "checkpoints").glob("*.pt")] == ["ckpt_3.pt"]
    rows = (run_dir / "progress.csv").read_text().splitlines()
    assert len(rows) == 1 + 1  # the header and the evaluation after 2 x 6 env steps

    FAULT["kind"] = None  # fixed
    assert main(["train", "--resume", str(run_dir)]) == 0
    assert (run_dir / "summary.json").exists()
    rows = (run_dir / "progress.csv").read_text().splitlines()
    assert len(rows) == 1 + 4  # every 12 env steps of 8 x 6
    assert main(["eval", str(run_dir), "--episodes", "3"]) == 0


def test_an_evaluation_the_env_failed_is_done_again(tmp_path, capsys, monkeypatch):
    """The env fails in the first evaluation (after 12 env steps): the run stops with that
    evaluation not counted as done, so the resumed run evaluates after its next collection
    (18 env steps) instead of waiting for the next period (24)."""
    from memrl.envs import EnvError
    from memrl.trainer import Trainer

    evaluate, calls = Trainer.evaluate, []

    def failing_once(self):
        calls.append(self.env_steps)
        if len(calls) == 1:
            raise EnvError(f"env {ENV_ID}, step 2 of its episodes: raised KeyError: 'x'")
        return evaluate(self)

    monkeypatch.setattr(Trainer, "evaluate", failing_once)
    run_dir = tmp_path / "run"
    assert _train(tmp_path, "--run_dir", str(run_dir)) == 1
    assert "step 2 of its episodes" in capsys.readouterr().err
    assert not (run_dir / "progress.csv").exists() or \
        len((run_dir / "progress.csv").read_text().splitlines()) <= 1
    assert main(["train", "--resume", str(run_dir)]) == 0
    steps = [int(line.split(",")[0])
             for line in (run_dir / "progress.csv").read_text().splitlines()[1:]]
    assert calls[0] == 12 and steps == [18, 24, 36, 48]
