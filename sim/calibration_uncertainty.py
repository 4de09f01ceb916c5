"""Uncertainty of a model calibration (:mod:`sim.calibration`): standard errors, 95%
intervals and the fit at the estimate.

Each key gets a linearised standard error from the sandwich covariance of
simulated moments (McFadden 1989; Gourieroux and Monfort 1996, *Simulation-based
econometric methods*)::

    V = (1 + 1/R) A^-1 B A^-1,   A = J' W J,   B = Cov_r(J' W y_r)

with ``J`` the derivative of the mean series in ``theta`` (central differences, same
seeds) and ``y_r`` the ``R`` replicates at the estimate, which stand in for the
record's own randomness (the battle is one draw of the model); ``1/R`` adds the noise
of a mean of ``R`` runs. With one key, the 95% interval is the set of values that a test
does not reject: the record's weighted projection on ``J`` must lie in the 95%
prediction interval of the model's runs at that value, ``mean +- t(R-1) sd
sqrt(1 + 1/R)``. The test keeps its size however curved the mean is and however rough a
mean of ``R`` runs is in ``theta``, where the linearised interval comes out too narrow
(``benchmarks/calibration_coverage.py``). With several keys the intervals are the
linearised ones, ``estimate +- t(R-1) se``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from sim.fields import numeric_key
from sim.lawfit import Record, fit_metrics
from sim.replicates import run_band

if TYPE_CHECKING:
    from sim.calibration import FitKey, _Calibration

#: Central-difference step for the derivative, as a share of the search range.
DERIVATIVE_STEP = 0.03


@dataclass
class ModelFit:
    """Fitted keys with standard errors and 95% intervals, the fit to each observed
    series, and the replicate mean (and the band of single runs,
    :func:`sim.replicates.run_band`) at the estimate.
    ``runs_further`` is the share of runs at the estimate that are further from the mean
    (weighted squared distance, ``objective`` for the record) than the record: near 0,
    the model does not follow the record as it follows its own runs."""

    scenario: str
    estimates: dict[str, float]
    standard_errors: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    bounds: dict[str, tuple[float, float]]
    metrics: dict[str, dict[str, float]]
    replicates: int
    seeds: list[int]
    evaluations: int
    runs: int
    objective: float
    runs_further: float
    fitted: dict[str, np.ndarray]
    band: dict[str, tuple[np.ndarray, np.ndarray]]
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: estimates with standard errors and intervals, metrics, the runs."""
        return {"scenario": self.scenario, "method": "simulated moments, common random "
                "numbers, sandwich covariance", "replicates": self.replicates,
                "seeds": self.seeds, "evaluations": self.evaluations, "runs": self.runs,
                "objective": self.objective, "runs_further_than_record": self.runs_further,
                "parameters": {k: {"estimate": v, "standard_error": self.standard_errors[k],
                                   "ci95_low": self.intervals[k][0],
                                   "ci95_high": self.intervals[k][1],
                                   "search_low": self.bounds[k][0],
                                   "search_high": self.bounds[k][1]}
                               for k, v in self.estimates.items()},
                "metrics": self.metrics, "notes": self.notes}



def _steps(key: FitKey, u: float) -> tuple[float, float]:
    """Unit coordinates either side of ``u`` for the derivative: :data:`DERIVATIVE_STEP`,
    one-sided at a bound, and at least one whole unit for a whole-number key."""
    up, down = min(u + DERIVATIVE_STEP, 1.0), max(u - DERIVATIVE_STEP, 0.0)
    if key.integer:
        centre = key.cast(key.from_unit(u))
        if key.cast(key.from_unit(up)) <= centre and centre + 1 <= key.high:
            up = key.to_unit(centre + 1)
        if key.cast(key.from_unit(down)) >= centre and centre - 1 >= key.low:
            down = key.to_unit(centre - 1)
    return up, down


def _test_interval(problem: _Calibration, u_hat: float, direction: np.ndarray,
                   bisections: int = 4) -> tuple[float, float]:
    """The 95% interval of one key (unit coordinates) as the values a test does not
    reject: at ``u`` the record's projection on ``direction`` (weighted) must lie in the
    95% prediction interval of the model's runs there, ``mean +- t(R-1) sd sqrt(1 + 1/R)``.

    The test holds its size whatever the direction, the curvature of the mean or the
    roughness of a mean of R runs, which a linearised interval does not. Each side takes
    the outermost value already run that the test accepts (a value rejected nearer the
    estimate, by the roughness, does not cut the interval short), then bisects towards
    the next rejected value out (the accepted end is kept)."""
    replicates = len(problem.seeds)
    critical = float(stats.t.ppf(0.975, replicates - 1)) * math.sqrt(1 + 1 / replicates)
    weighted = direction * np.repeat(problem.weights, problem.mask.sum(axis=1))

    def rejected(u: float) -> bool:
        runs = problem.runs([np.array([u])])[0][:, problem.mask] @ weighted
        gap = abs(problem.observed[problem.mask] @ weighted - runs.mean())
        return bool(gap > critical * runs.std(ddof=1))

    key = problem.keys[0]
    tried = sorted({key.to_unit(values[0]) for values in problem.cache})
    ends = []
    for side, bound in ((-1, 0.0), (1, 1.0)):
        inside, outside = u_hat, None
        for u in sorted((u for u in tried if (u - u_hat) * side > 0),
                        key=lambda u: abs(u - u_hat)) + [bound]:
            if not rejected(u):
                inside, outside = u, None
            elif outside is None:
                outside = u
        for _ in range(bisections if outside is not None else 0):
            middle = (inside + outside) / 2
            if rejected(middle):
                outside = middle
            else:
                inside = middle
        ends.append(inside)
    return ends[0], ends[1]


def summarise_fit(problem: _Calibration, u: np.ndarray, name: str, record: Record
                  ) -> ModelFit:
    """The fit at unit coordinates ``u`` of a finished search: estimates, standard
    errors, 95% intervals, notes, the fit to each series and the band of single runs."""
    keys, p = problem.keys, len(problem.keys)
    theta = np.array(problem.values(u))
    # Derivative of the mean series by central differences with the same seeds; a key
    # at its bound takes a one-sided step.
    ups, downs = [], []
    for i, key in enumerate(keys):
        up, down = u.copy(), u.copy()
        up[i], down[i] = _steps(key, u[i])
        ups.append(up)
        downs.append(down)
    runs = problem.runs([u, *ups, *downs])
    at_estimate = runs[0]
    mask = problem.mask
    w = np.repeat(problem.weights, mask.sum(axis=1))
    jac = np.empty((int(mask.sum()), p))
    notes = []
    for i, key in enumerate(keys):
        h = key.cast(problem.values(ups[i])[i]) - key.cast(problem.values(downs[i])[i])
        diff = runs[1 + i].mean(axis=0) - runs[1 + p + i].mean(axis=0)
        jac[:, i] = diff[mask] / h if h else 0.0
    replicates = len(problem.seeds)
    a = jac.T @ (w[:, None] * jac)
    scores = np.array([jac.T @ (w * (r[mask] - at_estimate.mean(axis=0)[mask]))
                       for r in at_estimate])
    b = np.atleast_2d(np.cov(scores, rowvar=False, ddof=1))
    try:
        a_inv = np.linalg.inv(a)
        covariance = (1 + 1 / replicates) * a_inv @ b @ a_inv
        se = np.sqrt(np.clip(np.diag(covariance), 0, None))
    except np.linalg.LinAlgError:
        se = np.full(p, np.inf)
    t = float(stats.t.ppf(0.975, replicates - 1))
    estimates, errors, intervals, bounds = {}, {}, {}, {}
    for i, key in enumerate(keys):
        info = numeric_key(problem.evaluator.scenario(theta), key.key)
        value = float(key.cast(theta[i]))
        if not np.isfinite(se[i]) or not np.any(jac[:, i]):
            notes.append(f"{key.key}: the observed series do not move with it near "
                         f"{value:g}: not identified by this record")
            se[i] = np.inf
        low, high = value - t * se[i], value + t * se[i]
        if p == 1 and np.isfinite(se[i]):
            ends = _test_interval(problem, float(u[0]), jac[:, 0])
            low, high = key.from_unit(ends[0]), key.from_unit(ends[1])
            if (ends[0] == 0.0 and key.low > info.low) or (ends[1] == 1.0
                                                            and key.high < info.high):
                notes.append(f"{key.key}: the 95% interval reaches the end of its search "
                             f"range ({key.low:g} to {key.high:g}); allowed: a wider "
                             f"--fit {key.key}=interval(LOW,HIGH)")
        estimates[key.key], errors[key.key] = value, float(se[i])
        intervals[key.key] = (float(max(low, info.low)), float(min(high, info.high)))
        bounds[key.key] = (key.low, key.high)
        if min(u[i], 1 - u[i]) < 1e-3:
            notes.append(f"{key.key}: the estimate is at the end of its search range "
                         f"({key.low:g} to {key.high:g}); allowed: a wider "
                         f"--fit {key.key}=interval(LOW,HIGH)")
    mean = at_estimate.mean(axis=0)
    fitted, band, metrics = {}, {}, {}
    for s, series in enumerate(problem.evaluator.series):
        fitted[series] = mean[s]
        band[series] = run_band(at_estimate[:, s])
        metrics[series] = fit_metrics(problem.observed[s][mask[s]], mean[s][mask[s]])
    # Is the record like a run of the model? Each run's weighted distance from the mean
    # of the others (scaled to a mean of R) against the record's distance from the mean.
    others = (replicates * mean - at_estimate) / (replicates - 1)
    spread = (1 + 1 / replicates) / (1 + 1 / (replicates - 1))
    distances = [spread * float(np.sum(problem.weights[:, None]
                                       * np.where(mask, run - other, 0.0) ** 2))
                 for run, other in zip(at_estimate, others, strict=True)]
    objective = problem.objective(at_estimate)
    runs_further = float(np.mean([d >= objective for d in distances]))
    if runs_further == 0:
        notes.append(f"the record is further from the model's mean than each of the "
                     f"{replicates} runs at the estimate: the model does not follow this "
                     f"record as closely as its own runs; the intervals assume it does")
    evaluations = len(problem.cache)
    return ModelFit(scenario=name, estimates=estimates, standard_errors=errors,
                    intervals=intervals, bounds=bounds, metrics=metrics,
                    replicates=replicates, seeds=problem.seeds, evaluations=evaluations,
                    runs=evaluations * replicates, objective=objective,
                    runs_further=runs_further,
                    fitted=fitted, band=band, notes=notes)
