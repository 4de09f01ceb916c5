"""What the scenario schema allows: its strict base model and limited number types, the
field a key path names, the keys allowed beside it, and each field's limits.

The one parser of field limits (pydantic's ``Field(ge=..., le=...)`` and the
``annotated_types`` metadata behind them, through ``X | None`` too): the ODD's parameter
tables (:func:`allowed`), ``--fit`` ranges (:func:`numeric_key`) and the messages for
unknown keys (:func:`keys_at`) all read limits and keys from here.

    >>> from sim.config import Scenario, SideConfig
    >>> field_limits(SideConfig.model_fields["killed_fraction"])
    Limits(low=0.0, high=1.0, open_low=True, open_high=False, integer=False, optional=False)
    >>> allowed(SideConfig.model_fields["fixed_daily_loss_fraction"])
    '>= 0.0, <= 1.0, or none'
    >>> keys_at(["attacker", "units", 0], Scenario)[:3]
    ['contingent', 'count', 'personnel']
"""

from __future__ import annotations

import datetime
import math
import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types as at
from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo

from sim.keypaths import select, split_key_path

# Upper bounds. Every count and size of the schema has one, each far above any real
# value, so that no input can make a run overflow, hang or ask for terabytes (issue 16).
#: Persons in any count (a unit, a recruit pool, a draft, a day's recruits) and in all of
#: a side's units and pools together: a billion, more than the world's armed forces
#: together (about 28 million active) and an eighth of its people. A side's people are
#: conserved (ODD 7.11), so no count and no sum of counts in a run can pass twice this;
#: every int64 sum of the unit columns, and every float64 sum of counts, stays exact
#: (below 2^53 even after 100 years of cumulative wounded).
MAX_PERSONS = 10**9
#: Days in any day, duration or time constant: a hundred years, as ``max_days``.
MAX_DAYS = 36_500
#: Every other quantity (rates, multipliers, areas, speeds, distances): a million in its
#: unit, far above any real value (1000 km a day, a square km per strike, a million
#: strikes a day), and small enough that products of several of them with persons stay
#: finite in float64.
MAX_QUANTITY = 1e6
#: Cells of a sector: Mesa builds a Python object per cell (about 1.3 KB and 50 us each),
#: so 250,000 cells (25 km x 25 km at 50 m) take about 13 s and 330 MB; the largest
#: benchmark uses 60,000.
MAX_CELLS = 250_000
#: Entries of a list in a scenario (unit groups, recruitment steps, drafts).
MAX_ITEMS = 1_000

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0, le=MAX_QUANTITY)]
Positive = Annotated[float, Field(gt=0.0, le=MAX_QUANTITY)]
Days = Annotated[float, Field(ge=0.0, le=MAX_DAYS)]
Day = Annotated[int, Field(ge=0, le=MAX_DAYS)]
Persons = Annotated[int, Field(ge=0, le=MAX_PERSONS)]
PersonsPerDay = Annotated[float, Field(ge=0.0, le=MAX_PERSONS)]
#: A day of the run, given as its number (day 0 is the start) or, in a scenario with a
#: ``start_date``, as a calendar date (TOML ``2024-12-06``); see ``Scenario.day_of``.
DayOrDate = Day | datetime.date


class StrictModel(BaseModel):
    """A section of the schema: unknown keys are refused and assignments validated.

    Values are strict: a number is never read from a boolean or a string (``true`` is
    not 1.0, ``"5"`` not 5), a whole number is an ``int`` (a whole number may stand for
    a decimal one, not the other way round), and ``inf`` and ``nan`` are refused."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, frozen=False,
                              strict=True, allow_inf_nan=False)


@dataclass(frozen=True)
class Limits:
    """A number field's limits (``-inf``/``inf`` where none; ``open_low``/``open_high``
    when the limit itself is not allowed), whether it must be whole, and whether it may
    be none."""

    low: float = -math.inf
    high: float = math.inf
    open_low: bool = False
    open_high: bool = False
    integer: bool = False
    optional: bool = False


def _parts(field: FieldInfo) -> tuple[Any, list, bool]:
    """A field's annotation without ``| None`` (and without ``| date``, see
    :data:`DayOrDate`), its metadata (the field's own and that of an ``Annotated`` inside
    ``X | None``), and whether it may be none."""
    annotation, metadata, optional = field.annotation, list(field.metadata), False
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation)
                if a is not type(None) and a is not datetime.date]
        optional = type(None) in get_args(annotation)
        if len(args) == 1:
            (annotation,) = args
            if hasattr(annotation, "__metadata__"):  # Annotated[X, limits] | None
                metadata += [m for extra in annotation.__metadata__
                             for m in getattr(extra, "metadata", [extra])]
                annotation = annotation.__origin__
    return annotation, metadata, optional


def field_limits(field: FieldInfo) -> Limits:
    """The limits of a field of the schema (see :class:`Limits`)."""
    annotation, metadata, optional = _parts(field)
    low, high, open_low, open_high = -math.inf, math.inf, False, False
    for item in metadata:
        if isinstance(item, at.Ge | at.Gt):
            open_low = isinstance(item, at.Gt)
            low = item.gt if open_low else item.ge
        if isinstance(item, at.Le | at.Lt):
            open_high = isinstance(item, at.Lt)
            high = item.lt if open_high else item.le
    return Limits(low, high, open_low, open_high, annotation is int, optional)


def allowed(field: FieldInfo) -> str:
    """What a field allows, as the ODD's parameter tables say it: ``>= 0.0, <= 1.0``,
    the names of a choice, ``true, false``, ``or none``; ``any`` for no limit."""
    annotation, metadata, optional = _parts(field)
    limits = field_limits(field)
    parts = []
    if math.isfinite(limits.low):
        parts.append(f"{'>' if limits.open_low else '>='} {limits.low}")
    if math.isfinite(limits.high):
        parts.append(f"{'<' if limits.open_high else '<='} {limits.high}")
    parts += [f"length >= {m.min_length}" for m in metadata if isinstance(m, at.MinLen)]
    if get_origin(annotation) is Literal:
        parts.append(", ".join(get_args(annotation)))
    if annotation is bool:
        parts.append("true, false")
    if _dated(field):
        parts.append("or a date from start_date on")
    if parts and optional:
        parts.append("or none")
    return ", ".join(parts) or "any"


def _dated(field: FieldInfo) -> bool:
    """Whether a field takes a date as well as a day (:data:`DayOrDate`)."""
    args = get_args(field.annotation)
    return (get_origin(field.annotation) in (Union, types.UnionType)
            and datetime.date in args
            and any(a is not datetime.date and a is not type(None) for a in args))


def parameter_table(model: type[BaseModel]) -> str:
    """Markdown table of a schema section: key, default, allowed values, meaning.

    ``docs/ODD.md`` carries these tables; a test keeps them identical to the schema.

    >>> from sim.config import TrainingConfig
    >>> print(parameter_table(TrainingConfig).splitlines()[2][:49])
    | `time_constant_days` | 90.0 | > 0.0, <= 36500 |
    """
    rows = ["| key | default | allowed | meaning (unit) |", "| --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        if field.default_factory is not None or field.is_required():
            default = "required" if field.is_required() else "see below"
        else:
            default = repr(field.default) if isinstance(field.default, str) else field.default
        rows.append(f"| `{name}` | {default} | {allowed(field)} | {field.description or ''} |")
    return "\n".join(rows)


def schema_at(parts: list, root: type[BaseModel]) -> tuple[Any, FieldInfo | None]:
    """What a split key path leads to in the schema ``root``: the annotation there
    (``Any`` past the schema's end) and the last model field on the way."""
    annotation: Any = root
    field = None
    for part in parts:
        annotation = _unwrap(annotation)
        if get_origin(annotation) in (list, dict):
            args = get_args(annotation)
            annotation = args[-1] if args else Any
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(part))
            annotation = field.annotation if field else Any
        else:
            annotation = Any
    return _unwrap(annotation), field


def keys_at(parts: list, root: type[BaseModel]) -> list[str]:
    """The keys allowed at a location of the schema ``root`` (a table of models: those
    of its entries); none where the location holds no model."""
    annotation, _ = schema_at(parts, root)
    if get_origin(annotation) is dict:
        annotation = _unwrap(get_args(annotation)[-1])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return list(annotation.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """``X | None`` and ``Annotated[X, ...]`` to ``X``; other annotations unchanged."""
    while True:
        if get_origin(annotation) in (Union, types.UnionType):
            annotation = [a for a in get_args(annotation) if a is not type(None)][0]
        elif hasattr(annotation, "__metadata__"):
            annotation = annotation.__origin__
        else:
            return annotation


@dataclass(frozen=True)
class NumericKey:
    """A number in a scenario: its values where the key points (several with ``[*]``),
    whether it must be whole, and the schema's limits (``-inf``/``inf`` where none;
    ``open_low``/``open_high`` when the limit itself is not allowed)."""

    key: str
    values: tuple[float, ...]
    integer: bool
    low: float
    high: float
    open_low: bool = False
    open_high: bool = False


def numeric_key(scenario: BaseModel, key: str) -> NumericKey:
    """The number at ``key`` in a validated scenario, with its type and limits.

    >>> from sim.scenarios import load
    >>> numeric_key(load("lanchester_square"), "attacker.killed_fraction")
    NumericKey(key='attacker.killed_fraction', values=(0.25,), integer=False, low=0.0, \
high=1.0, open_low=True, open_high=False)

    Raises ``KeyError`` (one line: what is wrong and what is allowed) for a key that is
    not there or does not hold a number."""
    try:
        parts = split_key_path(key)
    except ValueError as err:
        raise KeyError(str(err)) from None
    nodes = select(scenario.model_dump(), parts)
    numbers = [v for v in nodes if isinstance(v, int | float) and not isinstance(v, bool)]
    if not nodes:
        raise KeyError("points at nothing ([*] over an empty list or table); allowed: a "
                       "key that holds a number")
    _, field = schema_at(parts, type(scenario))
    if field is None or len(numbers) != len(nodes):
        raise KeyError(f"holds {nodes[0]!r} (not a number); allowed: a key that holds a "
                       f"number")
    limits = field_limits(field)
    return NumericKey(key, tuple(float(v) for v in numbers), limits.integer,
                      float(limits.low), float(limits.high), limits.open_low,
                      limits.open_high)
