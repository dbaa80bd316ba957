import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _repo_root_cwd(monkeypatch):
    """Config paths in the seed's commands are relative to the repo root."""
    monkeypatch.chdir(ROOT)


def seed_command(env="tmaze_passive", rl="dqn_default", seq="lstm_default", extra=""):
    """A train command line; one torch thread, so results do not depend on the machine's load
    (the default picks the idle cores, and thread counts change the last bits of results)."""
    return (f"--config_env configs/envs/{env}.py --config_rl configs/rl/{rl}.py "
            f"--config_seq configs/seq_models/{seq}.py --threads 1 {extra}").split()


sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("PYTHONHASHSEED", "0")
