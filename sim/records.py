"""Battle records: reading a CSV of daily observations and cleaning what real records
get wrong, with a report of every change.

The CSV has a ``day`` column (whole days, in any order, gaps allowed) and any of
:data:`COLUMNS`: each side's strength and cumulative casualties, and cumulative
reinforcements (persons arrived after the first day, up to and including that day).
Reinforcements can also come as a separate schedule (``day,side,persons``: arrivals on
that day). Days are counted from the first day in the file.

Cleaning, each change reported in one line (file, column, day as in the file, the value
recorded, what its neighbours suggest, what was done):

* missing days become gaps (not observed), never invented values;
* a cumulative count (casualties, reinforcements) cannot fall: the fewest values whose
  removal leaves it non-decreasing are dropped (a longest non-decreasing subsequence; of
  equal choices, the values further from what their neighbours suggest go), so a one-day
  typo upwards costs that day, not the correct days after it. Reinforcements then carry
  the last value kept: a one-day spike is not an arrival;
* an outlier is dropped: a value that its neighbours contradict, off every straight line
  through them (three each side: the line through both sides, through those before it,
  through those after it; near the ends, through the value next to it) by more than 5
  robust standard deviations (at least half a person) of the residuals from such lines,
  and by more than half a day's change along the steepest of them. Lines, not medians, so
  that a trend or the ends of a clean record are not outliers; every line, so that a step
  (a big day) is not one (a big day on the very last day cannot be told from a typo, and
  goes). A strength is judged net of its arrivals (a landing is not an outlier); a
  cumulative count's 0 on its first day is where it starts;
* a casualty count above 0 on the first day is kept and reported: the record starts
  mid-battle, and the law fits take the casualties before it as an offset.

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
    battle.csv: attacker_strength on day 4 is an outlier (9600 against about 960 nearby): dropped
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
# A value this many robust standard deviations from its neighbours' line is an outlier.
OUTLIER_SDS = 5.0
# Observed values on each side of a day that judge it: 3 + 3 outvote a typo among them.
NEIGHBOURS_EACH_SIDE = 3
# Nor is a value within this many days' change of the line (a curve bends away from it).
FLOOR_DAYS = 0.5
# Records are in whole persons: a spread below half a person is rounding, not precision.
MIN_SPREAD_PERSONS = 0.5
# Fewer values than this say too little about each other to call one of them wrong.
MIN_VALUES_JUDGED = 5
# Each round drops the worst outliers among their neighbours; typos seldom come in runs
# long enough to need more, and a bound keeps hostile records O(n).
OUTLIER_ROUNDS = 16
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
    if not isinstance(frame.index, pd.RangeIndex):
        # pandas takes a first row of one cell more than the header as an index column and
        # shifts every column by one: refused, not read shifted.
        raise RecordError(f"{name}: row 2 has {len(frame.columns) + 1} cells, the header "
                          f"{len(frame.columns)} (a comma at the end of each row?); allowed: "
                          f"as many cells in each row as in the header")
    for column in frame.columns:
        repeated, dot, number = str(column).rpartition(".")
        if dot and number.isdigit() and repeated in frame.columns:
            raise RecordError(f"{name}: column '{repeated}' appears more than once; allowed: "
                              f"each column once")
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
            notes += _falls(grid[column], column, name, first,
                            fall_done="a cumulative count cannot: dropped",
                            rise_done="a cumulative count cannot fall: dropped")
            notes += _drop_outliers(grid[column], column, name, first, zero_start=True)
            notes += _mid_battle(grid[column], column, name, first)
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


# ------------------------------------------------------------------ what neighbours say
def _median_of_rows(values: np.ndarray) -> np.ndarray:
    """The median along the last axis, by sorting: for rows of a few values, several
    times faster than np.median."""
    ordered = np.sort(values, axis=-1)
    middle = values.shape[-1] // 2
    if values.shape[-1] % 2:
        return ordered[..., middle]
    return (ordered[..., middle - 1] + ordered[..., middle]) / 2


def _robust_lines(days: np.ndarray, values: np.ndarray,
                  at: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each row's straight line through its points (``days``, ``values``: rows x w, w >= 2)
    evaluated on day ``at``: (value there, slope in persons a day, leverage).

    The line is Siegel's repeated median, so one wrong value among a row's points does not
    move it (a typo must not make its neighbours look wrong). The leverage is least
    squares' ``1/w + (at - mean day)^2 / sum of squares of days``: an extrapolation (the
    first and last days) is less sure than an interpolation, and residuals are divided by
    ``sqrt(1 + leverage)`` to be comparable."""
    width = days.shape[1]
    pairs = ~np.eye(width, dtype=bool)
    one, other = (np.nonzero(pairs)[0].reshape(width, width - 1),
                  np.nonzero(pairs)[1].reshape(width, width - 1))
    slopes = (values[:, one] - values[:, other]) / (days[:, one] - days[:, other])
    slope = _median_of_rows(_median_of_rows(slopes))
    value = _median_of_rows(values - slope[:, None] * (days - at[:, None]))
    mean_day = days.mean(axis=1)
    spread = ((days - mean_day[:, None]) ** 2).sum(axis=1)
    return value, slope, 1.0 / width + (at - mean_day) ** 2 / spread


def _around(count: int) -> np.ndarray:
    """For each of ``count`` observed values, the positions of the 2 x
    :data:`NEIGHBOURS_EACH_SIDE` others nearest it (shifted inwards at the ends, so the
    first day is judged by the days after it): count x width, width >= 1."""
    width = min(2 * NEIGHBOURS_EACH_SIDE, count - 1)
    position = np.arange(count)
    start = np.clip(position - NEIGHBOURS_EACH_SIDE, 0, count - 1 - width)
    window = start[:, None] + np.arange(width + 1)
    return window[window != position[:, None]].reshape(count, width)


def _suggested(days: np.ndarray, values: np.ndarray) -> np.ndarray:
    """What each observed value's neighbours suggest it should be: their line on its day
    (the other value where there are only two)."""
    if values.size < 2:
        return values.copy()
    window = _around(values.size)
    if window.shape[1] == 1:
        return values[window[:, 0]]
    return _robust_lines(days[window], values[window], days)[0]


def _one_sided(days: np.ndarray, values: np.ndarray, before: bool,
               lowest: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each value's residual from the line through the (up to
    :data:`NEIGHBOURS_EACH_SIDE`, at least 2) values just before it (or after it), that
    line's slope and its leverage there; the residual is inf where there are fewer than 2.
    The line's value is not taken below ``lowest`` (no count goes below 0)."""
    count = values.size
    residual, slope, leverage = np.full(count, np.inf), np.zeros(count), np.zeros(count)
    for width in range(2, NEIGHBOURS_EACH_SIDE + 1):
        # The rows with `width` values on that side: at the full width, all with at least
        # that many; below it, the one row with exactly `width`.
        rows = np.arange(count)
        on_that_side = rows if before else count - 1 - rows
        rows = rows[on_that_side >= width] if width == NEIGHBOURS_EACH_SIDE else \
            rows[on_that_side == width]
        if rows.size == 0:
            continue
        steps = np.arange(-width, 0) if before else np.arange(1, width + 1)
        window = rows[:, None] + steps
        value, slope[rows], leverage[rows] = _robust_lines(days[window], values[window],
                                                           days[rows])
        residual[rows] = values[rows] - np.maximum(value, lowest[rows])
    return residual, slope, leverage


def _near_the_ends(days: np.ndarray, values: np.ndarray, slope: np.ndarray,
                   day_spread: np.ndarray,
                   lowest: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the first two and the last two values (which lack a line on one side): the
    residual from the line through the value next to it (the second for the first, the
    first for the second, and so on at the other end) at ``slope`` (the robust slope of
    its neighbours on both sides, which a big day among them does not bend), that slope
    and the leverage (``1 + gap^2 / day_spread``, the slope's uncertainty carried over the
    gap); inf elsewhere.

    A big day in the first or last days of a record leaves the values behind it on such
    a line: only a value off every line is a typo."""
    count = values.size
    residual, leverage = np.full(count, np.inf), np.zeros(count)
    for row, anchor in ((0, 1), (1, 0), (count - 2, count - 1), (count - 1, count - 2)):
        gap = days[row] - days[anchor]
        line = max(values[anchor] + slope[row] * gap, lowest[row])
        residual[row] = values[row] - line
        leverage[row] = 1.0 + gap ** 2 / day_spread[row]
    return residual, slope, leverage


def _contradiction(days: np.ndarray, values: np.ndarray,
                   lowest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """How far each observed value is from what its neighbours suggest, in units of the
    threshold (above 1: an outlier), and what they suggest (not below ``lowest``).

    A value is measured against straight lines through its neighbours: on both sides,
    before it, after it, and for the two values at each end through the value next to it
    (:func:`_near_the_ends`); the closest line counts. A typo is far from all of them;
    the last day before a big day (or the first after it) lies on one side's line, so a
    step in the record is not an outlier.

    The threshold is :data:`OUTLIER_SDS` robust standard deviations (MAD) of the
    residuals from the two-sided lines (each divided by ``sqrt(1 + leverage)``: an
    extrapolation is less sure), measured on the values that move: a stretch where a value
    stays exactly the same (a side no longer fighting, a count not updated) has no noise to
    measure. It is never less than :data:`FLOOR_DAYS` of a day's change along the
    steepest of the lines, nor than :data:`OUTLIER_SDS` x :data:`MIN_SPREAD_PERSONS`: a
    clean linear record has no spread at all, and a curve bends away from a straight line
    by a part of a day's change."""
    window = _around(values.size)
    suggested, slope, leverage = _robust_lines(days[window], values[window], days)
    suggested = np.maximum(suggested, lowest)
    day_spread = ((days[window] - days[window].mean(axis=1)[:, None]) ** 2).sum(axis=1)
    sides = [(values - suggested, slope, leverage),
             *(_one_sided(days, values, before, lowest) for before in (True, False)),
             _near_the_ends(days, values, slope, day_spread, lowest)]
    # Inside a flat stretch: equal to both neighbours (the ends never are: never empty).
    flat = np.r_[False, (values[1:-1] == values[:-2]) & (values[1:-1] == values[2:]), False]
    scaled = (sides[0][0] / np.sqrt(1 + leverage))[~flat]
    spread = 1.4826 * float(np.median(np.abs(scaled - np.median(scaled))))
    threshold = OUTLIER_SDS * max(spread, MIN_SPREAD_PERSONS)
    steepest = np.max([np.where(np.isfinite(residual), np.abs(side_slope), 0.0)
                       for residual, side_slope, _ in sides], axis=0)
    least = np.full(values.size, np.inf)
    for residual, _, side_leverage in sides:
        least = np.minimum(least, np.abs(residual) / np.maximum(
            threshold * np.sqrt(1 + side_leverage), FLOOR_DAYS * steepest))
    return least, suggested


# ------------------------------------------------------------------------- the rules
def _fewest_falls(values: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Which values to keep (a mask) so that the kept are non-decreasing with the fewest
    dropped: a longest non-decreasing subsequence, O(n log n) (a Fenwick tree of the best
    subsequence ending at or below each value). Of equally long ones, the one whose kept
    values cost least: with ``cost`` the distance from what the neighbours suggest, the
    value further from it goes. A one-day typo upwards thus costs one value, not the two
    correct days after it."""
    count = values.size
    if count < 2 or bool(np.all(np.diff(values) >= 0)):
        return np.ones(count, dtype=bool)
    rank = (np.unique(values, return_inverse=True)[1] + 1).tolist()
    # Integer weights: one more value kept always beats any saving in cost.
    cost_units = np.round(1e6 * cost / max(float(cost.max()), 1e-300)).astype(np.int64).tolist()
    per_value = int(sum(cost_units)) + 1
    size = max(rank)
    tree_best, tree_end = [0] * (size + 1), [-1] * (size + 1)
    best, previous = [0] * count, [-1] * count
    for i in range(count):
        top, end, slot = 0, -1, rank[i]
        while slot > 0:
            if tree_best[slot] > top:
                top, end = tree_best[slot], tree_end[slot]
            slot -= slot & -slot
        best[i], previous[i] = top + per_value - cost_units[i], end
        slot = rank[i]
        while slot <= size:
            if tree_best[slot] < best[i]:
                tree_best[slot], tree_end[slot] = best[i], i
            slot += slot & -slot
    keep = np.zeros(count, dtype=bool)
    i = int(np.argmax(best))
    while i >= 0:
        keep[i] = True
        i = previous[i]
    return keep


def _falls(values: np.ndarray, column: str, name: str, first: int, fall_done: str,
           rise_done: str, suggest: bool = True) -> list[str]:
    """A cumulative count that falls: the fewest values whose removal leaves it
    non-decreasing are set to NaN in ``values``, one note each.

    A value below an earlier kept one ``falls``; one above a later kept one (a typo
    upwards) ``rises above the days after it``. ``fall_done`` and ``rise_done`` end the
    notes (``{kept}`` in them: the last value kept before it, what a running total holds
    there); ``suggest`` adds what the neighbours' line suggests (not for a step function
    like reinforcements, where the kept value says it)."""
    position = np.flatnonzero(np.isfinite(values))
    observed = values[position]
    if bool(np.all(np.diff(observed) >= 0)):
        return []
    suggested = np.maximum(_suggested(position.astype(float), observed), 0.0)
    keep = _fewest_falls(observed, np.abs(observed - suggested))
    kept_before = np.maximum.accumulate(np.where(keep, observed, -np.inf))
    # The first kept value after each (the kept rise, so it is also the least after it).
    kept_index = np.where(keep, np.arange(observed.size), observed.size)
    next_kept = np.r_[np.minimum.accumulate(kept_index[::-1])[::-1][1:], observed.size]
    notes = []
    for i in np.flatnonzero(~keep):
        before = kept_before[i]
        kept = _shown(before if np.isfinite(before) else 0.0)
        hint = f"; its neighbours suggest about {_about(suggested[i])}" if suggest else ""
        if before > observed[i]:
            notes.append(f"{name}: {column} falls on day {first + position[i]} "
                         f"({_shown(observed[i])} after {_shown(before)}{hint}); "
                         f"{fall_done.format(kept=kept)}")
        else:
            after = next_kept[i]
            notes.append(f"{name}: {column} rises on day {first + position[i]} above the days "
                         f"after it ({_shown(observed[i])}, then {_shown(observed[after])} on "
                         f"day {first + position[after]}{hint}); "
                         f"{rise_done.format(kept=kept)}")
    values[position[~keep]] = np.nan
    return notes


def _drop_outliers(values: np.ndarray, column: str, name: str, first: int,
                   offset: np.ndarray | None = None, zero_start: bool = False) -> list[str]:
    """Values their neighbours contradict (:func:`_contradiction` above 1) set to NaN in
    ``values``, one note each; the notes add ``offset`` back (the arrivals taken out of a
    strength) to show recorded values. With ``zero_start`` (a cumulative count), a first
    value of 0 is where the count starts, never an outlier.

    In rounds: each drops the values that are the most contradicted among their
    neighbours, then judges again without them (a typo must not take its neighbours with
    it); at most :data:`OUTLIER_ROUNDS` rounds, so the work stays O(n)."""
    offset = np.zeros(len(values)) if offset is None else offset
    dropped = {}
    # Only values contradicted as recorded can go: dropping one must not make its
    # neighbours the new ends of a bend and eat the record.
    suspect = np.ones(len(values), dtype=bool)
    for _ in range(OUTLIER_ROUNDS):
        position = np.flatnonzero(np.isfinite(values))
        if position.size < MIN_VALUES_JUDGED:
            break
        observed = values[position]
        contradiction, suggested = _contradiction(position.astype(float), observed,
                                                  -offset[position])
        outlier = (contradiction > 1.0) & suspect[position]
        if zero_start and observed[0] == 0:
            outlier[0] = False
        suspect[position[~outlier]] = False
        if not outlier.any():
            break
        # Rank by contradiction (ties: the earlier day ranks higher); a value goes this
        # round only if it outranks every outlier among its neighbours.
        rank = np.empty(observed.size)
        rank[np.lexsort((-np.arange(observed.size), contradiction))] = np.arange(observed.size)
        outlier_rank = np.where(outlier, rank, -1.0)
        worst = outlier & (rank > outlier_rank[_around(observed.size)].max(axis=1))
        for i in np.flatnonzero(worst):
            d = position[i]
            dropped[d] = (f"{name}: {column} on day {first + d} is an outlier "
                          f"({_shown(observed[i] + offset[d])} against about "
                          f"{_about(suggested[i] + offset[d])} nearby): dropped")
        values[position[worst]] = np.nan
    return [dropped[d] for d in sorted(dropped)]


def _shown(value: float) -> str:
    """A recorded value as written: 530320, 1480.5 (never 5.3e+05, nor the last bits of
    a strength put back together from its arrivals)."""
    value = round(float(value), 6)
    return str(int(value)) if value.is_integer() else repr(value)


def _about(value: float) -> str:
    """What neighbours suggest, to the whole person (a line's value has no more)."""
    return str(round(float(value)))


def _mid_battle(values: np.ndarray, column: str, name: str, first: int) -> list[str]:
    """A casualty count above 0 on the record's first day: the battle began before it."""
    if not (np.isfinite(values[0]) and values[0] > 0):
        return []
    return [f"{name}: {column} is {_shown(values[0])} on the first day (day {first}): the "
            f"record starts mid-battle; the law fits take the casualties before it as an "
            f"offset"]


def _arrivals(cumulative: np.ndarray, column: str, name: str,
              first: int) -> tuple[np.ndarray, list[str]]:
    """Daily arrivals from cumulative reinforcements: the fewest values that keep it from
    falling are dropped (a one-day spike is not an arrival), then gaps and drops carry the
    last value kept (reported)."""
    cumulative = cumulative.copy()
    notes = _falls(cumulative, column, name, first, fall_done="kept at {kept}",
                   rise_done="not an arrival: taken as {kept}", suggest=False)
    filled = pd.Series(cumulative).ffill().fillna(0.0).to_numpy()
    if filled[0] > 0:
        notes.append(f"{name}: {column} is {_shown(filled[0])} on the first day: counted in "
                     f"the initial strength, not as arrivals")
    return np.diff(filled, prepend=filled[0]), notes


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
