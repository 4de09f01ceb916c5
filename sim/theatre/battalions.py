"""Battalions: the theatre's units, as a column store and the Mesa agents that show it.

As in the sector model (:mod:`sim.model.units`), a battalion's state lives in a row of
the theatre's column store (``model.battalions``), so that a day's processes run over
all battalions at once, and a :class:`Battalion` is the Mesa agent that reads and
writes its row: ``battalion.personnel = 300`` changes the theatre.
"""

from __future__ import annotations

import numpy as np
from mesa.discrete_space import CellAgent

from sim.model.units import Column, _IdCounters
from sim.sides import SIDES
from sim.tactics import TACTICS

STATES = ("rear", "line", "disbanded")
REAR, LINE, DISBANDED = range(len(STATES))
#: No sector or cell (in the rear, or disbanded).
NOWHERE = -1

# The one declaration of a battalion's state: the store, the agent's attributes and the
# ODD's table derive from it.
COLUMNS = (
    Column("side", np.int64, "-", "0 attacker, 1 defender (`Battalion.side` gives the name)"),
    Column("contingent", np.int64, "-",
           "index into `model.contingents` (`Battalion.contingent` gives the name)"),
    Column("tactic", np.int64, "-", "index into `sim.tactics.TACTICS`"),
    Column("state", np.int64, "-", "index into `STATES`: " + ", ".join(f"`{s}`" for s in STATES)),
    Column("sector", np.int64, "-", "index into the theatre's sectors; -1 in the rear"),
    Column("front_cell", np.int64, "km",
           "kilometre cell along the front (its Mesa cell's x); -1 in the rear"),
    Column("personnel", np.int64, "persons", "soldiers in the battalion now"),
    Column("initial_personnel", np.int64, "persons", "soldiers at formation (refills restore it)"),
    Column("training_days", np.float64, "days", "training its soldiers had (mean)"),
    Column("training_level", np.float64, "0-1", "the level that training gives (mean)"),
    Column("days_in_action", np.float64, "days", "days in the line (-> experience)"),
    Column("theatre_adaptation", np.float64, "0-1", "adaptation to the theatre (drones)"),
    Column("initial_adaptation", np.float64, "0-1", "adaptation it arrived with"),
    Column("rested_days", np.int64, "days", "days in the rear since it last left the line"),
    Column("formed_day", np.int64, "day", "day it was formed (0 for those at the start)"),
    Column("killed", np.int64, "persons", "its soldiers killed so far"),
    Column("wounded", np.int64, "persons", "its soldiers wounded so far"),
    Column("permanently_lost", np.int64, "persons", "its wounded permanently lost so far"),
)
BATTALION_DTYPE = np.dtype([(c.name, c.dtype) for c in COLUMNS])
_NAMED_COLUMNS = ("side", "contingent", "tactic", "state")


def new_battalions(count: int, **values) -> np.ndarray:
    """``count`` rows of the column store, zero but for ``values`` (scalars or arrays),
    in the rear and of no sector unless told."""
    unknown = set(values) - set(BATTALION_DTYPE.names)
    if unknown:
        raise KeyError(f"not battalion columns: {', '.join(sorted(unknown))}")
    rows = np.zeros(count, dtype=BATTALION_DTYPE)
    rows["sector"] = rows["front_cell"] = NOWHERE
    for name, value in values.items():
        rows[name] = value
    return rows


def state_variable_table() -> str:
    """The battalions' state variables as a Markdown table (``docs/ODD.md``)."""
    lines = ["| variable | meaning | unit |", "| --- | --- | --- |"]
    lines += [f"| `{c.name}` | {c.meaning} | {c.unit} |" for c in COLUMNS]
    return "\n".join(lines)


class Battalion(CellAgent):
    """A battalion of one side and force category, in a kilometre cell of a sector or
    in the rear. Every column of :data:`COLUMNS` is an attribute of its row."""

    _ids = _IdCounters()

    def __init__(self, model, index: int):
        super().__init__(model)
        self.index = index  # the battalion's row in ``model.battalions``

    @property
    def side(self) -> str:
        """'attacker' or 'defender'."""
        return SIDES[self.model.battalions["side"][self.index]]

    @property
    def contingent(self) -> str:
        """Force category, e.g. 'contract'."""
        return self.model.contingents[self.model.battalions["contingent"][self.index]][1]

    @property
    def tactic(self) -> str:
        """Tactic name."""
        return TACTICS[self.model.battalions["tactic"][self.index]]

    @property
    def state(self) -> str:
        """One of :data:`STATES`."""
        return STATES[self.model.battalions["state"][self.index]]

    @property
    def sector_name(self) -> str | None:
        """The sector it holds, or none in the rear."""
        sector = self.model.battalions["sector"][self.index]
        return None if sector == NOWHERE else self.model.config.sectors[sector].name

    def __repr__(self) -> str:
        return (f"Battalion({self.unique_id}, {self.side}/{self.contingent}, {self.state}, "
                f"{self.sector_name}, personnel={self.personnel})")


def _column_view(column: Column) -> property:
    name = column.name

    def fget(self):
        return self.model.battalions[name][self.index].item()

    def fset(self, value):
        self.model.battalions[name][self.index] = value

    return property(fget, fset, doc=f"{column.meaning[:1].upper()}{column.meaning[1:]} "
                                    f"({column.unit}).")


for _column in COLUMNS:
    if _column.name not in _NAMED_COLUMNS:
        setattr(Battalion, _column.name, _column_view(_column))
del _column
