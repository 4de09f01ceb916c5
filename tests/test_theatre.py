"""The theatre (sim/theatre): conservation across sectors and force categories, the
national stock and flow against its closed form, and the allocation policy."""

from __future__ import annotations

import copy
import datetime

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.model.pipelines import stock_and_flow
from sim.sides import SIDES
from sim.theatre import TheatreModel, TheatreScenario
from sim.theatre.battalions import LINE, NOWHERE, REAR
from sim.theatre.config import EXAMPLE
from sim.theatre.records import CONTINGENT_COLUMNS

START = datetime.date(2023, 1, 1)


def _side(contingents, **fields):
    return {"contingents": contingents, **fields}


@st.composite
def theatres(draw):
    """Random theatres: 1-4 sectors of any kind, 1-3 force categories a side with any
    recruitment form, drafts, trained groups, service terms, casualty shares, rotation,
    restrictions to sectors and surplus rule."""
    n_sectors = draw(st.integers(1, 4))
    sectors = []
    for i in range(n_sectors):
        sides = {}
        for side in SIDES:
            sides[side] = {
                "artillery_strikes_per_km_per_day": draw(st.floats(0, 500)),
                "drones_per_km": draw(st.floats(0, 20)),
                "target_persons_per_km": draw(st.sampled_from([0.0, 50.0, 200.0, 800.0])),
                "intensity": draw(st.floats(0, 3)),
                "tempo": [{"day": draw(st.integers(0, 30)), "intensity": draw(st.floats(0, 3))}
                          for _ in range(draw(st.integers(0, 2)))]}
        sectors.append({"name": f"s{i}", "kind": draw(st.sampled_from(["active", "holding",
                                                                      "quiet"])),
                        "frontage_km": draw(st.floats(1, 60)),
                        "fortification_level": draw(st.floats(0, 1)),
                        "mines_per_km2": draw(st.floats(0, 3000)),
                        "contact_share": draw(st.floats(0, 1)), **sides})
    for side in SIDES:  # each side holds at least its first sector
        sectors[0][side]["target_persons_per_km"] = 300.0
    names = [s["name"] for s in sectors]
    data = {"start_date": START, "max_days": draw(st.integers(5, 40)), "sectors": sectors}
    for side, tactic in zip(SIDES, ("human_wave", "fortified_defense"), strict=True):
        contingents = {}
        for k in range(draw(st.integers(1, 3))):
            form = draw(st.sampled_from(["constant", "depleting", "replacement", "schedule"]))
            contingents[f"c{k}"] = {
                "tactic": tactic, "pool": draw(st.integers(0, 20_000)), "recruitment": form,
                "recruits_per_day": draw(st.floats(0, 400)),
                "schedule": [{"day": 3, "recruits_per_day": draw(st.floats(0, 300))}],
                "tranches": [{"day": draw(st.integers(1, 10)),
                              "persons": draw(st.integers(1, 3000))}],
                "reinforcements": [{"day": draw(st.integers(1, 10)),
                                    "persons": draw(st.integers(1, 2000)),
                                    "training_days": 30}],
                "bonus": [{"day": 2, "multiple": draw(st.floats(0.5, 3))}],
                "bonus_elasticity": draw(st.floats(0, 2)),
                "training_days": draw(st.sampled_from([0.0, 3.0, 20.0])),
                "shortened_training_days": draw(st.sampled_from([None, 1.0])),
                "unit_size": draw(st.integers(20, 600)),
                "in_line_at_start": draw(st.integers(0, 8000)),
                "refill_below_strength": draw(st.floats(0, 1)),
                "service_term_days": draw(st.sampled_from([None, 3, 15])),
                "killed_fraction": draw(st.sampled_from([None, 0.1, 1.0])),
                "return_to_duty_fraction": draw(st.sampled_from([None, 0.0, 0.9])),
                "sectors": draw(st.sampled_from([None, [names[0]]]))}
        data[side] = _side(contingents,
                           return_delay_days=draw(st.integers(1, 20)),
                           rotate_below_strength=draw(st.floats(0, 1)),
                           rest_days=draw(st.integers(0, 5)),
                           return_at_strength=draw(st.floats(0.1, 1)),
                           surplus=draw(st.sampled_from(["spread", "reserve"])),
                           fixed_daily_loss_fraction=draw(st.sampled_from([None, 0.05])))
    return TheatreScenario.model_validate(data)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=theatres(), seed=st.integers(0, 2**32 - 1))
def test_people_are_conserved_per_category_and_across_sectors(scenario, seed):
    """Every day, for every force category: pool + training + reserve + battalions + care
    + killed + permanently lost + released is what it had at the start; the sectors'
    lines add up to the categories' lines; battalions in the line stand in a kilometre
    cell of their sector, of a sector their category may go to; no count is negative."""
    model = TheatreModel(scenario, rng=seed)
    start = model.conservation_totals().copy()
    expected = [c.pool + c.in_line_at_start
                for side in SIDES for c in getattr(scenario, side).contingents.values()]
    assert start.tolist() == expected
    cells = np.array(scenario.cells())
    first = np.concatenate([[0], np.cumsum(cells)[:-1]])
    while model.running:
        model.step()
        assert model.conservation_totals().tolist() == expected
        battalions = model.battalions
        assert (battalions["personnel"] >= 0).all()
        line = battalions["state"] == LINE
        sector = battalions["sector"][line]
        assert (sector >= 0).all()
        offset = battalions["front_cell"][line] - first[sector]
        assert ((offset >= 0) & (offset < cells[sector])).all()
        assert model.forces.allowed[battalions["contingent"][line], sector].all()
        assert (battalions["sector"][~line] == NOWHERE).all()
        records = model.records.contingent_array()[-1]
        assert (records >= 0).all()
        by_sector = model.records._sector[model.day, :, :, 0].sum(axis=0)
        in_line = model.records.side_series("in_line")[-1]
        assert by_sector.tolist() == in_line.tolist()


def _closed_form_theatre(loss_fraction, recruits_per_day, training_days, pool, line0):
    """Three sectors of different lengths, each losing a fixed share of its line a day;
    one category a side; every graduate refills the line the day it graduates."""
    sectors = [{"name": name, "kind": kind, "frontage_km": km,
                "attacker": {"target_persons_per_km": 100.0},
                "defender": {"target_persons_per_km": 100.0}}
               for name, kind, km in (("a", "active", 10), ("b", "holding", 30),
                                      ("c", "quiet", 60))]
    side = {"fixed_daily_loss_fraction": loss_fraction, "killed_fraction": 1.0,
            "rotate_below_strength": 0.0}
    return TheatreScenario.model_validate({
        "start_date": START, "max_days": 120, "sectors": sectors,
        "attacker": {**side, "contingents": {"contract": {
            "tactic": "human_wave", "pool": pool, "recruits_per_day": recruits_per_day,
            "training_days": training_days, "unit_size": 500, "in_line_at_start": line0,
            "refill_below_strength": 1.0}}},
        "defender": {**side, "contingents": {"mobilised": {
            "tactic": "fortified_defense", "unit_size": 500, "in_line_at_start": 20_000}}}})


def test_national_stock_and_flow_follows_its_closed_form():
    """With a fixed daily loss share in every sector and constant recruitment through
    training, the national line is ``sim.model.pipelines.stock_and_flow``'s (a geometric
    sum in closed form): the mean over 8 replicates lies within 4 standard errors of it
    on every tenth day, and the pool and recruits in training are exact."""
    f, r, T, pool, line0 = 0.01, 300, 20, 300 * 90, 100_000
    scenario = _closed_form_theatre(f, r, T, pool, line0)
    days = np.arange(scenario.max_days + 1)
    expected, pool_left, _ = stock_and_flow(days, line0, f, r, T, pool)
    lines = []
    for seed in range(8):
        model = TheatreModel(scenario, rng=seed)
        model.run()
        lines.append(model.records.side_series("in_line")[:, 0])
        assert model.records.side_series("pool")[:, 0].tolist() == pool_left.tolist()
        in_training = model.records.side_series("in_training")[:, 0]
        recruited_days = np.minimum(days, pool // r)
        graduated_days = np.clip(days - T, 0, pool // r)
        assert in_training.tolist() == (r * (recruited_days - graduated_days)).tolist()
    lines = np.array(lines, dtype=float)
    mean, se = lines.mean(axis=0), lines.std(axis=0, ddof=1) / np.sqrt(len(lines))
    checked = days[10::10]
    assert np.all(np.abs(mean[checked] - expected[checked]) <= 4 * se[checked] + 1e-9), (
        mean[checked] - expected[checked], se[checked])
    # The loss share matters: the line is far below where it would be without losses.
    assert mean[-1] < 0.5 * line0


def _allocation_theatre(battalions, surplus="spread", foreign=0):
    sectors = [{"name": "north", "kind": "holding", "frontage_km": 10,
                "attacker": {"target_persons_per_km": 100.0},
                "defender": {"target_persons_per_km": 50.0}},
               {"name": "south", "kind": "active", "frontage_km": 10,
                "attacker": {"target_persons_per_km": 300.0},
                "defender": {"target_persons_per_km": 50.0}}]
    contingents = {"contract": {"tactic": "human_wave", "unit_size": 500,
                                "in_line_at_start": 500 * battalions}}
    if foreign:
        contingents["foreign"] = {"tactic": "human_wave", "unit_size": 500,
                                  "in_line_at_start": 500 * foreign, "sectors": ["north"]}
    return TheatreScenario.model_validate({
        "start_date": START, "max_days": 1, "sectors": sectors,
        "attacker": {"surplus": surplus, "contingents": contingents},
        "defender": {"contingents": {"brigades": {"tactic": "fortified_defense",
                                                  "unit_size": 500,
                                                  "in_line_at_start": 1000}}}})


def _attacker_line(model):
    battalions = model.battalions
    mine = (battalions["side"] == 0) & (battalions["state"] == LINE)
    return np.bincount(battalions["sector"][mine], weights=battalions["personnel"][mine],
                       minlength=2)


def test_allocation_sends_each_battalion_to_the_line_weakest_against_its_target():
    """Targets of 1,000 (north) and 3,000 (south) persons: eight battalions of 500 go
    one at a time to the sector whose line is the smallest share of its target (the
    first on a tie), which fills both exactly, two north and six south."""
    model = TheatreModel(_allocation_theatre(8), rng=0)
    assert _attacker_line(model).tolist() == [1000, 3000]
    order = model.battalions["sector"][:8].tolist()
    assert order == [0, 1, 1, 1, 0, 1, 1, 1]


def test_allocation_surplus_spreads_or_waits_and_a_category_keeps_to_its_sectors():
    """Beyond every target, surplus 'spread' keeps the lines in proportion to their
    targets and 'reserve' keeps the extra battalions in the rear; a category limited to
    the north goes nowhere else, even when the south is weaker against its target."""
    spread = TheatreModel(_allocation_theatre(16), rng=0)
    assert _attacker_line(spread).tolist() == [2000, 6000]
    held = TheatreModel(_allocation_theatre(10, surplus="reserve"), rng=0)
    assert _attacker_line(held).tolist() == [1000, 3000]
    assert (held.battalions["state"][:10] == REAR).sum() == 2
    foreign = TheatreModel(_allocation_theatre(0, foreign=4), rng=0)
    assert _attacker_line(foreign).tolist() == [2000, 0]


def test_the_same_seed_gives_the_same_theatre():
    scenario = TheatreScenario.model_validate(EXAMPLE)
    runs = []
    for _ in range(2):
        model = TheatreModel(scenario, rng=7)
        model.run()
        runs.append(model.daily_records())
    assert runs[0].equals(runs[1])
    assert set(CONTINGENT_COLUMNS) <= set(runs[0].columns)


@pytest.mark.parametrize(("change", "problem"), [
    (lambda d: d["sectors"].append(dict(d["sectors"][0])), "the name 'axis' is used twice"),
    (lambda d: d["attacker"]["contingents"]["contract"].update(tactic="fortified_defense"),
     "not a attacker tactic"),
    (lambda d: d["attacker"]["contingents"]["contract"].update(sectors=["nowhere"]),
     "no sector named 'nowhere'"),
    (lambda d: d["sectors"][0].update(frontage_km=4000) or d["sectors"][1].update(
        frontage_km=4000), "at most 5,000 km"),
    # Names land in CSV cells: nothing a spreadsheet would run as a formula.
    (lambda d: d["sectors"][0].update(name="=HYPERLINK(1)"), "should match pattern"),
    (lambda d: d["attacker"]["contingents"].update({"@cmd": {"tactic": "human_wave"}}),
     "'@cmd' is not a category name"),
])
def test_a_theatre_that_cannot_be_run_is_refused_in_one_line(change, problem):
    data = copy.deepcopy(EXAMPLE)
    change(data)
    with pytest.raises(ValueError, match=problem):
        TheatreScenario.model_validate(data)


def test_wounded_return_after_their_own_sides_delay_and_sides_rotate_by_their_own_rule():
    """All wounded return (none killed outright is impossible, so nearly all): those in
    care on a day are the wounded of the side's last ``return_delay_days`` days, 5 for
    the attacker and 20 for the defender, whatever the number of categories; the
    attacker rotates battalions below 95% of strength, the defender never."""
    data = copy.deepcopy(EXAMPLE)
    data["max_days"] = 40
    data["attacker"].update(return_delay_days=5, return_to_duty_fraction=1.0,
                            killed_fraction=0.01, rotate_below_strength=0.95, rest_days=0)
    data["attacker"]["contingents"]["second"] = {"tactic": "infiltration",
                                                 "in_line_at_start": 4000, "unit_size": 400}
    data["defender"].update(return_delay_days=20, return_to_duty_fraction=1.0,
                            killed_fraction=0.01, rotate_below_strength=0.0)
    model = TheatreModel(TheatreScenario.model_validate(data), rng=3)
    rotated = np.zeros(2, dtype=bool)
    while model.running:
        model.step()
        battalions = model.battalions
        rear = battalions["state"] == REAR
        rotated |= np.bincount(battalions["side"][rear & (battalions["rested_days"] <= 1)],
                               minlength=2) > 0
    wounded = model.records.side_series("wounded")
    in_care = model.records.side_series("in_care")
    for s, delay in ((0, 5), (1, 20)):
        days = np.arange(delay, model.day + 1)
        assert (in_care[days, s] == wounded[days, s] - wounded[days - delay, s]).all()
        assert wounded[-1, s] > 0
    assert rotated.tolist() == [True, False]


def test_a_change_takes_effect_on_its_day_and_not_before():
    """A thicker defender drone screen from day 11: the attacker's losses are those of
    the same seed without the change up to day 10, and higher after it."""
    data = copy.deepcopy(EXAMPLE)
    data["max_days"] = 30
    plain = TheatreModel(TheatreScenario.model_validate(data), rng=5)
    data["changes"] = [{"day": 11, "assign": {"sectors[*].defender.drones_per_km": 60.0}}]
    changed = TheatreModel(TheatreScenario.model_validate(data), rng=5)
    for model in (plain, changed):
        model.run()
    before = [m.records.side_series("wounded")[:11, 0] for m in (plain, changed)]
    assert before[0].tolist() == before[1].tolist()
    after = [np.diff(m.records.side_series("wounded")[10:, 0]).sum() for m in (plain, changed)]
    assert after[1] > 1.5 * after[0]
    assert changed.config.sectors[0].defender.drones_per_km == 60.0


@pytest.mark.parametrize(("assign", "problem"), [
    ({"sectors[0].frontage_km": 3.0}, "changes sectors\\[0\\].frontage_km"),
    ({"attacker.contingents.contract.pool": 5}, "changes attacker.contingents.contract.pool"),
    ({"max_days": 3}, "assign.max_days: fixed for the run"),
    ({"attacker.killed_fraction": 2.0}, "leaves attacker.killed_fraction invalid"),
    ({"sectors[9].cover": 0.2}, "assign.sectors\\[9\\].cover"),
])
def test_a_change_that_cannot_apply_is_refused_naming_its_key(assign, problem):
    data = copy.deepcopy(EXAMPLE)
    data["changes"] = [{"day": 5, "assign": assign}]
    with pytest.raises(ValueError, match=problem):
        TheatreScenario.model_validate(data)


@pytest.mark.parametrize("where", ["tranche", "bonus", "tempo", "change"])
def test_a_date_before_the_start_is_refused_wherever_it_is(where):
    """Every day-or-date of a theatre is checked against its start: a category's draft
    and bonus, a side's national tempo, a change."""
    data = copy.deepcopy(EXAMPLE)
    early = datetime.date(2022, 12, 1)
    contract = data["attacker"]["contingents"]["contract"]
    if where == "tranche":
        contract["tranches"] = [{"day": early, "persons": 10}]
    elif where == "bonus":
        contract["bonus"] = [{"day": early, "multiple": 2.0}]
    elif where == "tempo":
        data["defender"]["tempo"] = [{"day": early, "intensity": 2.0}]
    else:
        data["changes"] = [{"day": early, "assign": {"attacker.intensity": 2.0}}]
    with pytest.raises(ValueError, match="before start_date|changes\\[0\\].day: day -31"):
        TheatreScenario.model_validate(data)
