"""--precision bf16 and --compile change how an update runs, and only a little what it computes."""

import copy

import numpy as np
import pytest
import torch
from conftest import pixel_spec, seed_command, vector_spec

from memrl.agents import TrainSpec, build_agent, set_switches
from memrl.cli import parse_train_args
from memrl.replay import EpisodeReplay


def agent_and_batch(seq, rl="dqn_default", env=None, options=None, L=4, extra="",
                    device=torch.device("cpu")):
    seq_cfg = f"{seq}_default" if rl == "dqn_default" else f"{seq}_cnn"
    extra += " --shared_encoder --freeze_critic" if rl != "dqn_default" else ""
    run = parse_train_args(seed_command(rl=rl, seq=seq_cfg, extra=extra))
    env = env or vector_spec(L + 1)
    set_switches(run.config_rl, **(options or {}))
    torch.manual_seed(0)
    agent = build_agent(run.config_rl, run.config_seq, env, TrainSpec(100, -1),
                        device, 0)
    rng = np.random.default_rng(0)
    T, n = env.max_episode_steps, 6
    dtype = env.observation_space.dtype
    replay = EpisodeReplay(T, env.observation_space, env.action_space, max_transitions=1,
                           min_episodes=n, seed=0)
    obs = rng.integers(0, 255, (T + 1, n, *env.observation_space.shape)).astype(dtype)
    replay.add(obs, rng.integers(0, 4, (T, n)), rng.normal(size=(T, n)),
               (np.arange(T) == T - 1)[:, None].repeat(n, 1).astype(np.float32))
    return agent, replay.sample(4)


@pytest.mark.parametrize("seq", ["lstm", "gpt"])
def test_bf16_update_is_close_to_fp32(seq, device):
    no_dropout = "--config_seq.model.seq_model_config.pdrop 0" if seq == "gpt" else ""
    agent, batch = agent_and_batch(seq, extra=no_dropout, device=device)
    bf16 = copy.deepcopy(agent)
    bf16.set_execution(precision="bf16")
    fp32_loss = agent.update(batch)["critic_loss"]
    bf16_loss = bf16.update(batch)["critic_loss"]
    assert bf16_loss.dtype == torch.float32 and torch.isfinite(bf16_loss)
    torch.testing.assert_close(bf16_loss, fp32_loss, rtol=0.1, atol=1e-3)


@pytest.mark.parametrize("seq", ["lstm", "gpt"])
def test_bf16_keeps_fp32_weights_gradients_and_optimizer_state(seq, device):
    """bf16 runs the sequence model too (on CUDA the LSTM recurrence stays fp32: cuDNN's
    autocast LSTM is fp16), but what an update keeps is fp32: parameters (master weights), their
    gradients and Adam's moments."""
    agent, batch = agent_and_batch(seq, device=device)
    agent.set_execution(precision="bf16")
    seq_model = agent.q_net.encoder.seq_model
    inputs = torch.randn(3, 2, seq_model.input_size, device=device, dtype=torch.bfloat16)
    fp32_recurrence = seq == "lstm" and device.type == "cuda"
    with agent.autocast():
        assert seq_model(inputs)[0].dtype == (torch.float32 if fp32_recurrence else torch.bfloat16)
    assert agent.update(batch)["critic_loss"].dtype == torch.float32
    for param in agent.q_net.parameters():
        assert param.dtype == param.grad.dtype == torch.float32
    for state in agent.optimizer.state.values():
        assert state["exp_avg"].dtype == state["exp_avg_sq"].dtype == torch.float32


def test_bf16_sacd_pixels_runs(device):
    env = pixel_spec(6)
    agent, batch = agent_and_batch("lstm", rl="sacd_default", env=env,
                                   options={"shared_encoder": True, "freeze_critic": True},
                                   device=device)
    agent.set_execution(precision="bf16")
    metrics = agent.update(batch)
    assert all(torch.isfinite(v) for v in metrics.values())


def test_compile_keeps_parameter_names_and_results():
    agent, batch = agent_and_batch("lstm", L=2)
    compiled = copy.deepcopy(agent)
    compiled.set_execution(compile=True)
    assert list(compiled.state_dict()) == list(agent.state_dict())  # checkpoints still load
    torch.testing.assert_close(compiled.update(batch)["critic_loss"],
                               agent.update(batch)["critic_loss"], rtol=1e-4, atol=1e-6)
