"""Stylised facts from the brief, each over fixed-seed replicates.

Each test compares two arms run on the same seeds and asserts that the difference has
the expected sign and exceeds 3 standard errors of the difference (about one chance
in 700 of passing by luck when there is no effect).
"""

import numpy as np
import pytest
from helpers import mean_and_se, replicate_summaries

from sim import Scenario

SEEDS = range(30)
BASE = Scenario(max_days=8)


def _assert_greater(high: np.ndarray, low: np.ndarray):
    (m_high, se_high), (m_low, se_low) = mean_and_se(high), mean_and_se(low)
    diff, se = m_high - m_low, np.hypot(se_high, se_low)
    assert diff > 3 * se, f"{m_high:.4g} vs {m_low:.4g}: difference {diff:.3g}, SE {se:.3g}"


def _attacker_casualties(summary: dict) -> float:
    return summary["attacker_killed"] + summary["attacker_wounded"]


@pytest.mark.slow
def test_more_fortification_raises_attacker_loss_exchange_ratio():
    def ler(level):
        scenario = BASE.with_overrides({"sector": {"fortification_level": level}})
        return replicate_summaries(scenario, SEEDS, lambda s: s["loss_exchange_ratio"])

    _assert_greater(ler(0.9), ler(0.1))


@pytest.mark.slow
def test_denser_assaults_lose_more_per_attacker_to_area_fire():
    def area_losses_per_attacker(spacing_m):
        scenario = BASE.with_overrides({
            "tactics": {"human_wave": {"spacing_m": spacing_m}},
            "attacker": {"units": [dict(contingent="mobilised", count=40, personnel=30,
                                        tactic="human_wave")]}})
        return replicate_summaries(scenario, SEEDS,
                                   lambda s: s["attacker_casualties_area"] / 1200)

    _assert_greater(area_losses_per_attacker(3.0), area_losses_per_attacker(12.0))


@pytest.mark.slow
def test_training_helps_infiltration_more_than_a_human_wave():
    """Relative fall in casualties per attacker from long training, by tactic; the SE
    of each relative fall comes from the delta method."""
    def casualty_share(tactic, training_days):
        scenario = BASE.with_overrides({"attacker": {"units": [dict(
            contingent="mobilised", count=40, personnel=30, tactic=tactic,
            training_days=training_days, base_training_level=0.1)]}})
        return replicate_summaries(scenario, SEEDS, lambda s: _attacker_casualties(s) / 1200)

    def relative_fall(tactic):
        (m_lo, se_lo), (m_hi, se_hi) = (mean_and_se(casualty_share(tactic, d))
                                        for d in (0.0, 365.0))
        ratio = m_hi / m_lo
        return 1 - ratio, ratio * np.hypot(se_hi / m_hi, se_lo / m_lo)

    fall_infiltration, se_i = relative_fall("infiltration")
    fall_wave, se_w = relative_fall("human_wave")
    assert fall_wave > 0, "training should still help a human wave a little"
    assert fall_infiltration - fall_wave > 3 * np.hypot(se_i, se_w), (
        f"infiltration {fall_infiltration:.3f}, human wave {fall_wave:.3f}")


@pytest.mark.slow
def test_more_drones_raise_attacker_casualties():
    def casualties(drones):
        scenario = BASE.with_overrides({"defender": {"drones": drones}})
        return replicate_summaries(scenario, SEEDS, _attacker_casualties)

    _assert_greater(casualties(60), casualties(0))
