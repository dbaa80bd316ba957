"""Recurrent TD3: the losses against the textbook formulas, the gradient paths of the shared
encoder's switches, target tracking, policy delay, acting, checkpoints, and that Sign Match is
learned through the real trainer."""

import copy
import dataclasses

import gymnasium as gym
import numpy as np
import pytest
import torch
from actor_critic_helpers import (
    SPEC,
    box_batch,
    grads_nonzero,
    grads_zero,
    make_agent,
    min_q,
    train_with_small_heads,
    twin_td_loss,
)
from conftest import seed_command, vector_spec

from memrl.agents import AlgorithmError, TrainSpec, build_agent, check_algorithm
from memrl.agents.td3 import TD3
from memrl.cli import parse_train_args
from memrl.collector import rollout


@pytest.mark.parametrize("seq", ["lstm", "gpt"])
@pytest.mark.parametrize("layout", ["separate", "shared"])
def test_update_losses_match_textbook_td3(seq, layout, device):
    """The critic loss of one update from the networks before it, and the actor loss from the
    actor before it and (separate layout) the critic after its step, computed by hand."""
    agent = make_agent("td3", seq, layout, device=device)
    before = copy.deepcopy(agent)
    batch = box_batch()
    assert batch.terminals.any() and (batch.mask == 0).any()  # true ends and padding
    b = agent.to_device(batch)
    torch.manual_seed(1)
    out = agent.update(batch)

    torch.manual_seed(1)  # the same target-smoothing draw
    net, target = before.net, before.target
    x = b.inputs
    with torch.no_grad():
        critic_memory = target.encoder if layout == "shared" else target.critic_encoder
        h_next = critic_memory(*x)[1:]
        a_next = torch.tanh(target.actor.mlp(target.encoder(*x)[1:]))
        noise = (torch.randn(a_next.shape, device=device) * 0.2).clamp(-0.5, 0.5)
        a_next = (a_next + noise).clamp(-1, 1)
        y = b.rewards + 0.99 * (1 - b.terminals) * min_q(target.critic, h_next, a_next)
        h = (net.encoder if layout == "shared" else net.critic_encoder)(*x)[:-1]
        critic_loss = twin_td_loss(net.critic, h, b.actions, y, b.mask)

        h_actor = net.encoder(*x)[:-1]
        if layout == "separate":  # the critic after its step
            critic, h_critic = agent.net.critic, agent.net.critic_encoder(*x)[:-1]
        else:
            critic, h_critic = net.critic, h_actor
        q = min_q(critic, h_critic, torch.tanh(net.actor.mlp(h_actor)))
        actor_loss = -(q * b.mask).sum() / b.mask.sum()
        q1 = (net.critic.q1(torch.cat([h, b.actions], -1))[..., 0] * b.mask).sum() \
            / b.mask.sum()
    torch.testing.assert_close(out["critic_loss"], critic_loss)
    torch.testing.assert_close(out["actor_loss"], actor_loss)
    torch.testing.assert_close(out["q1"], q1)
    assert tuple(out) == TD3.metric_names
    assert all(v.shape == () and torch.isfinite(v) for v in out.values())


@pytest.mark.parametrize("layout, encoder, critic", [
    ("shared_freeze_all", False, False),  # the actor loss trains only the actor head
    ("shared_freeze_critic", True, False),  # ... and the memory through the actor head
    ("shared", True, True),  # ... and the Q heads and the memory through Q
])
def test_actor_loss_gradient_paths(layout, encoder, critic, device):
    agent = make_agent("td3", "lstm", layout, device=device)
    b = agent.to_device(box_batch())
    agent.shared_losses(b)["actor_loss"].backward()
    assert grads_nonzero(agent.net.actor)
    assert grads_nonzero(agent.net.encoder) == encoder
    assert grads_nonzero(agent.net.critic) == critic
    assert grads_zero(agent.target)
    if layout == "shared_freeze_all":  # the critic loss still trains the shared memory
        agent.zero_grad()
        agent.shared_losses(b)["critic_loss"].backward()
        assert grads_nonzero(agent.net.encoder) and grads_zero(agent.net.actor)


def test_freeze_switches_need_the_shared_encoder():
    for switch in ("freeze_all", "freeze_critic"):
        run = parse_train_args(seed_command("sign_match", "td3_default", "lstm_default",
                                            f"--{switch}"))
        assert run.config_rl[switch] and not run.config_rl.shared_encoder
        with pytest.raises(ValueError, match=f"--{switch} needs --shared_encoder"):
            build_agent(run.config_rl, run.config_seq, SPEC, TrainSpec(10, -1),
                        torch.device("cpu"), 0)


def test_action_space_checks():
    run = parse_train_args(seed_command("sign_match", "td3_default", "lstm_default"))
    with pytest.raises(AlgorithmError, match="td3 needs a Box action space"):
        check_algorithm(run.config_rl, vector_spec(4))
    wide = dataclasses.replace(SPEC, action_space=gym.spaces.Box(-2.0, 2.0, (2,)))
    with pytest.raises(ValueError, match=r"acts in \[-1, 1\]\^A"):
        build_agent(run.config_rl, run.config_seq, wide, TrainSpec(10, -1),
                    torch.device("cpu"), 0)


@pytest.mark.parametrize("layout", ["separate", "shared_freeze_all"])
def test_targets_track_by_polyak(layout, device):
    agent = make_agent("td3", "lstm", layout, device=device)
    before = [p.clone() for p in agent.target.parameters()]
    agent.update(box_batch())
    online = dict(agent.net.named_parameters())
    names = [name for name, _ in agent.target.named_parameters()]
    assert names == list(online)  # target actor and critic, memories included
    for old, (name, new) in zip(before, agent.target.named_parameters()):
        torch.testing.assert_close(new, 0.995 * old + 0.005 * online[name])
        assert not new.requires_grad


def test_policy_delay_skips_actor_steps():
    """policy_delay 2: the actor and the targets step on updates 0, 2, ..., the critic on all;
    an update without an actor step logs the last actor metrics again."""
    agent = make_agent("td3", "lstm", "separate", policy_delay=2)
    groups = {"actor": agent.actor_params, "target": agent.target.parameters,
              "critic": agent.critic_params}
    moved, actor_losses = [], []
    for i in range(4):
        before = {name: [p.clone() for p in params()] for name, params in groups.items()}
        actor_losses.append(agent.update(box_batch(seed=i))["actor_loss"])
        moved.append({name: any(not torch.equal(old, new) for old, new in
                                zip(before[name], params()))
                      for name, params in groups.items()})
    step, skip = {"actor": True, "target": True, "critic": True}, \
        {"actor": False, "target": False, "critic": True}
    assert moved == [step, skip, step, skip]
    assert actor_losses[1] == actor_losses[0] and actor_losses[3] == actor_losses[2]


@pytest.mark.parametrize("seq", ["lstm", "gpt"])
def test_acting(seq, device):
    """Greedy actions are the whole-sequence actor's; exploring adds N(0, 0.1) from the agent's
    seeded stream, clipped to [-1, 1]."""
    agent = make_agent("td3", seq, device=device)
    rng = np.random.default_rng(0)
    T, n = SPEC.max_episode_steps, 4
    obs = rng.normal(size=(T, n, 3)).astype(np.float32)
    prev_a, prev_r, state = np.zeros((n, 2), np.float32), np.zeros(n, np.float32), \
        agent.initial_state(n)
    actions = np.zeros((T, n, 2), np.float32)
    for t in range(T):
        actions[t], state = agent.act(obs[t], prev_a, prev_r, state, explore=False)
        prev_a = actions[t]
    assert actions.dtype == np.float32 and np.abs(actions).max() <= 1
    prev_actions = np.concatenate([np.zeros((1, n, 2), np.float32), actions[:-1]])
    agent.eval()
    with torch.no_grad():
        hidden = agent.net.encoder(*(torch.as_tensor(v, device=device) for v in (
            obs, prev_actions, np.zeros((T, n), np.float32))))
        whole = agent.net.actor(hidden).cpu().numpy()
    np.testing.assert_allclose(actions, whole, atol=1e-5)

    def explore(agent, n=2000):
        state = agent.initial_state(n)
        return agent.act(np.repeat(obs[0, :1], n, 0), np.zeros((n, 2), np.float32),
                         np.zeros(n, np.float32), state, explore=True)[0]

    greedy = actions[0, 0]
    twin = copy.deepcopy(agent)
    drawn = explore(agent)
    assert drawn.shape == (2000, 2) and drawn.dtype == np.float32
    assert np.abs(drawn).max() <= 1.0
    inside = np.abs(drawn).max(1) < 1
    np.testing.assert_allclose((drawn - greedy)[inside].std(0), 0.1, rtol=0.1)
    np.testing.assert_array_equal(drawn, explore(twin))  # the agent's own seeded stream


def test_checkpoint_round_trip():
    """state_dict + extra_state give a twin that updates and explores as the original."""
    for layout in ("separate", "shared_freeze_all"):
        agent = make_agent("td3", "lstm", layout, policy_delay=2)
        agent.update(box_batch())
        twin = make_agent("td3", "lstm", layout, seed=5, policy_delay=2)
        twin.load_state_dict(agent.state_dict())
        twin.load_extra_state(copy.deepcopy(agent.extra_state()))
        for seed in (3, 4):
            torch.manual_seed(seed)
            a = agent.update(box_batch(seed=seed))
            torch.manual_seed(seed)
            b = twin.update(box_batch(seed=seed))
            for name in TD3.metric_names:
                torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)
        assert agent.rng.random() == twin.rng.random()


def test_sign_match_is_remembered_by_td3_lstm(tmp_path):
    """TD3 with an LSTM and the paper's learning rates, through the real trainer: Sign Match
    with L = 5, the sign seen at t = 0 answered at t = 5. A memoryless policy returns 0 in
    expectation; the optimum is 1. 100 episodes after the warm-up (600 updates of 32 episodes,
    64-unit heads): seeds 0, 1 and 2 all reach a greedy return of 1.00 (after 50 episodes:
    1.00, -0.11, 0.98); ~45 s on one busy core. Seed 0 is pinned."""
    run = parse_train_args(seed_command(
        "sign_match", "td3_default", "lstm_default",
        "--config_env.env_name 5 --config_env.eval_interval 25 --config_env.eval_episodes 50 "
        f"--train_episodes 100 --batch_size 32 --updates_per_step 1 --seed 0 "
        f"--save_dir {tmp_path}"))
    trainer, rows = train_with_small_heads(run)
    assert [row["episodes"] for row in rows] == [25, 50, 75, 100]
    assert all(np.isfinite(row[name]) for row in rows for name in TD3.metric_names)
    assert all(row["exploration_noise"] == 0.1 for row in rows)
    with torch.no_grad():
        episodes = rollout(trainer.eval_env, trainer.agent, explore=False)
    assert episodes.returns.mean() > 0.5, f"greedy return {episodes.returns.mean():.2f}"
