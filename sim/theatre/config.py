"""Theatre schema: a front of many sectors fed by each side's national force generation.

A :class:`TheatreScenario` is plain data, validated as a sector's
:class:`sim.config.Scenario` is (unknown keys and out-of-range values refused, every
count bounded), and read from TOML by :func:`sim.theatre.files.load`::

    >>> t = TheatreScenario.model_validate(EXAMPLE)
    >>> [s.name for s in t.sectors], t.front_km()
    (['axis', 'quiet'], 60.0)

The theatre's scales (battalions in kilometre cells, a day a step) and the physics its
sectors share with the sector model are in ``docs/ODD.md`` (the theatre section).
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, model_validator

from sim.config import DATED_LISTS, CombatConfig, RecruitmentConfig, TempoPhase, TrainingConfig
from sim.fields import MAX_DAYS, MAX_ITEMS, DayOrDate, Fraction, NonNegative, Persons
from sim.fields import StrictModel as _Strict
from sim.sides import SIDES
from sim.tactics import ATTACK_TACTICS, DEFAULT_TACTICS, DEFENCE_TACTICS, Tactic, TacticProfile

#: Kilometres of front in a theatre: about twice the longest front of any war.
MAX_FRONT_KM = 5_000
#: Sectors in a theatre.
MAX_SECTORS = 500
SECTOR_KINDS = ("active", "holding", "quiet")
#: Names of sectors and force categories: they land in CSV cells and figure legends, so
#: none may start like a spreadsheet formula (=, +, -, @) or hold control characters.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_ .\-\[\]]*$"


class TargetStep(_Strict):
    """From ``day`` on, the side's allocation aims for ``persons_per_km`` in the sector."""

    day: DayOrDate = Field(description="First day (or date) of this target (day).")
    persons_per_km: NonNegative = Field(description="Persons in the line per km of front "
                                                    "aimed for (persons/km).")


class SectorSide(_Strict):
    """One side's fire support, line density and tempo in one sector."""

    artillery_strikes_per_km_per_day: NonNegative = Field(
        default=0.0, description="Artillery rounds on the enemy's line here, per km of "
                                 "front (strikes/km/day).")
    drones_per_km: NonNegative = Field(
        default=0.0, description="Strike drones over the sector, per km of front (1/km).")
    target_persons_per_km: NonNegative = Field(
        default=0.0, description="Persons in the line per km of front the side's allocation "
                                 "aims for here (persons/km).")
    target_steps: list[TargetStep] = Field(
        default_factory=list, max_length=MAX_ITEMS,
        description="Later targets by day or date, replacing target_persons_per_km from "
                    "their day (a sector opened, reinforced or thinned out).")
    intensity: Annotated[float, Field(ge=0.0, le=100.0)] = Field(
        default=1.0, description="The side's usual intensity here (-): its aimed fire, fire "
                                 "support and exposure times this; 0 no fighting.")
    tempo: list[TempoPhase] = Field(
        default_factory=list, max_length=MAX_ITEMS,
        description="Phases of intensity by day or date, multiplying `intensity`; 1 before "
                    "the first.")


class TheatreSector(_Strict):
    """A stretch of front of one kind, with its own ground, mines, fires and tempo."""

    name: str = Field(min_length=1, max_length=100, pattern=NAME_PATTERN,
                      description="Sector name: letters, digits, '_', '-', '.', '[]' and "
                                  "spaces, starting with a letter or digit.")
    kind: Literal[SECTOR_KINDS] = Field(
        description="active (an axis of dense assaults), holding or quiet; a label for "
                    "records and figures (the numbers below make the difference).")
    frontage_km: Annotated[float, Field(ge=1.0, le=MAX_FRONT_KM)] = Field(
        description="Length of front (km); whole kilometres make its cells.")
    fortification_level: Fraction = Field(
        default=0.6, description="The defender's field works (-): 0 open, 1 the strongest.")
    cover: Fraction = Field(default=0.1, description="Cover of the attacker's ground (-).")
    defended_cover: Fraction = Field(default=0.3,
                                     description="Cover of the defender's ground (-).")
    mines_per_km2: NonNegative = Field(
        default=0.0, description="Anti-personnel mines in the ground attackers cross "
                                 "(mines/km2), renewed as they are set off.")
    contact_share: Fraction = Field(
        default=0.2, description="Share of each side's line within aimed-fire range of "
                                 "the enemy on a day at intensity 1 (-); the coarse "
                                 "scale's stand-in for the sector model's geometry.")
    attacker: SectorSide = Field(default_factory=SectorSide,
                                 description="The attacker's fires, density and tempo here.")
    defender: SectorSide = Field(default_factory=SectorSide,
                                 description="The defender's fires, density and tempo here.")


class TheatreContingent(RecruitmentConfig):
    """A force category of one side (contract recruits, mobilised, convicts, a foreign
    contingent): its pool, recruitment and training (shared with the sector model),
    its units, and who of it is in the line at the start."""

    tactic: Tactic = Field(description="Tactic of its battalions (all of them: a change "
                                       "sets it for those it has from that day).")
    unit_size: Annotated[int, Field(ge=1, le=100_000)] = Field(
        default=500, description="Persons in a battalion it forms (persons).")
    in_line_at_start: Persons = Field(
        default=0, description="Persons of it in the line on day 0 (persons), in "
                               "battalions allocated to the sectors by the side's policy.")
    training_days_at_start: NonNegative = Field(
        default=90.0, description="Training of those in the line on day 0 (days).")
    experience_days_at_start: NonNegative = Field(
        default=0.0, description="Days in action of those in the line on day 0 (days).")
    adaptation_at_start: Fraction = Field(
        default=0.0, description="Adaptation to the theatre (drones) of those in the line "
                                 "on day 0 (-).")
    sectors: list[str] | None = Field(
        default=None, max_length=MAX_SECTORS,
        description="The sectors its battalions may be sent to, by name; none: any.")
    refill_below_strength: Fraction = Field(
        default=0.9, description="Battalions below this share of their strength at "
                                 "formation are refilled from the trained reserve, "
                                 "neediest first (-).")
    withdrawn: bool = Field(
        default=False, description="Whether the category is pulled out of the line: while "
                                   "set, its battalions leave for the rear at the end of "
                                   "the day and are not sent back (they rest and refill "
                                   "there); a change sets it and clears it.")
    service_term_days: Annotated[int, Field(ge=1, le=MAX_DAYS)] | None = Field(
        default=None, description="Those who have served this many days since joining a "
                                  "battalion are released (days); none serve on.")
    killed_fraction: Annotated[float, Field(gt=0.0, le=1.0)] | None = Field(
        default=None, description="Share of its casualties killed outright (-); none is "
                                  "the side's.")
    return_to_duty_fraction: Fraction | None = Field(
        default=None, description="Share of its wounded who return to duty (-); none is "
                                  "the side's.")


class TheatreSide(_Strict):
    """One side's national force generation and the fire and care it shares across
    the sectors."""

    @model_validator(mode="after")
    def _names_safe(self) -> TheatreSide:
        import re

        for name in self.contingents:
            if len(name) > 100 or not re.fullmatch(NAME_PATTERN, name) or name == "all":
                raise ValueError(f"contingents: {name[:40]!r} is not a category name; "
                                 f"allowed: up to 100 letters, digits, '_', '-', '.', "
                                 f"'[]' and spaces, starting with a letter or digit, not "
                                 f"'all'")
        return self

    contingents: dict[str, TheatreContingent] = Field(
        min_length=1, max_length=MAX_ITEMS,
        description="Force categories by name (contract, mobilised, convicts, foreign...).")
    aimed_kills_per_shooter_per_day: NonNegative = Field(
        default=0.02, description="Base aimed-fire kill rate of one soldier in contact, "
                                  "before tactic, skill and target protection (1/day).")
    artillery_lethal_area_m2: NonNegative = Field(
        default=15.0, description="Effective casualty area of one artillery round (m2).")
    strikes_per_drone_per_day: NonNegative = Field(
        default=4.0, description="Strikes each drone makes a day (strikes/drone/day).")
    drone_lethal_area_m2: NonNegative = Field(
        default=8.0, description="Effective casualty area of one drone strike (m2).")
    killed_fraction: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        default=0.25, description="Share of casualties killed outright (-).")
    return_to_duty_fraction: Fraction = Field(
        default=0.5, description="Share of wounded who return to duty (-); the rest are "
                                 "permanently lost.")
    return_delay_days: Annotated[int, Field(ge=1, le=365)] = Field(
        default=30, description="Days in care before a wounded soldier returns (days).")
    rotate_below_strength: Fraction = Field(
        default=0.5, description="Battalions in the line below this share of their strength "
                                 "at formation go to the rear to be refilled (-); 0 never.")
    rest_days: Annotated[int, Field(ge=0, le=MAX_DAYS)] = Field(
        default=14, description="Days a battalion rests in the rear before it may return "
                                "(days).")
    return_at_strength: Annotated[float, Field(gt=0.0, le=1.0)] = Field(
        default=0.9, description="A rested battalion returns to the line once refilled to "
                                 "this share of its strength at formation (-).")
    surplus: Literal["spread", "reserve"] = Field(
        default="spread", description="Battalions beyond every sector's target density: "
                                      "spread over the sectors in proportion to their "
                                      "targets, or held in the rear.")
    intensity: Annotated[float, Field(ge=0.0, le=100.0)] = Field(
        default=1.0, description="The side's national intensity (-), multiplying its "
                                 "phases and every sector's: the level a calibration fits.")
    tempo: list[TempoPhase] = Field(
        default_factory=list, max_length=MAX_ITEMS,
        description="The side's national intensity by day or date (phases: a campaign "
                    "season), multiplying every sector's; 1 before the first.")
    fixed_daily_loss_fraction: Fraction | None = Field(
        default=None, description="Test configuration: a fixed share of the side's line "
                                  "lost per day in every sector, replacing fire and mines "
                                  "(-); none by default.")


class TheatreChange(_Strict):
    """A decision taken on a day: keys of the theatre set to new values from then on (a
    recruiting bonus raised, a drone screen thickened, a new intensity)."""

    day: DayOrDate = Field(description="Day (or date) the change takes effect, before "
                                       "that day's recruiting and fighting (day).")
    assign: dict[str, Any] = Field(
        min_length=1, max_length=MAX_ITEMS,
        description="Key path to its new value, as --set takes them (e.g. "
                    "'sectors[*].defender.drones_per_km' = 12). The front, the force "
                    "categories and what they held at the start cannot change.")


class TheatreVariant(_Strict):
    """The theatre calibrated under another reading of the record."""

    claim_factor: Annotated[float, Field(ge=0.1, le=10.0)] = Field(
        default=1.0, description="How this variant read the other side's claim: the "
                                 "truth's killed and wounded as this many times the claim "
                                 "(-).")
    assign: dict[str, Any] = Field(
        min_length=1, max_length=MAX_ITEMS,
        description="Key path to its calibrated value, as a change sets them.")


#: What a change may not touch: the front's sectors and lengths, the force categories
#: and their stocks at the start (a change acts on the running theatre, whose people
#: are already counted), the care ring's length, the calendar.
_FIXED_BY_CHANGES = ("name", "description", "sources", "start_date", "max_days", "changes",
                     "variants")
_FIXED_CONTINGENT_KEYS = ("pool", "in_line_at_start", "training_days_at_start",
                          "experience_days_at_start", "adaptation_at_start",
                          "service_term_days")


class TheatreScenario(_Strict):
    """A complete, validated theatre configuration."""

    name: str = Field(default="theatre", max_length=100, description="Theatre name.")
    description: str = Field(default="", max_length=1000,
                             description="What the theatre shows, in one line.")
    sources: dict[str, list[str]] = Field(
        default_factory=dict, description="Calibrated values: key path to the ids of the "
                                          "claims in seeds/claims.csv that set it.")
    start_date: datetime.date = Field(description="Calendar date of day 0 (YYYY-MM-DD).")
    max_days: Annotated[int, Field(ge=1, le=MAX_DAYS)] = Field(
        default=365, description="Days to simulate (days).")
    sectors: list[TheatreSector] = Field(min_length=1, max_length=MAX_SECTORS,
                                         description="The sectors, along the front.")
    attacker: TheatreSide = Field(description="The attacking side.")
    defender: TheatreSide = Field(description="The defending side.")
    combat: CombatConfig = Field(default_factory=CombatConfig,
                                 description="Skill, protection and adaptation, shared "
                                             "with the sector model.")
    training: TrainingConfig = Field(default_factory=TrainingConfig,
                                     description="Training days to training level.")
    tactics: dict[Tactic, TacticProfile] = Field(
        default_factory=lambda: {k: TacticProfile(**v) for k, v in DEFAULT_TACTICS.items()},
        description="Tactic profiles (exposure, fire, spacing, training leverage).")
    changes: list[TheatreChange] = Field(
        default_factory=list, max_length=MAX_ITEMS,
        description="Decisions by day or date (a policy's schedule), applied in order of "
                    "day.")
    variants: dict[str, TheatreVariant] = Field(
        default_factory=dict, max_length=100,
        description="The same theatre calibrated under other readings of the record: "
                    "named sets of key values; the sustainability answers and forecasts "
                    "run each beside the theatre itself.")

    @model_validator(mode="after")
    def _variants_apply(self) -> TheatreScenario:
        import re

        for name, variant in self.variants.items():
            if len(name) > 100 or not re.fullmatch(NAME_PATTERN, name) or name == "record":
                raise ValueError(f"variants: {name[:40]!r} is not a variant name; allowed: up "
                                 f"to 100 letters, digits, '_', '-', '.' and spaces, starting "
                                 f"with a letter or digit, not 'record' (the theatre itself)")
            self.changed(TheatreChange(day=1, assign=variant.assign), f"variants.{name}")
        return self

    @model_validator(mode="after")
    def _changes_apply(self) -> TheatreScenario:
        """Every change applies to the theatre as it stands on its day and leaves a
        valid theatre with the same front and force categories."""
        for i, change in self.ordered_changes():
            # A change after the last day is kept (a shorter run of the same theatre
            # never reaches it); one on the start day is the theatre's own values.
            if not 1 <= self.day_of(change.day) <= MAX_DAYS:
                raise ValueError(f"changes[{i}].day: day {self.day_of(change.day)}; allowed: "
                                 f"a day or date after the start (1 to {MAX_DAYS:,}); set "
                                 f"day 0's values in the theatre")
        current = self
        for i, change in self.ordered_changes():
            current = current.changed(change, f"changes[{i}]")
        return self

    def ordered_changes(self) -> list[tuple[int, TheatreChange]]:
        """The changes with their index, in order of day (of one day, as listed)."""
        return sorted(enumerate(self.changes), key=lambda item: self.day_of(item[1].day))

    def changed(self, change: TheatreChange, where: str = "change") -> TheatreScenario:
        """This theatre with ``change`` applied (its own changes left out); ValueError
        (one line naming the key) if it cannot be."""
        from pydantic import ValidationError

        from sim.keypaths import assign

        data = self.model_dump()
        data["changes"], data["variants"] = [], {}
        from sim.keypaths import split_key_path

        for key, value in change.assign.items():
            try:
                split_key_path(key)
            except ValueError as err:
                raise ValueError(f"{where}.assign: {key[:60]!r} is not a key path "
                                 f"({err}); allowed: key.path as --set takes it") from None
            if key.split(".")[0].split("[")[0] in _FIXED_BY_CHANGES:
                raise ValueError(f"{where}.assign.{key}: fixed for the run; allowed: the "
                                 f"sectors' ground, fires, targets and tempo, the sides' and "
                                 f"categories' other keys")
            try:
                assign(data, key, value)
            except (KeyError, ValueError) as err:
                raise ValueError(f"{where}.assign.{key}: {err.args[0]}") from None
        try:
            after = TheatreScenario.model_validate(data)
        except ValidationError as err:
            first = err.errors()[0]
            loc = ".".join(str(p) for p in first["loc"]) or "the theatre"
            raise ValueError(f"{where}.assign: leaves {loc} invalid: "
                             f"{first['msg'].removeprefix('Value error, ')}") from None
        if len(after.sectors) != len(self.sectors):
            raise ValueError(f"{where}.assign: changes the number of sectors; allowed: the "
                             f"sectors' ground, fires, targets and tempo (the front is fixed)")
        fixed = [(f"sectors[{i}].{k}", getattr(a, k), getattr(b, k))
                 for i, (a, b) in enumerate(zip(self.sectors, after.sectors, strict=True))
                 for k in ("name", "kind", "frontage_km")]
        for side in SIDES:
            before, now = getattr(self, side), getattr(after, side)
            fixed.append((f"{side}.contingents", list(before.contingents),
                          list(now.contingents)))
            fixed.append((f"{side}.return_delay_days", before.return_delay_days,
                          now.return_delay_days))
            for name, contingent in before.contingents.items():
                fixed += [(f"{side}.contingents.{name}.{k}", getattr(contingent, k),
                           getattr(now.contingents.get(name, contingent), k))
                          for k in _FIXED_CONTINGENT_KEYS]
        for key, old, new in fixed:
            if old != new:
                raise ValueError(f"{where}.assign: changes {key}; allowed: the sectors' "
                                 f"ground, fires, targets and tempo, the sides' and "
                                 f"categories' other keys (the front, the categories and "
                                 f"their stocks at the start are fixed)")
        return after

    @model_validator(mode="after")
    def _front_bounded(self) -> TheatreScenario:
        names = [s.name for s in self.sectors]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"sectors: the name {repeated[0]!r} is used twice; allowed: one "
                             f"name per sector")
        for side in SIDES:
            for name, contingent in getattr(self, side).contingents.items():
                unknown = sorted(set(contingent.sectors or ()) - set(names))
                if unknown:
                    raise ValueError(f"{side}.contingents.{name}.sectors: no sector named "
                                     f"{unknown[0]!r}; allowed: {', '.join(names)}")
                if contingent.sectors is not None and not any(
                        getattr(s, side).target_persons_per_km > 0
                        or any(t.persons_per_km > 0 for t in getattr(s, side).target_steps)
                        for s in self.sectors if s.name in contingent.sectors):
                    raise ValueError(f"{side}.contingents.{name}.sectors: none of them has a "
                                     f"{side}.target_persons_per_km above 0, so its "
                                     f"battalions could never be sent; allowed: sectors "
                                     f"the {side} holds")
        if self.front_km() > MAX_FRONT_KM:
            raise ValueError(f"sectors: {self.front_km():,.0f} km of front in all; allowed: "
                             f"at most {MAX_FRONT_KM:,} km")
        return self

    @model_validator(mode="after")
    def _sides_use_their_tactics(self) -> TheatreScenario:
        for side, tactics in zip(SIDES, (ATTACK_TACTICS, DEFENCE_TACTICS), strict=True):
            for name, contingent in getattr(self, side).contingents.items():
                if contingent.tactic not in tactics:
                    raise ValueError(f"{side}.contingents.{name}.tactic: "
                                     f"'{contingent.tactic}' is not a {side} tactic; "
                                     f"allowed: {', '.join(tactics)}")
        return self

    @model_validator(mode="after")
    def _dates_fall_in_the_run(self) -> TheatreScenario:
        first, last = datetime.date(1000, 1, 1), datetime.date(9000, 12, 31)
        if not first <= self.start_date <= last:
            raise ValueError(f"start_date: {self.start_date.isoformat()} is out of range; "
                             f"allowed: a date from {first} to {last}")
        for key, value in self._days():
            if isinstance(value, datetime.date) and not (
                    0 <= (value - self.start_date).days <= MAX_DAYS):
                raise ValueError(f"{key}: {value.isoformat()} is before start_date "
                                 f"({self.start_date.isoformat()}) or more than {MAX_DAYS:,} "
                                 f"days after it; allowed: dates in that range")
        for side in SIDES:
            for name, contingent in getattr(self, side).contingents.items():
                for kind in ("tranches", "reinforcements"):
                    for j, item in enumerate(getattr(contingent, kind)):
                        if self.day_of(item.day) < 1:
                            raise ValueError(f"{side}.contingents.{name}.{kind}[{j}].day: "
                                             f"day 0 (the start date); allowed: day 1 or later")
        return self

    def _days(self):
        """Every day-or-date of the theatre, with its key path."""
        for i, sector in enumerate(self.sectors):
            for side in SIDES:
                for kind in ("tempo", "target_steps"):
                    for j, step in enumerate(getattr(getattr(sector, side), kind)):
                        yield f"sectors[{i}].{side}.{kind}[{j}].day", step.day
        for side in SIDES:
            for j, phase in enumerate(getattr(self, side).tempo):
                yield f"{side}.tempo[{j}].day", phase.day
            for name, contingent in getattr(self, side).contingents.items():
                for kind in DATED_LISTS:
                    for j, item in enumerate(getattr(contingent, kind)):
                        yield f"{side}.contingents.{name}.{kind}[{j}].day", item.day
        for j, change in enumerate(self.changes):
            yield f"changes[{j}].day", change.day

    def day_of(self, value: int | datetime.date) -> int:
        """The day number of a day or date (day 0 is ``start_date``)."""
        if isinstance(value, datetime.date):
            return (value - self.start_date).days
        return value

    def date_of(self, day: int) -> datetime.date:
        """The calendar date of day ``day``."""
        return self.start_date + datetime.timedelta(days=int(day))

    def targets(self, day: int) -> np.ndarray:
        """(sectors, 2): persons each side's allocation aims for in each sector on
        ``day`` (the last target step begun, else ``target_persons_per_km``, times the
        frontage)."""
        out = np.zeros((len(self.sectors), 2))
        for i, sector in enumerate(self.sectors):
            for k, side in enumerate(SIDES):
                config = getattr(sector, side)
                density = config.target_persons_per_km
                for step in sorted(config.target_steps, key=lambda t: self.day_of(t.day)):
                    if self.day_of(step.day) <= day:
                        density = step.persons_per_km
                out[i, k] = density * sector.frontage_km
        return out

    def front_km(self) -> float:
        """The front's length (km)."""
        return float(sum(s.frontage_km for s in self.sectors))

    def cells(self) -> list[int]:
        """Kilometre cells per sector: its frontage rounded, at least one."""
        return [max(1, round(s.frontage_km)) for s in self.sectors]

    def with_overrides(self, overrides: dict) -> TheatreScenario:
        """A copy with nested ``overrides`` merged in, validated again."""
        from sim.keypaths import deep_merge

        return TheatreScenario.model_validate(deep_merge(self.model_dump(), overrides))


#: A small theatre for examples and tests: an active axis and a quiet stretch, a
#: contract force against a mobilised one.
EXAMPLE = {
    "name": "example", "start_date": datetime.date(2023, 1, 1), "max_days": 60,
    "sectors": [
        {"name": "axis", "kind": "active", "frontage_km": 20, "mines_per_km2": 500,
         "contact_share": 0.3,
         "attacker": {"artillery_strikes_per_km_per_day": 300, "drones_per_km": 5,
                      "target_persons_per_km": 600, "intensity": 1.0},
         "defender": {"artillery_strikes_per_km_per_day": 100, "drones_per_km": 10,
                      "target_persons_per_km": 300}},
        {"name": "quiet", "kind": "quiet", "frontage_km": 40, "contact_share": 0.05,
         "attacker": {"artillery_strikes_per_km_per_day": 20, "drones_per_km": 1,
                      "target_persons_per_km": 150, "intensity": 0.2},
         "defender": {"artillery_strikes_per_km_per_day": 10, "drones_per_km": 2,
                      "target_persons_per_km": 100, "intensity": 0.2}}],
    "attacker": {"contingents": {
        "contract": {"tactic": "human_wave", "pool": 200_000, "recruitment": "depleting",
                     "recruits_per_day": 300, "training_days": 30, "unit_size": 400,
                     "in_line_at_start": 16_000}}},
    "defender": {"contingents": {
        "mobilised": {"tactic": "fortified_defense", "pool": 100_000, "recruits_per_day": 100,
                      "training_days": 45, "unit_size": 400, "in_line_at_start": 10_000}}},
}
