"""Recurrent SAC-Discrete on pixels: the losses' maths, freeze_critic's gradient paths, target
tracking, acting, the seed's pixel commands, and that Visual Match is learned above chance."""

import copy

import numpy as np
import pytest
import torch
from actor_critic_helpers import train_with_small_heads
from conftest import pixel_spec, seed_command

from memrl import envs
from memrl.agents import EnvSpec, TrainSpec, build_agent, set_switches
from memrl.agents.actor_critic import Freeze
from memrl.agents.sacd import SACD
from memrl.cli import parse_train_args
from memrl.collector import rollout
from memrl.evaluate import eval_env
from memrl.nets.seq import SEQ_MODELS
from memrl.replay import EpisodeReplay

PIXELS = pixel_spec(6)
LAYOUTS = {
    "separate": {},
    "shared": {"shared_encoder": True},
    "shared_frozen": {"shared_encoder": True, "freeze_critic": True},
}


def make_agent(seq="lstm", layout="shared_frozen", seed=0, device=torch.device("cpu")) -> SACD:
    run = parse_train_args(seed_command("visual_match", "sacd_default", f"{seq}_cnn"))
    set_switches(run.config_rl, **LAYOUTS[layout])
    return build_agent(run.config_rl, run.config_seq, PIXELS, TrainSpec(100, -1),
                       device, seed)


def pixel_batch(batch_size=5, episodes=8, seed=0):
    rng = np.random.default_rng(seed)
    T = PIXELS.max_episode_steps
    replay = EpisodeReplay(T, PIXELS.observation_space, PIXELS.action_space, max_transitions=1,
                           min_episodes=episodes, seed=seed)
    replay.add(rng.integers(0, 256, (T + 1, episodes, 75), dtype=np.uint8),
               rng.integers(0, 4, (T, episodes)), rng.normal(size=(T, episodes)),
               (np.arange(T) == T - 1)[:, None].repeat(episodes, 1).astype(np.float32))
    return replay.sample(batch_size, -1)


def grads(module):
    return [p.grad for p in module.parameters()]


@pytest.mark.parametrize("seq", ["lstm", "gpt"])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_update_returns_finite_scalar_metrics(seq, layout, device):
    agent = make_agent(seq, layout, device=device)
    for _ in range(2):
        metrics = agent.update(pixel_batch())
    assert tuple(metrics) == agent.metric_names
    for name, value in metrics.items():
        assert value.shape == () and not value.requires_grad, name
        assert torch.isfinite(value), name
    assert 0 < metrics["entropy"] <= np.log(4) + 1e-6


def test_shared_losses_match_textbook_formulas(device):
    """One pass of the memory gives the same losses as the formulas computed step by step."""
    agent = make_agent("lstm", "shared", device=device)  # no dropout, so separate passes agree
    b = agent.to_device(pixel_batch())
    out = agent.shared_losses(b)
    with torch.no_grad():
        h = agent.net.encoder(*b.inputs)
        probs = torch.softmax(agent.net.actor(h), -1)
        q1, q2 = agent.net.critic.q1(h), agent.net.critic.q2(h)
        t1, t2 = agent.target.critic.q1(h[1:]), agent.target.critic.q2(h[1:])
        v_next = (probs[1:] * (torch.min(t1, t2) - 0.1 * probs[1:].log())).sum(-1)
        y = b.rewards + 0.99 * (1 - b.terminals) * v_next
        a = b.actions[..., None]
        mask, n = b.mask, b.mask.sum()
        critic = sum((((q[:-1].gather(-1, a)[..., 0] - y) ** 2) * mask).sum() / n
                     for q in (q1, q2))
        p = probs[:-1]
        actor = ((p * (0.1 * p.log() - torch.min(q1, q2)[:-1])).sum(-1) * mask).sum() / n
    torch.testing.assert_close(out["critic_loss"], critic)
    torch.testing.assert_close(out["actor_loss"], actor)


def test_freeze_critic_actor_loss_trains_only_the_policy_head(device):
    """With --freeze_critic the actor loss reaches neither the Q heads nor the shared memory."""
    agent = make_agent("lstm", "shared_frozen", device=device)
    b = agent.to_device(pixel_batch())
    agent.shared_losses(b)["actor_loss"].backward()
    assert all(g is None or not g.any() for g in grads(agent.net.critic))
    assert all(g is None or not g.any() for g in grads(agent.net.encoder))
    assert all(g is not None and g.any() for g in grads(agent.net.actor))
    # The critic loss still trains the shared memory.
    agent.zero_grad()
    agent.shared_losses(b)["critic_loss"].backward()
    assert any(g is not None and g.any() for g in grads(agent.net.encoder))


def test_without_freeze_the_actor_loss_reaches_q_heads_and_memory_through_q(device):
    frozen = make_agent("lstm", "shared_frozen", device=device)
    free = copy.deepcopy(frozen)
    free.freeze = Freeze()
    b = frozen.to_device(pixel_batch())
    for agent in (frozen, free):
        agent.shared_losses(b)["actor_loss"].backward()
    assert any(g is not None and g.any() for g in grads(free.net.critic))
    assert any(g is not None and g.any() for g in grads(free.net.encoder))
    assert all(g is None or not g.any() for g in grads(frozen.net.encoder))


def test_freeze_critic_needs_shared_encoder():
    with pytest.raises(ValueError, match="--freeze_critic needs --shared_encoder"):
        run = parse_train_args(seed_command("visual_match", "sacd_default", "lstm_cnn"))
        set_switches(run.config_rl, freeze_critic=True)
        build_agent(run.config_rl, run.config_seq, PIXELS, TrainSpec(10, -1),
                    torch.device("cpu"), 0)


@pytest.mark.parametrize("layout", ["separate", "shared_frozen"])
def test_target_critic_tracks_with_polyak(layout, device):
    agent = make_agent("lstm", layout, device=device)
    before = [p.clone() for p in agent.target.parameters()]
    agent.update(pixel_batch())
    online = dict(agent.net.named_parameters())
    for old, (name, tgt) in zip(before, agent.target.named_parameters()):
        torch.testing.assert_close(tgt, 0.995 * old + 0.005 * online[name])
    assert not any(p.requires_grad for p in agent.target.parameters())
    # Shared: the target is the Q heads alone; separate: the critic's memory too.
    names = {name.split(".")[0] for name, _ in agent.target.named_parameters()}
    assert names == ({"critic"} if layout != "separate" else {"critic", "critic_encoder"})


@pytest.mark.parametrize("seq", ["lstm", "gpt"])
def test_acting(seq, device):
    """Greedy acting is the argmax of the whole-sequence policy; exploring samples from it,
    reproducibly from the agent's seed."""
    agent = make_agent(seq, device=device)
    with torch.no_grad():  # a peaked policy, so greedy and sampled actions are informative
        agent.net.actor[-1].weight.mul_(3000.0)
    rng = np.random.default_rng(0)
    T, n = PIXELS.max_episode_steps, 4
    obs = rng.integers(0, 256, (T, n, 75), dtype=np.uint8)
    prev_a, prev_r, state = np.full(n, -1), np.zeros(n, np.float32), agent.initial_state(n)
    actions = np.zeros((T, n), np.int64)
    for t in range(T):
        actions[t], state = agent.act(obs[t], prev_a, prev_r, state, explore=False)
        prev_a = actions[t]
    prev_actions = np.concatenate([np.full((1, n), -1), actions[:-1]])
    agent.eval()
    with torch.no_grad():
        logits = agent.net.actor(agent.net.encoder(torch.as_tensor(obs, device=device),
                                                   torch.as_tensor(prev_actions, device=device),
                                                   torch.zeros(T, n, device=device)))
    np.testing.assert_array_equal(logits.argmax(-1).cpu().numpy(), actions)

    def explore(agent, obs):
        torch.manual_seed(1)  # GPT acts with dropout while exploring (train mode)
        return agent.act(obs, np.full(len(obs), -1), np.zeros(len(obs), np.float32),
                         agent.initial_state(len(obs)), explore=True)[0]

    many = np.repeat(obs[0, :1], 500, axis=0)
    same_seed = copy.deepcopy(agent)
    drawn = explore(agent, many)
    assert set(drawn) <= {0, 1, 2, 3} and len(set(drawn)) > 1
    np.testing.assert_array_equal(drawn, explore(same_seed, many))
    twin = make_agent(seq, seed=0, device=device)
    twin.load_state_dict(agent.state_dict())
    twin.load_extra_state(agent.extra_state())
    np.testing.assert_array_equal(explore(agent, many), explore(twin, many))


def test_extra_state_restores_optimizers_and_stream(device):
    for layout in ("separate", "shared_frozen"):
        agent = make_agent("lstm", layout, device=device)
        agent.update(pixel_batch())
        twin = make_agent("lstm", layout, seed=1, device=device)
        twin.load_state_dict(agent.state_dict())
        twin.load_extra_state(copy.deepcopy(agent.extra_state()))
        batch = pixel_batch(seed=3)
        a, b = agent.update(batch), twin.update(batch)
        torch.testing.assert_close(a["critic_loss"], b["critic_loss"])
        assert agent.rng.random() == twin.rng.random()


def test_checkpoints_from_before_the_shared_layout_load(device):
    """SAC-D runs saved when it had its own layout named its networks encoder, policy,
    critic.{encoder,q1,q2} and critic_target.*, and kept no update counter: they resume as
    they were."""
    today_to_old = {"net.encoder.": "encoder.", "net.actor.": "policy.",
                    "net.critic_encoder.": "critic.encoder.", "net.critic.": "critic.",
                    "target.critic_encoder.": "critic_target.encoder.",
                    "target.critic.": "critic_target."}

    def old_name(name):
        prefix = next(p for p in today_to_old if name.startswith(p))
        return today_to_old[prefix] + name[len(prefix):]

    for layout in ("separate", "shared_frozen"):
        agent = make_agent("lstm", layout, device=device)
        agent.update(pixel_batch())
        state = {old_name(name): value for name, value in agent.state_dict().items()}
        extra = {k: v for k, v in copy.deepcopy(agent.extra_state()).items()
                 if k not in ("updates", "last_actor_metrics")}
        twin = make_agent("lstm", layout, seed=1, device=device)
        twin.load_state_dict(state)
        twin.load_extra_state(extra)
        batch = pixel_batch(seed=3)
        a, b = agent.update(batch), twin.update(batch)
        for name in SACD.metric_names:
            torch.testing.assert_close(a[name], b[name], rtol=0, atol=0)


# The seed README's pixel commands, verbatim but for the lowered --train_episodes (its last
# "Key-to-Door" command names configs/envs/visual_match.py; kept as written).
SEED_PIXEL_COMMANDS = [
    ("--config_env configs/envs/visual_match.py --config_env.env_name 60 "
    "--config_rl configs/rl/sacd_default.py --shared_encoder --freeze_critic "
    "--train_episodes 40000 --config_seq configs/seq_models/gpt_cnn.py "
    "--config_seq.sampled_seq_len -1"),
    ("--config_env configs/envs/keytodoor.py --config_env.env_name 120 "
    "--config_rl configs/rl/sacd_default.py --shared_encoder --freeze_critic "
    "--train_episodes 40000 --config_seq configs/seq_models/lstm_cnn.py "
    "--config_seq.sampled_seq_len -1 --config_seq.model.seq_model_config.n_layer 2"),
    ("--config_env configs/envs/visual_match.py --config_env.env_name 250 "
    "--config_rl configs/rl/sacd_default.py --shared_encoder --freeze_critic "
    "--train_episodes 30000 --config_seq configs/seq_models/gpt_cnn.py "
    "--config_seq.sampled_seq_len -1 --config_seq.model.seq_model_config.n_layer 2 "
    "--config_seq.model.seq_model_config.n_head 2"),
]


@pytest.mark.parametrize("command", SEED_PIXEL_COMMANDS)
def test_seed_pixel_commands_parse_and_build(command):
    argv = command.replace("--train_episodes 40000", "--train_episodes 5") \
        .replace("--train_episodes 30000", "--train_episodes 5").split()
    run = parse_train_args(argv)
    assert run.train_episodes == 5
    assert run.config_rl.algo == "sacd"
    assert run.config_rl.shared_encoder and run.config_rl.freeze_critic
    assert run.config_seq.model.observ_embedder.name == "cnn"
    env = envs.make(run.config_env, 1, 0)
    agent = build_agent(run.config_rl, run.config_seq, EnvSpec.of(env),
                        TrainSpec(run.train_episodes, run.config_seq.sampled_seq_len),
                        torch.device("cpu"), 0)
    assert agent.net.encoder.hidden_size == (100 if "gpt" in command else 128)


def test_visual_match_colour_is_remembered_above_chance(tmp_path):
    """LSTM-CNN, shared encoder + freeze_critic, the real trainer, a 1-step distractor phase.

    One env instance keeps one colour arrangement (as the original's), so all training episodes
    share it; on that arrangement a policy without memory of the first room's colour succeeds
    1/3 of the time. After 400 episodes (~2 minutes on one core) the greedy policy must succeed
    on over half of 300 fresh episodes. Runs differ between CPUs (float32 sums in another
    order): on an Intel Sapphire Rapids seed 0 reached 1.00 and, of seeds 1-7, six reached
    0.61-0.70 and one (seed 5) stayed at chance even after 600 episodes; on an AMD EPYC (Zen 4)
    seeds 0 and 1 stayed at chance (0.32) and seed 2 reached 0.64. So the next seed runs while
    the last is still at chance, up to three: all three failing means the agent does not learn
    to remember. One torch thread keeps each run deterministic on a given CPU. Matching colours by appearance on new
    arrangements takes far longer (README, "Visual Match").
    """
    successes = []
    for seed in (0, 1, 2):
        run = parse_train_args(seed_command(
            "visual_match", "sacd_default", "lstm_cnn",
            "--config_env.env_name 1 --config_env.eval_interval 100 "
            "--config_env.eval_episodes 10 --shared_encoder --freeze_critic "
            "--train_episodes 400 --batch_size 16 --config_rl.critic_lr 1e-3 "
            f"--config_rl.actor_lr 1e-3 --seed {seed} --save_dir {tmp_path / str(seed)}"))
        trainer, rows = train_with_small_heads(run)
        assert [row["episodes"] for row in rows] == [100, 200, 300, 400]
        assert all(np.isfinite(row[name]) for row in rows for name in SACD.metric_names)
        assert rows[-1]["entropy"] < np.log(4) - 0.05

        env = eval_env(run, 300, seed=7, training_arrangement=True)  # as memrl eval builds it
        np.testing.assert_array_equal(env.slot_colours[0], trainer.env.slot_colours[0])
        with torch.no_grad():
            successes.append(rollout(env, trainer.agent, explore=False).success.mean())
        if successes[-1] > 0.5:
            assert rows[-1]["q_mean"] > rows[0]["q_mean"] > 0
            break
    assert max(successes) > 0.5, f"greedy success {successes} on the training arrangement"


@pytest.mark.parametrize("seq", list(SEQ_MODELS))
def test_every_sequence_model_trains_on_pixels(seq):
    """configs/seq_models/<name>_cnn.py of every registered model builds a SAC-D agent over the
    CNN embedder; its update is finite and moves the shared encoder."""
    agent = make_agent(seq, "shared_frozen")
    before = [p.detach().clone() for p in agent.net.encoder.seq_model.parameters()]
    metrics = agent.update(pixel_batch())
    assert all(torch.isfinite(v).all() for v in metrics.values())
    after = list(agent.net.encoder.seq_model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after))
