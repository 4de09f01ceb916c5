"""The theatre against the record of 2023-2024: monthly quantities of a run, what the
public series say and how sure they are, and the calibration of theatre keys with the
project's method of simulated moments (:mod:`sim.calibration`).

The record (``data/``, read by :mod:`sim.observed`) and how each series is compared:

* **Claimed losses**: the Russian killed and wounded that Ukraine's General Staff claims
  a month. One side's claim about the other: the model's killed and wounded (its
  *claimed-loss equivalent*) agree with it when within a factor :data:`CLAIM_FACTOR`
  either way. The factor is the spread of what the named dead imply: named lists hold
  45-65% of the dead (:data:`NAMED_SHARE`), and wounded-to-killed ratios of 3:1 to 5:1
  (``seeds/claims.csv``) put the killed and wounded of 2023-2024 between about 0.65 and
  1.4 times the claim (:func:`claim_span`): a factor of about 1.5 either way.
* **Named dead**: Russian dead identified by name, a lower bound. The model's
  *named-dead equivalent* is its killed times the named share; the record agrees when it
  lies between the killed times 0.45 and times 0.65. The months of 2023-2024 were 11 to
  34 months old when the list was read (8 November 2025), past most of its filling in.
* **Recruitment**: Russia's claimed contract signings, cumulative within each year.

Fitted by the calibration (``attrition theatre calibrate``): the attacker's national
intensity and its killed share, on the logarithms of both monthly series (each month
counts by its ratio, not its size), the claim taken at face value or the truth taken as a
factor times it (``claim_factor``) to carry the claim's uncertainty into the estimates. The
month-to-month shape of the attacker's tempo is an input, taken from the named dead
(:func:`tempo_shape`: counts of people, not a combatant's claim); the claim's shape is not
fitted, so the monthly agreement with it is a check of the model's ratio of killed to
wounded and of the claim's own consistency.
"""

from __future__ import annotations

import copy
import datetime
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import observed
from sim.calibration import FitKey, _Calibration, _search, fit_key
from sim.calibration_uncertainty import ModelFit, summarise_fit
from sim.executors import executor_for
from sim.keypaths import assign
from sim.lawfit import Record
from sim.scenarios import ScenarioError
from sim.seeds import run_seed
from sim.sides import SIDES
from sim.theatre.config import TheatreScenario
from sim.theatre.files import read, validate
from sim.theatre.model import TheatreModel

#: The calibration window (months, inclusive).
WINDOW = ("2023-01", "2024-12")
#: One side's claim of the other's losses agrees within this factor either way.
CLAIM_FACTOR = 1.5
#: Share of the dead that named lists hold (data/README.md).
NAMED_SHARE = (0.45, 0.65)
#: The geometric centre of the named share, what a fit of the named dead assumes.
NAMED_SHARE_CENTRE = math.sqrt(NAMED_SHARE[0] * NAMED_SHARE[1])
#: Wounded per killed seen in wars with modern care and drones (seeds/claims.csv).
WOUNDED_PER_KILLED = (3.0, 5.0)
#: Observed series of a theatre calibration: the attacker's claimed losses and named dead.
SERIES = ("attacker_claimed_losses", "attacker_named_dead")
DEFAULT_FIT = ("attacker.intensity", "attacker.killed_fraction")


def monthly(model: TheatreModel) -> pd.DataFrame:
    """Per side and calendar month of a run: its flows (persons/month: ``casualties``,
    ``killed``, ``wounded``, ``recruited``, ``leaving`` for good: killed, permanently
    lost and released) and stocks at the month's end (persons: ``in_line``, ``force``:
    everyone in battalions, the reserve, training and care). ``recruits_needed`` is the
    break-even recruitment, what would have kept the force constant: ``leaving``;
    ``net_change`` the force's change, ``recruited - leaving``."""
    records = model.records
    dates = pd.to_datetime([model.config.date_of(d) for d in range(model.day + 1)])
    month = dates.strftime("%Y-%m")
    # The last day of each month seen (day 0 starts the first month's flows).
    last = pd.Series(np.arange(len(dates))).groupby(month).max()
    ends = last.to_numpy()
    starts = np.concatenate([[0], ends[:-1]])
    columns = {name: records.side_series(name) for name in
               ("killed", "wounded", "permanently_lost", "released", "recruited", "in_line",
                "in_rear", "reserve", "in_training", "in_care")}
    frames = []
    for s, side in enumerate(SIDES):
        def flow(name, s=s):
            values = columns[name][:, s]
            return values[ends] - values[starts]

        def stock(name, s=s):
            return columns[name][ends, s]

        killed, wounded = flow("killed"), flow("wounded")
        leaving = killed + flow("permanently_lost") + flow("released")
        force = sum(stock(n) for n in ("in_line", "in_rear", "reserve", "in_training",
                                       "in_care"))
        frames.append(pd.DataFrame({
            "side": side, "month": last.index, "casualties": killed + wounded,
            "killed": killed, "wounded": wounded, "recruited": flow("recruited"),
            "leaving": leaving, "recruits_needed": leaving,
            "net_change": flow("recruited") - leaving, "in_line": stock("in_line"),
            "force": force}))
    return pd.concat(frames, ignore_index=True)


def record_months(start: str = WINDOW[0], end: str = WINDOW[1]) -> pd.DataFrame:
    """The record per month: ``claimed_losses`` and ``named_dead`` (Russian, the
    attacker), persons/month."""
    return pd.DataFrame({"claimed_losses": observed.claimed_losses_monthly(start, end),
                         "named_dead": observed.named_dead_monthly("russia", start, end)
                         ["named_deaths"]})


def claim_span(start: str = WINDOW[0], end: str = WINDOW[1]) -> tuple[float, float]:
    """What the named dead imply for the claim over the months: killed and wounded from
    the named dead, the named share and the wounded per killed at their extremes, as
    multiples of the claim (low, high)."""
    record = record_months(start, end)
    named, claimed = float(record["named_dead"].sum()), float(record["claimed_losses"].sum())
    low = named / NAMED_SHARE[1] * (1 + WOUNDED_PER_KILLED[0]) / claimed
    high = named / NAMED_SHARE[0] * (1 + WOUNDED_PER_KILLED[1]) / claimed
    return low, high


def tempo_shape(series: str = "named_dead", start: str = WINDOW[0],
                end: str = WINDOW[1]) -> list[dict[str, Any]]:
    """National tempo phases for the attacker, one a month, in proportion to a series of
    the record (``named_dead`` or ``claimed_losses``) over its mean: the seasons' shape as
    the record has it (an input; the level is what a calibration fits). TOML-ready
    (``day`` a date)."""
    values = record_months(start, end)[series].astype(float)
    shape = values / values.mean()
    return [{"day": datetime.date(int(m[:4]), int(m[5:]), 1), "intensity": round(float(v), 3)}
            for m, v in shape.items()]


def bonus_steps_for(claims: Sequence[tuple[datetime.date, datetime.date, int | None]],
                    recruits_per_day: float, pool: int) -> list[dict[str, Any]]:
    """Bonus multiples (elasticity 1) that make a depleting recruitment (exponent 1)
    sign ``persons`` between each ``(start, end, persons)`` of ``claims``, in order (a
    ``persons`` of none keeps the last multiple, the pool going on falling): within a
    step the pool falls as ``exp(-r0 m t / P0)``, so the multiple is
    ``-P0 ln(1 - persons / P_start) / (r0 days)``."""
    left, multiple = float(pool), 1.0
    steps = []
    for start, end, persons in claims:
        days = (end - start).days
        if persons is None:
            left *= math.exp(-recruits_per_day * multiple * days / pool)
            continue
        multiple = -pool * math.log(1.0 - persons / left) / (recruits_per_day * days)
        steps.append({"day": start, "multiple": round(multiple, 4)})
        left -= persons
    return steps


#: The contract signings the theatre's recruitment reproduces (seeds/claims.csv:
#: ru-contract-2023-jul, -2023-sep, -2023-dec14, -2024-jun, -2024-year): (start, end,
#: persons), a none keeping the last effort (from 14 to 31 December 2023).
RECRUITMENT_INTERVALS = (
    (datetime.date(2023, 1, 1), datetime.date(2023, 7, 4), 185_000),
    (datetime.date(2023, 7, 4), datetime.date(2023, 9, 26), 140_000),
    (datetime.date(2023, 9, 26), datetime.date(2023, 12, 14), 161_000),
    (datetime.date(2023, 12, 14), datetime.date(2024, 1, 1), None),
    (datetime.date(2024, 1, 1), datetime.date(2024, 6, 30), 190_000),
    (datetime.date(2024, 6, 30), datetime.date(2025, 1, 1), 260_000),
)


def with_contract_pool(data: dict[str, Any], pool: int,
                       category: str = "contract") -> dict[str, Any]:
    """Theatre data whose attacker ``category`` has a willing pool of ``pool`` and the
    bonus steps that make it sign the claimed contracts of 2023-2024 all the same: the
    pool, an assumption, changes what comes after 2024, not the record."""
    out = copy.deepcopy(data)
    contingent = out["attacker"]["contingents"][category]
    rate = float(contingent.get("recruits_per_day", 0.0))
    claimed = sum(persons or 0 for _, _, persons in RECRUITMENT_INTERVALS)
    if rate <= 0 or pool <= claimed:
        raise ValueError(f"a contract pool of {pool:,} with {rate:g} recruits a day cannot "
                         f"sign the {claimed:,} claimed in 2023-2024; allowed: a pool above "
                         f"{claimed:,} and a recruits_per_day above 0")
    contingent["pool"] = int(pool)
    contingent["bonus"] = bonus_steps_for(RECRUITMENT_INTERVALS, rate, int(pool))
    return out


class TheatreSeries:
    """Runs the theatre ``base`` (data, as read) with the fitted keys set and returns the
    logarithms of the attacker's monthly claimed-loss and named-dead equivalents over
    ``months``. Plain data, so it pickles to process and Dask workers; the
    :mod:`sim.calibration` engine calls it as it calls a sector's evaluator."""

    def __init__(self, base: dict[str, Any], keys: Sequence[FitKey], months: Sequence[str]):
        self.base, self.keys, self.months = base, list(keys), list(months)
        self.series = list(SERIES)
        self.days = len(self.months) - 1

    def scenario(self, values: Sequence[float]) -> TheatreScenario:
        data = copy.deepcopy(self.base)
        for key, value in zip(self.keys, values, strict=True):
            assign(data, key.key, key.cast(value))
        at = ", ".join(f"{k.key}={k.cast(v):g}" for k, v in zip(self.keys, values, strict=True))
        return validate(data, f"the theatre at {at}")

    def __call__(self, values: Sequence[float], seed: int) -> np.ndarray:
        model = TheatreModel(self.scenario(values), rng=seed)
        model.run()
        return equivalents(monthly(model), self.months)


def equivalents(months: pd.DataFrame, window: Sequence[str]) -> np.ndarray:
    """(2, months): log claimed-loss and named-dead equivalents of the attacker."""
    attacker = months[months["side"] == "attacker"].set_index("month").reindex(list(window))
    if attacker["casualties"].isna().any():
        missing = attacker.index[attacker["casualties"].isna()][0]
        raise ValueError(f"the run does not reach {missing}; allowed: a theatre whose "
                         f"max_days covers {window[0]} to {window[-1]}")
    return np.log(np.maximum(1.0, np.array([
        attacker["casualties"].to_numpy(float),
        attacker["killed"].to_numpy(float) * NAMED_SHARE_CENTRE])))


def observed_record(claim_factor: float = 1.0, window: Sequence[str] = WINDOW) -> Record:
    """The record as the calibration matches it: logs of the truth the claim implies
    (the claim times ``claim_factor``) and of the named dead, month by month."""
    months = observed.month_range(*window)
    record = record_months(months[0], months[-1])
    return Record({SERIES[0]: np.log(record["claimed_losses"].to_numpy(float) * claim_factor),
                   SERIES[1]: np.log(record["named_dead"].to_numpy(float))},
                  np.zeros((len(months), 2)))


def calibrate_theatre(theatre: str | Path | dict[str, Any],
                      fit: Sequence[str | FitKey] = DEFAULT_FIT, claim_factor: float = 1.0,
                      replicates: int = 4, seed: int = 0, workers: int = 1,
                      scheduler: str | None = None, progress=None) -> ModelFit:
    """Fit theatre keys so that the replicate mean of the attacker's monthly claimed-loss
    and named-dead equivalents (logs) matches the record of :data:`WINDOW`, with the
    engine of :func:`sim.calibration.calibrate_model` (design, refinement, sandwich
    standard errors). Raises :class:`sim.scenarios.ScenarioError` (one line)."""
    if isinstance(theatre, dict):
        file, data = "theatre", copy.deepcopy(theatre)
    else:
        path, data = read(theatre)
        file = str(path)
    if not (1 / 10 <= claim_factor <= 10):
        raise ScenarioError(file, "--claim-factor", f"{claim_factor:g}; allowed: 0.1 to 10")
    if replicates < 3:
        raise ScenarioError(file, "--replicates", f"{replicates}; allowed: 3 or more (the "
                                                  f"spread between replicates gives the "
                                                  f"intervals)")
    base = validate(data, file)
    keys = [k if isinstance(k, FitKey) else fit_key(base, k, file) for k in fit]
    if not keys or len({k.key for k in keys}) != len(keys):
        raise ScenarioError(file, "--fit", "no key, or a key named twice; allowed: each key "
                                           "once")
    months = observed.month_range(*WINDOW)
    if base.start_date > datetime.date(int(months[0][:4]), int(months[0][5:]), 1):
        raise ScenarioError(file, "start_date", f"{base.start_date}; allowed: a theatre that "
                                                f"starts by {months[0]}-01, the calibration "
                                                f"window's first day")
    if base.date_of(base.max_days) < datetime.date(int(months[-1][:4]), int(months[-1][5:]),
                                                    28):
        raise ScenarioError(file, "max_days", f"{base.max_days} ends on "
                                              f"{base.date_of(base.max_days)}; allowed: a run "
                                              f"that covers {WINDOW[0]} to {WINDOW[1]}")
    evaluator = TheatreSeries(data, keys, months)
    for corner in ([k.low for k in keys], [k.high for k in keys]):
        evaluator.scenario(corner)
    record = observed_record(claim_factor)
    seeds = [run_seed(seed, 0, r) for r in range(replicates)]
    with executor_for(workers, scheduler) as (executor, _):
        problem = _Calibration(record, evaluator, seeds, executor, progress or (lambda n: None))
        estimate = _search(problem)
        return summarise_fit(problem, estimate, str(data.get("name", file)), record)
