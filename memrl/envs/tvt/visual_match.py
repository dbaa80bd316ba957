"""Passive Visual Match (Hung et al., 2019, as configured by Ni et al., 2023).

Explore (15 frames): the player stands walled in by a 3 x 3 ring, one ring cell painted the
episode's target colour; it cannot move, it only has to see the colour. Distractor (L frames):
apples. Reward (15 frames): three colours stand in a row; stepping on any removes all three,
and only the target pays `final_reward`. Memory length ~ L; success = the reward phase paid.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from memrl.envs.tvt.common import (
    COLOUR_CODES,
    FLOOR,
    OFF,
    WALL,
    ThreePhaseGame,
    cells,
    code_table,
    game_builder,
    parse_board,
)

EXPLORE_ART = [
    "           ",
    "    ppp    ",
    "    p+p    ",
    "    ppp    ",
    "           ",
    "           ",
    "           ",
]

REWARD_ART = [
    "###########",
    "# b  c  e #",
    "#         #",
    "#         #",
    "####   ####",
    "   # + #   ",
    "   #####   ",
]

_LEGEND = {" ": FLOOR, "#": WALL, "p": WALL, "+": FLOOR, "b": FLOOR, "c": FLOOR, "e": FLOOR}
_EXPLORE_BOARD = parse_board(EXPLORE_ART, _LEGEND)
_RING = cells(EXPLORE_ART, "p")  # 8 cells
_EXPLORE_START = cells(EXPLORE_ART, "+")[0]
_REWARD_BOARD = parse_board(REWARD_ART, _LEGEND)
_SLOTS = np.concatenate([cells(REWARD_ART, s) for s in "bce"])  # symbols b, c, e
_REWARD_START = cells(REWARD_ART, "+")[0]
_IS_COLOUR = code_table(COLOUR_CODES)


class VisualMatch(ThreePhaseGame):
    """`length` is the distractor phase's L; episodes last 15 + L + 15 steps.

    Symbols b, c, e (left, middle, right on the reward board) get red, green and blue in an
    order shuffled per environment when the random stream is (re)seeded: at construction and
    at `reset(seed=...)`, then fixed across episodes, as one original env instance keeps its
    shuffle. Each episode draws the target symbol and the painted ring cell uniformly.
    """

    reward_frames = 15

    def _seed(self, seed: int | None) -> None:
        super()._seed(seed)
        order = np.argsort(self.rng.random((self.num_envs, 3)), axis=1)
        self.slot_colours = COLOUR_CODES[order]  # (N, 3) colour code of b, c, e per env

    def set_arrangement(self, slot_colours: np.ndarray) -> None:
        """Fix the colour codes of b, c, e: shape (3,) for every copy, or (num_envs, 3).

        Evaluating on a training env's arrangement (`train_env.slot_colours`) separates memory
        from matching colours by appearance: there a policy that forgot the first room's
        colour succeeds 1/3 of the time, however the colours are placed.
        """
        slot_colours = np.broadcast_to(np.asarray(slot_colours), (self.num_envs, 3))
        if not (np.sort(slot_colours, axis=1) == np.sort(COLOUR_CODES)).all():
            raise ValueError(f"each arrangement orders the three colour codes "
                             f"{COLOUR_CODES.tolist()}, got {slot_colours.tolist()}")
        self.slot_colours = slot_colours.astype(np.int8)

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "slot_colours": self.slot_colours.copy()}

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.slot_colours = np.asarray(state["slot_colours"], dtype=np.int8).copy()

    def _draw_episode(self) -> None:
        self.target = self.rng.integers(3, size=self.num_envs)  # index into b, c, e
        self.ring_cell = self.rng.integers(len(_RING), size=self.num_envs)

    @property
    def target_colour(self) -> np.ndarray:
        """The cell code (RED, GREEN or BLUE) of each env's target this episode."""
        return self.slot_colours[self.envs, self.target]

    def _enter_explore(self) -> None:
        self.board[:] = _EXPLORE_BOARD
        self.flat_board[self.first_cell + _RING[self.ring_cell]] = self.target_colour
        self.place(_EXPLORE_START)
        self.impassable = code_table([OFF, WALL, *COLOUR_CODES])

    def _enter_reward(self) -> None:
        self.board[:] = _REWARD_BOARD
        self.flat_board[self.first_cell[:, None] + _SLOTS] = self.slot_colours
        self.place(_REWARD_START)

    def _explore_step(self) -> np.ndarray:
        return np.zeros(self.num_envs, dtype=np.float32)  # the player cannot move

    def _reward_step(self) -> np.ndarray:
        under = self.flat_board[self.pos]
        chose = _IS_COLOUR[under]
        paid = chose & (under == self.target_colour)
        self.flat_board[self.first_cell[chose, None] + _SLOTS] = FLOOR  # one choice only
        return paid * np.float32(self.final_reward)


make = game_builder(VisualMatch)  # the task record's builder (memrl/tasks.py)
