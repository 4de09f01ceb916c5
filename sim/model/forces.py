"""Force generation (ODD 7.5 and 7.11): the wounded flow back, recruitment and training
(:mod:`sim.model.pipelines`), the trained reserve, refills, new units, waves entering,
rotation to the rear and back, and the withdrawal of a contingent."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.config import ContingentConfig
from sim.model.pipelines import Pipelines
from sim.model.units import (
    ADVANCING,
    DESTROYED,
    HOLDING,
    IS_FIGHTING,
    RESERVE,
    WITHDRAWN,
    new_units,
)
from sim.sides import ATTACKER, SIDES

if TYPE_CHECKING:
    from sim.model.model import AttritionModel


class Forces:
    """Each contingent's people outside its units (pool, training, trained reserve, the
    wounded in care) and the rules that move them into units and units in and out of the
    line. Arrays are indexed by contingent (``model.contingents``) unless named per unit.
    """

    def __init__(self, model: AttritionModel):
        self.model = model
        scenario = model.config
        units = model.units
        configs = [getattr(scenario, side).contingents.get(name)
                   for side, name in model.contingents]
        n_cont = len(configs)
        self.configs = configs
        self.pipelines = Pipelines(configs, scenario.training.time_constant_days)
        defaults = [c or ContingentConfig() for c in configs]
        self._refill_below = np.array([c.refill_below_strength for c in defaults])
        self._rotate_below = np.array([c.rotate_below_strength for c in defaults])
        self._return_morale = np.array([c.return_morale for c in defaults])
        self._rear_recovery = np.array([c.rear_morale_recovery_per_day for c in defaults])
        self._new_unit_size = [c.new_unit_size for c in defaults]
        # Only contingents with a configuration rally routed units and rotate tired ones.
        self._rotates = np.array([c is not None for c in configs])
        self.withdrawn = np.zeros(n_cont, dtype=bool)
        # Each unit's owner: its contingent, kept contiguous for the sums per contingent.
        self._owner = units["contingent"].copy()
        self.strength_at_start = self.contingent_sum(units["initial_personnel"])
        self._first_tactic = np.array([units["tactic"][np.flatnonzero(units["contingent"] == k)[0]]
                                       for k in range(n_cont)])
        # The trained reserve: graduates and returned wounded awaiting a unit, with the
        # sums of their training days and levels (merged into units as weighted means).
        self.reserve = np.zeros(n_cont, dtype=np.int64)
        self._reserve_training_days = np.zeros(n_cont)
        self._reserve_level = np.zeros(n_cont)
        # Wounded due back, per unit and day modulo the ring's length.
        return_delay_days = max(scenario.attacker.return_delay_days,
                                scenario.defender.return_delay_days)
        self.care_ring = np.zeros((len(units), int(return_delay_days) + 1), dtype=np.int64)

    def contingent_sum(self, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Per contingent: the sum of a per-unit ``values`` (where ``mask``)."""
        weights = values if mask is None else np.where(mask, values, 0)
        return np.bincount(self._owner, weights=weights,
                           minlength=len(self.configs)).astype(np.int64)

    # ------------------------------------------------------ start of the day
    def return_wounded(self) -> None:
        """Wounded due today go back to their unit if it fights, up to its strength at
        formation (it may have been refilled meanwhile); the rest to the contingent's
        trained reserve (ODD 7.5)."""
        units, day = self.model.units, self.model.day
        slot = day % self.care_ring.shape[1]
        back = self.care_ring[:, slot].copy()
        self.care_ring[:, slot] = 0
        units["in_care"] -= back
        units["returned"] += back
        room = np.where(IS_FIGHTING[units["state"]],
                        np.maximum(0, units["initial_personnel"] - units["personnel"]), 0)
        to_unit = np.minimum(back, room)
        units["personnel"] += to_unit
        to_reserve = back - to_unit
        self.reserve += self.contingent_sum(to_reserve)
        self._reserve_training_days += np.bincount(
            self._owner, weights=to_reserve * units["training_days"],
            minlength=len(self.configs))
        self._reserve_level += np.bincount(self._owner,
                                           weights=to_reserve * units["training_level"],
                                           minlength=len(self.configs))

    def generate(self) -> None:
        """Recruit from the pools, graduate finished cohorts into the trained reserve,
        refill units below strength (in the line or in the rear), form new units from what
        is left, and send rested units in the rear back to the line (ODD 7.11)."""
        model = self.model
        units = model.units
        in_line = self.contingent_sum(units["personnel"], IS_FIGHTING[units["state"]])
        shortfall = self.strength_at_start - (
            self.contingent_sum(units["personnel"] + units["in_care"]) + self.reserve
            + self.pipelines.in_training)
        self.pipelines.recruit(model.day, in_line / np.maximum(1, self.strength_at_start),
                               shortfall, active=~self.withdrawn)
        persons, training_days, levels = self.pipelines.graduate(model.day)
        self.reserve += persons
        self._reserve_training_days += training_days
        self._reserve_level += levels
        self._refill()
        # New units only from what refills left, once every contingent is refilled.
        for contingent in np.flatnonzero(~self.withdrawn):
            size = self._new_unit_size[contingent]
            if size and self.reserve[contingent] >= size:
                self._form_units(contingent, int(self.reserve[contingent] // size), size)
        self._return_rested()

    def _refill(self) -> None:
        """Units below the refill threshold take from the reserve, weakest first."""
        units = self.model.units
        strength = units["personnel"] / units["initial_personnel"]
        candidates = (units["personnel"] > 0) & (IS_FIGHTING[units["state"]] | self.in_rear())
        for contingent in np.flatnonzero((self.reserve > 0) & ~self.withdrawn):
            needy = np.flatnonzero(candidates & (self._owner == contingent)
                                   & (strength < self._refill_below[contingent]))
            needy = needy[np.argsort(strength[needy], kind="stable")]
            deficit = units["initial_personnel"][needy] - units["personnel"][needy]
            give = np.clip(self.reserve[contingent] - (np.cumsum(deficit) - deficit), 0, deficit)
            self._join_units(contingent, needy, give)

    def _join_units(self, contingent: int, rows: np.ndarray, give: np.ndarray) -> None:
        """Move ``give`` persons from ``contingent``'s reserve into the units ``rows``,
        blending training days and level as personnel-weighted means."""
        given = int(give.sum())
        if given == 0:
            return
        units = self.model.units
        mean_days = self._reserve_training_days[contingent] / self.reserve[contingent]
        mean_level = self._reserve_level[contingent] / self.reserve[contingent]
        old = units["personnel"][rows]
        new = old + give
        for column, mean in (("training_days", mean_days), ("training_level", mean_level)):
            units[column][rows] = (old * units[column][rows] + give * mean) / new
        units["personnel"][rows] = new
        self.reserve[contingent] -= given
        self._reserve_training_days[contingent] -= given * mean_days
        self._reserve_level[contingent] -= given * mean_level

    def _form_units(self, contingent: int, count: int, size: int) -> None:
        """Form ``count`` new units of ``size`` from contingent ``contingent``'s reserve. They take
        the contingent's first tactic, start fresh (morale 1, no experience or adaptation)
        and enter at the side's start rows."""
        model = self.model
        side = SIDES.index(model.contingents[contingent][0])
        x, y_m = model.sector.start_positions(side, count)
        index = model.add_units(new_units(
            count, side=side, contingent=contingent, tactic=self._first_tactic[contingent],
            initial_personnel=size,
            training_days=self._reserve_training_days[contingent] / self.reserve[contingent],
            training_level=self._reserve_level[contingent] / self.reserve[contingent],
            morale=1.0, initial_morale=1.0, commit_day=model.day, x=x, y_m=y_m, y0_m=y_m,
            state=ADVANCING if side == ATTACKER else HOLDING))
        self._owner = model.units["contingent"].copy()
        self._join_units(contingent, index, np.full(count, size))
        self.care_ring = np.vstack([self.care_ring,
                                    np.zeros((count, self.care_ring.shape[1]), np.int64)])
        for i in index:
            model.records.event(-1, "unit_formed", i)

    def _return_rested(self) -> None:
        """Rested units in the rear go back to where they started."""
        model = self.model
        units, owner = model.units, self._owner
        # The tolerance lets morale regained in steps of 0.1 reach a threshold of 0.7.
        back = (self.in_rear() & (units["morale"] >= self._return_morale[owner] - 1e-9)
                & (units["personnel"] > self._rotation_floor()))
        if back.any():
            units["state"][back] = np.where(units["side"][back] == ATTACKER, ADVANCING, HOLDING)
            units["y_m"][back] = units["y0_m"][back]
            model.combat.occupancy_changed = True
            for i in np.flatnonzero(back):
                model.records.event(-1, "unit_returned", i)

    def commit_waves(self) -> None:
        """Units whose wave is due leave the reserve for the sector."""
        model = self.model
        units = model.units
        due = (units["state"] == RESERVE) & (units["commit_day"] <= model.day)
        units["state"][due] = np.where(units["side"][due] == ATTACKER, ADVANCING, HOLDING)
        model.combat.occupancy_changed |= bool(due.any())

    # -------------------------------------------------------- end of the day
    def rotate_and_withdraw(self) -> None:
        """Tired units rotate to the rear, units in the rear rest, and a contingent whose
        losses pass its threshold (or that can no longer be replenished) is withdrawn."""
        model = self.model
        units = model.units
        owner = self._owner
        tired = (IS_FIGHTING[units["state"]] & (units["personnel"] > 0) & self._rotates[owner]
                 & (units["personnel"] < self._rotation_floor()))
        for i in np.flatnonzero(tired):
            model.records.event(-1, "unit_rotated", i)
        units["state"][tired] = WITHDRAWN
        rear = self.in_rear()
        units["morale"][rear] = np.minimum(1.0, units["morale"][rear]
                                           + self._rear_recovery[owner[rear]])
        losses = self.contingent_sum(units["killed"] + units["wounded"])
        deployed = self.strength_at_start + self.pipelines.graduated_total
        for contingent in np.flatnonzero(~self.withdrawn):
            config = self.configs[contingent]
            if config is None:
                continue
            over = (config.withdraw_at_loss_fraction is not None
                    and losses[contingent]
                    > config.withdraw_at_loss_fraction * deployed[contingent])
            spent = (config.withdraw_when_exhausted and self.pipelines.pool[contingent] == 0
                     and self.pipelines.in_training[contingent] == 0
                     and self.reserve[contingent] == 0)
            if over or spent:
                self.withdrawn[contingent] = True
                leaving = (owner == contingent) & (units["state"] != DESTROYED)
                units["state"][leaving] = WITHDRAWN
                model.records.event(-1, "contingent_withdrawn", None, contingent=contingent)
        model.combat.occupancy_changed |= bool(tired.any() or self.withdrawn.any())

    # -------------------------------------------------- what is still to come
    def in_rear(self) -> np.ndarray:
        """Units resting behind the line: out of the sector, not destroyed, of a contingent
        that rotates its units and has not been withdrawn."""
        units = self.model.units
        owner = self._owner
        return ((units["state"] == WITHDRAWN) & (units["personnel"] > 0) & self._rotates[owner]
                & ~self.withdrawn[owner])

    def _rotation_floor(self) -> np.ndarray:
        """Per unit: the personnel below which it rotates to the rear (and above which
        it may return)."""
        return self._rotate_below[self._owner] * self.model.units["initial_personnel"]

    def will_fight_later(self) -> np.ndarray:
        """Per side: whether units not now in the sector will fight there later: units in
        the rear strong enough to return once rested (or that their contingent can still
        refill, as people are still to come to it), or new units a contingent will still
        form (as at least a unit's worth of people is still to come: a few returned
        wounded short of a unit's size form none)."""
        units = self.model.units
        owner = self._owner
        pipelines = self.pipelines
        # Per contingent not withdrawn: its pool, recruits in training, reserve and
        # wounded in care (withdrawn contingents receive no one).
        to_come = np.where(self.withdrawn, 0, pipelines.pool + pipelines.in_training
                           + self.reserve + self.contingent_sum(units["in_care"]))
        strong = units["personnel"] > self._rotation_floor()
        can_return = self.in_rear() & (strong | (to_come[owner] > 0))
        forms = np.array([size is not None and to_come[k] >= size
                          for k, size in enumerate(self._new_unit_size)])
        return np.bincount(units["side"][can_return | forms[owner]], minlength=2) > 0

    def conservation_totals(self) -> np.ndarray:
        """Per contingent: pool + in training + personnel + reserve + in care + killed +
        permanently lost. Constant over a run (no one is created or lost by book-keeping)."""
        units = self.model.units
        return (self.contingent_sum(units["personnel"] + units["in_care"] + units["killed"]
                                    + units["permanently_lost"]) + self.reserve
                + self.pipelines.pool + self.pipelines.in_training)
