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
        sc = model.config
        u = model.units
        configs = [getattr(sc, side).contingents.get(name) for side, name in model.contingents]
        n_cont = len(configs)
        self.configs = configs
        self.pipelines = Pipelines(configs, sc.training.time_constant_days)
        defaults = [c or ContingentConfig() for c in configs]
        self._refill_below = np.array([c.refill_below_strength for c in defaults])
        self._rotate_below = np.array([c.rotate_below_strength for c in defaults])
        self._return_morale = np.array([c.return_morale for c in defaults])
        self._rear_recovery = np.array([c.rear_morale_recovery_per_day for c in defaults])
        self._new_unit_size = [c.new_unit_size for c in defaults]
        # Only contingents with a configuration rally routed units and rotate tired ones.
        self._rotates = np.array([c is not None for c in configs])
        self.withdrawn = np.zeros(n_cont, dtype=bool)
        # Each unit's contingent, kept contiguous for the sums per contingent.
        self._contingent_of_unit = u["contingent"].copy()
        self.strength_at_start = self.contingent_sum(u["initial_personnel"])
        self._first_tactic = np.array([u["tactic"][np.flatnonzero(u["contingent"] == k)[0]]
                                       for k in range(n_cont)])
        # The trained reserve: graduates and returned wounded awaiting a unit, with the
        # sums of their training days and levels (merged into units as weighted means).
        self.reserve = np.zeros(n_cont, dtype=np.int64)
        self._reserve_training_days = np.zeros(n_cont)
        self._reserve_level = np.zeros(n_cont)
        # Wounded due back, per unit and day modulo the ring's length.
        return_delay_days = max(sc.attacker.return_delay_days, sc.defender.return_delay_days)
        self.care_ring = np.zeros((len(u), int(return_delay_days) + 1), dtype=np.int64)

    def contingent_sum(self, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Per contingent: the sum of a per-unit ``values`` (where ``mask``)."""
        weights = values if mask is None else np.where(mask, values, 0)
        return np.bincount(self._contingent_of_unit, weights=weights,
                           minlength=len(self.configs)).astype(np.int64)

    # ------------------------------------------------------ start of the day
    def return_wounded(self) -> None:
        """Wounded due today go back to their unit if it fights, up to its strength at
        formation (it may have been refilled meanwhile); the rest to the contingent's
        trained reserve (ODD 7.5)."""
        u, day = self.model.units, self.model.day
        slot = day % self.care_ring.shape[1]
        back = self.care_ring[:, slot].copy()
        self.care_ring[:, slot] = 0
        u["in_care"] -= back
        u["returned"] += back
        room = np.where(IS_FIGHTING[u["state"]],
                        np.maximum(0, u["initial_personnel"] - u["personnel"]), 0)
        to_unit = np.minimum(back, room)
        u["personnel"] += to_unit
        to_reserve = back - to_unit
        self.reserve += self.contingent_sum(to_reserve)
        self._reserve_training_days += np.bincount(
            self._contingent_of_unit, weights=to_reserve * u["training_days"],
            minlength=len(self.configs))
        self._reserve_level += np.bincount(self._contingent_of_unit,
                                           weights=to_reserve * u["training_level"],
                                           minlength=len(self.configs))

    def generate(self) -> None:
        """Recruit from the pools, graduate finished cohorts into the trained reserve,
        refill units below strength (in the line or in the rear), form new units from what
        is left, and send rested units in the rear back to the line (ODD 7.11)."""
        m = self.model
        u = m.units
        in_line = self.contingent_sum(u["personnel"], IS_FIGHTING[u["state"]])
        shortfall = self.strength_at_start - (
            self.contingent_sum(u["personnel"] + u["in_care"]) + self.reserve
            + self.pipelines.in_training)
        self.pipelines.recruit(m.day, in_line / np.maximum(1, self.strength_at_start),
                               shortfall, active=~self.withdrawn)
        persons, training_days, levels = self.pipelines.graduate(m.day)
        self.reserve += persons
        self._reserve_training_days += training_days
        self._reserve_level += levels
        self._refill()
        # New units only from what refills left, once every contingent is refilled.
        for k in np.flatnonzero(~self.withdrawn):
            size = self._new_unit_size[k]
            if size and self.reserve[k] >= size:
                self._form_units(k, int(self.reserve[k] // size), size)
        self._return_rested()

    def _refill(self) -> None:
        """Units below the refill threshold take from the reserve, weakest first."""
        u = self.model.units
        strength = u["personnel"] / u["initial_personnel"]
        candidates = (u["personnel"] > 0) & (IS_FIGHTING[u["state"]] | self.in_rear())
        for k in np.flatnonzero((self.reserve > 0) & ~self.withdrawn):
            needy = np.flatnonzero(candidates & (self._contingent_of_unit == k)
                                   & (strength < self._refill_below[k]))
            needy = needy[np.argsort(strength[needy], kind="stable")]
            deficit = u["initial_personnel"][needy] - u["personnel"][needy]
            give = np.clip(self.reserve[k] - (np.cumsum(deficit) - deficit), 0, deficit)
            self._join_units(k, needy, give)

    def _join_units(self, k: int, units: np.ndarray, give: np.ndarray) -> None:
        """Move ``give`` persons from contingent ``k``'s reserve into ``units``, blending
        training days and level as personnel-weighted means."""
        given = int(give.sum())
        if given == 0:
            return
        u = self.model.units
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
        m = self.model
        side = SIDES.index(m.contingents[k][0])
        x, y_m = m.sector.start_positions(side, count)
        index = m.add_units(new_units(
            count, side=side, contingent=k, tactic=self._first_tactic[k],
            initial_personnel=size,
            training_days=self._reserve_training_days[k] / self.reserve[k],
            training_level=self._reserve_level[k] / self.reserve[k],
            morale=1.0, initial_morale=1.0, commit_day=m.day, x=x, y_m=y_m, y0_m=y_m,
            state=ADVANCING if side == ATTACKER else HOLDING))
        self._contingent_of_unit = m.units["contingent"].copy()
        self._join_units(k, index, np.full(count, size))
        self.care_ring = np.vstack([self.care_ring,
                                    np.zeros((count, self.care_ring.shape[1]), np.int64)])
        for i in index:
            m.records.event(-1, "unit_formed", i)

    def _return_rested(self) -> None:
        """Rested units in the rear go back to where they started."""
        m = self.model
        u, k = m.units, self._contingent_of_unit
        # The tolerance lets morale regained in steps of 0.1 reach a threshold of 0.7.
        back = (self.in_rear() & (u["morale"] >= self._return_morale[k] - 1e-9)
                & (u["personnel"] > self._rotate_below[k] * u["initial_personnel"]))
        if back.any():
            u["state"][back] = np.where(u["side"][back] == ATTACKER, ADVANCING, HOLDING)
            u["y_m"][back] = u["y0_m"][back]
            m.combat.occupancy_changed = True
            for i in np.flatnonzero(back):
                m.records.event(-1, "unit_returned", i)

    def commit_waves(self) -> None:
        """Units whose wave is due leave the reserve for the sector."""
        m = self.model
        u = m.units
        due = (u["state"] == RESERVE) & (u["commit_day"] <= m.day)
        u["state"][due] = np.where(u["side"][due] == ATTACKER, ADVANCING, HOLDING)
        m.combat.occupancy_changed |= bool(due.any())

    # -------------------------------------------------------- end of the day
    def rotate_and_withdraw(self) -> None:
        """Tired units rotate to the rear, units in the rear rest, and a contingent whose
        losses pass its threshold (or that can no longer be replenished) is withdrawn."""
        m = self.model
        u = m.units
        k = self._contingent_of_unit
        tired = (IS_FIGHTING[u["state"]] & (u["personnel"] > 0) & self._rotates[k]
                 & (u["personnel"] < self._rotate_below[k] * u["initial_personnel"]))
        for i in np.flatnonzero(tired):
            m.records.event(-1, "unit_rotated", i)
        u["state"][tired] = WITHDRAWN
        rear = self.in_rear()
        u["morale"][rear] = np.minimum(1.0, u["morale"][rear] + self._rear_recovery[k[rear]])
        losses = self.contingent_sum(u["killed"] + u["wounded"])
        deployed = self.strength_at_start + self.pipelines.graduated_total
        for c in np.flatnonzero(~self.withdrawn):
            config = self.configs[c]
            if config is None:
                continue
            over = (config.withdraw_at_loss_fraction is not None
                    and losses[c] > config.withdraw_at_loss_fraction * deployed[c])
            spent = (config.withdraw_when_exhausted and self.pipelines.pool[c] == 0
                     and self.pipelines.in_training[c] == 0 and self.reserve[c] == 0)
            if over or spent:
                self.withdrawn[c] = True
                leaving = (k == c) & (u["state"] != DESTROYED)
                u["state"][leaving] = WITHDRAWN
                m.records.event(-1, "contingent_withdrawn", None, contingent=c)
        m.combat.occupancy_changed |= bool(tired.any() or self.withdrawn.any())

    # -------------------------------------------------- what is still to come
    def in_rear(self) -> np.ndarray:
        """Units resting behind the line: out of the sector, not destroyed, of a contingent
        that rotates its units and has not been withdrawn."""
        u = self.model.units
        k = self._contingent_of_unit
        return ((u["state"] == WITHDRAWN) & (u["personnel"] > 0) & self._rotates[k]
                & ~self.withdrawn[k])

    def _replenishable(self) -> np.ndarray:
        """Per contingent: whether people will still come to it (it is not withdrawn and
        has people in its pool, in training, in its reserve or in care)."""
        p = self.pipelines
        in_care = self.contingent_sum(self.model.units["in_care"])
        return ~self.withdrawn & (
            (p.pool > 0) | (p.in_training > 0) | (self.reserve > 0) | (in_care > 0))

    def will_fight_later(self) -> np.ndarray:
        """Per side: whether units not now in the sector will fight there later: units in
        the rear strong enough to return once rested (or that their contingent can still
        refill), or new units a contingent will still form."""
        u = self.model.units
        k = self._contingent_of_unit
        replenishable = self._replenishable()
        strong = u["personnel"] > self._rotate_below[k] * u["initial_personnel"]
        can_return = self.in_rear() & (strong | replenishable[k])
        forms = np.array([size is not None for size in self._new_unit_size]) & replenishable
        return np.bincount(u["side"][can_return | forms[k]], minlength=2) > 0

    def conservation_totals(self) -> np.ndarray:
        """Per contingent: pool + in training + personnel + reserve + in care + killed +
        permanently lost. Constant over a run (no one is created or lost by book-keeping)."""
        u = self.model.units
        return (self.contingent_sum(u["personnel"] + u["in_care"] + u["killed"]
                                    + u["permanently_lost"]) + self.reserve
                + self.pipelines.pool + self.pipelines.in_training)
