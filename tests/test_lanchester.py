"""Lanchester theory: closed forms agree with numerical integration and with their
invariants; Brown's recursion agrees with an independent event-by-event simulation."""

import numpy as np
import pytest

from sim import lanchester as L

T = np.linspace(0.0, 15.0, 31)


def test_square_law_closed_form_matches_ode_and_conserves_invariant():
    a, b = L.square_law(T, 1000, 800, 0.05, 0.04)
    tr = L.solve(1000, 800, 0.05, 0.04, "square", t_eval=T)
    np.testing.assert_allclose(tr.a, a, rtol=1e-6)
    np.testing.assert_allclose(tr.b, b, rtol=1e-6)
    invariant = 0.05 * a**2 - 0.04 * b**2
    np.testing.assert_allclose(invariant, invariant[0], rtol=1e-9)


def test_square_law_survivors_and_winner():
    assert L.square_law_survivors(1000, 800, 0.05, 0.05) == pytest.approx((600.0, 0.0))
    assert L.square_law_survivors(100, 100, 0.01, 0.04) == pytest.approx((0.0, np.sqrt(7500)))
    tr = L.solve(1000, 800, 0.05, 0.05, "square")
    assert tr.winner() == "A"
    assert tr.a[-1] == pytest.approx(600.0, rel=1e-5)
    # Annihilation time from the closed form: tanh(g t) = B0 / A0 * sqrt(beta/alpha).
    assert tr.end_time == pytest.approx(np.arctanh(0.8) / 0.05, rel=1e-5)


def test_linear_law_closed_form_matches_ode_and_conserves_invariant():
    a, b = L.linear_law(T, 1000, 800, 0.0003, 0.0002)
    tr = L.solve(1000, 800, 0.0003, 0.0002, "linear", t_eval=T)
    np.testing.assert_allclose(tr.a, a, rtol=1e-6)
    np.testing.assert_allclose(tr.b, b, rtol=1e-6)
    np.testing.assert_allclose(0.0003 * a - 0.0002 * b, 0.0003 * 1000 - 0.0002 * 800, rtol=1e-9)


def test_linear_law_equal_fighting_strength_branch():
    a, b = L.linear_law(T, 100, 100, 0.01, 0.01)
    tr = L.solve(100, 100, 0.01, 0.01, "linear", t_eval=T)
    np.testing.assert_allclose(tr.a, a, rtol=1e-6)
    np.testing.assert_allclose(a, 100 / (1 + T), rtol=1e-12)


def test_logarithmic_law_with_reinforcement_matches_closed_form():
    # dA/dt = -beta A + r has A(t) = r/beta + (A0 - r/beta) exp(-beta t).
    tr = L.solve(500, 400, 0.02, 0.05, "logarithmic", t_eval=T, reinforce_a=10.0)
    np.testing.assert_allclose(tr.a, 200 + 300 * np.exp(-0.05 * T), rtol=1e-6)
    np.testing.assert_allclose(tr.b, L.logarithmic_law(T, 500, 400, 0.02, 0.05)[1], rtol=1e-6)


def test_mixed_law_conserves_parabolic_invariant():
    # Aimed fire on A, area fire on B: beta B - alpha A^2 / 2 is constant.
    tr = L.solve(300, 2000, 0.0001, 0.01, "mixed", t_eval=T)
    invariant = 0.01 * tr.b - 0.0001 * tr.a**2 / 2
    np.testing.assert_allclose(invariant, invariant[0], rtol=1e-6)


def test_helmbold_reduces_to_square_and_logarithmic():
    for w, law in ((1.0, "square"), (0.0, "logarithmic")):
        h = L.solve(1000, 800, 0.05, 0.04, "helmbold", helmbold_w=w, t_eval=T)
        ref = L.solve(1000, 800, 0.05, 0.04, law, t_eval=T)
        np.testing.assert_allclose(h.a, ref.a, rtol=1e-6)
    mid = L.solve(1000, 800, 0.05, 0.04, "helmbold", helmbold_w=0.5, t_eval=T)
    assert not np.allclose(mid.a, ref.a)


def test_reinforcement_schedule_changes_outcome():
    base = L.solve(1000, 800, 0.05, 0.05, "square")
    helped = L.solve(1000, 800, 0.05, 0.05, "square",
                     reinforce_b=L.step_schedule([0.0, 5.0], [0.0, 60.0]))
    assert base.winner() == "A" and helped.winner() == "B"


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="unknown law"):
        L.solve(1, 1, 1, 1, "cubic")
    with pytest.raises(ValueError, match="helmbold_w"):
        L.solve(1, 1, 1, 1, "helmbold")
    with pytest.raises(ValueError, match="Helmbold weight"):
        L.helmbold_exponents(1.5)


def _gillespie_win_fraction(m, n, alpha, beta, runs, seed):
    """Event-by-event simulation of the stochastic square law, independent of Brown."""
    rng = np.random.default_rng(seed)
    wins = 0
    for _ in range(runs):
        i, j = m, n
        while i > 0 and j > 0:
            if rng.random() < alpha * i / (alpha * i + beta * j):
                j -= 1
            else:
                i -= 1
        wins += j == 0
    return wins / runs


@pytest.mark.parametrize("m,n,alpha,beta", [(10, 8, 1.0, 1.0), (12, 5, 1.0, 5.0),
                                            (3, 7, 2.0, 0.5)])
def test_brown_recursion_matches_event_simulation(m, n, alpha, beta):
    runs = 20000
    p = L.brown_win_probability(m, n, alpha, beta)
    se = np.sqrt(p * (1 - p) / runs)
    assert abs(_gillespie_win_fraction(m, n, alpha, beta, runs, seed=m * 100 + n) - p) < 3 * se


def test_brown_symmetry_and_large_case():
    assert L.brown_win_probability(500, 500, 1.0, 1.0) == pytest.approx(0.5, abs=1e-9)
    p, q = L.brown_win_probability(7, 4, 1.0, 2.0), L.brown_win_probability(4, 7, 2.0, 1.0)
    assert p + q == pytest.approx(1.0)
    # With large armies the stochastic winner is the deterministic one, but not surely
    # when the square-law strengths are close (400^2 against 1.5 x 300^2).
    assert L.brown_win_probability(400, 300, 1.0, 1.0) > 0.999
    assert 0.9 < L.brown_win_probability(400, 300, 1.0, 1.5) < 0.99
