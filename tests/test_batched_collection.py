"""--num_envs N: N episodes stepped as arrays, one forward pass per step for all N."""

import itertools
import math

import numpy as np
import pytest
from conftest import seed_command

from memrl.cli import parse_train_args
from memrl.collector import rollout
from memrl.envs.tmaze import PassiveTMaze
from memrl.trainer import Trainer


class CountingAgent:
    """Stands in for an agent: counts act() calls and checks what they receive."""

    def __init__(self):
        self.calls = 0

    def initial_state(self, n):
        return np.zeros(n)

    def act(self, obs, prev_actions, prev_rewards, state, explore):
        self.calls += 1
        assert obs.shape[0] == prev_actions.shape[0] == prev_rewards.shape[0] == len(state)
        return np.zeros(len(state), dtype=np.int64), state + 1


def test_rollout_acts_once_per_step_for_all_envs():
    env = PassiveTMaze(6, num_envs=5, seed=0)
    agent = CountingAgent()
    episodes = rollout(env, agent)
    assert agent.calls == env.max_episode_steps
    assert episodes.obs.shape == (env.max_episode_steps + 1, 5, 2)
    assert episodes.actions.shape == episodes.rewards.shape == (env.max_episode_steps, 5)
    assert episodes.terminated[-1].all() and not episodes.terminated[:-1].any()
    assert not episodes.truncated.any() and (episodes.lengths == env.max_episode_steps).all()
    # Walking right every step earns no pace penalty and then a coin flip at the junction.
    np.testing.assert_array_equal(episodes.rewards[:-1], 0)


@pytest.mark.parametrize("num_envs", [3, 4])
def test_trainer_schedule_with_batched_envs(tmp_path, num_envs):
    L, train_episodes = 3, 20
    run = parse_train_args(seed_command(extra=(
        f"--config_env.env_name {L} --train_episodes {train_episodes} --num_envs {num_envs} "
        f"--save_dir {tmp_path}")))
    trainer = Trainer(run)
    trainer.train()
    T = L + 1
    warmup_collections = math.ceil(10 / num_envs)
    warmup_episodes = warmup_collections * num_envs
    collections = math.ceil((10 + train_episodes - warmup_episodes) / num_envs)
    assert trainer.episodes == warmup_episodes + collections * num_envs
    assert trainer.env_steps == trainer.episodes * T
    expected_updates = int(0.25 * warmup_episodes * T) + collections * math.ceil(
        0.25 * num_envs * T)
    assert trainer.updates == expected_updates
    rows = (trainer.run_dir / "progress.csv").read_text().splitlines()[1:]
    episodes_logged = [int(r.split(",")[1]) for r in rows]
    # One evaluation each time the count passes a new multiple of eval_interval (10).
    assert len(episodes_logged) == trainer.episodes // 10
    assert all(b // 10 > a // 10 for a, b in itertools.pairwise(episodes_logged))
