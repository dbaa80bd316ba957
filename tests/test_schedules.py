"""The schedule seam: an on-policy agent gets its loop by declaring `schedule = "rollouts"`,
the same trainer loop drives it, and every update learns from exactly the latest collection."""

import csv
import math

import gymnasium as gym
import numpy as np
import pytest
from conftest import seed_command

from memrl.agents import ALGOS
from memrl.agents.dqn import DQN
from memrl.cli import parse_train_args
from memrl.collector import Episodes
from memrl.rollout_buffer import RolloutBuffer
from memrl.schedule import Counts, RolloutSchedule
from memrl.trainer import Trainer


class RolloutDQN(DQN):
    """DQN's networks and loss, trained on the on-policy loop: a stand-in for a PPO agent,
    which would declare the same and nothing else about its loop."""

    schedule = "rollouts"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches = []  # every batch it was updated on

    def update(self, batch):
        self.batches.append(batch)
        return super().update(batch)


@pytest.fixture
def rollout_algo(monkeypatch):
    monkeypatch.setitem(ALGOS, "rollout_dqn", RolloutDQN)


def rollout_run(extra: str, epochs: int):
    run = parse_train_args(seed_command(extra=f"--config_rl.algo rollout_dqn {extra}"))
    with run.config_rl.unlocked():
        run.config_rl.update_epochs = epochs  # a leaf an on-policy algorithm's config has
    return run


def episode_keys(obs, actions, rewards, columns):
    """One hashable value per episode (column) of time-major arrays."""
    return [(obs[:, i].tobytes(), actions[:, i].tobytes(), rewards[:, i].tobytes())
            for i in columns]


def test_an_on_policy_agent_learns_from_exactly_its_latest_episodes(rollout_algo, tmp_path):
    num_envs, batch_size, epochs = 4, 3, 2
    run = rollout_run(f"--config_env.env_name 3 --num_envs {num_envs} --batch_size "
                      f"{batch_size} --train_episodes 12 --config_env.eval_interval 8", epochs)
    trainer = Trainer(run, run_dir=tmp_path / "run")
    assert isinstance(trainer.schedule, RolloutSchedule)
    assert isinstance(trainer.store, RolloutBuffer)
    collections: list[tuple[bool | None, Episodes]] = []
    trainer.add_callback(lambda _, episodes, explore: collections.append((explore, episodes)),
                         event="collect")
    trainer.train()

    per_rollout = epochs * math.ceil(num_envs / batch_size)  # 2 passes of minibatches 3 + 1
    assert [explore for explore, _ in collections] == [True] * 3  # no random warm-up
    assert trainer.updates == len(trainer.agent.batches) == 3 * per_rollout
    for k, (_, episodes) in enumerate(collections):
        collected = sorted(episode_keys(episodes.obs, episodes.actions, episodes.rewards,
                                        range(num_envs)))
        batches = trainer.agent.batches[k * per_rollout:(k + 1) * per_rollout]
        for epoch in range(epochs):  # each pass hands out every episode once
            seen = [key for b in batches[epoch * 2:(epoch + 1) * 2]
                    for key in episode_keys(b.obs, b.actions, b.rewards, range(b.obs.shape[1]))]
            assert sorted(seen) == collected
    with open(trainer.run_dir / "progress.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["episodes"]) for r in rows] == [8]  # the episode clock, no warm-up
    assert [int(r["updates"]) for r in rows] == [2 * per_rollout]
    assert np.isfinite(float(rows[0]["critic_loss"]))


def test_rollout_buffer_hands_out_each_episode_once_per_pass_and_resumes_mid_pass():
    rng = np.random.default_rng(0)
    T, n = 4, 5
    episodes = Episodes(obs=rng.normal(size=(T + 1, n, 2)).astype(np.float32),
                        actions=rng.integers(0, 3, (T, n)),
                        rewards=rng.normal(size=(T, n)).astype(np.float32),
                        terminated=np.zeros((T, n), bool), truncated=np.zeros((T, n), bool),
                        lengths=np.array([4, 2, 4, 3, 1]), success=np.full(n, np.nan))

    def ids(batch):  # which episodes a batch holds, by their first observation
        return [int(np.flatnonzero(episodes.obs[0, :, 0] == x)[0]) for x in batch.obs[0, :, 0]]

    buffer = RolloutBuffer(gym.spaces.Discrete(3), seed=1)
    buffer.add_episodes(episodes)
    first = buffer.sample(2)
    copy = RolloutBuffer(gym.spaces.Discrete(3), seed=99)
    copy.load_state_dict(buffer.state_dict())  # saved in the middle of a pass
    rest = [buffer.sample(2), buffer.sample(2)]
    assert [b.obs.shape[1] for b in (first, *rest)] == [2, 2, 1]
    assert sorted(ids(first) + ids(rest[0]) + ids(rest[1])) == list(range(n))
    for batch in (first, *rest):
        assert batch.mask.sum(0).tolist() == episodes.lengths[ids(batch)].tolist()
        assert (batch.prev_actions[0] == -1).all() and (batch.prev_rewards[0] == 0).all()
    for expected in (*rest, buffer.sample(2)):  # the rest of the pass, then a new pass
        got = copy.sample(2)
        for name in vars(expected):
            np.testing.assert_array_equal(getattr(got, name), getattr(expected, name))


def test_an_on_policy_budget_is_counted_as_its_task_counts(rollout_algo):
    """Episodes for the memory tasks, units of T env steps for an env-step task."""
    run = rollout_run("--config_env.env_name 3 --train_episodes 12", epochs=1)
    episodes = RolloutSchedule(run, max_episode_steps=4)
    assert (episodes.unit, episodes.budget, episodes.clock(Counts(5, 20, 0))) == ("episodes", 12, 5)
    run = parse_train_args(["--config_env", "configs/envs/gym.py", "--config_env.env_id",
                            "memrl/Pendulum-P-v0", "--config_rl", "configs/rl/dqn_default.py",
                            "--config_rl.algo", "rollout_dqn", "--config_seq",
                            "configs/seq_models/lstm_default.py", "--train_episodes", "3",
                            "--config_env.eval_interval", "2"])
    steps = RolloutSchedule(run, max_episode_steps=200)
    assert (steps.unit, steps.budget, steps.eval_period) == ("env steps", 600, 400)
    assert steps.clock(Counts(5, 20, 0)) == 20
