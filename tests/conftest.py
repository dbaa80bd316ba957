import os
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

# One torch thread for every test, not only those that build a trainer (which sets its own):
# more threads than idle cores makes OpenMP threads wait on each other, many times slower.
torch.set_num_threads(1)


def pytest_addoption(parser):
    parser.addoption("--device", default="cpu",
                     help="torch device for the device-independent tests (cpu or cuda)")


@pytest.fixture
def device(request) -> torch.device:
    """Where tests that take this fixture build their networks: cpu unless pytest --device."""
    name = request.config.getoption("--device")
    if name.startswith("cuda") and not torch.cuda.is_available():
        pytest.exit(f"pytest --device {name}: torch sees no CUDA device", returncode=2)
    return torch.device(name)


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


def vector_spec(max_episode_steps: int, obs_dim: int = 2, num_actions: int = 4):
    """An EnvSpec like T-Maze's: float observations and a Discrete action space."""
    from memrl.agents import EnvSpec

    return EnvSpec(gym.spaces.Box(-1.0, 1.0, (obs_dim,), np.float32),
                   gym.spaces.Discrete(num_actions), max_episode_steps)


def box_spec(max_episode_steps: int, obs_dim: int = 3, action_dim: int = 2):
    """An EnvSpec for continuous control: float observations and actions in [-1, 1]^A."""
    from memrl.agents import EnvSpec

    return EnvSpec(gym.spaces.Box(-1.0, 1.0, (obs_dim,), np.float32),
                   gym.spaces.Box(-1.0, 1.0, (action_dim,), np.float32), max_episode_steps)


def pixel_spec(max_episode_steps: int):
    """An EnvSpec like the pixel games': flattened (3, 5, 5) uint8 images, 4 actions."""
    from memrl.agents import EnvSpec
    from memrl.envs.base import pixel_space

    return EnvSpec(pixel_space((3, 5, 5)), gym.spaces.Discrete(4), max_episode_steps,
                   (3, 5, 5))
