"""Forecasts that can be checked later: the forecast file, the record it is scored
against, and the score.

**The forecast file** is a tidy CSV, one row per month, quantity and side
(:data:`COLUMNS`): the month (``YYYY-MM``), the quantity (:data:`QUANTITIES`, each with
its unit), whose it is (``attacker`` or ``defender``; in the theatre the attacker is
Russia, the defender Ukraine), the mean over the replicates, the interval ``low`` to
``high`` holding the central ``level`` of single runs (0.9: the 5th to 95th
percentiles), and the replicates behind it. Two comment lines come first::

    # attrition-sim forecast, format 1
    # provenance: {"calibration_window": ["2023-01-01", "2024-12-31"], "created": ...}
    month,quantity,who,mean,low,high,level,replicates
    2025-01,claimed_losses,attacker,41250.5,35100,47800,0.9,40

The provenance (:data:`PROVENANCE_KEYS`: scenario, its hash, seed, replicates,
calibration window, when it was made, the package's version) is a commented header
rather than a JSON file beside the CSV: one file is written whole or not at all by one
rename (:func:`sim.publish.write_atomically`), so the numbers and what made them cannot be
separated, copied apart or left half-updated by a crash between two renames, and what is
scored is exactly what was published. Readers skip it with ``pandas.read_csv(path,
comment="#")`` or R's ``read.csv(path, comment.char = "#")``.

**A record** to score against (:func:`read_scoring_record`) is a tidy CSV
(``month,quantity,who,value``), or a public series as ``data/`` has it, recognised by
its header: the cumulative daily claim of Russian losses becomes the attacker's monthly
``claimed_losses``; a named-dead list the attacker's (Russian list) or the defender's
(Ukrainian) ``named_dead``.

**The score** (:func:`score`) is per quantity and side, over the months both have: the
share of months whose recorded value lies in the interval beside the nominal level,
with a binomial 90% interval for that share (a shortfall inside it may be noise), the
mean error, mean absolute and mean relative error, and the months missed. Months in one
but not the other are named in a note, never dropped silently.

    >>> forecast = pd.DataFrame({"month": ["2025-01", "2025-02"],
    ...     "quantity": "claimed_losses", "who": "attacker", "mean": [110.0, 220.0],
    ...     "low": [90.0, 150.0], "high": [130.0, 210.0], "level": 0.9,
    ...     "replicates": 40})
    >>> record = pd.DataFrame({"month": ["2025-01", "2025-02"],
    ...     "quantity": "claimed_losses", "who": "attacker", "value": [100.0, 200.0]})
    >>> row = score(forecast, record).to_dict("records")[0]
    >>> row["months"], row["coverage"], row["mean_error"], row["missed_above"]
    (2, 1.0, 15.0, [])

Every reader refuses a malformed file with a :class:`ForecastError` (a
:class:`sim.observed.TableError`, as the public series' readers raise) in one line naming
the file, the row (the line of the file) and the column.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.fields import MAX_PERSONS
from sim.observed import (
    CLAIMED_LOSSES_COLUMNS,
    NAMED_DEAD_COLUMNS,
    SHOWN_CELL,
    Row,
    Table,
    TableError,
    cumulative_daily_from,
    is_month_end,
    month_cell,
    month_of,
    month_range,
    monthly_from_cumulative,
    months_shown,
    named_dead_from,
    number_cell,
    parse_table,
    read_table,
)
from sim.publish import write_atomically
from sim.scenarios import one_line, shorten

SIDES = ("attacker", "defender")
#: Whose is whose in the theatre (data/README.md): the attacker is Russia.
THEATRE_COUNTRIES = {"attacker": "russia", "defender": "ukraine"}


@dataclass(frozen=True)
class Quantity:
    """A forecast quantity: its name, its unit, what it means, and whether it may be
    negative (``signed``)."""

    name: str
    unit: str
    meaning: str
    signed: bool = False


#: The quantities a forecast and a record may hold. To add one, add it here: the
#: readers, the writer and the score take every quantity from this table.
QUANTITIES: dict[str, Quantity] = {q.name: q for q in (
    Quantity("claimed_losses", "persons/month",
             "the model's equivalent of the other side's claim of this side's killed and "
             "wounded in the month"),
    Quantity("named_dead", "persons/month",
             "the model's equivalent of the named-dead lists: killed in the month times "
             "the share of the dead a named list holds"),
    Quantity("force_in_line", "persons", "persons in the line at the month's end"),
    Quantity("recruits_needed", "persons/month",
             "break-even recruitment: those who left the side for good in the month "
             "(killed, permanently lost wounded, released), whom recruits must replace to "
             "keep its force constant"),
    Quantity("net_change", "persons/month",
             "the change of the side's force in the month (everyone in battalions, the "
             "reserve, training and care): recruits less those who left for good",
             signed=True),
    Quantity("recruited", "persons/month", "recruits drawn in the month"),
    Quantity("killed", "persons/month", "killed in the month"),
    Quantity("wounded", "persons/month", "wounded in the month"),
)}

#: The forecast file's columns, in order.
COLUMNS = ("month", "quantity", "who", "mean", "low", "high", "level", "replicates")
#: A tidy record's columns.
RECORD_COLUMNS = ("month", "quantity", "who", "value")
#: The first line of a forecast file (after ``# ``).
FORMAT_LINE = "attrition-sim forecast, format 1"
PROVENANCE_PREFIX = "provenance: "
#: What the provenance must say (more keys may follow, any JSON).
PROVENANCE_KEYS = ("scenario", "scenario_sha256", "seed", "replicates",
                   "calibration_window", "created", "sim_version")
#: Seeds are 64-bit (summary.json, Parquet); replicates as attrition run allows.
MAX_SEED = 2**63 - 1
MAX_REPLICATES = 10_000
#: The binomial interval of a coverage, central probability.
COVERAGE_CI = 0.9
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ForecastError(TableError):
    """A forecast or a record that cannot be used, or a score that cannot be made:
    one line naming the file, the row and the column, and what is allowed."""


@dataclass(frozen=True)
class Forecast:
    """A forecast as read: its table (:data:`COLUMNS`, sorted by month, quantity and
    side), its provenance and where it was read from."""

    table: pd.DataFrame
    provenance: dict[str, Any]
    source: str


@dataclass(frozen=True)
class ScoringRecord:
    """Observed values to score a forecast against: ``table`` with ``month``,
    ``quantity``, ``who``, ``value`` and ``row`` (the row of ``source`` it comes from,
    for messages), ``kind`` (the format recognised) and ``notes`` (what was converted or
    left out)."""

    table: pd.DataFrame
    source: str
    kind: str
    notes: tuple[str, ...] = field(default=())


# ------------------------------------------------------------------ provenance
def scenario_sha256(scenario) -> str:
    """The SHA-256 of a resolved scenario (a :class:`sim.Scenario`): of its every value
    as JSON with sorted keys, so that the same scenario hashes the same whatever the
    file it came from looked like."""
    text = json.dumps(scenario.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def make_provenance(scenario: str, scenario_hash: str, seed: int, replicates: int,
                    calibration_window: tuple[object, object], **extra: Any) -> dict:
    """A forecast's provenance: the scenario's name and :func:`scenario_sha256`, the
    master seed, the replicates, the calibration window (two dates), now (UTC) and the
    package's version; ``extra`` keys (any JSON: the scenario's file, the command line)
    are kept. Checked as :func:`write_forecast` checks it."""
    from sim import __version__

    start, end = (d.isoformat() if isinstance(d, datetime.date) else d
                  for d in calibration_window)
    provenance = {"scenario": scenario, "scenario_sha256": scenario_hash, "seed": seed,
                  "replicates": replicates, "calibration_window": [start, end],
                  "created": datetime.datetime.now(datetime.UTC).isoformat(
                      timespec="seconds"),
                  "sim_version": __version__, **extra}
    check_provenance(provenance, "provenance")
    return provenance


def check_provenance(provenance: Mapping[str, Any], where: str) -> None:
    """Refuse, in one line starting with ``where``, provenance that lacks a key of
    :data:`PROVENANCE_KEYS` or has a value of the wrong kind."""
    if not isinstance(provenance, Mapping):
        raise ForecastError(f"{where}: not a JSON object; allowed: an object with "
                            f"{', '.join(PROVENANCE_KEYS)}")
    for key in PROVENANCE_KEYS:
        if key not in provenance:
            raise ForecastError(f"{where}: no key '{key}'; allowed: an object with "
                                f"{', '.join(PROVENANCE_KEYS)}")

    def bad(key: str, allowed: str) -> ForecastError:
        shown = shorten(one_line(json.dumps(provenance[key], default=repr)), SHOWN_CELL)
        return ForecastError(f"{where}: {key}: {shown}; allowed: {allowed}")

    for key in ("scenario", "sim_version"):
        if not isinstance(provenance[key], str) or not provenance[key].strip():
            raise bad(key, "a non-empty string")
    if not (isinstance(provenance["scenario_sha256"], str)
            and _SHA256.fullmatch(provenance["scenario_sha256"])):
        raise bad("scenario_sha256", "64 lower-case hexadecimal digits (sha256)")
    for key, low, high in (("seed", 0, MAX_SEED), ("replicates", 1, MAX_REPLICATES)):
        value = provenance[key]
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise bad(key, f"a whole number from {low} to {high:,}")
    window = provenance["calibration_window"]
    try:
        start, end = (datetime.date.fromisoformat(d) for d in window
                      if isinstance(d, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", d))
    except (TypeError, ValueError):
        raise bad("calibration_window", "[first day, last day] as YYYY-MM-DD") from None
    if start > end:
        raise bad("calibration_window", "a first day no later than the last")
    try:
        datetime.datetime.fromisoformat(provenance["created"])
    except (TypeError, ValueError):
        raise bad("created", "a date and time in ISO 8601, e.g. 2025-01-01T12:00:00+00:00") \
            from None


# ------------------------------------------------------------------ the forecast file
def _cell_text(value: object) -> str:
    """A cell as written: floats as Python writes them (exact), the rest as text."""
    if isinstance(value, bool | np.bool_):
        return str(value)
    if isinstance(value, float | np.floating):
        return repr(float(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    return str(value)


def _rows(table: pd.DataFrame, columns: tuple[str, ...]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for values in table[list(columns)].itertuples(index=False, name=None):
        writer.writerow([_cell_text(v) for v in values])
    return out.getvalue()


def forecast_text(table: pd.DataFrame, provenance: Mapping[str, Any]) -> str:
    """The forecast file's text: the two comment lines and the table (rows sorted by
    month, quantity in :data:`QUANTITIES` order, and side). Both checked as
    :func:`read_forecast` checks a file; :class:`ForecastError` otherwise."""
    check_provenance(provenance, "provenance")
    if not isinstance(table, pd.DataFrame):
        raise ForecastError("table: not a DataFrame; allowed: a pandas DataFrame with "
                            f"{', '.join(COLUMNS)}")
    unknown = [c for c in table.columns if c not in COLUMNS]
    missing = [c for c in COLUMNS if c not in table.columns]
    if unknown or missing:
        problem = (f"unknown column '{shorten(str(unknown[0]), SHOWN_CELL)}'" if unknown
                   else f"no '{missing[0]}' column")
        raise ForecastError(f"table: {problem}; allowed: {', '.join(COLUMNS)}")
    try:
        # ASCII JSON: the provenance stays on its line whatever the scenario's name.
        line = json.dumps(dict(provenance), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ForecastError(f"provenance: not JSON ({shorten(one_line(str(err)), 80)}); "
                            f"allowed: strings, numbers, lists and objects") from None
    header = f"# {FORMAT_LINE}\n# {PROVENANCE_PREFIX}{line}\n"
    text = header + _rows(_sorted(table), COLUMNS)
    _parse_forecast(text, "table (not written)")  # what is written reads back
    return text


def _sorted(table: pd.DataFrame) -> pd.DataFrame:
    """Rows by month, quantity (in :data:`QUANTITIES` order) and side."""
    table = table.reset_index(drop=True)
    order = {name: i for i, name in enumerate(QUANTITIES)}
    keys = pd.DataFrame({"month": table["month"].astype(str),
                         "q": table["quantity"].map(lambda q: order.get(q, len(order))),
                         "who": table["who"].astype(str)})
    return table.iloc[keys.sort_values(["month", "q", "who"], kind="stable").index]


def write_forecast(table: pd.DataFrame, path: str | Path,
                   provenance: Mapping[str, Any]) -> Path:
    """Write a forecast file at ``path``, whole or not at all (written beside it and
    renamed over it: :func:`sim.publish.write_atomically`). ``table`` has the columns of
    :data:`COLUMNS`; ``provenance`` the keys of :data:`PROVENANCE_KEYS`
    (:func:`make_provenance`). Everything is checked first, as :func:`read_forecast`
    checks a file: :class:`ForecastError`, one line, and nothing written. Returns
    ``path``."""
    path = Path(path)
    text = forecast_text(table, provenance)
    try:
        write_atomically(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    except OSError as err:
        raise ForecastError(f"{path}: cannot write ({err.strerror or err}); allowed: a file "
                            f"in a folder that exists and can be written") from None
    return path


def read_forecast(path: str | Path, name: str | None = None) -> Forecast:
    """Read and check a forecast file. Refused in one line (:class:`ForecastError`,
    naming the file, the row and the column): no format line or provenance, a column
    missing or unknown, a month not ``YYYY-MM``, an unknown quantity or side, a number
    that is not finite, negative where the quantity cannot be, ``low <= mean <= high``
    broken, a level not strictly between 0 and 1, replicates not a whole number from 1
    to the provenance's, a (month, quantity, who) given twice."""
    name = str(path) if name is None else name
    # Any columns: that it is a forecast file at all is checked first.
    table = read_table(path, (), "one row per month, quantity and side", name=name,
                       optional=None, comments=True, error=ForecastError)
    return _forecast_from(table)


def _parse_forecast(text: str, name: str) -> Forecast:
    table = parse_table(text, name, (), "one row per month, quantity and side",
                        optional=None, comments=True, error=ForecastError)
    return _forecast_from(table)


def _forecast_from(table: Table) -> Forecast:
    name = table.name
    if not table.comments or table.comments[0].strip() != FORMAT_LINE:
        raise ForecastError(f"{name}: row 1: not a forecast file (no '# {FORMAT_LINE}' "
                            f"line); allowed: a file written by attrition (sim.forecast)")
    lines = [(i + 1, c.strip()) for i, c in enumerate(table.comments)
             if c.strip().startswith(PROVENANCE_PREFIX)]
    if len(lines) != 1:
        raise ForecastError(f"{name}: {len(lines)} '# {PROVENANCE_PREFIX.strip()}' lines; "
                            f"allowed: one, with a JSON object, before the header")
    line, text = lines[0]
    try:
        provenance = json.loads(text[len(PROVENANCE_PREFIX):],
                                parse_constant=_no_constant)
    except (ValueError, RecursionError) as err:
        raise ForecastError(f"{name}: row {line}: the provenance is not JSON "
                            f"({shorten(one_line(str(err)), 80)}); allowed: a JSON "
                            f"object") from None
    check_provenance(provenance, f"{name}: row {line}: provenance")
    unknown = [c for c in table.columns if c not in COLUMNS]
    missing = [c for c in COLUMNS if c not in table.columns]
    if unknown or missing:
        problem = (f"unknown column '{shorten(unknown[0], SHOWN_CELL)}'" if unknown
                   else f"no '{missing[0]}' column")
        raise ForecastError(f"{name}: row {table.header_line}: {problem}; allowed: "
                            f"{', '.join(COLUMNS)}")
    records = []
    seen: dict[tuple[str, str, str], int] = {}
    for row in table.rows:
        month = month_cell(table, row)
        quantity = _choice(table, row, "quantity", QUANTITIES)
        who = _choice(table, row, "who", SIDES)
        key = (month, quantity, who)
        if key in seen:
            raise table.fail(row, "month", f"{month} {quantity} {who} repeats row "
                             f"{seen[key]}", "one row per month, quantity and side")
        seen[key] = row.line
        mean, low, high = (_value(table, row, c, QUANTITIES[quantity])
                           for c in ("mean", "low", "high"))
        if not low <= mean <= high:
            raise table.fail(row, "mean", f"{_num(mean)} is outside low {_num(low)} to high "
                             f"{_num(high)}", "low <= mean <= high")
        level = number_cell(table, row, "level", 0, 1, "a probability strictly between 0 "
                            "and 1, e.g. 0.9")
        if not 0 < level < 1:
            raise table.fail(row, "level", f"{row.cells['level']} is not strictly between 0 "
                             "and 1", "a probability strictly between 0 and 1, e.g. 0.9")
        top = provenance["replicates"]
        replicates = number_cell(table, row, "replicates", 1, top,
                                 f"a whole number from 1 to the provenance's {top:,}",
                                 whole=True)
        records.append((month, quantity, who, mean, low, high, level, int(replicates)))
    frame = _sorted(pd.DataFrame(records, columns=list(COLUMNS))).reset_index(drop=True)
    return Forecast(frame, dict(provenance), name)


def _no_constant(text: str):
    raise ValueError(f"{text} is not a JSON number")


def _num(value: float) -> str:
    return f"{value:,.6g}"


def _choice(table: Table, row: Row, column: str, allowed: Iterable[str]) -> str:
    text = row.cells[column]
    if text not in allowed:
        raise table.fail(row, column, f"'{shorten(text, SHOWN_CELL)}' is unknown",
                         ", ".join(allowed))
    return text


def _value(table: Table, row: Row, column: str, quantity: Quantity) -> float:
    """A number of persons of ``quantity``: within MAX_PERSONS of 0, and not negative
    unless the quantity is signed."""
    low = -MAX_PERSONS if quantity.signed else 0
    allowed = (f"a number from {low:,} to {MAX_PERSONS:,} ({quantity.name}: "
               f"{quantity.unit}{'' if quantity.signed else ', never negative'})")
    return number_cell(table, row, column, low, MAX_PERSONS, allowed)


# ------------------------------------------------------------------ records
#: The formats a record is recognised in, by its header (a set of columns).
RECORD_FORMATS = {
    frozenset(RECORD_COLUMNS): "tidy",
    frozenset(CLAIMED_LOSSES_COLUMNS): "claimed_losses_daily",
    frozenset(NAMED_DEAD_COLUMNS["russia"]): "russia_named_dead",
    frozenset(NAMED_DEAD_COLUMNS["ukraine"]): "ukraine_named_dead",
}
_FORMATS_ALLOWED = ("month,quantity,who,value; or a series of data/: "
                    f"{','.join(CLAIMED_LOSSES_COLUMNS)} (cumulative daily claim); "
                    f"{','.join(NAMED_DEAD_COLUMNS['russia'])} (Russian named dead); "
                    f"{','.join(NAMED_DEAD_COLUMNS['ukraine'])} (Ukrainian)")


def read_scoring_record(path: str | Path, name: str | None = None) -> ScoringRecord:
    """A record to score a forecast against, recognised by its header:

    * ``month,quantity,who,value``: tidy, values in the quantity's unit;
    * ``date,claimed_personnel_losses_cumulative``: the cumulative daily claim of
      Russian losses; each month whose last day and the last day of the month before
      are both in it becomes the attacker's ``claimed_losses`` for that month (the
      difference); the months it cannot count are named in the notes;
    * ``month,named_deaths``: the Russian named-dead list, the attacker's
      ``named_dead``;
    * ``month,named_deaths,named_missing``: the Ukrainian list; ``named_deaths`` is the
      defender's ``named_dead`` (the missing are not scored: the model's equivalent
      counts the dead).

    Refused in one line naming file, row and column (:class:`ForecastError`).
    """
    name = str(path) if name is None else name
    table = read_table(path, (), "one row per observation", optional=None, name=name,
                       comments=True, error=ForecastError)
    if table.comments:
        what = ("a forecast file" if table.comments[0].strip() == FORMAT_LINE
                else "a file with comment lines")
        raise ForecastError(f"{name}: row 1: {what}, not a record; allowed: a header: "
                            f"{_FORMATS_ALLOWED}")
    kind = RECORD_FORMATS.get(frozenset(table.columns))
    if kind is None:
        header = shorten(",".join(table.columns), 80)
        raise ForecastError(f"{name}: row 1: header '{header}' is not a record's; allowed: "
                            f"{_FORMATS_ALLOWED}")
    if kind == "tidy":
        return _tidy_record(table)
    if kind == "claimed_losses_daily":
        return _claimed_record(table)
    return _named_record(table, "russia" if kind == "russia_named_dead" else "ukraine")


def _tidy_record(table: Table) -> ScoringRecord:
    rows, seen = [], {}
    for row in table.rows:
        month = month_cell(table, row)
        quantity = _choice(table, row, "quantity", QUANTITIES)
        who = _choice(table, row, "who", SIDES)
        key = (month, quantity, who)
        if key in seen:
            raise table.fail(row, "month", f"{month} {quantity} {who} repeats row "
                             f"{seen[key]}", "one value per month, quantity and side")
        seen[key] = row.line
        value = _value(table, row, "value", QUANTITIES[quantity])
        rows.append((month, quantity, who, value, row.line))
    return ScoringRecord(pd.DataFrame(rows, columns=[*RECORD_COLUMNS, "row"]), table.name,
                         "tidy")


def _claimed_record(table: Table) -> ScoringRecord:
    daily = cumulative_daily_from(table)
    monthly = monthly_from_cumulative(daily)
    line_of = {row.cells["date"]: row.line for row in table.rows}
    # A record that starts on a month's last day gives the next month its start.
    first = daily.index[0]
    first = month_of(first + datetime.timedelta(days=1)) if is_month_end(first) and \
        first < daily.index[-1] else month_of(first)
    spanned = month_range(first, month_of(daily.index[-1]))
    uncounted = [m for m in spanned if m not in monthly.index]
    notes = []
    if uncounted:
        notes.append(f"{table.name}: claimed_losses attacker of {months_shown(uncounted)} "
                     f"cannot be counted (a month needs the cumulative claim on its last "
                     f"day and on the last day of the month before): not scored")
    # A month's row is that of its last day (dates are ISO in the file: checked).
    month_end_line = {month_of(day): line_of[day.isoformat()] for day in daily.index
                      if is_month_end(day)}
    frame = pd.DataFrame({"month": list(monthly.index), "quantity": "claimed_losses",
                          "who": "attacker", "value": monthly.to_numpy(dtype=float),
                          "row": [month_end_line[m] for m in monthly.index]},
                         columns=[*RECORD_COLUMNS, "row"])
    return ScoringRecord(frame, table.name, "claimed_losses_daily", tuple(notes))


def _named_record(table: Table, country: str) -> ScoringRecord:
    who = {c: side for side, c in THEATRE_COUNTRIES.items()}[country]
    monthly = named_dead_from(table, country)
    line_of = {row.cells["month"]: row.line for row in table.rows}
    notes = [f"{table.name}: a named list is a lower bound that fills in late: its last "
             f"months are the least complete"]
    if country == "ukraine":
        notes.append(f"{table.name}: named_missing is not scored (named_dead counts the "
                     f"dead)")
    frame = pd.DataFrame({"month": list(monthly.index), "quantity": "named_dead",
                          "who": who, "value": monthly["named_deaths"].to_numpy(dtype=float),
                          "row": [line_of[m] for m in monthly.index]},
                         columns=[*RECORD_COLUMNS, "row"])
    return ScoringRecord(frame, table.name, f"{country}_named_dead", tuple(notes))


def combine_records(records: Iterable[ScoringRecord]) -> ScoringRecord:
    """Several records as one; a month of a quantity and side given by two is refused
    in one line naming both rows."""
    records = list(records)
    if len(records) == 1:
        return records[0]
    seen: dict[tuple[str, str, str], tuple[str, int]] = {}
    for record in records:
        for month, quantity, who, row in record.table[["month", "quantity", "who",
                                                       "row"]].itertuples(index=False):
            key = (month, quantity, who)
            if key in seen:
                where, line = seen[key]
                raise ForecastError(f"{record.source}: row {row}, column month: {month} "
                                    f"{quantity} {who} is also in {where} (row {line}); "
                                    f"allowed: each month of a quantity and side in one "
                                    f"record")
            seen[key] = (record.source, row)
    table = pd.concat([r.table for r in records], ignore_index=True)
    return ScoringRecord(table, ", ".join(r.source for r in records),
                         "+".join(r.kind for r in records),
                         tuple(n for r in records for n in r.notes))


# ------------------------------------------------------------------ the score
#: The score's columns (one row per quantity and side in the forecast or the record).
SCORE_COLUMNS = ("quantity", "who", "unit", "months", "level", "covered", "coverage",
                 "coverage_low", "coverage_high", "nominal_in_interval", "mean_error",
                 "mean_absolute_error", "mean_relative_error", "missed_below",
                 "missed_above", "note")


def coverage_interval(covered: int, months: int,
                      confidence: float = COVERAGE_CI) -> tuple[float, float]:
    """The exact (Clopper-Pearson) binomial interval of a coverage: ``covered`` of
    ``months`` inside, central probability ``confidence``.

    >>> [round(x, 3) for x in coverage_interval(9, 12)]
    [0.473, 0.928]
    """
    if months == 0:
        return math.nan, math.nan
    ci = stats.binomtest(covered, months).proportion_ci(confidence_level=confidence,
                                                        method="exact")
    return float(ci.low), float(ci.high)


def _as_table(value, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    table = value.table if isinstance(value, Forecast | ScoringRecord) else value
    if isinstance(value, list):
        table = combine_records(value).table
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ForecastError(f"{what}: no '{missing[0]}' column; allowed: "
                            f"{', '.join(columns)}")
    return table


def score(forecast: Forecast | pd.DataFrame,
          record: ScoringRecord | list[ScoringRecord] | pd.DataFrame) -> pd.DataFrame:
    """The forecast scored against the record: one row per quantity and side in either
    (:data:`SCORE_COLUMNS`), over the months both have:

    * ``months``: months scored; ``level``: the nominal level (the mean of the scored
      months' levels); ``covered``: months whose recorded value lies in [low, high];
      ``coverage``: their share;
    * ``coverage_low``, ``coverage_high``: the exact binomial 90% interval of the
      coverage; ``nominal_in_interval``: whether the nominal level lies in it (if so a
      shortfall may be noise). It takes months as independent draws: misses that come
      in runs (a trend the model lacks) make it too narrow;
    * ``mean_error``: mean of (mean - value), in the quantity's unit (above 0: the
      forecast too high); ``mean_absolute_error``; ``mean_relative_error``: mean of
      (mean - value) / |value| over the months whose value is not 0 (NaN if none);
    * ``missed_below``, ``missed_above``: the months whose value fell below low or rose
      above high;
    * ``note``: the months in one but not the other, and anything else left out.

    A quantity and side in only one of them gets a row of 0 months and a note. If
    nothing at all can be scored, :class:`ForecastError` says so in one line."""
    f_table = _as_table(forecast, COLUMNS, "forecast")
    r_table = _as_table(record, RECORD_COLUMNS, "record")
    for table, what in ((f_table, "forecast"), (r_table, "record")):
        repeated = table.duplicated(["month", "quantity", "who"])
        if repeated.any():
            first = table[repeated].iloc[0]
            raise ForecastError(f"{what}: {first['month']} {first['quantity']} "
                                f"{first['who']} appears more than once; allowed: one row "
                                f"per month, quantity and side")
    f_name = forecast.source if isinstance(forecast, Forecast) else "the forecast"
    rows = []
    keys = ({(q, w) for q, w in zip(f_table["quantity"], f_table["who"], strict=True)}
            | {(q, w) for q, w in zip(r_table["quantity"], r_table["who"], strict=True)})
    order = {name: i for i, name in enumerate(QUANTITIES)}
    for quantity, who in sorted(keys, key=lambda k: (order.get(k[0], len(order)), k)):
        f = f_table[(f_table["quantity"] == quantity) & (f_table["who"] == who)]
        r = r_table[(r_table["quantity"] == quantity) & (r_table["who"] == who)]
        rows.append(_score_one(quantity, who, f.set_index("month"),
                               r.set_index("month")["value"]))
    scores = pd.DataFrame(rows, columns=list(SCORE_COLUMNS))
    if not scores["months"].any():
        f_months = months_shown(f_table["month"]) or "none"
        r_months = months_shown(r_table["month"]) or "none"
        raise ForecastError(f"{f_name}: nothing to score: no month of a quantity and side "
                            f"is in both the forecast ({f_months}) and the record "
                            f"({r_months}); allowed: a record of months and quantities the "
                            f"forecast covers")
    return scores


def _score_one(quantity: str, who: str, forecast: pd.DataFrame,
               record: pd.Series) -> dict[str, Any]:
    months = sorted(set(forecast.index) & set(record.index))
    notes = []
    if not len(forecast):
        notes.append("not in the forecast")
    elif not len(record):
        notes.append("not in the record")
    else:
        only_f = sorted(set(forecast.index) - set(record.index))
        only_r = sorted(set(record.index) - set(forecast.index))
        if only_f:
            notes.append(f"{months_shown(only_f)} in the forecast, not in the record")
        if only_r:
            notes.append(f"{months_shown(only_r)} in the record, not in the forecast")
    unit = QUANTITIES[quantity].unit if quantity in QUANTITIES else ""
    out: dict[str, Any] = {"quantity": quantity, "who": who, "unit": unit,
                           "months": len(months), "missed_below": [], "missed_above": []}
    if not months:
        out.update(level=math.nan, covered=0, coverage=math.nan, coverage_low=math.nan,
                   coverage_high=math.nan, nominal_in_interval=None, mean_error=math.nan,
                   mean_absolute_error=math.nan, mean_relative_error=math.nan,
                   note="; ".join(notes))
        return out
    f = forecast.loc[months]
    value = record.loc[months].to_numpy(dtype=float)
    mean, low, high = (f[c].to_numpy(dtype=float) for c in ("mean", "low", "high"))
    levels = f["level"].to_numpy(dtype=float)
    if levels.min() != levels.max():
        notes.append(f"levels differ by month ({levels.min():g} to {levels.max():g}): the "
                     f"nominal is their mean")
    below, above = value < low, value > high
    covered = int((~below & ~above).sum())
    level = float(levels.mean())
    ci_low, ci_high = coverage_interval(covered, len(months))
    error = mean - value
    nonzero = value != 0
    if not nonzero.all():
        notes.append(f"{int((~nonzero).sum())} month(s) of value 0 left out of the relative "
                     f"error")
    relative = (float(np.mean(error[nonzero] / np.abs(value[nonzero]))) if nonzero.any()
                else math.nan)
    out.update(level=level, covered=covered, coverage=covered / len(months),
               coverage_low=ci_low, coverage_high=ci_high,
               nominal_in_interval=bool(ci_low <= level <= ci_high),
               mean_error=float(error.mean()), mean_absolute_error=float(np.abs(error).mean()),
               mean_relative_error=relative,
               missed_below=[m for m, b in zip(months, below, strict=True) if b],
               missed_above=[m for m, a in zip(months, above, strict=True) if a],
               note="; ".join(notes))
    return out


# ------------------------------------------------------------------ showing a score
def score_report(forecast: Forecast, records: list[ScoringRecord],
                 scores: pd.DataFrame) -> dict[str, Any]:
    """Everything about a score as JSON-ready data: the forecast's file and provenance,
    the records' files, formats and notes, and a row per quantity and side (NaN as
    None)."""
    rows = [{k: _json_value(v) for k, v in row.items()}
            for row in scores.to_dict("records")]
    return {"forecast": {"file": forecast.source, "provenance": forecast.provenance},
            "records": [{"file": r.source, "format": r.kind, "notes": list(r.notes)}
                        for r in records],
            "coverage_interval": COVERAGE_CI, "scores": rows}


def _json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def score_json(report: Mapping[str, Any]) -> str:
    """:func:`score_report` as indented JSON (no NaN: an empty value is null)."""
    return json.dumps(report, indent=2, allow_nan=False)


def _percent(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{100 * value:.0f}%"


def _persons(value: float | None, sign: str = "") -> str:
    """Persons with thousands separators; a tenth below 10 (an error of 0.5 is not 0)."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:{sign},.1f}" if abs(value) < 10 else f"{value:{sign},.0f}"


def format_score(report: Mapping[str, Any]) -> str:
    """The terminal's table: a row per quantity and side scored (coverage in %, beside
    the nominal level and its binomial 90% interval; errors in persons with thousands
    separators; the months missed), then a line per note."""
    from sim.publish import printable

    provenance = report["forecast"]["provenance"]
    window = provenance["calibration_window"]
    lines = [printable(f"Forecast {report['forecast']['file']}: scenario "
                       f"{provenance['scenario']}, seed {provenance['seed']}, "
                       f"{provenance['replicates']} replicates, calibrated on {window[0]} to "
                       f"{window[1]}, attrition-sim {provenance['sim_version']}"),
             printable(f"Record {', '.join(r['file'] for r in report['records'])}"), ""]
    header = ("quantity", "who", "months", "nominal", "coverage",
              f"{100 * report['coverage_interval']:.0f}% interval", "nominal inside",
              "mean error", "mean abs. error", "mean rel. error", "missed")
    table = []
    notes = [n for r in report["records"] for n in r["notes"]]
    alone: dict[str, list[str]] = {"not in the record": [], "not in the forecast": []}
    for row in report["scores"]:
        where = f"{row['quantity']} {row['who']}"
        if row["note"] in alone:  # a quantity and side one of them lacks: one line for all
            alone[row["note"]].append(where)
        elif row["note"]:
            notes.append(f"{where}: {row['note']}")
        if not row["months"]:
            continue
        missed = "; ".join(filter(None, (
            f"below: {months_shown(row['missed_below'])}" if row["missed_below"] else "",
            f"above: {months_shown(row['missed_above'])}" if row["missed_above"] else "")))
        table.append((row["quantity"], row["who"], str(row["months"]),
                      _percent(row["level"]),
                      f"{_percent(row['coverage'])} ({row['covered']}/{row['months']})",
                      f"{_percent(row['coverage_low'])} to {_percent(row['coverage_high'])}",
                      "yes" if row["nominal_in_interval"] else "NO",
                      _persons(row["mean_error"], "+"), _persons(row["mean_absolute_error"]),
                      "-" if row["mean_relative_error"] is None
                      else f"{100 * row['mean_relative_error']:+.1f}%",
                      missed or "none"))
    widths = [max(len(h), *(len(r[j]) for r in table)) for j, h in enumerate(header)]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in table]
    notes += [f"{what}: {', '.join(where)}" for what, where in alone.items() if where]
    if notes:
        lines += ["", "Not scored or left out:"] + [f"  {printable(n)}" for n in notes]
    return "\n".join(lines)


def write_score(folder: Path, report: Mapping[str, Any]) -> list[Path]:
    """``score.json`` (:func:`score_json`) and ``score.csv`` (a row per quantity and
    side; the months missed joined by ``;``) into ``folder`` (a staging folder of
    :func:`sim.publish.publishing`). Returns the files written."""
    folder = Path(folder)
    (folder / "score.json").write_text(score_json(report) + "\n", encoding="utf-8")
    frame = pd.DataFrame(report["scores"], columns=list(SCORE_COLUMNS))
    for column in ("missed_below", "missed_above"):
        frame[column] = frame[column].map(";".join)
    frame.to_csv(folder / "score.csv", index=False, lineterminator="\n")
    return [folder / "score.json", folder / "score.csv"]
