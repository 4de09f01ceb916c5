"""Scenario schema: every parameter of a run, with its unit, default and meaning.

A :class:`Scenario` is plain data (pydantic models that reject unknown keys and
out-of-range values), so the CLI, the sweep engine, the demo page and a notebook
all build runs the same way::

    >>> from sim.config import Scenario
    >>> s = Scenario()
    >>> s.sector.width_cells, s.combat.substeps_per_day
    (20, 24)
    >>> s.with_overrides({"defender": {"drones": 40}}).defender.drones
    40

The defaults are the reference scenario of ``docs/ODD.md`` (section 5), where each
number's source or rationale is given; section 7.10 lists every parameter.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from sim.fields import (
    MAX_CELLS,
    MAX_DAYS,
    MAX_ITEMS,
    MAX_PERSONS,
    Day,
    DayOrDate,
    Days,
    Fraction,
    NonNegative,
    Persons,
    PersonsPerDay,
    Positive,
)
from sim.fields import StrictModel as _Strict
from sim.keypaths import deep_merge, lookup, split_key_path
from sim.sides import SIDES
from sim.tactics import (
    ATTACK_TACTICS,
    DEFAULT_TACTICS,
    DEFENCE_TACTICS,
    Tactic,
    TacticProfile,
)


class UnitGroup(_Strict):
    """A batch of identical units of one contingent."""

    contingent: str = Field(min_length=1, max_length=100,
                            description="Contingent name, e.g. 'mobilised'; not 'all' (the "
                                        "daily record's name for a whole side).")
    # A group's units all fit in the side's start zone, so MAX_CELLS bounds them too.
    count: Annotated[int, Field(ge=1, le=MAX_CELLS)] = Field(description="Number of units (-).")
    # A unit is a squad to a company; a million persons is more than any army group.
    personnel: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        description="Personnel per unit at start (persons).")
    tactic: Tactic = Field(description="Tactic; attackers attack, defenders defend.")
    training_days: Days = Field(
        default=90.0, description="Days of training each soldier received (days).")
    base_training_level: Fraction = Field(
        default=0.2, description="Training level of an untrained recruit of this contingent (-).")
    experience_days: Days = Field(
        default=0.0, description="Days in action before the run starts (days).")
    theatre_adaptation: Fraction = Field(
        default=0.0, description="Adaptation to this theatre (drones, terrain) at start (-).")
    morale: Fraction = Field(default=1.0, description="Morale at start (-).")
    commit_day: DayOrDate = Field(
        default=0, description="Day (or date) the units enter the sector (day); later days "
                               "make waves.")
    every_days: Annotated[int, Field(ge=1, le=MAX_DAYS)] | None = Field(
        default=None, description="If set, the group comes in waves of `count` units, one "
                                  "every this many days from commit_day (days); needs waves "
                                  "or until_day.")
    waves: Annotated[int, Field(ge=1, le=MAX_DAYS)] | None = Field(
        default=None, description="Number of waves, with every_days (-); none is one wave, or "
                                  "as many as until_day allows.")
    until_day: DayOrDate | None = Field(
        default=None, description="Last day (or date) a wave may enter, with every_days (day).")

    @model_validator(mode="after")
    def _not_all(self) -> UnitGroup:
        if self.contingent == "all":
            raise ValueError("contingent: 'all' names a whole side in the daily record; "
                             "allowed: any other name")
        return self

    @model_validator(mode="after")
    def _waves_given_once(self) -> UnitGroup:
        if self.every_days is None and (self.waves is not None or self.until_day is not None):
            raise ValueError("every_days: waves and until_day need every_days; allowed: "
                             "every_days with one of waves and until_day, or none of the three")
        if self.every_days is not None and (self.waves is None) == (self.until_day is None):
            raise ValueError("every_days: needs exactly one of waves and until_day; allowed: "
                             "waves (a number) or until_day (a day or date)")
        return self


class RecruitmentStep(_Strict):
    """From ``day`` on, recruit ``recruits_per_day`` (for ``recruitment = 'schedule'``)."""

    day: DayOrDate = Field(description="First day (or date) of this rate (day).")
    recruits_per_day: PersonsPerDay = Field(description="Recruitment rate (persons/day).")


class Tranche(_Strict):
    """A one-off draft from the pool on one day: a contingent arriving in deployments."""

    day: Annotated[Day, Field(ge=1)] | datetime.date = Field(
        description="Day (or date) of the draft (day).")
    persons: Annotated[Persons, Field(ge=1)] = Field(description="Persons drafted (persons).")


class Reinforcement(_Strict):
    """A group that arrives trained on one day, drawn from the contingent's pool into its
    trained reserve (where it refills units or forms new ones)."""

    day: Annotated[Day, Field(ge=1)] | datetime.date = Field(
        description="Day (or date) the group arrives (day).")
    persons: Annotated[Persons, Field(ge=1)] = Field(
        description="Persons in the group, as many as the pool still holds (persons).")
    training_days: Days = Field(default=90.0, description="Training they had (days).")
    base_training_level: Fraction | None = Field(
        default=None, description="Training level of an untrained recruit among them (-); "
                                  "none is the contingent's.")


class TempoPhase(_Strict):
    """From ``day`` on, a side fights at ``intensity`` times its usual rate: its aimed
    fire, its fire support (artillery, drones, organic) and its exposure and movement."""

    day: DayOrDate = Field(description="First day (or date) of this phase (day).")
    intensity: Annotated[float, Field(ge=0.0, le=100.0)] = Field(
        description="Multiplier of the side's aimed fire, fire support, exposure to fire "
                    "and speed of movement (-): 1 the usual rate, 0 no fighting.")


#: The lists of a recruitment configuration whose items carry a day or date.
DATED_LISTS = ("schedule", "tranches", "reinforcements", "bonus")


class BonusStep(_Strict):
    """From ``day`` on, the signing bonus (or another recruiting lever) is ``multiple``
    times the reference one."""

    day: DayOrDate = Field(description="First day (or date) of this bonus (day).")
    multiple: Annotated[float, Field(gt=0.0, le=1000.0)] = Field(
        description="The bonus as a multiple of the reference bonus (-): 1 the reference.")


class RecruitmentConfig(_Strict):
    """A recruit pool, its recruitment and its training pipeline: what a sector's
    contingent and a theatre's force category share (:mod:`sim.model.pipelines`)."""

    pool: Persons = Field(
        default=0, description="Eligible people not yet recruited, at start (persons).")
    recruitment: Literal["constant", "depleting", "schedule", "replacement"] = Field(
        default="constant", description="How the recruitment rate is set: constant; "
        "depleting, falling as (pool left / pool at start)^depletion_exponent; schedule; or "
        "replacement, recruiting what the contingent is short of its starting strength, up "
        "to recruits_per_day.")
    recruits_per_day: PersonsPerDay = Field(
        default=0.0, description="Recruitment rate, its starting value if depleting, or its "
                                 "ceiling if replacement (persons/day).")
    depletion_exponent: Positive = Field(
        default=1.0, description="Exponent of the depleting form (-): 1 linear in the pool "
                                 "left, larger falls sooner.")
    schedule: list[RecruitmentStep] = Field(
        default_factory=list, max_length=MAX_ITEMS,
        description="Recruitment rates by day (schedule form).")
    tranches: list[Tranche] = Field(
        default_factory=list, max_length=MAX_ITEMS,
        description="One-off drafts from the pool into training on given days.")
    reinforcements: list[Reinforcement] = Field(
        default_factory=list, max_length=MAX_ITEMS,
        description="Trained groups arriving from the pool on given days.")
    training_days: Days = Field(
        default=90.0, description="Training a recruit gets before joining the line (days).")
    base_training_level: Fraction = Field(
        default=0.2, description="Training level of an untrained recruit (-).")
    shortened_training_days: Days | None = Field(
        default=None, description="Training given while the contingent's line is under "
                                  "strength (days); none keeps training fixed.")
    shorten_below_strength: Fraction = Field(
        default=0.8, description="Share of its units' starting strength in the line below "
                                 "which training is shortened (-).")
    bonus: list[BonusStep] = Field(
        default_factory=list, max_length=MAX_ITEMS,
        description="The signing bonus by day or date (steps), as a multiple of the "
                    "reference bonus; 1 before the first.")
    bonus_elasticity: Annotated[float, Field(ge=0.0, le=10.0)] = Field(
        default=0.0, description="Recruitment rises as bonus multiple ^ this (-): 0 deaf to "
                                 "the bonus, 1 in proportion to it.")


class ContingentConfig(RecruitmentConfig):
    """One contingent's recruit pool, recruitment, training pipeline, replacements,
    rotation and withdrawal."""

    refill_below_strength: Fraction = Field(
        default=0.9, description="Units below this share of their starting strength are "
                                 "refilled from the trained reserve, neediest first (-).")
    new_unit_size: Annotated[int, Field(ge=1, le=1_000_000)] | None = Field(
        default=None, description="If set, the reserve left after refills forms new units of "
                                  "this many persons, with the contingent's first tactic "
                                  "(persons); none forms no units.")
    new_units_every_days: Annotated[int, Field(ge=1, le=MAX_DAYS)] | None = Field(
        default=None, description="If set, new units form (and enter the sector together) "
                                  "only on days divisible by this, the reserve gathering in "
                                  "between (days): assaults in waves; none form them daily.")
    rotate_below_strength: Fraction = Field(
        default=0.0, description="Fighting units below this share of their starting strength "
                                 "rotate to the rear at the end of the day (-); 0 never.")
    rear_morale_recovery_per_day: NonNegative = Field(
        default=0.1, description="Morale a unit in the rear (rotated or routed out) regains "
                                 "a day (1/day).")
    return_morale: Fraction = Field(
        default=0.7, description="A unit in the rear returns to the line once its morale "
                                 "reaches this and it is above rotate_below_strength (-).")
    withdraw_at_loss_fraction: Fraction | None = Field(
        default=None, description="Withdraw the whole contingent on the first day the killed "
                                  "and wounded of its deployment pass this share of the "
                                  "persons it has committed to the line in it (-); none never.")
    withdraw_when_exhausted: bool = Field(
        default=False, description="Withdraw the contingent once its pool, pipeline and "
                                   "reserve are empty and no wave of it is still to come (it "
                                   "can no longer be replenished).")
    return_after_days: Annotated[int, Field(ge=1, le=MAX_DAYS)] | None = Field(
        default=None, description="A withdrawn contingent returns to the line after resting "
                                  "this many days (days); with return_at_strength, once both "
                                  "hold; none of the two never returns.")
    return_at_strength: Annotated[float, Field(gt=0.0, le=1.0)] | None = Field(
        default=None, description="A withdrawn contingent returns once the persons in the "
                                  "units it has sent and its trained reserve are this share of "
                                  "those units' strength at formation (-).")
    service_term_days: Annotated[int, Field(ge=1, le=MAX_DAYS)] | None = Field(
        default=None, description="Those who have served this many days since first joining "
                                  "the contingent's units are released (days); none serve "
                                  "on.")
    killed_fraction: Annotated[float, Field(gt=0.0, le=1.0)] | None = Field(
        default=None, description="Share of the contingent's casualties killed outright (-); "
                                  "none is the side's.")
    return_to_duty_fraction: Fraction | None = Field(
        default=None, description="Share of the contingent's wounded who return to duty (-); "
                                  "none is the side's.")


class SideConfig(_Strict):
    """One side: its units, fire support and casualty care."""

    units: list[UnitGroup] = Field(min_length=1, max_length=MAX_ITEMS,
                                   description="The side's unit groups.")
    aimed_kills_per_shooter_per_day: NonNegative = Field(
        default=0.02, description="Base aimed-fire kill rate of one soldier with a target in "
                                  "range, before tactic, skill and target protection (1/day).")
    area_strikes_per_person_per_day: NonNegative = Field(
        default=0.0, description="Organic indirect fire (mortars, grenades) per soldier "
                                 "fighting (strikes/person/day).")
    organic_lethal_area_m2: NonNegative = Field(
        default=30.0, description="Effective casualty area of one organic strike (m2).")
    artillery_strikes_per_day: NonNegative = Field(
        default=0.0, description="Supporting artillery rounds on the sector (strikes/day).")
    artillery_lethal_area_m2: NonNegative = Field(
        default=15.0, description="Effective casualty area of one artillery round (m2): its "
                                  "lethal area times the chance it falls on the formation.")
    drones: Annotated[int, Field(ge=0, le=1_000_000)] = Field(
        default=0, description="Strike drones (FPV, bomb droppers) over the sector (-).")
    strikes_per_drone_per_day: NonNegative = Field(
        default=4.0, description="Strikes each drone makes a day (strikes/drone/day).")
    drone_lethal_area_m2: NonNegative = Field(
        default=8.0, description="Effective casualty area of one drone strike (m2); about half "
                                 "a casualty per strike on a human wave.")
    killed_fraction: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        default=0.25, description="Share of casualties killed outright (-); 0.25 is a "
                                  "wounded-to-killed ratio of 3:1.")
    return_to_duty_fraction: Fraction = Field(
        default=0.5, description="Share of wounded who return to duty (-); the rest are "
                                 "permanently lost.")
    return_delay_days: Annotated[int, Field(ge=1, le=365)] = Field(
        default=21, description="Days in care before a wounded soldier returns (days).")
    tempo: list[TempoPhase] = Field(
        default_factory=list, max_length=MAX_ITEMS,
        description="The side's intensity by day or date (phases); 1 before the first.")
    tempo_variation: Annotated[float, Field(ge=0.0, le=10.0)] = Field(
        default=0.0, description="Day-to-day variation of the side's intensity (-): its "
                                 "coefficient of variation, a gamma draw a day around the "
                                 "phase's intensity (assault days and quiet days); 0 none, "
                                 "else at least 0.001.")

    @model_validator(mode="after")
    def _variation_drawable(self) -> SideConfig:
        # A gamma of shape 1/v^2 overflows for tiny v; below 0.001 it is 1 anyway.
        if 0.0 < self.tempo_variation < 1e-3:
            raise ValueError(f"tempo_variation: {self.tempo_variation} is too small to "
                             f"draw; allowed: 0 (none) or 0.001 to 10")
        return self
    fixed_daily_loss_fraction: Fraction | None = Field(
        default=None, description="Test configuration: replaces the side's exposure to fire "
                                  "and mines by a fixed share of its fighting personnel lost "
                                  "per day (-); none by default.")
    contingents: dict[str, ContingentConfig] = Field(
        default_factory=dict, description="Per contingent name: recruit pool, pipeline, "
                                          "replacement and withdrawal; a contingent not named "
                                          "gets no recruits and is never withdrawn.")

    @model_validator(mode="after")
    def _known_contingents(self) -> SideConfig:
        names = {g.contingent for g in self.units}
        unknown = sorted(set(self.contingents) - names)
        if unknown:
            raise ValueError(f"contingents: no units belong to {', '.join(unknown)}; "
                             f"allowed: {', '.join(sorted(names))}")
        return self


class SectorConfig(_Strict):
    """The front sector: a grid along the front (x) and in depth (y, attacker at y=0)."""

    width_cells: Annotated[int, Field(ge=1, le=2000)] = Field(
        default=20, description="Cells along the front (-).")
    depth_cells: Annotated[int, Field(ge=3, le=2000)] = Field(
        default=30, description="Cells in depth from the attacker's rear to the defender's (-).")
    # At least a metre (the docking sectors' cells), so that positions in cells stay
    # whole numbers a 64-bit integer holds; at most 10 km.
    cell_size_m: Annotated[float, Field(ge=1.0, le=10_000.0)] = Field(
        default=100.0, description="Side of a square cell (m).")
    attacker_rows: Annotated[int, Field(ge=1, le=2000)] = Field(
        default=3, description="Depth of the attacker's assembly area (cells).")
    defender_rows: Annotated[int, Field(ge=1, le=2000)] = Field(
        default=10, description="Depth of the ground the defender holds at start (cells).")
    fortified_rows: Annotated[int, Field(ge=0, le=2000)] = Field(
        default=3, description="Depth of the defender's fortified forward band (cells).")
    fortification_level: Fraction = Field(
        default=0.6, description="Fortification of the forward band (-): 0 open, 1 the "
                                 "strongest field works.")
    minefield_rows: Annotated[int, Field(ge=0, le=2000)] = Field(
        default=4, description="Depth of the minefield in front of the defender (cells).")
    mines_per_cell: NonNegative = Field(
        default=10.0, description="Anti-personnel mines per minefield cell (mines/cell).")
    cover: Fraction = Field(
        default=0.1, description="Cover offered by the ground between the lines (-).")
    defended_cover: Fraction = Field(
        default=0.3, description="Cover in the defender's zone: trees, ruins (-).")

    @model_validator(mode="after")
    def _zones_fit(self) -> SectorConfig:
        cells = self.width_cells * self.depth_cells
        if cells > MAX_CELLS:
            raise ValueError(f"width_cells: {self.width_cells} x depth_cells "
                             f"{self.depth_cells} is {cells:,} cells; allowed: at most "
                             f"{MAX_CELLS:,} cells (sim.fields.MAX_CELLS)")
        if self.attacker_rows + self.minefield_rows + self.defender_rows > self.depth_cells:
            raise ValueError(
                f"depth_cells: {self.depth_cells} is less than attacker_rows + minefield_rows "
                f"+ defender_rows ({self.attacker_rows} + {self.minefield_rows} + "
                f"{self.defender_rows}); allowed: at least their sum")
        if self.fortified_rows > self.defender_rows:
            raise ValueError(f"fortified_rows: {self.fortified_rows} is more than "
                             f"defender_rows ({self.defender_rows}); allowed: at most that")
        return self


class CombatConfig(_Strict):
    """Parameters shared by both sides' fire, skill, mines and morale."""

    substeps_per_day: Annotated[int, Field(ge=1, le=2000)] = Field(
        default=24, description="Combat sub-steps in one day (-).")
    aimed_fire_range_m: Positive = Field(
        default=400.0, description="Range of aimed fire (m), applied along and across the front.")
    training_hit_gain: NonNegative = Field(
        default=1.0, description="Relative rise of the aimed kill rate at skill 1 (-).")
    training_exposure_reduction: Fraction = Field(
        default=0.5, description="Relative fall of exposure to fire at skill 1 (-).")
    fortification_protection: Fraction = Field(
        default=0.8, description="Share of hits a fortification of level 1 prevents (-).")
    cover_protection: Fraction = Field(
        default=0.5, description="Share of hits cover of level 1 prevents (-).")
    experience_weight: Fraction = Field(
        default=0.3, description="Skill added by full experience, before tactic leverage (-).")
    experience_time_constant_days: Annotated[Days, Field(gt=0.0)] = Field(
        default=30.0, description="Days in action to gain 63% of full experience (days).")
    adaptation_time_constant_days: Annotated[Days, Field(gt=0.0)] = Field(
        default=20.0, description="Days in action to gain 63% of full theatre adaptation (days).")
    drone_adaptation_effect: Fraction = Field(
        default=0.6, description="Share of drone hits a fully adapted unit avoids (-).")
    mine_sweep_width_m: NonNegative = Field(
        default=0.5, description="Width of ground one walker sets off mines in (m).")
    mines_cleared_per_person_per_day: NonNegative = Field(
        default=2.0, description="Mines a sapper clears per day at skill 0 (mines/person/day); "
                                 "doubles at skill 1.")
    clearance_casualties_per_mine: Fraction = Field(
        default=0.05, description="Casualties per mine cleared at skill 0 (-); falls to zero "
                                  "at skill 1.")
    morale_loss_per_casualty_fraction: NonNegative = Field(
        default=2.0, description="Morale lost when a unit loses all its personnel, pro rata (-).")
    morale_recovery_per_day: NonNegative = Field(
        default=0.1, description="Morale regained on a day without casualties (1/day).")
    morale_enabled: bool = Field(
        default=True, description="Whether units break; off for docking with theory.")
    routed_speed_m_per_day: NonNegative = Field(
        default=3000.0, description="Speed of a routed or withdrawing unit leaving (m/day).")
    elastic_fallback_ratio: Positive = Field(
        default=3.0, description="Local enemy/own strength ratio at which an elastic defence "
                                 "gives ground (-).")
    elastic_counterattack_ratio: Positive = Field(
        default=1.0, description="Local ratio below which it counter-attacks to retake ground (-).")
    elastic_max_fallback_m: NonNegative = Field(
        default=500.0, description="Ground an elastic defence gives up at most (m).")


class Objective(_Strict):
    """Ground whose capture ends the battle (a town, a ridge)."""

    name: str = Field(default="objective", min_length=1, max_length=100,
                      description="What is taken, for the record (e.g. 'Bakhmut').")
    ground_gained_m: Positive = Field(
        description="The attacker's mean advance into the defender's ground at which it "
                    "holds the objective (m); at most defender_rows x cell_size_m.")


class TrainingConfig(_Strict):
    """How training days become a training level
    (see :func:`sim.model.pipelines.training_level`)."""

    time_constant_days: Annotated[Days, Field(gt=0.0)] = Field(
        default=90.0, description="Training days that close 63% of the gap between a "
                                  "recruit's base level and full training (days).")


class Scenario(_Strict):
    """A complete, validated run configuration."""

    # The name is the stem of a run's folder; a description is a line.
    name: str = Field(default="reference", max_length=100, description="Scenario name.")
    description: str = Field(default="", max_length=1000,
                             description="What the scenario shows, in one line.")
    sources: dict[str, list[str]] = Field(
        default_factory=dict, description="Calibrated values: key path (e.g. "
        "'attacker.units[0].personnel') to the ids of the claims in seeds/claims.csv that "
        "set it.")
    max_days: Annotated[int, Field(ge=1, le=36500)] = Field(
        default=30, description="Days to simulate at most (days).")
    start_date: datetime.date | None = Field(
        default=None, description="Calendar date of day 0 (YYYY-MM-DD), from 1000-01-01 to "
                                  "9000-12-31; records, events and plots then carry dates, "
                                  "and days may be given as dates.")
    objective: Objective | None = Field(
        default=None, description="Ground whose capture ends the battle, a win for the "
                                  "attacker (stop reason objective_taken); none fights on.")
    sector: SectorConfig = Field(default_factory=SectorConfig,
                                 description="The front sector's grid and terrain.")
    combat: CombatConfig = Field(default_factory=CombatConfig,
                                 description="Fire, skill, mines and morale.")
    training: TrainingConfig = Field(default_factory=TrainingConfig,
                                     description="Training days to training level.")
    tactics: dict[Tactic, TacticProfile] = Field(
        default_factory=lambda: {k: TacticProfile(**v) for k, v in DEFAULT_TACTICS.items()},
        description="Tactic profiles; a scenario may override single fields.")
    attacker: SideConfig = Field(description="The attacking side.",
                                 default_factory=lambda: SideConfig(
        units=[UnitGroup(contingent="foreign", count=30, personnel=30, tactic="human_wave",
                         training_days=180, base_training_level=0.3),
               UnitGroup(contingent="regulars", count=10, personnel=20, tactic="infiltration",
                         training_days=120, base_training_level=0.3, experience_days=60,
                         theatre_adaptation=0.5),
               UnitGroup(contingent="regulars", count=4, personnel=15, tactic="mine_clearance",
                         training_days=120, base_training_level=0.3)],
        aimed_kills_per_shooter_per_day=0.02, artillery_strikes_per_day=200.0, drones=10))
    defender: SideConfig = Field(description="The defending side.",
                                 default_factory=lambda: SideConfig(
        units=[UnitGroup(contingent="brigade", count=20, personnel=20, tactic="fortified_defense",
                         training_days=60, base_training_level=0.3, experience_days=120,
                         theatre_adaptation=0.7)],
        aimed_kills_per_shooter_per_day=0.05, artillery_strikes_per_day=200.0, drones=25))

    @model_validator(mode="before")
    @classmethod
    def _merge_tactics(cls, data: Any) -> Any:
        """Let a scenario override single fields of a tactic, keeping the other defaults."""
        if isinstance(data, dict) and isinstance(data.get("tactics"), dict):
            merged = {k: dict(v) for k, v in DEFAULT_TACTICS.items()}
            for name, fields in data["tactics"].items():
                if name in merged and isinstance(fields, dict):
                    merged[name].update(fields)
                else:
                    merged[name] = fields
            data = {**data, "tactics": merged}
        return data

    @model_validator(mode="after")
    def _sides_use_their_tactics(self) -> Scenario:
        for side, tactics in zip(SIDES, (ATTACK_TACTICS, DEFENCE_TACTICS), strict=True):
            for i, group in enumerate(getattr(self, side).units):
                if group.tactic not in tactics:
                    raise ValueError(f"{side}.units[{i}].tactic: '{group.tactic}' is not a "
                                     f"{side} tactic; allowed: {', '.join(tactics)}")
        return self

    @model_validator(mode="after")
    def _dates_fall_in_the_run(self) -> Scenario:
        """``start_date`` is in years a calendar and a figure's axis hold (with room for
        MAX_DAYS after it); every date is on or after it and within ``MAX_DAYS`` of it;
        a date needs a ``start_date``."""
        first, last = datetime.date(1000, 1, 1), datetime.date(9000, 12, 31)
        if self.start_date is not None and not first <= self.start_date <= last:
            raise ValueError(f"start_date: {self.start_date.isoformat()} is out of range; "
                             f"allowed: a date from {first} to {last}")
        for key, value in self._days():
            if not isinstance(value, datetime.date):
                continue
            if self.start_date is None:
                raise ValueError(f"{key}: {value.isoformat()} is a date but start_date is "
                                 f"not set; allowed: a day number, or dates with a start_date")
            day = (value - self.start_date).days
            if not 0 <= day <= MAX_DAYS:
                raise ValueError(f"{key}: {value.isoformat()} is day {day:,} of a run that "
                                 f"starts on {self.start_date.isoformat()}; allowed: dates "
                                 f"from start_date to {MAX_DAYS:,} days after it")
        for side in SIDES:
            config = getattr(self, side)
            for i, group in enumerate(config.units):
                if group.until_day is not None and (self.day_of(group.until_day)
                                                    < self.day_of(group.commit_day)):
                    raise ValueError(f"{side}.units[{i}].until_day: before its commit_day; "
                                     f"allowed: a day or date from commit_day on")
            for name, contingent in config.contingents.items():
                for kind in ("tranches", "reinforcements"):
                    for j, item in enumerate(getattr(contingent, kind)):
                        if self.day_of(item.day) < 1:
                            raise ValueError(f"{side}.contingents.{name}.{kind}[{j}].day: day 0 "
                                             f"(the start date); allowed: day 1 or later")
        return self

    def _days(self):
        """Every day-or-date of the scenario, with its key path."""
        for side in SIDES:
            config = getattr(self, side)
            for i, group in enumerate(config.units):
                yield f"{side}.units[{i}].commit_day", group.commit_day
                yield f"{side}.units[{i}].until_day", group.until_day
            for j, phase in enumerate(config.tempo):
                yield f"{side}.tempo[{j}].day", phase.day
            for name, contingent in config.contingents.items():
                for kind in DATED_LISTS:
                    for j, item in enumerate(getattr(contingent, kind)):
                        yield f"{side}.contingents.{name}.{kind}[{j}].day", item.day

    def day_of(self, value: int | datetime.date) -> int:
        """The day number of a day or date (day 0 is ``start_date``).

        >>> s = Scenario(start_date=datetime.date(2024, 12, 6))
        >>> s.day_of(datetime.date(2025, 1, 13)), s.day_of(7)
        (38, 7)
        """
        if isinstance(value, datetime.date):
            return (value - self.start_date).days
        return value

    def date_of(self, day: int) -> datetime.date | None:
        """The calendar date of day ``day``; none without a ``start_date``."""
        return None if self.start_date is None else self.start_date + datetime.timedelta(day)

    def wave_days(self, group: UnitGroup) -> list[int]:
        """The days a unit group's waves enter the sector (one unless ``every_days``).

        >>> g = UnitGroup(contingent="a", count=2, personnel=5, tactic="human_wave",
        ...               commit_day=3, every_days=4, until_day=12)
        >>> Scenario().wave_days(g)
        [3, 7, 11]
        """
        first = self.day_of(group.commit_day)
        if group.every_days is None:
            return [first]
        if group.waves is not None:
            last = first + (group.waves - 1) * group.every_days
        else:
            last = self.day_of(group.until_day)
        return list(range(first, min(last, MAX_DAYS) + 1, group.every_days))

    def group_units(self, side: str) -> int:
        """All the units a side's groups bring, over all their waves."""
        return sum(g.count * len(self.wave_days(g)) for g in getattr(self, side).units)

    @model_validator(mode="after")
    def _objective_reachable(self) -> Scenario:
        if self.objective is not None:
            most = self.sector.defender_rows * self.sector.cell_size_m
            if self.objective.ground_gained_m > most:
                raise ValueError(f"objective.ground_gained_m: {self.objective.ground_gained_m} "
                                 f"m is deeper than the defender's ground ({most} m, "
                                 f"defender_rows x cell_size_m); allowed: at most {most}")
        return self

    @model_validator(mode="after")
    def _units_fit_their_zones(self) -> Scenario:
        sector = self.sector
        zones = {"attacker": ("the assembly area (width_cells x attacker_rows)",
                              sector.width_cells * sector.attacker_rows),
                 "defender": ("the fortified band (width_cells x max(1, fortified_rows))",
                              sector.width_cells * max(1, sector.fortified_rows))}
        for side, (zone, cells) in zones.items():
            units = self.group_units(side)
            if units > cells:
                raise ValueError(f"{side}.units: {units} units do not fit in the {cells} cells "
                                 f"of {zone}, every wave's units a cell of their own; allowed: "
                                 f"at most {cells} units, or a larger sector")
        return self

    @model_validator(mode="after")
    def _persons_bounded(self) -> Scenario:
        """A side's people (its units' and its recruit pools') are at most MAX_PERSONS,
        so that no count of a run can overflow (see sim.fields.MAX_PERSONS)."""
        for side in SIDES:
            config = getattr(self, side)
            persons = (sum(g.count * g.personnel * len(self.wave_days(g))
                           for g in config.units)
                       + sum(c.pool for c in config.contingents.values()))
            if persons > MAX_PERSONS:
                raise ValueError(f"{side}.units: {persons:,} persons in the {side}'s units "
                                 f"and recruit pools (count x personnel x waves + pool); allowed: "
                                 f"at most {MAX_PERSONS:,}")
        return self

    @model_validator(mode="after")
    def _sources_name_keys(self) -> Scenario:
        data = self.model_dump()
        for key_path in self.sources:
            try:
                lookup(data, split_key_path(key_path))
            except (KeyError, IndexError, TypeError):
                raise ValueError(f"sources: '{key_path}' is not a key of this scenario; "
                                 f"allowed: dotted key paths such as "
                                 f"'attacker.units[0].personnel'") from None
        return self

    def with_overrides(self, overrides: dict[str, Any]) -> Scenario:
        """Return a validated copy with nested keys replaced (dicts merge, others replace)."""
        return Scenario.model_validate(deep_merge(self.model_dump(), overrides))

    def widened(self, factor: int) -> Scenario:
        """The same front ``factor`` times as wide: ``factor`` times the cells along the
        front, the units of every group, and each side's artillery, drones, recruit
        pools, recruitment rates and drafts. What is per person, per cell or per unit
        stays, so every stretch of the front sees what the whole sector saw (fire and
        movement still cross from one stretch to the next, as on a real front). Used to
        measure how the model scales (``benchmarks/performance.py``).

        >>> wide = Scenario().widened(3)
        >>> wide.sector.width_cells, wide.attacker.units[0].count, wide.defender.drones
        (60, 90, 75)
        """
        if factor < 1:
            raise ValueError(f"factor must be 1 or more, not {factor}")
        data = self.model_dump()
        data["sector"]["width_cells"] *= factor
        for side in SIDES:
            config = data[side]
            config["drones"] *= factor
            config["artillery_strikes_per_day"] *= factor
            for group in config["units"]:
                group["count"] *= factor
            for contingent in config["contingents"].values():
                contingent["pool"] *= factor
                contingent["recruits_per_day"] *= factor
                for tranche in contingent["tranches"] + contingent["reinforcements"]:
                    tranche["persons"] *= factor
                for step in contingent["schedule"]:
                    step["recruits_per_day"] *= factor
        return Scenario.model_validate(data)
