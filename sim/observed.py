"""The public series of ``data/`` as monthly observations, each with its unit.

* :func:`claimed_losses_monthly`: the Russian killed and wounded that Ukraine's General
  Staff claims per calendar month (persons/month), from its cumulative daily claim;
* :func:`named_dead_monthly`: the Russian or Ukrainian dead identified by name, per month
  of death (persons/month; the Ukrainian missing beside them);
* :func:`recruitment_claims` and :func:`recruitment_rates`: Russia's claimed signings,
  and the mean daily rate between consecutive claims of a year (persons/day);
* :func:`other_figures`: single statements (Ukraine's own losses, the North Korean
  contingent, the end of the Kursk fighting).

``data/README.md`` says where each comes from and what it is worth: claims of a
combatant, named lists that hold only part of the dead. Months are ``YYYY-MM`` strings
(the forecast files' months, :mod:`sim.forecast`). Every reader refuses a malformed file
with :class:`ObservedError`, one line naming the file, the row (the line of the file,
the header being row 1) and the column, and saying what is allowed.

    >>> claimed_losses_monthly("2023-01", "2023-03").tolist()
    [21540, 21740, 24120]
    >>> named_dead_monthly("ukraine", "2024-12", "2024-12").to_dict("records")
    [{'named_deaths': 1664, 'named_missing': 3489}]
    >>> rates = recruitment_rates()
    >>> rates.loc[rates["period_start"] == "2023-01-01", "persons_per_day"].round(0).tolist()
    [1000.0, 1667.0, 1429.0, 1983.0, 2615.0]
"""

from __future__ import annotations

import calendar
import csv
import datetime
import io
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim.fields import MAX_PERSONS
from sim.scenarios import one_line, shorten

PROJECT = Path(__file__).resolve().parent.parent
#: The public series (a checkout's or an editable install's ``data/``, beside ``sim/``).
DATA_DIR = PROJECT / "data"
CLAIMED_LOSSES_FILE = DATA_DIR / "russia_claimed_losses_daily.csv"
NAMED_DEAD_FILES = {"russia": DATA_DIR / "russia_named_dead_monthly.csv",
                    "ukraine": DATA_DIR / "ukraine_named_dead_monthly.csv"}
RECRUITMENT_FILE = DATA_DIR / "russia_recruitment_claims.csv"
OTHER_FIGURES_FILE = DATA_DIR / "other_public_figures.csv"
#: The columns of each raw series, as the files have them (sim.forecast recognises a
#: record by them).
CLAIMED_LOSSES_COLUMNS = ("date", "claimed_personnel_losses_cumulative")
NAMED_DEAD_COLUMNS = {"russia": ("month", "named_deaths"),
                      "ukraine": ("month", "named_deaths", "named_missing")}
RECRUITMENT_COLUMNS = ("as_of", "period_start", "persons", "what", "who_said", "note")
OTHER_FIGURES_COLUMNS = ("as_of", "figure", "value", "unit", "who_said", "note")
#: The largest table read: 16 MiB, as a battle record (sim.records); the shipped files
#: are 20 KB at most.
MAX_TABLE_BYTES = 16 << 20
#: Characters of a bad cell echoed in a message.
SHOWN_CELL = 40

#: Months and dates of years 1000 to 9999 (ASCII digits: re's \\d takes any script's).
_MONTH = re.compile(r"[1-9][0-9]{3}-(0[1-9]|1[0-2])")
_DATE = re.compile(r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}")
#: A number as written in these tables: digits, a decimal point, an exponent; no sign
#: other than a leading minus, no thousands separators ("1,000" is two cells anyway).
#: Python's repr of a float fits (17 significant digits: 0.30000000000000004).
_NUMBER = re.compile(r"-?[0-9]{1,20}(\.[0-9]{0,20})?([eE][-+]?[0-9]{1,3})?")


class TableError(ValueError):
    """A table that cannot be used; ``str()`` is one line: the file, the row and the
    column, what is wrong and what is allowed (control characters shown escaped)."""

    def __init__(self, message: str):
        super().__init__(one_line(message))


class ObservedError(TableError):
    """A public series (``data/``, or a file in its format) that cannot be used."""


# ------------------------------------------------------------------ reading tables
@dataclass(frozen=True)
class Row:
    """A data row: its line in the file (the header's is 1, or later after comment
    lines) and its cells by column, stripped of surrounding spaces."""

    line: int
    cells: dict[str, str]


@dataclass(frozen=True)
class Table:
    """A CSV table as read by :func:`read_table`: its name (for messages), its columns
    in file order, its rows and the comment lines (``#`` removed) before the header."""

    name: str
    columns: tuple[str, ...]
    rows: tuple[Row, ...]
    comments: tuple[str, ...] = ()
    error: type[TableError] = TableError
    header_line: int = 1

    def fail(self, row: Row | int, column: str | None, problem: str,
             allowed: str) -> TableError:
        """The one-line error (of the table's class) of a row and column: ``NAME: row N,
        column C: problem; allowed: ...``."""
        line = row.line if isinstance(row, Row) else row
        where = f"row {line}" + (f", column {column}" if column else "")
        return self.error(f"{self.name}: {where}: {problem}; allowed: {allowed}")


def read_table(path: str | Path, columns: Iterable[str], what: str,
               optional: Iterable[str] | None = (), name: str | None = None,
               comments: bool = False,
               error: type[TableError] = ObservedError) -> Table:
    """Read a CSV file (UTF-8, a BOM and CRLF taken) with the header ``columns`` (in any
    order) and any of ``optional`` (None: any other column); ``what`` says what a row
    is, for messages.

    With ``comments``, lines starting with ``#`` before the header are returned, not
    read as rows. Blank lines are skipped. Refused in one line (``error``): a file
    missing, not a file, larger than :data:`MAX_TABLE_BYTES`, not UTF-8, with a NUL; a
    column missing, unknown or repeated; a row with more or fewer cells than the header;
    a cell spanning lines; no rows."""
    name = str(path) if name is None else name
    text = _read_text(Path(path), name, what, error)
    return parse_table(text, name, columns, what, optional, comments, error)


def parse_table(text: str, name: str, columns: Iterable[str], what: str,
                optional: Iterable[str] | None = (), comments: bool = False,
                error: type[TableError] = ObservedError) -> Table:
    """:func:`read_table` of a text already read (``name`` for messages)."""
    columns = tuple(columns)
    optional = None if optional is None else tuple(optional)
    allowed_columns = ", ".join(columns + (optional or ()))
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise error(f"{name}: row {line}: a NUL character; allowed: CSV text")
    lines = text.split("\n")  # "\n" alone: str.splitlines also breaks at \f, \x1c, ...
    leading: list[str] = []
    skip = 0
    if comments:
        for raw in lines:
            if not raw.startswith("#"):
                break
            leading.append(raw[1:].rstrip("\r"))
            skip += 1
    reader = csv.reader(io.StringIO("\n".join(lines[skip:]), newline=""), strict=True)
    rows: list[Row] = []
    header: tuple[str, ...] | None = None
    header_line = 1
    try:
        for cells in reader:
            line = reader.line_num + skip
            if any("\n" in c or "\r" in c for c in cells):
                raise error(f"{name}: row {line}: a cell spans lines; allowed: one row a "
                            f"line")
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # a blank line
            cells = [c.strip() for c in cells]
            if header is None:
                header = _header(cells, name, line, columns, optional, allowed_columns,
                                 error)
                header_line = line
                continue
            if len(cells) != len(header):
                raise error(f"{name}: row {line} has {len(cells)} cells, the header "
                            f"{len(header)}; allowed: as many cells in each row as in the "
                            f"header ({allowed_columns})")
            rows.append(Row(line, dict(zip(header, cells, strict=True))))
    except csv.Error as err:
        raise error(f"{name}: row {reader.line_num + skip}: not CSV ({err}); allowed: "
                    f"comma-separated cells, quoted with \" where needed") from None
    if header is None:
        raise error(f"{name}: no header; allowed: a header row ({allowed_columns}) and "
                    f"{what}")
    if not rows:
        raise error(f"{name}: no rows; allowed: a header row and {what}")
    return Table(name, header, tuple(rows), tuple(leading), error, header_line)


def _read_text(path: Path, name: str, what: str, error: type[TableError]) -> str:
    try:
        if not path.exists():
            raise error(f"{name}: no such file; allowed: a CSV file of {what}")
        if not path.is_file():
            raise error(f"{name}: not a file; allowed: a CSV file of {what}")
        size = path.stat().st_size
        if size > MAX_TABLE_BYTES:
            raise error(f"{name}: {size:,} bytes; allowed: a CSV file of at most "
                        f"{MAX_TABLE_BYTES:,} bytes")
        data = path.read_bytes()
    except OSError as err:
        raise error(f"{name}: cannot read ({err.strerror or err}); allowed: a readable CSV "
                    f"file of {what}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise error(f"{name}: row {line}: not UTF-8 text; allowed: a CSV file in UTF-8") \
            from None
    return text


def _header(cells: list[str], name: str, line: int, columns: tuple[str, ...],
            optional: tuple[str, ...] | None, allowed: str,
            error: type[TableError]) -> tuple[str, ...]:
    seen = set()
    for cell in cells:
        if cell in seen:
            raise error(f"{name}: row {line}: column '{shorten(cell, SHOWN_CELL)}' appears "
                        f"more than once; allowed: each column once")
        seen.add(cell)
        if optional is not None and cell not in columns and cell not in optional:
            raise error(f"{name}: row {line}: unknown column '{shorten(cell, SHOWN_CELL)}'; "
                        f"allowed: {allowed}")
    missing = [c for c in columns if c not in seen]
    if missing:
        raise error(f"{name}: row {line}: no '{missing[0]}' column; allowed: {allowed}")
    return tuple(cells)


def _shown(text: str) -> str:
    return "'" + shorten(text, SHOWN_CELL) + "'"


def number_cell(table: Table, row: Row, column: str, low: float, high: float,
                allowed: str, whole: bool = False, empty: bool = False) -> float | None:
    """A cell's number, from ``low`` to ``high`` (a whole number with ``whole``; None
    for an empty cell with ``empty``); one line naming file, row and column otherwise.
    ``inf``, ``nan`` and ``1,000`` are not numbers here."""
    text = row.cells[column]
    if not text:
        if empty:
            return None
        raise table.fail(row, column, "empty", allowed)
    if not _NUMBER.fullmatch(text):
        raise table.fail(row, column, f"{_shown(text)} is not a number", allowed)
    value = float(text)
    if not math.isfinite(value):  # 1e400 reads as infinity
        raise table.fail(row, column, f"{text} is out of range", allowed)
    if whole and value != round(value):
        raise table.fail(row, column, f"{text} is not a whole number", allowed)
    if not low <= value <= high:
        raise table.fail(row, column, f"{text} is out of range", allowed)
    return value


def count_cell(table: Table, row: Row, column: str, empty: bool = False) -> int | None:
    """A whole number of persons, 0 to :data:`MAX_PERSONS`."""
    value = number_cell(table, row, column, 0, MAX_PERSONS,
                        f"a whole number of persons from 0 to {MAX_PERSONS:,}"
                        + (", or empty" if empty else ""), whole=True, empty=empty)
    return None if value is None else int(value)


def month_cell(table: Table, row: Row, column: str = "month") -> str:
    """A month, ``YYYY-MM``."""
    text = row.cells[column]
    if not _MONTH.fullmatch(text):
        raise table.fail(row, column, f"{_shown(text)} is not a month",
                         "a month as YYYY-MM, e.g. 2025-01")
    return text


def date_cell(table: Table, row: Row, column: str) -> datetime.date:
    """A date, ``YYYY-MM-DD``."""
    text = row.cells[column]
    try:
        if not _DATE.fullmatch(text):
            raise ValueError
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise table.fail(row, column, f"{_shown(text)} is not a date",
                         "a date as YYYY-MM-DD, e.g. 2024-12-31") from None


def unique(table: Table, key: Callable[[Row], object], columns: str, what: str) -> None:
    """Refuse a second row with the same ``key`` (naming both rows)."""
    first: dict[object, int] = {}
    for row in table.rows:
        k = key(row)
        if k in first:
            raise table.fail(row, columns, f"{what} repeats row {first[k]}",
                             f"one row per {what}")
        first[k] = row.line


# ------------------------------------------------------------------ months
def _month_number(month: str) -> int:
    """Months since year 0: ``YYYY-MM`` as a number consecutive months differ by 1."""
    year, number = month.split("-")
    return int(year) * 12 + int(number) - 1


def _month_name(number: int) -> str:
    return f"{number // 12:04d}-{number % 12 + 1:02d}"


def is_month_end(day: datetime.date) -> bool:
    """Whether ``day`` is its month's last day."""
    return day.day == calendar.monthrange(day.year, day.month)[1]


def month_of(day: datetime.date) -> str:
    """The month of a date, ``YYYY-MM``."""
    return f"{day.year:04d}-{day.month:02d}"


def month_range(start: str, end: str) -> list[str]:
    """The months from ``start`` to ``end`` inclusive, as ``YYYY-MM``.

    >>> month_range("2024-11", "2025-02")
    ['2024-11', '2024-12', '2025-01', '2025-02']
    """
    return [_month_name(n) for n in range(_month_number(start), _month_number(end) + 1)]


def months_shown(months: Iterable[str]) -> str:
    """Months as runs of consecutive ones, for a message.

    >>> months_shown(["2025-07", "2025-01", "2025-02", "2025-03"])
    '2025-01 to 2025-03, 2025-07'
    """
    numbers = sorted({_month_number(m) for m in months})
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][-1] + 1:
            runs[-1].append(number)
        else:
            runs.append([number])
    return ", ".join(_month_name(r[0]) if len(r) == 1 else
                     f"{_month_name(r[0])} to {_month_name(r[-1])}" for r in runs)


def _month_arg(value: object, name: str) -> str:
    """A month argument as ``YYYY-MM``: a string, a date or a pandas Period."""
    if isinstance(value, pd.Period):
        value = value.start_time.date()
    if isinstance(value, datetime.date):
        return month_of(value)
    if isinstance(value, str) and _MONTH.fullmatch(value):
        return value
    raise ObservedError(f"{name}: {one_line(repr(value))[:SHOWN_CELL]} is not a month; "
                        f"allowed: YYYY-MM, e.g. 2023-01, or a date")


def _select(available: Iterable[str], start: object, end: object, name: str,
            why: str) -> list[str]:
    """The months from ``start`` to ``end`` (default: the first and last available),
    each of which must be available; one line naming those that are not."""
    available = set(available)
    if not available:
        raise ObservedError(f"{name}: no month in the data; allowed: {why}")
    first = _month_arg(start, "start") if start is not None else None
    last = _month_arg(end, "end") if end is not None else None
    # An open end is the data's, unless the other end lies beyond it (then the one month).
    first = first or (min(min(available), last) if last else min(available))
    last = last or max(max(available), first)
    if first > last:
        raise ObservedError(f"{name}: months {first} to {last} run backwards; allowed: a "
                            f"start no later than the end")
    asked = month_range(first, last)
    missing = [m for m in asked if m not in available]
    if missing:
        raise ObservedError(f"{name}: no value for {months_shown(missing)}; allowed: months "
                            f"{months_shown(available)} ({why})")
    return asked


# ------------------------------------------------------------------ claimed losses
def read_cumulative_daily(path: str | Path = CLAIMED_LOSSES_FILE,
                          name: str | None = None) -> pd.Series:
    """A daily cumulative claim (``date,claimed_personnel_losses_cumulative``) as a
    Series of persons (cumulative since the count began) indexed by date, in date order.

    Refused in one line: a date that is not ``YYYY-MM-DD`` or repeats, a value that is
    not a whole number of persons, a count that falls from one date to a later one."""
    return cumulative_daily_from(read_table(path, CLAIMED_LOSSES_COLUMNS, "one row a day "
                                            "with the cumulative claim", name=name))


def cumulative_daily_from(table: Table) -> pd.Series:
    """:func:`read_cumulative_daily` of a table already read."""
    column = CLAIMED_LOSSES_COLUMNS[1]
    unique(table, lambda r: r.cells["date"], "date", "date")
    dated = sorted(((date_cell(table, r, "date"), count_cell(table, r, column), r)
                    for r in table.rows), key=lambda item: item[0])
    for (day_before, before, row_before), (day, value, row) in zip(dated, dated[1:],
                                                                   strict=False):
        if value < before:
            raise table.fail(row, column, f"{value:,} on {day} is below {before:,} on "
                             f"{day_before} (row {row_before.line})",
                             "a cumulative count that never falls")
    return pd.Series([v for _, v, _ in dated], dtype="int64", name=column,
                     index=pd.Index([d for d, _, _ in dated], name="date", dtype=object))


def monthly_from_cumulative(cumulative: pd.Series) -> pd.Series:
    """Per calendar month, the count at its last day less that at the last day of the
    month before (persons/month), for the months whose both ends are in ``cumulative``
    (a Series indexed by ``datetime.date``); the others are left out. Pure.

    >>> days = [datetime.date(2024, 12, 31), datetime.date(2025, 1, 15),
    ...         datetime.date(2025, 1, 31), datetime.date(2025, 2, 28)]
    >>> monthly_from_cumulative(pd.Series([100, 150, 300, 420], index=days)).to_dict()
    {'2025-01': 200, '2025-02': 120}
    """
    values = {day: int(value) for day, value in cumulative.items()}
    increments = {}
    for day in sorted(values):
        if not is_month_end(day):
            continue
        before = day.replace(day=1) - datetime.timedelta(days=1)
        if before in values:
            increments[month_of(day)] = values[day] - values[before]
    return pd.Series(increments, dtype="int64", name="claimed_losses").rename_axis("month")


def claimed_losses_monthly(start: object = None, end: object = None,
                           path: str | Path = CLAIMED_LOSSES_FILE,
                           name: str | None = None) -> pd.Series:
    """The Russian killed and wounded claimed by Ukraine's General Staff per calendar
    month, in persons/month, indexed by month (``YYYY-MM``) from ``start`` to ``end``
    inclusive (default: every month the data allow): the cumulative claim at the month's
    last day less that at the last day of the month before.

    A month without both values (in the shipped file, any month before March 2022 or
    after December 2024) is refused in one line, never extrapolated."""
    name = str(path) if name is None else name
    monthly = monthly_from_cumulative(read_cumulative_daily(path, name))
    months = _select(monthly.index, start, end, name, "each needs the cumulative claim on "
                     "its last day and on the last day of the month before")
    return monthly.loc[months]


# ------------------------------------------------------------------ named dead
def read_named_dead(side: str, path: str | Path | None = None,
                    name: str | None = None) -> pd.DataFrame:
    """The named-dead file of ``side`` (``russia`` or ``ukraine``) as a DataFrame indexed
    by month (``YYYY-MM``, in order), columns ``named_deaths`` (and for Ukraine
    ``named_missing``), persons/month. Months must not repeat."""
    if side not in NAMED_DEAD_FILES:
        raise ObservedError(f"side: {one_line(repr(side))[:SHOWN_CELL]}; allowed: russia, "
                            f"ukraine")
    path = NAMED_DEAD_FILES[side] if path is None else path
    table = read_table(path, NAMED_DEAD_COLUMNS[side], "one row a month of named dead",
                       name=name)
    return named_dead_from(table, side)


def named_dead_from(table: Table, side: str) -> pd.DataFrame:
    """:func:`read_named_dead` of a table already read."""
    columns = NAMED_DEAD_COLUMNS[side]
    unique(table, lambda r: r.cells["month"], "month", "month")
    records = {month_cell(table, row): {c: count_cell(table, row, c) for c in columns[1:]}
               for row in table.rows}
    frame = pd.DataFrame.from_dict(records, orient="index", columns=list(columns[1:]))
    return frame.sort_index().rename_axis("month").astype("int64")


def named_dead_monthly(side: str, start: object = None, end: object = None,
                       path: str | Path | None = None,
                       name: str | None = None) -> pd.DataFrame:
    """The military dead identified by name per month of death, persons/month, indexed
    by month from ``start`` to ``end`` inclusive (default: all): for ``side`` ``russia``
    the column ``named_deaths`` (Mediazona and BBC Russian), for ``ukraine``
    ``named_deaths`` and ``named_missing`` (UALosses), kept apart.

    A lower bound: the lists hold roughly 45-65% of the dead and recent months fill in
    late (``data/README.md``). A month not in the file is refused in one line."""
    frame = read_named_dead(side, path, name)
    if name is None:
        name = str(NAMED_DEAD_FILES[side] if path is None else path)
    months = _select(frame.index, start, end, name, "the months in the file")
    return frame.loc[months]


# ------------------------------------------------------------------ recruitment
@dataclass(frozen=True)
class RecruitmentClaim:
    """A claimed number of recruits: ``persons`` signed between ``period_start`` and
    ``as_of`` (both dates included), as ``who_said`` said it. ``cumulative_within_year``:
    the period starts on 1 January, so the year's claims are running totals. ``source``
    and ``row`` say where it was read (for messages)."""

    as_of: datetime.date
    period_start: datetime.date
    persons: int
    what: str
    who_said: str
    note: str
    cumulative_within_year: bool
    source: str
    row: int

    @property
    def counted_until(self) -> datetime.date:
        """The last day the count covers: ``as_of``, or the year's last day for a running
        total of a year stated after the year ended (450,000 "in 2024", said on 3
        January 2025)."""
        if self.cumulative_within_year:
            return min(self.as_of, datetime.date(self.period_start.year, 12, 31))
        return self.as_of


def recruitment_claims(path: str | Path = RECRUITMENT_FILE,
                       name: str | None = None) -> list[RecruitmentClaim]:
    """The rows of the recruitment claims, in file order. Refused in one line: a date
    that is not ``YYYY-MM-DD``, a claim dated before its period starts, persons that are
    not a whole number, a row repeating another's dates."""
    table = read_table(path, RECRUITMENT_COLUMNS, "one row per claim", name=name)
    unique(table, lambda r: (r.cells["as_of"], r.cells["period_start"]), "as_of",
           "claim of a period and date")
    claims = []
    for row in table.rows:
        as_of, start = date_cell(table, row, "as_of"), date_cell(table, row, "period_start")
        if start > as_of:
            raise table.fail(row, "period_start", f"{start} is after as_of {as_of}",
                             "a period that starts on or before the claim's date")
        claims.append(RecruitmentClaim(
            as_of, start, count_cell(table, row, "persons"), row.cells["what"],
            row.cells["who_said"], row.cells["note"],
            (start.month, start.day) == (1, 1), table.name, row.line))
    return claims


def recruitment_rates(claims: list[RecruitmentClaim] | None = None) -> pd.DataFrame:
    """Mean daily recruitment between consecutive claims of a period: one row per
    interval, columns ``period_start``, ``start`` and ``end`` (dates, ``start`` the day
    after the claim before or the period's first day), ``days`` (the interval's days,
    both ends included), ``persons`` (signed in it), ``persons_per_day``,
    ``cumulative_within_year``, ``rows`` (the rows of the file it comes from).

    Claims with the same ``period_start`` are running totals: the signings between two
    are their difference, and the first counts from the period's start (2023: 185,000 by
    4 July, 1,000 a day; then 140,000 more by 26 September, 1,667 a day; ...). A total
    of a year stated after its end counts until 31 December
    (:attr:`RecruitmentClaim.counted_until`). A running total that falls, or two of a
    period counted until the same day, is refused in one line naming both rows."""
    claims = recruitment_claims() if claims is None else claims
    rows = []
    for period_start in sorted({c.period_start for c in claims}):
        chain = sorted((c for c in claims if c.period_start == period_start),
                       key=lambda c: c.counted_until)
        before = None
        for claim in chain:
            start = period_start if before is None else before.counted_until + \
                datetime.timedelta(days=1)
            done = 0 if before is None else before.persons
            where = f"{claim.source}: row {claim.row}"
            if before is not None and claim.counted_until == before.counted_until:
                raise ObservedError(f"{where}, column as_of: counts until "
                                    f"{claim.counted_until}, as row {before.row} does; "
                                    f"allowed: one claim a day for a period")
            if claim.persons < done:
                raise ObservedError(f"{where}, column persons: {claim.persons:,} by "
                                    f"{claim.counted_until} is below {done:,} by "
                                    f"{before.counted_until} (row {before.row}); allowed: a "
                                    f"running total of the period that never falls")
            days = (claim.counted_until - start).days + 1
            rows.append({"period_start": period_start.isoformat(),
                         "start": start.isoformat(),
                         "end": claim.counted_until.isoformat(), "days": days,
                         "persons": claim.persons - done,
                         "persons_per_day": (claim.persons - done) / days,
                         "cumulative_within_year": claim.cumulative_within_year,
                         "rows": [r for r in (before.row if before else None, claim.row)
                                  if r is not None]})
            before = claim
    return pd.DataFrame(rows, columns=["period_start", "start", "end", "days", "persons",
                                       "persons_per_day", "cumulative_within_year", "rows"])


# ------------------------------------------------------------------ other figures
def other_figures(path: str | Path = OTHER_FIGURES_FILE,
                  name: str | None = None) -> pd.DataFrame:
    """The single public figures: one row per statement, columns ``as_of`` (a date),
    ``figure``, ``value`` (a number in ``unit``, NaN where the statement gives none),
    ``unit``, ``who_said``, ``note`` and ``row`` (its row in the file). Refused in one
    line: a date that is not ``YYYY-MM-DD``, a value that is not a number from 0 to
    :data:`MAX_PERSONS`, an empty ``figure``."""
    table = read_table(path, OTHER_FIGURES_COLUMNS, "one row per figure", name=name)
    records = []
    for row in table.rows:
        if not row.cells["figure"]:
            raise table.fail(row, "figure", "empty", "what the figure is, in words")
        value = number_cell(table, row, "value", 0, MAX_PERSONS,
                            f"a number from 0 to {MAX_PERSONS:,}, or empty", empty=True)
        records.append({"as_of": date_cell(table, row, "as_of"),
                        "figure": row.cells["figure"],
                        "value": float("nan") if value is None else value,
                        "unit": row.cells["unit"], "who_said": row.cells["who_said"],
                        "note": row.cells["note"], "row": row.line})
    return pd.DataFrame(records, columns=[*OTHER_FIGURES_COLUMNS, "row"])
