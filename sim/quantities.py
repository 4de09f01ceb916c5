"""What the numbers of a sweep mean: the run summary's keys (``docs/ODD.md`` 7.9), the
daily record's columns and the scenario's keys (their meaning and unit from the schema's
field descriptions, ``docs/ODD.md`` 7.10), each with its unit, the least value it can
take and whether it is a number, a category or a flag. Reports label their axes and
tables from here, and bound their intervals by it (a count is never below 0).

    >>> metric_quantity("defender_personnel").axis_label()
    'Defender: persons in units at the end (persons)'
    >>> metric_quantity("defender_personnel").lower
    0.0
    >>> q = parameter_quantity("attacker.units[0].count")
    >>> q.label, q.unit, q.integer
    ('Attacker: number of units', '-', True)
    >>> parameter_quantity("attacker.units[*].tactic").kind
    'category'
    >>> parameter_quantity("x1").axis_label()
    'x1'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args, get_origin

from sim.fields import field_limits, schema_at
from sim.keypaths import split_key_path

Kind = Literal["number", "category", "flag"]


@dataclass(frozen=True)
class Quantity:
    """A named number (or category): ``label`` says what it holds in words, ``unit`` in
    what (``-`` for a pure number, none when unknown), ``lower`` the least value it can
    take by definition (none: unbounded or unknown), ``integer`` whether it is whole."""

    name: str
    label: str
    unit: str | None = None
    lower: float | None = None
    integer: bool = False
    kind: Kind = "number"

    def axis_label(self) -> str:
        """The label and its unit, as an axis or a column says it."""
        return f"{self.label} ({self.unit})" if self.unit else self.label

    def short(self) -> str:
        """The key's last part (``training_days``), for panel titles and legends."""
        return self.name.rsplit(".", 1)[-1] or self.name


# ------------------------------------------------------------------ run summary keys
#: Per side (``attacker_...``, ``defender_...``): meaning and unit. Everything a run
#: summary counts is at least 0.
_SIDE_METRICS: dict[str, tuple[str, str | None]] = {
    "killed": ("killed", "persons"),
    "wounded": ("wounded", "persons"),
    "permanently_lost": ("wounded permanently lost", "persons"),
    "released": ("released after their service term", "persons"),
    "personnel": ("persons in units at the end", "persons"),
    "casualties_aimed": ("casualties to aimed fire", "persons"),
    "casualties_area": ("casualties to area fire", "persons"),
    "casualties_mines": ("casualties to mines", "persons"),
    "casualties_fixed_rate": ("casualties at the fixed daily loss rate", "persons"),
    "training_days_lost": ("training days invested in those killed or permanently lost",
                           "days"),
    "pool_exhausted_day": ("day the recruit pool ran out", "day"),
    "projected_exhaustion_day": ("day the recruit pool runs out, projected", "day"),
    "mean_daily_permanent_losses": ("killed and permanently lost a day, mean", "persons/day"),
    "mean_daily_recruits": ("recruits a day, mean", "persons/day"),
    "break_even_recruitment": ("recruits a day that replace the last days' permanent losses",
                               "persons/day"),
}
_BATTLE_METRICS: dict[str, tuple[str, str | None]] = {
    "days": ("length of the run", "days"),
    "loss_exchange_ratio": ("attacker casualties per defender casualty", "-"),
    "ground_gained_m": ("attacker's net mean advance", "m"),
    "attacker_casualties_per_km": ("attacker casualties per km gained", "persons/km"),
    "attacker_training_days_lost_per_km": ("attacker training days lost per km gained",
                                           "days/km"),
    "training_days_lost": ("training days lost, both sides", "days"),
    "projection_horizon_day": ("horizon of the pool projections", "day"),
}
_TEXT_METRICS = {"stop_reason": "why the run ended", "winner": "who won",
                 "end_date": "date of the last day"}
_FLAG_METRICS = {"projected_exhaustion_beyond_horizon":
                 "recruit pool outlasts the projection horizon"}


def _metrics() -> dict[str, Quantity]:
    out: dict[str, Quantity] = {}
    for name, (label, unit) in _BATTLE_METRICS.items():
        out[name] = Quantity(name, label[0].upper() + label[1:], unit, 0.0)
    for name, label in _TEXT_METRICS.items():
        out[name] = Quantity(name, label[0].upper() + label[1:], None, None, kind="category")
    for side in ("attacker", "defender"):
        for part, (label, unit) in _SIDE_METRICS.items():
            name = f"{side}_{part}"
            out[name] = Quantity(name, f"{side.capitalize()}: {label}", unit, 0.0,
                                 integer=unit == "persons")
        for part, label in _FLAG_METRICS.items():
            name = f"{side}_{part}"
            out[name] = Quantity(name, f"{side.capitalize()}: {label}", None, None,
                                 kind="flag")
    return out


#: Every key of a run summary (``AttritionModel.summary``); a test keeps them equal.
METRICS: dict[str, Quantity] = _metrics()


def metric_quantity(name: str) -> Quantity | None:
    """A run summary key's meaning, unit and least value; ``log(key)`` for the natural
    logarithm of one (unbounded); none for a name that is no summary key (a synthetic
    sweep's)."""
    found = re.fullmatch(r"log\((.+)\)", name)
    if found and found.group(1) in METRICS:
        inner = METRICS[found.group(1)]
        unit = None if inner.unit in (None, "-") else f"ln of {inner.unit}"
        return Quantity(name, f"Natural logarithm of {inner.label[0].lower()}"
                              f"{inner.label[1:]}", unit)
    return METRICS.get(name)


# ------------------------------------------------------------- daily record columns
_STOCKS = {"personnel": "persons in units", "personnel_fighting": "persons in fighting units",
           "reserve": "trained reserve", "in_care": "wounded in care who will return",
           "pool": "recruit pool left", "in_training": "recruits in training",
           "killed_total": "killed, cumulative", "wounded_total": "wounded, cumulative",
           "permanently_lost_total": "permanently lost, cumulative",
           "released_total": "released, cumulative"}
_FLOWS = {"killed": "killed", "wounded": "wounded", "returned": "wounded back to duty",
          "permanently_lost": "permanently lost", "recruited": "recruited",
          "graduated": "graduated from training", "released": "released after their term"}


def series_quantity(column: str) -> Quantity | None:
    """A daily record column's meaning and unit (a side's row: ``contingent == 'all'``);
    none for a column that is not in the record."""
    if column in _STOCKS:
        return Quantity(column, _STOCKS[column].capitalize(), "persons", 0.0, integer=True)
    if column in _FLOWS:
        return Quantity(column, f"{_FLOWS[column].capitalize()} that day", "persons/day",
                        0.0, integer=True)
    if column == "cells_held":
        return Quantity(column, "Cells the side controls", "cells", 0.0, integer=True)
    if column == "ground_gained_m":
        return Quantity(column, "Net ground held that the enemy held at start", "m", 0.0)
    return None


# ------------------------------------------------------------------ scenario keys
#: A unit as the schema's descriptions give it: ``(-)``, ``(days)``, ``(m/day)``,
#: ``(strikes/person/day)``, ``(m2)``; not a remark in parentheses (``(or date)``).
_UNIT = re.compile(r"\((-|[A-Za-z0-9]+(?:/[A-Za-z0-9]+)*)\)")


def _meaning(description: str) -> tuple[str, str | None]:
    """A field description's meaning (its first clause, before the unit) and unit."""
    found = _UNIT.search(description)
    text = description[:found.start()] if found else description
    # The first clause says what the key is; what follows qualifies it (a comma inside
    # a remark in parentheses ends no clause).
    depth, end = 0, len(text)
    for i, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if depth == 0 and char in ",;:" :
            end = i
            break
    return text[:end].strip().rstrip("."), found.group(1) if found else None


def parameter_quantity(key: str) -> Quantity:
    """A scenario key path's meaning and unit (from its field's description in the
    schema), least value and type; a key the schema does not have (a synthetic sweep's)
    is its own label, with no unit."""
    from sim.config import Scenario

    try:
        parts = split_key_path(key)
    except ValueError:
        return Quantity(key, key)
    annotation, field = schema_at(parts, Scenario)
    # The last part must be a field of the schema (not a key past its end).
    if field is None or not field.description or str(parts[-1]) not in _field_names(parts):
        return Quantity(key, key)
    label, unit = _meaning(field.description)
    if parts[0] in ("attacker", "defender"):
        label = f"{str(parts[0]).capitalize()}: {label[0].lower()}{label[1:]}"
    elif parts[0] == "tactics" and len(parts) == 3:
        label = f"{parts[1]} tactic: {label[0].lower()}{label[1:]}"
    if annotation is bool:
        return Quantity(key, label, None, kind="flag")
    if annotation is str or get_origin(annotation) is Literal:
        return Quantity(key, label, None, kind="category")
    limits = field_limits(field)
    low = float(limits.low) if limits.low != float("-inf") else None
    return Quantity(key, label, unit, low, integer=limits.integer)


def _field_names(parts: list) -> list[str]:
    """The names a key path's last part may be: the fields of the model holding it."""
    from pydantic import BaseModel

    from sim.config import Scenario

    holder, _ = schema_at(parts[:-1], Scenario)
    if get_origin(holder) in (list, dict):
        holder = get_args(holder)[-1]
    if isinstance(holder, type) and issubclass(holder, BaseModel):
        return list(holder.model_fields)
    return []
