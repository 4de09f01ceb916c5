"""A theatre's runs, its fit to the record, its forecast and its files: the Python API
that ``attrition theatre`` and a notebook call alike.

    >>> from sim.theatre.config import EXAMPLE, TheatreScenario
    >>> runs = run_theatre(TheatreScenario.model_validate(EXAMPLE), seed=0, replicates=2)
    >>> sorted(runs[0])
    ['daily', 'monthly', 'sectors', 'seed']
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import observed
from sim.executors import executor_for
from sim.seeds import run_seed
from sim.theatre.calibration import (
    CLAIM_FACTOR,
    NAMED_SHARE,
    NAMED_SHARE_CENTRE,
    WINDOW,
    monthly,
    record_months,
)
from sim.theatre.config import TheatreScenario
from sim.theatre.model import TheatreModel

#: Central probability of the intervals of single runs the theatre reports, and the
#: standard normal's quantile for it.
LEVEL = 0.9
Z90 = 1.6448536269514722


class TheatreRun:
    """One seeded run of a theatre, returning its frames (pickles to workers)."""

    def __init__(self, scenario: TheatreScenario, seed: int):
        self.scenario, self.seed = scenario, seed

    def __call__(self) -> dict[str, Any]:
        model = TheatreModel(self.scenario, rng=self.seed)
        model.run()
        return {"seed": self.seed, "daily": model.daily_records(),
                "sectors": model.sector_records(), "monthly": monthly(model)}


def run_theatre(scenario: TheatreScenario, seed: int = 0, replicates: int = 1,
                workers: int = 1, scheduler: str | None = None) -> list[dict[str, Any]]:
    """``replicates`` runs, replicate ``r`` seeded ``run_seed(seed, 0, r)``; the same on
    any number of workers or a Dask cluster."""
    jobs = [TheatreRun(scenario, run_seed(seed, 0, r)) for r in range(replicates)]
    with executor_for(workers, scheduler) as (executor, _):
        futures = [executor.submit(job) for job in jobs]
        return [future.result() for future in futures]


def monthly_runs(runs: list[dict[str, Any]]) -> pd.DataFrame:
    """The runs' monthly tables, one above the other with a ``replicate`` column."""
    return pd.concat([r["monthly"].assign(replicate=i) for i, r in enumerate(runs)],
                     ignore_index=True)


def fit_table(runs: list[dict[str, Any]], window: tuple[str, str] = WINDOW) -> pd.DataFrame:
    """Per month of ``window``: the attacker's claimed-loss equivalent (killed and
    wounded) and named-dead equivalent (killed x named share) from the runs (mean, its
    standard error, and the 5-95% of single runs), the record, and whether the record
    and the mean agree within the record's stated uncertainty: the claim within a factor
    :data:`CLAIM_FACTOR` of the mean, the named dead between the mean killed times 0.45
    and times 0.65."""
    table = monthly_runs(runs)
    attacker = table[(table["side"] == "attacker")
                     & table["month"].between(*window)]
    grouped = attacker.groupby("month")
    record = record_months(*window)
    out = pd.DataFrame(index=record.index)
    n = grouped.size()
    for name, column, factor in (("claimed_losses", "casualties", 1.0),
                                 ("named_dead", "killed", NAMED_SHARE_CENTRE)):
        values = grouped[column]
        out[f"{name}_model"] = values.mean() * factor
        out[f"{name}_se"] = values.std(ddof=1).fillna(0.0) / np.sqrt(n) * factor
        out[f"{name}_low"] = values.quantile((1 - LEVEL) / 2) * factor
        out[f"{name}_high"] = values.quantile((1 + LEVEL) / 2) * factor
        out[f"{name}_record"] = record[name]
    killed = grouped["killed"].mean()
    out["claimed_losses_agrees"] = ((out["claimed_losses_record"] / CLAIM_FACTOR
                                     <= out["claimed_losses_model"])
                                    & (out["claimed_losses_model"]
                                       <= out["claimed_losses_record"] * CLAIM_FACTOR))
    out["named_dead_agrees"] = ((killed * NAMED_SHARE[0] <= out["named_dead_record"])
                                & (out["named_dead_record"] <= killed * NAMED_SHARE[1]))
    out.index.name = "month"
    return out


def recruitment_table(runs: list[dict[str, Any]], scenario: TheatreScenario,
                      category: str = "contract") -> pd.DataFrame:
    """Each recruitment claim of the window beside the runs' recruits of the attacker's
    ``category`` counted the same way (since 1 January of its year, to its date): mean
    and the ratio to the claim."""
    rows = []
    for claim in observed.recruitment_claims():
        end = claim.counted_until
        if not (scenario.start_date <= claim.period_start and end <= scenario.date_of(
                scenario.max_days)):
            continue
        start_day, end_day = scenario.day_of(claim.period_start), scenario.day_of(end)
        counts = []
        for run in runs:
            daily = run["daily"]
            mine = daily[(daily["side"] == "attacker") & (daily["contingent"] == category)]
            series = mine.set_index("day")["recruited"]
            counts.append(float(series.loc[end_day] - series.loc[max(start_day - 1, 0)]
                                if start_day > 0 else series.loc[end_day]))
        mean = float(np.mean(counts))
        rows.append({"as_of": claim.as_of, "counted_until": end, "claimed": claim.persons,
                     "model": mean, "ratio": mean / claim.persons, "what": claim.what})
    return pd.DataFrame(rows)


def record_scatter(runs: list[dict[str, Any]], window: tuple[str, str] = WINDOW
                   ) -> dict[str, float]:
    """How far the record strays from the runs' mean over ``window``: per attacker
    series (``claimed_losses``, ``named_dead``), the root mean square of the log ratio
    of record to model (what the calibration minimised): the month-to-month swings of
    the record that the model does not follow, which a forecast's intervals must carry."""
    table = fit_table(runs, window)
    return {name: float(np.sqrt(np.mean(np.log(table[f"{name}_record"]
                                               / table[f"{name}_model"]) ** 2)))
            for name in ("claimed_losses", "named_dead")}


def forecast_table(runs_by_variant: dict[str, tuple[float, list[dict[str, Any]]]],
                   months: list[str], scatter: dict[str, float] | None = None
                   ) -> pd.DataFrame:
    """A forecast (:mod:`sim.forecast`'s columns) of ``months`` from runs of the
    theatre's variants, each ``(claim_factor, runs)``: the claimed-loss equivalent of a
    run is its killed and wounded over the factor its variant took the truth to be of
    the claim (the attacker's: the claim is the defender's of the attacker's losses); the
    named-dead equivalent (the attacker's, whose lists' share is known) its killed times
    the named share (the interval spans the share's range); the rest as the runs have
    them, for both sides. Intervals are the 5-95% of single runs (and always hold the
    mean); with ``scatter`` (:func:`record_scatter`, log scale), the claimed-loss and
    named-dead intervals are widened by the record's own scatter about the model in the
    window, ``exp(+-1.645 scatter)``, as a record of 2025 will stray as that of
    2023-2024 did."""
    frames = []
    for factor, runs in runs_by_variant.values():
        table = monthly_runs(runs)
        table["claimed_losses"] = table["casualties"] / factor
        frames.append(table)
    table = pd.concat(frames, ignore_index=True)
    table = table[table["month"].isin(months)]
    replicates = int(table.groupby(["month", "side"]).size().min())
    rows = []
    for (month, side), group in table.groupby(["month", "side"]):
        quantities = {"force_in_line": group["in_line"], "recruits_needed":
                      group["recruits_needed"], "net_change": group["net_change"],
                      "recruited": group["recruited"], "killed": group["killed"],
                      "wounded": group["wounded"]}
        if side == "attacker":
            quantities["claimed_losses"] = group["claimed_losses"]
        for name, values in quantities.items():
            rows.append(_row(month, name, side, values.to_numpy(float), replicates,
                             (scatter or {}).get(name, 0.0)))
        if side != "attacker":
            continue  # the named share (45-65%) is the Russian lists'
        killed = group["killed"].to_numpy(float)
        spread = np.exp(Z90 * (scatter or {}).get("named_dead", 0.0))
        low = float(np.percentile(killed * NAMED_SHARE[0], 100 * (1 - LEVEL) / 2)) / spread
        high = float(np.percentile(killed * NAMED_SHARE[1], 100 * (1 + LEVEL) / 2)) * spread
        mean = float(killed.mean() * NAMED_SHARE_CENTRE)
        rows.append({"month": month, "quantity": "named_dead", "who": side, "mean": mean,
                     "low": min(low, mean), "high": max(high, mean), "level": LEVEL,
                     "replicates": replicates})
    return pd.DataFrame(rows)


def _row(month: str, quantity: str, who: str, values: np.ndarray, replicates: int,
         scatter: float = 0.0) -> dict[str, Any]:
    mean = float(values.mean())
    spread = np.exp(Z90 * scatter)
    low = float(np.percentile(values, 100 * (1 - LEVEL) / 2)) / spread
    high = float(np.percentile(values, 100 * (1 + LEVEL) / 2)) * spread
    # A skewed handful of runs can put the mean outside the 5-95% of single runs.
    return {"month": month, "quantity": quantity, "who": who, "mean": mean,
            "low": min(low, mean), "high": max(high, mean), "level": LEVEL,
            "replicates": replicates}


def months_between(start: datetime.date, end: str) -> list[str]:
    """The months from ``start``'s to ``end`` (YYYY-MM), inclusive."""
    return observed.month_range(start.strftime("%Y-%m"), end)


def write_frames(folder: Path, frames: dict[str, pd.DataFrame]) -> list[Path]:
    """Each frame as ``NAME.csv`` in ``folder``, text that a spreadsheet would run as a
    formula (a name from the theatre's file) quoted (:func:`sim.publish.spreadsheet_safe`)."""
    from sim.publish import spreadsheet_safe

    paths = []
    for name, frame in frames.items():
        path = folder / f"{name}.csv"
        spreadsheet_safe(frame).to_csv(path, index=False)
        paths.append(path)
    return paths
