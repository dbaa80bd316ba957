"""POMDPs made from fully observed gymnasium tasks by hiding observation entries, and any
gymnasium env as a task.

The paper's Section 5.3 (Figure 8) runs recurrent TD3 on the PyBullet locomotion tasks with
only positions (-P) or only velocities (-V) observed, as in Ni et al. (2022); the entries kept
are the continuous-control code's (Memory-RL, branch pybullet_jax, envs/pomdp/__init__.py).
They are registered as gymnasium ids `memrl/<Robot>BLT-{P,V}-v0`, beside the small sanity
tasks `memrl/Pendulum-{P,V}-v0` and `memrl/CartPole-{P,V}-v0`.

The builders of three task records (memrl/tasks.py): `pomdp/bullet_p` and `pomdp/bullet_v`
(config_env.env_name: ant, cheetah, hopper or walker), and `gym` (config_env.env_id: any
gymnasium id, `module:env_id` or `module:Class`, with optional config_env.wrappers, obs_keys
and obs_indices; gym_source.py and gym_adapter.py say how each is read). Each has a twin
`*_drawing` builder whose copies draw themselves (render_mode="rgb_array", for `memrl eval
--render`), named by the records' `drawing_builder`.
"""

from __future__ import annotations

import importlib.util
from functools import partial

import gymnasium as gym
from ml_collections import ConfigDict

from memrl.envs import gym_source
from memrl.envs.gym_adapter import GymEnv, ObservationSubset, prepare, quiet_stdout

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


# --- the task records' builders (memrl/tasks.py) ---------------------------------------------

def _bullet_builder(suffix: str, render_mode: str | None = None):
    def make(cfg: ConfigDict, num_envs: int, seed: int | None) -> GymEnv:
        name = BULLET_ROBOTS[cfg.env_name][1]
        require_pybullet()
        kwargs = {"render_mode": render_mode} if render_mode else {}
        return GymEnv(lambda: gym.make(f"memrl/{name}-{suffix}-v0", **kwargs), num_envs, seed)
    return make


make_bullet_p = _bullet_builder("P")
make_bullet_v = _bullet_builder("V")
make_bullet_p_drawing = _bullet_builder("P", render_mode="rgb_array")
make_bullet_v_drawing = _bullet_builder("V", render_mode="rgb_array")


def env_id_of(cfg: ConfigDict) -> str:
    """config_env.env_id, once the env it names can be found (its module imported)."""
    gym_source.resolve(cfg.env_id)
    return cfg.env_id


def make_gym(cfg: ConfigDict, num_envs: int, seed: int | None,
             render_mode: str | None = None) -> GymEnv:
    source = gym_source.resolve(cfg.env_id)
    # Leaves added after the first gym runs: their config.json lacks them.
    wrappers = [gym_source.parse_wrapper(text) for text in cfg.get("wrappers", ())]
    kwargs = {"render_mode": render_mode} if render_mode else {}
    return GymEnv(lambda: gym_source.build(source, wrappers, **kwargs), num_envs, seed,
                  obs_indices=tuple(cfg.obs_indices) or None,
                  max_episode_steps=cfg.get("max_episode_steps") or None,
                  obs_keys=tuple(cfg.get("obs_keys", ())) or None, name=cfg.env_id)


make_gym_drawing = partial(make_gym, render_mode="rgb_array")


__all__ = ["BULLET_ROBOTS", "CLASSIC", "env_id_of", "make_bullet_p", "make_bullet_p_drawing",
           "make_bullet_v", "make_bullet_v_drawing", "make_gym", "make_gym_drawing", "prepare",
           "register_pomdps"]
