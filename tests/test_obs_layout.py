"""Every observation space memrl takes, as the one flat array per step it stores: one-hots for
discrete entries, flattened boxes, image bytes first, Dict and Tuple entries in order, and one
clear line for what it cannot embed or an observation that does not fit its space."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from memrl.envs.obs_layout import FlatObservation, ObservationError, UnsupportedObservation


class Fixed(gym.Env):
    """Observes `value` in `space`, whatever it does."""

    action_space = gym.spaces.Discrete(2)

    def __init__(self, space, value):
        self.observation_space, self.value = space, value

    def reset(self, *, seed=None, options=None):
        return self.value, {}

    def step(self, action):
        return self.value, 0.0, False, False, {}


def flat(space, value, keys=None):
    wrapper = FlatObservation(Fixed(space, value), "test/Env", keys)
    obs = wrapper.reset()[0]
    assert obs.shape == wrapper.observation_space.shape and obs.dtype == wrapper.dtype
    return wrapper, obs


IMAGE = gym.spaces.Box(0, 255, (2, 3, 3), np.uint8)  # (H, W, C)
PIXELS = np.arange(18, dtype=np.uint8).reshape(2, 3, 3)
CHANNEL_FIRST = PIXELS.transpose(2, 0, 1).reshape(-1)


@pytest.mark.parametrize("space, value, expected", [
    (gym.spaces.Discrete(4), 2, [0, 0, 1, 0]),
    (gym.spaces.Discrete(3, start=-1), np.int64(-1), [1, 0, 0]),
    (gym.spaces.MultiDiscrete([2, 3]), np.array([1, 2]), [0, 1, 0, 0, 1]),
    (gym.spaces.MultiDiscrete([[2], [2]]), np.array([[0], [1]]), [1, 0, 0, 1]),
    (gym.spaces.MultiBinary(3), np.array([1, 0, 1], np.int8), [1, 0, 1]),
    (gym.spaces.Box(-1, 1, (2, 2), np.float64), np.array([[0.5, -1], [1, 0]]),
     [0.5, -1, 1, 0]),
    (gym.spaces.Tuple((gym.spaces.Discrete(2), gym.spaces.Discrete(3))), (1, 0),
     [0, 1, 1, 0, 0]),
    # a Dict in key order whatever order it was given in, nested entries flattened too
    (gym.spaces.Dict({"z": gym.spaces.Discrete(2),
                      "a": gym.spaces.Dict({"y": gym.spaces.MultiBinary(1),
                                            "x": gym.spaces.Box(0, 9, (1,))})}),
     {"z": 0, "a": {"x": np.array([7.0], np.float32), "y": np.array([1])}}, [7, 1, 1, 0]),
])
def test_vector_spaces_become_float32_vectors(space, value, expected):
    wrapper, obs = flat(space, value)
    assert obs.dtype == np.float32 and wrapper.image_shape is None
    np.testing.assert_array_equal(obs, expected)
    assert wrapper.vector_size == len(expected)


def test_an_image_alone_stays_bytes_channel_first():
    wrapper, obs = flat(IMAGE, PIXELS)
    assert wrapper.image_shape == (3, 2, 3) and wrapper.vector_size == 0
    assert obs.dtype == np.uint8
    np.testing.assert_array_equal(obs, CHANNEL_FIRST)
    # A Dict holding only an image (obs_keys picked it) is the same observation.
    space = gym.spaces.Dict({"image": IMAGE, "mission": gym.spaces.Text(10)})
    wrapper, same = flat(space, {"image": PIXELS, "mission": "go"}, keys=("image",))
    assert same.dtype == np.uint8 and wrapper.image_shape == (3, 2, 3)
    np.testing.assert_array_equal(same, obs)


def test_an_image_and_vector_entries_are_one_float32_array_image_first():
    space = gym.spaces.Dict({"direction": gym.spaces.Discrete(4), "image": IMAGE,
                             "pos": gym.spaces.Box(-5, 5, (2,))})
    value = {"direction": 3, "image": PIXELS, "pos": np.array([-2.5, 4.0], np.float32)}
    wrapper, obs = flat(space, value)
    assert obs.dtype == np.float32 and wrapper.image_shape == (3, 2, 3)
    assert wrapper.vector_size == 4 + 2
    np.testing.assert_array_equal(obs[:18], CHANNEL_FIRST)  # bytes exact in float32
    np.testing.assert_array_equal(obs[18:], [0, 0, 0, 1, -2.5, 4.0])
    assert (wrapper.observation_space.high[:18] == 255).all()


def test_obs_keys_pick_dict_keys_and_tuple_positions():
    space = gym.spaces.Dict({"a": gym.spaces.Discrete(2), "b": gym.spaces.Discrete(3),
                             "c": gym.spaces.Text(5)})
    _, obs = flat(space, {"a": 1, "b": 2, "c": "x"}, keys=("b", "a"))
    np.testing.assert_array_equal(obs, [0, 0, 1, 0, 1])  # in the order asked for
    pair = gym.spaces.Tuple((gym.spaces.Discrete(2), gym.spaces.Discrete(3)))
    for keys in ((1,), ("1",)):
        np.testing.assert_array_equal(flat(pair, (0, 2), keys=keys)[1], [0, 0, 1])


@pytest.mark.parametrize("space, keys, message", [
    (gym.spaces.Dict({"image": IMAGE, "mission": gym.spaces.Text(10)}), None,
     ("observation entry 'mission' is a Text, which memrl cannot embed; leave it out with "
      "--config_env.obs_keys \"('image',)\"")),
    (gym.spaces.Text(10), None, "test/Env observes a Text"),
    (gym.spaces.Dict({"a": IMAGE, "b": IMAGE}), None, "observes 2 images (a, b)"),
    (gym.spaces.Dict({"a": gym.spaces.Discrete(2)}), ("b",), "obs_keys names 'b', which"),
    (gym.spaces.Dict({"a": gym.spaces.Discrete(2)}), ("a", "a"), "names 'a' twice"),
    (gym.spaces.Discrete(2), ("a",), "picks entries of Dict and Tuple observations"),
])
def test_what_cannot_be_embedded_is_one_line(space, keys, message):
    with pytest.raises(UnsupportedObservation, match="^[^\n]*$") as info:
        FlatObservation(Fixed(space, None), "test/Env", keys)
    assert message in str(info.value)


@pytest.mark.parametrize("space, value, message", [
    (gym.spaces.Dict({"image": IMAGE}), {"image": PIXELS[0]},
     "observation entry 'image' has shape (3, 3), its space says (2, 3, 3)"),
    (IMAGE, PIXELS.astype(np.float32), "the observation has dtype float32, its space says uint8"),
    (gym.spaces.Discrete(4), 4, "the observation is 4, outside Discrete(4)"),
    (gym.spaces.Discrete(4), 1.5, "not integers of shape ()"),
    (gym.spaces.MultiDiscrete([2, 2]), np.array([1, 2]), "outside MultiDiscrete([2 2])"),
    (gym.spaces.MultiBinary(2), np.array([0, 2]), "values other than 0 and 1"),
    (gym.spaces.Box(0, 1, (2,)), np.array(["a", "b"]), "dtype <U1"),
    (gym.spaces.Dict({"a": gym.spaces.Discrete(2)}), {"b": 1}, "lacks its entry 'a'"),
])
def test_an_observation_that_does_not_fit_its_space_is_named(space, value, message):
    wrapper = FlatObservation(Fixed(space, value), "test/Env")
    with pytest.raises(ObservationError) as info:
        wrapper.reset()
    assert message in str(info.value)
