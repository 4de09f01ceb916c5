"""What a run or a fit leaves behind, and what the terminal shows of it.

The files of a run (daily record, event log, ``summary.json``, the resolved scenario,
plots), the files of a calibration (``estimates.json``, plots), JSON that any reader
takes, and the text tables of ``attrition run``, ``sweep`` and ``calibrate``. The
command line calls these; a notebook can too::

    >>> from sim import Scenario
    >>> from sim.replicates import run_replicates
    >>> scenario = Scenario(max_days=2)
    >>> summary = run_summary(scenario, 3, run_replicates(scenario, 3, 1))
    >>> print(format_table(summary).splitlines()[0])
    reference, seed 3: 2 days, stop: max_days, winner: none

To write a run's folder whole or not at all, write into :func:`sim.publish.publishing`::

    with publishing(Path("results")) as folder:
        write_run(folder, scenario, results, summary)
"""

from __future__ import annotations

import json
import math
import textwrap
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomli_w

from sim import RunResult, Scenario, __version__
from sim.publish import printable, spreadsheet_safe
from sim.replicates import replicate_seeds, summarise
from sim.sides import SIDES

FORMATS = ("csv", "parquet")


# ------------------------------------------------------------------- a run's files
def run_summary(scenario: Scenario, seed: int, results: list[RunResult]) -> dict[str, Any]:
    """What ``summary.json`` holds: scenario, seed(s), package version, then the run
    summary's keys (per key mean and interval with more than one replicate); a
    :class:`RunSummary` that also knows which sides have a recruit pool."""
    head: dict[str, Any] = {"scenario": scenario.name, "seed": seed,
                            "replicates": len(results), "package_version": __version__}
    daily = results[0].daily
    first = daily[(daily["day"] == daily["day"].min()) & (daily["contingent"] == "all")]
    pool_sides = tuple(side for side in SIDES
                       if (first.loc[first["side"] == side, "pool"] > 0).any())
    if len(results) == 1:
        return RunSummary(head | results[0].summary, pool_sides)
    head["seeds"] = replicate_seeds(seed, len(results))
    return RunSummary(head | summarise([r.summary for r in results]), pool_sides)


def write_run(folder: Path, scenario: Scenario, results: list[RunResult],
              summary: dict[str, Any], fmt: str = "csv") -> None:
    """Write a run's files into ``folder``: ``daily`` and ``events`` (``fmt``: csv or
    parquet, a ``seed`` column first), ``summary.json`` (:func:`run_summary`),
    ``scenario.toml`` (:func:`resolved_toml`) and the PNG plots of :mod:`sim.plots` (the
    front map is the first replicate's)."""
    from sim import plots

    seed_list = summary.get("seeds", [summary["seed"]])
    daily, events = (pd.concat([getattr(r, name).assign(seed=s)
                                for s, r in zip(seed_list, results, strict=True)],
                               ignore_index=True) for name in ("daily", "events"))
    daily = daily[["seed", *[c for c in daily.columns if c != "seed"]]]
    events = events[["seed", *[c for c in events.columns if c != "seed"]]]
    for frame, stem in ((daily, "daily"), (events, "events")):
        if fmt == "parquet":
            frame.to_parquet(folder / f"{stem}.parquet", index=False)
        else:
            # A contingent's name is the scenario's text: never a spreadsheet formula.
            spreadsheet_safe(frame).to_csv(folder / f"{stem}.csv", index=False)
    (folder / "summary.json").write_text(to_json(summary) + "\n")
    (folder / "scenario.toml").write_text(resolved_toml(scenario))
    title = f"{scenario.name}, seed {summary['seed']}"
    if len(results) > 1:
        title = f"{scenario.name}, {len(results)} replicates from seed {summary['seed']}"
    plots.plot_strengths(daily, folder / "strengths.png", title)
    plots.plot_casualties(daily, folder / "casualties.png", title)
    plots.plot_force_generation(daily, folder / "force_generation.png", title)
    plots.plot_front_map(results[0].front, folder / "front_map.png",
                         f"{scenario.name}, seed {seed_list[0]}")


def resolved_toml(scenario: Scenario) -> str:
    """The scenario with every value spelled out, as a TOML file that loads back to it."""
    # The name is user text: on one line, so that it cannot end the comment.
    header = (f"# {printable(scenario.name)}, resolved: every key, after bases and "
              f"overrides (attrition-sim {__version__}).\n")
    return header + tomli_w.dumps(scenario.model_dump(exclude_none=True))


#: The files a Bayesian calibration adds to a calibration's folder.
POSTERIOR_FILES = ("posterior.png", "posterior_predictive.png", "posterior_particles.csv")


def write_estimates(folder: Path, data: str, record, fits: list, model_fit,
                    notes: list[str], posterior=None) -> dict[str, Any]:
    """Write a calibration's files into ``folder``: ``estimates.json`` (the record,
    notes, the verdict and the law fits best first, the model fit, the Bayesian
    calibration, the package version), ``fit.png`` with law fits, ``model_fit.png`` with a
    model fit, and :data:`POSTERIOR_FILES` with a posterior. Returns the estimates."""
    from sim import plots
    from sim.lawfit import verdict

    estimates: dict[str, Any] = {"data": data, "notes": notes}
    if fits:
        estimates |= {"verdict": verdict(fits), "best": fits[0].law,
                      "fits": [fit.as_dict() for fit in fits]}
        plots.plot_law_fits(record, fits, folder / "fit.png", title=data)
    if model_fit is not None:
        estimates["model"] = model_fit.as_dict()
        plots.plot_model_fit(record, model_fit, folder / "model_fit.png", title=data)
    if posterior is not None:
        estimates["bayes"] = posterior.as_dict()
        plots.plot_posterior(posterior, folder / POSTERIOR_FILES[0], title=data)
        plots.plot_posterior_predictive(record, posterior, folder / POSTERIOR_FILES[1],
                                        title=data)
        posterior.particles_frame().to_csv(folder / POSTERIOR_FILES[2], index=False)
    estimates["package_version"] = __version__
    (folder / "estimates.json").write_text(to_json(estimates) + "\n")
    return estimates


# -------------------------------------------------------------------------- JSON
def json_ready(value: Any) -> Any:
    """``value`` as JSON can hold it: every float that is not finite (an interval not
    found) as None, numpy numbers and arrays as Python numbers and lists, tuples as
    lists.

    >>> json_ready({"a": float("nan"), "b": (np.int64(2), np.float64(0.5))})
    {'a': None, 'b': [2, 0.5]}
    """
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_json(value: Any) -> str:
    """``value`` (:func:`json_ready`) as indented JSON text."""
    return json.dumps(json_ready(value), indent=2, allow_nan=False)


# ------------------------------------------------------------------------ tables
# The run table's number formats, one per kind of quantity, the same in every row and
# column, for one run and for the mean and interval of replicates: whole persons (and
# person-days, metres) with thousands separators, rates and ratios to three significant
# digits, days as whole days with their date.
def whole(value: float) -> str:
    """A count of persons (or person-days, or metres): whole, thousands separated.

    >>> whole(774165.0), whole(3386.6)
    ('774,165', '3,387')
    """
    return f"{round(value):,}"


def significant(value: float, digits: int = 3) -> str:
    """A rate or ratio to ``digits`` significant digits (trailing zeros kept, thousands
    separated); 0 as 0.

    >>> [significant(v) for v in (10.005, 5.3043, 46.1087, 0.01234, 9.996, 12_345.0, 0.0)]
    ['10.0', '5.30', '46.1', '0.0123', '10.0', '12,300', '0']
    """
    if value == 0:
        return "0"
    rounded = float(f"{value:.{digits - 1}e}")  # rounded first: 9.996 is 10.0, not 10.00
    exponent = math.floor(math.log10(abs(rounded)))
    return f"{rounded:,.{max(0, digits - 1 - exponent)}f}"


def day_and_date(day: float, start: date | None) -> str:
    """A day of the run, whole, with its date when the run has a calendar.

    >>> day_and_date(46.2, date(2024, 12, 6)), day_and_date(3650, None)
    ('day 46 (2025-01-21)', 'day 3,650')
    """
    day = round(day)
    return f"day {day:,}" + (f" ({start + timedelta(days=day)})" if start else "")


#: The terminal table's rows: label with its unit, summary key (``{side}`` for each
#: side) and kind of number: ``whole`` (:func:`whole`), ``rate`` (:func:`significant`)
#: or ``day`` (:func:`day_and_date`).
SIDE_ROWS = (
    ("killed (persons)", "{side}_killed", "whole"),
    ("wounded (persons)", "{side}_wounded", "whole"),
    ("wounded permanently lost (persons)", "{side}_permanently_lost", "whole"),
    ("released after their term (persons)", "{side}_released", "whole"),
    ("in units at the end (persons)", "{side}_personnel", "whole"),
    ("casualties to aimed fire (persons)", "{side}_casualties_aimed", "whole"),
    ("casualties to area fire (persons)", "{side}_casualties_area", "whole"),
    ("casualties to mines (persons)", "{side}_casualties_mines", "whole"),
    ("training lost with the dead and crippled (person-days)",
     "{side}_training_days_lost", "whole"),
    ("recruit pool exhausted (day)", "{side}_pool_exhausted_day", "day"),
    ("recruit pool exhausted, projected (day)", "{side}_projected_exhaustion_day", "day"),
    ("recruits a day, mean (persons/day)", "{side}_mean_daily_recruits", "rate"),
    ("killed + permanently lost a day, mean (persons/day)",
     "{side}_mean_daily_permanent_losses", "rate"),
)
#: Rows of one number for the whole battle.
BATTLE_ROWS = (
    ("loss exchange ratio (attacker casualties per defender casualty)",
     "loss_exchange_ratio", "rate"),
    ("ground gained by the attacker (m)", "ground_gained_m", "whole"),
    ("attacker casualties per km gained (persons/km)", "attacker_casualties_per_km",
     "rate"),
)
#: What a null value of a key means, as its cell says it (ODD 7.9, 7.11).
MISSING = {
    "pool_exhausted_day": "not exhausted",
    "projected_exhaustion_day": "not falling",
    "mean_daily_recruits": "n/a: no days run",
    "mean_daily_permanent_losses": "n/a: no days run",
    "loss_exchange_ratio": "n/a: no defender casualties",
    "attacker_casualties_per_km": "n/a: less than one cell gained",
}
#: Casualties per km where no run gained any ground: undefined, not large.
NO_GROUND = "n/a: no ground gained"
#: ... and over replicates, some of which gained none and some less than a cell.
NO_CELL = "n/a: none or less than one cell gained"
NO_POOL, NONE_DRAWN = "no pool", "none drawn"


class RunSummary(dict):
    """What ``summary.json`` holds (a dict of its keys), knowing also what the file does
    not say: ``pool_sides``, the sides whose recruit pools held anyone on day 0. A null
    pool day reads "not exhausted" for those and "no pool" for the others. Not a key,
    so that ``summary.json`` keeps its keys."""

    def __init__(self, keys: dict[str, Any], pool_sides: tuple[str, ...] | None = None):
        super().__init__(keys)
        self.pool_sides = pool_sides


def _beyond_horizon(summary: dict[str, Any], side: str) -> int:
    """In how many runs a side's exhaustion projection passes the horizon."""
    flag = summary.get(f"{side}_projected_exhaustion_beyond_horizon")
    if isinstance(flag, dict):  # replicates: each value's count
        return flag.get("True", 0)
    return summary["replicates"] if flag is True else 0


def _drew_on_a_pool(summary: dict[str, Any], side: str) -> bool:
    """Whether a summary shows a side drawing on a recruit pool (recruits, an exhaustion
    day or a projection): a summary read back from ``summary.json`` says no more."""
    def positive(value: Any) -> bool:
        if isinstance(value, dict):
            value = value.get("mean")
        return isinstance(value, int | float) and value > 0

    return _beyond_horizon(summary, side) > 0 or any(
        positive(summary.get(f"{side}_{part}")) for part in
        ("mean_daily_recruits", "pool_exhausted_day", "projected_exhaustion_day"))


def _start_date(summary: dict[str, Any]) -> date | None:
    """Day 0's date; none for a run without a calendar. Replicates share their start,
    so their mean last date is the start plus their mean length."""
    end, days = summary.get("end_date"), summary["days"]
    if isinstance(end, str):
        return date.fromisoformat(end) - timedelta(days=days)
    if isinstance(end, dict) and end and isinstance(days, dict):
        runs = sum(end.values())
        mean_end = sum(date.fromisoformat(d).toordinal() * k for d, k in end.items()) / runs
        return date.fromordinal(round(mean_end - days["mean"]))
    return None


class _Table:
    """A summary's cells, and the notes that explain the words in them."""

    def __init__(self, summary: dict[str, Any]):
        # Here, not at the top: importing the model loads numba, which the module's
        # other readers (JSON, a calibration's files) never need.
        from sim.model.records import PROJECTION_HORIZON_DAYS, PROJECTION_WINDOW_DAYS

        self.summary = summary
        self.runs = summary["replicates"]
        self.start = _start_date(summary)
        horizon = summary.get("projection_horizon_day")
        horizon = horizon["mean"] if isinstance(horizon, dict) else horizon
        self.past = f"beyond day {round(horizon or PROJECTION_HORIZON_DAYS):,}"
        window = PROJECTION_WINDOW_DAYS
        self.explain = {
            NO_POOL: "no pool: the side has no recruit pool, so it recruits no one.",
            NONE_DRAWN: "none drawn: the side drew no recruits in this run (it has no "
                        "recruit pool, or did not draw on it).",
            "not exhausted": "not exhausted: the pool still held recruits on the last day.",
            "not falling": f"not falling: the pool did not fall over the last {window} days "
                           f"of the run, so no exhaustion day can be projected.",
            self.past: f"{self.past}: the projection (the last day, plus the pool left "
                       f"divided by its mean daily fall over the last {window} days) "
                       f"passes that horizon.",
            "n/a": "n/a: the summary holds no value for this row.",
            **{text: f"{text}: {why}" for text, why in (
                ("n/a: no days run", "a rate needs at least one day."),
                ("n/a: no defender casualties", "the ratio has none to divide by."),
                ("n/a: less than one cell gained", "the attacker's mean advance is more "
                 "than 0 but less than one cell deep: too short a distance to divide by (a "
                 "few metres would turn hundreds of casualties into tens of thousands per "
                 "km)."),
                (NO_GROUND, "the attacker gained no ground, so casualties per km gained "
                 "are undefined (there is no distance to divide by)."),
                (NO_CELL, "in those runs the attacker gained no ground, or less than one "
                 "cell deep: no distance, or too short a one, to divide by."))},
        }
        self.notes: list[str] = []

    def note(self, text: str) -> str:
        """``text``, its explanation added to the notes (once)."""
        if self.explain[text] not in self.notes:
            self.notes.append(self.explain[text])
        return text

    def number(self, value: float, kind: str) -> str:
        if kind == "day":
            return day_and_date(value, self.start)
        return whole(value) if kind == "whole" else significant(value)

    def value(self, value: Any, kind: str) -> str:
        """A number, or replicates' mean [95% CI] (for days, the mean's date only). Every
        quantity of the table is at least 0, and so is the interval it prints (the
        Student-t interval of a few counts can reach below 0; ``summary.json`` keeps it)."""
        if not isinstance(value, dict):
            return self.number(value, kind)
        text = self.number(value["mean"], kind)
        if value["ci95_low"] is not None:
            ends = kind if kind != "day" else "whole"
            text += (f" [{self.number(max(0.0, value['ci95_low']), ends)} to "
                     f"{self.number(value['ci95_high'], ends)}]")
        return text

    def cell(self, label: str, key: str, kind: str, side: str | None = None) -> str:
        part = key.replace("{side}_", "")
        value = self.summary[key.format(side=side)]
        if isinstance(value, float) and not math.isfinite(value):
            value = None  # as summary.json holds it (json_ready)
        if part in ("pool_exhausted_day", "projected_exhaustion_day"):
            known = getattr(self.summary, "pool_sides", None)
            if known is not None and side not in known:
                return self.note(NO_POOL)
            if known is None and not _drew_on_a_pool(self.summary, side):
                return self.note(NONE_DRAWN)
        if value is None:
            return self.none_of(part, side, self.runs)
        text = self.value(value, kind)
        runs_with = value["n"] if isinstance(value, dict) else self.runs
        if runs_with < self.runs:
            # The mean is of the replicates that have a value: say how many, and what
            # the others had.
            what = label.rsplit(" (", 1)[0] + (f", {side}" if side else "")
            others = self.none_of(part, side, self.runs - runs_with)
            self.notes.append(f"{runs_with}/{self.runs} ({what}): the mean [95% CI] of "
                              f"the {runs_with} of {self.runs} runs that have one; in the "
                              f"other {self.runs - runs_with}: {others}.")
            text = f"{runs_with}/{self.runs}: {text}"
        return text

    def _no_distance(self) -> str:
        """Why a run has no casualties per km: no ground at all (a ground of exactly 0,
        in every replicate: the mean of numbers at least 0 is 0 only then), less than a
        cell (one run that gained some), or either (replicates)."""
        gained = self.summary.get("ground_gained_m")
        mean = gained.get("mean") if isinstance(gained, dict) else gained
        if mean == 0:
            return NO_GROUND
        return NO_CELL if isinstance(gained, dict) else MISSING["attacker_casualties_per_km"]

    def none_of(self, part: str, side: str | None, runs: int) -> str:
        """What ``runs`` runs without a value of ``part`` say instead; for a projection,
        in how many it passes the horizon and in how many the pool is not falling."""
        if part == "attacker_casualties_per_km":
            return self.note(self._no_distance())
        if part != "projected_exhaustion_day":
            return self.note(MISSING.get(part, "n/a"))
        past = min(runs, _beyond_horizon(self.summary, side))
        if past == runs:
            return self.note(self.past)
        if past == 0:
            return self.note(MISSING[part])
        return f"{self.note(self.past)} in {past}, {self.note(MISSING[part])} in {runs - past}"


def format_table(summary: dict[str, Any]) -> str:
    """The terminal's compact summary: a row per measure with its unit in its label, a
    column per side, then the battle's rows; below, notes on every cell that gives
    words for a number or a mean of fewer than all replicates."""
    table = _Table(summary)
    n = summary["replicates"]
    seeds = f"seed {summary['seed']}" if n == 1 else \
        f"{n} replicates from seed {summary['seed']} (mean [95% CI])"
    end = summary.get("end_date")  # replicates: each last date's count
    last = [end] if isinstance(end, str) else sorted(end or ())
    span = "" if table.start is None else f" ({table.start} to {last[0]})" \
        if len(last) == 1 else f" (from {table.start}; last day {last[0]} to {last[-1]})"
    lines = [f"{printable(summary['scenario'])}, {seeds}: {table.value(summary['days'], 'whole')}"
             f" days{span}, stop: {_counts(summary['stop_reason'])}, winner: "
             f"{_counts(summary['winner'])}", ""]
    rows = [(label, *(table.cell(label, key, kind, side) for side in SIDES))
            for label, key, kind in SIDE_ROWS]
    battle = [(label, table.cell(label, key, kind)) for label, key, kind in BATTLE_ROWS]
    width = max(len(label) for label, *_ in SIDE_ROWS)
    col = max(10, *(len(cell) for row in rows for cell in row[1:]))
    lines.append(f"{'':<{width}}  " + "  ".join(f"{side:>{col}}" for side in SIDES))
    lines += [f"{label:<{width}}  {a:>{col}}  {d:>{col}}" for label, a, d in rows]
    lines.append("")
    battle_width = max(len(label) for label, _ in battle)
    lines += [f"{label:<{battle_width}}  {cell}" for label, cell in battle]
    if table.notes:
        lines += ["", "Notes:", *(textwrap.fill(note, 92, initial_indent="  ",
                                                subsequent_indent="    ")
                                  for note in table.notes)]
    return "\n".join(lines)


def _counts(value: Any) -> str:
    """A stop reason or winner: the word, or, over replicates, each word's count."""
    if isinstance(value, dict):
        return ", ".join(f"{k} x{v}" for k, v in value.items())
    return "none" if value is None else str(value)


def _metric_lines(metrics: dict[str, dict[str, float]]) -> list[str]:
    return [f"    fit to {series:<19} RMSE {m['rmse']:.4g}, MAPE {m['mape']:.2f}%, "
            f"R^2 {m['r2']:.4f}" for series, m in metrics.items()]


def format_model_fit(fit) -> str:
    """The model calibration (:class:`sim.calibration.ModelFit`): each key's estimate,
    standard error, 95% interval and search range, the replicate mean's fit to each
    observed series, and whether the record looks like one of the model's runs."""
    lines = [f"model {fit.scenario}: {fit.evaluations} evaluations x {fit.replicates} "
             f"replicates = {fit.runs} runs (common random numbers)"]
    for key, value in fit.estimates.items():
        low, high = fit.intervals[key]
        se = fit.standard_errors[key]
        spread = (f" (standard error {se:.3g}) [{low:.4g}, {high:.4g}]"
                  if math.isfinite(se) else " (not identified from this record)")
        lines.append(f"    {key}  {value:.4g}{spread}, searched {fit.bounds[key][0]:.4g} to "
                     f"{fit.bounds[key][1]:.4g}")
    lines += _metric_lines(fit.metrics)
    further = round(fit.runs_further * fit.replicates)
    answer = "yes" if further else ("no: the model does not follow this record as closely "
                                    "as it follows its own runs")
    lines.append(f"    is the record like one of the model's runs? {further} of the "
                 f"{fit.replicates} runs at the estimate are further from the model's mean "
                 f"than the record is ({answer})")
    return "\n".join(lines)


def format_fits(fits: list, verdict_line: str | None = None) -> str:
    """The comparison of law fits (:class:`sim.lawfit.LawFit`): the verdict, then a
    block per law, best (lowest BIC) first, with each parameter's estimate, 95% interval,
    meaning (whose it is) and, where the record cannot tell it, a word saying so; the
    fit to each observed series; the law's notes."""
    from sim.lawfit import LABELS, verdict

    def number(value: float) -> str:
        return "n/a" if value != value else f"{value:.4g}"

    best = fits[0].bic
    lines = [verdict_line or verdict(fits), ""]
    for fit in fits:
        lines.append(f"{fit.law}: BIC {fit.bic:.1f} (+{fit.bic - best:.1f}), AIC {fit.aic:.1f}, "
                     f"{fit.n} observations")
        for name, value in fit.estimates.items():
            low, high = fit.intervals.get(name, (float("nan"), float("nan")))
            interval = "" if low != low else f" [{number(low)}, {number(high)}]"
            said = fit.identification.get(name, "identified")
            word = "" if said == "identified" else f"; {said}"
            lines.append(f"    {name:<34} {number(value)}{interval}  "
                         f"({LABELS.get(name, name)}{word})")
        lines += _metric_lines(fit.metrics)
        lines += [f"    note: {note}" for note in fit.notes]
    return "\n".join(lines)


def format_posterior(posterior) -> str:
    """A Bayesian calibration (:class:`sim.bayes.Posterior`): the models' posterior
    probabilities, each probable model's parameters (median and 95% credible interval,
    with their meaning), the convergence verdict and a row per generation."""
    from sim.lawfit import LABELS

    lines = [f"Bayesian calibration ({posterior.as_dict()['method']}): {posterior.runs:,} runs, "
             f"seed {posterior.seed}, {posterior.population_size} particles a generation"]
    if len(posterior.models) > 1:
        lines.append("    posterior probabilities: " + ", ".join(
            f"{name} {m.probability:.3f}" for name, m in sorted(
                posterior.models.items(), key=lambda item: -item[1].probability)))
    for name, model in posterior.models.items():
        if model.probability < 0.01 or not len(model.weights):
            continue
        lines.append(f"    {name} (probability {model.probability:.3f}, effective sample "
                     f"size {model.ess:.0f}):")
        for parameter, summary in model.summary.items():
            lines.append(f"        {parameter:<34} {summary['median']:.4g} "
                         f"[{summary['ci95_low']:.4g}, {summary['ci95_high']:.4g}]  "
                         f"({LABELS.get(parameter, 'scenario key')})")
    lines.append(f"    {posterior.verdict}")
    lines.append("    generation  threshold    acceptance  effective size      runs")
    for row in posterior.generations:
        threshold = (f"T {row['temperature']:.3g}" if row.get("temperature") is not None
                     else "all" if row.get("epsilon") is None else f"e {row['epsilon']:.3g}")
        lines.append(f"    {row['generation']:>10}  {threshold:<11}  "
                     f"{row['acceptance_rate']:>10.3f}  {row['effective_sample_size']:>14.0f}"
                     f"  {row['runs']:>8,}")
    lines += [f"    note: {note}" for note in posterior.notes]
    return "\n".join(lines)


def format_design(points: list[dict[str, Any]], shown: int = 20) -> str:
    """A sweep's design points as a table, the first ``shown`` of them; names and texts
    from the experiment's file are shown :func:`sim.publish.printable` (an escape code is
    printed as ``\\x1b``, not sent to the terminal)."""
    frame = pd.DataFrame(points).head(shown)
    frame = frame.rename(columns=printable).map(
        lambda value: printable(value) if isinstance(value, str) else value)
    text = frame.to_string()
    if len(points) > shown:
        text += f"\n... and {len(points) - shown} more points"
    return text


def format_metrics(runs: pd.DataFrame, metrics: list[str]) -> str:
    """Each metric of a sweep's runs: mean and range over the runs that have it."""
    lines = []
    for metric in metrics:
        values = pd.to_numeric(runs[metric], errors="coerce")
        if values.notna().any():
            lines.append(f"  {printable(metric)}: mean {values.mean():,.4g}, from "
                         f"{values.min():,.4g} to {values.max():,.4g} over "
                         f"{int(values.notna().sum())} runs")
    return "\n".join(lines)
