"""Fitting Lanchester laws to a battle record, with profile-likelihood intervals.

A record is a daily series of what was observed: either side's strength or cumulative
casualties (persons), with missing days as NaN, plus each side's reinforcements by day
and whatever initial strengths are known. Each law of :mod:`sim.lanchester` (and the
general power law, where a side loses ``coefficient x enemy^p x own^q`` a day) is
fitted by least squares on the observed series, each weighed by its own noise (its
residual spread after a first fit scaled by size). Intervals are profile-likelihood
intervals (Gaussian errors: ``n log(SSR_profile / SSR_min) <= 3.84`` for 95%), and laws
are compared by AIC with an error variance per series.

    >>> import numpy as np
    >>> record = Record.from_trajectory(
    ...     trajectory("square", 0.02, 0.03, 1000, 800, days=30), observe="both",
    ...     noise_sd=5.0, rng=np.random.default_rng(1))
    >>> fit = fit_law(record, "square")
    >>> low, high = fit.intervals["alpha"]
    >>> bool(low < 0.02 < high), bool(high - low < 0.01)
    (True, True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import brentq, least_squares

from sim.lanchester import LAWS
from sim.sides import SIDES

FIT_LAWS = ("square", "linear", "mixed", "logarithmic", "power")
SERIES = ("attacker_strength", "defender_strength", "attacker_casualties",
          "defender_casualties")
CHI2_95 = 3.841458820694124  # 95% point of chi-squared with one degree of freedom
# Integration steps a day: rates of a few percent a day make RK4 exact to far below the
# noise of any record at this step.
SUBSTEPS_PER_DAY = 8


def exponents(law: str, p: float = 1.0, q: float = 0.0) -> tuple[tuple[float, float], ...]:
    """(own, enemy) exponents of A's losses, then of B's. The power law has a side lose
    ``coefficient x enemy^p x own^q`` (square: p=1, q=0; linear: p=q=1; log: p=0, q=1)."""
    if law == "power":
        return ((q, p), (q, p))
    if law not in LAWS:
        raise ValueError(f"unknown law '{law}'; allowed: {', '.join(FIT_LAWS)}")
    return LAWS[law]


def trajectory(law: str, alpha: float, beta: float, a0: float, b0: float, days: int,
               reinforcements: np.ndarray | None = None, p: float = 1.0,
               q: float = 0.0) -> np.ndarray:
    """(days + 1, 2) strengths of A and B on each day under ``law``: A loses
    ``beta x A^own x B^enemy`` a day and B ``alpha x B^own x A^enemy``, and
    ``reinforcements[d]`` (persons for A and B) arrive evenly during day d.

    Fixed-step RK4 (:data:`SUBSTEPS_PER_DAY`): fitting solves this thousands of times
    on a daily grid, where ``sim.lanchester.solve``'s adaptive solver is slower.

        >>> from sim.lanchester import square_law
        >>> path = trajectory("square", 0.05, 0.05, 1000, 800, days=10)
        >>> bool(np.allclose(path[10], square_law(10, 1000, 800, 0.05, 0.05), rtol=1e-7))
        True
    """
    (pa, qa), (pb, qb) = exponents(law, p, q)
    arrivals = np.zeros((days + 1, 2)) if reinforcements is None else \
        np.asarray(reinforcements, dtype=float)
    h = 1.0 / SUBSTEPS_PER_DAY
    out = np.empty((days + 1, 2))
    a, b = float(a0), float(b0)
    out[0] = a, b

    def rates(a, b, ra, rb):
        a, b = max(a, 0.0), max(b, 0.0)
        return (-beta * a**pa * b**qa + ra, -alpha * b**pb * a**qb + rb)

    for day in range(1, days + 1):
        ra, rb = arrivals[day]
        for _ in range(SUBSTEPS_PER_DAY):
            k1 = rates(a, b, ra, rb)
            k2 = rates(a + h / 2 * k1[0], b + h / 2 * k1[1], ra, rb)
            k3 = rates(a + h / 2 * k2[0], b + h / 2 * k2[1], ra, rb)
            k4 = rates(a + h * k3[0], b + h * k3[1], ra, rb)
            a = max(0.0, a + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0]))
            b = max(0.0, b + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1]))
        out[day] = a, b
    return out


@dataclass
class Record:
    """A battle record on days 0..D: observed series (NaN where not observed), the
    reinforcements arriving each day (persons, A and B), and known initial strengths."""

    observed: dict[str, np.ndarray]
    reinforcements: np.ndarray
    initial: dict[str, float | None] = field(
        default_factory=lambda: {"attacker": None, "defender": None})

    @property
    def days(self) -> int:
        return len(self.reinforcements) - 1

    @classmethod
    def from_trajectory(cls, strengths: np.ndarray, observe: str = "both",
                        reinforcements: np.ndarray | None = None, noise_sd: float = 0.0,
                        rng: np.random.Generator | None = None,
                        initial: dict[str, float | None] | None = None) -> Record:
        """A synthetic record of ``strengths`` ((days + 1, 2)): ``observe`` "both",
        "attacker" or "defender" strengths, with Gaussian noise of ``noise_sd`` persons."""
        rng = rng or np.random.default_rng(0)
        days = len(strengths) - 1
        arrivals = np.zeros((days + 1, 2)) if reinforcements is None else reinforcements
        observed = {}
        for s, side in enumerate(SIDES):
            if observe in ("both", side):
                observed[f"{side}_strength"] = strengths[:, s] + rng.normal(0, noise_sd,
                                                                            days + 1)
        return cls(observed, np.asarray(arrivals, dtype=float),
                   initial or {"attacker": None, "defender": None})


@dataclass
class LawFit:
    """A fitted law: estimates with 95% profile-likelihood intervals, goodness of fit
    per observed series, AIC and BIC, and the fitted strengths (days + 1, 2)."""

    law: str
    estimates: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    metrics: dict[str, dict[str, float]]
    aic: float
    bic: float
    n: int
    fitted: np.ndarray

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: estimates with intervals, metrics, AIC, BIC."""
        return {"law": self.law, "n": self.n, "aic": self.aic, "bic": self.bic,
                "parameters": {k: {"estimate": v, "ci95_low": self.intervals[k][0],
                                   "ci95_high": self.intervals[k][1]}
                               for k, v in self.estimates.items()},
                "metrics": self.metrics}


class _Problem:
    """Residuals of a law against a record, over a parameter vector in fitting scale:
    each side's loss rate at reference strengths (persons a day, logged), the exponents
    (power law), and the logs of unknown initial strengths.

    Loss rates at the start are far less correlated with the exponents than the
    coefficients are (a coefficient times 15,000^p moves a lot with p), so the fit and
    its profiles are well conditioned; for the fixed laws the coefficients are the
    rates divided by constants, so their intervals carry over exactly."""

    def __init__(self, record: Record, law: str):
        self.record, self.law = record, law
        self.free_initial = [side for side in SIDES
                             if record.initial.get(side) is None]
        for side in self.free_initial:
            if f"{side}_strength" not in record.observed:
                raise ValueError(f"the {side}'s strength is neither observed nor given; "
                                 f"allowed: observe it, or give its initial strength")
        self.names = ["attacker_losses_per_day", "defender_losses_per_day"]
        self.names += (["p", "q"] if law == "power" else [])
        self.names += [f"{side}_initial" for side in self.free_initial]
        self.logged = [n not in ("p", "q") for n in self.names]
        self.series = [(name, values, np.isfinite(values))
                       for name, values in record.observed.items()]
        # Each series in units of its own size, so that both sides weigh alike.
        self.scale = {name: max(1.0, float(np.nanmax(np.abs(values))))
                      for name, values, _ in self.series}
        self.cumulative = np.cumsum(record.reinforcements, axis=0)
        self.n = int(sum(mask.sum() for _, _, mask in self.series))
        # Reference strengths: the known initial strength, or the first observed one.
        self.reference = []
        for side in SIDES:
            known = record.initial.get(side)
            if known is None:
                values = record.observed[f"{side}_strength"]
                known = float(values[np.isfinite(values)][0])
            self.reference.append(max(1.0, float(known)))

    def coefficients(self, values: dict[str, float]) -> tuple[float, float]:
        """(alpha, beta) from the loss rates at the reference strengths."""
        (pa, qa), (pb, qb) = exponents(self.law, values.get("p", 1.0), values.get("q", 0.0))
        s_a, s_b = self.reference
        beta = values["attacker_losses_per_day"] / (s_a**pa * s_b**qa)
        alpha = values["defender_losses_per_day"] / (s_b**pb * s_a**qb)
        return alpha, beta

    def unpack(self, theta: np.ndarray) -> dict[str, float]:
        values = {n: float(np.exp(v)) if lg else float(v)
                  for n, v, lg in zip(self.names, theta, self.logged, strict=True)}
        values["alpha"], values["beta"] = self.coefficients(values)
        return values

    def strengths(self, values: dict[str, float]) -> np.ndarray:
        a0 = values.get("attacker_initial", self.record.initial.get("attacker"))
        b0 = values.get("defender_initial", self.record.initial.get("defender"))
        return trajectory(self.law, values["alpha"], values["beta"], a0, b0,
                          self.record.days, self.record.reinforcements,
                          p=values.get("p", 1.0), q=values.get("q", 0.0))

    def predictions(self, path: np.ndarray) -> dict[str, np.ndarray]:
        initial = path[0]
        return {"attacker_strength": path[:, 0], "defender_strength": path[:, 1],
                "attacker_casualties": initial[0] + self.cumulative[:, 0] - path[:, 0],
                "defender_casualties": initial[1] + self.cumulative[:, 1] - path[:, 1]}

    def residuals(self, theta: np.ndarray) -> np.ndarray:
        predicted = self.predictions(self.strengths(self.unpack(theta)))
        return np.concatenate([(values[mask] - predicted[name][mask]) / self.scale[name]
                               for name, values, mask in self.series])

    def start(self) -> np.ndarray:
        """A coarse grid over the loss rates (from 1/10,000 to a half of the reference
        strength a day; for the power law at the square law's and at the linear law's
        exponents), with the first observed values as initial strengths; the best point
        starts the fit."""
        initial = [np.log(max(1.0, float(values[np.isfinite(values)][0])))
                   for values in (self.record.observed[f"{side}_strength"]
                                  for side in self.free_initial)]
        candidates = [[1.0, 0.0], [1.0, 1.0]] if self.law == "power" else [[]]
        shares = np.log(10.0 ** np.arange(-4.0, 0.0, 0.5))
        best, best_ssr = None, np.inf
        for exponents_at in candidates:
            for share_a in shares:
                for share_b in shares:
                    theta = np.array([share_a + np.log(self.reference[0]),
                                      share_b + np.log(self.reference[1]),
                                      *exponents_at, *initial])
                    ssr = float(np.sum(self.residuals(theta) ** 2))
                    if ssr < best_ssr:
                        best, best_ssr = theta, ssr
        return best

    def limits(self, i: int) -> tuple[float, float]:
        """Where parameter ``i`` may go, in fitting scale: exponents within 0 to 3,
        rates and initial strengths within e^-30 to e^25 persons (a day)."""
        return (0.0, 3.0) if self.names[i] in ("p", "q") else (-30.0, 25.0)

    def fit(self, theta0: np.ndarray, fixed: dict[int, float] | None = None):
        """Least squares from ``theta0``, holding ``fixed`` positions at their values."""
        fixed = fixed or {}
        free = [i for i in range(len(theta0)) if i not in fixed]

        def full(x):
            theta = np.array(theta0, dtype=float)
            theta[free] = x
            for i, v in fixed.items():
                theta[i] = v
            return theta

        bounds = ([self.limits(i)[0] for i in free], [self.limits(i)[1] for i in free])
        x0 = np.clip(np.asarray(theta0, dtype=float)[free], bounds[0], bounds[1])
        found = least_squares(lambda x: self.residuals(full(x)), x0, bounds=bounds,
                              x_scale="jac")
        return full(found.x), float(np.sum(found.fun**2)), found


def _profile_interval(problem: _Problem, theta: np.ndarray, ssr: float, index: int,
                      se: float) -> tuple[float, float]:
    """Where the profile likelihood ratio of parameter ``index`` reaches the 95% point,
    on each side of the estimate (in fitting scale); the search starts at twice the
    Wald standard error and widens until it brackets the crossing."""
    n = problem.n
    # Each value's profile fit, once: the bracketing and brentq ask for the same ends.
    fits: dict[float, tuple[np.ndarray, float]] = {}

    def excess(value: float) -> float:
        if value == theta[index]:
            return -CHI2_95  # the estimate itself: the ratio is 1 by definition
        if value not in fits:
            nearest = min(fits, key=lambda v: abs(v - value)) if fits else None
            start = np.array(fits[nearest][0] if nearest is not None else theta)
            start[index] = value
            fitted, profile_ssr, _ = problem.fit(start, fixed={index: value})
            fits[value] = (fitted, n * np.log(max(profile_ssr, 1e-300) / ssr) - CHI2_95)
        return fits[value][1]

    bounds = []
    low_limit, high_limit = problem.limits(index)
    for direction in (-1.0, 1.0):
        step = max(2.0 * se, 1e-3)
        inner, outer = theta[index], theta[index] + direction * step
        for _ in range(12):
            outer = min(max(outer, low_limit), high_limit)
            if excess(outer) > 0 or outer in (low_limit, high_limit):
                break
            inner, step = outer, step * 2
            outer = inner + direction * step
        if excess(outer) <= 0:
            bounds.append(outer)  # the profile never rises enough: the interval is open
            continue
        bounds.append(brentq(excess, inner, outer, xtol=1e-4 * max(se, 1e-6)))
    return bounds[0], bounds[1]


def fit_metrics(observed: np.ndarray, fitted: np.ndarray) -> dict[str, float]:
    """RMSE (persons), MAPE (% of the observed values that are not 0) and R^2.

    >>> fit_metrics(np.array([10.0, 20.0, 30.0]), np.array([11.0, 20.0, 29.0]))["rmse"]
    0.816496580927726
    """
    residual = observed - fitted
    nonzero = observed != 0
    spread = np.sum((observed - observed.mean()) ** 2)
    return {"rmse": float(np.sqrt(np.mean(residual**2))),
            "mape": float(np.mean(np.abs(residual[nonzero] / observed[nonzero])) * 100)
            if nonzero.any() else float("nan"),
            "r2": float(1 - np.sum(residual**2) / spread) if spread > 0 else float("nan")}


#: The longest record a law is fitted to (days): a fit integrates the law day by day for
#: each of some hundreds of trial values, about 40 s per law at 1,000 days.
MAX_FIT_DAYS = 3650


def fit_law(record: Record, law: str) -> LawFit:
    """Fit ``law`` (one of :data:`FIT_LAWS`) to ``record`` by least squares.

    Estimates: ``alpha`` and ``beta`` (B's and A's effectiveness, in the law's units),
    each side's losses a day at the reference strengths (the known or first observed
    ones), ``p`` and ``q`` for the power law, and fitted initial strengths. Intervals
    are by profile likelihood for the rates and exponents, and carry over exactly to
    ``alpha`` and ``beta`` for the fixed laws; for the power law the coefficients are
    estimates only. Initial strengths, when fitted, are nuisance parameters (interval
    from the curvature)."""
    if record.days > MAX_FIT_DAYS:
        raise ValueError(f"the record spans {record.days:,} days; allowed: at most "
                         f"{MAX_FIT_DAYS:,} days for a law fit (each trial integrates the "
                         f"law day by day), e.g. one campaign or battle")
    problem = _Problem(record, law)
    m, n = len(problem.names), problem.n
    if n <= m:  # before any integration: the count alone decides
        raise ValueError(f"{n} observations cannot fit {m} parameters")
    theta, ssr, found = problem.fit(problem.start())
    if len(problem.series) > 1:
        # Each series has its own noise: weigh it by its own residual spread and fit
        # again, so that one error variance fits all residuals (the likelihood behind
        # the intervals assumes it).
        fitted = problem.predictions(problem.strengths(problem.unpack(theta)))
        for name, values, mask in problem.series:
            spread = float(np.sqrt(np.mean((values[mask] - fitted[name][mask]) ** 2)))
            problem.scale[name] = max(spread, 1e-9 * problem.scale[name])
        theta, ssr, found = problem.fit(theta)
    jac = found.jac
    sigma2 = ssr / (n - m)
    try:
        covariance = np.linalg.pinv(jac.T @ jac) * sigma2
        se = np.sqrt(np.clip(np.diag(covariance), 0, None))
    except np.linalg.LinAlgError:
        se = np.full(m, 1.0)
    intervals = {}
    for i, name in enumerate(problem.names):
        if name.endswith("_initial"):
            low, high = theta[i] - 1.96 * se[i], theta[i] + 1.96 * se[i]
        else:
            low, high = _profile_interval(problem, theta, ssr, i, se[i])
        if problem.logged[i]:
            low, high = float(np.exp(low)), float(np.exp(high))
        intervals[name] = (float(low), float(high))
    estimates = problem.unpack(theta)
    if law != "power":
        # Fixed exponents: each coefficient is its side's rate over a constant.
        for coefficient, rate in (("alpha", "defender_losses_per_day"),
                                  ("beta", "attacker_losses_per_day")):
            factor = estimates[coefficient] / estimates[rate]
            intervals[coefficient] = (intervals[rate][0] * factor,
                                      intervals[rate][1] * factor)
    else:
        # The coefficients move with the exponents: estimates only; the rates and the
        # exponents carry the intervals.
        intervals["alpha"] = intervals["beta"] = (float("nan"), float("nan"))
    path = problem.strengths(estimates)
    predicted = problem.predictions(path)
    metrics = {name: fit_metrics(values[mask], predicted[name][mask])
               for name, values, mask in problem.series}
    # -2 log likelihood with an error variance per series (each at its estimate), in
    # persons, so that laws fitted to the same record compare; one variance a series
    # counts as a parameter.
    deviance = sum(int(mask.sum()) * np.log(max(metrics[name]["rmse"], 1e-12) ** 2)
                   for name, _, mask in problem.series)
    k = m + len(problem.series)
    return LawFit(law=law, estimates=estimates, intervals=intervals, metrics=metrics,
                  aic=float(deviance + 2 * k), bic=float(deviance + np.log(n) * k),
                  n=n, fitted=path)


def compare_laws(record: Record, laws: tuple[str, ...] = FIT_LAWS) -> list[LawFit]:
    """Every law fitted to ``record``, best (lowest AIC) first."""
    return sorted((fit_law(record, law) for law in laws), key=lambda f: f.aic)
