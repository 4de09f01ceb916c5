"""Unit agents: the objects a user sees and inspects.

A unit's state lives in the model's column arrays (``model.units``), so that combat
runs over arrays of units at once; a :class:`Unit` is the Mesa agent that reads and
writes its own row. ``unit.personnel = 5`` changes the model."""

from __future__ import annotations

import itertools
import weakref

import numpy as np
from mesa.discrete_space import CellAgent

from sim.sides import ATTACKER, DEFENDER, SIDES  # noqa: F401  (re-exported)

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


def _column(name: str, doc: str):
    def fget(self):
        return self.model.units[name][self.index].item()

    def fset(self, value):
        self.model.units[name][self.index] = value

    return property(fget, fset, doc=doc)


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

    Attributes are views onto the model's unit arrays; see ``docs/ODD.md`` section 2.
    """

    _ids = _IdCounters()

    personnel = _column("personnel", "Soldiers in the unit now (persons).")
    initial_personnel = _column("initial_personnel", "Soldiers at start (persons).")
    training_days = _column("training_days", "Days of training its soldiers had (days).")
    training_level = _column("training_level", "Training level (0-1).")
    days_in_action = _column("days_in_action", "Days spent in action (days).")
    theatre_adaptation = _column("theatre_adaptation", "Adaptation to this theatre (0-1).")
    morale = _column("morale", "Morale/cohesion (0-1).")
    killed = _column("killed", "Its soldiers killed so far (persons).")
    wounded = _column("wounded", "Its soldiers wounded so far (persons).")
    depth_m = _column("y_m", "Position in depth from the attacker's rear edge (m).")

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
        return self.model.tactic_names[self.model.units["tactic"][self.index]]

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
