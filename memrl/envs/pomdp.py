"""POMDPs made from fully observed gymnasium tasks by hiding observation entries, and any
gymnasium env as a task.

The paper's Section 5.3 (Figure 8) runs recurrent TD3 on the PyBullet locomotion tasks with
only positions (-P) or only velocities (-V) observed, as in Ni et al. (2022); the entries kept
are the continuous-control code's (Memory-RL, branch pybullet_jax, envs/pomdp/__init__.py).
They are registered as gymnasium ids `memrl/<Robot>BLT-{P,V}-v0`, beside the small sanity
tasks `memrl/Pendulum-{P,V}-v0` and `memrl/CartPole-{P,V}-v0`.

Three task records: `pomdp/bullet_p` and `pomdp/bullet_v` (config_env.env_name: ant, cheetah,
hopper or walker), and `gym` (config_env.env_id: any gymnasium id, `module:env_id` or
`module:Class`, with optional config_env.wrappers, obs_keys and obs_indices; gym_source.py and
gym_adapter.py say how each is read).
"""

from __future__ import annotations

import importlib.util
from functools import partial

import gymnasium as gym
from ml_collections import ConfigDict

from memrl.envs import gym_source
from memrl.envs.gym_adapter import GymEnv, ObservationSubset, prepare, quiet_stdout
from memrl.envs.task import ENV_STEPS, Task

# robot -> (PyBullet id, -P indices, -V indices). Observation layout of these robots: z, sin
# and cos of the angle to the target, 0.3 x (vx, vy, vz), roll, pitch, then per joint its
# position and speed, then foot contacts.
BULLET_ROBOTS = {
    "hopper": ("HopperBulletEnv-v0", "HopperBLT",
               (0, 1, 2, 6, 7, 8, 10, 12, 14),
               (3, 4, 5, 9, 11, 13)),
    "walker": ("Walker2DBulletEnv-v0", "WalkerBLT",
               (0, 1, 2, 6, 7, 8, 10, 12, 14, 16, 18, 20, 21),
               (3, 4, 5, 9, 11, 13, 15, 17, 19)),
    "cheetah": ("HalfCheetahBulletEnv-v0", "HalfCheetahBLT",
                (0, 1, 2, 6, 7, 8, 10, 12, 14, 16, 18, 20, 21, 22, 23, 24, 25),
                (3, 4, 5, 9, 11, 13, 15, 17, 19)),
    "ant": ("AntBulletEnv-v0", "AntBLT",
            (0, 1, 2, 6, 7, 8, 10, 12, 14, 16, 18, 20, 22, 24, 25, 26, 27),
            (3, 4, 5, 9, 11, 13, 15, 17, 19, 21, 23)),
}

# Sanity tasks of the same code: (gymnasium id, time limit, -P indices, -V indices).
CLASSIC = {
    "Pendulum": ("Pendulum-v1", 200, (0, 1), (2,)),  # cos and sin of the angle | its speed
    "CartPole": ("CartPole-v0", 200, (0, 2), (1, 3)),  # positions | velocities
}


class MissingDependency(ValueError):
    """An optional extra a task needs is not installed; the message says how to get it."""


def require_pybullet() -> None:
    """Import the PyBullet envs (registering their gymnasium ids) or say how to get them."""
    if importlib.util.find_spec("pybullet_envs_gymnasium") is None:
        raise MissingDependency("the PyBullet tasks need pybullet and pybullet-envs-gymnasium: "
                                "pip install 'memrl[bullet]'")
    with quiet_stdout(fds=(1, 2)):  # pybullet announces its build time on stderr
        import pybullet  # noqa: F401
        import pybullet_envs_gymnasium  # noqa: F401


def make_occluded(base_id: str, indices: tuple[int, ...], bullet: bool = False,
                  render_mode: str | None = None) -> gym.Env:
    """The gymnasium env `base_id` observing only `indices`."""
    if bullet:
        require_pybullet()
    with quiet_stdout():
        env = gym.make(base_id, render_mode=render_mode)
    return ObservationSubset(env, indices)


def pomdp_ids() -> dict[str, dict]:
    """gymnasium id -> registration kwargs of every POMDP memrl registers."""
    ids = {}
    for base, name, p_idx, v_idx in BULLET_ROBOTS.values():
        for suffix, idx in (("P", p_idx), ("V", v_idx)):
            ids[f"memrl/{name}-{suffix}-v0"] = dict(
                kwargs={"base_id": base, "indices": idx, "bullet": True},
                max_episode_steps=1000)
    for name, (base, limit, p_idx, v_idx) in CLASSIC.items():
        for suffix, idx in (("P", p_idx), ("V", v_idx)):
            ids[f"memrl/{name}-{suffix}-v0"] = dict(
                kwargs={"base_id": base, "indices": idx}, max_episode_steps=limit)
    return ids


def register_pomdps() -> None:
    for env_id, registration in pomdp_ids().items():
        if env_id not in gym.registry:
            gym.register(env_id, entry_point=make_occluded, **registration)


# --- task records ----------------------------------------------------------------------------

def _robot(cfg: ConfigDict) -> str:
    if cfg.env_name not in BULLET_ROBOTS:
        raise ValueError(f"config_env.env_name is the robot, one of "
                         f"{', '.join(BULLET_ROBOTS)}; got {cfg.env_name!r}")
    return cfg.env_name


def _bullet_builder(suffix: str, render_mode: str | None = None):
    def make(cfg: ConfigDict, num_envs: int, seed: int | None) -> GymEnv:
        name = BULLET_ROBOTS[_robot(cfg)][1]
        require_pybullet()
        kwargs = {"render_mode": render_mode} if render_mode else {}
        return GymEnv(lambda: gym.make(f"memrl/{name}-{suffix}-v0", **kwargs), num_envs, seed)
    return make


# Figure 8's reference returns: recurrent TD3/SAC of Ni et al. (2022), as the paper draws them.
BULLET_REFERENCE = {
    "P": {"ant": 348, "cheetah": 2693, "hopper": 2133, "walker": 982},
    "V": {"ant": 1113, "cheetah": 1980, "hopper": 1495, "walker": 121},
}


def _bullet_task(suffix: str, kept: str) -> Task:
    return Task(
        env_type=f"pomdp/bullet_{suffix.lower()}",
        title=f"PyBullet, {kept} only (-{suffix})",
        make=_bullet_builder(suffix),
        make_drawing=_bullet_builder(suffix, render_mode="rgb_array"),
        env_config=f"configs/envs/pomdps/pybullet_{suffix.lower()}.py",
        rl_config="configs/rl/td3_default.py",
        # The README's commands: 64-step windows, one shared encoder trained by the critic.
        flags=("--config_seq.sampled_seq_len", "64", "--shared_encoder", "--freeze_all"),
        budgets={robot: 1500 for robot in BULLET_ROBOTS},  # 1500 x 1000 = 1.5M env steps
        check_variant=_robot,
        variant_name="robot",
        schedule=ENV_STEPS,
        train_defaults={"batch_size": 256, "updates_per_step": 1.0, "start_training": 10},
        reference=BULLET_REFERENCE[suffix],
        reference_label="Ni et al. (2022)",
        plot="curves",
        curve_points=100,
    )


BULLET_P = _bullet_task("P", "positions")
BULLET_V = _bullet_task("V", "velocities")


def _env_id(cfg: ConfigDict) -> str:
    """config_env.env_id, once the env it names can be found (its module imported)."""
    gym_source.resolve(cfg.env_id)
    return cfg.env_id


def _make_gym(cfg: ConfigDict, num_envs: int, seed: int | None,
              render_mode: str | None = None) -> GymEnv:
    source = gym_source.resolve(cfg.env_id)
    # Leaves added after the first gym runs: their config.json lacks them.
    wrappers = [gym_source.parse_wrapper(text) for text in cfg.get("wrappers", ())]
    kwargs = {"render_mode": render_mode} if render_mode else {}
    return GymEnv(lambda: gym_source.build(source, wrappers, **kwargs), num_envs, seed,
                  obs_indices=tuple(cfg.obs_indices) or None,
                  max_episode_steps=cfg.get("max_episode_steps") or None,
                  obs_keys=tuple(cfg.get("obs_keys", ())) or None, name=cfg.env_id)


GYM = Task(
    env_type="gym",
    title="gymnasium env",
    make=_make_gym,
    make_drawing=partial(_make_gym, render_mode="rgb_array"),
    env_config="configs/envs/gym.py",
    rl_config="configs/rl/dqn_default.py",  # Discrete actions; Box ones take td3/sac_default
    variant_key="env_id",
    check_variant=_env_id,
    variant_name="env",
    schedule=ENV_STEPS,
    train_defaults={"batch_size": 256, "updates_per_step": 1.0, "start_training": 10},
    plot="curves",
    curve_points=100,
)

__all__ = ["BULLET_P", "BULLET_ROBOTS", "BULLET_V", "CLASSIC", "GYM", "prepare",
           "register_pomdps"]
