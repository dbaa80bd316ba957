"""The paper's Section 5.3 end to end: the continuous-control code's README commands run
verbatim with its settings, the env-step training loop, Pendulum with its velocity hidden
through the gymnasium task, and the early ends and time limits of PyBullet episodes."""

from __future__ import annotations

import csv
import math

import pytest

from memrl.cli import main, parse_train_args
from memrl.envs.pomdp import require_pybullet
from memrl.trainer import Trainer

# The continuous-control code's README, verbatim.
BRANCH_COMMANDS = [
    "--config_env configs/envs/pomdps/pybullet_p.py --config_env.env_name cheetah "
    "--config_rl configs/rl/td3_default.py --config_seq configs/seq_models/lstm_default.py "
    "--config_seq.sampled_seq_len 64 --train_episodes 1500 --shared_encoder --freeze_all",
    "--config_env configs/envs/pomdps/pybullet_v.py --config_env.env_name cheetah "
    "--config_rl configs/rl/td3_default.py --config_seq configs/seq_models/gpt_default.py "
    "--config_seq.sampled_seq_len 64 --train_episodes 1500 --shared_encoder --freeze_all",
]


def read_rows(run_dir):
    with open(run_dir / "progress.csv", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("command", BRANCH_COMMANDS)
def test_the_branch_readme_commands_take_its_settings(command, tmp_path):
    require_pybullet()
    run = parse_train_args(command.split() + ["--save_dir", str(tmp_path)])
    assert (run.batch_size, run.updates_per_step, run.start_training) == (256, 1.0, 10)
    assert run.train_episodes == 1500 and run.seed == 42
    assert run.config_rl.shared_encoder and run.config_rl.freeze_all
    assert run.config_seq.sampled_seq_len == 64
    trainer = Trainer(run)
    assert trainer.parts.T == 1000 and trainer.schedule.budget == 1_500_000
    assert trainer.run_dir.parent == tmp_path / run.env_type / "cheetah"
    assert str(trainer.run_dir.relative_to(tmp_path)).startswith(
        "pomdp/bullet_p/cheetah" if "pybullet_p" in command else "pomdp/bullet_v/cheetah")
    assert trainer.env.observation_space.shape == ((17,) if "pybullet_p" in command else (9,))
    assert trainer.env.action_space.shape == (6,)
    if "gpt" in command:  # trained on 64 transitions + the zero-prepended step
        assert trainer.agent.net.encoder.seq_model.max_seq_len == 65


def test_env_step_loop_on_hopper(tmp_path):
    """The continuous-control code's loop: random episodes until start_training x T env steps,
    then ceil(updates_per_step x length) updates after every episode, evaluation whenever the
    env-step count passes a multiple of eval_interval x T, stopping at train_episodes x T."""
    require_pybullet()
    argv = BRANCH_COMMANDS[0].replace("pybullet_p", "pybullet_v").replace("cheetah", "hopper")
    argv = argv.replace("--train_episodes 1500", "--train_episodes 2").split()
    run = parse_train_args(argv + [
        "--start_training", "1", "--batch_size", "4", "--updates_per_step", "0.02",
        "--config_env.eval_interval", "1", "--config_env.eval_episodes", "2",
        "--config_rl.config_actor.hidden_dims", "(16,)",
        "--config_rl.config_critic.hidden_dims", "(16,)", "--threads", "1",
        "--save_dir", str(tmp_path)])
    trainer = Trainer(run)
    episodes = []
    trainer.add_callback(lambda _, collected, explore: episodes.append((explore, collected)),
                         event="collect")
    trainer.train()
    T = 1000
    assert trainer.env_steps >= 2 * T and trainer.env_steps - episodes[-1][1].num_steps < 2 * T
    steps = 0
    expected_updates = 0
    for explore, collected in episodes:
        assert (explore is None) == (steps < T)  # random until 1000 env steps were taken
        steps += collected.num_steps
        if steps >= T:
            expected_updates += math.ceil(0.02 * collected.num_steps)
    assert trainer.updates == expected_updates
    rows = read_rows(trainer.run_dir)
    assert [int(r["env_steps"]) // T for r in rows] == [1, 2]
    for row in rows:  # Hopper falls: episodes end early, and success is not a thing here
        assert 1 <= float(row["length"]) <= T and row["success"] == "nan"
        assert row["exploration_noise"] == "0.1" and "return-0.999" in row


def test_pendulum_with_velocity_hidden_runs_with_td3(tmp_path, capsys):
    code = main(["train", "--config_env", "configs/envs/gym.py",
                 "--config_env.env_id", "Pendulum-v1", "--config_env.obs_indices", "(0, 1)",
                 "--config_env.max_episode_steps", "40", "--config_env.eval_interval", "1",
                 "--config_env.eval_episodes", "2",
                 "--config_rl", "configs/rl/td3_default.py",
                 "--config_seq", "configs/seq_models/lstm_default.py",
                 "--config_seq.sampled_seq_len", "8", "--batch_size", "8",
                 "--train_episodes", "3", "--start_training", "1", "--threads", "1",
                 "--save_dir", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    (run_dir,) = (tmp_path / "gym" / "Pendulum-v1").iterdir()
    rows = read_rows(run_dir)
    assert len(rows) == 3 and all(float(r["length"]) == 40 for r in rows)
    assert all(float(r["return"]) < 0 and math.isfinite(float(r["critic_loss"]))
               for r in rows[1:])
