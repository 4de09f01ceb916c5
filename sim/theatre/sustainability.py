"""Can the recruit pool sustain it? The calibrated theatre run past its window under
named policies, over replicates and over the readings of the record it was calibrated
to (its ``variants``), and what each run says:

* the force in the line per side, day by day, and its net daily change;
* break-even recruitment: the killed, permanently lost wounded and released a day, who
  must be replaced to keep a side's force constant;
* the day recruitment stops covering losses (the 90-day mean of recruits falls below the
  90-day mean of those leaving and stays below for 180 days), the day the line breaks
  (under half what it held when the policy began), and the day the contract pool runs
  dry (under :data:`DRY_SHARE` of what it held at the start); any may not come by the
  horizon (censored).

    >>> [p.name for p in POLICIES.values()][:2]
    ['status_quo', 'higher_tempo']
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.executors import executor_for
from sim.fields import MAX_PERSONS
from sim.scenarios import ScenarioError
from sim.seeds import run_seed
from sim.sides import SIDES
from sim.theatre.calibration import monthly, with_contract_pool
from sim.theatre.files import read, validate
from sim.theatre.model import TheatreModel

#: The first day of every policy: the day after the calibration window.
POLICY_START = datetime.date(2025, 1, 1)
#: A pool under this share of its size at the start has run dry.
DRY_SHARE = 0.1
#: Days of the moving means that decide when recruitment stops covering losses, and
#: how long it must stay short to count.
COVER_WINDOW_DAYS = 90
COVER_HOLD_DAYS = 180
#: A line under this share of its strength on the policy's first day has broken.
BREAK_SHARE = 0.5
#: Runs one command may ask for (each keeps its daily series until the answers).
MAX_RUNS = 10_000
#: The category whose pool is the question (the attacker's volunteers on contract).
POOL_CATEGORY = ("attacker", "contract")


@dataclass(frozen=True)
class Policy:
    """A named policy: data laid over the theatre before the run (``setup``, e.g. the
    people a mobilisation would draft, who must be in a pool from day 0) and decisions
    from :data:`POLICY_START` (``changes``, the theatre's decision schedule)."""

    name: str
    description: str
    #: The attacker's categories it acts on.
    needs: tuple[str, ...] = ()
    setup: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda data: {})
    changes: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda data: {})

    def apply(self, data: dict[str, Any]) -> dict[str, Any]:
        """Theatre data with the policy laid over it (a new dict)."""
        from sim.keypaths import deep_merge

        out = deep_merge(copy.deepcopy(data), self.setup(data))
        assign = self.changes(out)
        if assign:
            out["changes"] = list(out.get("changes", [])) + [
                {"day": POLICY_START, "assign": assign}]
        return out


def _sectors(data: dict[str, Any]) -> list[dict[str, Any]]:
    return data["sectors"]


POLICIES: dict[str, Policy] = {p.name: p for p in (
    Policy("status_quo", "the last month's tempo, bonus and fires go on"),
    Policy("higher_tempo", "the attacker fights at 1.5 times its intensity from 2025",
           changes=lambda d: {"attacker.intensity": 1.5 * d["attacker"].get("intensity", 1.0)}),
    Policy("second_mobilisation", "300,000 more reservists drafted on 1 March 2025, "
           "trained 30 days", needs=("mobilised",),
           setup=lambda d: {"attacker": {"contingents": {"mobilised": {
               "pool": d["attacker"]["contingents"]["mobilised"].get("pool", 0) + 300_000,
               "tranches": [{"day": datetime.date(2025, 3, 1), "persons": 300_000}],
               "training_days": 30.0}}}}),
    Policy("drone_screen", "the defender's strike drones doubled in every sector from 2025",
           changes=lambda d: {f"sectors[{i}].defender.drones_per_km":
                              2.0 * s.get("defender", {}).get("drones_per_km", 0.0)
                              for i, s in enumerate(_sectors(d))}),
    Policy("foreign_contingent", "a foreign contingent of 50,000 arriving trained in five "
           "groups from March 2025, sent anywhere on the front", needs=("foreign",),
           setup=lambda d: {"attacker": {"contingents": {"foreign": {
               "pool": d["attacker"]["contingents"]["foreign"].get("pool", 0) + 50_000,
               "sectors": None,
               "reinforcements": list(d["attacker"]["contingents"]["foreign"]
                                      .get("reinforcements", []))
               + [{"day": datetime.date(2025, 3, 1) + datetime.timedelta(days=60 * k),
                   "persons": 10_000, "training_days": 180.0} for k in range(5)]}}}}),
)}


def extended(data: dict[str, Any], until: datetime.date) -> dict[str, Any]:
    """Theatre data run to ``until`` (its last phases, bonus and fires hold)."""
    out = copy.deepcopy(data)
    out["max_days"] = (until - out["start_date"]).days
    return out


class PolicyRun:
    """One run of a policy and variant: the daily series and monthly table the answers
    need, as plain arrays (they pickle back from workers)."""

    def __init__(self, data: dict[str, Any], seed: int):
        self.data, self.seed = data, seed

    def __call__(self) -> dict[str, Any]:
        scenario = validate(self.data, "the theatre")
        model = TheatreModel(scenario, rng=self.seed)
        model.run()
        records = model.records
        force = sum(records.side_series(n) for n in ("in_line", "in_rear", "reserve",
                                                       "in_training", "in_care"))
        leaving = sum(records.side_series(n) for n in ("killed", "permanently_lost",
                                                        "released"))
        k = model.contingents.index(POOL_CATEGORY)
        pool = records.contingent_array()[:, k, 0]
        casualties = records.side_series("killed") + records.side_series("wounded")
        return {"in_line": records.side_series("in_line"), "force": force,
                "casualties": casualties,
                "recruited": records.side_series("recruited"), "leaving": leaving,
                "pool": pool, "monthly": monthly(model)}


def cover_ends(recruited: np.ndarray, leaving: np.ndarray, first_day: int,
               window: int = COVER_WINDOW_DAYS, hold: int = COVER_HOLD_DAYS) -> int | None:
    """The first day from ``first_day`` on when the ``window``-day mean of daily recruits
    falls below that of those leaving and stays below for ``hold`` days (or to the end,
    if that comes first); none if it never does. A short spell does not count, and
    neither does recruitment that covers a line already broken (few left to lose).

    >>> r = np.concatenate([[0], np.full(400, 10.0).cumsum()])  # cumulative
    >>> l = np.concatenate([[0], np.r_[np.full(100, 5.0), np.full(300, 20.0)].cumsum()])
    >>> cover_ends(r, l, first_day=10, window=10, hold=30)
    104
    """
    days = len(recruited) - 1
    if days - first_day < window:
        return None
    mean_in = (recruited[window:] - recruited[:-window]) / window
    mean_out = (leaving[window:] - leaving[:-window]) / window
    ends = np.arange(window, days + 1)  # index i: the window ending on day i + window
    short = (mean_in < mean_out) & (ends >= first_day)
    for i in np.flatnonzero(short):
        stop = min(i + hold, len(short))
        if short[i:stop].all():
            return int(ends[i])
    return None


def line_breaks(in_line: np.ndarray, first_day: int, share: float = BREAK_SHARE) -> int | None:
    """The first day from ``first_day`` on when the line is under ``share`` of what it
    was on ``first_day``; none if never.

    >>> line_breaks(np.array([10, 10, 8, 4, 9]), first_day=1)
    3
    """
    below = np.flatnonzero(in_line[first_day:] < share * in_line[first_day])
    return int(first_day + below[0]) if below.size else None


def dry_day(pool: np.ndarray, share: float = DRY_SHARE) -> int | None:
    """The first day the pool is under ``share`` of its size on day 0; none if never."""
    below = np.flatnonzero(pool < share * pool[0]) if pool[0] > 0 else np.array([])
    return int(below[0]) if below.size else None


def sustainability_runs(theatre: str | Path | dict[str, Any], policies: list[str],
                        until: datetime.date, replicates: int = 4, seed: int = 0,
                        workers: int = 1, scheduler: str | None = None, progress=None,
                        pools: list[int] | None = None) -> list[dict[str, Any]]:
    """Every policy x variant x replicate run to ``until`` (and, with ``pools``, x each
    size of the attacker's contract pool, an assumption: its bonus steps re-derived so
    that 2023-2024's claimed signings stay as claimed; the policy's label then names the
    pool). Each result carries its policy, variant and replicate. Replicate ``r`` of
    every policy and variant has the same seed (common random numbers: a policy, not
    luck, makes the difference)."""
    if isinstance(theatre, dict):
        file, data = "theatre", copy.deepcopy(theatre)
    else:
        path, data = read(theatre)
        file = str(path)
    policies = list(dict.fromkeys(policies))
    unknown = [p for p in policies if p not in POLICIES]
    if unknown or not policies:
        raise ScenarioError(file, "--policy", f"{unknown[0] if unknown else 'none'}; allowed: "
                                              f"{', '.join(POLICIES)}")
    if until <= POLICY_START:
        raise ScenarioError(file, "--until", f"{until}; allowed: a date after {POLICY_START}")
    base = validate(data, file)
    for name in policies:
        missing = [c for c in POLICIES[name].needs + (POOL_CATEGORY[1],)
                   if c not in base.attacker.contingents]
        if missing:
            raise ScenarioError(file, "--policy", f"{name} needs an attacker category "
                                                  f"'{missing[0]}'; allowed: a theatre with "
                                                  f"one, or another policy")
    variants = {"record": {}} | {n: v.assign for n, v in base.variants.items()}
    if (POLICY_START - base.start_date).days <= COVER_WINDOW_DAYS:
        raise ScenarioError(file, "start_date", f"{base.start_date}; allowed: a theatre that "
                                                f"starts more than {COVER_WINDOW_DAYS} days "
                                                f"before the policies begin ({POLICY_START})")
    pools = list(dict.fromkeys(pools or []))
    for pool in pools:
        if not 0 < pool <= MAX_PERSONS:
            raise ScenarioError(file, "--contract-pool", f"{pool}; allowed: 1 to "
                                                         f"{MAX_PERSONS:,}")
    if len(policies) * (len(base.variants) + 1) * max(1, len(pools)) * replicates > MAX_RUNS:
        raise ScenarioError(file, "--replicates", f"{replicates} makes more than "
                                                  f"{MAX_RUNS:,} runs; allowed: fewer policies, "
                                                  f"pools or replicates")
    jobs = []
    for pool in pools or [None]:
        try:
            pooled = data if pool is None else with_contract_pool(data, pool, POOL_CATEGORY[1])
        except ValueError as err:
            raise ScenarioError(file, "--contract-pool", str(err)) from None
        for name in policies:
            label = name if pool is None else f"{name}, pool {pool / 1e6:g}M"
            for variant, values in variants.items():
                laid = POLICIES[name].apply(extended(_with_values(pooled, values), until))
                validate(laid, f"{file} under {label} ({variant})")  # refused before runs
                for r in range(replicates):
                    jobs.append(((label, variant, r), PolicyRun(laid, run_seed(seed, 0, r))))
    results = []
    with executor_for(workers, scheduler) as (executor, _):
        futures = [(key, executor.submit(job)) for key, job in jobs]
        for (name, variant, r), future in futures:
            result = future.result()
            result.update(policy=name, variant=variant, replicate=r)
            results.append(result)
            if progress:
                progress(1)
    return results


def _with_values(data: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    from sim.keypaths import assign

    out = copy.deepcopy(data)
    out.pop("variants", None)
    for key, value in values.items():
        assign(out, key, value)
    return out


def answers(results: list[dict[str, Any]], start_date: datetime.date) -> pd.DataFrame:
    """Per policy and side: the day recruitment stops covering losses, the day the line
    breaks and the day the contract pool runs dry (attacker), as median and 5-95% over
    runs, with the share of runs where it comes by the horizon; the force in the line and
    the net daily change over the last 90 days at the horizon; break-even recruitment
    then."""
    first = (POLICY_START - start_date).days
    rows = []
    for name in dict.fromkeys(r["policy"] for r in results):
        mine = [r for r in results if r["policy"] == name]
        for s, side in enumerate(SIDES):
            ends = [cover_ends(r["recruited"][:, s], r["leaving"][:, s], first) for r in mine]
            broken = [line_breaks(r["in_line"][:, s], first) for r in mine]
            dry = [dry_day(r["pool"]) if s == 0 else None for r in mine]
            last = [r["in_line"][-1, s] for r in mine]
            change = [(r["force"][-1, s] - r["force"][-91, s]) / 90 for r in mine]
            needed = [(r["leaving"][-1, s] - r["leaving"][-91, s]) / 90 for r in mine]
            rows.append({"policy": name, "side": side, "runs": len(mine),
                         **_dates("cover_ends", ends, start_date),
                         **_dates("line_breaks", broken, start_date),
                         **(_dates("pool_dry", dry, start_date) if s == 0 else {}),
                         "in_line_end": np.median(last),
                         "in_line_end_low": np.percentile(last, 5),
                         "in_line_end_high": np.percentile(last, 95),
                         "net_change_per_day_end": np.median(change),
                         "break_even_per_day_end": np.median(needed)})
    return pd.DataFrame(rows)


def _dates(name: str, days: list[int | None], start: datetime.date) -> dict[str, Any]:
    """Median and 5-95% of the days that came (as dates) and the share that came by
    the horizon (censored runs counted as later than every date)."""
    came = sorted(d for d in days if d is not None)
    share = len(came) / len(days)
    out = {f"{name}_share": share}
    if not came:
        return out | {f"{name}_median": None, f"{name}_low": None, f"{name}_high": None}
    # Quantiles over all runs, the censored ones beyond the horizon: a quantile that
    # falls among them is 'after the horizon' (none).
    ranks = np.array([0.05, 0.5, 0.95]) * (len(days) - 1)
    values = [came[int(round(q))] if round(q) < len(came) else None for q in ranks]
    dates = [None if v is None else start + datetime.timedelta(days=v) for v in values]
    return out | {f"{name}_low": dates[0], f"{name}_median": dates[1],
                  f"{name}_high": dates[2]}
