"""History as a test: each historical scenario set beside every dated public claim it is
checked on (``attrition validate``).

The targets are rows of ``seeds/claims.csv`` (:mod:`sim.claims`): a quantity of a run
(killed, wounded, persons on the line, the day the run ended, ...), whose it is, on what
day, and the figure claimed, with its range where the source gives one. Each scenario
runs ``replicates`` times (replicate ``i`` under seed ``run_seed(seed, 0, i)``, as
``attrition run --replicates`` does); for each target the model gives its mean and the
90% interval of single runs (the 5th and 95th percentiles over the replicates). A claim
is *inside* when its figure lies in that interval or, for a claim with a range or a
bound, when the range and the interval overlap. A ``tuned`` target is a figure the
scenario was calibrated on; a ``predicted`` one never was, and is a genuine
out-of-sample check.

    >>> import pandas as pd
    >>> daily = pd.DataFrame({"day": [0, 1, 2], "side": "attacker", "contingent": "all",
    ...                       "killed": [0, 5, 2], "killed_total": [0, 5, 7]})
    >>> observe(daily, "killed", "attacker", day=1), observe(daily, "killed", "attacker")
    (5.0, 7.0)
    >>> [round(x, 3) for x in spread([1.0, 2.0, 3.0, 4.0])]  # mean, q05, q95, n
    [2.5, 1.15, 3.85, 4]
    >>> inside(300, 250, 349, q05=310, q95=420), inside(300, None, None, q05=310, q95=420)
    (True, False)

:func:`validate` is the whole of it; :func:`prepare` checks everything (the claims, the
scenarios, each target against its scenario) before any run, and :func:`execute` runs.
:func:`write_validation` writes ``validation.md``, ``.csv``, ``.json`` and a figure per
scenario.
"""

from __future__ import annotations

import csv
import datetime
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from sim import Scenario, __version__
from sim import run as run_scenario
from sim.claims import (
    CLAIMS_FILE,
    CUMULATIVE,
    DATE_VALUED,
    DATED,
    QUANTITIES,
    Claim,
    load_claims,
    targeted_scenarios,
    targets,
)
from sim.seeds import replicate_seeds

#: The model's interval: these percentiles of single runs (numpy's default, linear).
PERCENTILES = (5.0, 95.0)
#: Replicates of each scenario unless told otherwise.
DEFAULT_REPLICATES = 20
#: The curve the figure draws for the claims of the deadliest days (peak_daily_killed,
#: deadliest_day): the killed of each day.
DAILY_KILLED = "daily_killed"
_PEAK_QUANTITIES = ("peak_daily_killed", "deadliest_day")


class TargetError(ValueError):
    """A target that cannot be checked on a scenario, or a scenario with no targets;
    ``str()`` is one line: what is wrong and what is allowed."""


# ------------------------------------------------------------ one run's quantities
def who_rows(daily: pd.DataFrame, side: str, contingent: str = "all") -> pd.DataFrame:
    """A run's daily rows of one side (``contingent`` ``all``) or one contingent, by
    day; ``ValueError`` if it has none."""
    rows = daily[(daily["side"] == side) & (daily["contingent"] == contingent)]
    if rows.empty:
        raise ValueError(f"the daily record has no rows of {side}/{contingent}")
    return rows.sort_values("day")


def _split_who(who: str) -> tuple[str, str]:
    side, _, contingent = who.partition("/")
    return side, contingent or "all"


def daily_series(daily: pd.DataFrame, quantity: str, who: str, days: int) -> np.ndarray:
    """A cumulative quantity (killed, wounded, casualties, released, recruited) or the
    persons fighting of ``who`` on each day 0 to ``days``. After the run's last day a
    cumulative quantity keeps its last value and the persons fighting are 0.

    >>> daily = pd.DataFrame({"day": [0, 1], "side": "attacker", "contingent": "all",
    ...     "recruited": [10, 5], "personnel_fighting": [8, 6]})
    >>> daily_series(daily, "recruited", "attacker", 3).tolist()
    [10.0, 15.0, 15.0, 15.0]
    >>> daily_series(daily, "fighting", "attacker", 3).tolist()
    [8.0, 6.0, 0.0, 0.0]
    """
    if quantity not in DATED + (DAILY_KILLED,):
        raise ValueError(f"{quantity} is not a quantity of a day; allowed: "
                         f"{', '.join(DATED)}")
    rows = who_rows(daily, *_split_who(who))
    if quantity == DAILY_KILLED:  # the day's dead, as the peak's claims are read
        values = rows["killed"].to_numpy().astype(float)
        out = np.zeros(days + 1)
        out[:min(len(values), days + 1)] = values[:days + 1]
        return out
    column = {"killed": "killed_total", "wounded": "wounded_total",
              "released": "released_total", "fighting": "personnel_fighting"}
    if quantity == "casualties":
        values = rows["killed_total"].to_numpy() + rows["wounded_total"].to_numpy()
    elif quantity == "recruited":
        values = rows["recruited"].cumsum().to_numpy()
    else:
        values = rows[column[quantity]].to_numpy()
    values = values.astype(float)
    out = np.zeros(days + 1)
    n = min(len(values), days + 1)
    out[:n] = values[:n]
    if quantity in CUMULATIVE and n < days + 1:
        out[n:] = values[-1]
    return out


def observe(daily: pd.DataFrame, quantity: str, who: str, day: int | None = None) -> float:
    """One run's value of a target's quantity: on ``day`` (a day number; none is the
    run's last day) for the quantities of a day, else over the whole run. A day after
    the run's end gives the last day's cumulative value, and 0 persons fighting.
    ``deadliest_day`` (the first day with the most killed) and ``end_date`` (the run's
    last day) are day numbers. ``killed_per_recruited`` is NaN if none were recruited.

    >>> daily = pd.DataFrame({"day": [0, 1, 2], "side": "attacker", "contingent": "x",
    ...     "killed": [0, 4, 4], "killed_total": [0, 4, 8], "recruited": [10, 6, 0]})
    >>> [observe(daily, q, "attacker/x") for q in ("peak_daily_killed", "deadliest_day",
    ...                                            "end_date", "killed_per_recruited")]
    [4.0, 1.0, 2.0, 0.5]
    """
    rows = who_rows(daily, *_split_who(who))
    last = int(rows["day"].iloc[-1])
    if quantity in DATED:
        at = last if day is None else int(day)
        if at < 0:
            raise ValueError(f"day {at} is before the run's start")
        return float(daily_series(daily, quantity, who, max(at, last))[at])
    if quantity == "peak_daily_killed":
        return float(rows["killed"].max())
    if quantity == "deadliest_day":
        return float(rows["day"].iloc[int(np.argmax(rows["killed"].to_numpy()))])
    if quantity == "end_date":
        return float(last)
    if quantity == "killed_per_recruited":
        recruited = float(rows["recruited"].sum())
        return float(rows["killed_total"].iloc[-1]) / recruited if recruited else math.nan
    raise ValueError(f"unknown quantity {quantity!r}; allowed: {', '.join(QUANTITIES)}")


# ------------------------------------------------------------------- statistics
class Spread(NamedTuple):
    """The model's mean and its 90% interval of single runs over the replicates that
    have a value (``n``)."""

    mean: float
    q05: float
    q95: float
    n: int


def spread(values: Sequence[float]) -> Spread:
    """Mean, 5th and 95th percentiles (``numpy.percentile``, linear) of the finite
    values; NaN with none."""
    finite = np.asarray([v for v in values if math.isfinite(v)], dtype=float)
    if finite.size == 0:
        return Spread(math.nan, math.nan, math.nan, 0)
    q05, q95 = np.percentile(finite, PERCENTILES)
    return Spread(float(finite.mean()), float(q05), float(q95), int(finite.size))


def inside(value: float, low: float | None, high: float | None, q05: float,
           q95: float) -> bool:
    """Whether a claim agrees with the model's interval ``[q05, q95]``: a point claim
    (no ``low``, no ``high``) when its value lies in it; a claim with a range or a
    bound when the range (an open side unbounded) and the interval overlap. False if
    the model has no interval (NaN).

    >>> inside(100, 100, None, q05=20, q95=99), inside(100, 100, None, q05=20, q95=100)
    (False, True)
    >>> inside(0, None, 5, q05=6, q95=9), inside(7, None, None, q05=6, q95=9)
    (False, True)
    """
    if math.isnan(q05) or math.isnan(q95):
        return False
    if low is None and high is None:
        return q05 <= value <= q95
    low = -math.inf if low is None else low
    high = math.inf if high is None else high
    return low <= q95 and high >= q05


def day_number(date: datetime.date, start: datetime.date) -> int:
    """Days from ``start`` (day 0) to ``date``."""
    return (date - start).days


def date_of(day: float, start: datetime.date, rounding: Callable[[float], float] = round
            ) -> str:
    """The ISO date of a (possibly fractional) day number, rounded by ``rounding``.

    >>> date_of(1.5, datetime.date(2025, 1, 1), math.floor)
    '2025-01-02'
    """
    return (start + datetime.timedelta(days=int(rounding(day)))).isoformat()


# ------------------------------------------------------------------- the targets
@dataclass
class Plan:
    """What :func:`execute` runs: each scenario (resolved) and its targets, checked."""

    scenarios: dict[str, Scenario]
    targets: dict[str, list[Claim]]
    claims_file: Path
    replicates: int


def prepare(scenario_names: Sequence[str] = (), replicates: int = DEFAULT_REPLICATES,
            claims_file: Path | str = CLAIMS_FILE) -> Plan:
    """Read the claims and the scenarios and check every target against its scenario,
    before anything runs. With no names, every scenario that has targets. Raises
    :class:`sim.claims.ClaimsError` (a malformed claims file),
    :class:`sim.scenarios.ScenarioError` (a scenario that does not load) or
    :class:`TargetError` (a scenario without targets, a target its scenario cannot
    answer)."""
    from sim import scenarios as scenario_files

    claims_file = Path(claims_file)
    if replicates < 2:
        raise TargetError(f"replicates: {replicates}; allowed: 2 or more (an interval of "
                          f"single runs needs several)")
    claims = load_claims(claims_file)
    known = targeted_scenarios(claims)
    if not known:
        raise TargetError(f"{claims_file}: no claim has a target; allowed: a claims file "
                          f"with target columns filled (seeds/README.md)")
    names = list(dict.fromkeys(scenario_names)) or known
    for name in names:
        if name not in known:
            raise TargetError(f"{_shown(name)}: no targets in {claims_file}; allowed: one "
                              f"of {', '.join(known)}")
    plan = Plan({}, {}, claims_file, replicates)
    for name in names:
        try:
            scenario_files.find(name)
        except FileNotFoundError:
            ids = ", ".join(c.id for c in targets(claims, name))
            raise TargetError(f"{claims_file}: the targets of {ids} name scenario "
                              f"'{name}', which does not exist; allowed: one of "
                              f"{', '.join(scenario_files.available())}") from None
        # Each process holds one run at a time and keeps only the targets' values and
        # curves: the memory estimate is a single run's.
        scenario = scenario_files.load(name)
        found = targets(claims, name)
        for claim in found:
            try:
                check_target(claim, name, scenario)
            except TargetError as err:
                raise TargetError(f"{claims_file}: {err}") from None
        plan.scenarios[name], plan.targets[name] = scenario, found
    return plan


def _shown(text: str) -> str:
    from sim.publish import shown

    return shown(text, 80)


def check_target(claim: Claim, name: str, scenario: Scenario) -> None:
    """``TargetError`` unless ``scenario`` (named ``name``) can answer ``claim``'s
    target: its side has the contingent named, and a dated target or a quantity whose
    value is a date has a ``start_date`` to count from, not after the target's day."""
    side, contingent = claim.side, claim.contingent
    names = sorted({g.contingent for g in getattr(scenario, side).units})
    if contingent != "all" and contingent not in names:
        allowed = ", ".join([side] + [f"{side}/{n}" for n in names])
        raise TargetError(f"claim '{claim.id}': who: no contingent '{contingent}' on the "
                          f"{side} side of {name}; allowed: {allowed}")
    dated = claim.target_date is not None or claim.quantity in DATE_VALUED
    if dated and scenario.start_date is None:
        raise TargetError(f"claim '{claim.id}': {claim.quantity} on a date, but {name} has "
                          f"no start_date; allowed: a scenario with a start_date, or an "
                          f"undated target")
    if claim.target_date is not None and claim.target_date < scenario.start_date:
        raise TargetError(f"claim '{claim.id}': target_date {claim.target_date} is before "
                          f"{name}'s start_date {scenario.start_date}; allowed: a date from "
                          f"the start on")
    if claim.target_date is not None:
        # Past max_days a run says nothing (it was cut off, not ended there).
        last = scenario.date_of(scenario.max_days)
        if claim.target_date > last:
            raise TargetError(f"claim '{claim.id}': target_date {claim.target_date} is after "
                              f"{name}'s last day {last} (max_days {scenario.max_days}); "
                              f"allowed: a date up to {last}")
    if claim.quantity in _PEAK_QUANTITIES and scenario.start_date is None:
        raise TargetError(f"claim '{claim.id}': {claim.quantity} is drawn over the calendar, "
                          f"but {name} has no start_date; allowed: a scenario with a "
                          f"start_date")


# ------------------------------------------------------------------------ runs
class _Spec(NamedTuple):
    """A target as a worker computes it: quantity, who and day number (or none)."""

    quantity: str
    who: str
    day: int | None


def _specs(scenario: Scenario, found: list[Claim]) -> list[_Spec]:
    start = scenario.start_date
    return [_Spec(c.quantity, c.who, None if c.target_date is None
                  else day_number(c.target_date, start)) for c in found]


def _curves(found: list[Claim]) -> list[tuple[str, str]]:
    """The (quantity, who) pairs whose daily curve the figure draws: those of dated
    claims of a quantity of a day, and the day's killed of the claims of the deadliest
    days, in the table's order."""
    pairs = [(c.quantity, c.who) for c in found
             if c.target_date is not None and c.quantity in DATED]
    pairs += [(DAILY_KILLED, c.who) for c in found if c.quantity in _PEAK_QUANTITIES]
    return list(dict.fromkeys(pairs))


def _horizon(scenario: Scenario, specs: list[_Spec]) -> int:
    return max([scenario.max_days] + [s.day for s in specs if s.day is not None])


def measure(scenario: Scenario, seed: int, specs: Sequence[_Spec],
            curves: Sequence[tuple[str, str]], horizon: int
            ) -> tuple[list[float], dict[tuple[str, str], np.ndarray], int]:
    """One run of ``scenario`` under ``seed``: the value of each target (``specs``),
    the daily curve of each (quantity, who) in ``curves`` to day ``horizon``, and the
    run's last day. What a worker process computes; the same in this process."""
    result = run_scenario(scenario, seed=seed)
    daily = result.daily
    values = [observe(daily, s.quantity, s.who, s.day) for s in specs]
    if result.summary["stop_reason"] == "max_days":
        # The battle had not ended by the horizon: it ends the day after at the
        # earliest, so that a claimed end on the horizon's last day is not matched by
        # runs that were only cut off there (censored).
        values = [v + 1 if s.quantity == "end_date" else v
                  for v, s in zip(values, specs, strict=True)]
    return (values, {pair: daily_series(daily, *pair, horizon) for pair in curves},
            int(result.summary["days"]))


@dataclass
class TargetResult:
    """One target beside the model: the claim (value, low, high, as dates for a
    quantity of dates) and the model's mean, 90% interval of single runs and each
    replicate's value."""

    scenario: str
    claim: str
    date: str | None
    quantity: str
    who: str
    value: float | str
    low: float | str | None
    high: float | str | None
    mean: float | str | None
    q05: float | str | None
    q95: float | str | None
    n: int
    inside: bool
    target: str
    values: list[float | str | None]
    figures: str = ""
    source: str = ""
    reported: str = ""


@dataclass
class ValidationResult:
    """Every target of every scenario beside the model (``rows``, in the claims
    table's order per scenario), how it was run, each replicate's last day (day
    numbers, by scenario) and the daily curves the figures draw (``curves``: scenario
    -> (quantity, who) -> replicates x days array)."""

    rows: list[TargetResult]
    scenarios: list[str]
    seed: int
    replicates: int
    seeds: list[int]
    claims_file: str
    start_dates: dict[str, str | None] = field(default_factory=dict)
    last_days: dict[str, list[int]] = field(default_factory=dict)
    curves: dict[str, dict[tuple[str, str], np.ndarray]] = field(default_factory=dict)

    @property
    def outside(self) -> list[TargetResult]:
        """The targets whose claim falls outside the model's interval."""
        return [row for row in self.rows if not row.inside]

    def as_dict(self) -> dict[str, Any]:
        """Everything but the curves, as JSON takes it (``validation.json``)."""
        return {"scenarios": self.scenarios, "seed": self.seed,
                "replicates": self.replicates, "seeds": self.seeds,
                "claims_file": self.claims_file, "start_dates": self.start_dates,
                "last_days": self.last_days,
                "percentiles": list(PERCENTILES), "package_version": __version__,
                "inside": len(self.rows) - len(self.outside), "targets": len(self.rows),
                "rows": [asdict(row) for row in self.rows]}


def execute(plan: Plan, seed: int = 0, workers: int = 1,
            progress: Callable[[int], None] | None = None) -> ValidationResult:
    """Run each scenario of ``plan`` ``plan.replicates`` times (on ``workers`` local
    processes; the numbers do not depend on them) and set each target beside the
    runs. ``progress`` is called with 1 as each run finishes."""
    from sim.executors import executor_for

    seeds = replicate_seeds(seed, plan.replicates)
    jobs = {}
    for name, scenario in plan.scenarios.items():
        specs = _specs(scenario, plan.targets[name])
        jobs[name] = (specs, _curves(plan.targets[name]), _horizon(scenario, specs))
    measured: dict[str, list] = {}
    with executor_for(workers) as (executor, _):
        futures = {name: [executor.submit(measure, plan.scenarios[name], s, *jobs[name])
                          for s in seeds] for name in plan.scenarios}
        for name, pending in futures.items():
            measured[name] = []
            for future in pending:  # in seed order, whatever order they finish in
                measured[name].append(future.result())
                if progress is not None:
                    progress(1)
    rows, curves, starts, last_days = [], {}, {}, {}
    for name, scenario in plan.scenarios.items():
        start = scenario.start_date
        starts[name] = None if start is None else start.isoformat()
        for k, claim in enumerate(plan.targets[name]):
            rows.append(target_result(name, claim, [m[0][k] for m in measured[name]], start))
        curves[name] = {pair: np.array([m[1][pair] for m in measured[name]])
                        for pair in jobs[name][1]}
        last_days[name] = [m[2] for m in measured[name]]
    return ValidationResult(rows, list(plan.scenarios), seed, plan.replicates, seeds,
                            str(plan.claims_file), starts, last_days, curves)


def target_result(scenario: str, claim: Claim, values: list[float],
                  start: datetime.date | None) -> TargetResult:
    """``claim`` beside the replicates' ``values`` (day numbers for a quantity of
    dates, counted from ``start``): mean, interval, inside. For dates the interval is
    widened to whole days (the 5th percentile rounded down, the 95th up) and the mean
    rounded, and dates are shown as ISO text."""
    found = spread(values)
    if claim.quantity in DATE_VALUED:
        def day(d):
            return None if d is None else day_number(d, start)

        q05 = math.floor(found.q05) if found.n else math.nan
        q95 = math.ceil(found.q95) if found.n else math.nan
        ok = inside(day(claim.value), day(claim.low), day(claim.high), q05, q95)

        def iso(d, rounding=round):
            return None if d is None or not math.isfinite(d) else date_of(d, start, rounding)

        return TargetResult(
            scenario, claim.id, None, claim.quantity, claim.who, claim.value.isoformat(),
            _iso(claim.low), _iso(claim.high), iso(found.mean), iso(q05), iso(q95),
            found.n, ok, claim.target, [iso(v) for v in values], claim.figures,
            claim.source, claim.date)
    ok = inside(claim.value, claim.low, claim.high, found.q05, found.q95)
    return TargetResult(
        scenario, claim.id, _iso(claim.target_date), claim.quantity, claim.who, claim.value,
        claim.low, claim.high, _finite(found.mean), _finite(found.q05), _finite(found.q95),
        found.n, ok, claim.target, [_finite(v) for v in values], claim.figures, claim.source,
        claim.date)


def _iso(date: datetime.date | None) -> str | None:
    return None if date is None else date.isoformat()


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def validate(scenario_names: Sequence[str] = (), replicates: int = DEFAULT_REPLICATES,
             seed: int = 0, workers: int = 1, claims_file: Path | str = CLAIMS_FILE,
             progress: Callable[[int], None] | None = None) -> ValidationResult:
    """Set each scenario (every one with targets if none is named) beside its targets
    in ``claims_file``: :func:`prepare`, then :func:`execute`.

    >>> result = validate(["human_wave_foreign_contingent"], replicates=2, seed=3)
    >>> [row.claim for row in result.rows][:2]
    ['nk-losses-dec-2024', 'nk-wounded-dec-2024']
    """
    return execute(prepare(scenario_names, replicates, claims_file), seed, workers, progress)


# ----------------------------------------------------------------- text and files
def number(value: float | str | None) -> str:
    """A value as the table shows it: a date as it is, a count with thousands
    separators, a share to three significant digits.

    >>> number(19547.0), number(0.3551), number(None), number("2023-05-20")
    ('19,547', '0.355', 'n/a', '2023-05-20')
    """
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:.3g}"


def observed(row: TargetResult) -> str:
    """The claim as the table shows it: the figure, and its range or bound.

    >>> row = TargetResult("s", "c", None, "killed", "attacker", 3000.0, 3001.0, None,
    ...                    None, None, None, 0, False, "tuned", [])
    >>> observed(row)
    '3,000 (>= 3,001)'
    """
    text = number(row.value)
    if row.low is not None and row.high is not None:
        return f"{text} ({number(row.low)} to {number(row.high)})"
    if row.low is not None:
        return f"{text} (>= {number(row.low)})"
    if row.high is not None:
        return f"{text} (<= {number(row.high)})"
    return text


def interval_text(row: TargetResult) -> str:
    """The model's 90% interval of single runs as text."""
    return f"{number(row.q05)} to {number(row.q95)}" if row.n else "n/a"


def _when(row: TargetResult) -> str:
    """The date column: the target's date, ``end`` for a quantity at the end of the
    run, ``-`` for one over the whole run."""
    if row.date is not None:
        return row.date
    return "end" if row.quantity in (*DATED, "killed_per_recruited") else "-"


COLUMNS = ("claim", "date", "quantity", "who", "observed", "model mean", "90% interval",
           "inside", "tuned/predicted")


def table_rows(result: ValidationResult, scenario: str) -> list[tuple[str, ...]]:
    """A scenario's targets as rows of text, in :data:`COLUMNS`' order."""
    return [(row.claim, _when(row), row.quantity, row.who, observed(row),
             number(row.mean), interval_text(row), "yes" if row.inside else "NO", row.target)
            for row in result.rows if row.scenario == scenario]


def _heading(result: ValidationResult, scenario: str) -> str:
    rows = [r for r in result.rows if r.scenario == scenario]
    good = sum(r.inside for r in rows)
    return (f"{scenario}: {good} of {len(rows)} claims inside the model's 90% interval "
            f"({result.replicates} replicates from seed {result.seed})")


def format_validation(result: ValidationResult) -> str:
    """The terminal's table: a block per scenario, a row per target."""
    from sim.publish import printable

    blocks = []
    for scenario in result.scenarios:
        rows = [tuple(printable(c) for c in row) for row in table_rows(result, scenario)]
        widths = [max(len(h), *(len(r[j]) for r in rows)) for j, h in enumerate(COLUMNS)]
        lines = [printable(_heading(result, scenario)), "",
                 "  ".join(h.ljust(w) for h, w in zip(COLUMNS, widths, strict=True)).rstrip()]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                  for row in rows]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def validation_markdown(result: ValidationResult) -> str:
    """``validation.md``: a table per scenario, every cell escaped as ``report.md``'s
    are (:func:`sim.report.md`), and its figure."""
    from sim.publish import safe_name
    from sim.report import md

    lines = ["# Validation against history", "",
             f"Each scenario ran {result.replicates} times from seed {result.seed}. The 90% "
             f"interval holds the 5th to 95th percentiles of single runs; a claim with a "
             f"range is inside when its range and the interval overlap. Targets are in "
             f"{md(result.claims_file)}; tuned: calibrated on, predicted: never tuned to.", ""]
    for scenario in result.scenarios:
        lines += [f"## {md(scenario)}", "", md(_heading(result, scenario)), "",
                  "| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
        lines += ["| " + " | ".join(md(c) for c in row) + " |"
                  for row in table_rows(result, scenario)]
        lines += ["", f"![{md(scenario)}](validation-{safe_name(scenario)}.png)", ""]
    return "\n".join(lines)


CSV_COLUMNS = ("scenario", "claim", "date", "quantity", "who", "value", "low", "high",
               "mean", "q05", "q95", "n", "inside", "target")


def validation_csv(result: ValidationResult) -> str:
    """``validation.csv``: a row per target (dates as ISO text, open sides empty)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in result.rows:
        writer.writerow(["" if getattr(row, c) is None else getattr(row, c)
                         for c in CSV_COLUMNS])
    return out.getvalue()


def write_validation(folder: Path, result: ValidationResult) -> list[Path]:
    """Write ``validation.md``, ``validation.csv``, ``validation.json`` and
    ``validation-SCENARIO.png`` per scenario into ``folder``; returns the files."""
    from sim.outputs import to_json
    from sim.publish import safe_name

    folder = Path(folder)
    written = []
    for name, text in (("validation.md", validation_markdown(result)),
                       ("validation.csv", validation_csv(result)),
                       ("validation.json", to_json(result.as_dict()) + "\n")):
        (folder / name).write_text(text, encoding="utf-8")
        written.append(folder / name)
    for scenario in result.scenarios:
        path = folder / f"validation-{safe_name(scenario)}.png"
        plot_validation(result, scenario, path)
        written.append(path)
    return written


# ---------------------------------------------------------------------- figures
TARGET_COLOURS = {"tuned": "tab:blue", "predicted": "tab:orange"}
TARGET_MARKERS = {"tuned": "o", "predicted": "D"}
MODEL_COLOUR = "0.35"


def plot_validation(result: ValidationResult, scenario: str, path: Path) -> Path:
    """The scenario's figure: for each (quantity, who) with dated claims of a quantity
    of a day, the model's mean and 5-95% band of single runs by date with the claims on
    it; the claims of dates (end_date, deadliest_day) beside the model's interval; the
    other claims at the end of the run as model / claim. A filled marker is a claim
    inside the interval, a hollow one a claim outside."""
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.gridspec import GridSpec
    from matplotlib.lines import Line2D

    import sim.plots  # noqa: F401  (matplotlib's backend for files, as for every figure)
    from sim.views import plain

    rows = [r for r in result.rows if r.scenario == scenario]
    curves = result.curves.get(scenario, {})
    start = result.start_dates.get(scenario)
    dated_rows = [r for r in rows if r.quantity in DATE_VALUED]
    # A claim of 0 cannot be drawn as the model's share of it: it stays in the table.
    end_rows = [r for r in rows if r.quantity not in DATE_VALUED and r.date is None
                and r.value and r.n]
    panels = len(curves)
    grid_rows = math.ceil(panels / 2) + bool(dated_rows) + bool(end_rows)
    heights = [3.2] * math.ceil(panels / 2) + ([1.0 + 0.5 * len(dated_rows)]
                                               if dated_rows else [])
    heights += [1.0 + 0.45 * len(end_rows)] if end_rows else []
    fig = plt.figure(figsize=(11, max(3.0, sum(heights) + 1.0)))
    grid = GridSpec(max(grid_rows, 1), 2, figure=fig, height_ratios=heights or [1])
    # The curves as far as the longest run or the latest claim, and a little more.
    shown_days = max(result.last_days.get(scenario, [0]) + [
        day_number(datetime.date.fromisoformat(r.date), datetime.date.fromisoformat(start))
        for r in rows if r.date is not None]) + 3 if curves else 0
    for k, pair in enumerate(curves):
        # A lone curve takes the figure's width.
        ax = fig.add_subplot(grid[0, :] if panels == 1 else grid[k // 2, k % 2])
        _curve_panel(ax, curves[pair][:, :shown_days + 1], pair, rows,
                     datetime.date.fromisoformat(start), mdates, plain)
    at = math.ceil(panels / 2)
    if dated_rows:
        _dates_panel(fig.add_subplot(grid[at, :]), dated_rows, mdates, plain)
        at += 1
    if end_rows:
        _end_panel(fig.add_subplot(grid[at, :]), end_rows, plain)
    handles = [Line2D([], [], color=MODEL_COLOUR, label="model mean"),
               plt.Rectangle((0, 0), 1, 1, color=MODEL_COLOUR, alpha=0.25,
                             label="model 5-95% of single runs")]
    handles += [Line2D([], [], linestyle="none", marker=TARGET_MARKERS[t], markersize=7,
                       color=TARGET_COLOURS[t], label=f"{t} claim (hollow: outside)")
                for t in ("tuned", "predicted") if any(r.target == t for r in rows)]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize="small", frameon=False)
    fig.suptitle(plain(f"{scenario}: claims beside {result.replicates} runs from seed "
                       f"{result.seed}"))
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _claim_marker(ax, x, row: TargetResult, y=None) -> None:
    """A claim at ``x`` (and ``y``, else its value): its marker, filled if inside."""
    colour = TARGET_COLOURS[row.target]
    ax.plot([x], [row.value if y is None else y], linestyle="none",
            marker=TARGET_MARKERS[row.target], markersize=7, color=colour,
            markerfacecolor=colour if row.inside else "white", zorder=5)


def _curve_panel(ax, curve: np.ndarray, pair: tuple[str, str], rows: list[TargetResult],
                 start: datetime.date, mdates, plain) -> None:
    days = curve.shape[1]
    dates = [start + datetime.timedelta(days=d) for d in range(days)]
    low, high = np.percentile(curve, PERCENTILES, axis=0)
    ax.fill_between(dates, low, high, color=MODEL_COLOUR, alpha=0.25, linewidth=0)
    ax.plot(dates, curve.mean(axis=0), color=MODEL_COLOUR)
    locator = mdates.AutoDateLocator(maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.grid(alpha=0.3)
    if pair[0] == DAILY_KILLED:
        _peak_claims(ax, [r for r in rows if r.who == pair[1]
                          and r.quantity in _PEAK_QUANTITIES], float(high.max()), plain)
        ax.set_title(plain(f"killed a day, {pair[1]}"), fontsize="medium")
        ax.set_ylabel("persons a day")
    else:
        _dated_claims(ax, [r for r in rows if (r.quantity, r.who) == pair
                           and r.date is not None], float(high.max()), plain)
        what = "persons on the line" if pair[0] == "fighting" else "cumulative"
        ax.set_title(plain(f"{pair[0]}, {pair[1]} ({what})"), fontsize="medium")
        ax.set_ylabel("persons")


def _dated_claims(ax, claims: list[TargetResult], top: float, plain) -> None:
    """On a cumulative or persons-on-the-line curve: each dated claim at its date, a
    range as a bar with caps, a bound as an arrow from it, named."""
    top = max([top] + [float(r.value) for r in claims]
              + [float(r.low) for r in claims if r.low is not None]
              + [float(r.high) for r in claims if r.high is not None])
    top = top * 1.08 if top > 0 else 1.0
    for row in claims:
        x = datetime.date.fromisoformat(row.date)
        colour = TARGET_COLOURS[row.target]
        if row.high is None and row.low is not None:  # a bound: an arrow from it
            ax.annotate("", xy=(x, float(row.low) + 0.15 * top), xytext=(x, float(row.low)),
                        zorder=4, arrowprops={"arrowstyle": "-|>", "color": colour,
                                              "linewidth": 1.5})
        elif row.low is None and row.high is not None:
            ax.annotate("", xy=(x, max(0.0, float(row.high) - 0.15 * top)),
                        xytext=(x, float(row.high)), zorder=4,
                        arrowprops={"arrowstyle": "-|>", "color": colour, "linewidth": 1.5})
        elif row.low is not None:  # a range: a bar with caps
            ax.errorbar([x], [float(row.value)], yerr=[[float(row.value) - float(row.low)],
                                                       [float(row.high) - float(row.value)]],
                        color=colour, capsize=4, linewidth=1.5, zorder=4)
        _claim_marker(ax, x, row)
        ax.annotate(plain(row.claim), (x, float(row.value)), xytext=(6, 4),
                    textcoords="offset points", fontsize="x-small", color=colour,
                    bbox={"facecolor": "white", "alpha": 0.7, "edgecolor": "none",
                          "pad": 1})
    ax.set_ylim(0, top)


def _peak_claims(ax, rows: list[TargetResult], top: float, plain) -> None:
    """On the day's killed: a claimed peak as a dashed line at its bound or value, the
    claimed dates of the deadliest days as a shaded span."""
    for row in rows:
        colour = TARGET_COLOURS[row.target]
        if row.quantity == "peak_daily_killed":
            level = float(row.value if row.low is None else row.low)
            ax.axhline(level, color=colour, linestyle="--", linewidth=1.2)
            ax.annotate(plain(f"{row.claim}: {row.figures or level}"), (0.01, level),
                        xycoords=("axes fraction", "data"), xytext=(0, 4),
                        textcoords="offset points", fontsize="x-small", color=colour)
            top = max(top, level)
        elif row.low is not None and row.high is not None:
            ax.axvspan(datetime.date.fromisoformat(str(row.low)),
                       datetime.date.fromisoformat(str(row.high)), color=colour, alpha=0.12,
                       linewidth=0)
            ax.annotate(plain(row.claim), (datetime.date.fromisoformat(str(row.low)), 0),
                        xytext=(3, 4), textcoords="offset points", fontsize="x-small",
                        color=colour)
    ax.set_ylim(0, top * 1.1 if top > 0 else 1.0)


def _dates_panel(ax, rows: list[TargetResult], mdates, plain) -> None:
    """A row per claim of a date: the model's interval as a bar with its mean, the
    claim's range as a span and its date as a marker."""
    def day(text):
        return mdates.date2num(datetime.date.fromisoformat(text))

    ends = [day(t) for r in rows for t in (r.value, r.low, r.high, r.q05, r.q95) if t]
    left, right = min(ends) - 10, max(ends) + 10
    for y, row in enumerate(rows):
        if row.q05 is not None:
            ax.plot([day(row.q05), day(row.q95)], [y, y], color=MODEL_COLOUR, linewidth=8,
                    alpha=0.35, solid_capstyle="butt")
            ax.plot([day(row.mean)], [y], marker="|", markersize=16, color=MODEL_COLOUR)
        colour = TARGET_COLOURS[row.target]
        if row.low is not None or row.high is not None:
            lo = left if row.low is None else day(row.low)
            hi = right if row.high is None else day(row.high)
            ax.fill_betweenx([y - 0.3, y + 0.3], lo, hi, color=colour, alpha=0.2, linewidth=0)
        _claim_marker(ax, day(row.value), row, y)
    ax.set_xlim(left, right)
    ax.set_yticks(range(len(rows)), [plain(f"{r.claim}: {r.quantity}") for r in rows],
                  fontsize="small")
    ax.set_ylim(len(rows) - 0.5, -0.5)
    locator = mdates.AutoDateLocator(maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_title("dates: the model's 5-95% interval (bar) and mean (|) beside the claim "
                 "(shaded: its range)", fontsize="medium")
    ax.grid(alpha=0.3, axis="x")


def _end_panel(ax, rows: list[TargetResult], plain) -> None:
    """A row per other claim, as model / claimed value: the claim at 1 (its range as a
    span), the model's interval as a bar with its mean; a log scale if they are far
    apart."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    def ratio(x, value):
        return max(float(x) / value, 1e-3)

    ends = [ratio(t, float(r.value)) for r in rows
            for t in (r.low, r.high, r.q05, r.q95) if t is not None] + [1.0]
    left, right = min(ends) / 1.5, max(ends) * 1.5
    for y, row in enumerate(rows):
        value = float(row.value)
        ax.plot([ratio(row.q05, value), ratio(row.q95, value)], [y, y], color=MODEL_COLOUR,
                linewidth=8, alpha=0.35, solid_capstyle="butt")
        ax.plot([ratio(row.mean, value)], [y], marker="|", markersize=16, color=MODEL_COLOUR)
        colour = TARGET_COLOURS[row.target]
        if row.low is not None or row.high is not None:
            lo = left if row.low is None else ratio(row.low, value)
            hi = right if row.high is None else ratio(row.high, value)
            ax.fill_betweenx([y - 0.3, y + 0.3], lo, hi, color=colour, alpha=0.2, linewidth=0)
        _claim_marker(ax, 1.0, row, y)
        ax.annotate(f"claim {number(row.value)}, model {number(row.mean)} "
                    f"({interval_text(row)})", (1.0, y), xytext=(8, -11),
                    textcoords="offset points", fontsize="x-small", color="0.2")
    if right / left > 4:  # far apart: a log scale, each tick a plain multiple
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"x{x:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        scale = "log scale"
    else:
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:.0%}"))
        scale = "100% is the claim"
    ax.set_xlim(left, right)
    ax.axvline(1.0, color="0.6", linewidth=0.8)
    ax.set_yticks(range(len(rows)), [plain(f"{r.claim}: {r.quantity}, {r.who}")
                                     for r in rows], fontsize="small")
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel(f"model / claimed value ({scale})")
    ax.set_title("at the end of the run: the model's interval (bar) and mean (|) as a "
                 "share of the claim", fontsize="medium")
    ax.grid(alpha=0.3, axis="x")
