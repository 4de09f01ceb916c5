"""Fitting Lanchester laws: recovery within the stated intervals on synthetic records,
choice of the generating law, and a one-sided record with reinforcement waves."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import mean_and_se

from sim.lawfit import Record, compare_laws, fit_law, trajectory

A0, B0, DAYS = 20_000, 15_000, 40
# Reporting noise: a standard deviation of 1% of the attacker's starting strength.
NOISE_SD = 200.0
# (alpha, beta, p, q): each law loses about half of one side in 40 days.
TRUTH = {"square": (0.02, 0.03, 1.0, 0.0), "linear": (2e-6, 3e-6, 1.0, 1.0),
         "mixed": (2e-6, 0.03, 1.0, 0.0), "logarithmic": (0.01, 0.015, 1.0, 0.0),
         "power": (2e-4, 3e-4, 1.0, 0.5)}


def _record(law: str, seed: int) -> Record:
    alpha, beta, p, q = TRUTH[law]
    path = trajectory(law, alpha, beta, A0, B0, DAYS, p=p, q=q)
    return Record.from_trajectory(path, noise_sd=NOISE_SD, rng=np.random.default_rng(seed))


def _true_values(law: str, record: Record) -> dict[str, float]:
    """What the fit estimates, from the truth: the coefficients for the fixed laws; the
    exponents and each side's losses a day at the reference strengths (the record's
    first observations) for the power law."""
    alpha, beta, p, q = TRUTH[law]
    if law != "power":
        return {"alpha": alpha, "beta": beta}
    s_a = record.observed["attacker_strength"][0]
    s_b = record.observed["defender_strength"][0]
    return {"p": p, "q": q, "attacker_losses_per_day": beta * s_a**q * s_b**p,
            "defender_losses_per_day": alpha * s_b**q * s_a**p}


@pytest.mark.slow
@pytest.mark.parametrize("law", list(TRUTH))
def test_fits_recover_known_parameters_within_their_intervals(law):
    """Over seeded synthetic records of each law (both sides observed daily with noise),
    each parameter's 95% profile-likelihood interval contains the truth in at least 90%
    of the checks. With true 95% coverage, 90% or less happens by chance with
    probability about 3% at these counts (binomial), so a failure means the intervals
    are too narrow or biased, not bad luck."""
    trials = 20 if law == "power" else 30
    hits = checks = 0
    for seed in range(trials):
        record = _record(law, seed)
        fit = fit_law(record, law)
        for name, true in _true_values(law, record).items():
            low, high = fit.intervals[name]
            hits += low <= true <= high
            checks += 1
    assert hits >= 0.9 * checks, f"{law}: {hits} of {checks} intervals cover the truth"


@pytest.mark.parametrize("law", ["square", "linear", "logarithmic", "mixed"])
def test_comparison_picks_the_generating_law(law):
    """On records long and clean enough to tell the laws apart, the lowest AIC among
    the four fixed laws is the one that generated the data, for every seed tried."""
    for seed in range(3):
        best = compare_laws(_record(law, seed), ("square", "linear", "logarithmic",
                                                 "mixed"))[0]
        assert best.law == law, f"seed {seed}: {best.law} fitted best"


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


def test_metrics_and_json():
    """The residuals are the noise: over ten seeded records, each series' mean RMSE is
    the noise's standard deviation within 3 SE (and 3 SE is under 15% of it); every fit
    explains over 99% of the variance. The JSON form names the law and its parameters."""
    rmse = {"attacker_strength": [], "defender_strength": []}
    for seed in range(10):
        fit = fit_law(_record("square", seed), "square")
        for series, values in rmse.items():
            assert fit.metrics[series]["r2"] > 0.99
            values.append(fit.metrics[series]["rmse"] / NOISE_SD)
    for series, values in rmse.items():
        mean, se = mean_and_se(np.array(values))
        assert 3 * se < 0.15, f"{series}: too few records (SE {se:.3f})"
        assert abs(mean - 1) < 3 * se, f"{series}: RMSE {mean:.3f} of the noise's SD"
    out = fit.as_dict()
    assert out["law"] == "square" and set(out["parameters"]) >= {"alpha", "beta"}
