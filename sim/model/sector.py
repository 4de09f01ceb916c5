"""The sector (ODD 2 and 7.1): the Mesa grid and its layers, metres to rows and cells,
where units start, and the agents placed in the cells their units stand in."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from mesa.discrete_space import OrthogonalMooreGrid
from numba import njit

from sim.config import CombatConfig, SectorConfig
from sim.model.units import IS_IN_SECTOR
from sim.sides import ATTACKER, DEFENDER

NEUTRAL = -1


class Ground(NamedTuple):
    """The sector's cells as the combat kernels read and write them (flat, indexed
    ``x * depth + row``): built once a day; ``mines`` and ``control`` are the grid's
    layers themselves, so the kernels' writes are the grid's."""

    cover_factor: np.ndarray  # share of fire not stopped by cover, per cell
    fortification_factor: np.ndarray  # per side x cell: share not stopped by field works
    mines: np.ndarray  # mines per cell
    control: np.ndarray  # who holds each cell (0, 1, or NEUTRAL)
    cell_scratch: np.ndarray  # zeroed work space over the cells, left zeroed
    width: int  # cells along the front
    depth: int  # cells in depth
    cell_size_m: float
    cell_area_m2: float
    defender_front_row: int  # the defender's original forward edge


class Sector:
    """A front sector of ``width x depth`` cells with the layers ``fortification``,
    ``mines``, ``cover`` and ``control`` (ODD 2), and the agents standing in it."""

    def __init__(self, config: SectorConfig, random):
        self.config = config
        self.width, self.depth = config.width_cells, config.depth_cells
        self.cell_size_m = config.cell_size_m
        self.cell_area_m2 = config.cell_size_m**2
        self.grid = OrthogonalMooreGrid((self.width, self.depth), torus=False, capacity=None,
                                        random=random)
        rows = np.arange(self.depth)
        self.defender_front_row = self.depth - config.defender_rows
        front = self.defender_front_row
        minefield = (rows >= front - config.minefield_rows) & (rows < front)
        fortified = (rows >= front) & (rows < front + config.fortified_rows)
        control = np.full(self.depth, NEUTRAL)
        control[rows < config.attacker_rows] = ATTACKER
        control[rows >= front] = DEFENDER
        layers = {
            "fortification": np.where(fortified, config.fortification_level, 0.0),
            "mines": np.where(minefield, config.mines_per_cell, 0.0),
            "cover": np.where(rows >= front, config.defended_cover, config.cover),
            "control": control,
        }
        for name, by_row in layers.items():
            dtype = int if name == "control" else float
            self.grid.create_property_layer(name, default_value=dtype(0), dtype=dtype)
            getattr(self.grid, name).data[:] = np.broadcast_to(by_row, (self.width, self.depth))
        self.initial_control = self.grid.control.data.copy()
        self._cell_scratch = np.zeros(self.width * self.depth)
        # The grid's cells by flat index (x * depth + row), to put agents in them.
        self._grid_cells = [self.grid[divmod(flat, self.depth)]
                            for flat in range(self.width * self.depth)]
        # Cell each unit's agent stands in (-1: off the grid); agents move when it changes.
        self._agent_cell = np.zeros(0, dtype=np.int64)
        # Units placed so far on each side: new units take the next slots along the front.
        self._placed = [0, 0]

    # ------------------------------------------------------------ positions
    def row(self, y_m: float) -> int:
        """Row (cell index in depth) of a position ``y_m`` (m)."""
        return min(self.depth - 1, max(0, int(y_m // self.cell_size_m)))

    def rows(self, y_m: np.ndarray) -> np.ndarray:
        """Rows of positions ``y_m`` (m)."""
        rows = (y_m // self.cell_size_m).astype(np.int64)
        return np.minimum(np.maximum(rows, 0), self.depth - 1)

    def cells(self, x: np.ndarray, y_m: np.ndarray) -> np.ndarray:
        """Flat cell index (``x * depth + row``) of lanes ``x`` and depths ``y_m``."""
        return x * self.depth + self.rows(y_m)

    def start_positions(self, side: int, count: int,
                        band: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Lanes and depths (m) of the side's next ``count`` units: spread along the front
        by a stride co-prime with the lane count, so that no contingent owns a flank. With
        ``band`` (the number of the side's units being placed at the start), they are
        spread in depth over the side's start rows; without it they enter at the row
        nearest the enemy."""
        config = self.config
        slots = self._placed[side] + np.arange(count)
        self._placed[side] += count
        x = (slots * _stride(self.width)) % self.width
        if band is None:
            row = np.full(count, config.attacker_rows - 1 if side == ATTACKER
                          else self.defender_front_row)
        elif side == ATTACKER:
            row = config.attacker_rows - 1 - (slots * config.attacker_rows) // band
        else:
            row = self.defender_front_row + (slots * max(1, config.fortified_rows)) // band
        return x.astype(np.int64), (row + 0.5) * self.cell_size_m

    # --------------------------------------------------------------- ground
    def ground(self, combat: CombatConfig) -> Ground:
        """The cells as the day's combat kernels see them: protection by cover and (for
        the defender, who built them) by field works, mines and control."""
        cover_factor = 1.0 - combat.cover_protection * self.grid.cover.data.reshape(-1)
        fortification_factor = np.concatenate([
            np.ones(cover_factor.size),
            1.0 - combat.fortification_protection * self.grid.fortification.data.reshape(-1)])
        return Ground(cover_factor, fortification_factor, self.grid.mines.data.reshape(-1),
                      self.grid.control.data.reshape(-1), self._cell_scratch, self.width,
                      self.depth, self.cell_size_m, self.cell_area_m2, self.defender_front_row)

    def ground_gained_m(self, side: int = ATTACKER) -> float:
        """Net ground the side holds that the enemy held at start, as a mean advance (m)."""
        return self.cells_held_and_gained()[1][side]

    def cells_held_and_gained(self) -> tuple[np.ndarray, list[float]]:
        """Per side: the cells it holds, and the ground it holds that the enemy held at
        start, as a mean advance (m)."""
        held, gained = _held_and_gained(self.grid.control.data.reshape(-1),
                                        self.initial_control.reshape(-1))
        return held, [float(cells * self.cell_size_m / self.width) for cells in gained.tolist()]

    # --------------------------------------------------------------- agents
    def place(self, agents: list, units: np.ndarray) -> None:
        """Put agents in the cells their units stand in; units out of the sector leave
        the grid. Only agents whose cell changed are touched."""
        if self._agent_cell.size < units.size:
            self._agent_cell = np.concatenate(
                [self._agent_cell, np.full(units.size - self._agent_cell.size, -1)])
        cell = np.where(IS_IN_SECTOR[units["state"]], self.cells(units["x"], units["y_m"]), -1)
        cells = self._grid_cells
        moved = (cell != self._agent_cell).nonzero()[0]
        for i, flat in zip(moved.tolist(), cell[moved].tolist(), strict=True):
            agents[i].cell = None if flat < 0 else cells[flat]
        self._agent_cell = cell


@njit(cache=True)
def _held_and_gained(control, initial_control):
    """Per side, over the cells: how many it holds, and how many of those the enemy held
    at start."""
    held = np.zeros(2, dtype=np.int64)
    gained = np.zeros(2, dtype=np.int64)
    for c in range(control.size):
        side = control[c]
        if side == ATTACKER or side == DEFENDER:
            held[side] += 1
            gained[side] += initial_control[c] == 1 - side
    return held, gained


def _stride(width: int) -> int:
    """A stride near the golden ratio of the width that is co-prime with it."""
    stride = max(1, round(width * 0.618))
    while math.gcd(stride, width) != 1:
        stride += 1
    return stride
