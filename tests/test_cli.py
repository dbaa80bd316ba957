"""The command line: the seed's commands parse verbatim; bad input is one clear error line."""

import json
import subprocess
import sys

import pytest
from conftest import ROOT, seed_command

from memrl.cli import main, parse_train_args
from memrl.run_config import FLAG_NAMES, RunConfig

# The seed README's T-Maze commands, with --train_episodes lowered.
SEED_TMAZE_COMMANDS = [
    """--config_env configs/envs/tmaze_passive.py --config_env.env_name 50
       --config_rl configs/rl/dqn_default.py --train_episodes 20000
       --config_seq configs/seq_models/lstm_default.py --config_seq.sampled_seq_len -1""",
    """--config_env configs/envs/tmaze_passive.py --config_env.env_name 1500
       --config_rl configs/rl/dqn_default.py --train_episodes 6700
       --config_seq configs/seq_models/gpt_default.py --config_seq.sampled_seq_len -1""",
    """--config_env configs/envs/tmaze_active.py --config_env.env_name 20
       --config_rl configs/rl/dqn_default.py --train_episodes 40000
       --config_seq configs/seq_models/gpt_default.py --config_seq.sampled_seq_len -1
       --config_seq.model.seq_model_config.n_layer 2
       --config_seq.model.seq_model_config.n_head 2""",
]


@pytest.mark.parametrize("command", SEED_TMAZE_COMMANDS)
def test_seed_commands_parse(command):
    run = parse_train_args(command.split())
    assert run.config_env.env_name in (50, 1500, 20)
    assert run.config_seq.sampled_seq_len == -1
    assert run.train_episodes in (20000, 6700, 40000)
    assert run.batch_size == 64 and run.updates_per_step == 0.25 and run.start_training == 10
    if "n_layer" in command:
        assert run.config_seq.model.seq_model_config.n_layer == 2
        assert run.config_seq.model.seq_model_config.n_head == 2


def test_main_py_runs_seed_command(tmp_path):
    command = SEED_TMAZE_COMMANDS[2].split()
    command[command.index("20")] = "3"  # a short Active T-Maze
    command[command.index("40000")] = "10"
    proc = subprocess.run(
        [sys.executable, "main.py", *command, "--save_dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = (tmp_path / "tmaze_active" / "3").iterdir()
    assert "+" in run_dir.name
    config = json.loads((run_dir / "config.json").read_text())
    assert config["config_seq"]["model"]["seq_model_config"]["n_layer"] == 2
    assert config["flags"]["train_episodes"] == 10
    assert config["max_episode_steps"] == 6
    lines = (run_dir / "progress.csv").read_text().splitlines()
    header = lines[0].split(",")
    for column in ("env_steps", "return", "success", "length", "fps", "critic_loss",
                   "grad_norm"):
        assert column in header
    assert len(lines) == 1 + 2  # evaluations at 10 and 20 episodes
    assert "[eval]" in proc.stdout


def test_debug_writes_to_debug_and_echoes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = seed_command(extra="--config_env.env_name 2 --train_episodes 0 --debug")
    args = [a if not a.startswith("configs/") else str(ROOT / a) for a in args]
    assert main(["train", *args]) == 0
    assert list((tmp_path / "debug" / "tmaze_passive" / "2").iterdir())
    assert not (tmp_path / "logs").exists()


@pytest.mark.parametrize(
    "extra,message",
    [
        ("--config_env.env_nam 5", "did you mean --config_env.env_name"),
        ("--config_env.env_name 0", "positive integer"),
        ("--config_env.env_name -5", "positive integer"),
        ("--config_seq.model.seq_model_config.name rnn", "unknown sequence model 'rnn'"),
        ("--config_seq.sampled_seq_len 0", "sampled_seq_len"),
        ("--batch_size 0", "--batch_size"),
        ("--num_envs 0", "--num_envs"),
        ("--no_such_flag 1", "no_such_flag"),
        ("--config_env.env_name abc", "env_name"),
        ("--shared_encoder", "--shared_encoder is not an option of dqn"),
        ("--freeze_all", "--freeze_all is not an option of dqn"),
        ("--train_env_steps 100", "tmaze_passive counts episodes: give --train_episodes"),
        ("--train_env_steps 100 --train_episodes 3", "give one"),
    ],
)
def test_bad_input_is_one_error_line_and_writes_nothing(tmp_path, capsys, extra, message):
    code = main(["train", *seed_command(extra=f"{extra} --save_dir {tmp_path}")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("memrl: error:") and message in err and "\n" not in err
    assert not list(tmp_path.iterdir())


def test_missing_config_file(tmp_path, capsys):
    args = seed_command() + ["--save_dir", str(tmp_path)]
    args[1] = "configs/envs/no_such_task.py"
    assert main(["train", *args]) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and "no_such_task.py" in err
    assert not list(tmp_path.iterdir())


def test_missing_config_flag(capsys):
    assert main(["train", "--config_env", "configs/envs/tmaze_passive.py"]) == 2
    assert "--config_rl is required" in capsys.readouterr().err


def test_unknown_command(capsys):
    assert main(["frobnicate"]) == 2
    assert "unknown command" in capsys.readouterr().err


def test_help_lists_every_flag_with_its_default(capsys):
    assert main(["train", "--help"]) == 0
    text = capsys.readouterr().out
    for name in (*FLAG_NAMES, "config_env", "config_rl", "config_seq", "shared_encoder",
                 "freeze_critic", "freeze_all", "run_dir", "resume"):
        assert f"--{name} " in text or f"--{name}\n" in text, name
    assert "--seed N                  Run seed; negative = drawn from the pid. [42]" in text
    words = " ".join(text.split())
    assert "update. [64 (256 for pomdp/bullet_p, pomdp/bullet_v, gym)]" in words  # a task's
    proc = subprocess.run([sys.executable, "main.py", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == text.strip()


def test_train_env_steps_is_the_budget_of_env_step_tasks():
    """CartPole-v1's episodes last at most T = 500 steps: 1200 env steps are 3 units of T."""
    run = parse_train_args(seed_command(env="gym", extra="--train_env_steps 1200"))
    assert (run.train_env_steps, run.train_episodes) == (1200, 3)
    assert run.to_dict()["flags"]["train_env_steps"] == 1200


def test_a_config_json_from_before_a_flag_existed_loads_and_stays_the_same():
    """New flags are written only when set: old runs' settings (and so the copies their
    checkpoints hold) still describe them."""
    run = parse_train_args(seed_command())
    data = run.to_dict()
    assert "train_env_steps" not in data["flags"]
    again = RunConfig.from_dict(json.loads(json.dumps(data)))
    assert again.train_env_steps is None and again.flags() == run.flags()


def test_freeze_all_with_freeze_critic_is_explained(capsys):
    run = parse_train_args(seed_command(env="sign_match", rl="td3_default",
                                        extra="--shared_encoder --freeze_all --freeze_critic"))
    assert run.config_rl.freeze_all and run.config_rl.freeze_critic
    err = capsys.readouterr().err.strip()
    assert err == ("memrl: note: --freeze_all implies --freeze_critic: the run is the one "
                   "--freeze_all alone gives")
