"""Force generation: pools, recruitment, training pipeline, refills, sustainability."""

import numpy as np
import pytest
from helpers import mean_and_se, side_series

from sim import AttritionModel, Scenario, run
from sim.config import ContingentConfig, RecruitmentStep, Tranche
from sim.docking import stock_and_flow_scenario
from sim.model.pipelines import Pipelines, recruitment_rate, stock_and_flow, training_level
from sim.model.units import IS_IN_SECTOR, STATES


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


def _refill_model(refill_below_strength: float) -> AttritionModel:
    """Four attacking units of 50 that take no losses, the first three set to 20, 40
    and 46; 30 untrained graduates a day from day 1."""
    scenario = stock_and_flow_scenario(200, 0.0, 30, 0, 300, unit_size=50, max_days=3)
    scenario = scenario.with_overrides({"attacker": {"contingents": {"homogeneous": {
        "training_days": 0.0, "base_training_level": 0.1,
        "refill_below_strength": refill_below_strength}}}})
    model = AttritionModel(scenario, rng=0)
    attackers = [unit for unit in model.unit_agents if unit.side == "attacker"]
    for unit, personnel in zip(attackers, [20, 40, 46], strict=False):
        unit.personnel = personnel
    return model


def test_refill_goes_to_the_neediest_units_and_blends_training():
    model = _refill_model(0.9)  # 40% and 80% are below 90%; 92% is not
    attackers = [unit for unit in model.unit_agents if unit.side == "attacker"][:3]
    level_before = attackers[0].training_level
    model.step()  # 30 graduates, untrained: 30 to the weakest unit first, then none left
    assert [unit.personnel for unit in attackers] == [50, 40, 46]
    expected = (20 * level_before + 30 * 0.1) / 50
    assert attackers[0].training_level == pytest.approx(expected)
    model.step()  # the next 30: 10 fill the 40-strong unit; the 92% unit needs none
    assert [unit.personnel for unit in attackers] == [50, 50, 46]
    assert model.reserve[0] == 20


def test_no_refill_below_a_threshold_of_zero():
    """The same units with refills switched off (threshold 0): nobody joins them, their
    training is unchanged, and the graduates wait in the reserve."""
    model = _refill_model(0.0)
    attackers = [unit for unit in model.unit_agents if unit.side == "attacker"][:3]
    levels = [unit.training_level for unit in attackers]
    model.step()
    model.step()
    assert [unit.personnel for unit in attackers] == [20, 40, 46]
    assert [unit.training_level for unit in attackers] == levels
    assert model.reserve[0] == 60


def test_line_strength_and_pool_exhaustion_match_the_stock_and_flow_answer():
    """Combat replaced by a fixed 2% daily loss: the mean line strength over replicates
    follows the analytic answer within 3 SE (and the band is under 2%), and the pool
    runs out on the predicted day in every run. The band is narrow enough to tell a
    2.5% daily loss from it."""
    days = 60
    scenario = stock_and_flow_scenario(1000, 0.02, 10, 14, 300, max_days=days)
    line, pool_left, exhausted = stock_and_flow(np.arange(days + 1), 1000, 0.02, 10, 14, 300)
    series = []
    for seed in range(50):
        model = AttritionModel(scenario, rng=seed)
        model.run()
        assert model.summary()["attacker_pool_exhausted_day"] == exhausted == 30
        daily = model.daily_records()
        np.testing.assert_array_equal(side_series(daily, "pool")[:, 0], pool_left)
        series.append(side_series(daily, "personnel")[:, 0])
    series = np.array(series)
    mean = series.mean(axis=0)
    se = series.std(axis=0, ddof=1) / np.sqrt(len(series))
    assert np.all(3 * se[1:] < 0.02 * line[1:])
    assert np.all(np.abs(mean - line) <= 3 * se + 1e-9)
    faster, _, _ = stock_and_flow(np.arange(days + 1), 1000, 0.025, 10, 14, 300)
    assert np.any(np.abs(mean - faster) > 3 * se)


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


def test_contingent_is_withdrawn_the_day_its_losses_pass_the_threshold():
    """A contingent with a 30% threshold leaves on the first day its killed and wounded
    pass 30% of all it deployed, and takes no further part in combat: none of its units
    is in the sector, so it neither fires nor is hit. Without a threshold, on the same
    seeds, its losses pass 30% as well but it stays and goes on fighting and losing."""
    def foreign(threshold: float | None, seed: int):
        scenario = Scenario(max_days=20).with_overrides({
            "combat": {"morale_enabled": False},
            "attacker": {"contingents": {"foreign": {"withdraw_at_loss_fraction": threshold}}}})
        model = AttritionModel(scenario, rng=seed)
        model.run()
        daily = model.daily_records()
        rows = daily[daily["contingent"] == "foreign"].set_index("day")
        share = (rows["killed_total"] + rows["wounded_total"]) / rows["personnel"].iloc[0]
        first_over = int(share[share > 0.3].index[0])
        assert share.loc[first_over - 1] <= 0.3
        events = model.events_frame()
        return model, rows.loc[first_over + 1:], first_over, events[
            events["kind"] == "contingent_withdrawn"]

    for seed in range(3):
        model, after, first_over, withdrawn = foreign(0.3, seed)
        assert withdrawn["contingent"].tolist() == ["foreign"]
        assert withdrawn["day"].tolist() == [first_over]
        assert len(after) > 0
        assert (after["personnel_fighting"] == 0).all()
        assert (after[["killed", "wounded"]] == 0).all().all()
        assert not any(IS_IN_SECTOR[STATES.index(unit.state)] for unit in model.unit_agents
                       if unit.contingent == "foreign")

        model, after, first_over, withdrawn = foreign(None, seed)
        assert withdrawn.empty and len(after) > 0
        assert (after["personnel_fighting"] > 0).all()
        assert after["killed"].sum() + after["wounded"].sum() > 0


def _sustained_front(attacker_contingent: dict, defender_artillery: float = 200.0,
                     days: int = 120) -> Scenario:
    """A long static fight: infiltrators close up and hold in contact with a fortified
    defence (no assault movement, no minefield, morale off), both sides replaced from
    pools by replacement recruitment."""
    return Scenario(max_days=days).with_overrides({
        "combat": {"substeps_per_day": 4, "morale_enabled": False},
        "sector": {"minefield_rows": 0},
        "tactics": {"infiltration": {"assault_speed_m_per_day": 0.0}},
        "attacker": {"units": [dict(contingent="mobilised", count=20, personnel=20,
                                    tactic="infiltration", training_days=60,
                                    base_training_level=0.1)],
                     "artillery_strikes_per_day": 100.0,
                     "contingents": {"mobilised": attacker_contingent}},
        "defender": {"units": [dict(contingent="brigade", count=20, personnel=20,
                                    tactic="fortified_defense", training_days=60)],
                     "artillery_strikes_per_day": defender_artillery,
                     "contingents": {"brigade": dict(pool=20000, recruitment="replacement",
                                                     recruits_per_day=40.0,
                                                     training_days=30.0)}}})


@pytest.mark.slow
def test_shortened_training_spirals_into_a_worse_exchange_late_in_a_long_fight():
    """Attacker training 60 days throughout, against cutting it to 7 days whenever its
    line is under 90% strength: over days 60-120 the second suffers a worse loss
    exchange ratio (difference > 3 SE over 10 seeds a side), while it keeps more people
    in the line (it fills faster, with weaker troops)."""
    fixed = dict(pool=20000, recruitment="replacement", recruits_per_day=40.0,
                 training_days=60.0, base_training_level=0.1)
    shortened = dict(fixed, shortened_training_days=7.0, shorten_below_strength=0.9)

    def later(contingent):
        ler, line = [], []
        for seed in range(10):
            model = AttritionModel(_sustained_front(contingent), rng=seed)
            model.run()
            daily = model.daily_records()
            sides = side_series(daily, "killed") + side_series(daily, "wounded")
            ler.append(sides[60:, 0].sum() / sides[60:, 1].sum())
            line.append(side_series(daily, "personnel_fighting")[60:, 0].mean())
        return mean_and_se(np.array(ler)), np.mean(line)

    ((ler_short, se_short), line_short), ((ler_fixed, se_fixed), line_fixed) = (
        later(shortened), later(fixed))
    assert ler_short - ler_fixed > 3 * np.hypot(se_short, se_fixed), (ler_short, ler_fixed)
    assert line_short > line_fixed


@pytest.mark.slow
def test_faster_losses_exhaust_the_pool_sooner():
    """Sweep the intensity of the fire the assault meets (defender artillery, strikes a
    day); with replacement recruitment the pool runs out sooner at every step (mean of 8
    seeds, each step more than 3 SE earlier). The day is the pool's exhaustion day, or
    its projection from the last 30 days where the run ended first."""
    def exhaustion(strikes):
        days = []
        for seed in range(8):
            scenario = _sustained_front(dict(pool=600, recruitment="replacement",
                                             recruits_per_day=40.0, training_days=30.0),
                                        defender_artillery=strikes)
            model = AttritionModel(scenario, rng=seed)
            model.run()
            days.append(model.summary()["attacker_projected_exhaustion_day"])
        return mean_and_se(np.array(days, dtype=float))

    results = [exhaustion(strikes) for strikes in (50.0, 150.0, 450.0, 1350.0)]
    for (slower, se_slower), (faster, se_faster) in zip(results[:-1], results[1:], strict=True):
        assert slower - faster > 3 * np.hypot(se_slower, se_faster), results


def test_tired_units_rotate_rest_and_return_and_the_routed_rally():
    """Over 12 seeds: with rotation below 50% strength, units leave the line (more than
    3 SE more rotations than without rotation, which gives none on any seed); units
    that left (rotated or routed) regain morale in the rear and return, more than 3 SE
    more often than when the rear gives no morale back (then none ever returns). An
    unconfigured contingent never rallies."""
    base = dict(pool=3000, recruits_per_day=60.0, training_days=5.0, return_morale=0.6,
                rear_morale_recovery_per_day=0.2)

    def counts(foreign: dict) -> tuple[np.ndarray, np.ndarray]:
        scenario = Scenario(max_days=25).with_overrides(
            {"attacker": {"contingents": {"foreign": foreign}}})
        rotated, returned = [], []
        for seed in range(12):
            model = AttritionModel(scenario, rng=seed)
            while model.running:
                model.step()
                events = model.events_frame()
                today = events.loc[(events["day"] == model.day)
                                   & (events["kind"] == "unit_rotated"), "unit_id"]
                agents = {unit.unique_id: unit for unit in model.unit_agents} if len(
                    today) else {}
                for unit_id in today:
                    # A rotated unit is out of the sector, in the rear, at the day's end.
                    assert agents[unit_id].state == "withdrawn"
                    assert agents[unit_id].cell is None
            events = model.events_frame()
            back = events[events["kind"] == "unit_returned"]
            left = events[events["kind"].isin(["unit_rotated", "unit_routed"])]
            assert set(back["unit_id"]) <= set(left["unit_id"])
            for _, unit in back.iterrows():  # each return follows the unit's leaving
                assert (left[left["unit_id"] == unit["unit_id"]]["day"] <= unit["day"]).any()
            assert not (back["contingent"] == "regulars").any()
            rotated.append(int((events["kind"] == "unit_rotated").sum()))
            returned.append(len(back))
        return np.array(rotated, dtype=float), np.array(returned, dtype=float)

    rotating, rotating_back = counts(dict(base, rotate_below_strength=0.5))
    fixed, fixed_back = counts(base)
    assert (fixed == 0).all()
    _assert_greater(rotating, fixed)
    _, never_back = counts(dict(base, rotate_below_strength=0.5,
                                rear_morale_recovery_per_day=0.0))
    assert (never_back == 0).all()
    _assert_greater(rotating_back, never_back)
    _assert_greater(fixed_back, never_back)  # routed units rally without rotation too


def _assert_greater(high: np.ndarray, low: np.ndarray):
    """The mean of ``high`` exceeds that of ``low`` by more than 3 standard errors of
    the difference."""
    (m_high, se_high), (m_low, se_low) = mean_and_se(high), mean_and_se(low)
    assert m_high - m_low > 3 * np.hypot(se_high, se_low), (m_high, se_high, m_low, se_low)


def test_new_units_form_from_the_reserve_and_join_the_fight():
    """With a new unit size, every 50 graduates form a unit that joins the fight;
    without one, the same graduates wait in the reserve and no unit forms."""
    scenario = stock_and_flow_scenario(200, 0.0, 25, 2, 200, unit_size=50, max_days=10)
    waiting = scenario.with_overrides({"attacker": {"contingents": {"homogeneous": {
        "refill_below_strength": 0.9}}}})
    model = AttritionModel(waiting, rng=0)
    model.run()
    assert not (model.events_frame()["kind"] == "unit_formed").any()
    assert len(model.agents) == 4 + 1 and model.reserve[0] == 200

    scenario = scenario.with_overrides({"attacker": {"contingents": {"homogeneous": {
        "new_unit_size": 50, "refill_below_strength": 0.9}}}})
    model = AttritionModel(scenario, rng=0)
    model.run()
    formed = model.events_frame().query("kind == 'unit_formed'")
    # 200 recruits graduate 25 a day from day 3; every 50 form a unit (the line is full).
    assert len(formed) == 4
    assert len(model.agents) == 4 + 4 + 1
    new = model.units["commit_day"] > 0
    assert (model.units["personnel"][new] == 50).all()
    assert all(model.unit_agents[i].state in ("advancing", "assaulting")
               for i in np.flatnonzero(new))
    assert all(model.unit_agents[i].cell is not None for i in np.flatnonzero(new))


def test_contingent_is_withdrawn_once_it_can_no_longer_be_replenished():
    """Withdrawn on the day pool, pipeline and reserve are all empty, and out of the
    fight after; without withdraw_when_exhausted, the same contingent stays and fights
    on (deterministic rules: one seed each)."""
    def attacker(withdraw: bool):
        scenario = stock_and_flow_scenario(200, 0.05, 50, 2, 100, unit_size=50, max_days=15)
        scenario = scenario.with_overrides({"attacker": {"contingents": {"homogeneous": {
            "withdraw_when_exhausted": withdraw}}}})
        model = AttritionModel(scenario, rng=0)
        model.run()
        side = model.daily_records().query("side == 'attacker' and contingent == 'all'")
        return model.events_frame().query("kind == 'contingent_withdrawn'"), side.set_index(
            "day")

    withdrawn, side = attacker(True)
    day = int(withdrawn["day"].iloc[0])
    stocks = ["pool", "in_training", "reserve"]
    assert (side.loc[day, stocks] == 0).all()
    assert (side.loc[day - 1, stocks] > 0).any()
    assert (side.loc[day + 1:, "personnel_fighting"] == 0).all()

    withdrawn, side = attacker(False)
    assert withdrawn.empty
    assert (side.loc[day, stocks] == 0).all()  # spent on the same day
    assert (side.loc[day + 1:, "personnel_fighting"] > 0).all()


@pytest.mark.parametrize("seed", range(20))  # on 5 of them a few wounded are left over
def test_a_side_whose_pipeline_will_form_units_is_not_broken_until_it_is_spent(seed):
    """The first line is wiped out on day 1, but recruits in training will form new units:
    the attack goes on. Once pool and pipeline are spent and the last units gone, the
    attacker is broken, long before max_days. Without new units (same seed), the
    attacker is broken on day 2, when the first line is gone."""
    scenario = stock_and_flow_scenario(50, 0.95, 20, 3, 200, unit_size=10, max_days=80)
    model = AttritionModel(scenario, rng=seed)
    model.run()
    assert model.summary()["stop_reason"] == "attacker_broken" and model.day <= 2
    assert not (model.events_frame()["kind"] == "unit_formed").any()

    scenario = scenario.with_overrides({"attacker": {"contingents": {"homogeneous": {
        "new_unit_size": 10}}}})
    model = AttritionModel(scenario, rng=seed)
    model.run()
    events = model.events_frame()
    formed = events[events["kind"] == "unit_formed"]
    assert len(formed) > 0 and formed["day"].min() > 2
    side = model.daily_records().query("side == 'attacker' and contingent == 'all'")
    assert side["personnel_fighting"].iloc[2] == 0  # the first line is gone on day 2
    assert model.summary()["stop_reason"] == "attacker_broken"
    assert formed["day"].max() <= model.day < 80  # the last unit may fall the day it forms


def test_morale_regained_in_tenths_reaches_a_threshold_of_eight_tenths():
    """0.1 added eight times falls short of 0.8 in floating point; a unit resting in the
    rear with that morale returns on the next day. One with seven tenths does not."""
    morale = 0.0
    for _ in range(8):
        morale = morale + 0.1
    assert morale < 0.8
    seven_tenths = 0.0
    for _ in range(7):
        seven_tenths = seven_tenths + 0.1

    def returns_on_day_one(morale: float) -> bool:
        scenario = Scenario(max_days=5).with_overrides({"attacker": {"contingents": {
            "foreign": dict(rotate_below_strength=0.1, return_morale=0.8,
                            rear_morale_recovery_per_day=0.1)}}})
        model = AttritionModel(scenario, rng=0)
        unit = model.unit_agents[0]
        assert unit.contingent == "foreign"
        unit.state = "withdrawn"  # resting in the rear
        unit.morale = morale
        model.step()
        events = model.events_frame()
        return bool(((events["kind"] == "unit_returned") & (events["day"] == 1)
                     & (events["unit_id"] == unit.unique_id)).any())

    assert returns_on_day_one(morale)
    assert not returns_on_day_one(seven_tenths)


def test_a_sector_contingent_recruits_by_its_bonus_given_by_date():
    """The recruiting lever in a sector scenario: a bonus four times the reference from a
    date (day 10), with elasticity 0.5, doubles a constant recruitment from that day."""
    import datetime

    from sim import AttritionModel
    from sim.scenarios import load

    scenario = load("recruit_pool_exhaustion").with_overrides({
        "start_date": datetime.date(2024, 1, 1), "max_days": 20})
    contingent = next(iter(scenario.attacker.contingents))
    base = scenario.attacker.contingents[contingent]
    raised = scenario.with_overrides({"attacker": {"contingents": {contingent: {
        "recruitment": "constant", "recruits_per_day": 10.0, "bonus_elasticity": 0.5,
        "bonus": [{"day": datetime.date(2024, 1, 11), "multiple": 4.0}],
        "pool": max(base.pool, 10_000)}}}})
    model = AttritionModel(raised, rng=0)
    model.run()
    recruited = model.pipelines.recruited_total[model.contingents.index(
        ("attacker", contingent))]
    assert recruited == 10 * 9 + 20 * 11  # days 1-9 at 10, days 10-20 (from 11 January) at 20
