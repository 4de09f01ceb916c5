"""Force generation (ODD 7.5, 7.11 and 7.12): the wounded flow back, recruitment and
training (:mod:`sim.model.pipelines`), trained reinforcements, the trained reserve,
refills, new units, waves entering, rotation to the rear and back, service terms, and the
withdrawal of a contingent and its return."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from sim.config import DATED_LISTS, ContingentConfig
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
        configs = [_with_day_numbers(getattr(scenario, side).contingents.get(name), scenario)
                   for side, name in model.contingents]
        n_cont = len(configs)
        self.configs = configs
        self.pipelines = Pipelines(configs, scenario.training.time_constant_days)
        defaults = [c or ContingentConfig() for c in configs]
        # A withdrawn contingent with a return rule rests, keeps recruiting and refilling
        # its units in the rear, and returns to the line when its rule says (ODD 7.12).
        self._returns = np.array([c.return_after_days is not None
                                  or c.return_at_strength is not None for c in defaults])
        self._withdrawn_day = np.zeros(n_cont, dtype=np.int64)
        # This deployment: persons committed to the line, and the contingent's killed
        # and wounded when it began (the withdrawal threshold is measured on these).
        self.committed = np.zeros(n_cont, dtype=np.int64)
        self._losses_at_deployment = np.zeros(n_cont, dtype=np.int64)
        # Service terms (ODD 7.12): persons serving by the day their term started, in a
        # ring of the term's length per contingent with a term; those due for release
        # but not yet reachable (in care); released so far.
        self._term = [c.service_term_days for c in defaults]
        self._serving = [np.zeros(t or 0, dtype=np.int64) for t in self._term]
        self._release_due = np.zeros(n_cont, dtype=np.int64)
        self._exits_booked = np.zeros(n_cont, dtype=np.int64)
        self.released = np.zeros(n_cont, dtype=np.int64)
        self._refill_below = np.array([c.refill_below_strength for c in defaults])
        self._rotate_below = np.array([c.rotate_below_strength for c in defaults])
        self._return_morale = np.array([c.return_morale for c in defaults])
        self._rear_recovery = np.array([c.rear_morale_recovery_per_day for c in defaults])
        self._new_unit_size = [c.new_unit_size for c in defaults]
        self._new_units_every = [c.new_units_every_days for c in defaults]
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
        # Of the reserve, the returned wounded: they have served already, and join units
        # before graduates do.
        self.reserve = np.zeros(n_cont, dtype=np.int64)
        self.reserve_returned = np.zeros(n_cont, dtype=np.int64)
        self._reserve_training_days = np.zeros(n_cont)
        self._reserve_level = np.zeros(n_cont)
        # Wounded due back, per unit and day modulo the ring's length.
        return_delay_days = max(scenario.attacker.return_delay_days,
                                scenario.defender.return_delay_days)
        self.care_ring = np.zeros((len(units), int(return_delay_days) + 1), dtype=np.int64)
        # The units in the line on day 0 are committed, and start their terms, today.
        self._commit(IS_FIGHTING[units["state"]])

    def contingent_sum(self, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Per contingent: the sum of a per-unit ``values`` (where ``mask``)."""
        # Contiguous, as every caller's values then share one compiled version.
        return _sum_by_owner(self._owner, np.ascontiguousarray(values),
                             _ALL if mask is None else mask, len(self.configs))

    # ------------------------------------------------------ start of the day
    def return_wounded(self) -> None:
        """Wounded due today go back to their unit if it fights, up to its strength at
        formation (it may have been refilled meanwhile); the rest to the contingent's
        trained reserve (ODD 7.5)."""
        units, day = self.model.units, self.model.day
        slot = day % self.care_ring.shape[1]
        back = self.care_ring[:, slot].copy()
        if not back.any():
            return  # no one is due: the rest would add zeros
        self.care_ring[:, slot] = 0
        units["in_care"] -= back
        units["returned"] += back
        room = np.where(IS_FIGHTING[units["state"]],
                        np.maximum(0, units["initial_personnel"] - units["personnel"]), 0)
        to_unit = np.minimum(back, room)
        units["personnel"] += to_unit
        to_reserve = back - to_unit
        self.reserve += self.contingent_sum(to_reserve)
        self.reserve_returned += self.contingent_sum(to_reserve)
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
        active = self.active()
        self.pipelines.recruit(model.day, in_line / np.maximum(1, self.strength_at_start),
                               shortfall, active=active)
        for persons, training_days, levels in (self.pipelines.graduate(model.day),
                                               self.pipelines.reinforce(model.day, active)):
            self.reserve += persons
            self._reserve_training_days += training_days
            self._reserve_level += levels
        self._refill()
        # New units only from what refills left, once every contingent is refilled; with
        # new_units_every_days, only on assault days (the reserve gathers in between).
        for contingent in np.flatnonzero(active):
            size, every = self._new_unit_size[contingent], self._new_units_every[contingent]
            if every is not None and model.day % every:
                continue
            if size and self.reserve[contingent] >= size:
                self._form_units(contingent, int(self.reserve[contingent] // size), size)
        self._return_rested()

    def _refill(self) -> None:
        """Units below the refill threshold take from the reserve, weakest first."""
        units = self.model.units
        strength = units["personnel"] / units["initial_personnel"]
        in_rear, resting = self._resting()
        candidates = (units["personnel"] > 0) & (IS_FIGHTING[units["state"]] | in_rear
                                                 | resting)
        for contingent in np.flatnonzero((self.reserve > 0) & self.active()):
            needy = np.flatnonzero(candidates & (self._owner == contingent)
                                   & (strength < self._refill_below[contingent]))
            needy = needy[np.argsort(strength[needy], kind="stable")]
            deficit = units["initial_personnel"][needy] - units["personnel"][needy]
            give = np.clip(self.reserve[contingent] - (np.cumsum(deficit) - deficit), 0, deficit)
            self._join_units(contingent, needy, give)

    def _join_units(self, contingent: int, rows: np.ndarray, give: np.ndarray) -> None:
        """Move ``give`` persons from ``contingent``'s reserve into the units ``rows``,
        blending training days and level as personnel-weighted means. Returned wounded
        go first; the others are new to the contingent's units: their terms start today,
        and in a deployment they count as committed to the line."""
        given = int(give.sum())
        if given == 0:
            return
        returned = min(given, int(self.reserve_returned[contingent]))
        self.reserve_returned[contingent] -= returned
        self._start_service(contingent, given - returned)
        if not self.withdrawn[contingent]:
            self.committed[contingent] += given - returned
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
        # A resting contingent's new units rest with it until it returns.
        state = (WITHDRAWN if self.withdrawn[contingent]
                 else ADVANCING if side == ATTACKER else HOLDING)
        index = model.add_units(new_units(
            count, side=side, contingent=contingent, tactic=self._first_tactic[contingent],
            initial_personnel=size,
            training_days=self._reserve_training_days[contingent] / self.reserve[contingent],
            training_level=self._reserve_level[contingent] / self.reserve[contingent],
            morale=1.0, initial_morale=1.0, commit_day=model.day, x=x, y_m=y_m, y0_m=y_m,
            state=state))
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
        """Units whose wave is due leave the reserve for the sector (not while their
        contingent is withdrawn: they wait for its return), and a resting contingent
        whose return is due comes back to the line (ODD 7.12)."""
        model = self.model
        units = model.units
        self._return_contingents()
        due = ((units["state"] == RESERVE) & (units["commit_day"] <= model.day)
               & ~self.withdrawn[self._owner])
        self._commit(due)
        units["state"][due] = np.where(units["side"][due] == ATTACKER, ADVANCING, HOLDING)
        model.combat.occupancy_changed |= bool(due.any())

    def _commit(self, rows: np.ndarray) -> None:
        """The units ``rows`` (a mask) enter the line for the first time: their persons
        are committed to this deployment and start their terms today."""
        persons = self.contingent_sum(self.model.units["personnel"], rows)
        self.committed += persons
        for contingent in np.flatnonzero(persons):
            self._start_service(contingent, int(persons[contingent]))

    def _return_contingents(self) -> None:
        """Resting contingents whose rule is met return: their units in the rear go back
        to where they started, the waves they had still to send follow at their
        intervals, and a new deployment begins, its committed persons those who return
        (and whoever joins them later)."""
        model = self.model
        units = model.units
        for contingent in np.flatnonzero(self.withdrawn & self._returns):
            config = self.configs[contingent]
            rested = model.day - self._withdrawn_day[contingent] >= (config.return_after_days
                                                                      or 0)
            now, full = self._strength(contingent)
            strong = config.return_at_strength is None or now >= config.return_at_strength * full
            if not (rested and strong):
                continue
            self.withdrawn[contingent] = False
            # Its schedule of waves paused while it rested: those still to come go at
            # the same intervals after its return as they were due after its withdrawal.
            pending = (self._owner == contingent) & (units["state"] == RESERVE)
            units["commit_day"][pending] += model.day - self._withdrawn_day[contingent]
            back = ((self._owner == contingent) & (units["state"] == WITHDRAWN)
                    & (units["personnel"] > 0))
            units["state"][back] = np.where(units["side"][back] == ATTACKER, ADVANCING, HOLDING)
            units["y_m"][back] = units["y0_m"][back]
            self.committed[contingent] = int(units["personnel"][back].sum())
            self._losses_at_deployment[contingent] = self._losses()[contingent]
            model.combat.occupancy_changed = True
            model.records.event(-1, "contingent_returned", None, contingent=contingent)

    def _strength(self, contingent: int) -> tuple[int, int]:
        """A contingent's strength as its return rule measures it: persons in the units
        it has sent to the line and in its trained reserve, and those units' strength
        at formation (waves not yet sent count in neither)."""
        units = self.model.units
        sent = (self._owner == contingent) & (units["state"] != RESERVE)
        return (int(units["personnel"][sent].sum() + self.reserve[contingent]),
                int(units["initial_personnel"][sent].sum()))

    def _losses(self) -> np.ndarray:
        """Per contingent: its killed and wounded so far."""
        units = self.model.units
        return self.contingent_sum(units["killed"] + units["wounded"])

    # ------------------------------------------------------- service terms
    def _start_service(self, contingent: int, persons: int) -> None:
        """``persons`` of ``contingent`` start their term today."""
        term = self._term[contingent]
        if term and persons:
            self._serving[contingent][self.model.day % term] += persons

    def release_served(self) -> None:
        """Those whose term ends today leave the contingent (ODD 7.12): first, today's
        killed and permanently lost leave the terms, in proportion to each day's
        persons serving (a hit does not depend on how long one has served); then those
        who started a term's length ago are due, and are released from the units
        (in the line, in the rear or resting) and the returned wounded in the reserve,
        in proportion to their persons; those in care are released once back."""
        model = self.model
        units = model.units
        exits = self.contingent_sum(units["killed"] + units["permanently_lost"])
        leaving, self._exits_booked = exits - self._exits_booked, exits
        for contingent, term in enumerate(self._term):
            if not term:
                continue
            serving = self._serving[contingent]
            # Those due are serving too, until they are released.
            pools = np.append(serving, self._release_due[contingent])
            pools -= _shares(int(leaving[contingent]), pools)
            serving[:] = pools[:-1]
            self._release_due[contingent] = pools[-1]
            slot = model.day % term
            self._release_due[contingent] += serving[slot]
            serving[slot] = 0
            self._release(contingent)

    def _release(self, contingent: int) -> None:
        """Release up to the persons due from the contingent's units and reserve."""
        model = self.model
        units = model.units
        rows = np.flatnonzero((self._owner == contingent) & (units["state"] != RESERVE)
                              & (units["state"] != DESTROYED) & (units["personnel"] > 0))
        holders = np.append(units["personnel"][rows], self.reserve_returned[contingent])
        count = min(int(self._release_due[contingent]), int(holders.sum()))
        if count == 0:
            return
        taken = _shares(count, holders)
        units["personnel"][rows] -= taken[:-1]
        from_reserve = int(taken[-1])
        if from_reserve:
            mean_days = self._reserve_training_days[contingent] / self.reserve[contingent]
            mean_level = self._reserve_level[contingent] / self.reserve[contingent]
            self.reserve[contingent] -= from_reserve
            self.reserve_returned[contingent] -= from_reserve
            self._reserve_training_days[contingent] -= from_reserve * mean_days
            self._reserve_level[contingent] -= from_reserve * mean_level
        self._release_due[contingent] -= count
        self.released[contingent] += count
        emptied = rows[(units["personnel"][rows] == 0) & (taken[:-1] > 0)]
        if emptied.size:
            # A unit all of whose soldiers went home is disbanded.
            units["state"][emptied] = WITHDRAWN
            for i in emptied:
                model.records.event(-1, "unit_disbanded", i)
        model.combat.occupancy_changed = True

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
        in_rear, resting = self._resting()
        rear = in_rear | resting
        units["morale"][rear] = np.minimum(1.0, units["morale"][rear]
                                           + self._rear_recovery[owner[rear]])
        # The withdrawal threshold is measured on this deployment: its killed and
        # wounded against the persons it committed to the line (not waves never sent).
        losses = self._losses() - self._losses_at_deployment
        # Waves still to be sent: a contingent with some is not yet spent.
        waiting = self.contingent_sum(units["personnel"], units["state"] == RESERVE) > 0
        for contingent in np.flatnonzero(~self.withdrawn):
            config = self.configs[contingent]
            if config is None:
                continue
            over = (config.withdraw_at_loss_fraction is not None
                    and self.committed[contingent] > 0
                    and losses[contingent]
                    > config.withdraw_at_loss_fraction * self.committed[contingent])
            spent = (config.withdraw_when_exhausted and self.pipelines.pool[contingent] == 0
                     and self.pipelines.in_training[contingent] == 0
                     and self.reserve[contingent] == 0 and not waiting[contingent])
            if over or spent:
                self.withdrawn[contingent] = True
                self._withdrawn_day[contingent] = model.day
                # Waves not yet sent stay in reserve, to go when it returns (if ever).
                leaving = ((owner == contingent) & (units["state"] != DESTROYED)
                           & (units["state"] != RESERVE))
                units["state"][leaving] = WITHDRAWN
                model.records.event(-1, "contingent_withdrawn", None, contingent=contingent)
        model.combat.occupancy_changed |= bool(tired.any() or self.withdrawn.any())

    # -------------------------------------------------- what is still to come
    def active(self) -> np.ndarray:
        """Per contingent: whether it recruits, trains, refills and forms units: in the
        line, or resting to return (a contingent withdrawn for good does not)."""
        return ~self.withdrawn | self._returns

    def in_rear(self) -> np.ndarray:
        """Units resting behind the line: out of the sector, not destroyed, of a contingent
        that rotates its units and has not been withdrawn."""
        return self._resting()[0]

    def resting_units(self) -> np.ndarray:
        """Units of contingents withdrawn to rest and return (not destroyed)."""
        return self._resting()[1]

    def _resting(self) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`in_rear` and :meth:`resting_units`, in one pass over the units."""
        units = self.model.units
        return _resting(units["state"], units["personnel"], self._owner, self._rotates,
                        self.withdrawn, self._returns)

    def _rotation_floor(self) -> np.ndarray:
        """Per unit: the personnel below which it rotates to the rear (and above which
        it may return)."""
        return self._rotate_below[self._owner] * self.model.units["initial_personnel"]

    def will_fight_later(self) -> np.ndarray:
        """Per side: whether units not now in the sector will fight there later: units in
        the rear strong enough to return once rested (or that their contingent can still
        refill, as people are still to come to it), new units a contingent will still
        form (as at least a unit's worth of people is still to come: a few returned
        wounded short of a unit's size form none), waves still to be sent, and a
        resting contingent that will return (its strength rule can still be met)."""
        units = self.model.units
        owner = self._owner
        pipelines = self.pipelines
        active = self.active()
        # Per contingent that recruits: its pool, recruits in training, reserve and
        # wounded in care (contingents withdrawn for good receive no one).
        to_come = np.where(active, pipelines.pool + pipelines.in_training
                           + self.reserve + self.contingent_sum(units["in_care"]), 0)
        strong = units["personnel"] > self._rotation_floor()
        can_return = self.in_rear() & (strong | (to_come[owner] > 0))
        forms = np.array([size is not None and to_come[k] >= size
                          for k, size in enumerate(self._new_unit_size)])
        returns = np.array([self.withdrawn[k] and self._returns[k] and self._may_return(k)
                            for k in range(len(self.configs))])
        waiting = (units["state"] == RESERVE) & (units["personnel"] > 0)
        later = can_return | forms[owner] | (returns[owner] & (units["state"] != DESTROYED))
        later |= waiting & (~self.withdrawn[owner] | returns[owner])
        return np.bincount(units["side"][later], minlength=2) > 0

    def _may_return(self, contingent: int) -> bool:
        """Whether a resting contingent can still meet its return rule and has someone
        to return with: its strength with all still to come to it (pool, training,
        care) reaches return_at_strength, and it has people (waves not yet sent too)."""
        units, pipelines = self.model.units, self.pipelines
        mine = self._owner == contingent
        now, full = self._strength(contingent)
        to_come = int(pipelines.pool[contingent] + pipelines.in_training[contingent]
                      + units["in_care"][mine].sum())
        waiting = int(units["personnel"][mine & (units["state"] == RESERVE)].sum())
        share = self.configs[contingent].return_at_strength
        return (now + to_come + waiting > 0
                and (share is None or now + to_come >= share * full))

    def conservation_totals(self) -> np.ndarray:
        """Per contingent: pool + in training + personnel + reserve + in care + killed +
        permanently lost + released. Constant over a run (no one is created or lost by
        book-keeping)."""
        units = self.model.units
        return (self.contingent_sum(units["personnel"] + units["in_care"] + units["killed"]
                                    + units["permanently_lost"]) + self.reserve
                + self.pipelines.pool + self.pipelines.in_training + self.released)


# No mask: every unit counts (contingent_sum).
_ALL = np.ones(1, dtype=bool)


@njit(cache=True)
def _sum_by_owner(owner, values, mask, contingents):
    """Per contingent (``owner``: each unit's), the sum of ``values`` where ``mask`` (or
    all, for a mask of one True): as ``np.bincount`` with weights adds them (in
    floating point, unit by unit), in one pass over fields read where they lie."""
    out = np.zeros(contingents)
    every = mask.size == 1 and mask[0]
    for i in range(owner.size):
        if every or mask[i]:
            out[owner[i]] += values[i]
    return out.astype(np.int64)


@njit(cache=True)
def _resting(state, personnel, owner, rotates, withdrawn, returns):
    """Per unit, out of the sector (withdrawn, with someone left): whether it rests
    behind the line (its contingent rotates units and is in the line), and whether it
    rests with its contingent (withdrawn to return)."""
    in_rear = np.zeros(owner.size, dtype=np.bool_)
    resting = np.zeros(owner.size, dtype=np.bool_)
    for i in range(owner.size):
        if state[i] == WITHDRAWN and personnel[i] > 0:
            k = owner[i]
            in_rear[i] = rotates[k] and not withdrawn[k]
            resting[i] = withdrawn[k] and returns[k]
    return in_rear, resting


def _shares(count: int, sizes: np.ndarray) -> np.ndarray:
    """``count`` split over ``sizes`` in proportion, in whole persons, none above its
    size (largest remainders, ties to the first).

    >>> _shares(5, np.array([10, 0, 10, 1])).tolist()
    [3, 0, 2, 0]
    """
    total = int(sizes.sum())
    count = min(count, total)
    if count <= 0:
        return np.zeros_like(sizes)
    exact = sizes * (count / total)
    taken = np.floor(exact).astype(np.int64)
    short = count - int(taken.sum())
    if short:
        order = np.argsort(-(exact - taken), kind="stable")[:short]
        taken[order] += 1
    return np.minimum(taken, sizes)


def _with_day_numbers(config: ContingentConfig | None, scenario) -> ContingentConfig | None:
    """A contingent's configuration with its dates as day numbers (``Scenario.day_of``)."""
    if config is None:
        return None
    update = {kind: [item.model_copy(update={"day": scenario.day_of(item.day)})
                     for item in getattr(config, kind)]
              for kind in DATED_LISTS}
    return config.model_copy(update=update)
