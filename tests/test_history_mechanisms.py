"""The mechanisms that let a scenario follow a battle's history, each against a control
arm: calendar dates, waves, tranches and reinforcements, service terms, withdrawal by the
persons committed and the return after rest, an objective, tempo, per-contingent killed
and returning shares, and the summary's edge cases.

Most cases are deterministic: nobody fires or moves (:func:`quiet`), or a side loses a
fixed daily share of its fighting personnel (``fixed_daily_loss_fraction``, everyone lost
killed), and the expected numbers follow from the rules exactly; a share of 1 kills a
side's whole line in the first sub-step. Where draws decide, the expectation is computed
from what the run recorded (the day the losses passed a threshold), or tested over fixed
seeds within three standard errors.
"""

from __future__ import annotations

import datetime
import math

import numpy as np
import pandas as pd
import pytest
from helpers import mean_and_se

from sim import AttritionModel, Scenario
from sim.docking import square_law_scenario
from sim.keypaths import deep_merge
from sim.model.pipelines import training_level
from sim.model.units import IS_FIGHTING, RESERVE
from sim.scenarios import ScenarioError, validate
from sim.sides import ATTACKER, DEFENDER

START = datetime.date(2024, 12, 6)
# No fire of any kind from a side.
SILENT = dict(aimed_kills_per_shooter_per_day=0.0, artillery_strikes_per_day=0.0, drones=0,
              area_strikes_per_person_per_day=0.0)
STILL = dict(advance_speed_m_per_day=0.0, assault_speed_m_per_day=0.0)


def date(day: int) -> datetime.date:
    """The date of day ``day`` of a run starting on START."""
    return START + datetime.timedelta(days=day)


def quiet(attacker_units: list[dict], contingents: dict | None = None, *, max_days: int = 20,
          loss: float | None = None, **top) -> Scenario:
    """Nobody fires (no aimed, organic, artillery or drone fire, no mines) and nobody
    moves; the attacker loses a fixed share ``loss`` of its fighting personnel a day if
    given (everyone lost killed); one defending unit of 10 that never loses anyone."""
    data = dict(
        max_days=max_days,
        sector=dict(width_cells=20, depth_cells=8, attacker_rows=2, defender_rows=3,
                    fortified_rows=1, minefield_rows=0, mines_per_cell=0.0),
        combat=dict(substeps_per_day=2, morale_enabled=False),
        tactics={t: STILL for t in ("human_wave", "fortified_defense")},
        attacker=dict(units=attacker_units, contingents=contingents or {}, killed_fraction=1.0,
                      fixed_daily_loss_fraction=loss, **SILENT),
        defender=dict(units=[dict(contingent="brigade", count=1, personnel=10,
                                  tactic="fortified_defense")], **SILENT))
    return Scenario.model_validate(data | top)


def group(count: int, personnel: int, contingent: str = "conscripts",
          tactic: str = "human_wave", **extra) -> dict:
    return dict(contingent=contingent, count=count, personnel=personnel, tactic=tactic,
                **extra)


def rows_of(model: AttritionModel, contingent: str) -> pd.DataFrame:
    """A contingent's daily records, indexed by day."""
    daily = model.daily_records()
    return daily[daily["contingent"] == contingent].set_index("day")


def side_rows(model: AttritionModel, side: str) -> pd.DataFrame:
    daily = model.daily_records()
    return daily[(daily["side"] == side) & (daily["contingent"] == "all")].set_index("day")


def events_of(model: AttritionModel, kind: str) -> pd.DataFrame:
    events = model.events_frame()
    return events[events["kind"] == kind]


def run_checked(model: AttritionModel, each_day=None) -> AttritionModel:
    """Run to the end, checking the conservation identity (pool + in training +
    personnel + reserve + in care + killed + permanently lost + released) every day, and
    calling ``each_day(model)`` after each step."""
    initial = model.conservation_totals().copy()
    while model.running:
        model.step()
        np.testing.assert_array_equal(model.conservation_totals(), initial)
        if each_day is not None:
            each_day(model)
    daily = model.daily_records()
    stocks = (daily["pool"] + daily["in_training"] + daily["personnel"] + daily["reserve"]
              + daily["in_care"] + daily["killed_total"] + daily["permanently_lost_total"]
              + daily["released_total"])
    assert (stocks.groupby([daily["side"], daily["contingent"]]).nunique() == 1).all()
    return model


def flows(rows: pd.DataFrame, column: str) -> dict[int, int]:
    """The days a daily flow was not zero, with its value."""
    return {int(day): int(value) for day, value in rows[column].items() if value}


# ------------------------------------------------------------------ 1. calendar
def test_records_events_and_summary_carry_the_date_of_each_day():
    """With a start_date, the daily records and the event log have a date column
    (start_date + day, ISO text) right after the day, and the summary an end_date;
    without one (same seed), no date column and no end date, and the same numbers."""
    base = Scenario(max_days=5).with_overrides({"sector": {"width_cells": 15}})
    dated = base.with_overrides({"start_date": START})
    model = AttritionModel(dated, rng=3)
    model.run()
    daily, events = model.daily_records(), model.events_frame()
    assert len(events) > 0
    for frame in (daily, events):
        assert list(frame.columns[:2]) == ["day", "date"]
        assert frame["date"].tolist() == [date(int(d)).isoformat() for d in frame["day"]]
    assert model.summary()["end_date"] == date(model.day).isoformat() == "2024-12-11"

    plain = AttritionModel(base, rng=3)
    plain.run()
    assert "date" not in plain.daily_records() and "date" not in plain.events_frame()
    assert plain.summary()["end_date"] is None
    pd.testing.assert_frame_equal(plain.daily_records(), daily.drop(columns="date"))
    pd.testing.assert_frame_equal(plain.events_frame(), events.drop(columns="date"))


def _calendar_scenario(commit=3, tranche=2, reinforcement=4, schedule=1, tempo=2) -> Scenario:
    """The reference battle, small, with a day or date for each kind of key: a group
    committed later, a schedule of recruitment, a tranche, a reinforcement (all forming
    new units of 10) and a tempo phase."""
    return Scenario(max_days=7, start_date=START).with_overrides({
        "sector": {"width_cells": 15}, "combat": {"substeps_per_day": 6},
        "attacker": {
            "units": [group(20, 30, "foreign", training_days=180.0),
                      group(4, 15, "regulars", tactic="infiltration", commit_day=commit)],
            "tempo": [{"day": tempo, "intensity": 0.5}],
            "contingents": {"foreign": dict(
                pool=500, recruitment="schedule", training_days=2.0, new_unit_size=10,
                schedule=[{"day": schedule, "recruits_per_day": 20.0}],
                tranches=[{"day": tranche, "persons": 50}],
                reinforcements=[{"day": reinforcement, "persons": 40,
                                 "training_days": 30.0}])}}})


def _outputs(scenario: Scenario, seed: int = 5):
    model = AttritionModel(scenario, rng=seed)
    model.run()
    return model.daily_records(), model.events_frame(), model.summary()


KINDS = ("commit", "tranche", "reinforcement", "schedule", "tempo")
DAY_NUMBERS = dict(commit=3, tranche=2, reinforcement=4, schedule=1, tempo=2)


def test_a_date_lands_on_the_day_of_the_same_number():
    """Every kind of key given as a date gives the very run (same seed) it gives as the
    equivalent day number."""
    numbers = _outputs(_calendar_scenario(**DAY_NUMBERS))
    dates = _outputs(_calendar_scenario(**{k: date(d) for k, d in DAY_NUMBERS.items()}))
    pd.testing.assert_frame_equal(numbers[0], dates[0])
    pd.testing.assert_frame_equal(numbers[1], dates[1])
    assert numbers[2] == dates[2]


@pytest.mark.parametrize("kind", KINDS)
def test_a_date_a_day_later_gives_another_run(kind):
    """Control arm of the test above: each date moved by one day changes the run, so
    the equality is not that of dates ignored."""
    days = dict(DAY_NUMBERS)
    numbers = _outputs(_calendar_scenario(**days))
    moved = _outputs(_calendar_scenario(**{k: date(d + (k == kind)) for k, d in days.items()}))
    assert not numbers[0].equals(moved[0])


def _refusal(data: dict) -> str:
    with pytest.raises(ScenarioError) as err:
        validate(data, "s.toml")
    message = str(err.value)
    assert "\n" not in message
    return message


DATED_KEYS = {
    "attacker.units[0].commit_day": lambda d, v: d["attacker"]["units"][0].update(
        commit_day=v),
    "attacker.units[0].until_day": lambda d, v: d["attacker"]["units"][0].update(
        every_days=30, until_day=v),
    "attacker.tempo[0].day": lambda d, v: d["attacker"].update(
        tempo=[{"day": v, "intensity": 0.5}]),
    "defender.contingents.brigade.schedule[0].day": lambda d, v: d["defender"].update(
        contingents={"brigade": {"schedule": [{"day": v, "recruits_per_day": 1.0}]}}),
    "attacker.contingents.foreign.tranches[0].day": lambda d, v: d["attacker"].update(
        contingents={"foreign": {"pool": 10, "tranches": [{"day": v, "persons": 5}]}}),
    "attacker.contingents.foreign.reinforcements[0].day": lambda d, v: d["attacker"].update(
        contingents={"foreign": {"pool": 10, "reinforcements": [{"day": v, "persons": 5}]}}),
}


@pytest.mark.parametrize("key", DATED_KEYS)
def test_a_date_without_start_date_or_before_it_is_refused_naming_the_key(key):
    """A date needs a start_date, and may not fall before it: refused in one line that
    names the key. The same date on or after the start date is accepted (control)."""
    data = Scenario(max_days=30).model_dump()
    DATED_KEYS[key](data, date(10))
    message = _refusal(data)
    assert f"s.toml: {key}: 2024-12-16 is a date but start_date is not set" in message

    data["start_date"] = START
    assert Scenario.model_validate(data).day_of(date(10)) == 10
    DATED_KEYS[key](data, date(-3))
    message = _refusal(data)
    assert f"s.toml: {key}: 2024-12-03 is day -3 of a run that starts on 2024-12-06" in message


DAY_KEYS = {
    "attacker.units[0].commit_day": (lambda d, v: d["attacker"]["units"][0].update(
        commit_day=v), -1),
    "attacker.tempo[0].day": (lambda d, v: d["attacker"].update(
        tempo=[{"day": v, "intensity": 0.5}]), -1),
    "defender.contingents.brigade.schedule[0].day": (lambda d, v: d["defender"].update(
        contingents={"brigade": {"schedule": [{"day": v, "recruits_per_day": 1.0}]}}), -1),
    "attacker.contingents.foreign.tranches[0].day": (lambda d, v: d["attacker"].update(
        contingents={"foreign": {"pool": 10, "tranches": [{"day": v, "persons": 5}]}}), 0),
}


@pytest.mark.parametrize("key", DAY_KEYS)
def test_a_day_number_out_of_range_is_refused_naming_its_key(key):
    """A day-or-date key given a day number below its least is refused in one line
    that names the key itself (as before dates were allowed), not a branch of its
    type, and does not offer 'none' for a key that cannot be none."""
    setter, low = DAY_KEYS[key]
    data = Scenario().model_dump()
    setter(data, low)
    message = _refusal(data)
    assert message.startswith(f"s.toml: {key}: "), message
    assert "or none" not in message, message


@pytest.mark.parametrize("kind", ["tranches", "reinforcements"])
def test_a_draft_on_the_start_date_is_refused_naming_its_key(kind):
    """A tranche or reinforcement dated on the start date is day 0, refused (drafts come
    from day 1) in one line that names the item's day, as a day number 0 does."""
    data = Scenario(start_date=START).model_dump()
    data["attacker"]["contingents"] = {"foreign": {"pool": 10, kind: [
        {"day": START, "persons": 5}]}}
    message = _refusal(data)
    assert f"s.toml: attacker.contingents.foreign.{kind}[0].day: " in message, message


# --------------------------------------------------------------------- 2. waves
def _wave_model(**waves) -> AttritionModel:
    """Conscripts of 2 units of 10 from day 2 in waves (``waves``); regulars, one unit of
    10, in the line from day 0. Dated from START."""
    return AttritionModel(quiet([group(2, 10, commit_day=2, **waves),
                                 group(1, 10, "regulars")], max_days=16, start_date=START),
                          rng=0)


def test_waves_enter_on_their_days_and_not_before():
    """every_days=5, waves=3 from day 2: the conscripts' units enter on days 2, 7 and
    12 exactly (their state leaves the reserve that day, not before) and the persons
    fighting step up by 20 on those days only."""
    model = _wave_model(every_days=5, waves=3)
    mine = model.units["contingent"] == model.contingents.index(("attacker", "conscripts"))
    commit_days = model.units["commit_day"][mine].copy()
    assert sorted(commit_days.tolist()) == [2, 2, 7, 7, 12, 12]
    states = {}

    def each_day(model):
        states[model.day] = model.units["state"][mine].copy()

    run_checked(model, each_day)
    for day, state in states.items():
        np.testing.assert_array_equal(state == RESERVE, commit_days > day, err_msg=str(day))
        assert IS_FIGHTING[state[commit_days <= day]].all()
    fighting = rows_of(model, "conscripts")["personnel_fighting"]
    expected = [20 * sum(day >= d for d in (2, 7, 12)) for day in fighting.index]
    assert fighting.tolist() == expected
    assert fighting.loc[1] == 0 and fighting.loc[2] == 20 and fighting.loc[16] == 60


@pytest.mark.parametrize("until_day", [12, 13, 14, date(12), date(14)])
def test_until_day_gives_the_same_waves_as_their_count(until_day):
    """until_day 12 (a wave day), 13 or 14, or their dates, allow the same three waves as
    waves=3: the very same run; until_day 11 allows only two (control)."""
    counted = _wave_model(every_days=5, waves=3)
    until = _wave_model(every_days=5, until_day=until_day)
    np.testing.assert_array_equal(counted.units["commit_day"], until.units["commit_day"])
    counted.run()
    until.run()
    pd.testing.assert_frame_equal(counted.daily_records(), until.daily_records())
    pd.testing.assert_frame_equal(counted.events_frame(), until.events_frame())
    fewer = _wave_model(every_days=5, until_day=11)
    mine = fewer.units["contingent"] == 0
    assert sorted(fewer.units["commit_day"][mine].tolist()) == [2, 2, 7, 7]


@pytest.mark.parametrize("fields", [dict(waves=3), dict(until_day=12),
                                    dict(every_days=5),
                                    dict(every_days=5, waves=3, until_day=12)])
def test_waves_need_every_days_and_one_limit(fields):
    """waves or until_day without every_days, every_days alone, or both limits at once:
    refused in one line naming the group's every_days."""
    data = Scenario().model_dump()
    data["attacker"]["units"][0].update(fields)
    assert "s.toml: attacker.units[0].every_days: " in _refusal(data)


# ------------------------------------------------------- 3. tranches and reinforcements
def _drafts(new_unit_size: int | None) -> AttritionModel:
    """A pool of 1,000: a tranche of 100 into 4 days' training on day 3, a reinforcement
    of 60 (30 days' training, their own base level 0.4) on day 5 and one of 5,000, more
    than the pool then holds (10 days' training, the contingent's base level 0.1), on day
    8. No recruitment otherwise, and units at full strength (no refills)."""
    contingent = dict(pool=1000, training_days=4.0, base_training_level=0.1,
                      new_unit_size=new_unit_size,
                      tranches=[dict(day=3, persons=100)],
                      reinforcements=[dict(day=5, persons=60, training_days=30.0,
                                           base_training_level=0.4),
                                      dict(day=8, persons=5000, training_days=10.0)])
    model = AttritionModel(quiet([group(2, 10)], {"conscripts": contingent}, max_days=12),
                           rng=0)
    return run_checked(model)


def test_tranches_and_reinforcements_arrive_on_their_days_and_not_before():
    """recruited, pool, in_training, graduated and reserve change on the drafts' days
    only; the second reinforcement brings the 840 the pool still holds, not 5,000."""
    rows = rows_of(_drafts(None), "conscripts")
    assert flows(rows, "recruited") == {3: 100, 5: 60, 8: 840}
    assert flows(rows, "graduated") == {5: 60, 7: 100, 8: 840}
    pool = [1000] * 3 + [900] * 2 + [840] * 3 + [0] * 5
    assert rows["pool"].tolist() == pool
    assert rows["in_training"].tolist() == [0] * 3 + [100] * 4 + [0] * 6
    assert rows["reserve"].tolist() == [0] * 5 + [60] * 2 + [160] + [1000] * 5
    assert (rows["personnel"] == 20).all()


def test_reinforcements_have_the_training_of_their_training_days():
    """Units formed (20 persons each) from each arrival have its training: the
    reinforcement of day 5 that of 30 days from base 0.4, the tranche graduating on day
    7 that of 4 days from the contingent's 0.1, the reinforcement of day 8 that of 10
    days from 0.1."""
    model = _drafts(20)
    units = model.units
    formed = events_of(model, "unit_formed")
    assert formed.groupby("day").size().to_dict() == {5: 3, 7: 5, 8: 42}
    for day, days, base in ((5, 30.0, 0.4), (7, 4.0, 0.1), (8, 10.0, 0.1)):
        rows = units["commit_day"] == day
        assert rows.sum() == {5: 3, 7: 5, 8: 42}[day]
        np.testing.assert_allclose(units["training_days"][rows], days)
        np.testing.assert_allclose(units["training_level"][rows],
                                   float(training_level(days, base, 90.0)))
        assert (units["personnel"][rows] == 20).all()


def test_new_units_form_only_on_assault_days():
    """10 untrained recruits a day, new units of 10 formed only every 5th day: the reserve
    gathers and 5 units form on days 5 and 10. Control arm: without new_units_every_days
    a unit forms every day."""
    def formed(every):
        contingent = dict(pool=100, recruits_per_day=10.0, training_days=0.0,
                          new_unit_size=10, new_units_every_days=every)
        model = run_checked(AttritionModel(quiet([group(2, 10)], {"conscripts": contingent},
                                                 max_days=12), rng=0))
        return (events_of(model, "unit_formed").groupby("day").size().to_dict(),
                rows_of(model, "conscripts")["reserve"].tolist())

    days, reserve = formed(5)
    assert days == {5: 5, 10: 5}
    assert reserve == [0, 10, 20, 30, 40, 0, 10, 20, 30, 40, 0, 0, 0]
    days, reserve = formed(None)
    assert days == {day: 1 for day in range(1, 11)} and not any(reserve)


# ------------------------------------------------------------- 4. service terms
def test_a_contingent_is_released_when_its_term_ends():
    """No losses: 100 persons in the line from day 0 and a wave of 30 on day 7, with a
    term of 10 days, are released 100 on day 10 and 30 on day 17, none on any other day;
    units emptied are disbanded. Control arm: without a term nobody is ever released."""
    def conscripts(term):
        contingent = {} if term is None else {"conscripts": dict(service_term_days=term)}
        model = AttritionModel(quiet([group(2, 50), group(1, 30, commit_day=7)],
                                     contingent, max_days=20), rng=0)
        return run_checked(model)

    model = conscripts(10)
    rows = rows_of(model, "conscripts")
    assert flows(rows, "released") == {10: 100, 17: 30}
    assert rows["released_total"].tolist() == [0] * 10 + [100] * 7 + [130]
    assert rows["personnel"].loc[9] == 130 and rows["personnel"].loc[17] == 0
    # With everyone gone home, the attacker is broken.
    assert (model.summary()["stop_reason"], model.day) == ("attacker_broken", 17)
    assert model.summary()["attacker_released"] == 130
    assert len(events_of(model, "unit_disbanded")) == 3

    model = conscripts(None)
    rows = rows_of(model, "conscripts")
    assert (rows["released_total"] == 0).all() and (rows["personnel"].iloc[1:] == 130).all()
    assert model.summary()["attacker_released"] == 0


def test_persons_who_join_by_refill_serve_their_own_term():
    """Term 5: 100 from day 0 and 100 from day 2 in four units of 50. On day 5 the
    first 100 leave (25 from each unit), and the same day a reinforcement of 100 refills
    the units to 50: those 100 are released on day 10, the day-2 wave's on day 7."""
    contingent = dict(pool=100, service_term_days=5, refill_below_strength=0.9,
                      reinforcements=[dict(day=5, persons=100, training_days=30.0)])
    model = AttritionModel(quiet([group(2, 50), group(2, 50, commit_day=2)],
                                 {"conscripts": contingent}, max_days=10), rng=0)
    model = run_checked(model)
    rows = rows_of(model, "conscripts")
    assert flows(rows, "released") == {5: 100, 7: 100, 10: 100}
    assert rows["personnel_fighting"].tolist() == [100, 100, 200, 200, 200, 200, 200, 100,
                                                   100, 100, 0]


def _split(count: int, sizes: list[int]) -> list[int]:
    """``count`` split over ``sizes`` in proportion (largest remainders, ties to the
    first): release_served's rule for the losses leaving the terms."""
    total = sum(sizes)
    count = min(count, total)
    if count <= 0:
        return [0] * len(sizes)
    exact = [size * (count / total) for size in sizes]
    taken = [math.floor(e) for e in exact]
    order = sorted(range(len(sizes)), key=lambda i: -(exact[i] - taken[i]))
    for i in order[:count - sum(taken)]:
        taken[i] += 1
    return taken


@pytest.mark.parametrize("seed", range(3))
def test_those_released_are_the_survivors_of_each_cohort(seed):
    """A fixed daily loss of 5% (all killed), term 8: 200 from day 0 and a wave of 100
    on day 4. Each day's losses (booked the next morning) leave the cohorts serving in
    proportion to their size; those released on days 8 and 12 are exactly what is left
    of the two cohorts, computed from the killed recorded each day."""
    term = 8
    model = AttritionModel(quiet([group(4, 50), group(2, 50, commit_day=4)],
                                 {"conscripts": dict(service_term_days=term)},
                                 max_days=16, loss=0.05), rng=seed)
    rows = rows_of(run_checked(model), "conscripts")
    killed = rows["killed"]
    assert killed.loc[1:12].sum() > 0
    cohorts = {0: 200}  # start day -> persons of it still serving, in the book
    due, expected = 0, {}
    for day in range(1, model.day + 1):
        # Yesterday's killed leave the terms, over the cohorts by slot and those due.
        starts = sorted(cohorts, key=lambda s: s % term)
        shares = _split(int(killed.loc[day - 1]), [cohorts[s] for s in starts] + [due])
        for start, share in zip(starts, shares, strict=False):
            cohorts[start] -= share
        due -= shares[-1]
        due += cohorts.pop(day - term, 0)
        expected[day], due = due, 0
        if day == 4:
            cohorts[4] = 100
    assert {d: n for d, n in expected.items() if n} == flows(rows, "released")
    assert set(flows(rows, "released")) == {8, 12}
    assert rows["released_total"].iloc[-1] + rows["killed_total"].iloc[-1] == 300 - rows[
        "personnel"].iloc[-1]


def test_those_in_care_when_their_term_ends_are_released_once_back():
    """Term 5 for 100 conscripts losing 10% a day (a quarter killed, the wounded all
    back after 21 days) beside regulars without a term. On day 5 all the conscripts in
    their units are released (their units disbanded); the wounded of days 1-4, in care
    then, are released on the day they are back (22-25), not returned to a unit. All
    but the killed are released. Control arm: without a term, the wounded go back to
    their units and nobody is released."""
    def conscripts(term):
        contingents = {"conscripts": dict(service_term_days=term)} if term else {}
        scenario = quiet([group(2, 50), group(20, 50, "regulars")], contingents,
                         max_days=27, loss=0.1).with_overrides({"attacker": {
                             "killed_fraction": 0.25, "return_to_duty_fraction": 1.0,
                             "return_delay_days": 21}})
        return rows_of(run_checked(AttritionModel(scenario, rng=1)), "conscripts")

    rows = conscripts(5)
    wounded = rows["wounded"]
    assert wounded.loc[1:4].min() > 0
    expected = {5: int(rows.loc[4, "personnel"])}
    expected |= {day + 21: int(wounded.loc[day]) for day in range(1, 5)}
    assert flows(rows, "released") == expected
    assert rows["released_total"].iloc[-1] == 100 - rows["killed_total"].iloc[-1]
    assert (rows.loc[5:, ["killed", "wounded"]] == 0).all().all()
    assert (rows.loc[5:, "personnel"] == 0).all() and (rows["reserve"] == 0).all()

    rows = conscripts(None)
    assert (rows["released_total"] == 0).all()
    assert (rows.loc[22:25, "returned"] > 0).all()


# -------------------------------------------------- 5. withdrawal and return
@pytest.mark.parametrize("seed", range(3))
def test_withdrawal_is_measured_on_the_persons_committed(seed):
    """100 in the line, a wave of 300 not due before day 30, a threshold of 30%, a fixed
    loss of 10% a day: withdrawn on the first day the killed pass 30, which the old rule
    (30% of all 400) never reaches. The same contingent without the unsent wave (same
    seed) is withdrawn on the same day."""
    def withdrawal(units):
        model = AttritionModel(quiet(units, {"conscripts": dict(withdraw_at_loss_fraction=0.3)},
                                     max_days=20, loss=0.1), rng=seed)
        run_checked(model)
        return model, events_of(model, "contingent_withdrawn")["day"].tolist()

    model, days = withdrawal([group(2, 50), group(6, 50, commit_day=30)])
    killed = rows_of(model, "conscripts")["killed_total"]
    assert days == [int(killed[killed > 30].index[0])]
    assert killed.max() <= 0.3 * 400  # the old rule would not have withdrawn it
    _, without_wave = withdrawal([group(2, 50)])
    assert without_wave == days


def _resting(**rule) -> Scenario:
    """100 in the line losing 10% a day (killed), withdrawn once the losses pass 20% of
    those committed; recruits 5 a day from a pool of 300, untrained, refilling units
    below full strength."""
    contingent = dict(pool=300, recruits_per_day=5.0, training_days=0.0,
                      refill_below_strength=1.0, withdraw_at_loss_fraction=0.2, **rule)
    return quiet([group(2, 50)], {"conscripts": contingent}, max_days=25, loss=0.1)


@pytest.mark.parametrize("seed", range(3))
def test_a_withdrawn_contingent_returns_after_its_rest_and_not_before(seed):
    """return_after_days=4: back exactly 4 days after its withdrawal (event
    contingent_returned, its units back at their start in the sector, fighting); while
    resting it neither fights nor loses anyone, but recruits and refills its units.
    Control arm (same seed): without a return rule it never returns, nor recruits."""
    model = run_checked(AttritionModel(_resting(return_after_days=4), rng=seed))
    rows = rows_of(model, "conscripts")
    withdrawn = events_of(model, "contingent_withdrawn")["day"].tolist()
    returned = events_of(model, "contingent_returned")["day"].tolist()
    w = withdrawn[0]
    assert returned[0] == w + 4
    rest = rows.loc[w + 1:w + 3]
    assert (rows.loc[w:w + 3, "personnel_fighting"] == 0).all()
    assert (rest["killed"] == 0).all()
    assert (rest["recruited"] == 5).all()
    # Recruits join the reserve and refill the resting units (below strength when
    # withdrawn): 5 more a day in units and reserve, in units first.
    held = rows["personnel"] + rows["reserve"]
    assert (held.loc[w:w + 3].diff().dropna() == 5).all()
    assert rows.loc[w, "personnel"] < 100 and rows.loc[w + 1, "personnel"] > rows.loc[
        w, "personnel"]
    assert rows.loc[w + 4, "personnel_fighting"] > 0

    back = AttritionModel(_resting(return_after_days=4), rng=seed)
    while back.day < w + 4:
        back.step()
    mine = back.units["personnel"] > 0
    mine &= back.units["side"] == ATTACKER
    assert IS_FIGHTING[back.units["state"][mine]].all()
    np.testing.assert_array_equal(back.units["y_m"][mine], back.units["y0_m"][mine])

    control = run_checked(AttritionModel(_resting(), rng=seed))
    assert events_of(control, "contingent_withdrawn")["day"].tolist() == [w]
    assert events_of(control, "contingent_returned").empty
    rows = rows_of(control, "conscripts")
    assert (rows.loc[w:, "personnel_fighting"] == 0).all()
    assert (rows.loc[w + 1:, "recruited"] == 0).all()


def _at_strength(reinforcement: int, seed: int) -> AttritionModel:
    """100 in the line losing 20% a day, withdrawn past 30% and back once units and
    reserve hold 95 of the 100; a pool of 100 and a reinforcement on day 12."""
    contingent = dict(pool=100, withdraw_at_loss_fraction=0.3, return_at_strength=0.95,
                      reinforcements=[dict(day=12, persons=reinforcement)])
    model = AttritionModel(quiet([group(2, 50)], {"conscripts": contingent}, max_days=16,
                                 loss=0.2), rng=seed)
    return run_checked(model)


@pytest.mark.parametrize("seed", range(3))
def test_a_contingent_returns_once_it_is_strong_again(seed):
    """return_at_strength=0.95: withdrawn within days, it returns on day 12, the day a
    reinforcement of 100 brings it back to strength, and not before. Control arm (same
    seed): a reinforcement of 10 leaves it short, and it never returns."""
    model = _at_strength(100, seed)
    rows = rows_of(model, "conscripts")
    w = events_of(model, "contingent_withdrawn")["day"].iloc[0]
    assert w < 12
    assert events_of(model, "contingent_returned")["day"].tolist()[:1] == [12]
    assert (rows.loc[:11, "personnel"] + rows.loc[:11, "reserve"]).loc[w:].max() < 95
    assert (rows.loc[w:11, "personnel_fighting"] == 0).all()
    assert rows.loc[12, "personnel_fighting"] > 0

    control = _at_strength(10, seed)
    assert events_of(control, "contingent_withdrawn")["day"].tolist() == [w]
    assert events_of(control, "contingent_returned").empty
    assert (rows_of(control, "conscripts").loc[w:, "personnel_fighting"] == 0).all()


def test_waves_wait_for_a_resting_contingent_and_keep_their_intervals():
    """Deterministic: the attacker's line is killed outright the day it enters (fixed
    loss 1), so the contingent (threshold 30%) is withdrawn at the end of each day a
    wave enters, and returns 3 days later. Waves due on days 3, 7 and 11 (every 4 days):
    withdrawn on day 1 and back on day 4, they are due 2, 6 and 10 days after the
    return (days 6, 10, 14); each later rest pushes those still to come by its length.
    Control arms: without a return rule no wave ever enters; without withdrawal the
    waves enter on days 3, 7 and 11."""
    def conscripts(**rule):
        model = AttritionModel(quiet([group(1, 10), group(1, 10, commit_day=3, every_days=4,
                                                          waves=3)],
                                     {"conscripts": rule}, max_days=25, loss=1.0), rng=0)
        commit_days = {}

        def each_day(model):
            commit_days[model.day] = sorted(model.units["commit_day"][
                model.units["side"] == ATTACKER].tolist())

        run_checked(model, each_day)
        return model, commit_days

    model, commit_days = conscripts(withdraw_at_loss_fraction=0.3, return_after_days=3)
    assert events_of(model, "contingent_withdrawn")["day"].tolist() == [1, 6, 13, 20]
    assert events_of(model, "contingent_returned")["day"].tolist() == [4, 9, 16]
    assert commit_days[3] == [0, 3, 7, 11]  # resting: the wave of day 3 waits
    assert commit_days[4] == [0, 6, 10, 14]  # back: 2, 6 and 10 days on, as before
    assert commit_days[9] == [0, 6, 13, 17]
    assert flows(rows_of(model, "conscripts"), "killed") == {1: 10, 6: 10, 13: 10, 20: 10}
    # The last wave falls on day 20 with no one left to come: the attacker is broken.
    assert model.summary()["stop_reason"] == "attacker_broken" and model.day == 20

    model, _ = conscripts(withdraw_at_loss_fraction=0.3)
    assert events_of(model, "contingent_returned").empty
    assert flows(rows_of(model, "conscripts"), "killed") == {1: 10}

    model, _ = conscripts()
    assert flows(rows_of(model, "conscripts"), "killed") == {1: 10, 3: 10, 7: 10, 11: 10}


# ----------------------------------------------------------------- 6. objective
def _advance(objective: float | None = None, loss: float | None = None) -> Scenario:
    """Two lanes of 100 m cells; the defender's ground is rows 1-4, held by one unit in
    lane 0. Two attacking units walk at 96 m a day (4 m a sub-step) from row 0; the one
    in lane 1 meets no one, takes a cell (50 m of mean advance) each time it enters a
    row, and breaks through at row 4 on day 4. Nobody fires."""
    return Scenario.model_validate(dict(
        max_days=6, objective=None if objective is None else dict(name="Town",
                                                                  ground_gained_m=objective),
        sector=dict(width_cells=2, depth_cells=5, attacker_rows=1, minefield_rows=0,
                    defender_rows=4, fortified_rows=1, mines_per_cell=0.0),
        combat=dict(substeps_per_day=24, morale_enabled=False),
        tactics={"human_wave": dict(advance_speed_m_per_day=96.0,
                                    assault_speed_m_per_day=96.0)},
        attacker=dict(units=[group(2, 20, "assault")], fixed_daily_loss_fraction=loss,
                      **SILENT),
        defender=dict(units=[dict(contingent="brigade", count=1, personnel=20,
                                  tactic="fortified_defense")], **SILENT)))


def test_taking_the_objective_ends_the_battle_in_the_sub_step_it_is_taken():
    """Objective at 100 m (two cells of the lane): the second cell is taken on day 2 in
    sub-step 13 (4 m x 38 sub-steps from 50 m reaches row 2 at 202 m); the run stops
    there, objective_taken, won by the attacker, its walker still at 202 m. Control arm:
    the same run without an objective walks on through that day to a breakthrough."""
    model = AttritionModel(_advance(100.0), rng=0)
    model.run()
    summary = model.summary()
    assert (summary["stop_reason"], summary["winner"], model.day) == ("objective_taken",
                                                                        "attacker", 2)
    assert summary["ground_gained_m"] == 100.0
    taken = events_of(model, "cell_taken")
    assert list(zip(taken["day"], taken["substep"], strict=True)) == [(1, 12), (2, 13)]
    walker = model.units["x"] == 1
    assert model.units["y_m"][walker & (model.units["side"] == ATTACKER)].tolist() == [202.0]

    control = AttritionModel(_advance(), rng=0)
    control.run()
    assert control.summary()["stop_reason"] == "breakthrough" and control.day == 4
    taken = events_of(control, "cell_taken")
    assert list(zip(taken["day"], taken["substep"], strict=True))[:2] == [(1, 12), (2, 13)]
    assert len(taken) == 4


def test_an_objective_left_undefended_is_taken():
    """The defender's line is killed outright in the first sub-step (fixed loss 1), with
    nothing to come: the objective (400 m, not reached) is taken at once, on day 1.
    Control arm: without an objective the attackers walk on to a breakthrough on day 4."""
    def end(objective):
        scenario = _advance(objective).with_overrides(
            {"defender": {"fixed_daily_loss_fraction": 1.0}})
        model = AttritionModel(scenario, rng=0)
        model.run()
        summary = model.summary()
        return summary["stop_reason"], summary["winner"], model.day, summary["ground_gained_m"]

    reason, winner, day, ground = end(400.0)
    assert (reason, winner, day) == ("objective_taken", "attacker", 1) and ground < 400
    assert end(None)[:3] == ("breakthrough", "attacker", 4)


def test_an_objective_deeper_than_the_defenders_ground_is_refused():
    """At most defender_rows x cell_size_m (400 m here): 400 is accepted, 400.5 refused
    in one line naming the key."""
    data = _advance(400.0).model_dump()
    data["objective"]["ground_gained_m"] = 400.5
    assert "s.toml: objective.ground_gained_m: 400.5 m is deeper" in _refusal(data)


# --------------------------------------------------------------------- 7. tempo
def _tempo(side: str | None, intensity: float, day: int = 3) -> Scenario:
    """The reference battle, small, with organic area fire besides aimed fire, artillery
    and drones on both sides, and no mines; ``side`` fights at ``intensity`` from
    ``day``."""
    scenario = Scenario(max_days=8).with_overrides({
        "sector": {"width_cells": 15, "mines_per_cell": 0.0},
        "combat": {"substeps_per_day": 6},
        "attacker": {"area_strikes_per_person_per_day": 0.05},
        "defender": {"area_strikes_per_person_per_day": 0.05}})
    if side is None:
        return scenario
    return scenario.with_overrides({side: {"tempo": [{"day": day, "intensity": intensity}]}})


@pytest.mark.parametrize("side", ["attacker", "defender"])
def test_a_side_at_intensity_zero_neither_takes_nor_inflicts_casualties(side):
    """From day 3 at intensity 0, neither side has a casualty (killed or wounded), on
    every day to the end; before, both have. Control arm (same seed, no tempo): both
    sides keep losing after day 3."""
    model = AttritionModel(_tempo(side, 0.0), rng=7)
    model.run()
    assert model.day == 8
    control = AttritionModel(_tempo(None, 1.0), rng=7)
    control.run()
    for s in ("attacker", "defender"):
        rows = side_rows(model, s)
        losses = rows["killed"] + rows["wounded"]
        assert losses.loc[1:2].sum() > 0
        assert (losses.loc[3:] == 0).all(), (s, losses.tolist())
        rows = side_rows(control, s)
        assert (rows["killed"] + rows["wounded"]).loc[3:].sum() > 0


def _minefield(tempo: list[dict]) -> Scenario:
    """Two lanes; sappers (mine clearance, 2 units of 20) walk into a dense minefield on
    day 1 and stop there to clear it; nobody fires."""
    return Scenario.model_validate(dict(
        max_days=4,
        sector=dict(width_cells=2, depth_cells=7, attacker_rows=1, minefield_rows=3,
                    defender_rows=3, fortified_rows=1, mines_per_cell=200.0),
        combat=dict(substeps_per_day=6, morale_enabled=False),
        attacker=dict(units=[group(2, 20, "sappers", "mine_clearance")], tempo=tempo,
                      **SILENT),
        defender=dict(units=[dict(contingent="brigade", count=1, personnel=20,
                                  tactic="fortified_defense")], **SILENT)))


def test_sappers_at_intensity_zero_take_no_casualties():
    """Intensity 0 is no fighting: sappers standing in a minefield from day 2 at
    intensity 0 lose no one to clearing mines (they move no more, so they clear no
    more). Control arm (same seed, no tempo): clearing costs them casualties on days
    2-4."""
    def mine_casualties(tempo):
        model = AttritionModel(_minefield(tempo), rng=0)
        model.step()
        assert model.combat.casualties_by_cause[ATTACKER].sum() > 0  # clearing on day 1
        before = model.combat.casualties_by_cause[ATTACKER].copy()
        model.run()
        return (model.combat.casualties_by_cause[ATTACKER] - before).tolist()

    assert sum(mine_casualties([])) > 0
    assert mine_casualties([{"day": 2, "intensity": 0.0}]) == [0, 0, 0, 0]


def test_tempo_variation_draws_a_gamma_intensity_of_the_phases_mean():
    """With tempo_variation 0.5 a day's intensity is the phase's (2 here) times a gamma
    draw of mean 1 and coefficient of variation 0.5: over 4,000 draws the mean is within
    3 SE of 2 and the coefficient of variation within 0.05 of 0.5. With none (0), no
    random number is drawn, so other runs keep theirs."""
    scenario = _tempo("attacker", 2.0, day=0).with_overrides(
        {"attacker": {"tempo_variation": 0.5}})
    model = AttritionModel(scenario, rng=0)
    draws = np.array([model.combat.tempo(ATTACKER, day) for day in range(4000)])
    mean, se = mean_and_se(draws)
    assert abs(mean - 2.0) < 3 * se
    assert abs(draws.std(ddof=1) / mean - 0.5) < 0.05
    state = model.rng.bit_generator.state
    assert model.combat.tempo(DEFENDER, 5) == 1.0
    assert model.rng.bit_generator.state == state


def test_intensity_two_doubles_a_sides_fire_and_exposure():
    """Deterministic: on a day at intensity 2 the attacker's aimed kill rates and
    exposure, and its artillery and drone hazard on the defender, are exactly twice
    those of the same run at intensity 1; the defender's own are unchanged."""
    def day_one(intensity):
        model = AttritionModel(_tempo("attacker", intensity, day=0), rng=1)
        model.step()
        return model.combat.engaged(fresh=True)

    (one, fire_one), (two, fire_two) = day_one(1.0), day_one(2.0)
    np.testing.assert_array_equal(one["index"], two["index"])
    attacking = one["side"] == ATTACKER
    for field in ("kill_rate", "exposure"):
        np.testing.assert_allclose(two[field][attacking], 2 * one[field][attacking])
        np.testing.assert_array_equal(two[field][~attacking], one[field][~attacking])
    for hazard in ("artillery_hazard", "drone_hazard"):
        np.testing.assert_allclose(getattr(fire_two, hazard)[DEFENDER],
                                   2 * getattr(fire_one, hazard)[DEFENDER])
        assert getattr(fire_two, hazard)[ATTACKER] == getattr(fire_one, hazard)[ATTACKER]


def test_intensity_two_roughly_doubles_the_casualty_rate():
    """Aimed fire only (square-law docking), 10,000 a side, 1% kills a shooter a day:
    a day's casualties are about 100 a side. With the attacker at intensity 2 it fires
    and is exposed twice as much, so both sides' casualties double (to within the 1%
    that depletion takes off in a day): over 30 seeds the mean is within 3 SE of twice
    the control's, and more than 3 SE from 1.5 times it."""
    base = square_law_scenario(10_000, 10_000, alpha=0.01, beta=0.01, unit_size=100,
                               substeps_per_day=12, max_days=1)
    doubled = base.with_overrides({"attacker": {"tempo": [{"day": 0, "intensity": 2.0}]}})

    def casualties(scenario):
        out = []
        for seed in range(30):
            model = AttritionModel(scenario, rng=seed)
            model.run()
            s = model.summary()
            out.append([s["attacker_killed"] + s["attacker_wounded"],
                        s["defender_killed"] + s["defender_wounded"]])
        return np.array(out, dtype=float)

    one, two = casualties(base), casualties(doubled)
    for side in (ATTACKER, DEFENDER):
        (m1, se1), (m2, se2) = mean_and_se(one[:, side]), mean_and_se(two[:, side])
        assert 90 < m1 < 110
        tolerance = 3 * np.hypot(se2, 2 * se1)
        assert abs(m2 - 2 * m1) < tolerance + 0.01 * m2, (side, m1, m2, tolerance)
        assert abs(m2 - 1.5 * m1) > 3 * np.hypot(se2, 1.5 * se1), (side, m1, m2)


# ------------------------------------------ 8. killed and returning shares per contingent
def test_a_contingents_own_killed_and_returning_shares_override_the_sides():
    """Side: 25% killed, all wounded return. 'foreign' kills all its casualties
    (killed_fraction 1: no wounded); 'regulars' return none of their wounded
    (return_to_duty_fraction 0: all permanently lost); 'mobilised' takes the side's
    (wounded, none permanently lost). Control arm: without the overrides 'foreign' has
    wounded and 'regulars' none permanently lost."""
    def shares(overrides: bool):
        contingents = ({"foreign": dict(killed_fraction=1.0),
                        "regulars": dict(return_to_duty_fraction=0.0)} if overrides else {})
        scenario = quiet([group(2, 50, "foreign"), group(2, 50, "regulars"),
                          group(2, 50, "mobilised")], contingents, max_days=10, loss=0.1)
        scenario = scenario.with_overrides({"attacker": {"killed_fraction": 0.25,
                                                         "return_to_duty_fraction": 1.0}})
        model = run_checked(AttritionModel(scenario, rng=2))
        return {name: rows_of(model, name).iloc[-1] for name in
                ("foreign", "regulars", "mobilised")}

    last = shares(True)
    assert last["foreign"]["wounded_total"] == 0 and last["foreign"]["killed_total"] > 0
    assert last["regulars"]["wounded_total"] > 0
    assert last["regulars"]["permanently_lost_total"] == last["regulars"]["wounded_total"]
    assert last["mobilised"]["wounded_total"] > 0
    assert last["mobilised"]["permanently_lost_total"] == 0

    last = shares(False)
    assert last["foreign"]["wounded_total"] > 0
    assert last["regulars"]["permanently_lost_total"] == 0


# ------------------------------------------------------------ 9. summary edges
def test_casualties_per_km_need_a_cell_of_mean_advance():
    """Casualties per km is None until the mean advance is a cell deep (100 m: the first
    cell taken on day 1 is 50 m of mean advance on two lanes, the second on day 2 makes
    100 m), then the attacker's casualties over the km gained (the attacker loses 5% a
    day)."""
    model = AttritionModel(_advance(loss=0.05), rng=4)
    seen = []
    while model.running:
        model.step()
        summary = model.summary()
        seen.append(summary["ground_gained_m"])
        casualties = summary["attacker_killed"] + summary["attacker_wounded"]
        if summary["ground_gained_m"] < 100.0:
            assert summary["attacker_casualties_per_km"] is None
            assert summary["attacker_training_days_lost_per_km"] is None
        else:
            assert summary["attacker_casualties_per_km"] == pytest.approx(
                casualties / (summary["ground_gained_m"] / 1000))
    assert seen[:2] == [50.0, 100.0] and seen[-1] >= 150.0
    start = AttritionModel(_advance(loss=0.05), rng=4)
    assert start.summary()["attacker_casualties_per_km"] is None


@pytest.mark.parametrize(("pool", "projected", "beyond"), [
    (36_500, 3650.0, False), (36_510, None, True), (1_000_000, None, True),
    (1_000, 100.0, False)])
def test_a_pool_outlasting_ten_years_is_beyond_the_horizon(pool, projected, beyond):
    """10 recruits a day over 30 days: exhaustion projected on day 30 + pool left / 10;
    up to day 3,650 it is given, past it None and beyond the horizon."""
    scenario = quiet([group(2, 10)], {"conscripts": dict(pool=pool, recruits_per_day=10.0)},
                     max_days=30)
    model = AttritionModel(scenario, rng=0)
    model.run()
    summary = model.summary()
    assert summary["projection_horizon_day"] == 3650
    assert summary["attacker_pool_exhausted_day"] is None
    assert summary["attacker_projected_exhaustion_day"] == projected
    assert summary["attacker_projected_exhaustion_beyond_horizon"] is beyond
    assert summary["defender_projected_exhaustion_day"] is None
    assert summary["defender_projected_exhaustion_beyond_horizon"] is False


def test_both_sides_wiped_out_in_one_sub_step_is_a_draw():
    """Each side loses its whole line in the first sub-step (fixed loss 1): both_broken,
    a draw, on day 1. Control arm: the defender losing nobody wins."""
    def end(defender_loss):
        scenario = quiet([group(2, 10)], max_days=5, loss=1.0).with_overrides(
            {"defender": {"fixed_daily_loss_fraction": defender_loss}})
        model = AttritionModel(scenario, rng=0)
        model.run()
        summary = model.summary()
        return summary["stop_reason"], summary["winner"], model.day, summary

    reason, winner, day, summary = end(1.0)
    assert (reason, winner, day) == ("both_broken", "draw", 1)
    assert summary["attacker_personnel"] == summary["defender_personnel"] == 0
    assert end(0.0)[:3] == ("attacker_broken", "defender", 1)


@pytest.mark.parametrize("changes, says", [
    ({"start_date": datetime.date(9999, 12, 28)}, "start_date: 9999-12-28 is out of range"),
    ({"start_date": datetime.date(1, 1, 1)}, "allowed: a date from 1000-01-01 to 9000-12-31"),
    ({"attacker": {"tempo_variation": 1e-300}}, "tempo_variation: 1e-300 is too small"),
    ({"attacker": {"units": [{"contingent": "all", "count": 1, "personnel": 10,
                              "tactic": "human_wave"}]}}, "contingent: 'all' names a whole"),
])
def test_dates_variations_and_names_the_model_cannot_use_are_refused(changes, says):
    """Dates a calendar or a figure's axis cannot hold, a tempo variation too small to
    draw (its gamma's shape overflows) and a contingent named like the daily record's
    side rows are refused in one line naming the key."""
    data = deep_merge(Scenario().model_dump(), changes)
    with pytest.raises(ScenarioError) as err:
        validate(data, "s.toml")
    assert says in str(err.value) and "\n" not in str(err.value)


def test_of_two_tempo_phases_on_one_day_the_later_listed_holds():
    """As for a recruitment schedule: the file's order decides, not the intensities."""
    def tempo_on_day_0(phases):
        scenario = Scenario(max_days=1).with_overrides({"attacker": {"tempo": phases}})
        return AttritionModel(scenario, rng=0).combat.tempo(0, 0)

    assert tempo_on_day_0([{"day": 0, "intensity": 3.0}, {"day": 0, "intensity": 0.5}]) == 0.5
    assert tempo_on_day_0([{"day": 0, "intensity": 0.5}, {"day": 0, "intensity": 3.0}]) == 3.0
