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
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomli_w

from sim import RunResult, Scenario, __version__
from sim.publish import printable
from sim.replicates import replicate_seeds, summarise
from sim.sides import SIDES

FORMATS = ("csv", "parquet")
#: The rows of the terminal table: label and summary key, ``{side}`` for each side.
SIDE_ROWS = (
    ("killed", "{side}_killed"), ("wounded", "{side}_wounded"),
    ("permanently lost", "{side}_permanently_lost"),
    ("released (served their term)", "{side}_released"),
    ("personnel at end", "{side}_personnel"),
    ("casualties to aimed fire", "{side}_casualties_aimed"),
    ("casualties to area fire", "{side}_casualties_area"),
    ("casualties to mines", "{side}_casualties_mines"),
    ("training days lost", "{side}_training_days_lost"),
    ("pool exhausted (day)", "{side}_pool_exhausted_day"),
    ("pool exhaustion, projected (day)", "{side}_projected_exhaustion_day"),
    ("recruits a day, mean", "{side}_mean_daily_recruits"),
    ("permanent losses a day, mean", "{side}_mean_daily_permanent_losses"),
)
#: Rows of one number for the whole battle.
BATTLE_ROWS = (("loss exchange ratio", "loss_exchange_ratio"),
               ("ground gained by attacker (m)", "ground_gained_m"),
               ("attacker casualties per km", "attacker_casualties_per_km"))


# ------------------------------------------------------------------- a run's files
def run_summary(scenario: Scenario, seed: int, results: list[RunResult]) -> dict[str, Any]:
    """What ``summary.json`` holds: scenario, seed(s), package version, then the run
    summary's keys (per key mean and interval with more than one replicate)."""
    head: dict[str, Any] = {"scenario": scenario.name, "seed": seed,
                            "replicates": len(results), "package_version": __version__}
    if len(results) == 1:
        return head | results[0].summary
    head["seeds"] = replicate_seeds(seed, len(results))
    return head | summarise([r.summary for r in results])


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
            frame.to_csv(folder / f"{stem}.csv", index=False)
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
def _cell(value: Any) -> str:
    if isinstance(value, dict) and "mean" in value:
        if value["ci95_low"] is None:
            return _cell(value["mean"])
        return f"{_cell(value['mean'])} [{_cell(value['ci95_low'])}, {_cell(value['ci95_high'])}]"
    if isinstance(value, dict):
        return ", ".join(f"{k} x{v}" for k, v in value.items())
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if abs(value) >= 100 or value.is_integer():
            return f"{value:,.0f}"
        return f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def format_table(summary: dict[str, Any]) -> str:
    """The terminal's compact summary: a row per measure, a column per side."""
    n = summary["replicates"]
    seeds = f"seed {summary['seed']}" if n == 1 else \
        f"{n} replicates from seed {summary['seed']} (mean [95% CI])"
    end = summary.get("end_date")
    until = f" (to {_cell(end)})" if isinstance(end, str) else ""
    lines = [f"{printable(summary['scenario'])}, {seeds}: {_cell(summary['days'])} days"
             f"{until}, stop: {_cell(summary['stop_reason'])}, winner: "
             f"{_cell(summary['winner'])}", ""]
    rows = [(label, *(_side_cell(summary, key, side) for side in SIDES))
            for label, key in SIDE_ROWS]
    width = max(len(label) for label, _ in SIDE_ROWS + BATTLE_ROWS)
    col = max(10, *(len(r[1]) for r in rows), *(len(r[2]) for r in rows))
    lines.append(f"{'':<{width}}  " + "  ".join(f"{side:>{col}}" for side in SIDES))
    lines += [f"{label:<{width}}  {a:>{col}}  {d:>{col}}" for label, a, d in rows]
    lines.append("")
    lines += [f"{label:<{width}}  {_battle_cell(summary, key):>{col}}"
              for label, key in BATTLE_ROWS]
    return "\n".join(lines)


def _side_cell(summary: dict[str, Any], key: str, side: str) -> str:
    """A side's cell: a projection past the horizon reads "beyond day N" (ODD 7.9)."""
    value = summary[key.format(side=side)]
    beyond = summary.get(f"{side}_projected_exhaustion_beyond_horizon")
    if key.endswith("projected_exhaustion_day") and value is None and beyond is True:
        return f"beyond day {summary['projection_horizon_day']:,}"
    return _cell(value)


def _battle_cell(summary: dict[str, Any], key: str) -> str:
    """A battle's cell: casualties per km read "n/a: less than one cell gained" where
    the attacker gained less than one cell (ODD 7.9)."""
    if key == "attacker_casualties_per_km" and summary[key] is None:
        return "n/a: less than one cell gained"
    return _cell(summary[key])


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
    """A sweep's design points as a table, the first ``shown`` of them."""
    text = pd.DataFrame(points).head(shown).to_string()
    if len(points) > shown:
        text += f"\n... and {len(points) - shown} more points"
    return text


def format_metrics(runs: pd.DataFrame, metrics: list[str]) -> str:
    """Each metric of a sweep's runs: mean and range over the runs that have it."""
    lines = []
    for metric in metrics:
        values = pd.to_numeric(runs[metric], errors="coerce")
        if values.notna().any():
            lines.append(f"  {metric}: mean {values.mean():,.4g}, from {values.min():,.4g} "
                         f"to {values.max():,.4g} over {int(values.notna().sum())} runs")
    return "\n".join(lines)
