"""Model calibration: scenario keys fitted so that the model's replicate-mean series
match a battle record, by the method of simulated moments with common random numbers.

The record's observed series (:data:`sim.lawfit.SERIES`) are matched to the model's
daily record, summed over contingents: a side's *strength* is its ``personnel`` (persons
in its units, fighting or not), its *casualties* are ``killed_total + wounded_total``.
Record day 0 is the model's day 0, and the model runs for as many days as the record;
a run that stops earlier (a side broke) keeps its last values, as the battle is over.
The record's reinforcements are not used here: the scenario's own force generation
makes the model's arrivals.

Method
------
For values ``theta`` of the fitted keys, the model runs ``R`` replicates with the same
``R`` seeds at every ``theta`` (common random numbers: a change of ``theta``, not a
change of luck, moves the mean), and the objective is

    Q(theta) = sum_s w_s sum_t (y_s(t) - m_s(t; theta))^2

over the observed series ``s`` and days ``t``, where ``m`` is the replicate mean and
``w_s`` is one over series ``s``'s variance between replicates (pooled over the first
design), so that each series counts by its own noise. The search evaluates a design over
the bounds in parallel (9 points for one key, a scrambled Sobol' set for more), then
refines from its best point (bounded Brent for one key, Nelder-Mead for more). A key
whose bounds are both positive is searched on a log scale.

Uncertainty (standard errors, 95% intervals, the fit at the estimate) is worked out in
:mod:`sim.calibration_uncertainty`.

    >>> from sim.scenarios import read
    >>> _, data = read("lanchester_square")
    >>> data["combat"]["substeps_per_day"] = 4
    >>> truth = SeriesEvaluator(data, [FitKey("defender.aimed_kills_per_shooter_per_day",
    ...                                       0.02, 0.1)], ["attacker_strength"], days=8)
    >>> record = record_of(truth([0.05], seed=99), ["attacker_strength"])
    >>> fit = calibrate_model(record, data, ["defender.aimed_kills_per_shooter_per_day"],
    ...                       replicates=6)
    >>> low, high = fit.intervals["defender.aimed_kills_per_shooter_per_day"]
    >>> bool(low < 0.05 < high)
    True
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize
from scipy.stats import qmc

from sim.calibration_uncertainty import ModelFit, summarise_fit
from sim.config import Scenario
from sim.executors import executor_for
from sim.experiments import parse_vary
from sim.fields import numeric_key
from sim.keypaths import assign
from sim.lawfit import SERIES, Record
from sim.model import AttritionModel
from sim.scenarios import ScenarioError, read, validate
from sim.seeds import run_seed
from sim.sides import SIDES

#: Model daily-record columns that make each kind of observed series (summed).
MODEL_COLUMNS = {"strength": ("personnel",), "casualties": ("killed_total", "wounded_total")}
#: Default search bounds: the scenario's value divided and multiplied by this.
DEFAULT_SPAN = 4.0
#: Design points for one key; more keys get a Sobol' set of 8 points a key.
DESIGN_POINTS_ONE_KEY = 9


@dataclass(frozen=True)
class FitKey:
    """A scenario key to fit, searched between ``low`` and ``high`` (on a log scale when
    both are positive); a whole-number key is rounded when the model is built."""

    key: str
    low: float
    high: float
    integer: bool = False

    @property
    def logged(self) -> bool:
        return self.low > 0

    def to_unit(self, value: float) -> float:
        if self.logged:
            return math.log(value / self.low) / math.log(self.high / self.low)
        return (value - self.low) / (self.high - self.low)

    def from_unit(self, u: float) -> float:
        u = min(max(float(u), 0.0), 1.0)
        if self.logged:
            return self.low * (self.high / self.low) ** u
        return self.low + u * (self.high - self.low)

    def cast(self, value: float) -> float | int:
        return int(round(value)) if self.integer else float(value)


def fit_key(scenario: Scenario, text: str, file: str | Path = "scenario") -> FitKey:
    """A ``--fit`` argument: ``key.path`` (searched from the scenario's value / 4 to x 4,
    within the schema's limits) or ``key.path=interval(LOW,HIGH)``.

    >>> from sim.scenarios import load
    >>> fit_key(load("lanchester_square"), "defender.aimed_kills_per_shooter_per_day")
    FitKey(key='defender.aimed_kills_per_shooter_per_day', low=0.0125, high=0.2, integer=False)
    >>> fit_key(load("lanchester_square"), "sector.cover=interval(0.1, 0.5)").high
    0.5
    """
    key, sep, spec = text.partition("=")
    key = key.strip()
    try:
        info = numeric_key(scenario, key)
    except KeyError as err:
        raise ScenarioError(file, f"--fit {key}", err.args[0]) from None
    limits = (f"{'>' if info.open_low else '>='} {info.low:g}",
              f"{'<' if info.open_high else '<='} {info.high:g}")
    if sep:
        numbers = _interval(text)
        if numbers is None:
            raise ScenarioError(file, f"--fit {text}", "allowed: key.path or "
                                "key.path=interval(LOW,HIGH) with LOW < HIGH")
        low, high = numbers
    else:
        value = max(abs(v) for v in info.values)
        if value == 0:
            raise ScenarioError(file, f"--fit {key}", "is 0 in the scenario, so there is no "
                                "default range; allowed: key.path=interval(LOW,HIGH)")
        low, high = min(info.values) / DEFAULT_SPAN, max(info.values) * DEFAULT_SPAN
        if min(info.values) < 0:
            low, high = -value * DEFAULT_SPAN, value * DEFAULT_SPAN
        low, high = max(low, info.low), min(high, info.high)
    outside = ((low < info.low or (info.open_low and low == info.low))
               or (high > info.high or (info.open_high and high == info.high)))
    if outside:
        raise ScenarioError(file, f"--fit {key}", f"interval({low:g},{high:g}) leaves the "
                            f"key's limits; allowed: {limits[0]} and {limits[1]}")
    if info.integer and high - low < 2:
        raise ScenarioError(file, f"--fit {key}", "a whole-number key needs a range of at "
                            "least 2; allowed: key.path=interval(LOW,HIGH)")
    return FitKey(key, float(low), float(high), info.integer)


def _interval(text: str) -> tuple[float, float] | None:
    """``key=interval(LOW,HIGH)`` read as ``--vary`` reads it, or none for any other
    form or an empty range."""
    try:
        _, spec = parse_vary(text.replace(" ", ""))
    except ValueError:
        return None
    low, high = spec.get("interval", {}).get("low"), spec.get("interval", {}).get("high")
    if low is None or not (math.isfinite(low) and math.isfinite(high) and low < high):
        return None
    return low, high


def model_series(model: AttritionModel, series: Sequence[str], days: int) -> np.ndarray:
    """(len(series), days + 1) array of a run's observed series, the last day's values
    kept after a run that stopped early."""
    out = np.empty((len(series), days + 1))
    for i, name in enumerate(series):
        side, kind = name.split("_", 1)
        values = sum(model.side_history(c)[:, SIDES.index(side)] for c in MODEL_COLUMNS[kind])
        values = values[:days + 1]
        out[i, :len(values)] = values
        out[i, len(values):] = values[-1]
    return out


class SeriesEvaluator:
    """Runs the model on scenario ``base`` (data, as read) with the fitted keys set and
    returns the observed series. Plain data, so it pickles to process and Dask workers."""

    def __init__(self, base: dict[str, Any], keys: Sequence[FitKey], series: Sequence[str],
                 days: int):
        self.base, self.keys = base, list(keys)
        self.series, self.days = list(series), int(days)

    def scenario(self, values: Sequence[float]) -> Scenario:
        """The scenario at ``values``; :class:`ScenarioError` (one line) if invalid."""
        data = copy.deepcopy(self.base)
        data["max_days"] = self.days
        for key, value in zip(self.keys, values, strict=True):
            assign(data, key.key, key.cast(value))
        at = ", ".join(f"{k.key}={k.cast(v):g}" for k, v in zip(self.keys, values, strict=True))
        return validate(data, f"the scenario at {at}")

    def __call__(self, values: Sequence[float], seed: int) -> np.ndarray:
        model = AttritionModel(self.scenario(values), rng=seed)
        model.run()
        return model_series(model, self.series, self.days)


def record_of(series: np.ndarray, names: Sequence[str]) -> Record:
    """A record observing ``names`` with the values of ``series`` ((names, days + 1))."""
    return Record({n: np.asarray(s, dtype=float) for n, s in zip(names, series, strict=True)},
                  np.zeros((series.shape[1], 2)))


class _Calibration:
    """The objective over unit-cube coordinates, every evaluation kept."""

    def __init__(self, record: Record, evaluator: SeriesEvaluator, seeds: list[int],
                 executor, progress):
        self.keys, self.evaluator, self.seeds = evaluator.keys, evaluator, seeds
        self.observed = np.array([record.observed[s] for s in evaluator.series])
        self.mask = np.isfinite(self.observed)
        self.executor, self.progress = executor, progress
        self.weights = np.ones(len(evaluator.series))
        self.cache: dict[tuple, np.ndarray] = {}

    def values(self, u: np.ndarray) -> list[float]:
        return [k.from_unit(x) for k, x in zip(self.keys, u, strict=True)]

    def runs(self, points: list[np.ndarray]) -> list[np.ndarray]:
        """(R, series, days + 1) runs at each point, all submitted at once."""
        keys = [tuple(k.cast(v) for k, v in zip(self.keys, self.values(u), strict=True))
                for u in points]
        todo = list(dict.fromkeys(k for k in keys if k not in self.cache))
        futures = {k: [self.executor.submit(self.evaluator, list(k), seed)
                       for seed in self.seeds] for k in todo}
        for k, jobs in futures.items():
            self.cache[k] = np.array([job.result() for job in jobs])
            self.progress(len(self.seeds))
        return [self.cache[k] for k in keys]

    def objective(self, runs: np.ndarray) -> float:
        residual = np.where(self.mask, self.observed - runs.mean(axis=0), 0.0)
        return float(np.sum(self.weights[:, None] * residual**2))

    def __call__(self, u) -> float:
        return self.objective(self.runs([np.atleast_1d(u)])[0])


def calibrate_model(record: Record, scenario: str | Path | dict[str, Any],
                    fit: Sequence[str | FitKey], replicates: int = 10, seed: int = 0,
                    workers: int = 1, scheduler: str | None = None,
                    progress=None) -> ModelFit:
    """Fit scenario keys so that the model's replicate mean matches ``record``.

    Parameters
    ----------
    record : the battle record (strength and casualty series are matched).
    scenario : a scenario name or file, or scenario data as :func:`sim.scenarios.read`
        gives it.
    fit : keys to fit, as ``--fit`` takes them (``key.path`` or
        ``key.path=interval(LOW,HIGH)``), or :class:`FitKey`.
    replicates : runs per evaluation, with the same seeds at every evaluation.
    seed : master seed; replicate ``r`` has seed ``run_seed(seed, 0, r)``.
    workers, scheduler : where runs go, as for a sweep (:func:`sim.executors.executor_for`).
    progress : called with the number of runs finished, as they finish.

    Raises :class:`ScenarioError` (one line) for a bad key, range or scenario, and
    ``ValueError`` for a record with nothing to match.
    """
    if replicates < 3:
        raise ScenarioError(str(scenario) if not isinstance(scenario, dict) else "scenario",
                            "--replicates", f"{replicates}; allowed: 3 or more (the spread "
                            f"between replicates gives the intervals)")
    name, evaluator = fitted_series(record, scenario, fit)
    seeds = [run_seed(seed, 0, r) for r in range(replicates)]
    with executor_for(workers, scheduler) as (executor, _):
        problem = _Calibration(record, evaluator, seeds, executor, progress or (lambda n: None))
        estimate = _search(problem)
        return summarise_fit(problem, estimate, name, record)


def fitted_series(record: Record, scenario: str | Path | dict[str, Any],
                  fit: Sequence[str | FitKey]) -> tuple[str, SeriesEvaluator]:
    """What a calibration of scenario keys to ``record`` runs (by least squares here, by
    ABC in :func:`sim.bayes.abc_model`): the scenario's name and the evaluator of the
    record's observed series with the keys set. Every check comes before any run: the
    scenario, each key and its range (both corners validated), the record.

    Raises :class:`ScenarioError` (one line) for a bad key, range or scenario, and
    ``ValueError`` for a record with nothing to match."""
    if isinstance(scenario, dict):
        file, data = "scenario", copy.deepcopy(scenario)
    else:
        path, data = read(scenario)
        file = str(path)
    name = str(data.get("name") or (Path(file).stem if file != "scenario" else "scenario"))
    base = validate(data, file)
    keys = [k if isinstance(k, FitKey) else fit_key(base, k, file) for k in fit]
    if not keys:
        raise ScenarioError(file, "--fit", "no key; allowed: one or more key.path")
    if len({k.key for k in keys}) != len(keys):
        raise ScenarioError(file, "--fit", "a key is named twice; allowed: each key once")
    series = [s for s in SERIES if np.isfinite(record.observed.get(s, [np.nan])).any()]
    if not series or record.days < 2:
        raise ValueError(f"{len(series)} observed series over {record.days + 1} days; "
                         f"allowed: a strength or casualty series over 3 days or more")
    evaluator = SeriesEvaluator(data, keys, series, record.days)
    for corner in ([k.low for k in keys], [k.high for k in keys]):
        evaluator.scenario(corner)  # a range the scenario cannot take fails before any run
    return name, evaluator


def _design(dimensions: int) -> np.ndarray:
    if dimensions == 1:
        return np.linspace(0, 1, DESIGN_POINTS_ONE_KEY)[:, None]
    sobol = qmc.Sobol(dimensions, scramble=True, seed=np.random.default_rng(0))
    points = sobol.random(2 ** math.ceil(math.log2(8 * dimensions)))
    return np.vstack([np.full(dimensions, 0.5), points])


def _search(problem: _Calibration) -> np.ndarray:
    """The design, weights from its replicate spread, then a local refinement."""
    design = _design(len(problem.keys))
    runs = problem.runs(list(design))
    spread = np.array([np.mean([r.var(axis=0, ddof=1)[s][problem.mask[s]].mean()
                                for r in runs]) for s in range(len(problem.evaluator.series))])
    problem.weights = 1.0 / np.maximum(spread, 1.0)  # counts: at least 1 person^2
    values = [problem.objective(r) for r in runs]
    best = int(np.argmin(values))
    if len(problem.keys) == 1:
        grid = design[:, 0]
        low, high = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
        found = optimize.minimize_scalar(problem, bounds=(low, high), method="bounded",
                                         options={"xatol": 1e-3})
        u = np.array([found.x])
        return u if found.fun <= values[best] else design[best]
    step = 0.5 / len(design) ** (1 / len(problem.keys))
    simplex = [design[best]] + [np.clip(design[best] + step * np.eye(len(problem.keys))[i]
                                        * (1 if design[best][i] < 0.5 else -1), 0, 1)
                                for i in range(len(problem.keys))]
    found = optimize.minimize(problem, design[best], method="Nelder-Mead",
                              bounds=[(0, 1)] * len(problem.keys),
                              options={"initial_simplex": np.array(simplex), "xatol": 1e-3,
                                       "fatol": 1e-6 * max(values[best], 1e-12),
                                       "maxfev": 60 * len(problem.keys)})
    return found.x if found.fun <= values[best] else design[best]


__all__ = ["FitKey", "ModelFit", "SeriesEvaluator", "calibrate_model", "fit_key",
           "fitted_series", "model_series", "record_of"]
