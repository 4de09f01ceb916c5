"""The attrition model: a front sector on a Mesa grid, units as agents, one step a day.

    >>> from sim import AttritionModel, Scenario
    >>> model = AttritionModel(Scenario(max_days=3), rng=1)
    >>> model.run()
    >>> model.day, model.summary()["days"]
    (3, 3)

The model is a schedule over subsystems, one per submodel of ``docs/ODD.md`` (its
section 3 is :meth:`AttritionModel.step`): the units' column store and their agents
(:mod:`sim.model.units`), the sector (:mod:`sim.model.sector`), force generation
(:mod:`sim.model.forces`), combat (:mod:`sim.model.combat`, with the physics and the
compiled kernels beside it) and the records (:mod:`sim.model.records`).
"""

from __future__ import annotations

import functools
from typing import Any

import mesa
import numpy as np
import pandas as pd

from sim.config import Scenario
from sim.model import kernels
from sim.model.combat import Combat
from sim.model.forces import Forces
from sim.model.memory import check_memory
from sim.model.pipelines import Pipelines, training_level
from sim.model.records import Event, FrontMap, Records
from sim.model.sector import Sector
from sim.model.units import ADVANCING, HOLDING, RESERVE, Unit, append_rows, new_units
from sim.sides import ATTACKER, SIDES
from sim.tactics import TACTICS


class AttritionModel(mesa.Model):
    """Attackers assault a fortified, drone-covered defence across a front sector.

    Parameters
    ----------
    scenario : the run configuration; the reference scenario if omitted.
    rng : seed (int) or numpy Generator; all randomness flows from it.

    Raises :class:`sim.model.memory.MemoryLimitError` (a ``ValueError``, one line) before
    allocating anything when the run is estimated to need more memory than the limit.
    """

    def __init__(self, scenario: Scenario | None = None, rng: Any = None):
        scenario = scenario if scenario is not None else Scenario()
        # Refused before anything is allocated if it would not fit (MemoryLimitError).
        check_memory(scenario)
        # A machine's first run compiles the kernels: said, not sat through in silence.
        kernels.announce_compiling()
        super().__init__(rng=rng)
        # ``config``, not ``scenario``: Mesa 3.5 uses ``Model.scenario`` for its own.
        self.config = scenario
        self.day = 0
        self.stop_reason: str | None = None
        self.sector = Sector(self.config.sector, self.random)
        self.contingents: list[tuple[str, str]] = []  # (side, name), in order of first unit
        self.units = self._initial_units()
        self.unit_agents: list[Unit] = []
        self.forces = Forces(self)
        self.combat = Combat(self)
        # The sub-step's entry points, compiled beside the rest on a first run.
        kernels.compile_alongside(self.combat.kernel_inputs)
        self.records = Records(self)
        self._create_agents(np.arange(len(self.units)))
        self.sector.place(self.unit_agents, self.units)
        self.records.record_day()

    def _initial_units(self) -> np.ndarray:
        """The scenario's units, each side's interleaved across the front so that no
        contingent owns a flank; waves due later wait in reserve."""
        scenario = self.config
        groups = []
        for side, name in enumerate(SIDES):
            side_groups = getattr(scenario, name).units
            band = scenario.group_units(name)
            for group in side_groups:
                if (name, group.contingent) not in self.contingents:
                    self.contingents.append((name, group.contingent))
                fighting_state = ADVANCING if side == ATTACKER else HOLDING
                for commit_day in scenario.wave_days(group):
                    x, y_m = self.sector.start_positions(side, group.count, band)
                    groups.append(new_units(
                        group.count, side=side,
                        contingent=self.contingents.index((name, group.contingent)),
                        tactic=TACTICS.index(group.tactic), personnel=group.personnel,
                        initial_personnel=group.personnel, training_days=group.training_days,
                        training_level=training_level(group.training_days,
                                                      group.base_training_level,
                                                      scenario.training.time_constant_days),
                        days_in_action=group.experience_days,
                        theatre_adaptation=group.theatre_adaptation,
                        initial_adaptation=group.theatre_adaptation,
                        morale=group.morale, initial_morale=group.morale,
                        commit_day=commit_day, x=x, y_m=y_m, y0_m=y_m,
                        state=RESERVE if commit_day > 0 else fighting_state))
        return functools.reduce(append_rows, groups)

    def add_units(self, units: np.ndarray) -> np.ndarray:
        """Append ``units`` (rows of :func:`sim.model.units.new_units`) to the column
        store, with their agents; returns their rows."""
        index = np.arange(len(self.units), len(self.units) + len(units))
        self.units = append_rows(self.units, units)
        self._create_agents(index)
        self.combat.units_added()
        self.combat.occupancy_changed = True
        return index

    def _create_agents(self, index: np.ndarray) -> None:
        self.unit_agents += list(Unit.create_agents(self, len(index), index=index.tolist()))

    # ------------------------------------------------------------------- step
    def step(self) -> None:
        """Advance one day (``docs/ODD.md`` section 3)."""
        if not self.running:
            return
        self.day += 1
        self.forces.return_wounded()
        self.forces.release_served()
        self.forces.generate()
        self.forces.commit_waves()
        self.combat.prepare_day()
        for substep in range(self.config.combat.substeps_per_day):
            self.stop_reason = self.combat.substep(substep)
            if self.stop_reason:
                break
        self.combat.end_of_day()
        self.forces.rotate_and_withdraw()
        self.sector.place(self.unit_agents, self.units)
        self.records.record_day()
        if self.stop_reason is None and self.day >= self.config.max_days:
            self.stop_reason = "max_days"
        if self.stop_reason:
            self.running = False

    def run(self) -> None:
        """Step until a stop condition or ``max_days``."""
        while self.running:
            self.step()

    # ---------------------------------------------------------- what it shows
    @property
    def grid(self):
        """The sector's Mesa grid, with the layers of ``docs/ODD.md`` section 2."""
        return self.sector.grid

    @property
    def pipelines(self) -> Pipelines:
        """Recruit pools and training pipelines (:class:`sim.model.pipelines.Pipelines`)."""
        return self.forces.pipelines

    @property
    def reserve(self) -> np.ndarray:
        """Trained reserve per contingent (persons)."""
        return self.forces.reserve

    @property
    def events(self) -> list[Event]:
        """The event log so far (:class:`sim.model.records.Event`)."""
        return self.records.events

    def experience(self) -> np.ndarray:
        """Experience of every unit (0-1), from its days in action."""
        return self.combat.experience()

    def skill(self) -> np.ndarray:
        """Skill of every unit (0-1): training and experience, as far as its tactic allows."""
        return self.combat.skill()

    def ground_gained_m(self, side: int = ATTACKER) -> float:
        """Net ground the side holds that the enemy held at start, as a mean advance (m)."""
        return self.sector.ground_gained_m(side)

    def daily_records(self) -> pd.DataFrame:
        """Tidy daily record: one row per day and contingent, plus a row per side
        (``contingent == 'all'``). Column meanings are in ``docs/ODD.md`` section 7.9."""
        return self.records.daily_records()

    def events_frame(self) -> pd.DataFrame:
        """Event log: cells taken, units routed or destroyed, with day and sub-step."""
        return self.records.events_frame()

    def front_map(self) -> FrontMap:
        """The sector now (:class:`sim.model.records.FrontMap`)."""
        return self.records.front_map()

    def side_history(self, column: str) -> np.ndarray:
        """(days + 1, 2) array of a daily-record column for the attacker and the
        defender: what the live charts draw, without building a frame."""
        return self.records.side_history(column)

    def conservation_totals(self) -> np.ndarray:
        """Per contingent: pool + in training + personnel + reserve + in care + killed +
        permanently lost + released. Constant over a run (no one is created or lost by
        book-keeping)."""
        return self.forces.conservation_totals()

    def summary(self) -> dict[str, Any]:
        """Run summary; keys and meanings are in ``docs/ODD.md`` section 7.9."""
        return self.records.summary()
