"""The sectors' day of fighting (ODD, theatre section): the sector model's physics
(:mod:`sim.model.physics`) at the theatre's scale, a day a step and a sector a
well-mixed front.

Within a sector, each side's battalions in the line are one front. Per person of side
``i`` in battalion ``u`` of sector ``s``, the day's hazards are those of the sector
model (ODD 7.3) with the sector's geometry replaced by its ``contact_share`` ``c``:

* aimed fire: ``c * F_j / P_i * exposure_u * protection_i`` (the enemy's aimed fire
  ``F_j``, kills its persons would make in contact, all landing on the ``P_i`` persons
  of side ``i`` in the sector: the square law);
* area fire: ``(artillery_i + drones_i * drone_exposure_u) * exposure_u * protection_i``,
  the enemy's strikes on the sector spread over side ``i``'s footprint
  (:func:`sim.model.physics.area_fire_hazard`: the linear law), whether or not the
  enemy's battalions are in the sector (its guns and drones are behind the line);
* mines (attackers): :func:`sim.model.physics.mine_hazard` over the day's assault
  distance, ``c * intensity * assault_speed``, through the sector's mine density.

A battalion's casualties are a binomial draw with the sector model's probability
(:func:`sim.model.physics.casualty_probability`); killed, returning and permanently lost
wounded are binomial splits by the category's shares. Cost: a few passes over the
battalions and the sectors, linear in both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.model import physics
from sim.sides import ATTACKER, DEFENDER, SIDES
from sim.tactics import TACTICS
from sim.theatre.battalions import LINE

if TYPE_CHECKING:
    from sim.theatre.model import TheatreModel

_TACTIC_FIELDS = ("spacing_m", "assault_speed_m_per_day", "fire_multiplier", "exposure",
                  "training_leverage", "mine_exposure")


def cause_shares(hazards: np.ndarray, probability: np.ndarray) -> np.ndarray:
    """Each cause's share of a battalion's casualties in expectation, from its day's
    hazards (n, 3: aimed, area, mines) and casualty probability
    (:func:`sim.model.physics.casualty_probability`).

    The probability is ``1 - (1 - min(1, h_aim)) exp(-h_area - h_mines)``: aimed fire a
    set number of kills, ``min(1, h_aim)`` of the persons (shooters switch onto
    survivors, ODD 7.5), the others independent risks to the rest. So aimed fire's share
    is ``min(1, h_aim) / probability`` and area fire and mines share the remainder in
    proportion to their hazards, as the sector model's sub-steps split it when they are
    small (there every cause's share of a sub-step is its hazard's). Split by hazards
    alone, a day's aimed kills would be cut by ``probability / (h_aim + h_area +
    h_mines)``: a tenth where area fire takes a fifth of a line a day.

    >>> h = np.array([[0.1, 0.2, 0.0], [0.0, 0.0, 0.0]])
    >>> from sim.model.physics import casualty_probability
    >>> s = cause_shares(h, casualty_probability(h))
    >>> round(float(s[0, 0] * casualty_probability(h)[0]), 12), s[1].tolist()
    (0.1, [0.0, 0.0, 0.0])
    """
    shares = np.zeros_like(hazards)
    aimed = np.minimum(1.0, hazards[:, 0])
    np.divide(aimed, probability, out=shares[:, 0], where=probability > 0)
    np.minimum(shares[:, 0], 1.0, out=shares[:, 0])
    others = hazards[:, 1:].sum(axis=1, keepdims=True)
    rest = np.where(probability > 0, 1.0 - shares[:, 0], 0.0)[:, None]
    shares[:, 1:] = rest * np.divide(hazards[:, 1:], others, out=np.zeros_like(hazards[:, 1:]),
                                     where=others > 0)
    return shares


class TheatreCombat:
    """Each sector's day of fire and casualties, all sectors at once."""

    def __init__(self, model: TheatreModel):
        self.model = model
        scenario = model.config
        sectors = scenario.sectors
        combat = scenario.combat
        self._combat = combat
        sides = (scenario.attacker, scenario.defender)
        profiles = [scenario.tactics[name] for name in TACTICS]
        self._tactic = {f: np.array([getattr(p, f) for p in profiles], dtype=float)
                        for f in _TACTIC_FIELDS}
        self._kills_per_shooter = np.array([s.aimed_kills_per_shooter_per_day for s in sides])
        # Per sector and side: strikes a day on the enemy, intensity and its phases.
        frontage = np.array([s.frontage_km for s in sectors])
        self._artillery = np.array([[getattr(s, side).artillery_strikes_per_km_per_day
                                     for side in SIDES] for s in sectors]) * frontage[:, None]
        self._drone_strikes = np.array(
            [[getattr(s, side).drones_per_km * sides[k].strikes_per_drone_per_day
              for k, side in enumerate(SIDES)] for s in sectors]) * frontage[:, None]
        self._lethal_area = np.array([[s.artillery_lethal_area_m2, s.drone_lethal_area_m2]
                                      for s in sides])
        self._intensity = np.array([[getattr(s, side).intensity for side in SIDES]
                                    for s in sectors])
        self._phases = [[sorted(((scenario.day_of(p.day), p.intensity)
                                 for p in getattr(s, side).tempo), key=lambda x: x[0])
                         for side in SIDES] for s in sectors]
        self._national_level = np.array([side.intensity for side in sides])
        self._national_phases = [sorted(((scenario.day_of(p.day), p.intensity)
                                         for p in side.tempo), key=lambda x: x[0])
                                 for side in sides]
        self.contact = np.array([s.contact_share for s in sectors])
        self._mines_per_m2 = np.array([s.mines_per_km2 for s in sectors]) / 1e6
        # Per sector and side: the share of fire not stopped by cover and field works.
        cover = 1.0 - combat.cover_protection * np.array(
            [[s.cover, s.defended_cover] for s in sectors])
        works = np.ones_like(cover)
        works[:, DEFENDER] = 1.0 - combat.fortification_protection * np.array(
            [s.fortification_level for s in sectors])
        self.protection = cover * works
        contingents = [(getattr(scenario, side), getattr(scenario, side).contingents[name])
                       for side, name in model.contingents]
        self._killed_fraction = np.array([c.killed_fraction if c.killed_fraction is not None
                                          else s.killed_fraction for s, c in contingents])
        self._return_fraction = np.array([
            c.return_to_duty_fraction if c.return_to_duty_fraction is not None
            else s.return_to_duty_fraction for s, c in contingents])
        self._fixed = np.array([np.nan if s.fixed_daily_loss_fraction is None
                                else s.fixed_daily_loss_fraction for s in sides])
        self.casualties_by_cause = np.zeros((2, 3), dtype=np.float64)
        self.today_intensity = self._intensity.copy()
        # Per sector and side: the day's casualties and killed.
        self.sector_casualties = np.zeros((len(sectors), 2), dtype=np.int64)
        self.sector_killed = np.zeros((len(sectors), 2), dtype=np.int64)

    def intensity(self, day: int) -> np.ndarray:
        """Per sector and side: its intensity on ``day`` (usual times the sector's phase
        times the side's national phase)."""
        national = self._national(day)
        out = self._intensity * national[None, :]
        for s, sides in enumerate(self._phases):
            for side, phases in enumerate(sides):
                for first_day, value in phases:
                    if first_day > day:
                        break
                    out[s, side] = self._intensity[s, side] * national[side] * value
        return out

    def _national(self, day: int) -> np.ndarray:
        """Per side: its national intensity times its phase's on ``day`` (1 before the
        first)."""
        out = self._national_level.copy()
        for side, phases in enumerate(self._national_phases):
            for first_day, value in phases:
                if first_day <= day:
                    out[side] = self._national_level[side] * value
        return out

    def hazards(self, rows: np.ndarray, intensity: np.ndarray) -> np.ndarray:
        """Per-person hazards of the battalions ``rows`` (in the line) today, by cause:
        (n, 3) aimed, area, mines."""
        model = self.model
        battalions = model.battalions
        combat = self._combat
        n_sectors = len(model.config.sectors)
        side = battalions["side"][rows]
        sector = battalions["sector"][rows]
        tactic = battalions["tactic"][rows]
        personnel = battalions["personnel"][rows].astype(float)
        experience = physics.saturating_growth(battalions["days_in_action"][rows],
                                               combat.experience_time_constant_days)
        skill = physics.skill(battalions["training_level"][rows], experience,
                              self._tactic["training_leverage"][tactic],
                              combat.experience_weight)
        own = intensity[sector, side]
        kill_rate = (self._kills_per_shooter[side] * self._tactic["fire_multiplier"][tactic]
                     * (1.0 + combat.training_hit_gain * skill) * own)
        exposure = (self._tactic["exposure"][tactic]
                    * (1.0 - combat.training_exposure_reduction * skill) * own)
        at = sector * 2 + side
        size = n_sectors * 2
        present = np.bincount(at, weights=personnel, minlength=size).reshape(n_sectors, 2)
        fire = np.bincount(at, weights=personnel * kill_rate,
                           minlength=size).reshape(n_sectors, 2)
        footprint = np.bincount(at, weights=battalions["initial_personnel"][rows]
                                * self._tactic["spacing_m"][tactic] ** 2,
                                minlength=size).reshape(n_sectors, 2)
        # Aimed fire per person of each side: the enemy's fire in contact over them.
        aimed_per_person = np.divide(self.contact[:, None] * fire[:, ::-1], present,
                                     out=np.zeros_like(present), where=present > 0)
        # Area fire from behind the line, spread over the side's footprint wherever it
        # has battalions in the line, whether or not the enemy's are in the sector:
        # artillery and drones fire from behind the line, as in the sector model
        # (:meth:`sim.model.combat.Combat._fire_support`). Assaults, and so mines, need
        # both sides there.
        engaged = (present[:, ::-1] > 0) & (present > 0)
        enemy_intensity = intensity[:, ::-1]
        strikes = np.stack([self._artillery[:, ::-1], self._drone_strikes[:, ::-1]])
        area = np.zeros((2, n_sectors, 2))
        for k in range(2):
            lethal = self._lethal_area[::-1, k][None, :]  # by the firer: the other side
            area[k] = np.divide(strikes[k] * enemy_intensity * lethal, footprint,
                                out=np.zeros_like(footprint), where=footprint > 0)
        protection = self.protection[sector, side] * exposure
        drone_exposure = 1.0 - combat.drone_adaptation_effect * battalions[
            "theatre_adaptation"][rows]
        hazards = np.zeros((rows.size, 3))
        hazards[:, 0] = aimed_per_person[sector, side] * protection
        hazards[:, 1] = (area[0][sector, side] + area[1][sector, side] * drone_exposure) \
            * protection
        assaulting = (side == ATTACKER) & engaged[sector, side]
        distance_m = (self.contact[sector] * own
                      * self._tactic["assault_speed_m_per_day"][tactic])
        hazards[:, 2] = np.where(assaulting, physics.mine_hazard(
            self._mines_per_m2[sector], distance_m, combat.mine_sweep_width_m,
            self._tactic["mine_exposure"][tactic]), 0.0)
        return hazards

    def fight(self) -> np.ndarray:
        """The day's casualties in every sector; returns the wounded who will return,
        per battalion (the forces take them into care)."""
        model = self.model
        battalions = model.battalions
        rng = model.rng
        rows = np.flatnonzero((battalions["state"] == LINE) & (battalions["personnel"] > 0))
        returning = np.zeros(len(battalions), dtype=np.int64)
        self.today_intensity = self.intensity(model.day)
        self.sector_casualties[:] = self.sector_killed[:] = 0
        if rows.size == 0:
            return returning
        hazards = self.hazards(rows, self.today_intensity)
        probability = probability_of_fire = physics.casualty_probability(hazards)
        side = battalions["side"][rows]
        fixed = self._fixed[side]
        probability = np.where(np.isnan(fixed), probability, np.nan_to_num(fixed))
        casualties = rng.binomial(battalions["personnel"][rows], probability)
        owner = battalions["contingent"][rows]
        killed = rng.binomial(casualties, self._killed_fraction[owner])
        wounded = casualties - killed
        back = rng.binomial(wounded, self._return_fraction[owner])
        battalions["personnel"][rows] -= casualties
        battalions["killed"][rows] += killed
        battalions["wounded"][rows] += wounded
        battalions["permanently_lost"][rows] += wounded - back
        returning[rows] = back
        n_sectors = len(model.config.sectors)
        at = battalions["sector"][rows] * 2 + side
        for tally, values in ((self.sector_casualties, casualties), (self.sector_killed, killed)):
            tally[:] = np.bincount(at, weights=values, minlength=2 * n_sectors).reshape(
                n_sectors, 2)
        # Casualties by cause, in expectation (the draw is not split by cause).
        share = cause_shares(hazards, probability_of_fire)
        for s in (0, 1):
            mine = side == s
            self.casualties_by_cause[s] += (share[mine] * casualties[mine, None]).sum(axis=0)
        self._age(rows)
        return returning

    def _age(self, rows: np.ndarray) -> None:
        """Battalions in the line gain a day in action and adaptation (ODD 7.2)."""
        battalions = self.model.battalions
        battalions["days_in_action"][rows] += 1
        growth = physics.saturating_growth(battalions["days_in_action"][rows],
                                           self._combat.adaptation_time_constant_days)
        start = battalions["initial_adaptation"][rows]
        battalions["theatre_adaptation"][rows] = np.maximum(
            battalions["theatre_adaptation"][rows], start + (1 - start) * growth)
