"""Fitting Lanchester laws: honest intervals on records whose errors run in streaks,
profiles that cannot stick, verdicts on identification and on the laws, offsets for
records that start mid-battle, the new laws (Helmbold, fatigue, phases), and a
one-sided record with reinforcement waves.

The coverage and law-choice figures over 100+ records are in
``benchmarks/law_coverage.py``; here are smaller versions of both."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import mean_and_se
from scipy.optimize import least_squares

from sim.lawfit import (
    BIC_TIE,
    Record,
    _optimum,
    _Problem,
    compare_laws,
    fit_law,
    profile_cutoff,
    trajectory,
    verdict,
)

A0, B0, DAYS = 20_000, 15_000, 40
# Reporting errors: a standard deviation of 1% of the attacker's starting strength, in
# streaks (lag-one correlation 0.4), as on real records.
NOISE_SD, RHO = 200.0, 0.4
# (trajectory keyword arguments): each law loses about half of one side in 40 days.
TRUTH = {"square": {"alpha": 0.02, "beta": 0.03},
         "linear": {"alpha": 2e-6, "beta": 3e-6},
         "mixed": {"alpha": 2e-6, "beta": 0.03},
         "logarithmic": {"alpha": 0.01, "beta": 0.015},
         "helmbold": {"alpha": 0.0006, "beta": 0.0009, "w": 0.5},
         "fatigue": {"alpha": 0.03, "beta": 0.045, "fatigue_per_day": 0.03},
         "phases": {"alpha": 0.03, "beta": 0.02, "break_day": 20, "alpha_after": 0.01,
                    "beta_after": 0.04},
         # Losing most of both sides: with less the exponents are barely identified.
         "power": {"alpha": 6e-4, "beta": 9e-4, "p": 1.0, "q": 0.5}}


def _record(law: str, seed: int, rho: float = RHO, days: int = DAYS) -> Record:
    truth = TRUTH[law]
    path = trajectory(law, truth["alpha"], truth["beta"], A0, B0, days,
                      **{k: v for k, v in truth.items() if k not in ("alpha", "beta")})
    return Record.from_trajectory(path, noise_sd=NOISE_SD, rng=np.random.default_rng(seed),
                                  autocorrelation=rho)


def _true_values(law: str, record: Record) -> dict[str, float]:
    """What the fit estimates with an interval, from the truth: the coefficients (and
    the shape) for laws whose coefficients have intervals; the shape and each side's
    losses a day at the reference strengths (the first observations) for the power and
    Helmbold laws, whose coefficients move with their exponents."""
    truth = TRUTH[law]
    if law not in ("power", "helmbold"):
        return {k: float(v) for k, v in truth.items()}
    s_a = record.observed["attacker_strength"][0]
    s_b = record.observed["defender_strength"][0]
    enemy, own = ((truth["p"], truth["q"]) if law == "power"
                  else (truth["w"], 1 - truth["w"]))
    shape = {"p": truth["p"], "q": truth["q"]} if law == "power" else {"w": truth["w"]}
    return shape | {"attacker_losses_per_day": truth["beta"] * s_a**own * s_b**enemy,
                    "defender_losses_per_day": truth["alpha"] * s_b**own * s_a**enemy}


@pytest.mark.slow
def test_intervals_cover_the_truth_on_records_whose_errors_run_in_streaks():
    """Over 60 seeded square-law records with AR(1) errors (rho 0.4, 3 days missing),
    each coefficient's 95% interval holds the truth in at least 52 (87%). With true 95%
    coverage, 51 or fewer happens with probability about 0.3% (binomial); intervals that
    assume independent errors are about 1.5 times too narrow here and cover about 80%,
    which passes this bar about once in 20. The benchmark runs 120 records of six laws."""
    hits = {"alpha": 0, "beta": 0}
    for seed in range(60):
        record = _record("square", seed)
        missing = np.random.default_rng(10_000 + seed).choice(np.arange(1, DAYS + 1), 3,
                                                              replace=False)
        for values in record.observed.values():
            values[missing] = np.nan
        fit = fit_law(record, "square")
        for name in hits:
            low, high = fit.intervals[name]
            hits[name] += low <= TRUTH["square"][name] <= high
    assert min(hits.values()) >= 52, f"coverage over 60 records: {hits}"


@pytest.mark.slow
@pytest.mark.parametrize("law", list(TRUTH))
def test_each_law_recovers_its_parameters_within_their_intervals(law):
    """Six seeded records of each law: of all the checks (each parameter with an
    interval, each record), at least 75% hold the truth. With true 95% coverage and 12
    checks or more, a failure is a 0.2% event; a law whose fit is biased or whose
    intervals are much too narrow fails it."""
    hits = checks = 0
    for seed in range(6):
        record = _record(law, 100 + seed)
        fit = fit_law(record, law)
        for name, true in _true_values(law, record).items():
            low, high = fit.intervals[name]
            hits += low <= true <= high
            checks += 1
    assert hits >= 0.75 * checks, f"{law}: {hits} of {checks} intervals hold the truth"


@pytest.mark.slow
def test_the_verdict_names_the_generating_law_or_a_tie_with_it():
    """Eight square-law records, four laws fitted (two of them contain the square law):
    the laws tied at the top (BIC within 2) include the square law in at least 6. The
    benchmark measures the share over 50 records of six laws with all eight fitted
    (at least 80% is required); at 95% a failure here is a 0.6% event."""
    named = 0
    for seed in range(8):
        fits = compare_laws(_record("square", 200 + seed),
                            ("square", "linear", "helmbold", "fatigue"))
        tied = [f.law for f in fits if f.bic - fits[0].bic < BIC_TIE]
        named += "square" in tied
        line = verdict(fits)
        assert line.startswith("The record ") and fits[0].law in line
    assert named >= 6, f"the square law named or tied in {named} of 8"


def test_the_verdict_calls_ties_and_names_what_it_cannot_identify():
    """Thirteen days of one side's strength: the laws, with as many parameters each,
    fit it alike (a tie, not a ranking), and what the record cannot tell (how fast the
    unobserved defender was worn down) is said."""
    record = _record("square", 3, days=12)
    record.observed.pop("defender_strength")
    record.initial["defender"] = float(B0)
    fits = compare_laws(record, ("square", "linear", "logarithmic"))
    line = verdict(fits)
    assert "cannot choose between" in line, line
    assert "Not identified from this record" in line, line


def _independent_profile(record: Record, grid: np.ndarray) -> tuple[float, float]:
    """The power law's p interval the slow way: at each p on a grid, a fit of every other
    parameter from many starts (no continuation), the best kept; the ends where the
    statistic crosses the 95% point, by linear interpolation between grid points."""
    problem = _Problem(record, "power")
    theta, ssr, _ = _optimum(problem)
    index = problem.names.index("p")
    cutoff = profile_cutoff(problem.n, len(problem.names))
    free = [i for i in range(len(theta)) if i != index]
    low = np.array([problem.limits(i)[0] for i in free])
    high = np.array([problem.limits(i)[1] for i in free])
    statistic = []
    for p in grid:
        best = np.inf
        for q in (0.0, 0.5, 1.5):
            for shift in (-1.0, 1.0):
                start = theta.copy()
                start[index], start[problem.names.index("q")] = p, q
                start[:2] += shift
                full = start.copy()

                def residuals(x, full=full):
                    full[free] = x
                    return problem.residuals(full)

                x0 = np.clip(start[free], low + 1e-9, high - 1e-9)
                found = least_squares(residuals, x0, bounds=(low, high))
                best = min(best, float(np.sum(found.fun**2)))
        statistic.append(problem.n * math.log(best / ssr) - cutoff)
    statistic = np.array(statistic)
    inside = np.flatnonzero(statistic <= 0)
    ends = []
    for edge, neighbour in ((inside[0], inside[0] - 1), (inside[-1], inside[-1] + 1)):
        if not 0 <= neighbour < len(grid):  # the interval reaches the grid's end
            ends.append(grid[edge])
            continue
        a, b = statistic[edge], statistic[neighbour]
        ends.append(grid[edge] + (grid[neighbour] - grid[edge]) * (0 - a) / (b - a))
    return ends[0], ends[1]


@pytest.mark.slow
def test_the_power_exponent_interval_matches_an_independent_profile():
    """A power-law record where p is known only roughly (about 0.6 to 1.4): the interval
    found by continuation is an interval, not a point, and its ends agree with a
    brute-force profile (every p on a grid fitted from six starts) within 10% of its
    width."""
    record = _record("power", 1)
    fit = fit_law(record, "power")
    low, high = fit.intervals["p"]
    grid = np.linspace(0.0, 2.5, 26)
    true_low, true_high = _independent_profile(record, grid)
    width = true_high - true_low
    assert high - low > 0.1, f"p interval collapsed: [{low}, {high}]"
    assert abs(low - true_low) <= 0.1 * width, (low, high, true_low, true_high)
    assert abs(high - true_high) <= 0.1 * width, (low, high, true_low, true_high)


def test_a_casualty_series_that_starts_mid_battle_takes_an_offset():
    """Casualties counted from before the record (12,000 on its first day): the fit
    takes an offset, its interval holds the truth, and the coefficients come out as
    from the same record counted from 0 (within 2%)."""
    truth = TRUTH["square"]
    path = trajectory("square", truth["alpha"], truth["beta"], A0, B0, DAYS)
    rng = np.random.default_rng(5)
    losses = path[0] - path
    observed = {"attacker_casualties": losses[:, 0] + rng.normal(0, 50, DAYS + 1),
                "defender_casualties": losses[:, 1] + rng.normal(0, 50, DAYS + 1)}
    initial = {"attacker": float(A0), "defender": float(B0)}
    from_zero = fit_law(Record({k: v.copy() for k, v in observed.items()},
                               np.zeros((DAYS + 1, 2)), dict(initial)), "square")
    shifted = {k: v + 12_000 for k, v in observed.items()}
    fit = fit_law(Record(shifted, np.zeros((DAYS + 1, 2)), dict(initial)), "square")
    for name in ("attacker_casualties", "defender_casualties"):
        low, high = fit.intervals[f"{name}_before_record"]
        assert low <= 12_000 <= high, (name, low, high)
    for name in ("alpha", "beta"):
        assert abs(fit.estimates[name] / from_zero.estimates[name] - 1) < 0.02
        low, high = fit.intervals[name]
        assert low <= truth[name] <= high


def test_a_rate_the_record_cannot_identify_is_called_so():
    """Eight days of the attacker's strength alone, the defender's start known: how
    fast the attacker wears the defender down barely shows, and its verdict says it is
    not identified; the defender's effectiveness, which the record shows, is."""
    truth = TRUTH["square"]
    path = trajectory("square", truth["alpha"], truth["beta"], A0, B0, 8)
    record = Record.from_trajectory(path, observe="attacker", noise_sd=NOISE_SD,
                                    rng=np.random.default_rng(2),
                                    initial={"attacker": None, "defender": float(B0)})
    fit = fit_law(record, "square")
    assert fit.identification["alpha"].startswith("not identified from this record")
    assert fit.identification["beta"] == "identified"
    assert "alpha" in fit.as_dict()["parameters"]
    assert fit.as_dict()["parameters"]["alpha"]["meaning"].startswith("attacker's")


def test_a_phase_change_is_found_on_its_day():
    """An attack that turns into a defence on day 20: over three records the break
    day's interval holds day 20 and the phases law beats the square law by BIC."""
    for seed in range(3):
        record = _record("phases", 300 + seed)
        fits = {f.law: f for f in compare_laws(record, ("square", "phases"))}
        low, high = fits["phases"].intervals["break_day"]
        assert low <= 20 <= high, (seed, low, high)
        assert fits["phases"].bic < fits["square"].bic - 10


def test_one_sided_record_with_three_reinforcement_waves_recovers_both_coefficients():
    """Engel's setting (Iwo Jima): only the attacker's strength is observed, the
    defender's initial strength is known and never observed again, and the attacker
    lands in three waves. The square law's fit recovers alpha and beta, each within its
    interval and within 10% of the truth, for each of five seeds."""
    alpha, beta, a0, b0 = 0.01, 0.05, 40_000, 21_500
    waves = np.zeros((37, 2))
    waves[[2, 5, 9], 0] = [15_000, 10_000, 8_000]
    path = trajectory("square", alpha, beta, a0, b0, 36, waves)
    for seed in range(5):
        record = Record.from_trajectory(path, observe="attacker", reinforcements=waves,
                                        noise_sd=300.0, rng=np.random.default_rng(seed),
                                        initial={"attacker": None, "defender": b0})
        fit = fit_law(record, "square")
        for name, true in (("alpha", alpha), ("beta", beta)):
            low, high = fit.intervals[name]
            assert low <= true <= high, f"seed {seed}: {name} {true} not in {low}-{high}"
            assert abs(fit.estimates[name] / true - 1) < 0.1


def test_an_unobserved_side_needs_its_initial_strength():
    path = trajectory("square", 0.01, 0.02, 1000, 800, 10)
    record = Record.from_trajectory(path, observe="attacker")
    with pytest.raises(ValueError, match="defender's strength is neither observed nor given"):
        fit_law(record, "square")


def test_the_error_correlation_is_estimated():
    """Over ten records with rho 0.4, the mean bias-corrected estimate is 0.4 within 3
    SE, and the RMSE of each series is the errors' standard deviation within 3 SE."""
    rho, rmse = [], []
    for seed in range(10):
        fit = fit_law(_record("square", 400 + seed), "square")
        rho += [fit.estimates[f"{s}_strength_autocorrelation"] for s in ("attacker",
                                                                        "defender")]
        rmse += [fit.metrics[f"{s}_strength"]["rmse"] / NOISE_SD for s in ("attacker",
                                                                          "defender")]
    for values, true in ((rho, RHO), (rmse, 1.0)):
        mean, se = mean_and_se(np.array(values))
        assert abs(mean - true) < 3 * se + 0.02, (mean, se, true)
    out = fit.as_dict()
    assert out["law"] == "square" and set(out["parameters"]) >= {"alpha", "beta"}
