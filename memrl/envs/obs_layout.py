"""Any gymnasium observation space as the one flat array per step that memrl stores and embeds.

The replay, the collector and the batched env contract carry one flat array per step, so every
observation is encoded into one here, on the env side, without torch:

    [ image bytes, channel-first (C*H*W) | vector entries, float ]      (either part optional)

- a Box of shape (H, W, C) and dtype uint8 is an image (for the CNN embedders): transposed to
  (C, H, W) and flattened. At most one image entry.
- any other Box: flattened, as floats.
- Discrete(n): a one-hot of n; MultiDiscrete(nvec): the one-hots of its entries, concatenated;
  MultiBinary: its 0/1 entries as floats.
- Dict and Tuple: their entries in the space's order (a Dict keeps its keys sorted), nested ones
  likewise; `keys` keeps only some top-level entries (Dict keys, or Tuple positions).
- anything else (Text, Graph, Sequence, MiniGrid's mission string): refused with one line
  naming the entry and how to leave it out.

The dtype is uint8 when the observation is an image alone (pixels travel as bytes, as our own
pixel games' do, and the CNN scales them), float32 otherwise: a float32 holds the image bytes
0..255 exactly, so one store serves both parts. `image_shape` (C, H, W) says where the image
ends; the rest of the array is the vector part.

Each value the env returns is checked against its entry's space on the way (shape, dtype, range
of discrete values) and a mismatch is an `ObservationError` naming the entry, so a wrong
observation stops at the env boundary instead of as a broadcasting error deep in numpy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from memrl.envs.gym_source import UnsupportedEnvError


class ObservationError(ValueError):
    """An observation that does not match its declared space; the message names the entry."""


class UnsupportedObservation(UnsupportedEnvError):
    """An observation space memrl cannot encode; the message names the entry and the fix."""


@dataclass(frozen=True)
class Entry:
    """One leaf of the observation space: where it comes from and how it is encoded."""

    path: tuple[str | int, ...]  # keys from the top-level observation to this leaf
    space: gym.Space
    size: int  # entries it takes in the flat array
    encode: Callable[[Any], np.ndarray]  # value -> flat array (checked against the space)

    @property
    def name(self) -> str:
        return ".".join(map(str, self.path)) or "observation"


def is_image(space: gym.Space) -> bool:
    return isinstance(space, gym.spaces.Box) and len(space.shape) == 3 \
        and space.dtype == np.uint8


def _encoder(space: gym.Space, name: str) -> tuple[int, Callable[[Any], np.ndarray]] | None:
    """(size, encode) of a leaf space, or None when memrl cannot encode it."""
    if isinstance(space, gym.spaces.Box):
        shape, image = tuple(space.shape), is_image(space)

        def box(value: Any) -> np.ndarray:
            array = np.asarray(value)
            if array.shape != shape:
                raise ObservationError(f"{name} has shape {array.shape}, its space says "
                                       f"{shape}")
            if array.dtype.kind not in "biuf" or (image and array.dtype != np.uint8):
                raise ObservationError(f"{name} has dtype {array.dtype}, its space says "
                                       f"{space.dtype}")
            return array.transpose(2, 0, 1).reshape(-1) if image else array.reshape(-1)
        return int(np.prod(shape)), box
    if isinstance(space, gym.spaces.Discrete):
        n, start = int(space.n), int(space.start)

        def discrete(value: Any) -> np.ndarray:
            index = _integers(value, (), name, space) - start
            if not 0 <= index < n:
                raise ObservationError(f"{name} is {index + start}, outside {space}")
            one_hot = np.zeros(n, np.float32)
            one_hot[index] = 1.0
            return one_hot
        return n, discrete
    if isinstance(space, gym.spaces.MultiDiscrete):
        nvec = np.asarray(space.nvec).reshape(-1)
        start = np.asarray(space.start).reshape(-1)
        offsets = np.concatenate([[0], np.cumsum(nvec)[:-1]])

        def multi_discrete(value: Any) -> np.ndarray:
            index = _integers(value, space.shape, name, space).reshape(-1) - start
            if ((index < 0) | (index >= nvec)).any():
                raise ObservationError(f"{name} is {np.asarray(value).tolist()}, outside {space}")
            one_hots = np.zeros(int(nvec.sum()), np.float32)
            one_hots[offsets + index] = 1.0
            return one_hots
        return int(nvec.sum()), multi_discrete
    if isinstance(space, gym.spaces.MultiBinary):
        shape = tuple(space.shape)

        def multi_binary(value: Any) -> np.ndarray:
            bits = _integers(value, shape, name, space)
            if ((bits != 0) & (bits != 1)).any():
                raise ObservationError(f"{name} holds values other than 0 and 1 ({space})")
            return bits.reshape(-1)
        return int(np.prod(shape)), multi_binary
    return None


def _integers(value: Any, shape: tuple[int, ...], name: str, space: gym.Space) -> np.ndarray:
    array = np.asarray(value)
    if array.shape != tuple(shape) or array.dtype.kind not in "biu":
        raise ObservationError(f"{name} is {value!r} ({array.dtype}, shape {array.shape}), not "
                               f"integers of shape {tuple(shape)} as its space {space} says")
    return array.astype(np.int64)


def _leaves(space: gym.Space, path: tuple, env_name: str, keys: Sequence[str | int] | None,
            top_keys: list | None = None) -> list[Entry]:
    """The encodable leaves of `space` in order (`keys`: the top-level entries kept;
    `top_keys`: those of the top level, for messages)."""
    if isinstance(space, (gym.spaces.Dict, gym.spaces.Tuple)):
        children = list(space.spaces.items()) if isinstance(space, gym.spaces.Dict) \
            else list(enumerate(space.spaces))
        if keys:
            children = [(key, dict(children)[key]) for key in _checked_keys(keys, children,
                                                                            space, env_name)]
        if not path:
            top_keys = [key for key, _ in children]
        entries = []
        for key, child in children:
            entries += _leaves(child, (*path, key), env_name, None, top_keys)
        return entries
    name = ".".join(map(str, path))
    encoder = _encoder(space, f"observation entry {name!r}" if path else "the observation")
    if encoder is None:
        kind = type(space).__name__
        if path:
            others = tuple(key for key in top_keys if key != path[0])
            raise UnsupportedObservation(
                f"{env_name}'s observation entry {name!r} is a {kind}, which memrl cannot "
                f"embed; leave it out with --config_env.obs_keys \"{others!r}\", or turn it "
                "into a Box with a wrapper (--config_env.wrappers)")
        raise UnsupportedObservation(
            f"{env_name} observes a {kind} ({space}), which memrl cannot embed; turn it into "
            "a Box, Discrete or a Dict of them with a wrapper (--config_env.wrappers)")
    size, encode = encoder
    return [Entry(path, space, size, encode)]


def _checked_keys(keys: Sequence[str | int], children: list, space: gym.Space,
                  env_name: str) -> list[str | int]:
    known = [key for key, _ in children]
    tuple_space = isinstance(space, gym.spaces.Tuple)
    picked = []
    for key in keys:
        if tuple_space and isinstance(key, str) and key.isdigit():
            key = int(key)  # Tuple positions may be given as "0", "1"
        if key not in known:
            raise UnsupportedObservation(
                f"config_env.obs_keys names {key!r}, which {env_name}'s observation {space} "
                f"lacks; its {'positions' if tuple_space else 'keys'} are "
                f"{', '.join(map(repr, known))}")
        if key in picked:
            raise UnsupportedObservation(f"config_env.obs_keys names {key!r} twice")
        picked.append(key)
    return picked


class FlatObservation(gym.ObservationWrapper):
    """Observations of any supported space as the flat array described in the module doc.

    `keys` (config_env.obs_keys) keeps only these top-level entries of a Dict or Tuple space.
    Sets `image_shape` ((C, H, W) or None) and `vector_size`.
    """

    def __init__(self, env: gym.Env, env_name: str, keys: Sequence[str | int] | None = None):
        super().__init__(env)
        space = env.observation_space
        if keys and not isinstance(space, (gym.spaces.Dict, gym.spaces.Tuple)):
            raise UnsupportedObservation(f"config_env.obs_keys picks entries of Dict and Tuple "
                                         f"observations; {env_name} observes {space}")
        entries = _leaves(space, (), env_name, keys)
        images = [e for e in entries if is_image(e.space)]
        if len(images) > 1:
            raise UnsupportedObservation(
                f"{env_name} observes {len(images)} images ({', '.join(e.name for e in images)}"
                f"); memrl embeds one: keep one with --config_env.obs_keys")
        self.entries = images + [e for e in entries if not is_image(e.space)]
        if images:
            h, w, c = images[0].space.shape
            self.image_shape: tuple[int, int, int] | None = (c, h, w)
        else:
            self.image_shape = None
        image_size = images[0].size if images else 0
        self.vector_size = sum(e.size for e in self.entries) - image_size
        self.dtype = np.uint8 if not self.vector_size else np.float32
        total = image_size + self.vector_size
        if self.dtype == np.uint8:
            self.observation_space = gym.spaces.Box(0, 255, (total,), np.uint8)
        else:
            low = np.full(total, -np.inf, np.float32)
            high = np.full(total, np.inf, np.float32)
            low[:image_size], high[:image_size] = 0, 255
            self.observation_space = gym.spaces.Box(low, high, (total,), np.float32)
        self._single = len(self.entries) == 1 and not self.entries[0].path

    def observation(self, observation: Any) -> np.ndarray:
        if self._single:  # a bare space: no entries to look up
            return self.entries[0].encode(observation).astype(self.dtype, copy=False)
        parts = [entry.encode(_lookup(observation, entry)) for entry in self.entries]
        return np.concatenate(parts, dtype=self.dtype)


def _lookup(observation: Any, entry: Entry) -> Any:
    value = observation
    for key in entry.path:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            raise ObservationError(f"the observation lacks its entry {entry.name!r} (got "
                                   f"{type(value).__name__})") from None
    return value
