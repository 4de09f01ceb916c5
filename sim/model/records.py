"""Observation (ODD 7.9): the daily record, the event log, the run summary and the front
map, each read off the model's subsystems."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
from numba import njit

from sim.model.physics import CAUSES
from sim.model.units import IS_FIGHTING, IS_IN_SECTOR, STATES
from sim.sides import ATTACKER, SIDES

if TYPE_CHECKING:
    from sim.model.model import AttritionModel

# Days of recent history behind the projected pool exhaustion and break-even recruitment.
PROJECTION_WINDOW_DAYS = 30
RECORD_COLUMNS = (
    "day", "side", "contingent", "personnel", "personnel_fighting", "reserve", "in_care",
    "pool", "in_training", "killed", "wounded", "returned", "permanently_lost", "recruited",
    "graduated", "released", "killed_total", "wounded_total", "permanently_lost_total",
    "released_total", "cells_held", "ground_gained_m",
)
# Daily flows, recorded as the day's change in a cumulative total of the same name.
_FLOWS = ("killed", "wounded", "returned", "permanently_lost", "recruited", "graduated",
          "released")
_WINNER = {"attacker_broken": "defender", "defender_broken": "attacker",
           "breakthrough": "attacker", "objective_taken": "attacker", "both_broken": "draw",
           "max_days": "none"}
#: A linear projection of pool exhaustion (from the last PROJECTION_WINDOW_DAYS) is
#: reported only out to this day (ODD 7.9): a month's drawdown says nothing of a decade
#: on, so past it the summary says only that the pool outlasts the horizon.
PROJECTION_HORIZON_DAYS = 3650


# Columns of _contingent_sums.
(_PERSONNEL, _PERSONNEL_FIGHTING, _IN_CARE, _KILLED, _WOUNDED, _RETURNED, _PERMANENTLY_LOST,
 _CELLS_HELD) = range(8)


@njit(cache=True)
def _contingent_sums(units, n_contingents, width, depth, cell_size_m):
    """Per contingent, in one pass over the unit column store ``units``: the persons in
    its units, of them in fighting units, its wounded in care, its killed, wounded,
    returned and permanently lost so far, and the cells its units in the sector (with
    someone left) stand in (columns as named above).

    A numpy reduction per column did this (each over a field of the structured array,
    copied first) and ``np.unique`` the cells: about a tenth of the day's time with
    every unit in the sector."""
    contingent, state, personnel = units.contingent, units.state, units.personnel
    x, y_m = units.x, units.y_m
    out = np.zeros((n_contingents, 8), dtype=np.int64)
    occupied = np.zeros((n_contingents, width * depth), dtype=np.bool_)
    for i in range(contingent.size):
        k = contingent[i]
        out[k, _PERSONNEL] += personnel[i]
        if IS_FIGHTING[state[i]]:
            out[k, _PERSONNEL_FIGHTING] += personnel[i]
        out[k, _IN_CARE] += units[i].in_care
        out[k, _KILLED] += units[i].killed
        out[k, _WOUNDED] += units[i].wounded
        out[k, _RETURNED] += units[i].returned
        out[k, _PERMANENTLY_LOST] += units[i].permanently_lost
        if IS_IN_SECTOR[state[i]] and personnel[i] > 0:
            # The cell as Sector.cells gives it (numpy's floor division).
            cell = x[i] * depth + min(max(np.int64(y_m[i] // cell_size_m), 0), depth - 1)
            if not occupied[k, cell]:
                occupied[k, cell] = True
                out[k, _CELLS_HELD] += 1
    return out


class Event(NamedTuple):
    """Something that happened to a unit or a contingent. Day-level events have
    ``substep`` -1; a contingent's events have ``unit_id`` -1 at cell (-1, -1)."""

    day: int
    substep: int
    kind: str  # cell_taken, unit_routed, unit_destroyed, unit_rotated, unit_returned, ...
    side: str
    contingent: str
    unit_id: int
    x: int  # lane
    y: int  # row


@dataclass(frozen=True)
class FrontMap:
    """The sector on one day: ``control``, ``mines`` and ``fortification`` as (width,
    depth) arrays (x along the front, y in depth from the attacker's rear), the control
    at the start, the cell size (m), every contingent as (side, name) in a fixed order
    (so that colours stay the same from day to day), and the units in the sector (side,
    contingent, state, personnel, x, y_m)."""

    control: np.ndarray
    mines: np.ndarray
    fortification: np.ndarray
    initial_control: np.ndarray
    cell_size_m: float
    day: int
    contingents: list[tuple[str, str]]
    units: pd.DataFrame


class Records:
    """The model's outputs, written once a day and read at any time."""

    def __init__(self, model: AttritionModel):
        self.model = model
        # Plain tuples while the run goes (a tuple costs a sixth of a NamedTuple to
        # make, and a large run logs tens of thousands); Events when read.
        self._events: list[tuple] = []
        self._rows: list[np.ndarray] = []
        self._prev_totals = {f: np.zeros(len(model.contingents), dtype=np.int64)
                             for f in _FLOWS}

    # -------------------------------------------------------------- writing
    def event(self, substep: int, kind: str, unit: int | None,
              contingent: int | None = None, row: int | None = None) -> None:
        """Log an event of unit ``unit`` (its row in the column store) or, with ``unit``
        None, of a whole ``contingent``. The unit's cell is where it stands, or in
        ``row`` if given (where it stood when the event happened)."""
        model = self.model
        if unit is None:
            side, name = model.contingents[contingent]
            self._events.append((model.day, substep, kind, side, name, -1, -1, -1))
            return
        units = model.units
        if row is None:
            row = model.sector.row(units["y_m"][unit])
        self._events.append((model.day, substep, kind, SIDES[units["side"][unit]],
                             model.contingents[units["contingent"][unit]][1],
                             model.unit_agents[unit].unique_id, int(units["x"][unit]), row))

    @property
    def events(self) -> list[Event]:
        """The event log so far."""
        return [Event(*event) for event in self._events]

    def record_day(self) -> None:
        """Append the day's row per contingent and per side."""
        model = self.model
        units, forces, sector = model.units, model.forces, model.sector
        n_cont = len(model.contingents)
        sums = _contingent_sums(units, n_cont, sector.width, sector.depth, sector.cell_size_m)
        totals = self._totals(sums)
        columns = {
            "personnel": sums[:, _PERSONNEL],
            "personnel_fighting": sums[:, _PERSONNEL_FIGHTING],
            "reserve": forces.reserve,
            "in_care": sums[:, _IN_CARE],
            "pool": forces.pipelines.pool,
            "in_training": forces.pipelines.in_training,
            **{f: totals[f] - self._prev_totals[f] for f in _FLOWS},
            "killed_total": totals["killed"],
            "wounded_total": totals["wounded"],
            "permanently_lost_total": totals["permanently_lost"],
            "released_total": totals["released"],
            "cells_held": sums[:, _CELLS_HELD],
            "ground_gained_m": model.combat.cells_taken * sector.cell_size_m / sector.width,
        }
        self._prev_totals = totals
        block = np.zeros((n_cont + 2, len(RECORD_COLUMNS) - 3))
        for j, name in enumerate(RECORD_COLUMNS[3:]):
            block[:n_cont, j] = columns[name]
        side_of = np.array([SIDES.index(s) for s, _ in model.contingents])
        held, gained = sector.cells_held_and_gained()
        for s in (0, 1):
            block[n_cont + s] = block[:n_cont][side_of == s].sum(axis=0)
            block[n_cont + s, -2] = held[s]
            block[n_cont + s, -1] = gained[s]
        self._rows.append(block)

    def _totals(self, sums: np.ndarray) -> dict[str, np.ndarray]:
        """Cumulative totals per contingent, from which the daily flows are taken
        (``sums``: :func:`_contingent_sums`)."""
        forces = self.model.forces
        return {"killed": sums[:, _KILLED],
                "wounded": sums[:, _WOUNDED],
                "returned": sums[:, _RETURNED],
                "permanently_lost": sums[:, _PERMANENTLY_LOST],
                "recruited": forces.pipelines.recruited_total.copy(),
                "graduated": forces.pipelines.graduated_total.copy(),
                "released": forces.released.copy()}

    # -------------------------------------------------------------- reading
    def daily_records(self) -> pd.DataFrame:
        """Tidy daily record: one row per day and contingent, plus a row per side
        (``contingent == 'all'``). Column meanings are in ``docs/ODD.md`` section 7.9."""
        model = self.model
        labels = model.contingents + [(s, "all") for s in SIDES]
        days = len(self._rows)
        data = np.vstack(self._rows)
        frame = pd.DataFrame(data, columns=list(RECORD_COLUMNS[3:]))
        frame = frame.astype({config: "int64" for config in RECORD_COLUMNS[3:-1]})
        frame.insert(0, "contingent", [config for _, config in labels] * days)
        frame.insert(0, "side", [s for s, _ in labels] * days)
        frame.insert(0, "day", np.repeat(np.arange(days), len(labels)))
        return self._dated(frame)

    def _dated(self, frame: pd.DataFrame) -> pd.DataFrame:
        """With a ``start_date``, a ``date`` column (ISO text) after ``day``."""
        start = self.model.config.start_date
        if start is not None:
            dates = (pd.Timestamp(start) + pd.to_timedelta(frame["day"], unit="D"))
            frame.insert(1, "date", dates.dt.strftime("%Y-%m-%d"))
        return frame

    def events_frame(self) -> pd.DataFrame:
        """Event log: one row per :class:`Event` (with a ``date`` after ``day`` when the
        scenario has a ``start_date``)."""
        return self._dated(pd.DataFrame(self._events, columns=list(Event._fields)))

    def side_history(self, column: str) -> np.ndarray:
        """(days + 1, 2) array of a daily-record column (``RECORD_COLUMNS``) for the
        attacker and the defender, without building a frame."""
        j = RECORD_COLUMNS.index(column) - 3
        n_cont = len(self.model.contingents)
        return np.array([block[n_cont:n_cont + 2, j] for block in self._rows])

    def front_map(self) -> FrontMap:
        """The sector now (:class:`FrontMap`)."""
        model = self.model
        units, grid = model.units, model.sector.grid
        here = IS_IN_SECTOR[units["state"]] & (units["personnel"] > 0)
        in_sector = pd.DataFrame({
            "side": [SIDES[s] for s in units["side"][here]],
            "contingent": [model.contingents[k][1] for k in units["contingent"][here]],
            "state": [STATES[s] for s in units["state"][here]],
            "personnel": units["personnel"][here], "x": units["x"][here],
            "y_m": units["y_m"][here]})
        return FrontMap(control=grid.control.data.copy(), mines=grid.mines.data.copy(),
                        fortification=grid.fortification.data.copy(),
                        initial_control=model.sector.initial_control.copy(),
                        cell_size_m=model.sector.cell_size_m, day=model.day,
                        contingents=list(model.contingents), units=in_sector)

    def summary(self) -> dict[str, Any]:
        """Run summary; keys and meanings are in ``docs/ODD.md`` section 7.9."""
        model = self.model
        units, combat = model.units, model.combat
        out: dict[str, Any] = {"days": model.day, "stop_reason": model.stop_reason,
                               "winner": _WINNER.get(model.stop_reason)}
        end = model.config.date_of(model.day)
        out["end_date"] = None if end is None else end.isoformat()
        casualties = {}
        for s, name in enumerate(SIDES):
            mine = units["side"] == s
            out[f"{name}_killed"] = int(units["killed"][mine].sum())
            out[f"{name}_wounded"] = int(units["wounded"][mine].sum())
            out[f"{name}_permanently_lost"] = int(units["permanently_lost"][mine].sum())
            out[f"{name}_released"] = int(model.forces.released[
                [SIDES.index(side) == s for side, _ in model.contingents]].sum())
            out[f"{name}_personnel"] = int(units["personnel"][mine].sum())
            for k, cause in enumerate(CAUSES):
                out[f"{name}_casualties_{cause}"] = int(combat.casualties_by_cause[s, k])
            out[f"{name}_training_days_lost"] = float(combat.training_days_lost[s])
            casualties[name] = out[f"{name}_killed"] + out[f"{name}_wounded"]
        out["loss_exchange_ratio"] = (casualties["attacker"] / casualties["defender"]
                                      if casualties["defender"] else None)
        out["ground_gained_m"] = model.sector.ground_gained_m(ATTACKER)
        km = out["ground_gained_m"] / 1000.0
        # Per km only once the mean advance is at least a cell deep: a few cells taken
        # on a wide front (20 m of mean advance) would give millions per km (ODD 7.9).
        per_km = out["ground_gained_m"] >= model.sector.cell_size_m * (1 - 1e-9)
        out["attacker_casualties_per_km"] = casualties["attacker"] / km if per_km else None
        out["attacker_training_days_lost_per_km"] = (
            out["attacker_training_days_lost"] / km if per_km else None)
        out["training_days_lost"] = float(combat.training_days_lost.sum())
        out.update(self.sustainability())
        return out

    def sustainability(self, window_days: int = PROJECTION_WINDOW_DAYS) -> dict[str, Any]:
        """Pool exhaustion, its projection, and loss and recruitment rates per side."""
        pool = self.side_history("pool")
        lost = self.side_history("killed") + self.side_history("permanently_lost")
        recruited = self.side_history("recruited")
        days = len(pool) - 1
        window = min(window_days, days)
        horizon = PROJECTION_HORIZON_DAYS
        out: dict[str, Any] = {"projection_horizon_day": horizon}
        for s, name in enumerate(SIDES):
            gone = np.flatnonzero((pool[:, s] == 0) & (pool[0, s] > 0))
            exhausted = int(gone[0]) if gone.size else None
            out[f"{name}_pool_exhausted_day"] = exhausted
            projected, beyond = exhausted, False
            if exhausted is None and window > 0:
                rate = (pool[days - window, s] - pool[days, s]) / window
                if rate > 0:
                    projected = float(days + pool[days, s] / rate)
                    if projected > horizon:
                        projected, beyond = None, True
            out[f"{name}_projected_exhaustion_day"] = projected
            # The pool is being drawn but outlasts the horizon: "beyond day N".
            out[f"{name}_projected_exhaustion_beyond_horizon"] = beyond
            out[f"{name}_mean_daily_permanent_losses"] = (
                float(lost[1:, s].sum()) / days if days else None)
            out[f"{name}_mean_daily_recruits"] = (
                float(recruited[1:, s].sum()) / days if days else None)
            # Recruits a day that would replace the permanent losses of the last days.
            out[f"{name}_break_even_recruitment"] = (
                float(lost[days - window + 1:, s].sum()) / window if window else None)
        return out
