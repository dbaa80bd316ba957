"""Passive Visual Match and Key-to-Door: rules of the pycolab games as the paper configures them, timing, views."""

from __future__ import annotations

import importlib.util
from collections import deque
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from ml_collections import ConfigDict

import memrl.envs  # noqa: F401  (registers the gymnasium ids)
from memrl.envs import make
from memrl.envs.tvt import KeyToDoor, VisualMatch
from memrl.envs.tvt.common import (
    BLUE,
    FLAT_MOVES,
    GREEN,
    KEY,
    PAD,
    PALETTE,
    RED,
    WIDTH,
    to_bytes,
)
from memrl.envs.tvt.key_to_door import _INDICATOR, _KEY_CELLS

NORTH, SOUTH, WEST, EAST = range(4)
BG = (204, 204, 204)
WALL_RGB = (25, 25, 25)
PLAYER_RGB = (228, 148, 109)
APPLE_RGB = (140, 178, 0)
DOOR_RGB = (134, 206, 235)
WHITE = (255, 255, 255)
PRIMARIES = {(255, 0, 0), (0, 255, 0), (0, 0, 255)}


def at(row: int, col: int) -> int:
    """The flat padded-board index of an unpadded (row, col)."""
    return (row + PAD) * WIDTH + col + PAD


def image(obs: np.ndarray) -> np.ndarray:
    """(75,) flat channel-first bytes -> (5, 5, 3) for reading cells."""
    return obs.reshape(3, 5, 5).transpose(1, 2, 0)


def cell(obs: np.ndarray, r: int, c: int) -> tuple[int, ...]:
    return tuple(int(v) for v in image(obs)[r, c])


def path(env, i: int, goal: int) -> list[int]:
    """Shortest action sequence for env i from its player to board cell `goal` (flat padded
    index), not stepping on any other object (colour, key) on the way."""
    goal = int(goal)
    start = int(env.cell[i])
    prev = {start: None}
    queue = deque([start])
    while queue:
        here = queue.popleft()
        if here == goal:
            break
        for a, step in enumerate(FLAT_MOVES):
            nxt = here + int(step)
            code = env.board[i].reshape(-1)[nxt]
            other_object = code >= KEY and nxt != goal
            if nxt not in prev and not other_object and not env._blocked(np.array([code]))[0]:
                prev[nxt] = (here, a)
                queue.append(nxt)
    actions = []
    node = goal
    while prev[node] is not None:
        node, a = prev[node]
        actions.append(a)
    return actions[::-1]


def play(env, plans: list[list[int]], filler: int = SOUTH):
    """Step all envs through their plans (padded with `filler`) for max(len) steps."""
    out = []
    for k in range(max(len(p) for p in plans)):
        acts = np.array([p[k] if k < len(p) else filler for p in plans])
        out.append(env.step(acts))
    return out


def run_phase(env, steps: int, action: int = SOUTH):
    return [env.step(np.full(env.num_envs, action)) for _ in range(steps)]


# --- construction, spaces, gymnasium ---------------------------------------------------------


@pytest.mark.parametrize("env_id", ["memrl/PassiveVisualMatch-v0", "memrl/KeyToDoor-v0"])
def test_check_env(env_id):
    env = gym.make(env_id, length=5)
    check_env(env.unwrapped, skip_render_check=True)
    assert env.observation_space.shape == (75,)
    assert env.observation_space.dtype == np.uint8
    assert env.action_space.n == 4


@pytest.mark.parametrize("cls", [VisualMatch, KeyToDoor])
@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "60", None])
def test_length_must_be_positive_int(cls, bad):
    with pytest.raises(ValueError, match="positive integer"):
        cls(bad)


def test_attributes_and_lengths():
    for cls, reward_frames in [(VisualMatch, 15), (KeyToDoor, 10)]:
        env = cls(7, num_envs=3, seed=0)
        assert env.max_episode_steps == 15 + 7 + reward_frames
        assert (env.action_space.n, env.obs_shape, env.image_shape) == (4, (75,), (3, 5, 5))
        space = env.observation_space
        assert env.obs_dtype == np.uint8 and (space.low.min(), space.high.max()) == (0, 255)
        for _ in range(2):
            env.reset()
            rng = np.random.default_rng(1)
            for t in range(1, env.max_episode_steps + 1):
                obs, r, d, _, info = env.step(rng.integers(4, size=3))
                assert obs.shape == (3, 75) and obs.dtype == np.uint8
                assert r.dtype == np.float32 and d.dtype == bool and info["success"].shape == (3,)
                assert d.all() == (t == env.max_episode_steps) and d.any() == d.all()
        with pytest.raises(RuntimeError):
            env.step(np.zeros(3, dtype=int))


def load_config(name: str) -> ConfigDict:
    path = Path(__file__).resolve().parents[1] / "configs" / "envs" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"env_config_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


@pytest.mark.parametrize(
    "name, env_type, cls",
    [("visual_match", "visual_match", VisualMatch), ("keytodoor", "key_to_door", KeyToDoor)],
)
def test_registry_builds_from_configs(name, env_type, cls):
    cfg = load_config(name)
    assert cfg.env_type == env_type
    assert cfg.env_name == 60 and cfg.eval_interval == 50 and cfg.eval_episodes == 20
    assert (cfg.final_reward, cfg.apple_reward, cfg.respawn_every) == (5.0, 1.0, 20)
    env = make(cfg, num_envs=2, seed=0)
    assert isinstance(env, cls) and env.max_episode_steps == 15 + 60 + env.reward_frames
    cfg.env_name = 0
    with pytest.raises(ValueError):
        make(cfg)


def test_colour_bytes():
    assert to_bytes((898, 584, 430)) == PLAYER_RGB
    assert to_bytes((100, 100, 100)) == WALL_RGB
    assert to_bytes((800, 800, 800)) == BG
    assert to_bytes((627, 321, 176)) == (159, 81, 44)
    assert to_bytes((529, 808, 922)) == DOOR_RGB
    assert to_bytes((550, 700, 0)) == APPLE_RGB
    assert to_bytes((1000, 1000, 1000)) == WHITE
    assert {tuple(c) for c in PALETTE.tolist()} >= PRIMARIES


# --- views -----------------------------------------------------------------------------------


def test_view_centred_and_padded_with_background():
    env = VisualMatch(10, num_envs=6, seed=3)
    obs = env.reset()
    for i in range(6):
        img = image(obs[i])
        assert cell(obs[i], 2, 2) == PLAYER_RGB
        assert (img[0] == BG).all() and (img[4] == BG).all()  # blank rows of the explore board
        ring = [tuple(img[r, c]) for r in (1, 2, 3) for c in (1, 2, 3) if (r, c) != (2, 2)]
        assert ring.count(WALL_RGB) == 7
        colours = [c for c in ring if c != WALL_RGB]
        assert len(colours) == 1 and colours[0] in PRIMARIES
        assert colours[0] == tuple(PALETTE[env.target_colour[i]])
    # Distractor start (row 5, col 5): the row below the bottom wall is off the board.
    obs = run_phase(env, 15)[-1][0]
    for i in range(6):
        img = image(obs[i])
        assert (img[3] == WALL_RGB).all() and (img[4] == BG).all()
        assert cell(obs[i], 2, 2) == PLAYER_RGB
    # Walk to the west wall (col 1): the column left of the wall is off the board.
    env.apples.present[:] = False
    env.apples.paint(env.board)
    obs = run_phase(env, 6, WEST)[-1][0]
    assert (env.col == 1 + PAD).all()
    for i in range(6):
        img = image(obs[i])
        assert (img[:4, 0] == BG).all() and (img[:3, 1] == WALL_RGB).all()
        assert cell(obs[i], 2, 2) == PLAYER_RGB


def test_first_observation_of_each_phase():
    env = KeyToDoor(3, num_envs=4, seed=5)
    env.reset()
    steps = run_phase(env, 15, NORTH)
    # The step that ends a phase shows the next board, player on its start cell.
    assert env.phase == 1 and env.frame == 0
    distractor_start = steps[-1][0]
    assert all((image(o)[3] == WALL_RGB).all() for o in distractor_start)
    steps = run_phase(env, 3, NORTH)
    reward_start = steps[-1][0]
    expected = np.array(
        [
            [DOOR_RGB if c == 2 else WALL_RGB for c in range(5)],
            [WALL_RGB, BG, BG, BG, WALL_RGB],
            [WALL_RGB, BG, PLAYER_RGB, BG, WALL_RGB],
            [WALL_RGB, BG, BG, BG, WALL_RGB],
            [WALL_RGB] * 5,
        ]
    )
    for o in reward_start:
        np.testing.assert_array_equal(image(o), expected)


# --- Visual Match ----------------------------------------------------------------------------


def _to_reward_phase(env):
    env.reset()
    run_phase(env, 15 + env.length)
    assert env.phase == 2 and env.frame == 0


def test_explore_player_cannot_move():
    env = VisualMatch(2, num_envs=4, seed=0)
    first = env.reset()
    for a in range(4):
        obs = env.step(np.full(4, a))[0]
        np.testing.assert_array_equal(obs, first)
    assert (env.row == 2 + PAD).all() and (env.col == 5 + PAD).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_right_colour_pays_final_reward(seed):
    env = VisualMatch(5, num_envs=8, seed=seed, final_reward=5.0)
    _to_reward_phase(env)
    slots = [at(1, c) for c in (2, 5, 8)]
    plans = [path(env, i, slots[env.target[i]]) for i in range(8)]
    out = play(env, plans)
    rewards = np.stack([s[1] for s in out])
    assert (rewards.sum(0) == 5.0).all()
    for i, p in enumerate(plans):
        assert rewards[len(p) - 1, i] == 5.0  # paid on the step that lands on the colour
    out = run_phase(env, 15 - len(out))
    assert out[-1][2].all() and out[-1][4]["success"].all()


@pytest.mark.parametrize("seed", [0, 1])
def test_wrong_colour_pays_nothing_and_ends_the_choice(seed):
    env = VisualMatch(5, num_envs=8, seed=seed)
    _to_reward_phase(env)
    slots = [at(1, c) for c in (2, 5, 8)]
    wrong = (env.target + 1) % 3
    plans = [path(env, i, slots[wrong[i]]) for i in range(8)]
    out = play(env, plans)
    # All three colours are gone from every board.
    colour_cells = env.board.reshape(8, -1)[:, slots]
    assert (colour_cells == 1).all()  # FLOOR
    # Now walk onto where the target stood: nothing more is paid.
    more = play(env, [path(env, i, slots[env.target[i]]) for i in range(8)])
    rest = run_phase(env, 15 - len(out) - len(more))
    rewards = np.stack([s[1] for s in out + more + rest])
    assert (rewards == 0).all()
    assert rest[-1][2].all() and not rest[-1][4]["success"].any()


def test_colour_shuffle_fixed_across_episodes_and_reseeded():
    env = VisualMatch(2, num_envs=16, seed=0)
    before = env.slot_colours.copy()
    assert all(sorted(row) == sorted(before[0]) for row in before.tolist())
    assert len({tuple(r) for r in before.tolist()}) > 1  # shuffled per env
    for _ in range(3):
        env.reset()
        np.testing.assert_array_equal(env.slot_colours, before)
    targets = set()
    for _ in range(20):
        env.reset()
        targets |= set(env.target.tolist())
    assert targets == {0, 1, 2}
    env.reset(seed=0)
    np.testing.assert_array_equal(env.slot_colours, VisualMatch(2, 16, seed=0).slot_colours)


def test_set_arrangement_places_the_colours_on_the_reward_board():
    env = VisualMatch(1, num_envs=6, seed=3)
    wanted = np.array([BLUE, RED, GREEN], dtype=np.int8)
    env.set_arrangement(wanted)
    _to_reward_phase(env)
    slots = [at(1, c) for c in (2, 5, 8)]
    np.testing.assert_array_equal(env.board.reshape(6, -1)[:, slots], np.tile(wanted, (6, 1)))
    for _ in range(2):  # kept across episodes, and the target's colour follows it
        env.reset()
        np.testing.assert_array_equal(env.slot_colours, np.tile(wanted, (6, 1)))
    per_copy = np.array([[RED, GREEN, BLUE], [GREEN, BLUE, RED]] * 3, dtype=np.int8)
    env.set_arrangement(per_copy)
    np.testing.assert_array_equal(env.slot_colours, per_copy)
    with pytest.raises(ValueError, match="three colour codes"):
        env.set_arrangement([RED, RED, BLUE])


# --- Key-to-Door -----------------------------------------------------------------------------


def _walk_to_key(env):
    """Scripted explore: walk to the key; returns the steps taken (all in the explore phase)."""
    plans = [path(env, i, _KEY_CELLS[env.key_cell[i]]) for i in range(env.num_envs)]
    assert max(len(p) for p in plans) <= 15
    return play(env, plans, filler=NORTH)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_key_then_door_always_succeeds(seed):
    env = KeyToDoor(6, num_envs=8, seed=seed, final_reward=5.0)
    for _episode in range(2):
        env.reset()
        out = _walk_to_key(env)
        assert env.has_key.all()
        run_phase(env, 15 - len(out) + 6)  # rest of explore, the distractor
        assert env.phase == 2
        out = run_phase(env, 2, NORTH)  # (3, 5) -> (2, 5) -> door at (1, 5)
        assert (out[0][1] == 0).all() and (out[1][1] == 5.0).all()
        assert (env.row == 1 + PAD).all()
        # The door is drawn over the player.
        assert all(cell(o, 2, 2) == DOOR_RGB for o in out[1][0])
        out = run_phase(env, 8, NORTH)  # stepping off and on again pays nothing more
        rewards = np.stack([s[1] for s in out])
        assert (rewards == 0).all()
        assert out[-1][2].all() and out[-1][4]["success"].all()


@pytest.mark.parametrize("seed", [0, 1])
def test_no_key_never_succeeds(seed):
    env = KeyToDoor(4, num_envs=8, seed=seed)
    for _episode in range(3):
        env.reset()
        run_phase(env, 15 + 4)  # south: away from the keys
        assert not env.has_key.any()
        out = run_phase(env, 10, NORTH)
        assert (env.row == 2 + PAD).all()  # stopped below the door
        assert all((s[1] == 0).all() for s in out)
        assert out[-1][2].all() and not out[-1][4]["success"].any()


def test_indicator_shows_for_exactly_one_frame():
    env = KeyToDoor(3, num_envs=8, seed=7)
    env.reset()
    plans = [path(env, i, _KEY_CELLS[env.key_cell[i]]) for i in range(8)]
    prev = None
    taken = max(len(p) for p in plans) + 1
    for k in range(taken):
        acts = np.array([p[k] if k < len(p) else SOUTH for p in plans])
        obs = env.step(acts)[0]
        for i, p in enumerate(plans):
            vr = _INDICATOR // WIDTH - env.row[i] + 2
            vc = _INDICATOR % WIDTH - env.col[i] + 2
            visible = 0 <= vr < 5 and 0 <= vc < 5
            if k == len(p) - 1:  # the step onto the key: the key's cell is always in view
                assert visible and cell(obs[i], vr, vc) == WHITE
            elif k == len(p) and visible:
                assert cell(obs[i], vr, vc) == WALL_RGB
            if k >= len(p) - 1:
                assert env.has_key[i]
        prev = obs
    assert prev is not None
    # Never white again in the episode.
    for obs, *_ in run_phase(env, 15 - taken, SOUTH):
        assert not (obs.reshape(8, 3, 25) == 255).all(axis=1).any()


# --- apples ----------------------------------------------------------------------------------


def test_apple_pickup_removal_and_respawn_timing():
    env = VisualMatch(40, num_envs=2, seed=0, apple_reward=1.0, respawn_every=20)
    env.reset()
    run_phase(env, 15)
    assert env.phase == 1
    idx = env.apples.index[at(5, 3)]  # the apple cell two steps west of the start
    env.apples.present[:] = False
    env.apples.present[:, idx] = True
    env.apples.paint(env.board)
    rewards = {}
    views = {}

    def step(a):
        obs, r, *_ = env.step(np.full(2, a))
        rewards[env.frame] = r.copy()
        views[env.frame] = cell(obs[0], 2, 1)  # the cell west of the player

    step(WEST)  # frame 1: to (5, 4); the apple is in view to the west
    assert views[1] == APPLE_RGB
    step(WEST)  # frame 2: eat it
    step(EAST)  # frame 3: back to (5, 4); the apple is gone
    for _ in range(4, 25):
        step(SOUTH)  # blocked by the wall: stay at (5, 4)
    assert (rewards[2] == 1.0).all()
    assert all((rewards[f] == 0).all() for f in range(3, 25))
    assert all(views[f] == BG for f in range(3, 23))  # frame 22 = pickup + 20: still gone
    assert all(views[f] == APPLE_RGB for f in range(23, 25))  # back at frame 23 > 22
    step(WEST)  # frame 25: eat it again
    assert (rewards[25] == 1.0).all()


def one_apple_at_distractor_start(env, row, col):
    """Play the explore phase, then leave a single apple at (row, col)."""
    env.reset()
    run_phase(env, 15)
    idx = env.apples.index[at(row, col)]
    env.apples.present[:] = False
    env.apples.present[:, idx] = True
    env.apples.paint(env.board)


def test_apple_respawns_under_a_player_who_stays():
    env = KeyToDoor(30, num_envs=1, seed=0, respawn_every=5)
    one_apple_at_distractor_start(env, 5, 3)
    got = [env.step(np.array([a]))[1][0] for a in [WEST, WEST] + [SOUTH] * 12]
    # Eaten at frame 2, back at frame 8 (> 2 + 5) under the player, eaten at frame 9, back
    # at 15, eaten at 16 (the list index is frame - 1).
    assert [f + 1 for f, r in enumerate(got) if r > 0] == [2, 9]
    assert env.step(np.array([SOUTH]))[1][0] == 0  # frame 15: respawned under the player
    assert env.step(np.array([SOUTH]))[1][0] == 1.0  # frame 16


def test_ten_apples_at_distractor_start():
    env = VisualMatch(3, num_envs=32, seed=1)
    env.reset()
    obs = run_phase(env, 15)[-1][0]
    assert (env.apples.present.sum(1) == 10).all()
    assert (env.board == 6).sum(axis=(1, 2)).tolist() == [10] * 32  # APPLE cells
    assert obs.shape == (32, 75)


def test_no_respawn_when_disabled():
    env = VisualMatch(60, num_envs=1, seed=0, respawn_every=None)
    one_apple_at_distractor_start(env, 5, 3)
    got = [env.step(np.array([a]))[1][0] for a in [WEST, WEST] + [SOUTH] * 50]
    assert sum(got) == 1.0


# --- determinism -----------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [VisualMatch, KeyToDoor])
def test_same_seed_same_trajectories(cls):
    def rollout(seed, reseed=None):
        env = cls(8, num_envs=5, seed=seed)
        rng = np.random.default_rng(123)
        trace = []
        for _ in range(3):
            obs = env.reset(seed=reseed)
            trace.append(obs)
            for _ in range(env.max_episode_steps):
                obs, r, d, _, info = env.step(rng.integers(4, size=5))
                trace += [obs, r, d, info["success"]]
        return trace

    a, b, c = rollout(11), rollout(11), rollout(12)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
    # reset(seed=...) alone fixes everything, whatever the construction seed.
    d, e = rollout(1, reseed=9), rollout(2, reseed=9)
    assert all(np.array_equal(x, y) for x, y in zip(d, e))


def test_state_roundtrip_continues_the_same_stream():
    env = VisualMatch(3, num_envs=4, seed=0)
    env.reset(seed=5)
    state = env.get_state()
    first = env.reset()
    other = VisualMatch(3, num_envs=4, seed=99)
    other.set_state(state)
    np.testing.assert_array_equal(other.reset(), first)


# --- the batched game against a plain one-env reading of the rules ---------------------------

RGB = {
    " ": BG,
    "#": WALL_RGB,
    "+": PLAYER_RGB,
    "k": (159, 81, 44),
    "d": DOOR_RGB,
    "a": APPLE_RGB,
    "i": WHITE,
    "R": (255, 0, 0),
    "G": (0, 255, 0),
    "B": (0, 0, 255),
}
CODE_CHAR = {8: "R", 9: "G", 10: "B"}


def unflat(cell: int) -> tuple[int, int]:
    r, c = divmod(int(cell), WIDTH)
    return r - PAD, c - PAD


def reference_episode(env, i: int, apples0: set, actions: list[int]):
    """Env i's episode replayed by a direct, loop-per-cell reading of the games' rules,
    from the random choices the batched env drew at its reset (`apples0`: its apple cells)."""
    from memrl.envs.tvt import key_to_door as ktd
    from memrl.envs.tvt import visual_match as vm
    from memrl.envs.tvt.common import DISTRACTOR_ART

    is_vm = isinstance(env, VisualMatch)

    def board_for(phase):
        if phase == 1:
            art = [row.replace("a", " ").replace("+", " ") for row in DISTRACTOR_ART]
            grid = [list(row) for row in art]
            for r, c in apples0:
                grid[r][c] = "a"
            return grid, (5, 5)
        if is_vm:
            colours = [CODE_CHAR[int(x)] for x in env.slot_colours[i]]
            if phase == 0:
                grid = [list(row.replace("p", "#").replace("+", " ")) for row in vm.EXPLORE_ART]
                r, c = unflat(vm._RING[env.ring_cell[i]])
                grid[r][c] = colours[env.target[i]]
                return grid, (2, 5)
            grid = [list(row.replace("+", " ")) for row in vm.REWARD_ART]
            for sym, colour in zip("bce", colours):
                for r, row in enumerate(grid):
                    for c, ch in enumerate(row):
                        if ch == sym:
                            grid[r][c] = colour
            return grid, (5, 5)
        if phase == 0:
            grid = [list(row.replace("k", " ").replace("+", " ")) for row in ktd.EXPLORE_ART]
            r, c = unflat(ktd._KEY_CELLS[env.key_cell[i]])
            grid[r][c] = "k"
            return grid, unflat(ktd._START_CELLS[env.start_cell[i]])
        return [list(row.replace("+", " ")) for row in ktd.REWARD_ART], (3, 5)

    def view(grid, pos):
        img = np.zeros((5, 5, 3), dtype=np.uint8)
        for dr in range(-2, 3):
            for dc in range(-2, 3):
                r, c = pos[0] + dr, pos[1] + dc
                on = 0 <= r < 7 and 0 <= c < 11
                img[dr + 2, dc + 2] = RGB[grid[r][c] if on else " "]
        door_over = grid[pos[0]][pos[1]] == "d"
        img[2, 2] = DOOR_RGB if door_over else PLAYER_RGB
        return img

    lengths = [15, env.length, env.reward_frames]
    phase, frame = 0, 0
    grid, pos = board_for(0)
    has_key, door_paid, indicator_on, picked, paid_total = False, False, False, {}, 0.0
    obs, rewards = [view(grid, pos)], []
    for k, a in enumerate(actions, start=1):
        frame += 1
        if indicator_on:  # shown for one frame only
            grid[0][5], indicator_on = "#", False
        dr, dc = [(-1, 0), (1, 0), (0, -1), (0, 1)][a]
        r, c = pos[0] + dr, pos[1] + dc
        blocked = not (0 <= r < 7 and 0 <= c < 11) or grid[r][c] in "#i"
        blocked |= is_vm and phase == 0 and grid[r][c] in "RGB"
        blocked |= grid[r][c] == "d" and not has_key
        if not blocked:
            pos = (r, c)
        reward = 0.0
        here = grid[pos[0]][pos[1]]
        if phase == 0 and here == "k":
            has_key, grid[pos[0]][pos[1]], grid[0][5] = True, " ", "i"
            indicator_on = True
        if phase == 1:
            if here == "a":
                reward += 1.0
                grid[pos[0]][pos[1]] = " "
                picked[pos] = frame
            for cell_, f in picked.items():
                if frame > f + 20 and grid[cell_[0]][cell_[1]] == " ":
                    grid[cell_[0]][cell_[1]] = "a"
        if phase == 2 and is_vm and here in "RGB":
            target = CODE_CHAR[int(env.slot_colours[i][env.target[i]])]
            reward += 5.0 if here == target else 0.0
            grid = [[" " if ch in "RGB" else ch for ch in row] for row in grid]
        if phase == 2 and not is_vm and here == "d" and has_key and not door_paid:
            reward, door_paid = reward + 5.0, True
        if phase == 2:
            paid_total += reward
        if k < len(actions) and frame == lengths[phase]:
            phase, frame, indicator_on = phase + 1, 0, False
            grid, pos = board_for(phase)
        obs.append(view(grid, pos))
        rewards.append(reward)
    return obs, rewards, paid_total > 0


@pytest.mark.parametrize("cls", [VisualMatch, KeyToDoor])
def test_batched_game_matches_a_plain_reading_of_the_rules(cls):
    n = 16
    env = cls(45, num_envs=n, seed=4)
    rng = np.random.default_rng(0)
    seen = {"reward": 0, "success": 0}
    for _episode in range(3):
        first = env.reset()
        apples0 = [
            {unflat(c) for c, p in zip(env.apples.cells, env.apples.present[i]) if p}
            for i in range(n)
        ]
        # Bias towards the top of the board so keys, doors and colours are met often.
        actions = rng.choice(4, p=[0.4, 0.2, 0.2, 0.2], size=(env.max_episode_steps, n))
        out = [env.step(a) for a in actions]
        for i in range(n):
            obs, rewards, success = reference_episode(env, i, apples0[i], actions[:, i].tolist())
            np.testing.assert_array_equal(image(first[i]), obs[0])
            for t, (o, r, d, _, info) in enumerate(out):
                np.testing.assert_array_equal(image(o[i]), obs[t + 1], err_msg=f"env {i} t {t}")
                assert r[i] == rewards[t], (i, t)
            assert out[-1][4]["success"][i] == success
            seen["reward"] += sum(r > 0 for r in rewards)
            seen["success"] += success
    assert seen["reward"] > 0 and seen["success"] > 0  # the comparison met both
