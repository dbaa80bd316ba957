"""Bad input, as a new user or an adversary types it: every case ends with exit status 2, one
stderr line that names the leaf, flag or file to change, and nothing written."""

import errno
import os
import runpy
from pathlib import Path

import pytest
from conftest import ROOT, seed_command
from ml_collections import ConfigDict

from memrl import sweep
from memrl.agents import ALGOS
from memrl.cli import main
from memrl.nets.seq import SEQ_MODELS
from memrl.tasks import TASKS
from memrl.validate import (
    COMMON_RULES,
    check_config,
    declared_rules,
    leaf_problem,
    leaves,
    parse_rule,
    rule_for,
    rules_of,
)


def run_cli(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.err.strip()


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>"
            for p in sorted(folder.rglob("*"))}


def assert_one_line(err: str, prefix: str, *names: str) -> None:
    assert err.startswith(prefix), err
    assert "\n" not in err, err
    for name in names:
        assert name in err, err


# --- train: flags and config values --------------------------------------------------------

TRAIN_CASES = [
    # (sequence model config, extra arguments, what the line must name)
    ("lstm_default", "--config_rl.discount 2", "config_rl.discount"),
    ("lstm_default", "--config_rl.discount 0", "config_rl.discount"),
    ("lstm_default", "--config_rl.init_eps nan", "config_rl.init_eps"),
    ("lstm_default", "--config_rl.tau 1.5", "config_rl.tau"),
    ("lstm_default", "--config_rl.tau 0", ("config_rl.tau must be a number in (0, 1], got 0.0 "
                                          "(0 would leave the target networks at their first "
                                          "weights")),
    ("lstm_default", "--config_rl.critic_lr 0", "config_rl.critic_lr"),
    ("lstm_default", "--config_rl.critic_lr inf", "config_rl.critic_lr"),
    ("lstm_default", "--config_rl.replay_buffer_num_episodes 0",
     "config_rl.replay_buffer_num_episodes"),
    ("lstm_default", "--config_rl.config_critic.hidden_dims (256,0)",
     "config_rl.config_critic.hidden_dims"),
    ("lstm_default", "--config_rl.discount abc", "config_rl.discount"),
    ("lstm_default", "--config_env.eval_episodes 0", "config_env.eval_episodes"),
    ("lstm_default", "--config_env.eval_episodes 1.5", "config_env.eval_episodes"),
    ("lstm_default", "--config_env.eval_interval -1", "config_env.eval_interval"),
    ("lstm_default", "--config_env.distract_reward nan", "config_env.distract_reward"),
    ("lstm_default", "--config_env.env_name 1000000000000", "config_env.env_name"),
    ("lstm_default", "--config_seq.max_norm -1", "config_seq.max_norm"),
    ("lstm_default", "--config_seq.model.observ_embedder.hidden_size 0",
     "config_seq.model.observ_embedder.hidden_size"),
    ("lstm_default", "--config_seq.model.action_embedder.hidden_size -1",
     "config_seq.model.action_embedder.hidden_size"),
    ("lstm_default", "--config_seq.model.seq_model_config.hidden_size 0",
     "config_seq.model.seq_model_config.hidden_size"),
    ("gpt_default", "--config_seq.model.seq_model_config.pdrop 1.5",
     "config_seq.model.seq_model_config.pdrop"),
    ("gpt_default", "--config_seq.model.seq_model_config.n_head 0",
     "config_seq.model.seq_model_config.n_head"),
    ("gpt_default", "--config_seq.model.seq_model_config.n_head 3", "n_head"),
    ("lstm_default", "--updates_per_step inf", "--updates_per_step"),
    ("lstm_default", "--updates_per_step nan", "--updates_per_step"),
    ("lstm_default", "--checkpoint_interval nan", "--checkpoint_interval"),
    ("lstm_default", "--seed 100000000000000000000", "--seed"),
    ("lstm_default", "--device gpu", "--device"),
    ("lstm_default", "--run_dir {tmp}/a_file", "a_file"),
    ("lstm_default", "--save_dir {tmp}/a_file/below", "a_file"),
]


@pytest.mark.parametrize("seq, extra, name", TRAIN_CASES,
                         ids=[extra.split()[0] + " " + extra.split()[-1]
                              for _, extra, _ in TRAIN_CASES])
def test_bad_train_input(tmp_path, capsys, seq, extra, name):
    (tmp_path / "a_file").write_text("not a folder")
    before = files_under(tmp_path)
    extra = extra.format(tmp=tmp_path)
    if "--save_dir" not in extra:
        extra += f" --save_dir {tmp_path}"
    code, err = run_cli(["train", *seed_command(seq=seq, extra=extra)], capsys)
    assert code == 2
    assert_one_line(err, "memrl: error:", name)
    assert files_under(tmp_path) == before


def test_a_read_only_save_dir_is_one_line(tmp_path, capsys, monkeypatch):
    """Root ignores permission bits, so the refusal of a read-only folder is simulated."""
    mkdir = Path.mkdir

    def read_only(path, *args, **kwargs):
        if tmp_path / "ro" in (path, *path.parents):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return mkdir(path, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only)
    code, err = run_cli(["train", *seed_command(extra=f"--save_dir {tmp_path / 'ro'}")], capsys)
    assert code == 2
    assert_one_line(err, "memrl: error: cannot make the run folder", "Permission denied")
    assert not list(tmp_path.iterdir())


# --- config files that cannot be loaded ----------------------------------------------------

CONFIG_FILES = [
    ("raises.py", "def get_config():\n    raise RuntimeError('boom')\n", "RuntimeError: boom"),
    ("syntax.py", "def get_config(:\n    pass\n", "SyntaxError"),
    ("imports.py", "import no_such_package\n", "ModuleNotFoundError"),
    ("returns_dict.py", "def get_config():\n    return {'env_type': 'x'}\n", "returned a dict"),
    ("no_function.py", "X = 1\n", "no get_config()"),
    ("config.json", '{"env_type": "tmaze_passive", "env_name": 5}\n', "not a Python file"),
]


@pytest.mark.parametrize("name, text, message", CONFIG_FILES, ids=[c[0] for c in CONFIG_FILES])
def test_config_file_errors_are_one_line_with_the_file(tmp_path, capsys, name, text, message):
    path = tmp_path / "configs" / name
    path.parent.mkdir()
    path.write_text(text)
    args = seed_command(extra=f"--save_dir {tmp_path / 'logs'}")
    args[args.index("--config_env") + 1] = str(path)
    code, err = run_cli(["train", *args], capsys)
    assert code == 2
    assert_one_line(err, "memrl: error: --config_env", str(path), message)
    assert not (tmp_path / "logs").exists()


# --- every leaf of every shipped config file has a rule, and its default passes it ---------

# configs/<folder> -> the config a file there is, and where its leaves sit in it
CONFIG_FOLDERS = {"envs": ("config_env", ""), "rl": ("config_rl", ""),
                  "seq_models": ("config_seq", ""),
                  "vis_models": ("config_seq", "model.observ_embedder.")}


def shipped_configs():
    for path in sorted((ROOT / "configs").rglob("*.py")):
        module = runpy.run_path(str(path))
        if "get_config" in module:
            yield path.relative_to(ROOT), module["get_config"]()


@pytest.mark.parametrize("path, config", list(shipped_configs()),
                         ids=lambda value: str(value) if isinstance(value, Path) else "")
def test_every_shipped_leaf_has_a_rule_its_default_passes(path, config):
    name, prefix = CONFIG_FOLDERS[path.parts[1]]
    rules = rules_of(name, config)
    for leaf, value in leaves(config):
        rule = rule_for(prefix + leaf, rules)
        assert rule is not None, (
            f"{path}: leaf {leaf} has no rule; its owner declares it: the task record's "
            "leaf_rules (memrl/tasks.py), the algorithm's or the sequence model's leaf_rules "
            "(memrl/agents/, memrl/nets/seq/), or COMMON_RULES (memrl/validate.py)")
        assert rule.problem(value) is None, f"{path}: default {leaf} = {value!r} breaks its rule"


def every_rule() -> list[str]:
    owners = [*ALGOS.values(), *(entry.cls for entry in SEQ_MODELS.values())]
    return [*(text for rules in COMMON_RULES.values() for text in rules.values()),
            *(text for task in TASKS.values() for text in task.leaf_rules.values()),
            *(text for owner in owners for text in declared_rules(owner).values())]


def test_rules_parse_and_read():
    assert all(parse_rule(text) for text in every_rule())
    rule = parse_rule("int -1 or >= 1")
    assert [rule.problem(v) is None for v in (-1, 0, 1, 7, 1.0, True)] == \
        [True, False, True, True, False, False]
    discount = parse_rule("(0, 1]")
    assert [discount.problem(v) is None for v in (0, 0.5, 1, 1.01, float("nan"))] == \
        [False, True, True, False, False]
    assert discount.problem(2.0) == "must be a number in (0, 1], got 2.0"
    assert parse_rule("> 0; why").problem(0) == "must be a number > 0, got 0 (why)"
    seq = rules_of("config_seq", ConfigDict({"model": {"seq_model_config": {"name": "gpt"}}}))
    assert rule_for("model.action_embedder.hidden_size", seq).text == "int >= 0"
    assert rule_for("model.observ_embedder.hidden_size", seq).text == "int >= 1"
    assert rule_for("model.seq_model_config.n_head", seq).text == "int >= 1"
    assert rule_for("model.seq_model_config.d_state", seq) is None  # Mamba's and LRU's, not GPT's
    sac = rules_of("config_rl", ConfigDict({"algo": "sac"}))
    assert rule_for("alpha_lr", sac).text == "> 0"
    assert rule_for("target_entropy", sac).problem(None) is None
    assert rule_for("freeze_all", sac).text == "bool"
    assert rule_for("some_new_leaf", sac) is None
    assert leaf_problem("some_new_leaf", float("inf"), sac) == "must be finite, got inf"


@pytest.mark.parametrize("model, low, high", [("lru", "r_min", "r_max"),
                                             ("ffm", "min_period", "max_period")])
def test_leaves_bounded_by_a_leaf_beside_them(model, low, high):
    config = ConfigDict({"model": {"seq_model_config": {"name": model, low: 0.99, high: 0.9}}})
    with pytest.raises(ValueError, match=rf"config_seq.model.seq_model_config.{low} \(0.99\) "
                                         rf"must be <= config_seq.model.seq_model_config.{high}"):
        check_config("config_seq", config)


# --- eval, plot, sweep ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("eval") / "run"
    args = seed_command(extra="--config_env.env_name 2 --train_episodes 0 --checkpoint_interval 0")
    assert main(["train", *args, "--run_dir", str(run_dir)]) == 0
    return run_dir


EVAL_CASES = [
    (["--episodes", "-3"], "--episodes"),
    (["--episodes", "0"], "--episodes"),
    (["--episodes", "many"], "--episodes"),
    (["--episodes", "100000000000"], "--episodes"),
    (["--seed", "-1"], "--seed"),
    (["--device", "gpu"], "--device"),
    (["--render", "{tmp}"], "is a folder"),
    (["--render", "{tmp}/a_file/ep.gif"], "a_file is a file"),
]


@pytest.mark.parametrize("extra, name", EVAL_CASES, ids=[" ".join(c[0]) for c in EVAL_CASES])
def test_bad_eval_input(finished_run, tmp_path, capsys, extra, name):
    (tmp_path / "a_file").write_text("")
    before = files_under(tmp_path), files_under(finished_run)
    code, err = run_cli(["eval", str(finished_run), *(a.format(tmp=tmp_path) for a in extra)],
                        capsys)
    assert code == 2
    assert_one_line(err, "memrl eval: error:", name)
    assert (files_under(tmp_path), files_under(finished_run)) == before


PLOT_CASES = [
    (["--reps", "0"], "--reps"),
    (["--seed", "-2"], "--seed"),
    (["--horizon", "-5"], "--horizon"),
    (["--horizon", "nan"], "--horizon"),
    (["--out", "{tmp}/a_file"], "a_file is a file"),
]


@pytest.mark.parametrize("extra, name", PLOT_CASES, ids=[" ".join(c[0]) for c in PLOT_CASES])
def test_bad_plot_input(finished_run, tmp_path, capsys, extra, name):
    (tmp_path / "a_file").write_text("")
    logs = finished_run.parent
    before = files_under(tmp_path), files_under(logs)
    code, err = run_cli(["plot", str(logs), *(a.format(tmp=tmp_path) for a in extra)], capsys)
    assert code == 2
    assert_one_line(err, "memrl plot: error:", name)
    assert (files_under(tmp_path), files_under(logs)) == before


SWEEP_CASES = [
    (["--seeds", "-1"], "--seeds"),
    (["--seeds", "1", "1"], "--seeds lists 1 more than once"),
    (["--num_seeds", "0"], "--num_seeds"),
    (["--lengths", "-3"], "--lengths -3"),
    (["--lengths", "0"], "--lengths 0"),
    (["--scale", "nan"], "--scale"),
    (["--scale", "inf"], "--scale"),
    (["--workers", "0"], "--workers"),
    (["--threads_per_run", "0"], "--threads_per_run"),
    (["--out", "{tmp}/a_file"], "a_file is a file"),
    (["--tasks", "gym"], "--tasks gym has no variants of its own: name them with --variants"),
]


@pytest.mark.parametrize("extra, name", SWEEP_CASES, ids=[" ".join(c[0]) for c in SWEEP_CASES])
def test_bad_sweep_input(tmp_path, capsys, extra, name):
    (tmp_path / "a_file").write_text("")
    before = files_under(tmp_path)
    args = ["--tasks", "tmaze_passive", "--train_episodes", "1", "--out", str(tmp_path / "sw"),
            *(a.format(tmp=tmp_path) for a in extra)]
    code = sweep.main(args)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert_one_line(err, "memrl sweep: error:", name)
    assert files_under(tmp_path) == before
