"""Combat (ODD 7.2-7.8): the day's skill, kill rates and fire support, then each
sub-step's fire, casualties, morale, movement, ground changing hands and the stop rule,
and at the end of the day experience, adaptation and morale recovery.

The physics (:mod:`sim.model.physics`) and the compiled passes over the units in the
sector (:mod:`sim.model.kernels`) sit beside this module; here they are put together."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from sim.model import casualties, kernels, morale, physics
from sim.model.kernels import RULES_DTYPE, KernelInputs, Tallies
from sim.model.units import IS_IN_SECTOR, RESERVE
from sim.sides import ATTACKER, DEFENDER
from sim.tactics import TACTICS

if TYPE_CHECKING:
    from sim.model.model import AttritionModel

# No aimed-fire sums given (:func:`sim.model.kernels.plan_substep`).
_NONE = np.zeros(0)
# Per-unit tactic parameters (ODD 7.10), looked up once per unit.
_TACTIC_FIELDS = ("spacing_m", "advance_speed_m_per_day", "assault_speed_m_per_day",
                  "fire_multiplier", "exposure", "training_leverage", "mine_exposure",
                  "break_morale", "clears_mines")


class FireSupport(NamedTuple):
    """Each side's fire from behind the line on the units in the sector (ODD 7.3)."""

    footprint_m2: np.ndarray  # per side: ground its units in the sector cover
    artillery_hazard: np.ndarray  # per side, per person and sub-step
    drone_hazard: np.ndarray  # per side, per person and sub-step, before adaptation
    organic_strikes_per_person: np.ndarray  # per firing side, per day
    organic_lethal_area_m2: np.ndarray  # per firing side


class _FireRates(NamedTuple):
    """A side's fire from behind the line on a day (ODD 7.3)."""

    artillery_strikes: float  # per sub-step
    artillery_lethal_area_m2: float
    drone_strikes: float  # per sub-step
    drone_lethal_area_m2: float
    organic_strikes_per_person: float  # per day
    organic_lethal_area_m2: float


class Combat:
    """The fighting in the sector, a day at a time (:meth:`prepare_day`, then
    :meth:`substep` until the day's sub-steps are done or the battle stops, then
    :meth:`end_of_day`)."""

    def __init__(self, model: AttritionModel):
        self.model = model
        scenario = model.config
        sides = (scenario.attacker, scenario.defender)
        self._kills_per_shooter = np.array([s.aimed_kills_per_shooter_per_day for s in sides])
        # Per contingent: its own killed and returning shares, or its side's.
        contingents = [(side, getattr(scenario, side).contingents.get(name))
                       for side, name in model.contingents]
        self._killed_fraction = np.array([
            getattr(scenario, side).killed_fraction if c is None or c.killed_fraction is None
            else c.killed_fraction for side, c in contingents])
        self._return_fraction = np.array([
            getattr(scenario, side).return_to_duty_fraction
            if c is None or c.return_to_duty_fraction is None else c.return_to_duty_fraction
            for side, c in contingents])
        # Each side's tempo phases, as (first day, intensity) in order of day; of two on
        # one day the later listed holds, as for a recruitment schedule.
        self._tempo = [sorted(((scenario.day_of(p.day), p.intensity) for p in side.tempo),
                              key=lambda phase: phase[0]) for side in sides]
        self._tempo_variation = [side.tempo_variation for side in sides]
        self.tempo_today = np.ones(2)
        self._return_delay_days = np.array([s.return_delay_days for s in sides])
        # Per-person daily hazard that gives the fixed loss share; inf marks "not fixed".
        self._fixed_hazard_per_day = np.array([
            np.inf if f is None else -np.log1p(-f) if f < 1 else 1e9
            for f in (s.fixed_daily_loss_fraction for s in sides)])
        self._any_fixed_loss = bool(np.isfinite(self._fixed_hazard_per_day).any())
        self.cells_taken = np.zeros(len(model.contingents), dtype=np.int64)
        self._cells_taken_seen, self._attacker_ground_m = 0, 0.0
        self.casualties_by_cause = np.zeros((2, len(physics.CAUSES)), dtype=np.int64)
        self.training_days_lost = np.zeros(2)
        # Whether a unit may have entered, left or moved since cells last changed hands.
        self.occupancy_changed = True
        # The fire support the kernels were last given, as an array, and the Generator
        # they draw from, as addresses (its bit generator kept, so that they hold).
        self._support_of, self._support = None, np.zeros((5, 2))
        self._generator_of, self._generator_addresses = None, np.zeros(6, dtype=np.uint64)
        self.units_added()

    def units_added(self) -> None:
        """Look up the tactic parameters of every unit (again, after new units formed)."""
        units = self.model.units
        profiles = [self.model.config.tactics[name] for name in TACTICS]
        self._tactic = {
            field: np.array([getattr(p, field) for p in profiles], dtype=float)[units["tactic"]]
            for field in _TACTIC_FIELDS}
        self._tactic["clears_mines"] = self._tactic["clears_mines"].astype(bool)
        self._elastic = units["tactic"] == TACTICS.index("elastic_defense")
        self._footprint_m2 = units["initial_personnel"] * self._tactic["spacing_m"] ** 2

    # ------------------------------------------------------------ skill (7.2)
    def experience(self) -> np.ndarray:
        """Experience of every unit (0-1), from its days in action."""
        return physics.saturating_growth(self.model.units["days_in_action"],
                                         self.model.config.combat.experience_time_constant_days)

    def skill(self) -> np.ndarray:
        """Skill of every unit (0-1): training and experience, as far as its tactic allows."""
        config = self.model.config.combat
        return physics.skill(self.model.units["training_level"], self.experience(),
                             self._tactic["training_leverage"], config.experience_weight)

    # --------------------------------------------------------------- the day
    def prepare_day(self) -> None:
        """What stays fixed through the day's sub-steps: skill, kill rates and exposure
        (they change with days in action only), the ground as the kernels see it, the
        rules, and the units waiting in reserve (they leave it only when their wave is
        committed, at the start of a day)."""
        model = self.model
        units, config = model.units, model.config.combat
        units["casualties_today"][:] = 0
        self._dt = 1.0 / config.substeps_per_day
        self._skill_today = self.skill()
        self._kill_rate_today = (self._kills_per_shooter[units["side"]]
                                 * self._tactic["fire_multiplier"]
                                 * (1.0 + config.training_hit_gain * self._skill_today))
        self._exposure_today = (self._tactic["exposure"]
                                * (1.0 - config.training_exposure_reduction * self._skill_today))
        # Tempo (ODD 7.3): a side fighting at intensity t fires (aimed and from behind the
        # line), is exposed and moves t times as much as usual.
        self.tempo_today = np.array([self.tempo(side, model.day) for side in (0, 1)])
        if np.any(self.tempo_today != 1.0):
            self._kill_rate_today *= self.tempo_today[units["side"]]
            self._exposure_today *= self.tempo_today[units["side"]]
        # Each side's fire from behind the line today (per sub-step, at today's tempo),
        # to be spread over the enemy's footprint whenever who is in the sector changes.
        self._fire_rates = [_FireRates(
            cfg.artillery_strikes_per_day * tempo * self._dt, cfg.artillery_lethal_area_m2,
            cfg.drones * cfg.strikes_per_drone_per_day * tempo * self._dt,
            cfg.drone_lethal_area_m2, cfg.area_strikes_per_person_per_day * tempo,
            cfg.organic_lethal_area_m2)
            for cfg, tempo in zip((model.config.attacker, model.config.defender),
                                  self.tempo_today, strict=True)]
        self._aimed_radius_cells = max(1, math.ceil(config.aimed_fire_range_m
                                                    / model.sector.cell_size_m))
        self._ground = model.sector.ground(config)
        self._rules = np.zeros(1, dtype=RULES_DTYPE)
        self._rules["day"], self._rules["dt"] = model.day, self._dt
        self._rules["any_fixed_loss"] = self._any_fixed_loss
        for name in RULES_DTYPE.names[3:]:  # the rest are combat parameters of that name
            self._rules[name] = getattr(config, name)
        self._tallies = Tallies(model.forces.care_ring, self.casualties_by_cause,
                                self.training_days_lost)
        # Waves still to come (not of a withdrawn contingent: those wait for its return).
        waiting = (units["state"] == RESERVE) & ~model.forces.withdrawn[units["contingent"]]
        self._reserve_units = np.bincount(units["side"][waiting], minlength=2).tolist()
        self._engaged_today, self._engaged_stale = None, False

    def tempo(self, side: int, day: int) -> float:
        """A side's intensity on ``day``: that of its last phase begun by then (else 1),
        times a gamma draw of mean 1 and coefficient of variation ``tempo_variation``
        (none drawn where it is 0, so that other runs keep their random numbers)."""
        intensity = 1.0
        for first_day, value in self._tempo[side]:
            if first_day <= day:
                intensity = value
        variation = self._tempo_variation[side]
        if variation > 0:
            shape = 1.0 / variation**2
            intensity *= float(self.model.rng.gamma(shape, 1.0 / shape))
        return intensity

    def engaged(self, fresh: bool = False) -> tuple[np.ndarray, FireSupport]:
        """The units in the sector (:data:`sim.model.kernels.ENGAGED_DTYPE`) and the
        fire support on them, gathered once a day. Within a day units only leave the
        sector (destroyed, or routed off it): those who did are dropped, and fire
        support, which depends on who is there, is set again. With ``fresh``, gathered
        anew and not kept: what the kept set must equal (but for the fields set at the
        start of each sub-step)."""
        if not fresh and self._engaged_today is not None and not self._engaged_stale:
            return self._engaged_today
        if fresh or self._engaged_today is None:
            engaged = self._gather()
            if fresh:
                return engaged, self._fire_support(kernels.side_totals(engaged,
                                                                       self._footprint_m2))
            footprint_m2 = kernels.side_totals(engaged, self._footprint_m2)
        else:
            # Those who left are dropped where they stand (the kept rows move up).
            kept, footprint_m2 = kernels.keep_in_sector(self._engaged_today[0],
                                                        self.model.units, self._footprint_m2)
            engaged = self._engaged_today[0][:kept]
        support = self._fire_support(footprint_m2)
        self._engaged_today, self._engaged_stale = (engaged, support), False
        return engaged, support

    def _gather(self) -> np.ndarray:
        """The units in the sector as engaged today (:func:`sim.model.kernels.gather`)."""
        model = self.model
        tactic, sector = self._tactic, model.sector
        return kernels.gather(
            model.units, self._kill_rate_today, self._exposure_today, self._skill_today,
            tactic["mine_exposure"], tactic["advance_speed_m_per_day"],
            tactic["assault_speed_m_per_day"], tactic["clears_mines"], tactic["break_morale"],
            self._elastic, self.tempo_today, self._killed_fraction, self._return_fraction,
            self._return_delay_days, self._fixed_hazard_per_day, self._dt,
            model.config.combat.drone_adaptation_effect, sector.width, sector.depth,
            sector.cell_size_m)

    def _fire_support(self, footprint_m2: np.ndarray) -> FireSupport:
        """Artillery and drone hazards on each side's units in the sector, spread over
        their footprints (``footprint_m2``, per side; ODD 7.3), and each side's organic
        fire rate."""
        artillery, drones, organic, organic_area = np.zeros((4, 2))
        for firer, target in ((ATTACKER, DEFENDER), (DEFENDER, ATTACKER)):
            if footprint_m2[target] == 0.0:
                continue
            rates = self._fire_rates[firer]
            area = float(footprint_m2[target])
            # Artillery and drones fire from behind the line, with or without infantry.
            artillery[target] = physics.area_fire_hazard(rates.artillery_strikes,
                                                         rates.artillery_lethal_area_m2, area)
            drones[target] = physics.area_fire_hazard(rates.drone_strikes,
                                                      rates.drone_lethal_area_m2, area)
            organic[firer] = rates.organic_strikes_per_person
            organic_area[firer] = rates.organic_lethal_area_m2
        return FireSupport(footprint_m2, artillery, drones, organic, organic_area)

    def kernel_inputs(self) -> KernelInputs:
        """What :meth:`substep` passes to the compiled sub-step besides the units in the
        sector, of the types it passes, before the first day: what a machine's first
        run compiles the kernels for, beside the rest
        (:func:`sim.model.kernels.compile_alongside`)."""
        model = self.model
        tallies = Tallies(model.forces.care_ring, self.casualties_by_cause,
                          self.training_days_lost)
        return KernelInputs(model.units, self._support, np.zeros(1, dtype=RULES_DTYPE),
                            tallies, model.sector.ground(model.config.combat),
                            casualties.generator_addresses(model.rng))

    # ------------------------------------------------------------ a sub-step
    def substep(self, substep: int) -> str | None:
        """One combat sub-step of the units in the sector; returns why the battle stops
        after it, if it does. :mod:`sim.model.kernels` makes the passes over the units,
        in two calls (:func:`sim.model.kernels.plan_substep`, then numpy's exp, then
        :func:`sim.model.kernels.settle_substep`), with draws from the model's numpy
        Generator.

        The others cannot fire, be hit or move, and a binomial draw with no one exposed
        uses no random numbers, so the draws are those of a pass over all units."""
        model = self.model
        units, ground, rules = model.units, self._ground, self._rules
        engaged, support = self.engaged()
        if support is not self._support_of:
            self._support, self._support_of = np.array(support), support
        radius = self._aimed_radius_cells
        kernels.await_compiled("plan_substep")  # a first run's, compiled alongside
        plan = kernels.plan_substep(engaged, units, self._support, rules, radius, _NONE, _NONE,
                                    *ground)
        if plan[0]:
            # Every window of aimed fire covers the whole band: numpy sums it (ODD 7.3).
            per_target, in_range = physics.aimed_fire(plan[3], plan[4], radius)
            plan = kernels.plan_substep(engaged, units, self._support, rules, radius,
                                        per_target.reshape(-1), in_range.reshape(-1), *ground)
        _, _, _, _, _, hazards, exponent, keep, move_m, removed, clearing, moving = plan
        bit_generator = model.rng.bit_generator
        if bit_generator.ctypes.state_address != self._generator_addresses[0]:
            # A new Generator (or a copy of the model, whose addresses are its original's).
            self._generator_addresses = casualties.generator_addresses(model.rng)
            self._generator_of = bit_generator  # kept, so that the addresses hold
        kernels.await_compiled("settle_substep")
        (broken, broken_rows, destroyed, destroyed_rows, takers, standing, counts, breakthrough,
         looked, left) = kernels.settle_substep(
            self._generator_addresses, np.exp(exponent), keep, hazards, removed, clearing,
            move_m, moving, self.occupancy_changed, engaged, units, *self._tallies, rules,
            *ground)
        records = model.records
        if broken.size or destroyed.size:
            for i, row in zip(broken.tolist(), broken_rows.tolist(), strict=True):
                records.event(substep, "unit_routed", i, row=row)
            for i, row in zip(destroyed.tolist(), destroyed_rows.tolist(), strict=True):
                records.event(substep, "unit_destroyed", i, row=row)
        if looked:
            # Cells change hands when only the other side's fighting units stand in them.
            self.occupancy_changed = False
            contingent = units["contingent"]
            for i in takers.tolist():
                self.cells_taken[contingent[i]] += 1
                records.event(substep, "cell_taken", i)
        if left:
            self._engaged_stale = True
        return self._stop_condition(engaged, standing, counts, breakthrough)

    def _stop_condition(self, engaged: np.ndarray, standing: np.ndarray, counts: np.ndarray,
                        breakthrough: bool) -> str | None:
        """Why the battle ends after this sub-step, if it does (``standing``: which of
        the units in the sector still fight; ``counts``: how many on each side;
        ``breakthrough``: whether an attacker among them reached the rear row)."""
        attackers, defenders = counts.tolist()
        able = [attackers + self._reserve_units[ATTACKER] > 0,
                defenders + self._reserve_units[DEFENDER] > 0]
        if not (able[ATTACKER] and able[DEFENDER]):
            # Units resting in the rear will fight again, and a contingent that forms new
            # units from its pipeline will send more; looked at only when needed.
            later = self.model.forces.will_fight_later()
            able = [able[s] or bool(later[s]) for s in (ATTACKER, DEFENDER)]
        if not (able[ATTACKER] or able[DEFENDER]):
            return "both_broken"  # wiped out in the same sub-step: a draw
        if not able[ATTACKER]:
            return "attacker_broken"
        if breakthrough:
            return "breakthrough"
        objective = self.model.config.objective
        if objective is not None and (not able[DEFENDER]
                                      or self._objective_held(objective.ground_gained_m)):
            # Reached, or left undefended: a defender that can no longer fight (broken,
            # or withdrawn for good) gives up the objective to an attacker who can.
            return "objective_taken"
        if not able[DEFENDER]:
            # Attackers that can move walk on to a breakthrough, so ground is measured.
            movers = standing & engaged["attacking"]
            if not np.count_nonzero(engaged["advance_speed_m_per_day"][movers] > 0):
                return "defender_broken"
        return None

    def _objective_held(self, ground_gained_m: float) -> bool:
        """Whether the attacker's mean advance into the defender's ground has reached
        the objective's (counted only when cells changed hands)."""
        if self._cells_taken_seen != int(self.cells_taken.sum()):
            self._cells_taken_seen = int(self.cells_taken.sum())
            self._attacker_ground_m = self.model.sector.ground_gained_m(ATTACKER)
        return self._attacker_ground_m >= ground_gained_m - 1e-9

    # ------------------------------------------------------------ end of day
    def end_of_day(self) -> None:
        """Units in the sector gain days in action and adaptation (7.2); those that had
        a quiet day recover morale (7.6)."""
        units, config = self.model.units, self.model.config.combat
        committed = IS_IN_SECTOR[units["state"]]
        units["days_in_action"] += committed
        growth = physics.saturating_growth(units["days_in_action"],
                                           config.adaptation_time_constant_days)
        # Adaptation closes the gap from its starting level as days in action accumulate.
        units["theatre_adaptation"] = np.where(
            committed, np.maximum(units["theatre_adaptation"],
                                  units["initial_adaptation"]
                                  + (1 - units["initial_adaptation"]) * growth),
            units["theatre_adaptation"])
        quiet = committed & (units["casualties_today"] == 0)
        units["morale"] = morale.recover(units["morale"], quiet, config.morale_recovery_per_day,
                                     units["initial_morale"])
