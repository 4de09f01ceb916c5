"""Fitting Lanchester laws to a battle record: AR(1) errors, profile-likelihood intervals
that cannot stick, an identifiability verdict per parameter, and a verdict on the laws.

A record is a daily series of what was observed: either side's strength or cumulative
casualties (persons), with missing days as NaN, plus each side's reinforcements by day
and whatever initial strengths are known. Each law (:data:`FIT_LAWS`) says how fast a
side loses persons; the law's equations are integrated day by day with the recorded
arrivals and fitted to every observed series at once.

The laws
--------
A side loses ``coefficient x enemy^p x own^q`` persons a day:

* ``square`` (p=1, q=0: aimed fire), ``linear`` (p=q=1: area fire), ``logarithmic``
  (p=0, q=1: losses from one's own exposure), ``mixed`` (attacker square, defender linear);
* ``power``: p and q fitted (both sides share them);
* ``helmbold``: Helmbold's form ``own^(1-W) x enemy^W``, W fitted between 0
  (logarithmic) and 1 (square);
* ``fatigue``: the square law with both sides' effectiveness decaying as
  ``exp(-fatigue_per_day x t)`` with the time in action (Rubio-Campillo 2016 found
  evidence for such a decay over a thousand historical battles);
* ``phases``: the square law whose two coefficients switch on a break day, fitted too
  (as when an attack turns into a defence).

The errors
----------
Real records err in streaks (a clerk's undercount lasts days), so each series' errors
are an AR(1) process, ``e_t = rho e_(t-1) + innovation``, with ``rho`` fitted per series
(gaps of ``k`` days correlate by ``rho^k``). The exact Gaussian likelihood of such errors
is a least-squares problem on the whitened residuals (Prais-Winsten), times a
determinant factor folded into the residuals, so one least-squares solver fits the law,
the initial strengths, casualty offsets and ``rho`` together, and every interval sees
the autocorrelation. This was chosen over a block bootstrap (hundreds of refits of each
record, and its block length is a guess on records of a few dozen days) and over HAC
standard errors (Wald intervals: symmetric, and wrong where the likelihood is curved, as
for an exponent or a rate near 0). Each series is weighed by its own innovation spread.

Intervals and verdicts
----------------------
A 95% interval holds each value whose profile likelihood ratio stays under the small-
sample point ``n log(1 + F(0.95; 1, n - m) / (n - m))`` (chi-squared as n grows). A
profile is traced outwards from the optimum in growing steps, each fit starting from the
last one's solution *and* from the optimum, the better kept: no profile point can stick
at a limit and drag the others with it, and a profile point better than the optimum
restarts the fit from it. A parameter whose interval reaches a limit, or spans more
than a factor of :data:`UNIDENTIFIED_RATIO`, is *not identified from this record*.
Laws are compared by BIC (consistent: it picks the generating law as records grow,
where AIC favours laws with more parameters), a gap under 2 a tie, 10 or more decisive
(Kass and Raftery 1995); AIC is reported too.

    >>> import numpy as np
    >>> record = Record.from_trajectory(
    ...     trajectory("square", 0.02, 0.03, 1000, 800, days=30), observe="both",
    ...     noise_sd=5.0, rng=np.random.default_rng(1))
    >>> fit = fit_law(record, "square")
    >>> low, high = fit.intervals["alpha"]
    >>> bool(low < 0.02 < high), bool(high - low < 0.01), fit.identification["alpha"]
    (True, True, 'identified')
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit
from scipy import stats
from scipy.optimize import brentq, least_squares

from sim.lanchester import LAWS, helmbold_exponents
from sim.sides import SIDES

FIT_LAWS = ("square", "linear", "mixed", "logarithmic", "power", "helmbold", "fatigue",
            "phases")
SERIES = ("attacker_strength", "defender_strength", "attacker_casualties",
          "defender_casualties")
CHI2_95 = 3.841458820694124  # 95% point of chi-squared with one degree of freedom
# Integration steps a day: rates of a few percent a day make RK4 exact to far below the
# noise of any record at this step.
SUBSTEPS_PER_DAY = 8
#: An interval wider than this factor (a positive parameter) says the record cannot
#: tell its value: three orders of magnitude.
UNIDENTIFIED_RATIO = 1000.0
#: Below this R^2 on a series, even the best law does not follow the record.
POOR_FIT_R2 = 0.5
#: BIC gaps: under TIE the laws are tied, at DECISIVE or more the worse is rejected.
BIC_TIE, BIC_DECISIVE = 2.0, 10.0
#: The largest |rho| of a series' AR(1) errors: nearer 1 the errors are a random walk,
#: which a record of a few dozen days cannot tell from a trend.
MAX_AUTOCORRELATION = 0.95
#: A least-squares fit stops after this many evaluations a free parameter.
MAX_EVALUATIONS_PER_PARAMETER = 30
#: Profile steps a side at most before giving up on finding the crossing.
PROFILE_STEPS = 60
#: A profile point whose statistic is this far below the optimum's (a hundredth of the
#: 95% point) shows the optimum was a local one; less is the fits' own precision.
BETTER_OPTIMUM = 0.04

#: What each parameter is, and whose: printed beside its name.
LABELS = {
    "alpha": "attacker's effectiveness (alpha): the defender's losses a day, per the law's "
             "strengths",
    "beta": "defender's effectiveness (beta): the attacker's losses a day, per the law's "
            "strengths",
    "attacker_losses_per_day": "attacker's losses a day at the start (persons)",
    "defender_losses_per_day": "defender's losses a day at the start (persons)",
    "alpha_after": "attacker's effectiveness after the break day",
    "beta_after": "defender's effectiveness after the break day",
    "attacker_losses_per_day_after": "attacker's losses a day after the break, at the "
                                     "starting strengths (persons)",
    "defender_losses_per_day_after": "defender's losses a day after the break, at the "
                                     "starting strengths (persons)",
    "break_day": "day the coefficients switch (days after the first)",
    "p": "exponent of the enemy's strength (both sides)",
    "q": "exponent of a side's own strength (both sides)",
    "w": "Helmbold's weight W (both sides): 1 square, 0 logarithmic",
    "fatigue_per_day": "fatigue: both sides' effectiveness falls by this rate a day",
    "attacker_initial": "attacker's strength on the first day (persons, fitted)",
    "defender_initial": "defender's strength on the first day (persons, fitted)",
}
for _series in SERIES:
    LABELS[f"{_series}_autocorrelation"] = (f"day-to-day correlation of the "
                                            f"{_series.replace('_', ' ')} errors")
    LABELS[f"{_series}_before_record"] = (f"{_series.replace('_', ' ')} before the "
                                          f"record's first day (persons)")


def exponents(law: str, p: float = 1.0, q: float = 0.0,
              w: float = 1.0) -> tuple[tuple[float, float], ...]:
    """(own, enemy) exponents of A's losses, then of B's. The power law has a side lose
    ``coefficient x enemy^p x own^q`` (square: p=1, q=0; linear: p=q=1; log: p=0, q=1);
    Helmbold's ``own^(1-w) x enemy^w``; fatigue and phases are square laws."""
    if law == "power":
        return ((q, p), (q, p))
    if law == "helmbold":
        return helmbold_exponents(min(max(w, 0.0), 1.0))
    if law in ("fatigue", "phases"):
        return LAWS["square"]
    if law not in LAWS:
        raise ValueError(f"unknown law '{law}'; allowed: {', '.join(FIT_LAWS)}")
    return LAWS[law]


@njit(cache=True, inline="always")
def _power(x, exponent, whole):  # pragma: no cover - compiled
    """x^exponent; for exponents that are all 0 or 1 (``whole``: the fixed laws) by
    arithmetic, as the compiler evaluates both arms of a branch and pow is slow."""
    if whole:
        return 1.0 + exponent * (x - 1.0)
    return x**exponent


@njit(cache=True)
def _losses(x, y, t, exponents, kb, ka, fatigue_per_day, ra, rb, whole
            ):  # pragma: no cover - compiled
    """(dA/dt, dB/dt) at strengths x, y and time t (days)."""
    own_a, enemy_a, own_b, enemy_b = exponents
    x, y = max(x, 0.0), max(y, 0.0)
    tired = math.exp(-fatigue_per_day * t) if fatigue_per_day != 0.0 else 1.0
    return (-kb * tired * _power(x, own_a, whole) * _power(y, enemy_a, whole) + ra,
            -ka * tired * _power(y, own_b, whole) * _power(x, enemy_b, whole) + rb)


@njit(cache=True)
def _integrate(own_a, enemy_a, own_b, enemy_b, beta, alpha, beta_after, alpha_after,
               break_day, fatigue_per_day, a0, b0, arrivals, substeps):  # pragma: no cover
    """Strengths on days 0..D by fixed-step RK4: A loses ``beta x A^own_a x B^enemy_a``
    and B ``alpha x B^own_b x A^enemy_b`` a day, times ``exp(-fatigue_per_day t)``,
    the coefficients switching to the ``_after`` ones for the days after
    ``break_day``, and ``arrivals[d]`` arriving evenly during day d. Compiled: a fit
    solves this thousands of times."""
    days = arrivals.shape[0] - 1
    out = np.empty((days + 1, 2))
    a, b = a0, b0
    out[0, 0], out[0, 1] = a, b
    h = 1.0 / substeps
    shape = (own_a, enemy_a, own_b, enemy_b)
    whole = True
    for exponent in shape:
        whole = whole and (exponent == 0.0 or exponent == 1.0)
    for day in range(1, days + 1):
        ra, rb = arrivals[day, 0], arrivals[day, 1]
        kb, ka = (beta_after, alpha_after) if day > break_day else (beta, alpha)
        for s in range(substeps):
            t = day - 1 + s * h
            rest = (shape, kb, ka, fatigue_per_day, ra, rb, whole)
            a1, b1 = _losses(a, b, t, *rest)
            a2, b2 = _losses(a + h / 2 * a1, b + h / 2 * b1, t + h / 2, *rest)
            a3, b3 = _losses(a + h / 2 * a2, b + h / 2 * b2, t + h / 2, *rest)
            a4, b4 = _losses(a + h * a3, b + h * b3, t + h, *rest)
            a = max(0.0, a + h / 6 * (a1 + 2 * a2 + 2 * a3 + a4))
            b = max(0.0, b + h / 6 * (b1 + 2 * b2 + 2 * b3 + b4))
        out[day, 0], out[day, 1] = a, b
    return out


@njit(cache=True)
def _whiten(residual, gaps, rho):  # pragma: no cover - compiled
    """Innovations of AR(1) errors (see :meth:`_Problem.whiten`) and the log
    determinant."""
    out = np.empty(len(residual))
    ratio = 1.0 / (1.0 - rho * rho)
    out[0] = residual[0] / math.sqrt(ratio)
    log_det = math.log(ratio)
    for t in range(1, len(residual)):
        lagged = rho ** gaps[t - 1]
        ratio = (1.0 - lagged * lagged) / (1.0 - rho * rho)
        out[t] = (residual[t] - lagged * residual[t - 1]) / math.sqrt(ratio)
        log_det += math.log(ratio)
    return out, log_det


def trajectory(law: str, alpha: float, beta: float, a0: float, b0: float, days: int,
               reinforcements: np.ndarray | None = None, p: float = 1.0,
               q: float = 0.0, w: float = 1.0, fatigue_per_day: float = 0.0,
               break_day: int | None = None, alpha_after: float | None = None,
               beta_after: float | None = None) -> np.ndarray:
    """(days + 1, 2) strengths of A and B on each day under ``law``: A loses
    ``beta x A^own x B^enemy`` a day and B ``alpha x B^own x A^enemy``, and
    ``reinforcements[d]`` (persons for A and B) arrive evenly during day d. The fatigue
    law scales both coefficients by ``exp(-fatigue_per_day x t)``; the phases law
    switches to ``alpha_after`` and ``beta_after`` for the days after ``break_day``.

    Fixed-step RK4 (:data:`SUBSTEPS_PER_DAY`), compiled: fitting solves this thousands of
    times on a daily grid, where ``sim.lanchester.solve``'s adaptive solver is slower.

        >>> from sim.lanchester import square_law
        >>> path = trajectory("square", 0.05, 0.05, 1000, 800, days=10)
        >>> bool(np.allclose(path[10], square_law(10, 1000, 800, 0.05, 0.05), rtol=1e-7))
        True
    """
    (own_a, enemy_a), (own_b, enemy_b) = exponents(law, p, q, w)
    arrivals = np.zeros((days + 1, 2)) if reinforcements is None else \
        np.ascontiguousarray(reinforcements, dtype=float)
    switch = days + 1 if break_day is None or law != "phases" else int(break_day)
    return _integrate(float(own_a), float(enemy_a), float(own_b), float(enemy_b),
                      float(beta), float(alpha),
                      float(beta if beta_after is None else beta_after),
                      float(alpha if alpha_after is None else alpha_after), switch,
                      float(fatigue_per_day if law == "fatigue" else 0.0), float(a0),
                      float(b0), arrivals, SUBSTEPS_PER_DAY)


def ar1_noise(days: int, sd: float, rho: float, rng: np.random.Generator) -> np.ndarray:
    """``days + 1`` stationary AR(1) errors of standard deviation ``sd`` and lag-one
    correlation ``rho``: a clerk's error that lasts.

    >>> e = ar1_noise(20000, 1.0, 0.4, np.random.default_rng(0))
    >>> round(float(e.std()), 1), round(float(np.corrcoef(e[1:], e[:-1])[0, 1]), 1)
    (1.0, 0.4)
    """
    shocks = rng.normal(0.0, sd * math.sqrt(1 - rho**2), days + 1)
    out = np.empty(days + 1)
    out[0] = rng.normal(0.0, sd)
    for t in range(1, days + 1):
        out[t] = rho * out[t - 1] + shocks[t]
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
                        initial: dict[str, float | None] | None = None,
                        autocorrelation: float = 0.0) -> Record:
        """A synthetic record of ``strengths`` ((days + 1, 2)): ``observe`` "both",
        "attacker" or "defender" strengths, with Gaussian errors of ``noise_sd``
        persons, AR(1) with lag-one correlation ``autocorrelation``."""
        rng = rng or np.random.default_rng(0)
        days = len(strengths) - 1
        arrivals = np.zeros((days + 1, 2)) if reinforcements is None else reinforcements
        observed = {}
        for s, side in enumerate(SIDES):
            if observe in ("both", side):
                observed[f"{side}_strength"] = strengths[:, s] + ar1_noise(
                    days, noise_sd, autocorrelation, rng)
        return cls(observed, np.asarray(arrivals, dtype=float),
                   initial or {"attacker": None, "defender": None})


@dataclass
class LawFit:
    """A fitted law: estimates with 95% profile-likelihood intervals and a verdict on
    whether the record identifies each, goodness of fit per observed series, AIC, BIC,
    each series' error autocorrelation, and the fitted strengths (days + 1, 2) and
    observed series (their names to (days + 1) arrays)."""

    law: str
    estimates: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    metrics: dict[str, dict[str, float]]
    aic: float
    bic: float
    n: int
    fitted: np.ndarray
    identification: dict[str, str] = field(default_factory=dict)
    predicted: dict[str, np.ndarray] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: Each series' innovation spread (persons): the errors' day-to-day new part.
    innovation_spread: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: estimates with intervals, labels and verdicts, metrics, AIC, BIC."""
        return {"law": self.law, "n": self.n, "aic": self.aic, "bic": self.bic,
                "parameters": {k: {"estimate": v, "ci95_low": self.intervals[k][0],
                                   "ci95_high": self.intervals[k][1],
                                   "meaning": LABELS.get(k, k),
                                   "identification": self.identification.get(k)}
                               for k, v in self.estimates.items()},
                "metrics": self.metrics, "notes": self.notes}


@dataclass(frozen=True)
class _Parameter:
    """A fitted parameter in fitting scale: logged (rates, strengths) or not."""

    name: str
    logged: bool
    low: float
    high: float
    #: Whether each limit is the law's own (W cannot pass 1, fatigue cannot be negative)
    #: rather than a search limit: a profile that reaches it is bounded by the law, not
    #: unidentified.
    natural: tuple[bool, bool] = (False, False)


class _Problem:
    """Whitened residuals of a law against a record, over a parameter vector in fitting
    scale: each side's loss rate at reference strengths (persons a day, logged), the
    law's shape parameters, the logs of unknown initial strengths, casualties before
    the record, and each series' AR(1) correlation.

    Loss rates at the start are far less correlated with the exponents than the
    coefficients are (a coefficient times 15,000^p moves a lot with p), so the fit and
    its profiles are well conditioned; for the square-based laws the coefficients are
    the rates divided by constants, so their intervals carry over exactly."""

    def __init__(self, record: Record, law: str):
        exponents(law)  # an unknown law is refused here
        self.record, self.law = record, law
        self.break_day = record.days + 1  # phases: set by the search over break days
        self.free_initial = [side for side in SIDES if record.initial.get(side) is None]
        for side in self.free_initial:
            if f"{side}_strength" not in record.observed:
                raise ValueError(f"the {side}'s strength is neither observed nor given; "
                                 f"allowed: observe it, or give its initial strength")
        self.series = [(name, np.asarray(values, dtype=float), np.isfinite(values))
                       for name, values in record.observed.items()
                       if np.isfinite(values).any()]
        # Days between a series' successive observations (AR(1) errors decay over them).
        self.gaps = {name: np.diff(np.flatnonzero(mask)) for name, _, mask in self.series}
        self.observed_counts = {name: int(mask.sum()) for name, _, mask in self.series}
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
        # A casualty count that does not start at 0 began before the record: an offset.
        self.offsets = [name for name, values, mask in self.series
                        if name.endswith("_casualties") and values[mask][0] > 0]
        rate_limits = [(math.log(r) - 30.0, math.log(r) + 5.0) for r in self.reference]
        params = [_Parameter("attacker_losses_per_day", True, *rate_limits[0]),
                  _Parameter("defender_losses_per_day", True, *rate_limits[1])]
        if law == "phases":
            params += [_Parameter("attacker_losses_per_day_after", True, *rate_limits[0]),
                       _Parameter("defender_losses_per_day_after", True, *rate_limits[1])]
        if law == "power":
            params += [_Parameter("p", False, 0.0, 3.0, (True, False)),
                       _Parameter("q", False, 0.0, 3.0, (True, False))]
        if law == "helmbold":
            params.append(_Parameter("w", False, 0.0, 1.0, (True, True)))
        if law == "fatigue":
            params.append(_Parameter("fatigue_per_day", False, 0.0, 1.0, (True, False)))
        params += [_Parameter(f"{side}_initial", True, 0.0, math.log(1e10))
                   for side in self.free_initial]
        largest = {name: max(1.0, float(np.nanmax(values))) for name, values, _ in self.series}
        params += [_Parameter(f"{name}_before_record", False, 0.0, 10.0 * largest[name],
                              (True, False)) for name in self.offsets]
        # Fewer than 4 points in a series cannot tell its errors' correlation.
        self.correlated = [name for name, _, mask in self.series if mask.sum() >= 4]
        params += [_Parameter(f"{name}_autocorrelation", False, -MAX_AUTOCORRELATION,
                              MAX_AUTOCORRELATION) for name in self.correlated]
        self.params = params
        self.names = [p.name for p in params]
        # Positions held at a value in every fit (the bias-corrected correlations).
        self.held: dict[int, float] = {}
        self.logged = [p.logged for p in params]

    def coefficients(self, values: dict[str, float], suffix: str = "") -> tuple[float, float]:
        """(alpha, beta) from the loss rates at the reference strengths."""
        (pa, qa), (pb, qb) = exponents(self.law, values.get("p", 1.0), values.get("q", 0.0),
                                       values.get("w", 1.0))
        s_a, s_b = self.reference
        beta = values[f"attacker_losses_per_day{suffix}"] / (s_a**pa * s_b**qa)
        alpha = values[f"defender_losses_per_day{suffix}"] / (s_b**pb * s_a**qb)
        return alpha, beta

    def unpack(self, theta: np.ndarray) -> dict[str, float]:
        values = {n: float(np.exp(v)) if lg else float(v)
                  for n, v, lg in zip(self.names, theta, self.logged, strict=True)}
        values["alpha"], values["beta"] = self.coefficients(values)
        if self.law == "phases":
            values["alpha_after"], values["beta_after"] = self.coefficients(values, "_after")
            values["break_day"] = float(self.break_day)
        return values

    def strengths(self, values: dict[str, float]) -> np.ndarray:
        a0 = values.get("attacker_initial", self.record.initial.get("attacker"))
        b0 = values.get("defender_initial", self.record.initial.get("defender"))
        return trajectory(self.law, values["alpha"], values["beta"], a0, b0,
                          self.record.days, self.record.reinforcements,
                          p=values.get("p", 1.0), q=values.get("q", 0.0),
                          w=values.get("w", 1.0),
                          fatigue_per_day=values.get("fatigue_per_day", 0.0),
                          break_day=int(round(values.get("break_day", self.break_day))),
                          alpha_after=values.get("alpha_after"),
                          beta_after=values.get("beta_after"))

    def predictions(self, path: np.ndarray, values: dict[str, float]
                    ) -> dict[str, np.ndarray]:
        initial = path[0]
        out = {"attacker_strength": path[:, 0], "defender_strength": path[:, 1],
               "attacker_casualties": initial[0] + self.cumulative[:, 0] - path[:, 0],
               "defender_casualties": initial[1] + self.cumulative[:, 1] - path[:, 1]}
        for name in self.offsets:
            out[name] = out[name] + values[f"{name}_before_record"]
        return out

    def scaled_residuals(self, values: dict[str, float]) -> dict[str, np.ndarray]:
        """Each series' residuals on its observed days, in units of its scale."""
        predicted = self.predictions(self.strengths(values), values)
        return {name: (observed[mask] - predicted[name][mask]) / self.scale[name]
                for name, observed, mask in self.series}

    def whiten(self, name: str, residual: np.ndarray, rho: float
               ) -> tuple[np.ndarray, float]:
        """Innovations of AR(1) errors ``residual`` on the series' observed days (a gap
        of k days correlates by rho^k), each over its standard deviation relative to the
        innovations', and the sum of the logs of those variance ratios (the likelihood's
        determinant)."""
        if rho == 0.0:
            return residual, 0.0
        return _whiten(residual, self.gaps[name], rho)

    def residuals(self, theta: np.ndarray) -> np.ndarray:
        """Whitened residuals of all series, scaled so that their sum of squares is the
        exp of (-2 log likelihood - constant) / n: least squares is maximum likelihood."""
        values = self.unpack(theta)
        parts, log_det = [], 0.0
        for name, residual in self.scaled_residuals(values).items():
            white, det = self.whiten(name, residual, values.get(f"{name}_autocorrelation",
                                                                0.0))
            parts.append(white)
            log_det += det
        return np.concatenate(parts) * math.exp(log_det / (2 * self.n))

    def start(self) -> np.ndarray:
        """A coarse grid over the loss rates (from 1/10,000 to a half of the reference
        strength a day; for the power and Helmbold laws at the square law's and at the
        other end's exponents), with the first observed values as initial strengths and
        offsets and uncorrelated errors; the best point starts the fit."""
        observed = dict((name, values) for name, values, _ in self.series)
        shapes = {"power": [[1.0, 0.0], [1.0, 1.0]], "helmbold": [[1.0], [0.0]],
                  "fatigue": [[0.0], [0.05]]}.get(self.law, [[]])
        shares = np.log(10.0 ** np.arange(-4.0, 0.0, 0.5))
        initial = [np.log(max(1.0, float(values[np.isfinite(values)][0])))
                   for values in (observed[f"{side}_strength"] for side in self.free_initial)]
        offsets = [float(observed[name][np.isfinite(observed[name])][0])
                   for name in self.offsets]
        best, best_ssr = None, np.inf
        for shape in shapes:
            for share_a in shares:
                for share_b in shares:
                    rates = [share_a + np.log(self.reference[0]),
                             share_b + np.log(self.reference[1])]
                    after = rates if self.law == "phases" else []
                    theta = np.array([*rates, *after, *shape, *initial, *offsets,
                                      *([0.0] * len(self.correlated))])
                    ssr = float(np.sum(self.residuals(theta) ** 2))
                    if ssr < best_ssr:
                        best, best_ssr = theta, ssr
        return best

    def limits(self, i: int) -> tuple[float, float]:
        """Where parameter ``i`` may go, in fitting scale."""
        return self.params[i].low, self.params[i].high

    def fit(self, theta0: np.ndarray, fixed: dict[int, float] | None = None):
        """Least squares from ``theta0``, holding ``fixed`` positions at their values:
        (theta, sum of squares, scipy's result)."""
        fixed = {**self.held, **(fixed or {})}
        free = [i for i in range(len(theta0)) if i not in fixed]
        base = np.array(theta0, dtype=float)
        for i, v in fixed.items():
            base[i] = v

        def full(x):
            theta = base.copy()
            theta[free] = x
            return theta

        bounds = ([self.limits(i)[0] for i in free], [self.limits(i)[1] for i in free])
        # Strictly inside: scipy refuses a start on a bound.
        span = np.array(bounds[1]) - np.array(bounds[0])
        x0 = np.clip(base[free], np.array(bounds[0]) + 1e-9 * span,
                     np.array(bounds[1]) - 1e-9 * span)
        # A flat likelihood (a parameter the record cannot tell) would otherwise take
        # scipy's default of 100 evaluations a parameter, each a Jacobian, to give up.
        found = least_squares(lambda x: self.residuals(full(x)), x0, bounds=bounds,
                              x_scale="jac", max_nfev=MAX_EVALUATIONS_PER_PARAMETER
                              * len(free) + 50)
        return full(found.x), float(np.sum(found.fun**2)), found


class _BetterOptimum(Exception):
    """A profile point fits better than the optimum: the optimum was a local one."""

    def __init__(self, theta: np.ndarray):
        super().__init__("a better optimum")
        self.theta = theta


def profile_cutoff(n: int, m: int) -> float:
    """The 95% point of the profile statistic ``n log(SSR_profile / SSR_min)`` with the
    error variance estimated from ``n`` observations and ``m`` parameters: the F-based
    small-sample point, which tends to chi-squared's 3.84 as n grows.

    >>> round(profile_cutoff(10_000, 3), 2), round(profile_cutoff(30, 4), 2)
    (3.84, 4.52)
    """
    dof = max(n - m, 1)
    return n * math.log1p(float(stats.f.ppf(0.95, 1, dof)) / dof)


def break_cutoff(n: int, m: int) -> float:
    """The 95% point for the phases law's break day: :func:`profile_cutoff` scaled from
    chi-squared with one degree of freedom to two (3.84 to 5.99). A break day is not a
    regular parameter (it is discrete, and where it falls also changes which days each
    coefficient explains), so its likelihood ratio is not chi-squared with one degree of
    freedom (Hinkley 1970), nor is that of a coefficient profiled over the break days:
    with chi-squared's point with one degree of freedom both held the truth in 84-88% of
    ``benchmarks/law_coverage.py``'s records, with this point in 90% or more."""
    return profile_cutoff(n, m) * float(stats.chi2.ppf(0.95, 2)) / CHI2_95


@dataclass
class _Profile:
    """One side of a parameter's profile: where it crosses the 95% point (fitting
    scale), or the limit it reached without crossing."""

    end: float
    at_limit: bool


def _profile_side(problem: _Problem, theta: np.ndarray, ssr: float, index: int,
                  direction: float, se: float, cutoff: float, restart: bool = True
                  ) -> _Profile:
    """Trace the profile of parameter ``index`` outwards from the optimum ``theta`` in
    ``direction``, in steps that grow while the profile rises slowly, each fit starting
    from the previous point's solution (continuation). A point is checked by a second
    fit from the optimum with this parameter moved, the better kept, wherever the first
    could be wrong: where it stopped on a limit of another parameter, where the profile
    fell, and at the interval's end. So one fit stuck at a limit cannot carry its error
    outwards, and the end found is a true optimum. :class:`_BetterOptimum` if a point
    fits better than the optimum (unless ``restart`` is false)."""
    n = problem.n
    low_limit, high_limit = problem.limits(index)
    room = high_limit - low_limit
    cache: dict[float, tuple[np.ndarray, float, bool]] = {}

    def point(value: float, near: np.ndarray, check: bool = False) -> tuple[np.ndarray, float]:
        if value in cache and (cache[value][2] or not check):
            return cache[value][:2]
        fitted, profile_ssr, found = problem.fit(near, fixed={index: value})
        if check or np.any(found.active_mask != 0):
            again, again_ssr, _ = problem.fit(theta, fixed={index: value})
            if again_ssr < profile_ssr:
                fitted, profile_ssr = again, again_ssr
            check = True
        # Better than the optimum by more than the fits' own precision: a local optimum.
        if restart and n * math.log(ssr / max(profile_ssr, 1e-300)) > BETTER_OPTIMUM:
            raise _BetterOptimum(fitted)
        cache[value] = (fitted, n * math.log(max(profile_ssr, 1e-300) / ssr) - cutoff, check)
        return cache[value][:2]

    step = min(max(0.5 * se, 1e-3 * room), 0.05 * room) if np.isfinite(se) else 0.01 * room
    inner, inner_theta, inner_excess = theta[index], theta, -cutoff
    for _ in range(PROFILE_STEPS):
        outer = min(max(inner + direction * step, low_limit), high_limit)
        outer_theta, outer_excess = point(outer, inner_theta)
        if outer_excess > 0 or outer_excess < inner_excess or outer in (low_limit,
                                                                         high_limit):
            outer_theta, outer_excess = point(outer, inner_theta, check=True)
        if outer_excess > 0:
            def excess(value: float, near=inner_theta) -> float:
                return point(value, near)[1]
            crossing = float(brentq(excess, inner, outer,
                                    xtol=1e-4 * max(abs(outer - inner), 1e-9)))
            crossing_theta, crossing_excess = point(crossing, inner_theta, check=True)
            if crossing_excess > -0.05 * cutoff:
                return _Profile(crossing, False)
            # The continuation had stuck: go on from the better fit.
            outer, outer_theta, outer_excess = crossing, crossing_theta, crossing_excess
        elif outer in (low_limit, high_limit):
            return _Profile(float(outer), True)
        rise = outer_excess - inner_excess
        # Grow the step while the profile is flat; keep it where it climbs.
        step *= 2.0 if rise < 0.25 * cutoff else 1.0
        inner, inner_theta, inner_excess = outer, outer_theta, outer_excess
    return _Profile(float(inner), True)


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


#: The longest record a law is fitted to (days).
MAX_FIT_DAYS = 3650
#: Break days tried by the phases law on a record of D days: from PHASE_MARGIN to
#: D - PHASE_MARGIN, this many spread evenly, then every day outwards from the best until
#: the fit is worse by the 95% point, at most PHASE_WALK_DAYS either side. On a record of
#: 1,000 days whose break is not identified the phases law takes about a minute.
PHASE_MARGIN, PHASE_GRID = 3, 12
#: Days either side of the best break day walked one by one.
PHASE_WALK_DAYS = 8
#: Plausible break days (besides the best) whose profiles widen the phases law's intervals.
PHASE_PROFILE_DAYS = 4


#: Laws that are the square law at these values of their shape: their fit also starts
#: from the square law's, so that it can never end worse than the square law.
NESTS_SQUARE = {"fatigue": {"fatigue_per_day": 0.0}, "helmbold": {"w": 1.0},
                "power": {"p": 1.0, "q": 0.0}}


def _optimum(problem: _Problem) -> tuple[np.ndarray, float, Any]:
    """The fit from the start grid (and, for a law containing the square law, from the
    square law's fit, with its series weights), reweighed once by each series'
    innovation spread (so that one error variance fits all whitened residuals, as the
    likelihood assumes) and fitted again."""
    starts = [problem.start()]
    if problem.law in NESTS_SQUARE:
        square = _Problem(problem.record, "square")
        square_theta, _, _ = _optimum(square)
        problem.scale = dict(square.scale)
        known = dict(zip(square.names, square_theta, strict=True)) | NESTS_SQUARE[problem.law]
        starts = [problem.start(), np.array([known[name] for name in problem.names])]
    theta, ssr, found = min((problem.fit(start) for start in starts), key=lambda t: t[1])
    if len(problem.series) > 1:
        values = problem.unpack(theta)
        for name, residual in problem.scaled_residuals(values).items():
            white, _ = problem.whiten(name, residual,
                                      values.get(f"{name}_autocorrelation", 0.0))
            spread = float(np.sqrt(np.mean(white**2))) * problem.scale[name]
            problem.scale[name] = max(spread, 1e-9 * problem.scale[name])
        theta, ssr, found = problem.fit(theta)
    return theta, ssr, found


def _search_break(problem: _Problem, starts: dict[int, np.ndarray] | None = None
                  ) -> tuple[np.ndarray, float, Any, tuple[int, int], tuple[int, int],
                             dict[int, np.ndarray]]:
    """The phases law: the best break day by a search over days, and its 95% interval as
    the days whose profile statistic stays under the 95% point. The series' weights are
    the square law's (its fit also starts each day's), so that every day's fit is on
    one scale; each day is fitted from that start and from the previous day's solution,
    the better kept. ``starts``: the days of an earlier search and their fits, each
    refitted from its own (the search again with the correlations held). Returns the
    fit, the interval, the days searched, and the fit on each day fitted."""
    days = problem.record.days
    if days < 2 * PHASE_MARGIN + 1:
        raise ValueError(f"{days + 1} days cannot place a break with {PHASE_MARGIN} days "
                         f"either side; allowed: a record of {2 * PHASE_MARGIN + 2} days "
                         f"or more for the phases law")
    candidates = list(range(PHASE_MARGIN, days - PHASE_MARGIN + 1))
    coarse = candidates
    if starts:
        coarse = sorted(starts)
        start = starts[coarse[0]]
    else:
        square = _Problem(problem.record, "square")
        square_theta, _, _ = _optimum(square)
        problem.scale = dict(square.scale)
        start = np.concatenate([square_theta[:2], square_theta[:2], square_theta[2:]])
    if len(coarse) > PHASE_GRID and not starts:
        coarse = sorted(set(np.linspace(candidates[0], candidates[-1], PHASE_GRID)
                            .round().astype(int).tolist()))
    results: dict[int, tuple[np.ndarray, float, Any]] = {}
    previous = [start]

    def fit_at(day: int) -> None:
        if day in results:
            return
        problem.break_day = day
        own = starts.get(day, start) if starts else start
        tries = [problem.fit(theta) for theta in (own, previous[0])]
        results[day] = min(tries, key=lambda t: t[1])
        previous[0] = results[day][0]

    for day in coarse:
        fit_at(day)
    cutoff = break_cutoff(problem.n, len(problem.names) + 1)
    # Every day around the best of the coarse grid, outwards until the statistic passes
    # the 95% point on both sides (a better day found on the way becomes the best).
    best = min(results, key=lambda d: results[d][1])
    # On a long record whose break is not identified the walk would fit every day: past
    # PHASE_WALK_DAYS either side the coarse grid's days stand for the rest (the
    # interval's ends are then as fine as the grid).
    reach = PHASE_WALK_DAYS
    while True:
        for direction in (-1, 1):
            previous[0] = results[best][0]
            day = best
            while (candidates[0] <= day + direction <= candidates[-1]
                   and abs(day + direction - best) <= reach):
                day += direction
                fit_at(day)
                if problem.n * math.log(max(results[day][1], 1e-300)
                                        / results[best][1]) > cutoff:
                    break
        new_best = min(results, key=lambda d: results[d][1])
        if new_best == best:
            break
        best = new_best
    theta, ssr, found = results[best]
    inside = [d for d, (_, day_ssr, _) in results.items()
              if problem.n * math.log(max(day_ssr, 1e-300) / ssr) <= cutoff]
    problem.break_day = best
    return (theta, ssr, found, (min(inside), max(inside)), (candidates[0], candidates[-1]),
            {d: results[d][0] for d in results})


def _residuals_on(problem: _Problem, theta: np.ndarray, day: int) -> np.ndarray:
    """The residuals at ``theta`` with the break on ``day``."""
    keep = problem.break_day
    problem.break_day = day
    try:
        return problem.residuals(theta)
    finally:
        problem.break_day = keep


def fit_law(record: Record, law: str) -> LawFit:
    """Fit ``law`` (one of :data:`FIT_LAWS`) to ``record`` by maximum likelihood with
    AR(1) errors.

    Estimates: ``alpha`` (the attacker's effectiveness) and ``beta`` (the defender's),
    in the law's units; each side's losses a day at the reference strengths (the known
    or first observed ones); the law's shape (``p``, ``q``, ``w``, ``fatigue_per_day``,
    ``break_day`` and the coefficients after it); fitted initial strengths, casualties
    before the record, and each series' error autocorrelation. Intervals are by profile
    likelihood for the rates, shapes, offsets and correlations, and carry over exactly
    to ``alpha`` and ``beta`` for the square-based laws; for the power and Helmbold laws
    the coefficients are estimates only. Initial strengths are nuisance parameters
    (interval from the curvature). ``identification`` says, per parameter, whether the
    record identifies it."""
    if law not in FIT_LAWS:
        raise ValueError(f"unknown law '{law}'; allowed: {', '.join(FIT_LAWS)}")
    if record.days > MAX_FIT_DAYS:
        raise ValueError(f"the record spans {record.days:,} days; allowed: at most "
                         f"{MAX_FIT_DAYS:,} days for a law fit (each trial integrates the "
                         f"law day by day), e.g. one campaign or battle")
    problem = _Problem(record, law)
    m = len(problem.names) + (law == "phases")
    n = problem.n
    if n <= m:  # before any integration: the count alone decides
        raise ValueError(f"{n} observations cannot fit {m} parameters of the {law} law; "
                         f"allowed: more observations than parameters (a longer record, or "
                         f"a law with fewer parameters)")
    break_interval = None
    notes: list[str] = []
    if law == "phases":
        theta, ssr, found, break_interval, searched, by_day = _search_break(problem)
    else:
        theta, ssr, found = _optimum(problem)
    deviance = _deviance(problem, theta)
    se = _standard_errors(problem, theta, ssr, found)
    # The intervals: with each series' correlation held at its bias-corrected value.
    problem.held = _corrected_autocorrelations(problem, theta)
    if problem.held and law == "phases":
        # The break day's search again, with the correlations held: they widen it.
        theta, ssr, found, break_interval, searched, by_day = _search_break(problem, by_day)
    elif problem.held:
        theta, ssr, found = problem.fit(theta)
    # The phases law's profiles are maxima over the break day too, a discrete nuisance
    # that is not regular: its parameters take the break day's point (break_cutoff).
    cutoff = break_cutoff(n, m) if law == "phases" else profile_cutoff(n, m)
    # The phases law: a parameter's profile is over the break days too. Days outside the
    # break day's interval cannot reach the 95% point; each inside (at most
    # PHASE_PROFILE_DAYS of them, evenly) adds its own profile, the union is the interval.
    others: list[tuple[int, np.ndarray]] = []
    if law == "phases":
        best_day = problem.break_day
        days = [d for d in sorted(by_day) if d != best_day
                and n * math.log(max(float(np.sum(_residuals_on(problem, by_day[d], d)**2)),
                                     1e-300) / ssr) < cutoff]
        if len(days) > PHASE_PROFILE_DAYS:
            days = [days[round(i)] for i in np.linspace(0, len(days) - 1, PHASE_PROFILE_DAYS)]
        others = [(day, by_day[day]) for day in days]
    for attempt in range(4):
        try:
            profiles = _profiles(problem, theta, ssr, se, cutoff, restart=attempt < 3,
                                 others=others)
            break
        except _BetterOptimum as better:
            theta, ssr, found = problem.fit(better.theta)
            notes.append("a profile found a better fit than the first optimum: refitted "
                         "from it")
    estimates = problem.unpack(theta)
    intervals: dict[str, tuple[float, float]] = {}
    identification: dict[str, str] = {}
    for i, name in enumerate(problem.names):
        (low, low_limit), (high, high_limit) = profiles[i]
        if problem.logged[i]:
            low, high = math.exp(low), math.exp(high)
        intervals[name] = (float(low), float(high))
        identification[name] = _verdict(problem, i, low, high, low_limit, high_limit)
    _coefficient_intervals(problem, estimates, intervals, identification)
    if break_interval is not None:
        intervals["break_day"] = (float(break_interval[0]), float(break_interval[1]))
        identification["break_day"] = "identified" if break_interval != searched else (
            f"not identified from this record: every day from {searched[0]} to "
            f"{searched[1]} fits about as well")
    for i, name in enumerate(problem.names):
        low, high = problem.limits(i)
        tolerance = 1e-6 * (high - low)
        if name in ("p", "q", "w", "fatigue_per_day") and (theta[i] - low < tolerance
                                                            or high - theta[i] < tolerance):
            edge = low if theta[i] - low < tolerance else high
            notes.append(f"{name} is at its limit {edge:g}: the {law} law fits best at the "
                         f"edge of the forms it allows")
    path = problem.strengths(estimates)
    predicted = problem.predictions(path, estimates)
    metrics = {name: fit_metrics(values[mask], predicted[name][mask])
               for name, values, mask in problem.series}
    innovation_spread = {}
    for name, residual in problem.scaled_residuals(estimates).items():
        white, _ = problem.whiten(name, residual, estimates.get(f"{name}_autocorrelation", 0.0))
        innovation_spread[name] = float(np.sqrt(np.mean(white**2))) * problem.scale[name]
    k = m + len(problem.series)
    return LawFit(law=law, estimates={k_: v for k_, v in estimates.items()},
                  intervals=intervals, metrics=metrics,
                  aic=float(deviance + 2 * k), bic=float(deviance + math.log(n) * k),
                  n=n, fitted=path, identification=identification,
                  predicted={name: predicted[name] for name, _, _ in problem.series},
                  notes=notes, innovation_spread=innovation_spread)


def _deviance(problem: _Problem, theta: np.ndarray) -> float:
    """-2 log likelihood (less its constant) at ``theta`` with an innovation variance
    per series, each at its estimate, in persons: laws fitted to one record compare."""
    values = problem.unpack(theta)
    deviance = 0.0
    for name, residual in problem.scaled_residuals(values).items():
        white, det = problem.whiten(name, residual, values.get(f"{name}_autocorrelation", 0.0))
        innovations = white * problem.scale[name]
        deviance += len(white) * math.log(max(float(np.mean(innovations**2)), 1e-24)) + det
    return deviance


def _standard_errors(problem: _Problem, theta: np.ndarray, ssr: float, found
                     ) -> np.ndarray:
    """Each parameter's standard error from the curvature at the fit (fitting scale;
    NaN for a held one): the first step of its profile, and the interval of nuisance
    parameters."""
    free = [i for i in range(len(theta)) if i not in problem.held]
    se = np.full(len(theta), np.nan)
    sigma2 = ssr / max(problem.n - len(free), 1)
    try:
        covariance = np.linalg.pinv(found.jac.T @ found.jac) * sigma2
        se[free] = np.sqrt(np.clip(np.diag(covariance), 0, None))
    except np.linalg.LinAlgError:
        se[free] = np.inf
    return se


def _corrected_autocorrelations(problem: _Problem, theta: np.ndarray) -> dict[int, float]:
    """Each series' AR(1) correlation, corrected for its bias. Estimated from the
    residuals of a fit, rho comes out low by about ``(k + 3 rho) / n`` on ``n``
    observations with ``k`` fitted parameters each (Kendall 1954 for k = 1; each fitted
    parameter absorbs part of the streaks): on records of a few dozen days the intervals
    would be too narrow (``benchmarks/law_coverage.py``: 0.32 for a true 0.4)."""
    law_parameters = len(problem.names) - len(problem.correlated)
    per_series = law_parameters / max(len(problem.series), 1)
    held = {}
    for name in problem.correlated:
        i = problem.names.index(f"{name}_autocorrelation")
        count = int(problem.observed_counts[name])
        rho = float(theta[i])
        held[i] = float(np.clip(rho + (per_series + 3 * rho) / count,
                                -MAX_AUTOCORRELATION, MAX_AUTOCORRELATION))
    return held


def _profiles(problem: _Problem, theta: np.ndarray, ssr: float, se: np.ndarray,
              cutoff: float, restart: bool = True,
              others: list[tuple[int, np.ndarray]] = ()
              ) -> list[tuple[tuple[float, bool], tuple[float, bool]]]:
    """Each parameter's two profile ends (fitting scale) and whether each is a limit;
    initial strengths and error correlations (nuisance) from the curvature. ``others``:
    the phases law's other plausible break days and their fits, whose profiles (against
    the best day's fit) widen the interval."""
    out = []
    for i, name in enumerate(problem.names):
        if name.endswith(("_initial", "_autocorrelation")):
            half = 1.96 * se[i] if np.isfinite(se[i]) else np.inf
            low, high = problem.limits(i)
            out.append(((max(theta[i] - half, low), theta[i] - half <= low),
                        (min(theta[i] + half, high), theta[i] + half >= high)))
            continue
        sides = [_profile_side(problem, theta, ssr, i, d, se[i], cutoff, restart)
                 for d in (-1.0, 1.0)]
        best_day = problem.break_day
        for day, day_theta in others:
            problem.break_day = day
            for k, d in enumerate((-1.0, 1.0)):
                other = _profile_side(problem, day_theta, ssr, i, d, se[i], cutoff, False)
                if (other.end - sides[k].end) * d > 0:
                    sides[k] = other
        problem.break_day = best_day
        out.append(tuple((s.end, s.at_limit) for s in sides))
    return out


def _verdict(problem: _Problem, index: int, low: float, high: float, low_limit: bool,
             high_limit: bool) -> str:
    """Whether the record identifies parameter ``index`` (natural scale interval): not
    where the interval reaches a search limit or spans more than
    :data:`UNIDENTIFIED_RATIO`; bounded by the law where it reaches one of the law's
    own limits (W = 1 is the square law, not a failure to find W)."""
    parameter = problem.params[index]
    reached = [(end, natural) for end, hit, natural in
               ((low, low_limit, parameter.natural[0]), (high, high_limit, parameter.natural[1]))
               if hit]
    search = [end for end, natural in reached if not natural]
    if search or len(reached) == 2:
        ends = " and ".join(f"{end:.3g}" for end, _ in reached)
        return f"not identified from this record: the 95% interval reaches its limit {ends}"
    if parameter.logged and low > 0 and high / low > UNIDENTIFIED_RATIO:
        return (f"not identified from this record: the 95% interval spans a factor of "
                f"{high / low:,.0f}")
    if reached:
        return (f"identified up to the law's limit: the record is consistent with "
                f"{parameter.name} = {reached[0][0]:.3g}")
    return "identified"


def _coefficient_intervals(problem: _Problem, estimates: dict[str, float],
                           intervals: dict[str, tuple[float, float]],
                           identification: dict[str, str]) -> None:
    """The coefficients' intervals: for laws of fixed exponents each coefficient is its
    side's rate over a constant, so its interval is the rate's scaled; where the
    exponents are fitted (power, Helmbold) they move with them: estimates only."""
    pairs = [("alpha", "defender_losses_per_day"), ("beta", "attacker_losses_per_day")]
    if problem.law == "phases":
        pairs += [("alpha_after", "defender_losses_per_day_after"),
                  ("beta_after", "attacker_losses_per_day_after")]
    for coefficient, rate in pairs:
        if problem.law in ("power", "helmbold"):
            intervals[coefficient] = (float("nan"), float("nan"))
            identification[coefficient] = "estimate only: it moves with the exponents"
            continue
        factor = estimates[coefficient] / estimates[rate]
        intervals[coefficient] = (intervals[rate][0] * factor, intervals[rate][1] * factor)
        said = identification[rate]
        identification[coefficient] = said if said == "identified" else (
            f"{said.split(':')[0]}: it is {rate} over a constant, and {rate}'s interval "
            f"reaches its limit or spans a factor of {UNIDENTIFIED_RATIO:,.0f} or more")


def compare_laws(record: Record, laws: tuple[str, ...] = FIT_LAWS) -> list[LawFit]:
    """Every law fitted to ``record``, best (lowest BIC) first. A law the record is too
    short for (more parameters than observations, or no room for the phases law's break)
    is left out, and the best fit's notes say so."""
    fits, skipped = [], []
    for law in laws:
        try:
            fits.append(fit_law(record, law))
        except ValueError as err:
            if len(laws) == 1:
                raise
            skipped.append(f"the {law} law is left out: {err}")
    if not fits:
        raise ValueError(skipped[0].split(": ", 1)[1])
    fits.sort(key=lambda f: f.bic)
    fits[0].notes[:0] = skipped
    return fits


def verdict(fits: list[LawFit]) -> str:
    """One line for a newcomer: which laws the record supports (lowest BIC, and those
    tied with it, BIC within :data:`BIC_TIE`), which it rejects (:data:`BIC_DECISIVE` or
    more worse), and what the supported laws cannot identify.

    >>> import numpy as np
    >>> record = Record.from_trajectory(
    ...     trajectory("square", 0.02, 0.03, 1000, 800, days=30), observe="both",
    ...     noise_sd=5.0, rng=np.random.default_rng(1))
    >>> print(verdict(compare_laws(record, ("square", "linear"))))
    The record supports the square law; it rejects the linear law (BIC 10 or more worse).
    """
    ranked = sorted(fits, key=lambda f: f.bic)
    best = ranked[0].bic
    tied = [f for f in ranked if f.bic - best < BIC_TIE]
    rejected = [f for f in ranked if f.bic - best >= BIC_DECISIVE]
    between = [f for f in ranked if BIC_TIE <= f.bic - best < BIC_DECISIVE]

    def names(group: list[LawFit]) -> str:
        laws = [f.law for f in group]
        joined = laws[0] if len(laws) == 1 else ", ".join(laws[:-1]) + " and " + laws[-1]
        return f"the {joined} law{'s' if len(laws) > 1 else ''}"

    if len(tied) == 1:
        text = f"The record supports {names(tied)}"
    else:
        text = f"The record cannot choose between {names(tied)} (BIC within {BIC_TIE:g})"
    if between:
        text += f"; it weighs against {names(between)} (BIC {BIC_TIE:g} to {BIC_DECISIVE:g} worse)"
    if rejected:
        text += f"; it rejects {names(rejected)} (BIC {BIC_DECISIVE:g} or more worse)"
    # A coefficient and the rate it is made of share their verdict: name the coefficient.
    mirrored = {"defender_losses_per_day": "alpha", "attacker_losses_per_day": "beta",
                "defender_losses_per_day_after": "alpha_after",
                "attacker_losses_per_day_after": "beta_after"}
    unknown = [f"{f.law}'s {name}" for f in tied for name, said in f.identification.items()
               if said.startswith("not identified")
               and mirrored.get(name) not in f.identification
               and not name.endswith(("_autocorrelation", "_initial"))]  # nuisance
    if unknown:
        text += f". Not identified from this record: {', '.join(unknown)}"
    worst = min((m["r2"] for m in ranked[0].metrics.values() if m["r2"] == m["r2"]),
                default=1.0)
    if worst < POOR_FIT_R2:
        text += (f". But no law follows the record: the best explains {max(worst, 0.0):.0%} "
                 f"of a series' variation")
    return text + "."


#: A law's prior spans this many of its least-squares 95% intervals either side.
PRIOR_WIDTHS = 5.0


class LawModel:
    """A law as a candidate model for Bayesian calibration (:func:`sim.bayes.abc_laws`,
    exact ABC): ``simulate`` gives the law's predictions of the observed series, on the
    observed days, whitened and scaled by a noise model shared by every candidate law,
    so that ``observed - simulate(parameters)`` is standard normal under it and the
    laws' posterior probabilities compare on one likelihood.

    The noise model (each series' AR(1) correlation, bias-corrected, and innovation
    spread) is that of the law the record supports best by BIC (``noise``, a
    :class:`LawFit` of a law among the candidates, fitted first): a plug-in estimate.
    With ``around`` (the law's own least-squares fit) each identified parameter's prior
    is cut to :data:`PRIOR_WIDTHS` of its 95% intervals either side of the estimate
    (:meth:`_narrowed`). The widest priors, per parameter: each side's losses a day at
    the start log-uniform from 1/10,000 to a half of its reference strength (as the
    fits' start grid), initial strengths log-uniform within a factor of 2 of the first
    observed, casualties before the record uniform from 0 to twice the first observed,
    the exponents, Helmbold's W and fatigue over their ranges, the break day over the
    days a break can fall on.
    Plain data: it pickles to process and Dask workers."""

    def __init__(self, record: Record, law: str, noise: LawFit, around: LawFit | None = None):
        problem = _Problem(record, law)
        self.name, self.law, self.record, self.problem = law, law, record, problem
        self.series_names = [name for name, _, _ in problem.series]
        self.reference = problem.reference
        self.observed_days = {name: np.flatnonzero(mask) for name, _, mask in problem.series}
        self.gaps = dict(problem.gaps)
        # Each series' (AR(1) correlation, innovations' spread in persons).
        self.noise = {name: (float(noise.estimates.get(f"{name}_autocorrelation", 0.0)),
                             max(noise.innovation_spread[name], 1e-9))
                      for name in self.series_names}
        observed = dict((name, values) for name, values, _ in problem.series)
        self.observed = self._whitened({name: observed[name] for name in self.series_names})
        first = {name: float(values[np.isfinite(values)][0]) for name, values in
                 observed.items()}
        priors: dict[str, tuple[float, float]] = {}
        for side, reference in zip(SIDES, self.reference, strict=True):
            priors[f"{side}_losses_per_day"] = (reference * 1e-4, reference * 0.5)
        if law == "phases":
            for side, reference in zip(SIDES, self.reference, strict=True):
                priors[f"{side}_losses_per_day_after"] = (reference * 1e-4, reference * 0.5)
            priors["break_day"] = (float(PHASE_MARGIN), float(record.days - PHASE_MARGIN))
        for parameter in problem.params:
            if parameter.name in ("p", "q", "w", "fatigue_per_day"):
                priors[parameter.name] = (parameter.low, parameter.high)
        for side in problem.free_initial:
            start = max(1.0, first[f"{side}_strength"])
            priors[f"{side}_initial"] = (start / 2, start * 2)
        for name in problem.offsets:
            priors[f"{name}_before_record"] = (0.0, 2 * first[name] + 1.0)
        if around is not None:
            priors = self._narrowed(priors, around)
        self.priors = priors

    @staticmethod
    def _narrowed(priors: dict[str, tuple[float, float]], fit: LawFit
                  ) -> dict[str, tuple[float, float]]:
        """The priors cut to :data:`PRIOR_WIDTHS` times the least-squares fit's 95%
        interval either side of its estimate (on the log scale for a log-uniform prior),
        where the record identifies the parameter: flat wherever the likelihood is not
        negligible, and narrow enough for the temperatures to reach 1 in a few
        generations. A parameter the record cannot identify keeps its whole range."""
        out = {}
        for name, (low, high) in priors.items():
            interval = fit.intervals.get(name)
            said = fit.identification.get(name, "")
            if interval is None or said.startswith("not identified") or not all(
                    math.isfinite(v) for v in interval):
                out[name] = (low, high)
                continue
            logged = low > 0
            scale = (math.log if logged else float)
            centre = scale(fit.estimates[name])
            if logged and interval[0] <= 0:
                out[name] = (low, high)
                continue
            half = PRIOR_WIDTHS * max(abs(scale(interval[1]) - centre),
                                      abs(centre - scale(interval[0])), 1e-9)
            ends = (centre - half, centre + half)
            if logged:
                ends = (math.exp(ends[0]), math.exp(ends[1]))
            out[name] = (max(low, ends[0]), min(high, ends[1]))
        return out

    def _whitened(self, series: dict[str, np.ndarray]) -> np.ndarray:
        parts = []
        for name in self.series_names:
            rho, spread = self.noise[name]
            values = np.asarray(series[name], dtype=float)[self.observed_days[name]]
            white = values if rho == 0.0 else _whiten(values, self.gaps[name], rho)[0]
            parts.append(white / spread)
        return np.concatenate(parts)

    def series(self, parameters: dict[str, float]) -> dict[str, np.ndarray]:
        """The law's prediction of each observed series on every day (persons)."""
        values = dict(parameters)
        values["alpha"], values["beta"] = self.problem.coefficients(values)
        if self.law == "phases":
            values["alpha_after"], values["beta_after"] = self.problem.coefficients(
                values, "_after")
        predicted = self.problem.predictions(self.problem.strengths(values), values)
        return {name: predicted[name] for name in self.series_names}

    def simulate(self, parameters: dict[str, float], seed: int = 0) -> np.ndarray:
        """The whitened, scaled prediction (``seed`` unused: the law is deterministic)."""
        return self._whitened(self.series(parameters))

    def noisy_series(self, parameters: dict[str, float], rng: np.random.Generator
                     ) -> dict[str, np.ndarray]:
        """A record the law and the noise model could have made: the prediction plus
        AR(1) errors (a posterior predictive draw)."""
        out = {}
        for name, values in self.series(parameters).items():
            rho, spread = self.noise[name]
            out[name] = values + ar1_noise(len(values) - 1, spread / math.sqrt(1 - rho**2),
                                           rho, rng)
        return out
