"""Agents start as the original codes start them, and act in the mode those codes act in.

The main code (DQN, SAC-D): head MLPs by rlkit's fanin_init (hidden weights within
+-1/sqrt(out_features), hidden biases 0.1, the last layer within +-3e-3 for Q heads and +-1e-3
for the policy), embedders at PyTorch's defaults, the LSTM orthogonal on each stacked matrix.
The continuous-control code (TD3, SAC): every dense layer orthogonal with zero bias, the LSTM
orthogonal per gate. Both: GPT weights N(0, 0.02), c_proj included, and gelu_new.
Both collect training episodes in train mode (GPT's dropout on) and evaluate in eval mode.
"""

import numpy as np
import pytest
import torch
from conftest import box_spec, pixel_spec, seed_command, vector_spec
from torch import nn

from memrl.agents import TrainSpec, build_agent, set_switches
from memrl.cli import parse_train_args
from memrl.nets.dropout import Dropout
from memrl.nets.seq.gpt import GPT
from memrl.replay import no_action
from memrl.trainer import Trainer

SPECS = {"dqn": vector_spec(6), "sacd": pixel_spec(6), "td3": box_spec(6), "sac": box_spec(6)}
SEQ_SUFFIX = {"dqn": "default", "sacd": "cnn", "td3": "default", "sac": "default"}
ENV = {"dqn": "tmaze_passive", "sacd": "visual_match", "td3": "sign_match",
       "sac": "sign_match"}


def make_agent(algo: str, seq: str = "lstm", scheme: str | None = None, **switches):
    run = parse_train_args(seed_command(ENV[algo], f"{algo}_default",
                                        f"{seq}_{SEQ_SUFFIX[algo]}"))
    if scheme is not None:
        run.config_rl.init_scheme = scheme
    set_switches(run.config_rl, **switches)
    torch.manual_seed(0)
    return build_agent(run.config_rl, run.config_seq, SPECS[algo], TrainSpec(100, -1),
                       torch.device("cpu"), seed=0)


def linears(module: nn.Module) -> list[nn.Linear]:
    return [m for m in module.modules() if isinstance(m, nn.Linear)]


def heads(agent) -> dict[str, tuple[nn.Module, float]]:
    """Each head MLP of an agent and the bound of its last layer under the main code."""
    if hasattr(agent, "q_net"):
        return {"q": (agent.q_net.head, 3e-3)}
    return {"actor": (agent.net.actor, 1e-3), "q1": (agent.net.critic.q1, 3e-3),
            "q2": (agent.net.critic.q2, 3e-3)}


def encoders(agent) -> list[nn.Module]:
    if hasattr(agent, "q_net"):
        return [agent.q_net.encoder]
    return [m for m in (agent.net.encoder, agent.net.critic_encoder) if m is not None]


def is_orthogonal(w: torch.Tensor) -> bool:
    """Rows or columns orthonormal, whichever there are fewer of."""
    w = w.detach().double()
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    return torch.allclose(gram, torch.eye(len(gram), dtype=gram.dtype), atol=1e-5)


def lstm_weights(agent) -> list[torch.Tensor]:
    return [p for enc in encoders(agent) for name, p in enc.seq_model.named_parameters()
            if "weight" in name]


def lstm_biases(agent) -> list[torch.Tensor]:
    return [p for enc in encoders(agent) for name, p in enc.seq_model.named_parameters()
            if "bias" in name]


@pytest.mark.parametrize("algo,switches", [("dqn", {}), ("sacd", {}),
                                           ("sacd", {"shared_encoder": True})])
def test_main_code_heads_start_by_fanin_init(algo, switches):
    agent = make_agent(algo, **switches)
    for name, (head, last_bound) in heads(agent).items():
        *hidden, last = linears(head)
        for layer in hidden:
            bound = 1.0 / np.sqrt(layer.weight.shape[0])  # out_features: rlkit's quirk
            assert layer.weight.abs().max() <= bound, name
            assert layer.weight.abs().max() > 0.9 * bound, name  # uniform over the whole range
            assert torch.all(layer.bias == 0.1), name
        assert last.weight.abs().max() > 0.9 * last_bound, name  # 256 x A draws
        assert last.weight.abs().max() <= last_bound, name
        assert last.bias.abs().max() <= last_bound and last.bias.abs().min() > 0, name


@pytest.mark.parametrize("algo", ["dqn", "sacd"])
def test_main_code_lstm_is_orthogonal_on_the_stacked_matrix(algo):
    agent = make_agent(algo)
    weights = lstm_weights(agent)
    assert weights and all(is_orthogonal(w) for w in weights)
    assert all(torch.all(b == 0) for b in lstm_biases(agent))
    # ... so one gate's block alone is not orthogonal: its singular values are ~0.5
    gate = weights[1][: weights[1].shape[1]]  # weight_hh's input gate (H x H)
    assert torch.linalg.svdvals(gate.detach()).mean() < 0.75


def test_main_code_embedders_keep_pytorchs_default():
    encoder = make_agent("dqn").q_net.encoder
    layer = encoder.obs_embedder[0]
    bound = 1.0 / np.sqrt(layer.in_features)  # nn.Linear's default: +-1/sqrt(fan_in)
    assert layer.weight.abs().max() <= bound and layer.bias.abs().max() <= bound
    assert not is_orthogonal(layer.weight) and layer.bias.abs().max() > 0


@pytest.mark.parametrize("algo", ["td3", "sac"])
@pytest.mark.parametrize("shared", [False, True])
def test_continuous_control_code_dense_layers_are_orthogonal(algo, shared):
    agent = make_agent(algo, shared_encoder=shared)
    dense = [layer for head, _ in heads(agent).values() for layer in linears(head)]
    for encoder in encoders(agent):
        dense += linears(encoder.obs_embedder) + linears(encoder.action_embedder)
    assert len(dense) >= 11
    for layer in dense:
        assert is_orthogonal(layer.weight) and torch.all(layer.bias == 0)


@pytest.mark.parametrize("algo", ["td3", "sac"])
def test_continuous_control_code_lstm_is_orthogonal_per_gate(algo):
    agent = make_agent(algo)
    for w in lstm_weights(agent):
        blocks = w.chunk(4, dim=0)
        assert all(is_orthogonal(block) for block in blocks)
        assert not is_orthogonal(w)  # the stack of four orthogonal blocks is not
    assert all(torch.all(b == 0) for b in lstm_biases(agent))


def test_torch_scheme_is_pytorchs_default():
    agent = make_agent("td3", scheme="torch")
    bound = 1.0 / np.sqrt(agent.net.encoder.seq_model.hidden_size)  # nn.LSTM's default
    assert all(w.abs().max() <= bound and not is_orthogonal(w) for w in lstm_weights(agent))
    for head, _ in heads(agent).values():
        for layer in linears(head):
            assert layer.bias.abs().max() > 0 and not is_orthogonal(layer.weight)


def test_unknown_scheme_is_one_clear_error():
    with pytest.raises(ValueError, match="init_scheme 'xavier'.*fanin, orthogonal, torch"):
        make_agent("dqn", scheme="xavier")


@pytest.mark.parametrize("algo", ["dqn", "td3"])
def test_gpt_starts_as_gpt2_in_both_codes(algo):
    torch.manual_seed(0)
    gpt = GPT(input_size=128, max_seq_len=64, n_layer=2, n_head=2)
    c_proj = torch.cat([p.detach().flatten() for name, p in gpt.named_parameters()
                        if name.endswith("c_proj.weight")])
    assert abs(c_proj.std().item() - 0.02) < 0.001  # no 1/sqrt(2 n_layer) scaling
    for name, p in gpt.named_parameters():
        if name.endswith("bias"):
            assert torch.all(p == 0), name
        elif p.dim() == 2:
            assert abs(p.std().item() - 0.02) < 0.002, name
    gelu = gpt.blocks[0].mlp.gelu
    assert gelu.approximate == "tanh"  # gelu_new
    x = torch.linspace(-3, 3, 7)
    gelu_new = 0.5 * x * (1 + torch.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    assert torch.allclose(gelu(x), gelu_new, atol=1e-6)
    # the agents keep GPT's own init whatever their scheme
    agent = make_agent(algo, seq="gpt")
    seq_model = encoders(agent)[0].seq_model
    assert abs(seq_model.blocks[0].attn.c_attn.weight.std().item() - 0.02) < 0.002


# -- acting mode -------------------------------------------------------------------------------


def dropout_modes(model: nn.Module) -> list[tuple[bool, int]]:
    """Record (training, time steps of the input) at every Dropout call inside `model`."""
    calls: list[tuple[bool, int]] = []
    for m in model.modules():
        if isinstance(m, Dropout):
            m.register_forward_hook(lambda mod, args, out: calls.append(
                (mod.training, args[0].shape[1])))
    return calls


@pytest.mark.parametrize("algo", ["dqn", "sacd", "td3"])
def test_exploring_acts_in_train_mode_and_greedy_in_eval_mode(algo):
    agent = make_agent(algo, seq="gpt")
    calls = dropout_modes(encoders(agent)[0].seq_model)
    spec, n = SPECS[algo], 3
    obs = np.zeros((n, *spec.observation_space.shape), spec.observation_space.dtype)
    prev = np.stack([no_action(spec.action_space)] * n)
    state = agent.initial_state(n)
    for explore in (True, False):
        calls.clear()
        _, s = agent.act(obs, prev, np.zeros(n, np.float32), state, explore=explore)
        _, s = agent.act(obs, prev, np.zeros(n, np.float32), s, explore=explore)
        assert calls and all(training == explore for training, _ in calls)
        # with the key/value cache a step draws masks for its own step only
        assert all(steps == 1 for _, steps in calls)


def test_collect_in_train_mode_false_acts_without_dropout():
    agent = make_agent("dqn", seq="gpt")
    agent.collect_in_train_mode = False
    calls = dropout_modes(agent.q_net.encoder.seq_model)
    agent.act(np.zeros((2, 2), np.float32), np.full(2, -1), np.zeros(2, np.float32),
              agent.initial_state(2), explore=True)
    assert calls and not any(training for training, _ in calls)


def test_trainer_collects_in_train_mode_and_evaluates_in_eval_mode(tmp_path):
    run = parse_train_args(seed_command(
        seq="gpt_default", extra="--config_env.env_name 3 --train_episodes 2 "
        "--start_training 1 --batch_size 2 --config_env.eval_episodes 1"))
    trainer = Trainer(run, run_dir=tmp_path / "run")
    try:
        calls = dropout_modes(trainer.agent.q_net.encoder.seq_model)
        trainer.collect(explore=True)
        assert calls and all(training for training, _ in calls)
        calls.clear()
        trainer.evaluate()
        assert calls and not any(training for training, _ in calls)
        calls.clear()
        trainer.update(1)  # updates in train mode again, after an evaluation
        assert calls and all(training for training, _ in calls)
    finally:
        trainer.close()


@pytest.mark.parametrize("scheme", ["orthogonal", "fanin", "torch"])
def test_vector_part_beside_an_image_follows_the_obs_embedders_rule(scheme):
    """A Dict of an image and a vector (MiniGrid's image and direction): the vector part's
    Linear starts as the observation embedder's dense layers do under the scheme."""
    import gymnasium as gym

    from memrl.nets.history import HistoryEncoder

    run = parse_train_args(seed_command("visual_match", "sacd_default", "lstm_cnn"))
    image_shape = (3, 5, 5)
    torch.manual_seed(0)
    encoder = HistoryEncoder(run.config_seq.model, 3 * 5 * 5 + 4, gym.spaces.Discrete(3),
                             max_seq_len=10, image_shape=image_shape)
    encoder.initialise(scheme)
    layer = encoder.vector_embedder[0]
    assert layer.in_features == 4
    if scheme == "orthogonal":
        assert is_orthogonal(layer.weight) and torch.all(layer.bias == 0)
    else:  # PyTorch's default, as the obs embedder's dense layers keep
        bound = 1.0 / np.sqrt(layer.in_features)
        assert layer.weight.abs().max() <= bound and layer.bias.abs().max() > 0
        assert not is_orthogonal(layer.weight)
