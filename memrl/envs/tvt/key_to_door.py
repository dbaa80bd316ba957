"""Key-to-Door (Hung et al., 2019, as configured by Ni et al., 2023).

Explore (15 frames): a room with a key on one of ten cells; stepping on it picks it up and
flashes a white indicator at row 0, col 5 for that one frame. Distractor (L frames): apples.
Reward (10 frames): a small room whose door is impassable without the key; stepping onto it
with the key pays `final_reward` once. The only action that matters for the final reward is
taken ~L steps before it: credit assignment length ~ L. Success = the reward phase paid.
"""

from __future__ import annotations

import numpy as np

from memrl.envs.tvt.common import (
    DOOR,
    FLOOR,
    INDICATOR,
    KEY,
    PAD,
    WALL,
    WIDTH,
    ThreePhaseGame,
    cells,
    code_table,
    game_builder,
    parse_board,
)

EXPLORE_ART = [
    "  #######  ",
    "  #kkkkk#  ",
    "  #kkkkk#  ",
    "  ##   ##  ",
    "  #+++++#  ",
    "  #+++++#  ",
    "  #######  ",
]

REWARD_ART = [
    "           ",
    "   ##d##   ",
    "   #   #   ",
    "   # + #   ",
    "   #   #   ",
    "   #####   ",
    "           ",
]

_LEGEND = {" ": FLOOR, "#": WALL, "k": FLOOR, "+": FLOOR, "d": DOOR}
_EXPLORE_BOARD = parse_board(EXPLORE_ART, _LEGEND)
_KEY_CELLS = cells(EXPLORE_ART, "k")  # 10 cells
_START_CELLS = cells(EXPLORE_ART, "+")  # 10 cells
_INDICATOR = (0 + PAD) * WIDTH + 5 + PAD
_REWARD_BOARD = parse_board(REWARD_ART, _LEGEND)
_DOOR = cells(REWARD_ART, "d")[0]
_REWARD_START = cells(REWARD_ART, "+")[0]


class KeyToDoor(ThreePhaseGame):
    """`length` is the distractor phase's L; episodes last 15 + L + 10 steps.

    Each episode draws the key cell and the player's start cell uniformly among ten each.
    The door is drawn over the player (the original's z-order), so a player standing in the
    doorway shows the door colour at the view's centre.
    """

    reward_frames = 10

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.has_key = np.zeros(self.num_envs, dtype=bool)
        self.door_paid = np.zeros(self.num_envs, dtype=bool)

    def _draw_episode(self) -> None:
        self.key_cell = self.rng.integers(len(_KEY_CELLS), size=self.num_envs)
        self.start_cell = self.rng.integers(len(_START_CELLS), size=self.num_envs)
        self.has_key[:] = False
        self.door_paid[:] = False

    def _enter_explore(self) -> None:
        self.board[:] = _EXPLORE_BOARD
        self.flat_board[self.first_cell + _KEY_CELLS[self.key_cell]] = KEY
        self.place(_START_CELLS[self.start_cell])

    def _enter_reward(self) -> None:
        self.board[:] = _REWARD_BOARD
        self.place(_REWARD_START)
        self.over_player = code_table([DOOR])

    def _blocked(self, target: np.ndarray) -> np.ndarray:
        # Holding the key opens the door for the rest of the episode (also after it has paid).
        return self.impassable[target] | ((target == DOOR) & ~self.has_key)

    def _explore_step(self) -> np.ndarray:
        self.flat_board[self.first_cell + _INDICATOR] = WALL  # the indicator lasts one frame
        picked = self.flat_board[self.pos] == KEY
        self.flat_board[self.pos[picked]] = FLOOR
        self.flat_board[self.first_cell[picked] + _INDICATOR] = INDICATOR
        self.has_key |= picked
        return np.zeros(self.num_envs, dtype=np.float32)

    def _reward_step(self) -> np.ndarray:
        at_door = self.cell == _DOOR
        paid = at_door & self.has_key & ~self.door_paid
        self.door_paid |= paid
        return paid * np.float32(self.final_reward)


make = game_builder(KeyToDoor)  # the task record's builder (memrl/tasks.py)
