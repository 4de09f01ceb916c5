"""The attrition model: a front sector on a Mesa grid, units as agents, one step a day.

    >>> from sim import AttritionModel, Scenario
    >>> model = AttritionModel(Scenario(max_days=3), rng=1)
    >>> model.run()
    >>> model.day, model.summary()["days"]
    (3, 3)

Units' state is held in column arrays (``model.units``) so that the day's processes run
over arrays of units (numpy) and the combat sub-steps over those in the sector (compiled
loops, :mod:`sim.model.kernels`); :class:`sim.model.units.Unit` agents are the objects a user
inspects. Each day: wounded return, waves enter, then ``substeps_per_day`` combat
sub-steps (fire, casualties, morale, movement, ground), then experience, morale recovery
and the daily record. ``docs/ODD.md`` describes it.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import mesa
import numpy as np
import pandas as pd
from mesa.discrete_space import OrthogonalMooreGrid

from sim.model import kernels, morale
from sim.model import physics as combat
from sim.model.units import (
    ADVANCING,
    ATTACKER,
    DEFENDER,
    DESTROYED,
    HOLDING,
    IS_FIGHTING,
    IS_IN_SECTOR,
    RESERVE,
    SIDES,
    STATES,
    WITHDRAWN,
    Unit,
)
from sim.config import TACTICS, ContingentConfig, Scenario
from sim.model.pipelines import Pipelines, training_level

NEUTRAL = -1
# Days of recent history behind the projected pool exhaustion and break-even recruitment.
PROJECTION_WINDOW_DAYS = 30
RECORD_COLUMNS = (
    "day", "side", "contingent", "personnel", "personnel_fighting", "reserve", "in_care",
    "pool", "in_training", "killed", "wounded", "returned", "permanently_lost", "recruited",
    "graduated", "killed_total", "wounded_total", "permanently_lost_total", "cells_held",
    "ground_gained_m",
)
# Daily flows, recorded as the day's change in a cumulative total of the same name.
_FLOWS = ("killed", "wounded", "returned", "permanently_lost", "recruited", "graduated")


@dataclass
class _Sides:
    """Per-side parameters as arrays indexed by side, for use over units."""

    kills_per_shooter: np.ndarray
    killed_fraction: np.ndarray
    return_fraction: np.ndarray
    return_delay: np.ndarray


@dataclass(slots=True)
class _Engaged:
    """The units in the sector (indices into ``model.units``, ascending, so that random
    draws come in the order of a pass over all units) with their columns that stay fixed
    for the rest of the day, their positions (kept up to date as they move), and the
    artillery and drone fire on each side, which depends on who is in the sector."""

    index: np.ndarray
    side: np.ndarray
    attacking: np.ndarray
    x: np.ndarray
    y_m: np.ndarray
    y0_m: np.ndarray
    row: np.ndarray
    cells: np.ndarray
    side_cells: np.ndarray  # side x cells in the sector: offset into per-side cell tables
    kill_rate: np.ndarray
    exposure: np.ndarray
    drone_exposure: np.ndarray  # share of drone hits not avoided by adaptation
    skill: np.ndarray
    training_days: np.ndarray
    mine_exposure: np.ndarray
    advance_speed: np.ndarray
    assault_speed: np.ndarray
    clears_mines: np.ndarray
    elastic: np.ndarray
    break_morale: np.ndarray
    killed_fraction: np.ndarray
    return_fraction: np.ndarray
    return_delay: np.ndarray
    fixed_hazard: np.ndarray  # per sub-step where a fixed loss share replaces fire; or empty
    # Fire support, set from the units above by AttritionModel._fire_support.
    footprint_m2: np.ndarray | None = None  # per side
    artillery_hazard: np.ndarray | None = None  # per side, per person and sub-step
    organic_strikes_per_person: np.ndarray | None = None  # per side, per day
    organic_lethal_area_m2: np.ndarray | None = None  # per side
    drone_hazard: np.ndarray | None = None  # per unit, per person and sub-step

    def without(self, keep: np.ndarray) -> _Engaged:
        """The record of the units ``keep`` (a mask over these) only; fire support is
        left to be set again."""
        columns = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
                   if field.name not in _FIRE_SUPPORT}
        for name, value in columns.items():
            if value.size:  # fixed_hazard is empty unless a side has a fixed loss share
                columns[name] = value[keep]
        return _Engaged(**columns)


_FIRE_SUPPORT = ("footprint_m2", "artillery_hazard", "organic_strikes_per_person",
                 "organic_lethal_area_m2", "drone_hazard")


class AttritionModel(mesa.Model):
    """Attackers assault a fortified, drone-covered defence across a front sector.

    Parameters
    ----------
    scenario : the run configuration; the reference scenario if omitted.
    rng : seed (int) or numpy Generator; all randomness flows from it.
    """

    def __init__(self, scenario: Scenario | None = None, rng: Any = None):
        super().__init__(rng=rng)
        # ``config``, not ``scenario``: Mesa 3.5 uses ``Model.scenario`` for its own.
        self.config = scenario if scenario is not None else Scenario()
        self.day = 0
        self.stop_reason: str | None = None
        self.events: list[tuple] = []
        self._rows: list[np.ndarray] = []
        self.tactic_names = TACTICS
        self._occupancy_changed = True
        self._build_sector()
        self._build_units()
        self._record_day()

    # ----------------------------------------------------------------- set-up
    def _build_sector(self) -> None:
        sector = self.config.sector
        self.width, self.depth = sector.width_cells, sector.depth_cells
        self.cell_size_m = sector.cell_size_m
        self.cell_area_m2 = sector.cell_size_m**2
        self.grid = OrthogonalMooreGrid((self.width, self.depth), torus=False, capacity=None,
                                        random=self.random)
        rows = np.arange(self.depth)
        defender_front = self.depth - sector.defender_rows
        self._defender_front_row = defender_front
        minefield = (rows >= defender_front - sector.minefield_rows) & (rows < defender_front)
        fortified = (rows >= defender_front) & (rows < defender_front + sector.fortified_rows)
        control = np.full(self.depth, NEUTRAL)
        control[rows < sector.attacker_rows] = ATTACKER
        control[rows >= defender_front] = DEFENDER
        layers = {
            "fortification": np.where(fortified, sector.fortification_level, 0.0),
            "mines": np.where(minefield, sector.mines_per_cell, 0.0),
            "cover": np.where(rows >= defender_front, sector.defended_cover, sector.cover),
            "control": control,
        }
        for name, by_row in layers.items():
            dtype = int if name == "control" else float
            self.grid.create_property_layer(name, default_value=dtype(0), dtype=dtype)
            getattr(self.grid, name).data[:] = np.broadcast_to(by_row, (self.width, self.depth))
        self.initial_control = self.grid.control.data.copy()
        # Zeroed work space over the cells, for totals per cell in the sub-step's passes.
        self._cell_scratch = np.zeros(self.width * self.depth)
        # The grid's cells by flat index (x * depth + row), to put agents in them.
        self._grid_cells = [self.grid[divmod(c, self.depth)]
                            for c in range(self.width * self.depth)]

    def _build_units(self) -> None:
        sc = self.config
        sector = sc.sector
        self.contingents: list[tuple[str, str]] = []
        columns: dict[str, list] = {k: [] for k in (
            "side", "contingent", "tactic", "personnel", "training_days", "base_level",
            "days_in_action", "theatre_adaptation", "morale", "commit_day", "x", "row")}
        defender_front = self.depth - sector.defender_rows
        for side_id, side_name in enumerate(SIDES):
            groups = getattr(sc, side_name).units
            n_side = sum(g.count for g in groups)
            # Interleave the side's units across the front so that no contingent owns a flank.
            slot = 0
            for group in groups:
                key = (side_name, group.contingent)
                if key not in self.contingents:
                    self.contingents.append(key)
                k = np.arange(slot, slot + group.count)
                slot += group.count
                if side_id == ATTACKER:
                    row = sector.attacker_rows - 1 - (k * sector.attacker_rows) // n_side
                else:
                    band = max(1, sector.fortified_rows)
                    row = defender_front + (k * band) // n_side
                # Spread along the front by a stride co-prime with the lane count.
                x = (k * _stride(self.width)) % self.width
                for name, value in (("side", side_id), ("contingent", self.contingents.index(key)),
                                    ("tactic", TACTICS.index(group.tactic)),
                                    ("personnel", group.personnel),
                                    ("training_days", group.training_days),
                                    ("base_level", group.base_training_level),
                                    ("days_in_action", group.experience_days),
                                    ("theatre_adaptation", group.theatre_adaptation),
                                    ("morale", group.morale), ("commit_day", group.commit_day)):
                    columns[name].extend([value] * group.count)
                columns["x"].extend(x.tolist())
                columns["row"].extend(row.tolist())
        u = {k: np.asarray(v) for k, v in columns.items() if k != "row"}
        n = len(u["side"])
        u["personnel"] = u["personnel"].astype(np.int64)
        u["initial_personnel"] = u["personnel"].copy()
        u["x"] = u["x"].astype(np.int64)
        u["y_m"] = (np.asarray(columns["row"], dtype=float) + 0.5) * self.cell_size_m
        u["y0_m"] = u["y_m"].copy()
        u["training_level"] = training_level(u["training_days"], u.pop("base_level"),
                                             sc.training.time_constant_days)
        u["initial_morale"] = u["morale"].astype(float)
        u["morale"] = u["morale"].astype(float)
        u["days_in_action"] = u["days_in_action"].astype(float)
        u["theatre_adaptation"] = u["theatre_adaptation"].astype(float)
        u["state"] = np.where(u["commit_day"] > 0, RESERVE,
                              np.where(u["side"] == ATTACKER, ADVANCING, HOLDING))
        for counter in ("killed", "wounded", "returned", "permanently_lost", "in_care", "casualties_today"):
            u[counter] = np.zeros(n, dtype=np.int64)
        u["initial_adaptation"] = u["theatre_adaptation"].copy()
        self.units = u
        self._tactic_table(u["tactic"])
        self._side = _Sides(
            kills_per_shooter=np.array([sc.attacker.aimed_kills_per_shooter_per_day,
                                        sc.defender.aimed_kills_per_shooter_per_day]),
            killed_fraction=np.array([sc.attacker.killed_fraction, sc.defender.killed_fraction]),
            return_fraction=np.array([sc.attacker.return_to_duty_fraction,
                                      sc.defender.return_to_duty_fraction]),
            return_delay=np.array([sc.attacker.return_delay_days,
                                   sc.defender.return_delay_days]))
        # Per-person daily hazard that gives the fixed loss share; inf marks "not fixed".
        self._fixed_hazard_per_day = np.array([
            np.inf if f is None else -np.log1p(-f) if f < 1 else 1e9
            for f in (sc.attacker.fixed_daily_loss_fraction,
                      sc.defender.fixed_daily_loss_fraction)])
        self._any_fixed_loss = bool(np.isfinite(self._fixed_hazard_per_day).any())
        # Ring buffer of wounded due back, per unit and day modulo its length.
        self._care_ring = np.zeros((n, int(self._side.return_delay.max()) + 1), dtype=np.int64)
        self._footprint_m2 = u["initial_personnel"] * self._tactic["spacing_m"] ** 2
        n_cont = len(self.contingents)
        configs = [getattr(sc, side).contingents.get(name)
                   for side, name in self.contingents]
        self.pipelines = Pipelines(configs, sc.training.time_constant_days)
        defaults = [c or ContingentConfig() for c in configs]
        self._contingent_configs = configs
        self._refill_below = np.array([c.refill_below_strength for c in defaults])
        self._rotate_below = np.array([c.rotate_below_strength for c in defaults])
        self._return_morale = np.array([c.return_morale for c in defaults])
        self._rear_recovery = np.array([c.rear_morale_recovery_per_day for c in defaults])
        self._new_unit_size = [c.new_unit_size for c in defaults]
        # Only contingents with a configuration rally routed units and rotate tired ones.
        self._rotates = np.array([c is not None for c in configs])
        self.contingent_withdrawn = np.zeros(n_cont, dtype=bool)
        self._strength_at_start = self._contingent_sum(u["initial_personnel"])
        self._first_tactic = np.array([u["tactic"][np.flatnonzero(u["contingent"] == k)[0]]
                                       for k in range(n_cont)])
        self._placed = [int(np.count_nonzero(u["side"] == s)) for s in (0, 1)]
        self._start_row = [sector.attacker_rows - 1, defender_front]
        # The trained reserve: graduates and returned wounded awaiting a unit, with the
        # sums of their training days and levels (merged into units as weighted means).
        self.reserve = np.zeros(n_cont, dtype=np.int64)
        self._reserve_training_days = np.zeros(n_cont)
        self._reserve_level = np.zeros(n_cont)
        self.cells_taken = np.zeros(n_cont, dtype=np.int64)
        self._casualties_by_cause = np.zeros((2, len(combat.CAUSES)), dtype=np.int64)
        self._training_days_lost = np.zeros(2)
        self._prev_totals = {f: np.zeros(n_cont, dtype=np.int64) for f in _FLOWS}
        self.unit_agents: list[Unit] = list(Unit.create_agents(self, n, index=list(range(n))))
        # Cell id each agent stands in (-1: off the grid); agents move when it changes.
        self._agent_cell = np.full(n, -1)
        self._sync_cells()

    def _tactic_table(self, tactic_ids: np.ndarray) -> None:
        """Per-unit columns of the tactic parameters, looked up once."""
        profiles = [self.config.tactics[name] for name in TACTICS]
        self._tactic = {
            field: np.array([getattr(p, field) for p in profiles], dtype=float)[tactic_ids]
            for field in ("spacing_m", "advance_speed_m_per_day", "assault_speed_m_per_day",
                          "fire_multiplier", "exposure", "training_leverage", "mine_exposure",
                          "break_morale", "clears_mines")}
        self._tactic["clears_mines"] = self._tactic["clears_mines"].astype(bool)
        self._elastic = tactic_ids == TACTICS.index("elastic_defense")

    def _row(self, y_m: float) -> int:
        return min(self.depth - 1, max(0, int(y_m // self.cell_size_m)))

    # ---------------------------------------------------------------- helpers
    def experience(self) -> np.ndarray:
        """Experience of every unit (0-1), from its days in action."""
        return combat.saturating_growth(self.units["days_in_action"],
                                        self.config.combat.experience_time_constant_days)

    def skill(self) -> np.ndarray:
        """Skill of every unit (0-1): training and experience, as far as its tactic allows."""
        c = self.config.combat
        return combat.skill(self.units["training_level"], self.experience(),
                            self._tactic["training_leverage"], c.experience_weight)

    def _depth_rows(self, y_m: np.ndarray) -> np.ndarray:
        """Row (cell index in depth) of positions ``y_m`` (m)."""
        rows = (y_m // self.cell_size_m).astype(np.int64)
        return np.minimum(np.maximum(rows, 0), self.depth - 1)

    def _cells(self) -> np.ndarray:
        """Flat cell index (``x * depth + row``) of every unit."""
        return self.units["x"] * self.depth + self._depth_rows(self.units["y_m"])

    # ------------------------------------------------------------------- step
    def step(self) -> None:
        """Advance one day."""
        if not self.running:
            return
        self.day += 1
        self._return_wounded()
        self._generate_forces()
        self._commit_waves()
        self.units["casualties_today"][:] = 0
        self._prepare_day()
        c = self.config.combat
        dt = 1.0 / c.substeps_per_day
        for substep in range(c.substeps_per_day):
            self.stop_reason = self._substep(dt, substep)
            if self.stop_reason:
                break
        self._end_of_day()
        if self.stop_reason is None and self.day >= self.config.max_days:
            self.stop_reason = "max_days"
        if self.stop_reason:
            self.running = False

    def run(self) -> None:
        """Step until a stop condition or ``max_days``."""
        while self.running:
            self.step()

    def _return_wounded(self) -> None:
        u = self.units
        slot = self.day % self._care_ring.shape[1]
        back = self._care_ring[:, slot].copy()
        self._care_ring[:, slot] = 0
        u["in_care"] -= back
        u["returned"] += back
        # Back to their unit if it fights, up to its starting strength (it may have been
        # refilled meanwhile); the rest to the contingent's trained reserve.
        room = np.where(IS_FIGHTING[u["state"]],
                        np.maximum(0, u["initial_personnel"] - u["personnel"]), 0)
        to_unit = np.minimum(back, room)
        u["personnel"] += to_unit
        to_reserve = back - to_unit
        self.reserve += self._contingent_sum(to_reserve)
        self._reserve_training_days += np.bincount(
            u["contingent"], weights=to_reserve * u["training_days"],
            minlength=len(self.contingents))
        self._reserve_level += np.bincount(u["contingent"],
                                           weights=to_reserve * u["training_level"],
                                           minlength=len(self.contingents))

    def _generate_forces(self) -> None:
        """Recruit from the pools, graduate finished cohorts into the trained reserve,
        refill units below strength (in the line or in the rear), form new units from what
        is left, and send rested units in the rear back to the line."""
        u = self.units
        in_line = self._contingent_sum(u["personnel"], IS_FIGHTING[u["state"]])
        shortfall = self._strength_at_start - (
            self._contingent_sum(u["personnel"] + u["in_care"]) + self.reserve
            + self.pipelines.in_training)
        self.pipelines.recruit(self.day, in_line / np.maximum(1, self._strength_at_start),
                               shortfall, active=~self.contingent_withdrawn)
        persons, training_days, levels = self.pipelines.graduate(self.day)
        self.reserve += persons
        self._reserve_training_days += training_days
        self._reserve_level += levels
        strength = u["personnel"] / u["initial_personnel"]
        candidates = (u["personnel"] > 0) & (IS_FIGHTING[u["state"]] | self._in_rear())
        for k in np.flatnonzero((self.reserve > 0) & ~self.contingent_withdrawn):
            needy = np.flatnonzero(candidates & (u["contingent"] == k)
                                   & (strength < self._refill_below[k]))
            needy = needy[np.argsort(strength[needy], kind="stable")]
            deficit = u["initial_personnel"][needy] - u["personnel"][needy]
            give = np.clip(self.reserve[k] - (np.cumsum(deficit) - deficit), 0, deficit)
            self._join_units(k, needy, give)
        # New units only from what refills left, once every contingent is refilled.
        for k in np.flatnonzero(~self.contingent_withdrawn):
            size = self._new_unit_size[k]
            if size and self.reserve[k] >= size:
                self._form_units(k, int(self.reserve[k] // size), size)
        # Rested units in the rear go back to where they started.
        u = self.units
        # The tolerance lets morale regained in steps of 0.1 reach a threshold of 0.7.
        back = (self._in_rear() & (u["morale"] >= self._return_morale[u["contingent"]] - 1e-9)
                & (u["personnel"] > self._rotate_below[u["contingent"]] * u["initial_personnel"]))
        if back.any():
            u["state"][back] = np.where(u["side"][back] == ATTACKER, ADVANCING, HOLDING)
            u["y_m"][back] = u["y0_m"][back]
            self._occupancy_changed = True
            for i in np.flatnonzero(back):
                self._event(-1, "unit_returned", i)

    def _join_units(self, k: int, units: np.ndarray, give: np.ndarray) -> None:
        """Move ``give`` persons from contingent ``k``'s reserve into ``units``, blending
        training days and level as personnel-weighted means."""
        given = int(give.sum())
        if given == 0:
            return
        u = self.units
        mean_days = self._reserve_training_days[k] / self.reserve[k]
        mean_level = self._reserve_level[k] / self.reserve[k]
        old = u["personnel"][units]
        new = old + give
        u["training_days"][units] = (old * u["training_days"][units] + give * mean_days) / new
        u["training_level"][units] = (old * u["training_level"][units] + give * mean_level) / new
        u["personnel"][units] = new
        self.reserve[k] -= given
        self._reserve_training_days[k] -= given * mean_days
        self._reserve_level[k] -= given * mean_level

    def _form_units(self, k: int, count: int, size: int) -> None:
        """Form ``count`` new units of ``size`` from contingent ``k``'s reserve. They take
        the contingent's first tactic, start fresh (morale 1, no experience or adaptation)
        and enter at the side's start rows."""
        u = self.units
        side = SIDES.index(self.contingents[k][0])
        level = self._reserve_level[k] / self.reserve[k]
        days = self._reserve_training_days[k] / self.reserve[k]
        first = len(u["side"])
        slots = self._placed[side] + np.arange(count)
        self._placed[side] += count
        y_m = (self._start_row[side] + 0.5) * self.cell_size_m
        new = dict(side=side, contingent=k, tactic=self._first_tactic[k], personnel=0,
                   initial_personnel=size, training_days=days, training_level=level,
                   days_in_action=0.0, theatre_adaptation=0.0, initial_adaptation=0.0,
                   morale=1.0, initial_morale=1.0,
                   commit_day=self.day, x=(slots * _stride(self.width)) % self.width, y_m=y_m,
                   y0_m=y_m, state=ADVANCING if side == ATTACKER else HOLDING)
        for key, column in u.items():
            u[key] = np.concatenate([column, np.broadcast_to(
                np.asarray(new.get(key, 0), dtype=column.dtype), count)])
        index = np.arange(first, first + count)
        self._join_units(k, index, np.full(count, size))
        self._care_ring = np.vstack([self._care_ring,
                                     np.zeros((count, self._care_ring.shape[1]), np.int64)])
        self._tactic_table(u["tactic"])
        self._footprint_m2 = u["initial_personnel"] * self._tactic["spacing_m"] ** 2
        self._agent_cell = np.concatenate([self._agent_cell, np.full(count, -1)])
        self.unit_agents += list(Unit.create_agents(self, count, index=index.tolist()))
        self._occupancy_changed = True
        for i in index:
            self._event(-1, "unit_formed", i)

    def _in_rear(self) -> np.ndarray:
        """Units resting behind the line: out of the sector, not destroyed, of a contingent
        that rotates its units and has not been withdrawn."""
        u = self.units
        k = u["contingent"]
        return ((u["state"] == WITHDRAWN) & (u["personnel"] > 0) & self._rotates[k]
                & ~self.contingent_withdrawn[k])

    def _replenishable(self) -> np.ndarray:
        """Per contingent: whether people will still come to it (it is not withdrawn and
        has people in its pool, in training, in its reserve or in care)."""
        p = self.pipelines
        in_care = self._contingent_sum(self.units["in_care"])
        return ~self.contingent_withdrawn & (
            (p.pool > 0) | (p.in_training > 0) | (self.reserve > 0) | (in_care > 0))

    def _can_return(self) -> np.ndarray:
        """Units in the rear that will fight again: strong enough to return once rested,
        or of a contingent that can still refill them."""
        u = self.units
        k = u["contingent"]
        strong = u["personnel"] > self._rotate_below[k] * u["initial_personnel"]
        return self._in_rear() & (strong | self._replenishable()[k])

    def _will_form_units(self) -> np.ndarray:
        """Per contingent: whether it will still form new units."""
        forms = np.array([size is not None for size in self._new_unit_size])
        return forms & self._replenishable()

    def _commit_waves(self) -> None:
        u = self.units
        due = (u["state"] == RESERVE) & (u["commit_day"] <= self.day)
        u["state"][due] = np.where(u["side"][due] == ATTACKER, ADVANCING, HOLDING)
        self._occupancy_changed |= bool(due.any())

    def _prepare_day(self) -> None:
        """What stays fixed through the day's sub-steps: skill, kill rates and exposure
        (they change with days in action only), protection by the cells' cover and
        fortification, and the units waiting in reserve (they leave it only when their
        wave is committed, at the start of a day)."""
        u, c = self.units, self.config.combat
        self._skill_today = self.skill()
        self._kill_rate_today = (self._side.kills_per_shooter[u["side"]]
                                 * self._tactic["fire_multiplier"]
                                 * (1.0 + c.training_hit_gain * self._skill_today))
        self._exposure_today = (self._tactic["exposure"]
                                * (1.0 - c.training_exposure_reduction * self._skill_today))
        self._aimed_radius_cells = max(1, math.ceil(c.aimed_fire_range_m / self.cell_size_m))
        self._cover_factor = 1.0 - c.cover_protection * self.grid.cover.data.reshape(-1)
        # Per side and cell: fortification protects only the defender, who built it.
        self._fortification_factor = np.concatenate([
            np.ones(self._cover_factor.size),
            1.0 - c.fortification_protection * self.grid.fortification.data.reshape(-1)])
        self._reserve_units = np.bincount(u["side"][u["state"] == RESERVE], minlength=2)
        self._engaged_today, self._engaged_stale = None, False

    def _engaged(self, dt: float) -> _Engaged:
        """The units in the sector, with their columns fixed for the day. Within a day
        units only leave the sector (destroyed, or routed off it): those who did are
        dropped from the set, and fire support, which depends on it, is set again."""
        e = self._engaged_today
        if e is not None and not self._engaged_stale:
            return e
        u = self.units
        if e is None:
            e = self._gather_engaged(
                (IS_IN_SECTOR[u["state"]] & (u["personnel"] > 0)).nonzero()[0], dt)
        else:
            e = e.without(IS_IN_SECTOR[u["state"][e.index]] & (u["personnel"][e.index] > 0))
        self._fire_support(e, dt)
        self._engaged_today, self._engaged_stale = e, False
        return e

    def _gather_engaged(self, a: np.ndarray, dt: float) -> _Engaged:
        """The units ``a`` (in the sector) and their columns fixed for the day."""
        u, c, tactic = self.units, self.config.combat, self._tactic
        side, x, y_m = u["side"][a], u["x"][a], u["y_m"][a]
        row = self._depth_rows(y_m)
        return _Engaged(
            index=a, side=side, attacking=side == ATTACKER, x=x, y_m=y_m, y0_m=u["y0_m"][a],
            row=row, cells=x * self.depth + row, side_cells=side * self.width * self.depth,
            kill_rate=self._kill_rate_today[a], exposure=self._exposure_today[a],
            drone_exposure=1.0 - c.drone_adaptation_effect * u["theatre_adaptation"][a],
            skill=self._skill_today[a], training_days=u["training_days"][a],
            mine_exposure=tactic["mine_exposure"][a],
            advance_speed=tactic["advance_speed_m_per_day"][a],
            assault_speed=tactic["assault_speed_m_per_day"][a],
            clears_mines=tactic["clears_mines"][a], elastic=self._elastic[a],
            break_morale=tactic["break_morale"][a],
            killed_fraction=self._side.killed_fraction[side],
            return_fraction=self._side.return_fraction[side],
            return_delay=self._side.return_delay[side],
            fixed_hazard=self._fixed_hazard_per_day[side] * dt if self._any_fixed_loss
            else np.zeros(0))

    def _fire_support(self, e: _Engaged, dt: float) -> None:
        """Artillery and drone hazards on each side's units in the sector, spread over
        their footprints (ODD 7.3), and each side's organic fire rate."""
        e.footprint_m2 = np.bincount(e.side, weights=self._footprint_m2[e.index], minlength=2)
        artillery, drones, organic, organic_area = np.zeros((4, 2))
        for firer, target in ((ATTACKER, DEFENDER), (DEFENDER, ATTACKER)):
            if e.footprint_m2[target] == 0.0:
                continue
            cfg = self.config.attacker if firer == ATTACKER else self.config.defender
            area = float(e.footprint_m2[target])
            # Artillery and drones fire from behind the line, with or without infantry.
            artillery[target] = combat.area_fire_hazard(
                cfg.artillery_strikes_per_day * dt, cfg.artillery_lethal_area_m2, area)
            drones[target] = combat.area_fire_hazard(
                cfg.drones * cfg.strikes_per_drone_per_day * dt, cfg.drone_lethal_area_m2, area)
            organic[firer] = cfg.area_strikes_per_person_per_day
            organic_area[firer] = cfg.organic_lethal_area_m2
        e.artillery_hazard, e.organic_strikes_per_person = artillery, organic
        e.organic_lethal_area_m2 = organic_area
        e.drone_hazard = drones[e.side] * e.drone_exposure

    def _substep(self, dt: float, substep: int) -> str | None:
        """One combat sub-step of the units in the sector; ``sim.model.kernels`` makes the
        passes over them, with draws from the model's numpy Generator.

        The others cannot fire, be hit or move, and a binomial draw with no one exposed
        uses no random numbers, so the draws are those of a pass over all units."""
        u, c = self.units, self.config.combat
        e = self._engaged(dt)
        a = e.index
        state, personnel = u["state"][a], u["personnel"][a]
        fighting = IS_FIGHTING[state]

        # Aimed fire: box sums over the contact band (ODD 7.3).
        radius = self._aimed_radius_cells
        band_first, band_rows, present, fire = kernels.contact_grids(
            e.side, e.x, e.row, personnel, fighting, e.kill_rate, e.elastic, dt, radius,
            self.width)
        per_target = in_range = present
        if band_rows:
            per_target, in_range = combat.aimed_fire(present, fire, radius)
        mines = self.grid.mines.data.reshape(-1)
        hazards, move_m, removed, clearing, moving = kernels.hazards_and_moves(
            e.side, e.attacking, e.x, e.y_m, e.row, e.cells, e.side_cells, e.exposure,
            e.drone_hazard, e.skill, e.mine_exposure, e.advance_speed, e.assault_speed,
            e.clears_mines, e.elastic, e.y0_m, state, personnel, fighting, band_first,
            band_rows, per_target.reshape(-1), in_range.reshape(-1), present.reshape(-1),
            self._shelling(e, fighting, personnel, dt), self._cover_factor,
            self._fortification_factor, mines, self.grid.control.data.reshape(-1),
            e.fixed_hazard, self._cell_scratch, dt, self.width, self.depth, self.cell_size_m,
            self.cell_area_m2, self._defender_front_row, c.mine_sweep_width_m,
            c.mines_cleared_per_person_per_day, c.clearance_casualties_per_mine,
            c.routed_speed_m_per_day, c.elastic_fallback_ratio, c.elastic_counterattack_ratio,
            c.elastic_max_fallback_m)
        u["state"][a] = state

        broken, destroyed = kernels.resolve_casualties(
            self.rng, combat.casualty_probability(hazards), hazards, a, e.side, personnel,
            state, e.killed_fraction, e.return_fraction, e.return_delay, e.training_days,
            e.break_morale, removed, clearing, e.cells, u["personnel"], u["killed"],
            u["wounded"], u["permanently_lost"], u["in_care"], u["casualties_today"], u["morale"],
            u["state"], self._care_ring, self._casualties_by_cause, self._training_days_lost,
            mines, self._cell_scratch, IS_FIGHTING, self.day,
            c.morale_loss_per_casualty_fraction, c.morale_enabled)
        for i in broken:
            self._event(substep, "unit_routed", i)
        for i in destroyed:
            self._event(substep, "unit_destroyed", i)
        if broken.size or destroyed.size:
            self._occupancy_changed = True
        if destroyed.size:
            self._engaged_stale = True
        if moving:
            self._occupancy_changed = True
            edge = self.depth * self.cell_size_m
            if kernels.move_units(a, e.x, e.y_m, e.row, e.cells, move_m, u["state"], u["y_m"],
                                  edge, np.nextafter(edge, 0.0), self.cell_size_m, self.depth):
                self._engaged_stale = True  # routed units left the sector
        standing, counts, breakthrough, contested = kernels.standing(
            a, e.side, e.y_m, e.cells, u["state"], u["personnel"],
            self.grid.control.data.reshape(-1), IS_FIGHTING,
            (self.depth - 1) * self.cell_size_m)
        if self._occupancy_changed:
            self._occupancy_changed = False
            if contested:
                self._update_control(e, standing, substep)
        return self._stop_condition(e, standing, counts, breakthrough)

    def _shelling(self, e: _Engaged, fighting: np.ndarray, personnel: np.ndarray,
                  dt: float) -> np.ndarray:
        """Per-person hazard of artillery and organic fire on each side this sub-step,
        before protection: artillery is fixed for the day, organic fire grows with the
        enemy's soldiers fighting (ODD 7.3)."""
        if not np.count_nonzero(e.organic_strikes_per_person):
            return e.artillery_hazard
        shooters = np.bincount(e.side, weights=np.where(fighting, personnel, 0), minlength=2)
        shelling = e.artillery_hazard.copy()
        # A side has an organic fire rate only where the enemy has units in the sector.
        for firer in e.organic_strikes_per_person.nonzero()[0]:
            target = 1 - firer
            organic = combat.area_fire_hazard(
                e.organic_strikes_per_person[firer] * float(shooters[firer]) * dt,
                e.organic_lethal_area_m2[firer], float(e.footprint_m2[target]))
            shelling[target] = organic + e.artillery_hazard[target]
        return shelling

    def _update_control(self, e: _Engaged, standing: np.ndarray, substep: int) -> None:
        """A cell changes hands when only the other side's fighting units stand in it
        (``standing``: which of the units in the sector still fight)."""
        taken, takers = kernels.cells_changing_hands(
            e.index, e.side, e.cells, standing, self.grid.control.data.reshape(-1))
        contingent = self.units["contingent"]
        for i in takers:
            self.cells_taken[contingent[i]] += 1
            self._event(substep, "cell_taken", i)

    def _stop_condition(self, e: _Engaged, standing: np.ndarray, counts: np.ndarray,
                        breakthrough: bool) -> str | None:
        """Why the battle ends after this sub-step, if it does (``standing``: which of
        the units in the sector still fight; ``counts``: how many on each side;
        ``breakthrough``: whether an attacker among them reached the rear row)."""
        u = self.units
        able = [counts[ATTACKER] + self._reserve_units[ATTACKER] > 0,
                counts[DEFENDER] + self._reserve_units[DEFENDER] > 0]
        if not (able[ATTACKER] and able[DEFENDER]):
            # Units resting in the rear will fight again, and a contingent that forms new
            # units from its pipeline will send more; looked at only when needed.
            later = np.bincount(u["side"][self._can_return()
                                          | self._will_form_units()[u["contingent"]]],
                                minlength=2) > 0
            able = [able[s] or bool(later[s]) for s in (ATTACKER, DEFENDER)]
        if not able[ATTACKER]:
            return "attacker_broken"
        if breakthrough:
            return "breakthrough"
        if not able[DEFENDER]:
            # Attackers that can move walk on to a breakthrough, so ground is measured.
            if not np.count_nonzero(e.advance_speed[standing & e.attacking] > 0):
                return "defender_broken"
        return None

    def _end_of_day(self) -> None:
        u, c = self.units, self.config.combat
        committed = IS_IN_SECTOR[u["state"]]
        u["days_in_action"] += committed
        growth = combat.saturating_growth(u["days_in_action"], c.adaptation_time_constant_days)
        # Adaptation closes the gap from its starting level as days in action accumulate.
        u["theatre_adaptation"] = np.where(
            committed, np.maximum(u["theatre_adaptation"],
                                  u["initial_adaptation"]
                                  + (1 - u["initial_adaptation"]) * growth),
            u["theatre_adaptation"])
        quiet = committed & (u["casualties_today"] == 0)
        u["morale"] = morale.recover(u["morale"], quiet, c.morale_recovery_per_day,
                                     u["initial_morale"])
        self._rotate_and_withdraw()
        self._sync_cells()
        self._record_day()

    def _rotate_and_withdraw(self) -> None:
        """Tired units rotate to the rear, units in the rear rest, and a contingent whose
        losses pass its threshold (or that can no longer be replenished) is withdrawn."""
        u = self.units
        k = u["contingent"]
        tired = (IS_FIGHTING[u["state"]] & (u["personnel"] > 0) & self._rotates[k]
                 & (u["personnel"] < self._rotate_below[k] * u["initial_personnel"]))
        for i in np.flatnonzero(tired):
            self._event(-1, "unit_rotated", i)
        u["state"][tired] = WITHDRAWN
        rear = self._in_rear()
        u["morale"][rear] = np.minimum(1.0, u["morale"][rear] + self._rear_recovery[k[rear]])
        losses = self._contingent_sum(u["killed"] + u["wounded"])
        deployed = self._strength_at_start + self.pipelines.graduated_total
        for c in np.flatnonzero(~self.contingent_withdrawn):
            config = self._contingent_configs[c]
            if config is None:
                continue
            over = (config.withdraw_at_loss_fraction is not None
                    and losses[c] > config.withdraw_at_loss_fraction * deployed[c])
            spent = (config.withdraw_when_exhausted and self.pipelines.pool[c] == 0
                     and self.pipelines.in_training[c] == 0 and self.reserve[c] == 0)
            if over or spent:
                self.contingent_withdrawn[c] = True
                leaving = (k == c) & (u["state"] != DESTROYED)
                u["state"][leaving] = WITHDRAWN
                self._event(-1, "contingent_withdrawn", None, contingent=c)
        self._occupancy_changed |= bool(tired.any() or self.contingent_withdrawn.any())

    def _sync_cells(self) -> None:
        """Put agents in the cells their units stand in; units out of the sector leave
        the grid. Only agents whose cell changed are touched."""
        cell = np.where(IS_IN_SECTOR[self.units["state"]], self._cells(), -1)
        cells = self._grid_cells
        for i in (cell != self._agent_cell).nonzero()[0].tolist():
            c = int(cell[i])
            self.unit_agents[i].cell = None if c < 0 else cells[c]
        self._agent_cell = cell

    def _event(self, substep: int, kind: str, i: int | None, contingent: int | None = None):
        """Log an event of unit ``i`` (or, with ``i`` None, of a whole ``contingent``);
        day-level events have sub-step -1 and contingent events unit -1 at cell (-1, -1)."""
        u = self.units
        if i is None:
            side, name = self.contingents[contingent]
            self.events.append((self.day, substep, kind, side, name, -1, -1, -1))
            return
        self.events.append((self.day, substep, kind, SIDES[u["side"][i]],
                            self.contingents[u["contingent"][i]][1],
                            self.unit_agents[i].unique_id, int(u["x"][i]),
                            self._row(u["y_m"][i])))

    # ---------------------------------------------------------------- records
    def _contingent_sum(self, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        u = self.units
        weights = values if mask is None else np.where(mask, values, 0)
        return np.bincount(u["contingent"], weights=weights,
                           minlength=len(self.contingents)).astype(np.int64)

    def _totals(self) -> dict[str, np.ndarray]:
        """Cumulative totals per contingent, from which the daily flows are taken."""
        u = self.units
        return {"killed": self._contingent_sum(u["killed"]),
                "wounded": self._contingent_sum(u["wounded"]),
                "returned": self._contingent_sum(u["returned"]),
                "permanently_lost": self._contingent_sum(u["permanently_lost"]),
                "recruited": self.pipelines.recruited_total.copy(),
                "graduated": self.pipelines.graduated_total.copy()}

    def _record_day(self) -> None:
        u = self.units
        n_cont = len(self.contingents)
        totals = self._totals()
        in_sector = IS_IN_SECTOR[u["state"]] & (u["personnel"] > 0)
        cells, n_cells = self._cells(), self.width * self.depth
        columns = {
            "personnel": self._contingent_sum(u["personnel"]),
            "personnel_fighting": self._contingent_sum(u["personnel"], IS_FIGHTING[u["state"]]),
            "reserve": self.reserve,
            "in_care": self._contingent_sum(u["in_care"]),
            "pool": self.pipelines.pool,
            "in_training": self.pipelines.in_training,
            **{f: totals[f] - self._prev_totals[f] for f in _FLOWS},
            "killed_total": totals["killed"],
            "wounded_total": totals["wounded"],
            "permanently_lost_total": totals["permanently_lost"],
            "cells_held": np.bincount(np.unique(u["contingent"][in_sector] * n_cells
                                                + cells[in_sector]) // n_cells,
                                      minlength=n_cont),
            "ground_gained_m": self.cells_taken * self.cell_size_m / self.width,
        }
        self._prev_totals = totals
        block = np.zeros((n_cont + 2, len(RECORD_COLUMNS) - 3))
        for j, name in enumerate(RECORD_COLUMNS[3:]):
            block[:n_cont, j] = columns[name]
        side_of = np.array([SIDES.index(s) for s, _ in self.contingents])
        control = self.grid.control.data
        for s in (0, 1):
            block[n_cont + s] = block[:n_cont][side_of == s].sum(axis=0)
            block[n_cont + s, -2] = np.count_nonzero(control == s)
            block[n_cont + s, -1] = self.ground_gained_m(s)
        self._rows.append(block)

    def ground_gained_m(self, side: int = ATTACKER) -> float:
        """Net ground the side holds that the enemy held at start, as a mean advance (m)."""
        gained = np.count_nonzero((self.grid.control.data == side)
                                  & (self.initial_control == 1 - side))
        return float(gained * self.cell_size_m / self.width)

    def daily_records(self) -> pd.DataFrame:
        """Tidy daily record: one row per day and contingent, plus a row per side
        (``contingent == 'all'``). Column meanings are in ``docs/ODD.md`` section 7.9."""
        labels = self.contingents + [(s, "all") for s in SIDES]
        days = len(self._rows)
        data = np.vstack(self._rows)
        frame = pd.DataFrame(data, columns=list(RECORD_COLUMNS[3:]))
        frame = frame.astype({c: "int64" for c in RECORD_COLUMNS[3:-1]})
        frame.insert(0, "contingent", [c for _, c in labels] * days)
        frame.insert(0, "side", [s for s, _ in labels] * days)
        frame.insert(0, "day", np.repeat(np.arange(days), len(labels)))
        return frame

    def events_frame(self) -> pd.DataFrame:
        """Event log: cells taken, units routed or destroyed, with day and sub-step."""
        return pd.DataFrame(self.events, columns=["day", "substep", "kind", "side", "contingent",
                                                  "unit_id", "x", "y"])

    def front_map(self) -> dict[str, Any]:
        """The sector now: ``control``, ``mines`` and ``fortification`` as (width, depth)
        arrays (x along the front, y in depth from the attacker's rear), the cell size
        (m), every contingent as (side, name) in a fixed order (so that colours stay the
        same from day to day), and the units in the sector (side, contingent, state,
        personnel, x, y_m)."""
        u = self.units
        here = IS_IN_SECTOR[u["state"]] & (u["personnel"] > 0)
        units = pd.DataFrame({
            "side": [SIDES[s] for s in u["side"][here]],
            "contingent": [self.contingents[k][1] for k in u["contingent"][here]],
            "state": [STATES[s] for s in u["state"][here]],
            "personnel": u["personnel"][here], "x": u["x"][here], "y_m": u["y_m"][here]})
        return {"control": self.grid.control.data.copy(), "mines": self.grid.mines.data.copy(),
                "fortification": self.grid.fortification.data.copy(),
                "initial_control": self.initial_control.copy(),
                "cell_size_m": self.cell_size_m, "day": self.day,
                "contingents": list(self.contingents), "units": units}

    def conservation_totals(self) -> np.ndarray:
        """Per contingent: pool + in training + personnel + reserve + in care + killed +
        permanently lost. Constant over a run (no one is created or lost by book-keeping)."""
        u = self.units
        return (self._contingent_sum(u["personnel"] + u["in_care"] + u["killed"]
                                     + u["permanently_lost"]) + self.reserve
                + self.pipelines.pool + self.pipelines.in_training)

    def summary(self) -> dict[str, Any]:
        """Run summary; keys and meanings are in ``docs/ODD.md`` section 7.9."""
        u = self.units
        out: dict[str, Any] = {"days": self.day, "stop_reason": self.stop_reason,
                               "winner": _WINNER.get(self.stop_reason)}
        casualties = {}
        for s, name in enumerate(SIDES):
            mine = u["side"] == s
            out[f"{name}_killed"] = int(u["killed"][mine].sum())
            out[f"{name}_wounded"] = int(u["wounded"][mine].sum())
            out[f"{name}_permanently_lost"] = int(u["permanently_lost"][mine].sum())
            out[f"{name}_personnel"] = int(u["personnel"][mine].sum())
            for k, cause in enumerate(combat.CAUSES):
                out[f"{name}_casualties_{cause}"] = int(self._casualties_by_cause[s, k])
            out[f"{name}_training_days_lost"] = float(self._training_days_lost[s])
            casualties[name] = out[f"{name}_killed"] + out[f"{name}_wounded"]
        out["loss_exchange_ratio"] = (casualties["attacker"] / casualties["defender"]
                                      if casualties["defender"] else None)
        out["ground_gained_m"] = self.ground_gained_m(ATTACKER)
        km = out["ground_gained_m"] / 1000.0
        out["attacker_casualties_per_km"] = casualties["attacker"] / km if km > 0 else None
        out["attacker_training_days_lost_per_km"] = (
            out["attacker_training_days_lost"] / km if km > 0 else None)
        out["training_days_lost"] = float(self._training_days_lost.sum())
        out.update(self._sustainability())
        return out

    def side_history(self, column: str) -> np.ndarray:
        """(days + 1, 2) array of a daily-record column (``RECORD_COLUMNS``) for the
        attacker and the defender: what the live charts draw, without building a frame."""
        j = RECORD_COLUMNS.index(column) - 3
        n_cont = len(self.contingents)
        return np.array([block[n_cont:n_cont + 2, j] for block in self._rows])

    def _sustainability(self, window_days: int = PROJECTION_WINDOW_DAYS) -> dict[str, Any]:
        """Pool exhaustion, its projection, and loss and recruitment rates per side."""
        pool = self.side_history("pool")
        lost = self.side_history("killed") + self.side_history("permanently_lost")
        recruited = self.side_history("recruited")
        days = len(pool) - 1
        window = min(window_days, days)
        out: dict[str, Any] = {}
        for s, name in enumerate(SIDES):
            gone = np.flatnonzero((pool[:, s] == 0) & (pool[0, s] > 0))
            exhausted = int(gone[0]) if gone.size else None
            out[f"{name}_pool_exhausted_day"] = exhausted
            projected = exhausted
            if exhausted is None and window > 0:
                rate = (pool[days - window, s] - pool[days, s]) / window
                if rate > 0:
                    projected = float(days + pool[days, s] / rate)
            out[f"{name}_projected_exhaustion_day"] = projected
            out[f"{name}_mean_daily_permanent_losses"] = (
                float(lost[1:, s].sum()) / days if days else None)
            out[f"{name}_mean_daily_recruits"] = (
                float(recruited[1:, s].sum()) / days if days else None)
            # Recruits a day that would replace the permanent losses of the last days.
            out[f"{name}_break_even_recruitment"] = (
                float(lost[days - window + 1:, s].sum()) / window if window else None)
        return out


_WINNER = {"attacker_broken": "defender", "defender_broken": "attacker",
           "breakthrough": "attacker", "max_days": "none"}



def _stride(width: int) -> int:
    """A stride near the golden ratio of the width that is co-prime with it."""
    stride = max(1, round(width * 0.618))
    while math.gcd(stride, width) != 1:
        stride += 1
    return stride
