"""--precision bf16 and --compile change how an update runs, and only a little what it computes."""

import copy

import numpy as np
import pytest
import torch
from conftest import pixel_spec, seed_command, vector_spec

from memrl.agents import TrainSpec, build_agent, set_switches
from memrl.cli import parse_train_args
from memrl.replay import EpisodeReplay


def agent_and_batch(seq, rl="dqn_default", env=None, options=None, L=4, extra=""):
    seq_cfg = f"{seq}_default" if rl == "dqn_default" else f"{seq}_cnn"
    extra += " --shared_encoder --freeze_critic" if rl != "dqn_default" else ""
    run = parse_train_args(seed_command(rl=rl, seq=seq_cfg, extra=extra))
    env = env or vector_spec(L + 1)
    set_switches(run.config_rl, **(options or {}))
    torch.manual_seed(0)
    agent = build_agent(run.config_rl, run.config_seq, env, TrainSpec(100, -1),
                        torch.device("cpu"), 0)
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
def test_bf16_update_is_close_to_fp32(seq):
    no_dropout = "--config_seq.model.seq_model_config.pdrop 0" if seq == "gpt" else ""
    agent, batch = agent_and_batch(seq, extra=no_dropout)
    bf16 = copy.deepcopy(agent)
    bf16.set_execution(precision="bf16")
    fp32_loss = agent.update(batch)["critic_loss"]
    bf16_loss = bf16.update(batch)["critic_loss"]
    assert bf16_loss.dtype == torch.float32 and torch.isfinite(bf16_loss)
    torch.testing.assert_close(bf16_loss, fp32_loss, rtol=0.1, atol=1e-3)


def test_bf16_sacd_pixels_runs():
    env = pixel_spec(6)
    agent, batch = agent_and_batch("lstm", rl="sacd_default", env=env,
                                   options={"shared_encoder": True, "freeze_critic": True})
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
