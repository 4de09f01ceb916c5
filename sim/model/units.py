"""Unit agents: the objects a user sees and inspects.

A unit's state lives in the model's column store (``model.units``, a numpy structured
array with one field per column of :data:`COLUMNS`), so that the day's processes run
over arrays of units at once; a :class:`Unit` is the Mesa agent that reads and writes
its own row. ``unit.personnel = 5`` changes the model."""

from __future__ import annotations

import itertools
import weakref
from typing import NamedTuple

import numpy as np
from mesa.discrete_space import CellAgent

from sim.sides import ATTACKER, DEFENDER, SIDES  # noqa: F401  (re-exported)
from sim.tactics import TACTICS

STATES = ("reserve", "advancing", "assaulting", "holding", "withdrawing", "routed",
          "withdrawn", "destroyed")
(RESERVE, ADVANCING, ASSAULTING, HOLDING, WITHDRAWING, ROUTED, WITHDRAWN,
 DESTROYED) = range(len(STATES))
# Units in these states fire and can take ground.
FIGHTING_STATES = (ADVANCING, ASSAULTING, HOLDING, WITHDRAWING)
# Units in these states are in the sector: they can be seen and hit.
IN_SECTOR_STATES = FIGHTING_STATES + (ROUTED,)
# Lookup tables: IS_FIGHTING[state_array] is a mask over units (faster than np.isin).
IS_FIGHTING = np.isin(np.arange(len(STATES)), FIGHTING_STATES)
IS_IN_SECTOR = np.isin(np.arange(len(STATES)), IN_SECTOR_STATES)


class Column(NamedTuple):
    """A unit column: its name (also the :class:`Unit` attribute), dtype, unit of
    measure and meaning. ``docs/ODD.md`` section 2 prints this table."""

    name: str
    dtype: type
    unit: str
    meaning: str


# The one declaration of the units' state. The column store, its growth, the ``Unit``
# attributes and the ODD's state-variable table all derive from it.
COLUMNS = (
    Column("side", np.int64, "-", "0 attacker, 1 defender (`Unit.side` gives the name)"),
    Column("contingent", np.int64, "-",
           "index into `model.contingents` (`Unit.contingent` gives the name)"),
    Column("tactic", np.int64, "-",
           "index into `sim.tactics.TACTICS` (`Unit.tactic` gives the name)"),
    Column("state", np.int64, "-",
           "index into `STATES`: " + ", ".join(f"`{name}`" for name in STATES)
           + " (`Unit.state` gives the name)"),
    Column("commit_day", np.int64, "day", "day its wave enters the sector"),
    Column("x", np.int64, "cell", "lane along the front (fixed)"),
    Column("y_m", np.float64, "m", "position in depth from the attacker's rear edge"),
    Column("y0_m", np.float64, "m", "depth it started from (and returns to from the rear)"),
    Column("personnel", np.int64, "persons", "soldiers in the unit now"),
    Column("initial_personnel", np.int64, "persons",
           "soldiers at formation: the strength refills restore"),
    Column("training_days", np.float64, "days", "training its soldiers had (mean)"),
    Column("training_level", np.float64, "0-1", "the level that training gives (mean)"),
    Column("days_in_action", np.float64, "days",
           "days committed in the sector (-> experience)"),
    Column("theatre_adaptation", np.float64, "0-1", "adaptation to this theatre (drones, terrain)"),
    Column("initial_adaptation", np.float64, "0-1", "adaptation it arrived with"),
    Column("morale", np.float64, "0-1", "morale/cohesion"),
    Column("initial_morale", np.float64, "0-1", "morale it arrived with (recovery's ceiling)"),
    Column("killed", np.int64, "persons", "its soldiers killed so far"),
    Column("wounded", np.int64, "persons", "its soldiers wounded so far"),
    Column("returned", np.int64, "persons", "its wounded back from care so far"),
    Column("permanently_lost", np.int64, "persons", "its wounded permanently lost so far"),
    Column("in_care", np.int64, "persons", "its wounded in care, due back"),
    Column("casualties_today", np.int64, "persons", "its casualties today (for morale recovery)"),
)
UNIT_DTYPE = np.dtype([(column.name, column.dtype) for column in COLUMNS])
# Shown by name on a ``Unit``; the other columns are numbers.
_NAMED_COLUMNS = ("side", "contingent", "tactic", "state")


def new_units(count: int, **values) -> np.ndarray:
    """``count`` rows of the unit column store (a numpy structured array with a field per
    column of :data:`COLUMNS`), zero but for ``values`` (scalars or arrays by column)."""
    unknown = set(values) - set(UNIT_DTYPE.names)
    if unknown:
        raise KeyError(f"not unit columns: {', '.join(sorted(unknown))}")
    units = np.zeros(count, dtype=UNIT_DTYPE)
    for name, value in values.items():
        units[name] = value
    return units


def select_rows(records: np.ndarray, which: np.ndarray) -> np.ndarray:
    """The rows ``which`` (a mask) of a structured array, copied as raw bytes: numpy
    copies structured rows field by field, about fifteen times slower."""
    raw = np.dtype((np.void, records.dtype.itemsize))
    return records.view(raw)[which].view(records.dtype)


def append_rows(records: np.ndarray, more: np.ndarray) -> np.ndarray:
    """``records`` then ``more`` (structured arrays of one dtype), copied as raw bytes."""
    raw = np.dtype((np.void, records.dtype.itemsize))
    return np.concatenate([records.view(raw), more.view(raw)]).view(records.dtype)


def state_variable_table() -> str:
    """The units' state variables as the Markdown table of ``docs/ODD.md`` section 2."""
    lines = ["| variable | meaning | unit |", "| --- | --- | --- |"]
    lines += [f"| `{c.name}` | {c.meaning} | {c.unit} |" for c in COLUMNS]
    return "\n".join(lines)


def _column_view(column: Column):
    name = column.name

    def fget(self):
        return self.model.units[name][self.index].item()

    def fset(self, value):
        self.model.units[name][self.index] = value

    return property(fget, fset, doc=f"{column.meaning[:1].upper()}{column.meaning[1:]} "
                                    f"({column.unit}).")


class _IdCounters(weakref.WeakKeyDictionary):
    """Per-model counters of agent ids that let finished models be freed.

    Mesa 3.3 counts ids in a class-level dict keyed by model, which keeps every model
    ever built (and its agents and grid) in memory: about 1 MB a run, so a sweep's
    worker grew by gigabytes. Mesa 3.5 no longer uses it."""

    def __getitem__(self, model):
        try:
            return super().__getitem__(model)
        except KeyError:
            counter = itertools.count(1)
            self[model] = counter
            return counter


class Unit(CellAgent):
    """A squad-to-company unit of one side and contingent.

    Every column of :data:`COLUMNS` is an attribute that reads and writes the unit's
    row (``side``, ``contingent``, ``tactic`` and ``state`` by name); see ``docs/ODD.md``
    section 2.
    """

    _ids = _IdCounters()

    def __init__(self, model, index: int):
        super().__init__(model)
        self.index = index  # the unit's row in ``model.units``

    @property
    def side(self) -> str:
        """'attacker' or 'defender'."""
        return SIDES[self.model.units["side"][self.index]]

    @property
    def contingent(self) -> str:
        """Contingent name, e.g. 'foreign'."""
        return self.model.contingents[self.model.units["contingent"][self.index]][1]

    @property
    def tactic(self) -> str:
        """Tactic name."""
        return TACTICS[self.model.units["tactic"][self.index]]

    @property
    def state(self) -> str:
        """One of :data:`STATES`; set it by name (``unit.state = "routed"``)."""
        return STATES[self.model.units["state"][self.index]]

    @state.setter
    def state(self, name: str) -> None:
        if name not in STATES:
            raise ValueError(f"state {name!r} is not one of {', '.join(STATES)}")
        self.model.units["state"][self.index] = STATES.index(name)

    @property
    def experience(self) -> float:
        """Experience (0-1), grown from days in action."""
        return float(self.model.experience()[self.index])

    def __repr__(self) -> str:
        return (f"Unit({self.unique_id}, {self.side}/{self.contingent}, {self.tactic}, "
                f"{self.state}, personnel={self.personnel})")


for _column in COLUMNS:
    if _column.name not in _NAMED_COLUMNS:
        setattr(Unit, _column.name, _column_view(_column))
del _column
