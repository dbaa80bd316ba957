"""Any gymnasium env as a task: the adapter, POMDP occlusion (the eight PyBullet tasks and the
sanity tasks against their full observation), episodes of different lengths in one batch
through the collector and replay, clear errors for what memrl cannot run, end-to-end runs
on gymnasium's own CartPole with velocities hidden, and a user's own env class (module:Class)
with wrappers, evaluated, drawn and resumed by the command line alone."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest
from conftest import ROOT

import memrl.envs  # noqa: F401  (registers the ids)
from memrl.cli import main
from memrl.collector import rollout
from memrl.envs.gym_adapter import GymEnv, UnsupportedEnvError
from memrl.envs.pomdp import BULLET_ROBOTS, CLASSIC, require_pybullet
from memrl.replay import EpisodeReplay


class Countdown(gym.Env):
    """Ends (terminated) after `ends_after` steps, drawn per episode from the env's stream in
    [1, 8]; a TimeLimit of 5 cuts the longer ones (truncated). Observes [steps left, t]."""

    observation_space = gym.spaces.Box(-10, 10, (2,), np.float32)
    action_space = gym.spaces.Box(np.float32(-2), np.float32(2), (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.ends_after = 0, int(self.np_random.integers(1, 9))
        return self._obs(), {}

    def step(self, action):
        assert -1.0 - 1e-6 <= action[0] * 0.5 <= 1.0 + 1e-6  # rescaled back to [-2, 2]
        self.t += 1
        return self._obs(), float(self.t), self.t >= self.ends_after, False, {}

    def _obs(self):
        return np.array([self.ends_after - self.t, self.t], np.float32)


gym.register("test/Countdown-v0", entry_point=Countdown, max_episode_steps=5)


class RandomBoxAgent:
    """Stands in for an agent: random actions in [-1, 1], checks it gets what it should."""

    def __init__(self, n):
        self.rng = np.random.default_rng(0)

    def initial_state(self, n):
        return None

    def act(self, obs, prev_actions, prev_rewards, state, explore):
        assert prev_actions.shape == (len(obs), 1) and prev_actions.dtype == np.float32
        return self.rng.uniform(-1, 1, (len(obs), 1)).astype(np.float32), state


def test_episodes_of_different_lengths_in_one_batch():
    env = GymEnv(lambda: gym.make("test/Countdown-v0"), num_envs=6, seed=0)
    assert env.max_episode_steps == 5
    assert (env.action_space.low, env.action_space.high) == (-1, 1)
    replay = EpisodeReplay(5, env.observation_space, env.action_space, max_transitions=1,
                           min_episodes=64, seed=0)
    seen_lengths, seen_truncated = set(), False
    for _ in range(4):
        ep = rollout(env, RandomBoxAgent(6))
        for i in range(6):
            n = ep.lengths[i]
            ends_after = ep.obs[0, i, 0]
            assert n == min(ends_after, 5)
            # Terminated at a true end, truncated by the time limit, never both, only at n-1.
            assert ep.terminated[n - 1, i] == (ends_after <= 5)
            assert ep.truncated[n - 1, i] == (ends_after > 5)
            assert not ep.terminated[: n - 1, i].any() and not ep.truncated[: n - 1, i].any()
            assert not ep.terminated[n:, i].any() and (ep.rewards[n:, i] == 0).all()
            np.testing.assert_array_equal(ep.rewards[:n, i], np.arange(1, n + 1))
            np.testing.assert_array_equal(ep.obs[: n + 1, i, 1], np.arange(n + 1))
            seen_lengths.add(int(n))
            seen_truncated |= bool(ep.truncated[n - 1, i])
        assert ep.num_steps == ep.lengths.sum() and ep.returns.tolist() == \
            [n * (n + 1) / 2 for n in ep.lengths]
        replay.add(ep.obs, ep.actions, ep.rewards, ep.terminated, ep.truncated, ep.lengths)
    assert len(seen_lengths) >= 3 and seen_truncated
    b = replay.sample(64, 3)
    # Windows hold one episode each: time within the episode counts up by one, inside the mask.
    t = b.obs[..., 1]
    assert ((np.diff(t, axis=0)[b.mask.astype(bool)]) == 1).all()
    # Bootstrapping: a time-limit end (5 steps, counter never reached 0) is not terminal.
    truncated_end = (b.obs[1:, :, 1] == 5) & (b.obs[1:, :, 0] > 0) & b.mask.astype(bool)
    assert truncated_end.any() and (b.terminals[truncated_end] == 0).all()
    true_end = (b.obs[1:, :, 0] == 0) & b.mask.astype(bool)
    assert true_end.any() and (b.terminals[true_end] == 1).all()


def test_reset_seed_makes_episodes_repeatable_and_state_round_trips():
    def lengths(env):
        return rollout(env, RandomBoxAgent(4)).lengths.tolist()

    a = GymEnv(lambda: gym.make("test/Countdown-v0"), 4, seed=5)
    b = GymEnv(lambda: gym.make("test/Countdown-v0"), 4, seed=5)
    assert lengths(a) == lengths(b)
    state = a.get_state()
    first = lengths(a)
    a.set_state(state)
    assert lengths(a) == first


@pytest.mark.parametrize("name", sorted(CLASSIC))
@pytest.mark.parametrize("suffix", ["P", "V"])
def test_classic_pomdps_keep_their_indices(name, suffix):
    base, limit, p_idx, v_idx = CLASSIC[name]
    _compare_with_full(base, f"memrl/{name}-{suffix}-v0", p_idx if suffix == "P" else v_idx)
    assert gym.spec(f"memrl/{name}-{suffix}-v0").max_episode_steps == limit == 200


@pytest.mark.parametrize("robot", sorted(BULLET_ROBOTS))
@pytest.mark.parametrize("suffix", ["P", "V"])
def test_pybullet_pomdps_keep_the_papers_indices(robot, suffix):
    require_pybullet()
    base, name, p_idx, v_idx = BULLET_ROBOTS[robot]
    _compare_with_full(base, f"memrl/{name}-{suffix}-v0", p_idx if suffix == "P" else v_idx)
    assert gym.spec(f"memrl/{name}-{suffix}-v0").max_episode_steps == 1000


def test_the_papers_observation_table():
    """-P and -V split each robot's entries: together all of them, apart nothing shared."""
    sizes = {"hopper": 15, "walker": 22, "cheetah": 26, "ant": 28}
    for robot, (_, _, p_idx, v_idx) in BULLET_ROBOTS.items():
        assert not set(p_idx) & set(v_idx)
        assert set(p_idx) | set(v_idx) == set(range(sizes[robot])), robot


def _compare_with_full(full_id, pomdp_id, indices):
    full, part = gym.make(full_id), gym.make(pomdp_id)
    assert part.observation_space.shape == (len(indices),)
    o_full, _ = full.reset(seed=3)
    o_part, _ = part.reset(seed=3)
    np.testing.assert_array_equal(o_full[list(indices)], o_part)
    full.action_space.seed(0)
    for _ in range(15):
        action = full.action_space.sample()
        o_full, r_full, *_ = full.step(action)
        o_part, r_part, *_ = part.step(action)
        np.testing.assert_array_equal(o_full[list(indices)], o_part)
        assert r_full == r_part


@pytest.mark.parametrize("make_env, message", [
    (lambda: gym.wrappers.TimeLimit(_TextObs(), 10), "observation entry 'note' is a Text"),
    (lambda: gym.make("CartPole-v1").unwrapped, "no time limit"),
    (lambda: gym.wrappers.TimeLimit(_MultiDiscreteActs(), 10), "Discrete or one-dimensional"),
])
def test_unsupported_envs_are_refused_clearly(make_env, message):
    with pytest.raises(UnsupportedEnvError, match=message):
        GymEnv(make_env, 1, 0)


def test_tuple_observations_are_one_hots_and_the_time_limit_can_be_given():
    """Blackjack observes Tuple(Discrete(32), Discrete(11), Discrete(2)) and has no time
    limit of its own."""
    env = GymEnv(lambda: gym.make("Blackjack-v1"), 2, seed=0, max_episode_steps=10)
    obs = env.reset()
    assert obs.shape == (2, 32 + 11 + 2) and obs.dtype == np.float32
    assert (obs.sum(axis=1) == 3).all() and env.max_episode_steps == 10


class _TextObs(gym.Env):
    observation_space = gym.spaces.Dict({"x": gym.spaces.Box(0, 1, (2,)),
                                         "note": gym.spaces.Text(8)})
    action_space = gym.spaces.Discrete(2)


class _MultiDiscreteActs(gym.Env):
    observation_space = gym.spaces.Box(0, 1, (2,))
    action_space = gym.spaces.MultiDiscrete([2, 3])


def _train(tmp_path, *args):
    return main(["train", "--config_env", "configs/envs/gym.py", "--threads", "1",
                 "--save_dir", str(tmp_path), *args])


def test_cartpole_with_velocities_hidden_runs_end_to_end_with_dqn(tmp_path, capsys):
    code = _train(tmp_path, "--config_env.env_id", "CartPole-v1",
                  "--config_env.obs_indices", "(0, 2)", "--config_env.max_episode_steps", "60",
                  "--config_env.eval_interval", "1", "--config_env.eval_episodes", "3",
                  "--config_rl", "configs/rl/dqn_default.py",
                  "--config_seq", "configs/seq_models/lstm_default.py",
                  "--config_seq.sampled_seq_len", "8", "--batch_size", "8",
                  "--train_episodes", "3", "--start_training", "1", "--num_envs", "2")
    assert code == 0, capsys.readouterr().err
    (run_dir,) = (tmp_path / "gym" / "CartPole-v1").iterdir()
    with open(run_dir / "progress.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["env_steps"]) // 60 for r in rows] == list(range(1, len(rows) + 1))
    for row in rows:
        assert 1 <= float(row["length"]) <= 60
        assert float(row["return"]) == pytest.approx(float(row["length"]))  # 1 per step
        assert row["success"] == "nan" and float(row["critic_loss"]) >= 0
    assert "return-0.99" in rows[0]


@pytest.mark.parametrize("args, message", [
    (("--config_env.env_id", "NoSuchEnv-v3"), "not a registered gymnasium id"),
    (("--config_env.env_id", "no_such_module:Env-v0"), "no module named 'no_such_module'"),
    (("--config_env.env_id", "popgym-NoSuch-v0"), "not a registered gymnasium id"),
    (("--config_env.env_id", "CartPole-v1", "--config_env.wrappers", "gymnasium.wrappers"),
     "write module:Callable"),
    (("--config_env.env_id", "CartPole-v1", "--config_env.wrappers",
      "gymnasium.wrappers:NoSuchWrapper"), "gymnasium.wrappers has no NoSuchWrapper"),
    (("--config_env.env_id", "CartPole-v1", "--config_env.wrappers",
      "('gymnasium.wrappers:TimeAwareObservation(flatten=1, no_such_argument=2)',)"),
     "raised TypeError"),
    (("--config_env.env_id", "CartPole-v1", "--config_env.obs_indices", "(0, 7)"),
     "obs_indices"),
    (("--config_env.env_id", "Pendulum-v1"), "dqn needs a Discrete action space"),
])
def test_bad_gym_tasks_are_one_line_errors(tmp_path, capsys, args, message):
    code = _train(tmp_path, *args, "--config_rl", "configs/rl/dqn_default.py",
                  "--config_seq", "configs/seq_models/lstm_default.py")
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and "\n" not in err, err
    assert not any(tmp_path.iterdir())


def test_pixel_observations_need_a_cnn_config(tmp_path, capsys):
    code = main(["train", "--config_env", "configs/envs/visual_match.py",
                 "--config_env.env_name", "1", "--config_rl", "configs/rl/sacd_default.py",
                 "--config_seq", "configs/seq_models/lstm_default.py",
                 "--save_dir", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "_cnn seq config" in err and "\n" not in err
    assert ROOT.is_dir() and not any(tmp_path.iterdir())


USER_MODULE = textwrap.dedent('''
    """A user's own env and wrapper, in a file beside which memrl runs."""
    import gymnasium as gym
    import numpy as np


    class Recall(gym.Env):
        """A cue (0 or 1) at t = 0, then blanks; at t = 3 the action that matches the cue
        pays 1. Observes Dict(cue: Discrete(3) with 2 = blank, t: Box)."""

        observation_space = gym.spaces.Dict({"cue": gym.spaces.Discrete(3),
                                             "t": gym.spaces.Box(0, 3, (1,), np.float32)})
        action_space = gym.spaces.Discrete(2)
        metadata = {"render_modes": ["rgb_array"]}

        def __init__(self, render_mode=None):
            self.render_mode = render_mode

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.t, self.cue = 0, int(self.np_random.integers(2))
            return self._obs(), {}

        def step(self, action):
            self.t += 1
            reward = float(action == self.cue) if self.t == 3 else 0.0
            return self._obs(), reward, self.t == 3, False, {"is_success": reward > 0}

        def _obs(self):
            return {"cue": self.cue if self.t == 0 else 2,
                    "t": np.array([self.t], np.float32)}

        def render(self):
            return np.full((4, 6, 3), 80 * self.t, np.uint8)


    def scale_time(env, factor=1.0):
        """A wrapper with a keyword argument: t observed times `factor`."""
        def scaled(obs):
            return {**obs, "t": obs["t"] * np.float32(factor)}
        return gym.wrappers.TransformObservation(env, scaled, env.observation_space)
''')


def _cli(*args, cwd):
    env = os.environ | {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "memrl.cli", *map(str, args)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300, check=False)


def test_a_users_env_class_with_a_wrapper_is_trained_evaluated_drawn_and_resumed(tmp_path):
    """env_id my_envs:Recall names a class in my_envs.py in the folder memrl runs in; every
    later command rebuilds it, and its wrapper, from config.json alone."""
    (tmp_path / "my_envs.py").write_text(USER_MODULE)
    run_dir = tmp_path / "run"
    done = _cli("train", "--config_env", ROOT / "configs/envs/gym.py",
                "--config_env.env_id", "my_envs:Recall", "--config_env.max_episode_steps", "3",
                "--config_env.wrappers", "('my_envs:scale_time(factor=0.5)',)",
                "--config_env.eval_interval", "10", "--config_env.eval_episodes", "4",
                "--config_rl", ROOT / "configs/rl/dqn_default.py",
                "--config_seq", ROOT / "configs/seq_models/lstm_default.py",
                "--batch_size", "8", "--train_episodes", "20", "--start_training", "2",
                "--threads", "1", "--run_dir", run_dir, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"my_envs:scale_time(factor=0.5)"' in (run_dir / "config.json").read_text()
    with open(run_dir / "progress.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(row["success"] != "nan" for row in rows)

    gif = tmp_path / "recall.gif"
    played = _cli("eval", run_dir, "--render", gif, cwd=tmp_path)
    assert played.returncode == 0, played.stderr[-2000:]
    assert "4 greedy episodes" in played.stdout and "success" in played.stdout
    assert "(return" in played.stdout and gif.stat().st_size > 0

    (run_dir / "summary.json").unlink()  # as if it had been stopped after its last checkpoint
    resumed = _cli("train", "--resume", run_dir, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert (run_dir / "summary.json").exists()
    elsewhere = _cli("eval", run_dir, cwd=ROOT)  # my_envs.py is not importable from there
    assert elsewhere.returncode == 2
    assert "no module named 'my_envs'; install it, or run memrl from the folder that holds " \
        "my_envs.py" in elsewhere.stderr


def test_pybullet_and_gymnasium_envs_draw_for_eval_render():
    from ml_collections import ConfigDict

    from memrl import envs

    require_pybullet()
    bullet = ConfigDict({"env_type": "pomdp/bullet_v", "env_name": "hopper"})
    cartpole = ConfigDict({"env_type": "gym", "env_id": "CartPole-v1", "obs_indices": (),
                           "max_episode_steps": 0})
    for config in (bullet, cartpole):
        env = envs.make(config, 1, 0, drawing=True)
        env.reset()
        frame = env.render(0)
        assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3
        plain = envs.make(config, 1, 0)  # training copies do not draw (a frame a step)
        plain.reset()
        with pytest.raises(NotImplementedError, match="draws nothing"):
            plain.render(0)
