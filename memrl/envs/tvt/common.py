"""Pieces shared by the two TVT gridworlds: cell codes and colours, board parsing, the 5 x 5
egocentric view, the apple distractor phase, and the three-phase game loop.

Every board is 7 x 11 cells and is stored padded by two cells of `OFF` on each side, so that
the 5 x 5 window around any on-board player is a plain slice (no bounds arithmetic) and the
padding both draws as background and blocks moves off the board. Player coordinates are kept
in that padded frame, as one flat index into `board.reshape(-1)` (env i's cells start at
i * CELLS), so a move, a look-up under the player and the view are each one gather.

Timing follows the pycolab games the paper used (each phase is its own game in a story):
a phase of F frames takes exactly F actions; the k-th action of a phase runs at that phase's
frame k (frame 0 is the phase's set-up, before any action). The action that ends a phase is
played, and paid, on the old board; the observation it returns is already the next board at
frame 0, with the player on its start cell. The last action of the episode returns the reward
board after that action.
"""

from __future__ import annotations

import abc
from typing import Any

import gymnasium as gym
import numpy as np

from memrl.envs.base import BatchedEnv, pixel_space
from memrl.tasks import positive_length

# Cell codes. OFF is the padding around a board: drawn as background, never walkable.
OFF, FLOOR, WALL, PLAYER, KEY, DOOR, APPLE, INDICATOR, RED, GREEN, BLUE = range(11)
NUM_CODES = 11
COLOUR_CODES = np.array([RED, GREEN, BLUE], dtype=np.int8)

# Colours on the games' 0-999 scale (the three choice colours are hsv hues 0, 1/3, 2/3).
COLOURS_1000 = {
    OFF: (800, 800, 800),
    FLOOR: (800, 800, 800),
    WALL: (100, 100, 100),
    PLAYER: (898, 584, 430),
    KEY: (627, 321, 176),
    DOOR: (529, 808, 922),
    APPLE: (550, 700, 0),
    INDICATOR: (1000, 1000, 1000),
    RED: (1000, 0, 0),
    GREEN: (0, 1000, 0),
    BLUE: (0, 0, 1000),
}


def to_bytes(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    """0-999 scale to a byte, truncating, as the original's float -> uint8 cast does."""
    return tuple(int(c * 255 / 1000) for c in colour)


# PALETTE[code] is the RGB byte triple drawn for a cell code.
PALETTE = np.array([to_bytes(COLOURS_1000[code]) for code in range(NUM_CODES)], dtype=np.uint8)

ROWS, COLS = 7, 11
PAD = 2  # half the view: a 5 x 5 window centred on the player
VIEW = 2 * PAD + 1
WIDTH = COLS + 2 * PAD  # padded board width
CELLS = (ROWS + 2 * PAD) * WIDTH  # cells of one padded board

# Action -> (d_row, d_col): 0 north, 1 south, 2 west, 3 east; and the same as a flat step.
MOVES = np.array([[-1, 0], [1, 0], [0, -1], [0, 1]], dtype=np.int64)
FLAT_MOVES = MOVES[:, 0] * WIDTH + MOVES[:, 1]
# Flat offsets of the 5 x 5 view's cells from its centre, row-major.
VIEW_OFFSETS = (np.arange(-PAD, PAD + 1)[:, None] * WIDTH + np.arange(-PAD, PAD + 1)).ravel()
CENTRE = VIEW * VIEW // 2
PALETTE_CHANNELS = np.ascontiguousarray(PALETTE.T)  # (3, codes)

EXPLORE_FRAMES = 15

DISTRACTOR_ART = [
    "###########",
    "#a a a a a#",
    "# a a a a #",
    "#a a a a a#",
    "# a a a a #",
    "#a a + a a#",
    "###########",
]


def parse_board(art: list[str], legend: dict[str, int]) -> np.ndarray:
    """The padded (ROWS + 4, COLS + 4) int8 code board of a 7 x 11 ascii picture.

    `legend` maps every character of `art` to a code; marker characters (start cells, object
    candidates) usually map to FLOOR and are placed per episode from `cells(art, char)`.
    """
    if len(art) != ROWS or any(len(row) != COLS for row in art):
        raise ValueError(f"boards are {ROWS} x {COLS}, got {[len(row) for row in art]}")
    board = np.full((ROWS + 2 * PAD, COLS + 2 * PAD), OFF, dtype=np.int8)
    for r, row in enumerate(art):
        for c, char in enumerate(row):
            board[r + PAD, c + PAD] = legend[char]
    return board


def cells(art: list[str], char: str) -> np.ndarray:
    """Flat padded-board index (row * WIDTH + col) of every `char` in `art`, row-major."""
    found = [
        (r + PAD) * WIDTH + c + PAD
        for r, row in enumerate(art)
        for c, ch in enumerate(row)
        if ch == char
    ]
    return np.array(found, dtype=np.int64)


def code_table(codes) -> np.ndarray:
    """A boolean lookup over cell codes, True for `codes`."""
    table = np.zeros(NUM_CODES, dtype=bool)
    table[list(codes)] = True
    return table


def positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


class Apples:
    """The apple distractor phase's apples for N boards.

    Of the 22 candidate cells, `num_apples` hold an apple at the start of each episode. An
    apple the player stands on (after its move) pays `reward` and is removed; it comes back at
    the first frame f with f > pickup frame + `respawn_every`, frames counted within the
    distractor phase. Pickup is checked before respawn, so a returning apple under a player
    who stays put is eaten on the next frame. `respawn_every` of None or 0 turns respawning
    off (the original tests it for truth).
    """

    def __init__(self, num_envs: int, num_apples: int, reward: float, respawn_every: int | None):
        self.cells = cells(DISTRACTOR_ART, "a")
        if not 0 <= num_apples <= len(self.cells):
            raise ValueError(f"num_apples must be in [0, {len(self.cells)}], got {num_apples!r}")
        self.num_apples = num_apples
        self.reward = float(reward)
        self.respawn_every = respawn_every
        self.index = np.full(CELLS, -1, dtype=np.int64)  # board cell -> candidate, or -1
        self.index[self.cells] = np.arange(len(self.cells))
        self.envs = np.arange(num_envs)
        self.present = np.zeros((num_envs, len(self.cells)), dtype=bool)
        self.picked_at = np.full((num_envs, len(self.cells)), -1, dtype=np.int64)

    def draw(self, rng: np.random.Generator) -> None:
        """Choose each board's apple cells for a new episode, uniformly without replacement."""
        chosen = np.argsort(rng.random(self.present.shape), axis=1)[:, : self.num_apples]
        self.present[:] = False
        self.present[self.envs[:, None], chosen] = True
        self.picked_at[:] = -1

    def paint(self, board: np.ndarray) -> None:
        board.reshape(len(self.envs), CELLS)[:, self.cells] = np.where(self.present, APPLE, FLOOR)

    def step(
        self, flat_board: np.ndarray, first_cell: np.ndarray, pos: np.ndarray, frame: int
    ) -> np.ndarray:
        """Eat, then respawn, for players at flat indices `pos` (N,); returns the reward.

        Only the cells that change are written to the (flattened, all-env) board.
        """
        idx = self.index[pos - first_cell]
        eaten = (idx >= 0) & self.present[self.envs, idx]
        self.present[self.envs[eaten], idx[eaten]] = False
        self.picked_at[self.envs[eaten], idx[eaten]] = frame
        flat_board[pos[eaten]] = FLOOR
        if self.respawn_every:
            due = self.picked_at >= 0
            due &= frame > self.picked_at + self.respawn_every
            due &= ~self.present
            env, apple = np.nonzero(due)
            self.present[env, apple] = True
            flat_board[first_cell[env] + self.cells[apple]] = APPLE
        return eaten * np.float32(self.reward)


EXPLORE, DISTRACTOR, REWARD = 0, 1, 2
_DISTRACTOR_BOARD = parse_board(DISTRACTOR_ART, {"#": WALL, " ": FLOOR, "a": FLOOR, "+": FLOOR})
_DISTRACTOR_START = cells(DISTRACTOR_ART, "+")[0]


class ThreePhaseGame(BatchedEnv):
    """N copies of an explore / apple distractor / reward game, all in the same phase.

    Subclasses set `reward_frames` and write `_draw_episode` (the episode's random choices),
    `_enter_explore` / `_enter_reward` (lay out that board: `self.board`, `self.place(...)`,
    `self.impassable`, `self.over_player`) and `_explore_step` / `_reward_step` (what standing
    on the new cell does; return the reward).
    """

    image_shape = (3, VIEW, VIEW)
    observation_space = pixel_space(image_shape)
    action_space = gym.spaces.Discrete(4)
    reward_frames: int

    def __init__(
        self,
        length: int,
        num_envs: int = 1,
        seed: int | None = None,
        final_reward: float = 5.0,
        apple_reward: float = 1.0,
        respawn_every: int | None = 20,
        num_apples: int = 10,
    ):
        self.length = positive_int(length, "the distractor length L")
        self.num_envs = positive_int(num_envs, "num_envs")
        self.phase_frames = (EXPLORE_FRAMES, self.length, self.reward_frames)
        self.max_episode_steps = sum(self.phase_frames)
        self.final_reward = float(final_reward)
        self.apples = Apples(self.num_envs, num_apples, apple_reward, respawn_every)

        self.envs = np.arange(self.num_envs)
        self.board = np.zeros((self.num_envs, ROWS + 2 * PAD, WIDTH), dtype=np.int8)
        self.flat_board = self.board.reshape(-1)  # a view: always write `board` in place
        self.first_cell = self.envs * CELLS  # env i's board starts here in flat_board
        self.pos = self.first_cell.copy()  # the player's flat index into flat_board
        self.impassable = code_table([OFF, WALL, INDICATOR])
        self.over_player = code_table([])  # codes drawn on top of the player
        self.reward_phase_return = np.zeros(self.num_envs, dtype=np.float32)
        self.t = self.max_episode_steps  # no episode running until reset()
        self.phase = EXPLORE
        self.frame = 0
        self._seed(seed)

    def _seed(self, seed: int | None) -> None:
        self.rng = np.random.default_rng(seed)

    # --- where the player is --------------------------------------------------------------

    def place(self, cell) -> None:
        """Put each player on board cell `cell` (a flat padded index, scalar or (N,))."""
        self.pos = self.first_cell + cell

    @property
    def cell(self) -> np.ndarray:
        """The player's flat padded-board index within its own board, (N,)."""
        return self.pos - self.first_cell

    @property
    def row(self) -> np.ndarray:
        return self.cell // WIDTH

    @property
    def col(self) -> np.ndarray:
        return self.cell % WIDTH

    # --- episode loop ---------------------------------------------------------------------

    def reset(self, seed: int | None = None) -> np.ndarray:
        if seed is not None:
            self._seed(seed)
        self._draw_episode()
        self.apples.draw(self.rng)
        self.reward_phase_return[:] = 0.0
        self.t = 0
        self._enter(EXPLORE)
        return self._observe()

    def step(self, actions: np.ndarray):
        if self.t >= self.max_episode_steps:
            raise RuntimeError("step() called after the episode ended; call reset() first")
        actions = np.asarray(actions)
        if actions.shape != (self.num_envs,):
            raise ValueError(f"expected actions of shape ({self.num_envs},), got {actions.shape}")
        if not ((actions >= 0) & (actions < self.action_space.n)).all():
            raise ValueError(f"actions must lie in [0, {self.action_space.n}), got {actions}")
        self.t += 1
        self.frame += 1
        self._move(actions)
        if self.phase == EXPLORE:
            reward = self._explore_step()
        elif self.phase == DISTRACTOR:
            reward = self.apples.step(self.flat_board, self.first_cell, self.pos, self.frame)
        else:
            reward = self._reward_step()
            self.reward_phase_return += reward
        last = self.t == self.max_episode_steps
        if not last and self.frame == self.phase_frames[self.phase]:
            self._enter(self.phase + 1)
        terminated = np.full(self.num_envs, last)  # the game's own end, not a time limit
        info = {"success": terminated & (self.reward_phase_return > 0)}
        return self._observe(), reward, terminated, np.zeros(self.num_envs, dtype=bool), info

    def _enter(self, phase: int) -> None:
        self.phase = phase
        self.frame = 0
        self.impassable = code_table([OFF, WALL, INDICATOR])
        self.over_player = code_table([])
        if phase == EXPLORE:
            self._enter_explore()
        elif phase == DISTRACTOR:
            self.board[:] = _DISTRACTOR_BOARD
            self.apples.paint(self.board)
            self.place(_DISTRACTOR_START)
        else:
            self._enter_reward()

    def _blocked(self, target: np.ndarray) -> np.ndarray:
        return self.impassable[target]

    def _move(self, actions: np.ndarray) -> None:
        target = self.pos + FLAT_MOVES[actions]
        self.pos = np.where(self._blocked(self.flat_board[target]), self.pos, target)

    def render(self, index: int = 0) -> np.ndarray:
        """The whole board of env `index` (7 x 11 cells) with the player, as the games draw it."""
        board = self.board[index].copy()
        cell = self.cell[index]
        if not self.over_player[board.flat[cell]]:
            board.flat[cell] = PLAYER
        return PALETTE[board[PAD:-PAD, PAD:-PAD]]

    def _observe(self) -> np.ndarray:
        """The 5 x 5 view centred on the player, RGB bytes, channel-first, flattened."""
        view = self.flat_board[self.pos[:, None] + VIEW_OFFSETS]  # (N, 25) codes
        under = view[:, CENTRE]
        view[:, CENTRE] = np.where(self.over_player[under], under, PLAYER)
        rgb = np.take(PALETTE_CHANNELS, view, axis=1)  # (3, N, 25); faster than [:, view]
        return rgb.transpose(1, 0, 2).reshape(self.num_envs, -1)

    # --- what a game adds -----------------------------------------------------------------

    @abc.abstractmethod
    def _draw_episode(self) -> None: ...

    @abc.abstractmethod
    def _enter_explore(self) -> None: ...

    @abc.abstractmethod
    def _enter_reward(self) -> None: ...

    @abc.abstractmethod
    def _explore_step(self) -> np.ndarray: ...

    @abc.abstractmethod
    def _reward_step(self) -> np.ndarray: ...


def game_builder(game: type[ThreePhaseGame]):
    """Visual Match and Key-to-Door read the same config leaves."""
    def make(cfg, num_envs: int, seed: int | None) -> ThreePhaseGame:
        return game(positive_length(cfg), num_envs, seed, final_reward=cfg.final_reward,
                    apple_reward=cfg.apple_reward, respawn_every=cfg.respawn_every,
                    num_apples=cfg.num_apples)
    return make
