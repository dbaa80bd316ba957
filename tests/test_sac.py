"""Recurrent SAC for continuous actions: the tanh-Gaussian log-density, the critic (entropy in
the backup), actor and temperature losses against the textbook formulas, gradient paths,
targets, acting and checkpoints."""

import copy
import math

import numpy as np
import pytest
import torch
from actor_critic_helpers import (
    box_batch,
    grads_nonzero,
    grads_zero,
    make_agent,
    min_q,
    twin_td_loss,
)
from torch.distributions import Normal, TanhTransform, TransformedDistribution

from memrl.agents.sac import SAC, tanh_gaussian_log_prob


def test_tanh_gaussian_log_prob_is_the_change_of_variables():
    torch.manual_seed(0)
    mean, log_std = torch.randn(1000, 3), torch.randn(1000, 3).clamp(-2, 1)
    noise = torch.randn(1000, 3)
    pre_tanh = mean + log_std.exp() * noise
    ours = tanh_gaussian_log_prob(noise, pre_tanh, log_std)
    dist = TransformedDistribution(Normal(mean, log_std.exp()), [TanhTransform(cache_size=1)])
    action = dist.transforms[0](pre_tanh)  # cached, so log_prob inverts it exactly
    torch.testing.assert_close(ours, dist.log_prob(action).sum(-1), rtol=1e-5, atol=1e-4)
    # Finite where tanh rounds to +-1 (there the naive log(1 - tanh^2) is -inf).
    far = tanh_gaussian_log_prob(torch.zeros(1, 1), torch.full((1, 1), 30.0), torch.zeros(1, 1))
    assert torch.isfinite(far).all()
    # A density on (-1, 1): it integrates to 1.
    a = torch.linspace(-1, 1, 200_001, dtype=torch.float64)[1:-1]
    u = torch.atanh(a)
    m, s = torch.tensor(0.3, dtype=torch.float64), torch.tensor(0.7, dtype=torch.float64)
    density = tanh_gaussian_log_prob(((u - m) / s)[:, None], u[:, None], s.log()[None]).exp()
    assert abs(torch.trapezoid(density, a).item() - 1.0) < 1e-3


def tanh_gaussian(actor, hidden, noise):
    """Reparameterised sample and its log-density, by the naive change of variables."""
    mean, log_std = actor.mlp(hidden).chunk(2, -1)
    std = log_std.clamp(-20, 2).exp()
    u = mean + std * noise
    log_prob = (Normal(mean, std).log_prob(u) - torch.log(1 - torch.tanh(u) ** 2)).sum(-1)
    return torch.tanh(u), log_prob


@pytest.mark.parametrize("seq", ["lstm", "gpt"])
@pytest.mark.parametrize("layout", ["separate", "shared"])
def test_update_losses_match_textbook_sac(seq, layout, device):
    """Critic loss with the entropy backup, actor loss and temperature gradient of one update,
    computed by hand from the networks before it (separate: the actor reads the critic after
    its step). Windows of 3 steps."""
    agent = make_agent("sac", seq, layout, device=device)
    before = copy.deepcopy(agent)
    batch = box_batch(seq_len=3)
    b = agent.to_device(batch)
    torch.manual_seed(1)
    out = agent.update(batch)

    torch.manual_seed(1)  # the same draws: next actions, then the actor's actions
    net, target, alpha, mask = before.net, before.target, 0.1, b.mask
    x = b.inputs
    S, B = b.rewards.shape
    with torch.no_grad():
        h_actor = net.encoder(*x)
        a_next, logp_next = tanh_gaussian(net.actor, h_actor[1:],
                                          torch.randn(S, B, 2, device=device))
        critic_memory = target.encoder if layout == "shared" else target.critic_encoder
        soft_q = min_q(target.critic, critic_memory(*x)[1:], a_next) - alpha * logp_next
        y = b.rewards + 0.99 * (1 - b.terminals) * soft_q
        h = h_actor if layout == "shared" else net.critic_encoder(*x)
        critic_loss = twin_td_loss(net.critic, h[:-1], b.actions, y, mask)

        a, logp = tanh_gaussian(net.actor, h_actor[:-1], torch.randn(S, B, 2, device=device))
        if layout == "separate":
            critic, h_critic = agent.net.critic, agent.net.critic_encoder(*x)[:-1]
        else:
            critic, h_critic = net.critic, h_actor[:-1]
        actor_loss = ((alpha * logp - min_q(critic, h_critic, a)) * mask).sum() / mask.sum()
        entropy = (-logp * mask).sum() / mask.sum()
    torch.testing.assert_close(out["critic_loss"], critic_loss)
    torch.testing.assert_close(out["actor_loss"], actor_loss)
    torch.testing.assert_close(out["entropy"], entropy)
    # Temperature: loss alpha (H - target_entropy) with target_entropy = -|A| = -2, whose
    # gradient in log alpha is alpha (H + 2); Adam's first step moves log alpha by ~lr.
    torch.testing.assert_close(agent.log_alpha.grad, alpha * (entropy + 2.0))
    step = agent.log_alpha.item() - math.log(alpha)
    assert step == pytest.approx(-3e-4 * math.copysign(1.0, entropy.item() + 2.0), rel=1e-3)
    assert agent.schedule_values() == {"temperature": pytest.approx(math.exp(agent.log_alpha
                                                                              .item()))}
    assert tuple(out) == SAC.metric_names


def test_target_entropy_from_the_config():
    assert make_agent("sac").target_entropy == -2.0
    assert make_agent("sac", target_entropy=-0.5).target_entropy == -0.5


@pytest.mark.parametrize("layout, encoder, critic", [
    ("shared_freeze_all", False, False),
    ("shared_freeze_critic", True, False),
    ("shared", True, True),
])
def test_actor_loss_gradient_paths(layout, encoder, critic, device):
    agent = make_agent("sac", "lstm", layout, device=device)
    agent.shared_losses(agent.to_device(box_batch()))["actor_loss"].backward()
    assert grads_nonzero(agent.net.actor)
    assert grads_nonzero(agent.net.encoder) == encoder
    assert grads_nonzero(agent.net.critic) == critic
    assert agent.log_alpha.grad is None  # the temperature is a constant in the actor loss


@pytest.mark.parametrize("layout", ["separate", "shared_freeze_all"])
def test_target_is_the_critic_side_tracked_by_polyak(layout, device):
    """SAC's backup samples from the online policy: the target holds the critic's memory and
    Q heads only."""
    agent = make_agent("sac", "lstm", layout, device=device)
    before = [p.clone() for p in agent.target.parameters()]
    agent.update(box_batch())
    online = dict(agent.net.named_parameters())
    names = [name for name, _ in agent.target.named_parameters()]
    memory = "encoder." if layout != "separate" else "critic_encoder."
    assert names and all(n.startswith((memory, "critic.")) for n in names)
    assert agent.target.actor is None
    for old, (name, new) in zip(before, agent.target.named_parameters()):
        torch.testing.assert_close(new, 0.995 * old + 0.005 * online[name])
    assert grads_zero(agent.target)


def test_acting(device):
    """Greedy acts tanh(mean); exploring samples the policy from the agent's seeded stream."""
    agent = make_agent("sac", device=device)
    n = 4000
    obs = np.repeat(np.array([[0.5, -0.2, 0.1]], np.float32), n, 0)

    def act(agent, explore):
        return agent.act(obs, np.zeros((n, 2), np.float32), np.zeros(n, np.float32),
                         agent.initial_state(n), explore)[0]

    twin = copy.deepcopy(agent)
    greedy, drawn = act(agent, False), act(agent, True)
    for actions in (greedy, drawn):
        assert actions.shape == (n, 2) and actions.dtype == np.float32
        assert np.abs(actions).max() <= 1.0
    with torch.no_grad():
        hidden, _ = agent.net.encoder.step(*agent.step_tensors(obs[:1], np.zeros((1, 2),
                                           np.float32), np.zeros(1, np.float32)),
                                           agent.initial_state(1))
        mean, log_std = agent.net.actor(hidden)
    np.testing.assert_allclose(greedy, np.tanh(mean.cpu().numpy()).repeat(n, 0), atol=1e-6)
    pre_tanh = np.arctanh(drawn.astype(np.float64))
    np.testing.assert_allclose(pre_tanh.mean(0), mean.cpu().numpy()[0], atol=0.1)
    np.testing.assert_allclose(pre_tanh.std(0), log_std.exp().cpu().numpy()[0], rtol=0.1)
    np.testing.assert_array_equal(drawn, act(twin, True))


def test_checkpoint_round_trip():
    """Networks, optimisers (the temperature's too), temperature and the exploration stream."""
    for layout in ("separate", "shared_freeze_all"):
        agent = make_agent("sac", "lstm", layout)
        agent.update(box_batch())
        twin = make_agent("sac", "lstm", layout, seed=5)
        twin.load_state_dict(agent.state_dict())
        twin.load_extra_state(copy.deepcopy(agent.extra_state()))
        assert twin.alpha == agent.alpha
        for seed in (3, 4):
            torch.manual_seed(seed)
            a = agent.update(box_batch(seed=seed))
            torch.manual_seed(seed)
            b = twin.update(box_batch(seed=seed))
            for name in SAC.metric_names:
                torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)
        assert twin.alpha == agent.alpha
        assert agent.rng.random() == twin.rng.random()
