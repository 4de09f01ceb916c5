"""The theatre: a front of many sectors, each side's force generation shared across them.

    >>> from sim.theatre import TheatreModel, TheatreScenario
    >>> from sim.theatre.config import EXAMPLE
    >>> model = TheatreModel(TheatreScenario.model_validate(EXAMPLE), rng=1)
    >>> model.run()
    >>> model.day, len(model.config.sectors)
    (60, 2)

The model is a schedule over subsystems, one per submodel of the ODD's theatre section
(its :meth:`TheatreModel.step`): the battalions' column store and agents
(:mod:`sim.theatre.battalions`), national force generation and allocation
(:mod:`sim.theatre.forces`), the sectors' fighting (:mod:`sim.theatre.combat`) and the
records (:mod:`sim.theatre.records`).
"""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np
import pandas as pd
from mesa.discrete_space import OrthogonalMooreGrid

from sim.sides import SIDES
from sim.theatre.battalions import LINE, NOWHERE, Battalion
from sim.theatre.combat import TheatreCombat
from sim.theatre.config import TheatreChange, TheatreScenario
from sim.theatre.forces import NationalForces
from sim.theatre.records import TheatreRecords, check_memory


class TheatreModel(mesa.Model):
    """Battalions of two sides hold and assault a front of many sectors, fed by each
    side's recruit pools and training pipelines.

    Parameters
    ----------
    scenario : the theatre's configuration (:class:`sim.theatre.config.TheatreScenario`).
    rng : seed (int) or numpy Generator; all randomness flows from it.

    Raises :class:`sim.model.memory.MemoryLimitError` (one line) before allocating
    anything when the run would need more memory than the limit.
    """

    def __init__(self, scenario: TheatreScenario, rng: Any = None):
        check_memory(scenario)
        super().__init__(rng=rng)
        self.config = scenario
        self.day = 0
        # The decision schedule: changes by day (their configuration kept here, as the
        # configuration a change leaves has none of its own).
        self._changes: dict[int, list] = {}
        for _, change in scenario.ordered_changes():
            self._changes.setdefault(scenario.day_of(change.day), []).append(change)
        self.contingents = [(side, name) for side in SIDES
                            for name in getattr(scenario, side).contingents]
        self.forces = NationalForces(self)
        self.battalions = self.forces.initial_battalions()
        # The front as kilometre cells, sector after sector; row 0 the attacker's line,
        # row 1 the defender's.
        self.grid = OrthogonalMooreGrid((int(sum(scenario.cells())), 2), torus=False,
                                        capacity=None, random=self.random)
        self._agent_cell = np.zeros(0, dtype=np.int64)
        self.battalion_agents: list[Battalion] = []
        self._create_agents(np.arange(len(self.battalions)))
        self.combat = TheatreCombat(self)
        self.records = TheatreRecords(self)
        self.forces.allocate()
        self.forces.start_terms()
        self._place()
        self.records.record_day(np.zeros((len(scenario.sectors), 2), np.int64),
                                np.zeros((len(scenario.sectors), 2), np.int64))

    def add_battalions(self, rows: np.ndarray) -> np.ndarray:
        """Append ``rows`` (of :func:`sim.theatre.battalions.new_battalions`) with their
        agents; returns their indices."""
        index = np.arange(len(self.battalions), len(self.battalions) + len(rows))
        self.battalions = np.concatenate([self.battalions, rows])
        self._create_agents(index)
        return index

    def _create_agents(self, index: np.ndarray) -> None:
        self.battalion_agents += list(Battalion.create_agents(self, len(index),
                                                              index=index.tolist()))

    # ------------------------------------------------------------------- step
    def step(self) -> None:
        """Advance one day."""
        if not self.running:
            return
        self.day += 1
        self._apply_changes()
        self.forces.return_wounded()
        self.forces.release_served()
        self.forces.generate()
        self.forces.allocate()
        returning = self.combat.fight()
        self.forces.take_into_care(returning)
        self.forces.rotate()
        self._place()
        self.records.record_day(self.combat.sector_casualties, self.combat.sector_killed)
        if self.day >= self.config.max_days:
            self.running = False

    def decide(self, change: TheatreChange) -> None:
        """A decision taken as the run goes (a wargame's turn, :mod:`sim.wargame`):
        ``change`` applies from its day, as one of the theatre's ``changes`` would, so a
        theatre whose ``changes`` list the same decisions runs the same, number for
        number. ValueError (one line) if its day is not after today, or if it would
        leave the theatre invalid on that day."""
        day = self.config.day_of(change.day)
        if day <= self.day:
            raise ValueError(f"day: {day} has begun; allowed: a day after {self.day}")
        current = self.config  # today's: the changes of days up to today are in it
        for due in sorted(d for d in self._changes if self.day < d <= day):
            for earlier in self._changes[due]:
                current = current.changed(earlier)
        current.changed(change, "decision")
        self._changes.setdefault(day, []).append(change)

    def _apply_changes(self) -> None:
        """Today's decisions: the configuration changes and the rules read it anew; the
        people stay where they are, the tallies keep counting."""
        due = self._changes.get(self.day, [])
        if not due:
            return
        for change in due:
            self.config = self.config.changed(change)
        tallies = self.combat.casualties_by_cause
        self.combat = TheatreCombat(self)
        self.combat.casualties_by_cause = tallies
        self.forces.reconfigure()

    def run(self) -> None:
        """Step to ``max_days``."""
        while self.running:
            self.step()

    def _place(self) -> None:
        """Put agents in the kilometre cells their battalions hold; those in the rear
        or disbanded leave the grid. Only agents whose cell changed are touched."""
        battalions = self.battalions
        if self._agent_cell.size < battalions.size:
            self._agent_cell = np.concatenate(
                [self._agent_cell, np.full(battalions.size - self._agent_cell.size, -2)])
        cell = np.where(battalions["state"] == LINE,
                        battalions["front_cell"] * 2 + battalions["side"], NOWHERE)
        for i in (cell != self._agent_cell).nonzero()[0].tolist():
            flat = int(cell[i])
            self.battalion_agents[i].cell = (None if flat < 0
                                             else self.grid[divmod(flat, 2)])
        self._agent_cell = cell

    # ---------------------------------------------------------- what it shows
    def daily_records(self) -> pd.DataFrame:
        """Per day and force category (and side, ``contingent`` 'all'): stocks and
        cumulative flows (:data:`sim.theatre.records.CONTINGENT_COLUMNS`)."""
        return self.records.daily_records()

    def sector_records(self) -> pd.DataFrame:
        """Per day, sector and side: the line and the day's losses."""
        return self.records.sector_records()

    def conservation_totals(self) -> np.ndarray:
        """Per force category: everyone it ever had, wherever they are now."""
        return self.forces.conservation_totals()
