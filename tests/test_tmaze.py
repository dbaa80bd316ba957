"""Every T-Maze rule (Ni et al., 2023, and the original tmaze.py), on the batched core and the gymnasium face."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import memrl.envs  # noqa: F401  (registers the gymnasium ids)
from memrl.envs.tmaze import DOWN, LEFT, RIGHT, UP, ActiveTMaze, PassiveTMaze


def optimal_actions(env, obs0_goal, t):
    """Passive: right until the junction, then turn to the goal. Active: left first."""
    o, T = env.oracle_length, env.max_episode_steps
    if o == 1 and t == 0:
        return LEFT
    if t == T - 1:
        return UP if obs0_goal > 0 else DOWN
    return RIGHT


def play(env, policy):
    """Run one batched episode; policy(t, goal_seen (N,)) -> actions (N,)."""
    obs = env.reset()
    goal_seen = obs[:, 1].copy()
    total = np.zeros(env.num_envs)
    rewards, observations = [], [obs]
    for t in range(env.max_episode_steps):
        obs, reward, done, _, info = env.step(policy(t, goal_seen))
        if t == 0:  # Active: the oracle speaks after the first step
            goal_seen = np.where(goal_seen == 0, obs[:, 1], goal_seen)
        total += reward
        rewards.append(reward)
        observations.append(obs)
    assert done.all()
    return total, np.array(rewards), np.array(observations), info


@pytest.mark.parametrize("cls,o", [(PassiveTMaze, 0), (ActiveTMaze, 1)])
@pytest.mark.parametrize("L", [1, 2, 5, 30])
def test_episode_length_and_optimal_return(cls, o, L):
    env = cls(L, num_envs=64, seed=0)
    assert env.max_episode_steps == L + 2 * o + 1

    def policy(t, seen):
        return np.array([optimal_actions(env, g, t) for g in seen])

    total, rewards, _, info = play(env, policy)
    # Optimal: no pace penalty ever, goal reward 1 at the end.
    np.testing.assert_allclose(total, 1.0)
    assert info["success"].all()
    assert (rewards[:-1] == 0).all()


@pytest.mark.parametrize("cls", [PassiveTMaze, ActiveTMaze])
def test_optimal_policy_uses_only_the_observation(cls):
    """The oracle's first observation is enough to score exactly 1.0."""
    env = cls(6, num_envs=32, seed=3)
    obs = env.reset()
    seen = obs[:, 1].copy()
    total = np.zeros(32)
    for t in range(env.max_episode_steps):
        if env.oracle_length == 1 and t == 0:
            actions = np.full(32, LEFT)
        elif t == env.max_episode_steps - 1:
            actions = np.where(seen > 0, UP, DOWN)
        else:
            actions = np.full(32, RIGHT)
        obs, reward, _, _, _ = env.step(actions)
        seen = np.where(seen == 0, obs[:, 1], seen) if t == 0 else seen
        total += reward
    np.testing.assert_allclose(total, 1.0)


def test_walk_right_and_guess_averages_half():
    env = PassiveTMaze(20, num_envs=20000, seed=1)
    env.reset()
    rng = np.random.default_rng(0)
    for t in range(env.max_episode_steps):
        if t == env.max_episode_steps - 1:
            actions = rng.choice([UP, DOWN], size=env.num_envs)
        else:
            actions = np.full(env.num_envs, RIGHT)
        _, reward, done, _, info = env.step(actions)
    assert done.all()
    assert abs(reward.mean() - 0.5) < 0.02
    np.testing.assert_array_equal(info["success"], reward == 1.0)


def test_first_visit_oracle_passive():
    env = PassiveTMaze(5, num_envs=2, seed=0)
    obs = env.reset()
    np.testing.assert_array_equal(obs[:, 0], 0)
    np.testing.assert_array_equal(obs[:, 1], env.goal)
    # Bumping into the left wall keeps the agent on the oracle: the goal is not shown again.
    obs, *_ = env.step(np.array([LEFT, LEFT]))
    np.testing.assert_array_equal(obs, 0)
    obs, *_ = env.step(np.array([RIGHT, RIGHT]))
    obs, *_ = env.step(np.array([LEFT, LEFT]))
    np.testing.assert_array_equal(obs, 0)


def test_first_visit_oracle_active():
    env = ActiveTMaze(5, num_envs=2, seed=0)
    obs = env.reset()
    np.testing.assert_array_equal(obs, 0)  # the start cell x = 1 shows nothing
    obs, reward, *_ = env.step(np.array([LEFT, LEFT]))
    np.testing.assert_array_equal(obs[:, 1], env.goal)
    np.testing.assert_array_equal(reward, 0)  # x = 0 is not behind t - o = 0
    obs, *_ = env.step(np.array([RIGHT, RIGHT]))
    obs, *_ = env.step(np.array([LEFT, LEFT]))
    np.testing.assert_array_equal(obs, 0)  # second visit: nothing


def test_pace_penalty_when_lagging():
    L = 4
    env = PassiveTMaze(L, num_envs=1, seed=0)
    env.reset()
    # Staying in place: at t = 1, x = 0 < 1 -> -1/L.
    _, reward, *_ = env.step(np.array([UP]))
    np.testing.assert_allclose(reward, -1 / L)
    _, reward, *_ = env.step(np.array([RIGHT]))  # x = 1 < t = 2
    np.testing.assert_allclose(reward, -1 / L)
    _, reward, *_ = env.step(np.array([RIGHT]))  # x = 2 < 3
    np.testing.assert_allclose(reward, -1 / L)


def test_junction_and_goal_observations_and_walls():
    L = 3
    env = PassiveTMaze(L, num_envs=1, seed=0)
    env.reset()
    for _ in range(L - 1):
        obs, *_ = env.step(np.array([RIGHT]))
        np.testing.assert_array_equal(obs, [[0, 0]])
    obs, *_ = env.step(np.array([RIGHT]))  # at the junction
    np.testing.assert_array_equal(obs, [[1, 0]])
    assert env.x[0] == L
    env2 = PassiveTMaze(L, num_envs=1, seed=0)
    env2.reset()
    obs, *_ = env2.step(np.array([UP]))  # up from the corridor is a wall
    assert env2.y[0] == 0
    # Walk to the junction and look at both goal cells and the wall beyond.
    env3 = PassiveTMaze(10, num_envs=1, seed=0)
    env3.reset()
    env3.x[:] = env3.junction
    obs, *_ = env3.step(np.array([UP]))
    np.testing.assert_array_equal(obs, [[1, 1]])
    obs, *_ = env3.step(np.array([RIGHT]))  # nothing east of a goal cell
    assert env3.x[0] == env3.junction
    obs, *_ = env3.step(np.array([UP]))  # nothing above a goal cell
    np.testing.assert_array_equal(obs, [[1, 1]])
    obs, *_ = env3.step(np.array([DOWN, ]))
    obs, *_ = env3.step(np.array([DOWN]))
    np.testing.assert_array_equal(obs, [[1, -1]])
    env3.step(np.array([RIGHT]))
    assert env3.x[0] == env3.junction  # no corridor beyond the junction


def test_final_reward_only_on_goal_side():
    L = 2
    env = PassiveTMaze(L, num_envs=2, seed=5)
    env.reset()
    env.goal[:] = [1, -1]
    env.step(np.array([RIGHT, RIGHT]))
    env.step(np.array([RIGHT, RIGHT]))
    _, reward, done, _, info = env.step(np.array([UP, UP]))
    assert done.all()
    np.testing.assert_array_equal(reward, [1.0, 0.0])
    np.testing.assert_array_equal(info["success"], [True, False])


def test_goal_is_uniform_and_seeded():
    env = PassiveTMaze(3, num_envs=10000, seed=7)
    env.reset()
    assert abs((env.goal == 1).mean() - 0.5) < 0.03
    a = PassiveTMaze(3, num_envs=50, seed=11).reset()
    b = PassiveTMaze(3, num_envs=50, seed=11).reset()
    np.testing.assert_array_equal(a, b)


def test_step_after_end_raises():
    env = PassiveTMaze(1, seed=0)
    env.reset()
    env.step(np.array([RIGHT]))
    env.step(np.array([UP]))
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.array([RIGHT]))


@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_bad_length(bad):
    with pytest.raises(ValueError, match="positive integer"):
        PassiveTMaze(bad)


@pytest.mark.parametrize("env_id", ["memrl/PassiveTMaze-v0", "memrl/ActiveTMaze-v0"])
def test_gymnasium_env(env_id):
    env = gym.make(env_id, length=7)
    check_env(env.unwrapped, skip_render_check=True)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (2,) and obs.dtype == np.float32
    steps, done = 0, False
    while not done:
        obs, _, terminated, truncated, info = env.step(RIGHT)
        steps += 1
        done = terminated or truncated
    assert steps == env.unwrapped.core.max_episode_steps
    assert "success" in info
