"""Docking: reduced to homogeneous units and one fire mechanism, the model's mean
follows Lanchester's laws, and its win fractions follow Brown's exact probabilities.

Each comparison first checks that the replicates are enough for it (3 standard
errors inside the tolerance), so that a pass is evidence and not luck.
"""

import numpy as np
import pytest
from helpers import replicate_series

from sim import AttritionModel
from sim import lanchester as L
from sim.docking import linear_law_scenario, square_law_scenario

A0, B0 = 1000, 800


def _assert_follows(series: np.ndarray, ode_a: np.ndarray, ode_b: np.ndarray, rel_tol: float):
    """Mean trajectory within ``rel_tol`` of the ODE on every day both sides are above
    10% of their starting strength."""
    days = np.flatnonzero((ode_a >= 0.1 * A0) & (ode_b >= 0.1 * B0))
    assert len(days) >= 10
    for side, ode in ((0, ode_a), (1, ode_b)):
        values = series[:, days, side]
        mean = values.mean(axis=0)
        se = values.std(axis=0, ddof=1) / np.sqrt(len(values))
        band = rel_tol * ode[days]
        assert np.all(3 * se <= band), "too few replicates to test a 3% band"
        worst = np.max(np.abs(mean - ode[days]) / ode[days])
        assert np.all(np.abs(mean - ode[days]) <= band), f"side {side}: {worst:.2%} off"


@pytest.mark.slow
def test_square_law_docking():
    """Aimed fire only: dA/dt = -beta B, dB/dt = -alpha A."""
    alpha = beta = 0.05
    # B's spread near 10% strength is about 38% of its mean, so 2000 replicates are
    # needed for 3 SE to fit in the 3% band. With 4 sub-steps a day the mean follows
    # forward Euler, 0.8% below the ODE for A by day 19 (docs/ODD.md section 8).
    scenario = square_law_scenario(A0, B0, alpha, beta, unit_size=10, substeps_per_day=4)
    days = 21
    series = replicate_series(scenario, range(2000), days)
    _assert_follows(series, *L.square_law(np.arange(days + 1), A0, B0, alpha, beta), 0.03)


@pytest.mark.slow
def test_linear_law_docking():
    """Organic area fire only: dA/dt = -beta A B, dB/dt = -alpha A B."""
    alpha = beta = 0.0003
    # Forward Euler puts A's mean 1% under the ODE at 8 sub-steps a day (2% at 4).
    scenario = linear_law_scenario(A0, B0, alpha, beta, unit_size=100, substeps_per_day=8)
    days = 20
    series = replicate_series(scenario, range(400), days)
    _assert_follows(series, *L.linear_law(np.arange(days + 1), A0, B0, alpha, beta), 0.03)


def test_square_law_docking_is_not_the_linear_law():
    """The two mechanisms give different mean paths: the docking test can tell them apart.
    Over 20 replicates, B's mean is more than 30% off the linear law (with the same
    initial loss rates) on some day, by more than 3 SE on that day."""
    alpha = beta = 0.05
    scenario = square_law_scenario(A0, B0, alpha, beta, unit_size=10, substeps_per_day=8)
    series = replicate_series(scenario, range(20), 15)
    _, lin_b = L.linear_law(np.arange(16), A0, B0, alpha / B0, beta / A0)
    b = series[:, :, 1]
    gap = np.abs(b.mean(axis=0) - lin_b)
    se = b.std(axis=0, ddof=1) / np.sqrt(len(b))
    day = int(np.argmax(gap / lin_b))
    assert gap[day] / lin_b[day] > 0.3 and gap[day] > 3 * se[day], (day, gap[day], se[day])


ENGAGEMENTS = [
    # (attackers, defenders, alpha, beta): equal rates; a 5x more effective defender;
    # a 2x more effective defender facing 1.5x the numbers.
    (10, 8, 1.0, 1.0),
    (12, 5, 1.0, 5.0),
    (6, 4, 1.0, 2.0),
]


@pytest.mark.slow
@pytest.mark.parametrize("m,n,alpha,beta", ENGAGEMENTS)
def test_stochastic_square_law_win_fraction_matches_brown(m, n, alpha, beta):
    scenario = square_law_scenario(m, n, alpha, beta, unit_size=1, substeps_per_day=100)
    runs = 1000
    wins = 0
    for seed in range(runs):
        model = AttritionModel(scenario, rng=seed)
        model.run()
        assert model.stop_reason in ("attacker_broken", "defender_broken")
        wins += model.summary()["winner"] == "attacker"
    p = L.brown_win_probability(m, n, alpha, beta)
    se = np.sqrt(p * (1 - p) / runs)
    assert abs(wins / runs - p) < 3 * se, f"model {wins / runs:.3f}, Brown {p:.3f}"
