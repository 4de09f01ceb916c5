"""National force generation (ODD, theatre section): each side's force categories share
their recruit pools and training pipelines (:class:`sim.model.pipelines.Pipelines`, the
sector model's), a trained reserve, the wounded flowing back through care, service terms,
refills of battalions, new battalions, rotation to the rear, and the allocation policy
that sends new and rested battalions to the sectors.

Arrays are indexed by contingent (``model.contingents``: (side, name) pairs) unless named
per battalion or per sector.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.config import DATED_LISTS
from sim.model.forces import _shares
from sim.model.pipelines import Pipelines, training_level
from sim.sides import SIDES
from sim.tactics import TACTICS
from sim.theatre.battalions import DISBANDED, LINE, NOWHERE, REAR, new_battalions

if TYPE_CHECKING:
    from sim.theatre.model import TheatreModel


class NationalForces:
    """Each force category's people outside its battalions and the rules that move them
    into battalions, and battalions into the line, to the rear and back."""

    def __init__(self, model: TheatreModel):
        self.model = model
        scenario = model.config
        self._configure()
        self.side_of = np.array([SIDES.index(side) for side, _ in model.contingents])
        n = len(self.configs)
        self.pipelines = Pipelines(self.configs, scenario.training.time_constant_days)
        self.strength_at_start = np.array([c.in_line_at_start for c in self.configs],
                                          dtype=np.int64)
        # The trained reserve: graduates and returned wounded awaiting a battalion, with
        # the sums of their training days and levels (merged as weighted means).
        self.reserve = np.zeros(n, dtype=np.int64)
        # Of the reserve, the returned wounded: they have started their terms already.
        self.reserve_returned = np.zeros(n, dtype=np.int64)
        self._reserve_days = np.zeros(n)
        self._reserve_level = np.zeros(n)
        # The wounded in care, due back by day modulo the ring's length, with their
        # training (they return to the reserve, not to their battalion: at this scale a
        # replacement system, not the unit, takes them back).
        delay = max(scenario.attacker.return_delay_days, scenario.defender.return_delay_days)
        self._care = np.zeros((n, delay + 1), dtype=np.int64)
        self._care_days = np.zeros((n, delay + 1))
        self._care_level = np.zeros((n, delay + 1))
        # Per contingent: its side's days in care.
        self._delay = np.array([side.return_delay_days for side in self.sides])
        # Service terms: persons serving by the day their term started (a ring of the
        # term's length), those due but not yet released, released so far.
        self._term = [c.service_term_days for c in self.configs]
        self._serving = [np.zeros(t or 0, dtype=np.int64) for t in self._term]
        self._release_due = np.zeros(n, dtype=np.int64)
        self._exits_booked = np.zeros(n, dtype=np.int64)
        self.released = np.zeros(n, dtype=np.int64)
        self._sector_cells = np.array(scenario.cells())
        self._first_cell = np.concatenate([[0], np.cumsum(self._sector_cells)[:-1]])
        self._placed = np.zeros((len(scenario.sectors), 2), dtype=np.int64)

    def _configure(self) -> None:
        """The rules' parameters, read from the theatre's configuration (again after a
        change, :meth:`reconfigure`)."""
        scenario = self.model.config
        self.configs = [_with_day_numbers(getattr(scenario, side).contingents[name], scenario)
                        for side, name in self.model.contingents]
        self.sides = [getattr(scenario, side) for side, _ in self.model.contingents]
        self._refill_below = np.array([c.refill_below_strength for c in self.configs])
        self._withdrawn = np.array([c.withdrawn for c in self.configs], dtype=bool)
        self._unit_size = np.array([c.unit_size for c in self.configs])
        self._tactic = np.array([TACTICS.index(c.tactic) for c in self.configs])
        self._rotate_below = np.array([s.rotate_below_strength for s in
                                       (scenario.attacker, scenario.defender)])
        self._rest_days = np.array([s.rest_days for s in (scenario.attacker, scenario.defender)])
        self._return_at = np.array([s.return_at_strength for s in
                                    (scenario.attacker, scenario.defender)])
        # Per contingent: the sectors its battalions may be sent to.
        names = [s.name for s in scenario.sectors]
        self.allowed = np.array([[c.sectors is None or name in c.sectors for name in names]
                                 for c in self.configs])

    def reconfigure(self) -> None:
        """After a change of the configuration: the rules' parameters and the pipelines'
        configurations anew; the people where they are, each category's battalions
        fighting with its tactic (a category's tactic is its doctrine, not a battalion's
        birthmark)."""
        self._configure()
        self.pipelines.configs = self.configs
        battalions = self.model.battalions
        battalions["tactic"] = self._tactic[battalions["contingent"]]

    # ------------------------------------------------------------ the start
    def initial_battalions(self) -> np.ndarray:
        """The battalions in the line on day 0: each category's ``in_line_at_start`` in
        battalions of its ``unit_size`` (the last one smaller), with its training,
        experience and adaptation; they are allocated by :meth:`allocate`."""
        groups = []
        level_of = self.model.config.training.time_constant_days
        for k, config in enumerate(self.configs):
            persons = config.in_line_at_start
            if persons == 0:
                continue
            full, rest = divmod(persons, config.unit_size)
            sizes = np.array([config.unit_size] * full + ([rest] if rest else []))
            level = float(training_level(config.training_days_at_start,
                                         config.base_training_level, level_of))
            groups.append(new_battalions(
                sizes.size, side=self.side_of[k], contingent=k, tactic=self._tactic[k],
                state=REAR, personnel=sizes, initial_personnel=sizes,
                training_days=config.training_days_at_start, training_level=level,
                days_in_action=config.experience_days_at_start,
                theatre_adaptation=config.adaptation_at_start,
                initial_adaptation=config.adaptation_at_start,
                rested_days=self._rest_days[self.side_of[k]]))
        return np.concatenate(groups) if groups else new_battalions(0)

    def start_terms(self) -> None:
        """Those in the line on day 0 start their service terms today."""
        persons = self.contingent_sum(self.model.battalions["personnel"])
        for k in np.flatnonzero(persons):
            self._start_service(k, int(persons[k]))

    def contingent_sum(self, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Per contingent: the sum of a per-battalion ``values`` (where ``mask``)."""
        battalions = self.model.battalions
        weights = values if mask is None else np.where(mask, values, 0)
        return np.bincount(battalions["contingent"], weights=weights,
                           minlength=len(self.configs)).astype(np.int64)

    # ------------------------------------------------------ start of the day
    def return_wounded(self) -> None:
        """The wounded due back today join their category's trained reserve."""
        slot = self.model.day % self._care.shape[1]
        self.reserve += self._care[:, slot]
        self.reserve_returned += self._care[:, slot]
        self._reserve_days += self._care_days[:, slot]
        self._reserve_level += self._care_level[:, slot]
        self._care[:, slot] = 0
        self._care_days[:, slot] = self._care_level[:, slot] = 0.0

    def take_into_care(self, returning: np.ndarray) -> None:
        """Wounded who will return (per battalion, today) go into care until their
        side's delay has passed."""
        battalions = self.model.battalions
        owner = battalions["contingent"]
        n = len(self.configs)
        persons = np.bincount(owner, weights=returning, minlength=n)
        days = np.bincount(owner, weights=returning * battalions["training_days"], minlength=n)
        level = np.bincount(owner, weights=returning * battalions["training_level"], minlength=n)
        slots = (self.model.day + self._delay) % self._care.shape[1]
        rows = np.arange(n)
        self._care[rows, slots] += persons.astype(np.int64)
        self._care_days[rows, slots] += days
        self._care_level[rows, slots] += level

    @property
    def in_care(self) -> np.ndarray:
        """Wounded in care, per contingent (persons)."""
        return self._care.sum(axis=1)

    def release_served(self) -> None:
        """Those whose term ends today leave (as in the sector model, ODD 7.12): today's
        killed and permanently lost leave the terms in proportion to each day's persons
        serving, then those who started a term's length ago are released from the
        battalions, in proportion to their persons."""
        battalions = self.model.battalions
        exits = self.contingent_sum(battalions["killed"] + battalions["permanently_lost"])
        leaving, self._exits_booked = exits - self._exits_booked, exits
        for k, term in enumerate(self._term):
            if not term:
                continue
            serving = self._serving[k]
            pools = np.append(serving, self._release_due[k])
            pools -= _shares(int(leaving[k]), pools)
            serving[:] = pools[:-1]
            self._release_due[k] = pools[-1]
            slot = self.model.day % term
            self._release_due[k] += serving[slot]
            serving[slot] = 0
            rows = np.flatnonzero((battalions["contingent"] == k)
                                  & (battalions["state"] != DISBANDED)
                                  & (battalions["personnel"] > 0))
            count = min(int(self._release_due[k]), int(battalions["personnel"][rows].sum()))
            if count:
                battalions["personnel"][rows] -= _shares(count, battalions["personnel"][rows])
                self._release_due[k] -= count
                self.released[k] += count

    def _start_service(self, contingent: int, persons: int) -> None:
        term = self._term[contingent]
        if term and persons:
            self._serving[contingent][self.model.day % term] += persons

    def generate(self) -> None:
        """Recruit from the pools into training, graduate cohorts and trained groups into
        the reserve, refill battalions below strength (weakest first), and form new
        battalions of what is left."""
        model = self.model
        battalions = model.battalions
        in_line = self.contingent_sum(battalions["personnel"], battalions["state"] == LINE)
        shortfall = self.strength_at_start - (self.contingent_sum(battalions["personnel"])
                                              + self.reserve + self.in_care
                                              + self.pipelines.in_training)
        self.pipelines.recruit(model.day, in_line / np.maximum(1, self.strength_at_start),
                               shortfall)
        for persons, days, levels in (self.pipelines.graduate(model.day),
                                      self.pipelines.reinforce(model.day)):
            self.reserve += persons
            self._reserve_days += days
            self._reserve_level += levels
        self._refill()
        for k in np.flatnonzero(self.reserve >= self._unit_size):
            self._form(k, int(self.reserve[k] // self._unit_size[k]))

    def _refill(self) -> None:
        battalions = self.model.battalions
        strength = battalions["personnel"] / np.maximum(1, battalions["initial_personnel"])
        owner = battalions["contingent"]
        alive = (battalions["state"] != DISBANDED) & (battalions["personnel"] > 0)
        for k in np.flatnonzero(self.reserve > 0):
            needy = np.flatnonzero(alive & (owner == k) & (strength < self._refill_below[k]))
            needy = needy[np.argsort(strength[needy], kind="stable")]
            deficit = battalions["initial_personnel"][needy] - battalions["personnel"][needy]
            give = np.clip(self.reserve[k] - (np.cumsum(deficit) - deficit), 0, deficit)
            self._join(k, needy, give)

    def _join(self, contingent: int, rows: np.ndarray, give: np.ndarray) -> None:
        """Move ``give`` persons of the reserve into the battalions ``rows``, blending
        training as personnel-weighted means. Returned wounded go first; the others are
        new to the battalions and start their terms."""
        given = int(give.sum())
        if given == 0:
            return
        battalions = self.model.battalions
        mean_days = self._reserve_days[contingent] / self.reserve[contingent]
        mean_level = self._reserve_level[contingent] / self.reserve[contingent]
        old = battalions["personnel"][rows]
        new = old + give
        for column, mean in (("training_days", mean_days), ("training_level", mean_level)):
            battalions[column][rows] = (old * battalions[column][rows] + give * mean) / new
        battalions["personnel"][rows] = new
        self.reserve[contingent] -= given
        self._reserve_days[contingent] -= given * mean_days
        self._reserve_level[contingent] -= given * mean_level
        returned = min(given, int(self.reserve_returned[contingent]))
        self.reserve_returned[contingent] -= returned
        self._start_service(contingent, given - returned)

    def _form(self, contingent: int, count: int) -> None:
        """``count`` new battalions of the category's size from its reserve, in the rear
        and ready for the line (they rest no longer)."""
        model = self.model
        side = self.side_of[contingent]
        size = int(self._unit_size[contingent])
        rows = model.add_battalions(new_battalions(
            count, side=side, contingent=contingent, tactic=self._tactic[contingent],
            state=REAR, initial_personnel=size, rested_days=self._rest_days[side],
            formed_day=model.day))
        self._join(contingent, rows, np.full(count, size))

    # ------------------------------------------------------------ allocation
    def allocate(self) -> None:
        """Battalions ready in the rear (rested, refilled to ``return_at_strength``) go
        to the line (unless their category is ``withdrawn``), one at a time, each to the
        sector whose line is weakest against its
        target (the day's persons per km x frontage), among the sectors its category may
        go to (``sectors``); beyond every target they spread in proportion to the
        targets, or wait in the rear (``surplus``)."""
        battalions = self.model.battalions
        side, owner = battalions["side"], battalions["contingent"]
        ready = np.flatnonzero(
            (battalions["state"] == REAR) & (battalions["personnel"] > 0)
            & ~self._withdrawn[owner]
            & (battalions["rested_days"] >= self._rest_days[side])
            & (battalions["personnel"]
               >= self._return_at[side] * battalions["initial_personnel"] - 1e-9))
        if ready.size == 0:
            return
        line = battalions["state"] == LINE
        day_targets = self.model.config.targets(self.model.day)
        for s in (0, 1):
            mine = ready[side[ready] == s]
            targets = day_targets[:, s]
            if mine.size == 0 or not targets.any():
                continue
            current = np.bincount(battalions["sector"][line & (side == s)],
                                  weights=battalions["personnel"][line & (side == s)],
                                  minlength=len(targets))
            hold = self.sides[owner[mine[0]]].surplus == "reserve"
            open_sectors = targets > 0
            ratio = np.where(open_sectors, current / np.where(open_sectors, targets, 1), np.inf)
            for contingent in np.unique(owner[mine]):
                allowed = self.allowed[contingent] & open_sectors
                for row in mine[owner[mine] == contingent]:
                    choices = np.where(allowed, ratio, np.inf)
                    sector = int(np.argmin(choices))
                    if not np.isfinite(choices[sector]) or (hold and choices[sector] >= 1.0):
                        break  # every sector it may go to is full: the rest wait too
                    self._send(row, sector, s)
                    current[sector] += battalions["personnel"][row]
                    ratio[sector] = current[sector] / targets[sector]

    def _send(self, row: int, sector: int, side: int) -> None:
        """Battalion ``row`` enters ``sector`` at its next kilometre cell."""
        battalions = self.model.battalions
        slot = self._placed[sector, side] % self._sector_cells[sector]
        self._placed[sector, side] += 1
        battalions["state"][row] = LINE
        battalions["sector"][row] = sector
        battalions["front_cell"][row] = self._first_cell[sector] + slot

    # -------------------------------------------------------- end of the day
    def rotate(self) -> None:
        """Battalions in the line below ``rotate_below_strength`` go to the rear to be
        refilled and rest, as do all those of a withdrawn category; empty ones are
        disbanded; the rear rests a day."""
        battalions = self.model.battalions
        side = battalions["side"]
        empty = (battalions["personnel"] == 0) & (battalions["state"] != DISBANDED)
        tired = ((battalions["state"] == LINE) & ~empty
                 & ((battalions["personnel"]
                     < self._rotate_below[side] * battalions["initial_personnel"])
                    | self._withdrawn[battalions["contingent"]]))
        for rows, state in ((tired, REAR), (empty, DISBANDED)):
            battalions["state"][rows] = state
            battalions["sector"][rows] = battalions["front_cell"][rows] = NOWHERE
        battalions["rested_days"][tired] = 0
        battalions["rested_days"][battalions["state"] == REAR] += 1

    def conservation_totals(self) -> np.ndarray:
        """Per contingent: pool + in training + reserve + in battalions + in care +
        killed + permanently lost + released; constant over a run."""
        battalions = self.model.battalions
        return (self.contingent_sum(battalions["personnel"] + battalions["killed"]
                                    + battalions["permanently_lost"])
                + self.pipelines.pool + self.pipelines.in_training + self.reserve
                + self.in_care + self.released)


def _with_day_numbers(config, scenario):
    """A category's configuration with its dates as day numbers."""
    update = {kind: [item.model_copy(update={"day": scenario.day_of(item.day)})
                     for item in getattr(config, kind)] for kind in DATED_LISTS}
    return config.model_copy(update=update)
