"""The theatre's scales against the sector model's (ODD, theatre section): a fine sector
scenario as a one-sector theatre, the fine run's structure measured at the theatre's
scale, and the two models' loss rates per side and cause over replicates.

A sector of the sector model (:class:`sim.config.Scenario`: companies on 100 m cells,
24 combat sub-steps a day) becomes a theatre of one sector
(:class:`sim.theatre.config.TheatreScenario`: battalions in kilometre cells, a day a
step, the sector a well-mixed front) with the same physics parameters
(:func:`sector_as_theatre`)::

    >>> from sim.scenarios import load
    >>> theatre = sector_as_theatre(load("fortified_defense"), contact_share=1.0)
    >>> sector = theatre.sectors[0]
    >>> sector.frontage_km, sector.mines_per_km2, sector.defender.drones_per_km
    (2.0, 1000.0, 12.5)
    >>> {name: c.in_line_at_start for name, c in theatre.attacker.contingents.items()}
    {'foreign': 900, 'regulars[1]': 200, 'regulars[2]': 60}

Force categories: one per unit group (named after its contingent, or
``CONTINGENT[i]``, ``i`` the group's index, when a contingent has several), with its
tactic, training, experience and adaptation and its persons in the line on day 0. A
contingent's pool and recruitment go to the category of its first group (the fine
model's new units take its first tactic; the training days of those in the line are
set so that, from the recruits' base level, they give the group's level); its refills,
service term and casualty shares go to all of them. Battalions are
``battalion_persons`` strong (a category's last one smaller).

What the theatre has no counterpart for, and how it is handled:

* **Geometry** (who is within aimed range of whom, and on what ground): the sector's
  ``contact_share`` stands for it and must be given. :class:`FineMeter` measures it in
  a fine run as a structural quantity: each side's share of its aimed fire (persons
  times kill rate) whose shooters have an enemy within range, sub-step by sub-step.
  Attackers who close with a defence that holds fight from its cells, on its cover:
  ``attacker_cover`` is the cover they stand on (the meter measures it), the sector's
  ``cover`` if not given.
* **One contact share for both sides.** In both models a side's aimed losses are the
  enemy's fire in contact; the theatre has one share for the two sides. Where they
  differ (one side deeper than aimed range, or its best shooters behind), it cannot
  match both (``mixed_depth`` in :data:`CONFIGURATIONS`).
* **Movement and ground**: none; ``objective`` and the stop rules are dropped (a
  theatre runs to ``max_days``).
* **Morale and routing**: none (a theatre's battalions do not break); compare with
  ``combat.morale_enabled = false``. Rotation to the rear by strength is carried
  (``rotate_below_strength``, per side in the theatre: the largest of the side's
  contingents'); the rest in the rear, which in the fine model lasts until morale
  recovers, is the longest that recovery takes (``return_morale /
  rear_morale_recovery_per_day``).
* **Mines**: carried as a density, ``mines_per_cell`` over a cell's area, but used
  differently: the fine minefield is a belt ``minefield_rows`` deep that each attacking
  unit crosses once (mines set off are gone); the theatre's attackers walk
  ``contact_share x intensity x assault speed`` a day through mines renewed as they are
  set off. Their mine losses are comparable only in their units (``minefield``).
* **Unit size**: area fire spreads over footprints at full strength (the linear law), a
  unit's until it is gone. A line far below its units' strength keeps a battalion's
  footprint where the fine model's companies are destroyed and leave, so its area fire
  per person is lower in the theatre (``ground_down``); the theatre's rotation of
  battalions below ``rotate_below_strength`` keeps lines near strength.
* **Waves**: a unit group's later waves are trained reinforcements of a category of
  their own (``NAME[i] waves``), drawn into the reserve on each wave's day and formed
  into battalions (a remainder short of a battalion waits for the next wave); they
  arrive with no experience or adaptation.
* **Organic area fire** (``area_strikes_per_person_per_day``): the theatre has none; a
  scenario that uses it is refused, as is a sector under a kilometre wide. Day-to-day
  tempo variation (``tempo_variation``, of mean 1), contingent withdrawal and return,
  mine clearance (a sapper's tactic keeps its mine exposure, not its clearing) and the
  grouping of new units into assault days (``new_units_every_days``) are dropped.

The comparison (:func:`compare`, :data:`CONFIGURATIONS`, the tolerance
:data:`MODEL_TOLERANCE`): the structure is measured on fine runs of its own, the
theatre is given it, and the loss rates of both models are compared on other runs;
nothing is fitted to the losses compared. ``benchmarks/theatre_scales.py`` prints the
table, ``tests/test_theatre_scales.py`` checks two sectors.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sim.config import Scenario
from sim.model.physics import window_sum
from sim.model.pipelines import training_level
from sim.model.units import IS_FIGHTING, IS_IN_SECTOR
from sim.sides import ATTACKER, DEFENDER, SIDES
from sim.tactics import TACTICS
from sim.theatre.battalions import LINE
from sim.theatre.config import TheatreScenario

#: The causes compared: the sector model's first three (its fourth, a fixed loss share,
#: is a test configuration) and the theatre's three.
CAUSES = ("aimed", "area", "mines")
#: A theatre's day 0 when the fine scenario has no start date: any date will do, as the
#: fine scenario's days are day numbers.
DEFAULT_START = datetime.date(2000, 1, 1)
#: A battalion (persons): the theatre's unit.
BATTALION_PERSONS = 500

# RecruitmentConfig fields a fine contingent passes to its theatre category unchanged.
_RECRUITMENT_FIELDS = ("pool", "recruitment", "recruits_per_day", "depletion_exponent",
                       "schedule", "tranches", "reinforcements", "training_days",
                       "shortened_training_days", "shorten_below_strength", "bonus",
                       "bonus_elasticity")


# ----------------------------------------------------------------- the mapping
def sector_as_theatre(scenario: Scenario, *, contact_share: float,
                      battalion_persons: int = BATTALION_PERSONS,
                      attacker_cover: float | None = None) -> TheatreScenario:
    """A one-sector theatre with the sector's physics (see the module's docstring for
    what is carried over and what is not).

    Parameters
    ----------
    scenario : the fine sector scenario.
    contact_share : the sector's share of each side's line within aimed range (-); the
        geometry the theatre does not have (:class:`FineMeter` measures it).
    battalion_persons : persons in a battalion of every category (persons).
    attacker_cover : cover of the ground the attackers fight from (-); none: the
        sector's ``cover`` (in the fine model, attackers who reach a defence that holds
        stand in its cells, on ``defended_cover``).

    Raises ``ValueError`` (one line, naming the key) for what the theatre cannot take:
    a frontage under a kilometre, organic area fire.
    """
    sector = scenario.sector
    frontage_km = sector.width_cells * sector.cell_size_m / 1000.0
    if frontage_km < 1.0:
        raise ValueError(f"sector.width_cells: {sector.width_cells} cells of "
                         f"{sector.cell_size_m:g} m is {frontage_km:g} km of front; allowed: "
                         f"at least 1 km, the theatre's smallest sector")
    for side in SIDES:
        if getattr(scenario, side).area_strikes_per_person_per_day > 0:
            raise ValueError(f"{side}.area_strikes_per_person_per_day: the theatre has no "
                             f"organic area fire; allowed: 0")
    mines = (sector.mines_per_cell * 1e6 / sector.cell_size_m**2
             if sector.minefield_rows > 0 else 0.0)
    sides = {side: _theatre_side(scenario, side, battalion_persons) for side in SIDES}
    data = {
        "name": f"{scenario.name} (theatre)"[:100],
        "description": f"The sector {scenario.name} at the theatre's scales"[:1000],
        "start_date": scenario.start_date or DEFAULT_START,
        "max_days": scenario.max_days,
        "sectors": [{
            "name": scenario.name or "sector", "kind": "active", "frontage_km": frontage_km,
            "fortification_level": sector.fortification_level,
            "cover": sector.cover if attacker_cover is None else attacker_cover,
            "defended_cover": sector.defended_cover, "mines_per_km2": mines,
            "contact_share": contact_share,
            **{side: _sector_side(scenario, side, frontage_km) for side in SIDES}}],
        **sides,
        "combat": scenario.combat.model_dump(),
        "training": scenario.training.model_dump(),
        "tactics": {name: profile.model_dump() for name, profile in scenario.tactics.items()},
    }
    return TheatreScenario.model_validate(data)


def _sector_side(scenario: Scenario, side: str, frontage_km: float) -> dict:
    """A side's fire support, line and tempo in the one sector, per km of front."""
    config = getattr(scenario, side)
    # Any positive target sends every battalion to the one sector; the side's line on
    # day 0 (or all it will ever send, if none) keeps the figure meaningful.
    persons = _persons_at_start(scenario, side) or _persons_ever(scenario, side)
    return {"artillery_strikes_per_km_per_day": config.artillery_strikes_per_day / frontage_km,
            "drones_per_km": config.drones / frontage_km,
            "target_persons_per_km": max(1, persons) / frontage_km,
            "tempo": [phase.model_dump() for phase in config.tempo]}


def _persons_at_start(scenario: Scenario, side: str) -> int:
    return sum(g.count * g.personnel for g in getattr(scenario, side).units
               if scenario.wave_days(g)[0] == 0)


def _persons_ever(scenario: Scenario, side: str) -> int:
    return sum(g.count * g.personnel * len(scenario.wave_days(g))
               for g in getattr(scenario, side).units)


def _theatre_side(scenario: Scenario, side: str, battalion_persons: int) -> dict:
    """A side's force categories and the fire and care it shares."""
    config = getattr(scenario, side)
    configured = list(config.contingents.values())
    rotate = max((c.rotate_below_strength for c in configured), default=0.0)
    rest = max((math.ceil(c.return_morale / c.rear_morale_recovery_per_day - 1e-9)
                if c.rear_morale_recovery_per_day > 0 else 0 for c in configured), default=0)
    return {
        "contingents": _categories(scenario, side, battalion_persons),
        **{key: getattr(config, key) for key in (
            "aimed_kills_per_shooter_per_day", "artillery_lethal_area_m2",
            "strikes_per_drone_per_day", "drone_lethal_area_m2", "killed_fraction",
            "return_to_duty_fraction", "return_delay_days", "fixed_daily_loss_fraction")},
        "rotate_below_strength": rotate,
        "rest_days": min(rest, 36_500),
        # Fine units return once above the rotation floor; the theatre's share must be
        # above 0.
        "return_at_strength": rotate if rotate > 0 else 0.9,
        "surplus": "spread",
    }


def _categories(scenario: Scenario, side: str, battalion_persons: int) -> dict:
    """A theatre force category per unit group (and one for its later waves)."""
    config = getattr(scenario, side)
    level_of = scenario.training.time_constant_days
    groups_of: dict[str, list[int]] = {}
    for i, group in enumerate(config.units):
        groups_of.setdefault(group.contingent, []).append(i)
    categories = {}
    for name, indices in groups_of.items():
        contingent = config.contingents.get(name)
        for i in indices:
            group = config.units[i]
            key = name if len(indices) == 1 else f"{name}[{i}]"
            shared = {"tactic": group.tactic, "unit_size": battalion_persons}
            if contingent is not None:
                shared.update(refill_below_strength=contingent.refill_below_strength,
                              service_term_days=contingent.service_term_days,
                              killed_fraction=contingent.killed_fraction,
                              return_to_duty_fraction=contingent.return_to_duty_fraction)
            else:
                # A fine unit takes its returning wounded back up to full strength.
                shared["refill_below_strength"] = 1.0
            days = scenario.wave_days(group)
            persons = group.count * group.personnel
            first = i == indices[0] and contingent is not None
            if days[0] == 0 or first:
                category = dict(shared, in_line_at_start=persons if days[0] == 0 else 0,
                                experience_days_at_start=group.experience_days,
                                adaptation_at_start=group.theatre_adaptation)
                level = float(training_level(group.training_days, group.base_training_level,
                                             level_of))
                if first:
                    # The recruits' base level is the contingent's; the training days of
                    # those in the line are those that give the group's level from it.
                    recruitment = {k: getattr(contingent, k) for k in _RECRUITMENT_FIELDS}
                    base = contingent.base_training_level
                    category.update(_dump(recruitment), base_training_level=base,
                                    training_days_at_start=_days_to(level, base, level_of))
                else:
                    category.update(base_training_level=group.base_training_level,
                                    training_days_at_start=group.training_days)
                categories[key] = category
            later = [d for d in days if d > 0]
            if later:
                categories[f"{key} waves"] = dict(
                    shared, pool=persons * len(later),
                    reinforcements=[{"day": d, "persons": persons,
                                     "training_days": group.training_days,
                                     "base_training_level": group.base_training_level}
                                    for d in later])
    return categories


def _dump(values: dict) -> dict:
    return {k: ([item.model_dump() for item in v] if isinstance(v, list) else v)
            for k, v in values.items()}


def _days_to(level: float, base: float, time_constant_days: float) -> float:
    """Training days that take a recruit of ``base`` level to ``level`` (0 if it starts
    there or above: the level cannot fall)."""
    if level <= base or base >= 1.0:
        return 0.0
    if level >= 1.0:
        return 36_500.0
    return float(time_constant_days * math.log((1.0 - base) / (1.0 - level)))


# -------------------------------------------------- a fine run's structure
class FineMeter:
    """Measures, sub-step by sub-step, what a fine run's geometry amounts to at the
    theatre's scale, and the persons each side exposes: a wrapper around the model's
    combat sub-step that reads the state the sub-step starts from and changes nothing.

    Per side, summed over the sub-steps measured (``fire`` weights: persons x kill rate,
    fighting units only):

    * ``fire_in_range / fire``: the share of its aimed fire whose shooters have an
      enemy within aimed range (the fine model's contact share; all fire in range lands);
    * ``cover_exposure / exposure``: the cover factor of the cells its persons stand on
      (``1 - cover_protection x cover``), persons-weighted;
    * ``line``: persons in the sector as each day's first sub-step starts, summed over
      days (person-days exposed).
    """

    def __init__(self, model):
        self.model = model
        config = model.config
        self.radius_cells = max(1, math.ceil(config.combat.aimed_fire_range_m
                                             / model.sector.cell_size_m))
        self._fire_multiplier = np.array([config.tactics[t].fire_multiplier for t in TACTICS])
        self.fire = np.zeros(2)
        self.fire_in_range = np.zeros(2)
        self.exposure = np.zeros(2)
        self.cover_exposure = np.zeros(2)
        self.line = np.zeros(2)
        self._substep = model.combat.substep
        model.combat.substep = self._measured_substep

    def _measured_substep(self, substep: int):
        self.measure(first=substep == 0)
        return self._substep(substep)

    def measure(self, first: bool = False) -> None:
        """Add the state now (a sub-step about to start) to the sums."""
        model = self.model
        units, sector = model.units, model.sector
        combat = model.config.combat
        here = IS_IN_SECTOR[units["state"]] & (units["personnel"] > 0)
        side, x = units["side"][here], units["x"][here]
        rows = sector.rows(units["y_m"][here])
        personnel = units["personnel"][here].astype(float)
        present = np.zeros((2, sector.width, sector.depth))
        np.add.at(present, (side, x, rows), personnel)
        enemy_near = window_sum(present[::-1], self.radius_cells)[side, x, rows] > 0
        fighting = IS_FIGHTING[units["state"][here]]
        fire = np.where(fighting, personnel * self._fire_multiplier[units["tactic"][here]]
                        * (1.0 + combat.training_hit_gain * model.combat.skill()[here]), 0.0)
        cover = 1.0 - combat.cover_protection * sector.grid.cover.data[x, rows]
        for s in (ATTACKER, DEFENDER):
            mine = side == s
            self.fire[s] += fire[mine].sum()
            self.fire_in_range[s] += fire[mine & enemy_near].sum()
            self.exposure[s] += personnel[mine].sum()
            self.cover_exposure[s] += (personnel * cover)[mine].sum()
            if first:
                self.line[s] += personnel[mine].sum()

    def contact_shares(self) -> np.ndarray:
        """Per side: the share of its aimed fire with an enemy in range (-)."""
        return np.divide(self.fire_in_range, self.fire, out=np.zeros(2), where=self.fire > 0)

    def cover(self) -> np.ndarray:
        """Per side: the cover of the ground its persons stood on, as a level (-); nan
        for a side never in the sector."""
        factor = np.divide(self.cover_exposure, self.exposure, out=np.full(2, np.nan),
                           where=self.exposure > 0)
        protection = self.model.config.combat.cover_protection
        return (1.0 - factor) / protection if protection > 0 else np.zeros(2)


class CoarseMeter:
    """The persons each side of a theatre exposes, day by day: the line as the day's
    fighting starts (after the morning's allocation), summed over days. A wrapper
    around the forces' allocation, which every day runs just before the fight (the
    combat object is rebuilt when a decision changes the theatre; the forces are not)."""

    def __init__(self, model):
        self.model = model
        self.line = np.zeros(2)
        self._allocate = model.forces.allocate
        model.forces.allocate = self._measured_allocate

    def _measured_allocate(self):
        self._allocate()
        battalions = self.model.battalions
        line = battalions["state"] == LINE
        self.line += np.bincount(battalions["side"][line], weights=battalions["personnel"][line],
                                 minlength=2)


# ------------------------------------------------------------- loss rates
@dataclass(frozen=True)
class LossRates:
    """One run's losses, per side and cause (:data:`CAUSES`), over its days."""

    days: int
    casualties: np.ndarray  # (2, 3) persons over the run
    person_days: np.ndarray  # (2,) persons in the line as each day's fighting starts, summed
    contact_shares: np.ndarray  # (2,) measured (fine) or given (coarse)
    cover: np.ndarray  # (2,) cover of the ground stood on (fine), or nan

    def per_day(self) -> np.ndarray:
        """(2, 3): casualties a day (persons/day)."""
        return self.casualties / self.days

    def per_person_day(self) -> np.ndarray:
        """(2, 3): casualties a day per person in the line (1/day)."""
        return self.casualties / np.maximum(self.person_days, 1.0)[:, None]


def run_fine(scenario: Scenario, seed: int) -> LossRates:
    """A fine run to ``max_days`` (it must not stop earlier: a comparison is of a fight
    that lasts), measured by a :class:`FineMeter`."""
    from sim.model.model import AttritionModel

    model = AttritionModel(scenario, rng=seed)
    meter = FineMeter(model)
    model.run()
    if model.day < scenario.max_days:
        raise RuntimeError(f"{scenario.name}: the fine run (seed {seed}) stopped on day "
                           f"{model.day} ({model.stop_reason}), before max_days "
                           f"({scenario.max_days}); a comparison needs a fight that lasts")
    return LossRates(model.day, model.combat.casualties_by_cause[:, :3].astype(float),
                     meter.line.copy(), meter.contact_shares(), meter.cover())


def run_coarse(theatre: TheatreScenario, seed: int) -> LossRates:
    """A theatre run to ``max_days``, its casualties by cause in expectation (the
    theatre's split of each day's draw)."""
    from sim.theatre.model import TheatreModel

    model = TheatreModel(theatre, rng=seed)
    meter = CoarseMeter(model)
    model.run()
    contact = np.full(2, theatre.sectors[0].contact_share)
    return LossRates(model.day, model.combat.casualties_by_cause.copy(), meter.line.copy(),
                     contact, np.full(2, np.nan))


def mean_and_se(values) -> tuple[np.ndarray, np.ndarray]:
    """Mean over replicates (axis 0) and its standard error (nan from one replicate)."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2:
        return values.mean(axis=0), np.full(values.shape[1:], np.nan)
    return values.mean(axis=0), values.std(axis=0, ddof=1) / math.sqrt(len(values))


def ratio_and_se(coarse: float, coarse_se: float, fine: float,
                 fine_se: float) -> tuple[float, float]:
    """``coarse / fine`` and its standard error, to first order (the replicates of the
    two models are independent).

    >>> ratio_and_se(12.0, 0.36, 10.0, 0.4)
    (1.2, 0.06)
    """
    if fine <= 0:
        return math.nan, math.nan
    ratio = coarse / fine
    relative = math.hypot(coarse_se / coarse if coarse > 0 else 0.0, fine_se / fine)
    return round(ratio, 12), round(ratio * relative, 12)


# ------------------------------------------------------------ the comparison
#: The modelling tolerance: coarse and fine loss rates agree within this share of the
#: fine one, per side and cause, on top of the replicates' sampling error (a multiple
#: of the ratio's standard error). Its budget: the daily step, which fires from the
#: lines as the day starts (about half a day's losses of the firing side, 1-4%); the
#: one contact share for both sides (a few %); the fine sector's uneven local force
#: ratios that a well-mixed front averages (a few %).
MODEL_TOLERANCE = 0.10
#: Causes under this share of a side's fine casualties are not compared by themselves
#: (their rates are too small for a relative tolerance); they count in the side's total.
MIN_CAUSE_SHARE = 0.05
#: Standard errors of the ratio allowed beyond the modelling tolerance in the benchmark
#: (about a 5% chance each that a ratio truly within it is flagged).
SE_MULTIPLE = 2.0
#: Seeds: the structure (contact shares, ground) is measured on runs of its own, never
#: on those whose losses are compared; the theatre's runs have seeds of their own.
STRUCTURE_SEED, FINE_SEED, COARSE_SEED = 1_000, 0, 2_000
METRICS = {"per day": "per_day", "per person-day": "per_person_day"}

_FIGHT = {"combat": {"morale_enabled": False}}
# The attacker's start rows within aimed range of the defender's fortified rows: in
# contact from the first sub-step, as a theatre's sector is.
_IN_CONTACT = {"sector": {"depth_cells": 13, "minefield_rows": 0, "mines_per_cell": 0.0}}
_STATIC = {"tactics": {t: {"advance_speed_m_per_day": 0.0, "assault_speed_m_per_day": 0.0}
                       for t in ("human_wave", "infiltration", "mine_clearance")}}
# Two lines 800 m deep each, face to face: half of each within aimed range (400 m).
_DEEP = {"sector": {"depth_cells": 16, "attacker_rows": 8, "minefield_rows": 0,
                    "mines_per_cell": 0.0, "defender_rows": 8, "fortified_rows": 8}}


def _replaced(per_day: float, unit: int) -> dict:
    """A contingent kept at strength: recruits replace its losses (two days' training),
    refill its units and form new ones."""
    return {"recruitment": "replacement", "pool": 100_000, "recruits_per_day": per_day,
            "training_days": 2.0, "refill_below_strength": 1.0, "new_unit_size": unit}


def _merge(*parts: dict) -> dict:
    from sim.keypaths import deep_merge

    out: dict = {}
    for part in parts:
        out = deep_merge(out, part)
    return out


def _sustained(return_to_duty: float) -> dict:
    side = {"return_to_duty_fraction": return_to_duty}
    return _merge(_FIGHT, _IN_CONTACT, {
        "max_days": 60,
        "attacker": {**side, "units": [
            {"contingent": "mobilised", "count": 30, "personnel": 30, "tactic": "human_wave",
             "training_days": 30.0, "base_training_level": 0.2}],
            "contingents": {"mobilised": _replaced(200.0, 30)}},
        "defender": {**side, "contingents": {"brigade": _replaced(60.0, 20)}}})


def _shelled_alone(base: Scenario) -> dict:
    units = [dict(g.model_dump(), commit_day=10) for g in base.attacker.units]
    return _merge(_FIGHT, _IN_CONTACT, {"max_days": 9, "attacker": {"units": units}})


@dataclass(frozen=True)
class Configuration:
    """A fine sector for the comparison: a shipped scenario with overrides (a dict, or
    a function of the shipped scenario that gives one), and whether agreement is
    claimed for it (``limit`` says why not)."""

    name: str
    description: str
    base: str
    overrides: dict | Callable[[Scenario], dict]
    limit: str = ""
    battalion_persons: int = BATTALION_PERSONS

    @property
    def claimed(self) -> bool:
        return not self.limit

    def scenario(self) -> Scenario:
        from sim.scenarios import load

        base = load(self.base)
        overrides = self.overrides(base) if callable(self.overrides) else self.overrides
        return base.with_overrides(overrides)


#: The sectors compared. The first six are sustained fights of a well-mixed front, the
#: theatre's premise; the last three are the limits of the coarse scale, shown to size
#: them (agreement not claimed).
CONFIGURATIONS = {c.name: c for c in (
    Configuration("baseline", "the reference sector (mixed assault on a fortified "
                  "brigade), lines in contact from day 1, 30 days", "fortified_defense",
                  _merge(_FIGHT, _IN_CONTACT, {"max_days": 30})),
    Configuration("drones", "the drone-saturated front (area fire dominates), in "
                  "contact, 30 days", "drone_saturated_front",
                  _merge(_FIGHT, _IN_CONTACT, {"max_days": 30})),
    Configuration("open_ground", "no field works, no cover (aimed fire doubles on the "
                  "defender), the defender replaced, 30 days", "fortified_defense",
                  _merge(_FIGHT, _IN_CONTACT, {
                      "max_days": 30, "sector": {"fortification_level": 0.0, "cover": 0.0,
                                                 "defended_cover": 0.0},
                      "defender": {"contingents": {"brigade": _replaced(100.0, 20)}}})),
    Configuration("sustained", "one category a side, both kept at strength by "
                  "recruitment (no wounded return), 60 days", "fortified_defense",
                  _sustained(0.0)),
    Configuration("deep_lines", "two static lines 800 m deep, half of each within "
                  "aimed range, both replaced, 30 days", "fortified_defense",
                  _merge(_FIGHT, _STATIC, _DEEP, {
                      "max_days": 30,
                      "attacker": {"units": [
                          {"contingent": "infantry", "count": 40, "personnel": 20,
                           "tactic": "infiltration", "training_days": 120.0,
                           "base_training_level": 0.3}],
                          "contingents": {"infantry": _replaced(100.0, 20)}},
                      "defender": {"units": [
                          {"contingent": "brigade", "count": 40, "personnel": 10,
                           "tactic": "fortified_defense", "training_days": 60.0,
                           "base_training_level": 0.3, "experience_days": 120.0,
                           "theatre_adaptation": 0.7}],
                          "contingents": {"brigade": _replaced(50.0, 10)}}})),
    Configuration("approach", "the reference sector as shipped, minefield emptied: the "
                  "attack crosses 1.6 km on day 1, 30 days", "fortified_defense",
                  _merge(_FIGHT, {"max_days": 30, "sector": {"mines_per_cell": 0.0}})),
    Configuration("shelled_alone", "the defender alone in the sector, shelled by the "
                  "attacker's guns and drones, for 9 days", "fortified_defense",
                  _shelled_alone),
    Configuration("mixed_depth", "the mixed assault (waves in front, infiltrators "
                  "behind) and the defence, each 800 m deep and static, 30 days",
                  "fortified_defense", _merge(_FIGHT, _STATIC, _DEEP, {"max_days": 30}),
                  limit="the sides' contact shares differ; the theatre has one"),
    Configuration("minefield", "the reference sector as shipped, with its minefield, "
                  "30 days", "fortified_defense", _merge(_FIGHT, {"max_days": 30}),
                  limit="a belt crossed once against a standing density walked daily"),
    Configuration("ground_down", "as sustained, but the wounded in care count against "
                  "replacement: the attack's line far below its units' strength",
                  "fortified_defense", _sustained(0.5),
                  limit="a battalion keeps its footprint where companies are destroyed"),
)}


@dataclass(frozen=True)
class Row:
    """One line of the comparison: a side's loss rate by one cause (or all) by one
    metric, in both models."""

    configuration: str
    metric: str
    side: str
    cause: str
    fine: float
    fine_se: float
    coarse: float
    coarse_se: float
    ratio: float
    ratio_se: float
    share: float  # of the side's fine casualties
    compared: bool  # a cause large enough to compare (or the total)
    claimed: bool

    def within(self, se_multiple: float = SE_MULTIPLE) -> bool:
        """|ratio - 1| within the modelling tolerance plus ``se_multiple`` standard
        errors."""
        return bool(abs(self.ratio - 1.0) <= MODEL_TOLERANCE + se_multiple * self.ratio_se)


@dataclass(frozen=True)
class Comparison:
    """The fine and the coarse version of one sector, over replicates."""

    configuration: Configuration
    contact_shares: np.ndarray  # (2,) measured on the structure runs
    cover: np.ndarray  # (2,) measured on the structure runs
    contact_share: float  # given to the theatre
    fine: list[LossRates]
    coarse: list[LossRates]

    def rows(self) -> list[Row]:
        out = []
        for metric, method in METRICS.items():
            fine = np.array([getattr(r, method)() for r in self.fine])
            coarse = np.array([getattr(r, method)() for r in self.coarse])
            for s, side in enumerate(SIDES):
                fine_side, coarse_side = fine[:, s], coarse[:, s]
                total = fine_side.sum(axis=1).mean()
                if total <= 0:
                    continue
                causes = [(c, fine_side[:, k], coarse_side[:, k]) for k, c in enumerate(CAUSES)]
                causes.append(("total", fine_side.sum(axis=1), coarse_side.sum(axis=1)))
                for cause, f, c in causes:
                    (f_mean, c_mean), (f_se, c_se) = mean_and_se(np.stack([f, c], axis=1))
                    if f_mean <= 0 and c_mean <= 0:
                        continue
                    share = float(f_mean / total)
                    ratio, ratio_se = ratio_and_se(c_mean, c_se, f_mean, f_se)
                    out.append(Row(self.configuration.name, metric, side, cause,
                                   float(f_mean), float(f_se), float(c_mean), float(c_se),
                                   ratio, ratio_se, share,
                                   cause == "total" or share >= MIN_CAUSE_SHARE,
                                   self.configuration.claimed))
        return out

    def disagreements(self, se_multiple: float = SE_MULTIPLE) -> list[Row]:
        """The compared rows outside the tolerance."""
        return [r for r in self.rows() if r.compared and not r.within(se_multiple)]


def compare(configuration: Configuration, replicates: int,
            structure_replicates: int = 4) -> Comparison:
    """The procedure: measure the fine sector's structure (each side's contact share,
    the cover the attackers stand on) on ``structure_replicates`` runs of its own; give
    the theatre their values (its one contact share: the mean of the two sides'); then
    run ``replicates`` of each model (fixed seeds) and compare their loss rates.
    Nothing is fitted to the losses compared."""
    scenario = configuration.scenario()
    structure = [run_fine(scenario, STRUCTURE_SEED + k) for k in range(structure_replicates)]
    shares = np.mean([r.contact_shares for r in structure], axis=0)
    cover = _mean_of_finite([r.cover for r in structure])
    contact_share = float(np.clip(shares.mean(), 0.0, 1.0))
    attacker_cover = (float(np.clip(cover[ATTACKER], 0.0, 1.0))
                      if np.isfinite(cover[ATTACKER]) else None)
    theatre = sector_as_theatre(scenario, contact_share=contact_share,
                                battalion_persons=configuration.battalion_persons,
                                attacker_cover=attacker_cover)
    fine = [run_fine(scenario, FINE_SEED + k) for k in range(replicates)]
    coarse = [run_coarse(theatre, COARSE_SEED + k) for k in range(replicates)]
    return Comparison(configuration, shares, cover, contact_share, fine, coarse)


def _mean_of_finite(values) -> np.ndarray:
    """Per column, the mean of its finite values (nan if none)."""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    count = finite.sum(axis=0)
    return np.divide(np.where(finite, values, 0.0).sum(axis=0), count,
                     out=np.full(values.shape[1], np.nan), where=count > 0)


def table(comparisons: list[Comparison], se_multiple: float = SE_MULTIPLE) -> str:
    """The comparisons as a text table: configuration, metric, side, cause, fine rate
    +- SE, coarse rate +- SE, ratio +- SE, and whether within tolerance (rows of causes
    too small to compare, in brackets; limits marked)."""
    head = (f"{'configuration':14s} {'metric':15s} {'side':8s} {'cause':6s} {'share':>5s} "
            f"{'fine':>19s} {'coarse':>19s} {'ratio':>13s}  within")
    lines = [head, "-" * len(head)]
    for comparison in comparisons:
        for row in comparison.rows():
            verdict = ("yes" if row.within(se_multiple) else "NO") if row.compared else "(n/c)"
            if not row.claimed and row.compared:
                verdict += " (limit)"
            lines.append(
                f"{row.configuration:14s} {row.metric:15s} {row.side:8s} {row.cause:6s} "
                f"{row.share:5.0%} {_pm(row.fine, row.fine_se):>19s} "
                f"{_pm(row.coarse, row.coarse_se):>19s} "
                f"{row.ratio:6.3f}+-{row.ratio_se:5.3f}  {verdict}")
    return "\n".join(lines)


def _pm(value: float, se: float) -> str:
    return f"{value:.4g} +- {se:.2g}"
