"""Recurrent DQN: the update's maths, the epsilon schedule, target tracking, acting."""

import copy

import numpy as np
import pytest
import torch
from conftest import seed_command, vector_spec

from memrl.agents import AlgorithmError, TrainSpec, build_agent, set_switches
from memrl.cli import parse_train_args
from memrl.replay import EpisodeReplay


def make_agent(seq="lstm", L=4, train_episodes=100, device=torch.device("cpu"), **overrides):
    run = parse_train_args(seed_command(seq=f"{seq}_default",
                                        extra=f"--config_env.env_name {L}"))
    for key, value in overrides.items():
        setattr(run.config_rl, key, value)
    env = vector_spec(L + 1)
    agent = build_agent(run.config_rl, run.config_seq, env, TrainSpec(train_episodes, -1),
                        device, seed=0)
    return agent, env


def random_replay(env, episodes=8, seed=0):
    rng = np.random.default_rng(seed)
    T = env.max_episode_steps
    replay = EpisodeReplay(T, env.observation_space, env.action_space, max_transitions=1,
                           min_episodes=episodes, seed=seed)
    replay.add(rng.normal(size=(T + 1, episodes, 2)).astype(np.float32),
               rng.integers(0, 4, (T, episodes)), rng.normal(size=(T, episodes)),
               (np.arange(T) == T - 1)[:, None].repeat(episodes, 1).astype(np.float32))
    return replay


@pytest.mark.parametrize("seq", ["lstm", "gpt"])
def test_update_matches_reference_double_dqn_loss(seq, device):
    """The lean update's loss equals the textbook one computed by separate passes."""
    torch.manual_seed(0)
    agent, env = make_agent(seq, device=device)
    batch = random_replay(env).sample(5, -1)
    b = agent.to_device(batch)
    inputs = b.inputs
    agent.q_net.eval()  # no dropout, so separate passes agree
    agent.target_net.eval()
    target_net = copy.deepcopy(agent.target_net)
    with torch.no_grad():
        q = agent.q_net(*inputs)
        q_pred = q[:-1].gather(-1, b.actions[..., None])[..., 0]
        a_star = agent.q_net(*inputs)[1:].argmax(-1, keepdim=True)
        q_next = target_net(*inputs)[1:].gather(-1, a_star)[..., 0]
        y = b.rewards + 0.99 * (1 - b.terminals) * q_next
        expected = ((q_pred - y) ** 2 * b.mask).sum() / b.mask.sum()
    agent.train = lambda mode=True: agent  # keep eval mode inside update()
    metrics = agent.update(batch)
    assert torch.allclose(metrics["critic_loss"], expected, atol=1e-6)
    assert set(metrics) == set(agent.metric_names)


def test_target_network_tracks_with_polyak(device):
    agent, env = make_agent(device=device)
    before = [p.clone() for p in agent.target_net.parameters()]
    agent.update(random_replay(env).sample(4))
    for old, tgt, online in zip(before, agent.target_net.parameters(),
                                agent.q_net.parameters()):
        torch.testing.assert_close(tgt, 0.995 * old + 0.005 * online)
    assert not any(p.requires_grad for p in agent.target_net.parameters())


def test_masked_steps_do_not_contribute(device):
    agent, env = make_agent(device=device)
    batch = random_replay(env).sample(3)
    batch.mask[2:] = 0
    changed = copy.deepcopy(batch)
    changed.rewards[3:] += 100.0  # rewards of masked steps
    a = copy.deepcopy(agent).update(batch)["critic_loss"]
    b = copy.deepcopy(agent).update(changed)["critic_loss"]
    torch.testing.assert_close(a, b)


def test_epsilon_schedule(device):
    agent, _ = make_agent(L=9, train_episodes=100, device=device)  # T = 10
    assert agent.epsilon == 1.0
    schedule = 0.1 * 100 * 10
    assert agent.schedule_steps == schedule
    state = agent.initial_state(5)
    obs = np.zeros((5, 2), np.float32)
    prev = np.full(5, -1)
    agent.act(obs, prev, np.zeros(5, np.float32), state, explore=True)
    assert agent.explore_steps == 5  # one per action
    agent.act(obs, prev, np.zeros(5, np.float32), agent.initial_state(5), explore=False)
    assert agent.explore_steps == 5  # greedy acting does not advance it
    agent.explore_steps = schedule // 2
    assert agent.epsilon == pytest.approx(1.0 + 0.5 * (0.1 - 1.0))
    agent.explore_steps = 10 * schedule
    assert agent.epsilon == pytest.approx(1 / 10)


def test_greedy_acting_is_argmax_of_whole_sequence_q(device):
    agent, env = make_agent("gpt", device=device)
    rng = np.random.default_rng(0)
    T, n = env.max_episode_steps, 3
    obs = rng.normal(size=(T, n, 2)).astype(np.float32)
    actions = np.zeros((T, n), np.int64)
    prev_a, prev_r, state = np.full(n, -1), np.zeros(n, np.float32), agent.initial_state(n)
    for t in range(T):
        actions[t], state = agent.act(obs[t], prev_a, prev_r, state, explore=False)
        prev_a = actions[t]
    prev_actions = np.concatenate([np.full((1, n), -1), actions[:-1]])
    agent.q_net.eval()
    with torch.no_grad():
        q = agent.q_net(torch.as_tensor(obs, device=device),
                        torch.as_tensor(prev_actions, device=device),
                        torch.zeros(T, n, device=device))
    np.testing.assert_array_equal(q.argmax(-1).cpu().numpy(), actions)


def test_dqn_rejects_sacd_switches():
    run = parse_train_args(seed_command())
    set_switches(run.config_rl, shared_encoder=True)
    with pytest.raises(AlgorithmError, match="--shared_encoder is not an option of dqn"):
        build_agent(run.config_rl, run.config_seq, vector_spec(5), TrainSpec(10, -1),
                    torch.device("cpu"), 0)
