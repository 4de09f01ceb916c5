"""Battle records: reading a CSV of daily observations and cleaning what real records
get wrong, with a report of every change.

The CSV has a ``day`` column (whole days, in any order, gaps allowed) and any of
:data:`COLUMNS`: each side's strength and cumulative casualties, and cumulative
reinforcements (persons arrived after the first day, up to and including that day).
Reinforcements can also come as a separate schedule (``day,side,persons``: arrivals on
that day). Days are counted from the first day in the file.

Cleaning, each change reported in one line:

* missing days become gaps (not observed), never invented values;
* a cumulative count (casualties, reinforcements) that falls is a glitch: the falling
  values are dropped (reinforcements keep their running maximum);
* an outlier, a value further than 5 robust standard deviations (MAD) from the median of
  its neighbours (two days either side), is dropped.

What is bounded: files of at most :data:`MAX_RECORD_BYTES`, records spanning at most
:data:`sim.fields.MAX_DAYS` days, and values (persons) of at most
:data:`sim.fields.MAX_PERSONS`; ``inf`` and ``nan`` are not numbers here.

    >>> import io
    >>> text = "day,attacker_strength\\n0,1000\\n1,990\\n3,970\\n4,9600\\n5,950\\n6,940\\n"
    >>> record, notes = read_record(io.StringIO(text), "battle.csv")
    >>> record.days
    6
    >>> for note in notes:
    ...     print(note)
    battle.csv: day 2 missing: not observed
    battle.csv: attacker_strength on day 4 is an outlier (9600 against about 950 nearby): dropped
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from sim.fields import MAX_DAYS, MAX_PERSONS
from sim.lawfit import SERIES, Record
from sim.scenarios import one_line

REINFORCEMENT_COLUMNS = ("attacker_reinforcements", "defender_reinforcements")
COLUMNS = SERIES + REINFORCEMENT_COLUMNS
SIDES = ("attacker", "defender")
# A value this many robust standard deviations from its neighbours' median is an outlier.
OUTLIER_MADS = 5.0
OUTLIER_WINDOW_DAYS = 2
#: The largest record read: 16 MiB, several times a century of daily rows.
MAX_RECORD_BYTES = 16 << 20


class RecordError(ValueError):
    """Bad input: one line naming the file, the column or row, and what is allowed
    (control characters echoed from the file are shown escaped)."""

    def __init__(self, message: str):
        super().__init__(one_line(message))


def _read_csv(source: str | Path | IO, name: str) -> pd.DataFrame:
    try:
        if isinstance(source, str | Path):
            size = Path(source).stat().st_size
            if size > MAX_RECORD_BYTES:
                raise RecordError(f"{name}: {size:,} bytes; allowed: a CSV file of at most "
                                  f"{MAX_RECORD_BYTES:,} bytes")
            if not Path(source).is_file():
                raise IsADirectoryError(f"not a file: {name}")
        # As text: every number is read by _numbers, which refuses inf and the huge.
        frame = pd.read_csv(source, dtype=str)
    except FileNotFoundError:
        raise RecordError(f"{name}: no such file; allowed: a CSV file of daily "
                          f"observations") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        first = str(err).strip().splitlines()[0][:80] if str(err).strip() else "empty"
        raise RecordError(f"{name}: not a CSV table ({first}); allowed: a header row and "
                          f"one row per day") from None
    except (OSError, ValueError) as err:
        if isinstance(err, RecordError):
            raise
        raise RecordError(f"{name}: cannot read ({getattr(err, 'strerror', None) or err}); "
                          f"allowed: a CSV file of daily observations") from None
    if frame.empty:
        raise RecordError(f"{name}: no rows; allowed: a header row and one row per day")
    return frame


def _numbers(frame: pd.DataFrame, column: str, name: str,
             limit: float = MAX_PERSONS) -> np.ndarray:
    """A column's numbers (empty cells NaN); RecordError (one line) for one that is not
    a finite number from 0 to ``limit``."""
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = (values.isna() & frame[column].notna()) | ~np.isfinite(values.fillna(0.0))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 2  # header is row 1
        shown = str(frame[column].iloc[row - 2])[:40]
        raise RecordError(f"{name}: row {row}, column {column}: '{shown}' is not a number; "
                          f"allowed: a number of persons, or empty")
    if (values < 0).any():
        row = int(np.flatnonzero((values < 0).to_numpy())[0]) + 2
        raise RecordError(f"{name}: row {row}, column {column}: {values.iloc[row - 2]:g} is "
                          f"negative; allowed: 0 or more persons")
    if (values > limit).any():
        row = int(np.flatnonzero((values > limit).to_numpy())[0]) + 2
        raise RecordError(f"{name}: row {row}, column {column}: {values.iloc[row - 2]:g} is "
                          f"too large; allowed: at most {limit:,.0f}")
    return values.to_numpy(dtype=float)


def _days(frame: pd.DataFrame, name: str) -> np.ndarray:
    """The ``day`` column as whole numbers, spanning at most MAX_DAYS days."""
    values = pd.to_numeric(frame["day"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values) | (values != np.round(values)) | (np.abs(values) > 1e9)
    if bad.any():
        row = int(np.flatnonzero(bad)[0]) + 2
        raise RecordError(f"{name}: row {row}, column day: '{str(frame['day'].iloc[row - 2])[:40]}'"
                          f" is not a day; allowed: every row a whole day number (within "
                          f"1,000,000,000 of 0)")
    days = values.astype(np.int64)
    if days.max() - days.min() > MAX_DAYS:
        raise RecordError(f"{name}: column day: days {days.min()} to {days.max()} span "
                          f"{days.max() - days.min():,} days; allowed: at most {MAX_DAYS:,}")
    return days


def read_record(source: str | Path | IO, name: str | None = None,
                reinforcements: str | Path | IO | None = None,
                initial_attacker: float | None = None,
                initial_defender: float | None = None) -> tuple[Record, list[str]]:
    """Read and clean a battle record; returns it and the list of what was changed.

    Raises :class:`RecordError` (one line) for what cannot be cleaned: no ``day``
    column, no observed series, unknown columns, repeated days, values that are not
    numbers or are negative, a bad reinforcement schedule."""
    name = name or str(source)
    frame = _read_csv(source, name)
    frame.columns = [str(c).strip() for c in frame.columns]
    if "day" not in frame.columns:
        raise RecordError(f"{name}: no 'day' column; allowed: day and any of "
                          f"{', '.join(COLUMNS)}")
    unknown = [c for c in frame.columns if c != "day" and c not in COLUMNS]
    if unknown:
        raise RecordError(f"{name}: unknown column '{unknown[0]}'; allowed: day and any of "
                          f"{', '.join(COLUMNS)}")
    observed_columns = [c for c in SERIES if c in frame.columns]
    if not observed_columns:
        raise RecordError(f"{name}: no observed series; allowed: any of {', '.join(SERIES)}")
    days = _days(frame, name)
    repeated = pd.Series(days).duplicated()
    if repeated.any():
        raise RecordError(f"{name}: day {days[repeated.to_numpy()][0]} appears more than "
                          f"once; allowed: one row per day")
    first = days.min()
    length = int(days.max() - first) + 1
    index = days - first
    notes = [f"{name}: day {first + d} missing: not observed"
             for d in sorted(set(range(length)) - set(index.tolist()))]
    grid = {}
    for column in [c for c in COLUMNS if c in frame.columns]:
        values = np.full(length, np.nan)
        values[index] = _numbers(frame, column, name)
        grid[column] = values
    if not any(np.isfinite(grid[c]).any() for c in observed_columns):
        raise RecordError(f"{name}: no value in {', '.join(observed_columns)}; allowed: at "
                          f"least one observed number")
    for side, given in (("attacker", initial_attacker), ("defender", initial_defender)):
        if given is not None and not (math.isfinite(given) and 0 < given <= MAX_PERSONS):
            raise RecordError(f"--initial-{side}: {given:g}; allowed: persons above 0, at "
                              f"most {MAX_PERSONS:,}")
    arrivals = np.zeros((length, 2))
    for s, column in enumerate(REINFORCEMENT_COLUMNS):
        if column in grid:
            arrivals[:, s], more = _arrivals(grid[column], column, name, first)
            notes += more
    if reinforcements is not None:
        arrivals += _schedule(reinforcements, length, first)
    arrived = np.cumsum(arrivals, axis=0)
    for column in observed_columns:
        if column.endswith("_casualties"):
            notes += _drop_falls(grid[column], column, name, first)
            notes += _drop_outliers(grid[column], column, name, first)
        else:
            # Arrivals make a strength jump on purpose: look for outliers in what the
            # fighting alone did to it.
            side_arrived = arrived[:, SIDES.index(column.split("_")[0])]
            fought = grid[column] - side_arrived
            notes += _drop_outliers(fought, column, name, first, offset=side_arrived)
            grid[column][np.isnan(fought)] = np.nan
    initial = {"attacker": initial_attacker, "defender": initial_defender}
    observed = {c: grid[c] for c in observed_columns}
    return Record(observed, arrivals, initial), notes


def _drop_falls(values: np.ndarray, column: str, name: str, first: int) -> list[str]:
    """A cumulative count that falls: the values below the running maximum go."""
    notes, peak = [], -np.inf
    for d, v in enumerate(values):
        if np.isnan(v):
            continue
        if v < peak:
            notes.append(f"{name}: {column} falls on day {first + d} ({v:g} after "
                         f"{peak:g}); a cumulative count cannot: dropped")
            values[d] = np.nan
        else:
            peak = v
    return notes


def _drop_outliers(values: np.ndarray, column: str, name: str, first: int,
                   offset: np.ndarray | None = None) -> list[str]:
    """Values far from the median of their neighbours, in robust standard deviations
    of the series' day-to-day changes, set to NaN in ``values``; the notes add
    ``offset`` back (the arrivals taken out of a strength) to show recorded values."""
    offset = np.zeros(len(values)) if offset is None else offset
    changes = np.diff(values[np.isfinite(values)])
    if changes.size < 4:
        return []
    spread = 1.4826 * np.median(np.abs(changes - np.median(changes)))
    spread = max(spread, 1e-9 * np.nanmax(np.abs(values)), 1.0)
    notes = []
    limit = OUTLIER_MADS * spread * (1 + OUTLIER_WINDOW_DAYS)
    # The worst first, then again without it: an outlier must not make its neighbours
    # look like outliers.
    while True:
        worst, worst_excess, worst_centre = None, 0.0, 0.0
        for d in np.flatnonzero(np.isfinite(values)):
            around = np.r_[values[max(0, d - OUTLIER_WINDOW_DAYS):d],
                           values[d + 1:d + 1 + OUTLIER_WINDOW_DAYS]]
            around = around[np.isfinite(around)]
            if around.size < 2:
                continue
            centre = float(np.median(around))
            excess = abs(values[d] - centre) - limit
            if excess > worst_excess:
                worst, worst_excess, worst_centre = d, excess, centre
        if worst is None:
            return notes
        notes.append(f"{name}: {column} on day {first + worst} is an outlier "
                     f"({values[worst] + offset[worst]:g} against about "
                     f"{worst_centre + offset[worst]:g} nearby): dropped")
        values[worst] = np.nan


def _arrivals(cumulative: np.ndarray, column: str, name: str,
              first: int) -> tuple[np.ndarray, list[str]]:
    """Daily arrivals from cumulative reinforcements: gaps carry the last value, and a
    fall keeps the running maximum (reported)."""
    notes = []
    filled = pd.Series(cumulative).ffill().fillna(0.0).to_numpy()
    running = np.maximum.accumulate(filled)
    for d in np.flatnonzero(filled < running):
        notes.append(f"{name}: {column} falls on day {first + d} ({filled[d]:g} after "
                     f"{running[d]:g}); kept at {running[d]:g}")
    if running[0] > 0:
        notes.append(f"{name}: {column} is {running[0]:g} on the first day: counted in the "
                     f"initial strength, not as arrivals")
    return np.diff(running, prepend=running[0]), notes


def _schedule(source: str | Path | IO, length: int, first: int) -> np.ndarray:
    name = str(source)
    frame = _read_csv(source, name)
    frame.columns = [str(c).strip() for c in frame.columns]
    missing = [c for c in ("day", "side", "persons") if c not in frame.columns]
    if missing:
        raise RecordError(f"{name}: no '{missing[0]}' column; allowed: day, side, persons")
    arrivals = np.zeros((length, 2))
    days = _days(frame, name)
    persons = _numbers(frame, "persons", name)
    for row, (day, side, count) in enumerate(zip(days, frame["side"], persons, strict=True)):
        if side not in SIDES:
            raise RecordError(f"{name}: row {row + 2}, column side: '{str(side)[:40]}'; "
                              f"allowed: attacker, defender")
        if not np.isfinite(count):
            raise RecordError(f"{name}: row {row + 2}, column persons: empty; allowed: a "
                              f"number of persons")
        d = int(day) - first
        if not 0 < d < length:
            raise RecordError(f"{name}: row {row + 2}: day {int(day)} is outside the "
                              f"record's days after the first ({first + 1} to "
                              f"{first + length - 1})")
        arrivals[d, SIDES.index(side)] += count
    return arrivals
