"""Force generation: pools, recruitment, training pipeline, refills, sustainability."""

import numpy as np
import pytest
from helpers import side_series

from sim import AttritionModel, run
from sim.config import ContingentConfig, RecruitmentStep, Tranche
from sim.docking import stock_and_flow_scenario
from sim.forcegen import Pipelines, recruitment_rate, stock_and_flow, training_level


def test_recruitment_forms_and_tranches():
    constant = Pipelines([ContingentConfig(pool=100, recruits_per_day=2.5)], 90.0)
    assert [int(constant.recruit(day)[0]) for day in range(1, 5)] == [2, 3, 2, 3]
    depleting = ContingentConfig(pool=100, recruitment="depleting", recruits_per_day=10.0,
                                depletion_exponent=2.0)
    assert recruitment_rate(depleting, 1, 50.0, 100.0) == pytest.approx(2.5)
    schedule = ContingentConfig(pool=100, recruitment="schedule", schedule=[
        RecruitmentStep(day=10, recruits_per_day=4.0),
        RecruitmentStep(day=3, recruits_per_day=1.0)])
    assert [recruitment_rate(schedule, d, 100, 100) for d in (1, 3, 9, 10)] == [0, 1, 1, 4]
    drafted = Pipelines([ContingentConfig(pool=120, tranches=[Tranche(day=2, persons=100),
                                                             Tranche(day=3, persons=100)])], 90.0)
    assert [int(drafted.recruit(d)[0]) for d in (1, 2, 3, 4)] == [0, 100, 20, 0]
    assert drafted.pool[0] == 0 and drafted.in_training[0] == 120


def test_cohorts_graduate_after_their_training_with_its_level():
    pipes = Pipelines([ContingentConfig(pool=50, recruits_per_day=5.0, training_days=10.0,
                                       base_training_level=0.3)], 90.0)
    for day in range(1, 12):
        pipes.recruit(day)
        persons, days_sum, level_sum = pipes.graduate(day)
        assert persons[0] == (5 if day == 11 else 0)
    assert days_sum[0] == pytest.approx(50.0)
    assert level_sum[0] / 5 == pytest.approx(float(training_level(10.0, 0.3, 90.0)))


def test_refill_goes_to_the_neediest_units_and_blends_training():
    scenario = stock_and_flow_scenario(200, 0.0, 30, 0, 300, unit_size=50, max_days=3)
    scenario = scenario.with_overrides({"attacker": {"contingents": {"homogeneous": {
        "training_days": 0.0, "base_training_level": 0.1, "refill_below_strength": 0.9}}}})
    model = AttritionModel(scenario, rng=0)
    units = model.units
    attackers = np.flatnonzero(units["side"] == 0)
    units["personnel"][attackers[:3]] = [20, 40, 46]  # 40% and 80% are below 90%; 92% is not
    level_before = units["training_level"][attackers[0]]
    model.step()  # 30 graduates, untrained: 30 to the weakest unit first, then none left
    assert units["personnel"][attackers[:3]].tolist() == [50, 40, 46]
    expected = (20 * level_before + 30 * 0.1) / 50
    assert units["training_level"][attackers[0]] == pytest.approx(expected)
    model.step()  # the next 30: 10 fill the 40-strong unit; the 92% unit needs none
    assert units["personnel"][attackers[:3]].tolist() == [50, 50, 46]
    assert model.reserve[0] == 20


def test_line_strength_and_pool_exhaustion_match_the_stock_and_flow_answer():
    """Combat replaced by a fixed 2% daily loss: the mean line strength over replicates
    follows the analytic answer within 3 SE (and the band is under 2%), and the pool
    runs out on the predicted day in every run."""
    days = 60
    scenario = stock_and_flow_scenario(1000, 0.02, 10, 14, 300, max_days=days)
    line, pool_left, exhausted = stock_and_flow(np.arange(days + 1), 1000, 0.02, 10, 14, 300)
    series = []
    for seed in range(50):
        model = AttritionModel(scenario, rng=seed)
        model.run()
        assert model.summary()["attacker_pool_exhausted_day"] == exhausted == 30
        np.testing.assert_array_equal(side_series(model, "pool")[:, 0], pool_left)
        series.append(side_series(model)[:, 0])
    series = np.array(series)
    mean = series.mean(axis=0)
    se = series.std(axis=0, ddof=1) / np.sqrt(len(series))
    assert np.all(3 * se[1:] < 0.02 * line[1:])
    assert np.all(np.abs(mean - line) <= 3 * se + 1e-9)


def test_sustainability_summary():
    scenario = stock_and_flow_scenario(1000, 0.02, 10, 14, 1000, max_days=40)
    result = run(scenario, seed=3)
    s = result.summary
    assert s["attacker_pool_exhausted_day"] is None
    # 10 recruits a day from 1,000: 600 left after 40 days, gone on day 100.
    assert s["attacker_projected_exhaustion_day"] == pytest.approx(100.0)
    assert s["attacker_mean_daily_recruits"] == pytest.approx(10.0)
    side = result.daily[(result.daily["side"] == "attacker")
                        & (result.daily["contingent"] == "all")]
    assert s["attacker_mean_daily_permanent_losses"] == pytest.approx(
        (side["killed"].sum() + side["permanently_lost"].sum()) / 40)
    assert s["attacker_break_even_recruitment"] == pytest.approx(
        side["killed"].iloc[-30:].sum() / 30)
    assert s["defender_pool_exhausted_day"] is None
    assert s["defender_projected_exhaustion_day"] is None
