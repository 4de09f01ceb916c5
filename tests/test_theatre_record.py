"""The calibrated theatre against the record of 2023-2024 (theatres/theatre_2023_2024.toml,
sim.theatre.calibration), its forecast file scored by `attrition score`, and the
sustainability answers' book-keeping."""

from __future__ import annotations

import copy
import datetime
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import tomli_w

from sim.forecast import read_forecast
from sim.observed import named_dead_monthly
from sim.theatre import files
from sim.theatre.calibration import CLAIM_FACTOR, WINDOW, claim_span
from sim.theatre.config import EXAMPLE
from sim.theatre.outputs import fit_table, recruitment_table, run_theatre
from sim.theatre.sustainability import answers, cover_ends, sustainability_runs

REPLICATES = 6


def run_cli(*args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def calibrated_runs():
    """Six runs of the shipped, calibrated theatre over its window (one worker)."""
    scenario = files.load("theatre_2023_2024")
    return scenario, run_theatre(scenario, seed=0, replicates=REPLICATES)


@pytest.mark.xdist_group("theatre_record")
def test_the_calibrated_theatre_follows_the_record_in_most_months(calibrated_runs):
    """Over January 2023 to December 2024, the mean of six runs agrees with the record
    within its stated uncertainty in at least 80% of months, for both series: the
    claimed losses (ru-claimed-losses-2023-2024: one side's claim, agreeing within a
    factor of 1.5 either way) and the named dead (ru-named-dead-2023-2024: the model's
    killed times a named share of 0.45-0.65, named-share). The verdicts are not luck: in
    every month the mean's standard error is under a twentieth of the mean, far inside
    the bands. The factor is the half-width of what the named dead imply for the claim
    with 3 to 5 wounded a killed (wounded-killed-wwii): 0.62 to 1.34 times it, a factor
    of 1.47 either way about its centre."""
    _, runs = calibrated_runs
    table = fit_table(runs)
    assert len(table) == 24
    for name in ("claimed_losses", "named_dead"):
        share = table[f"{name}_agrees"].mean()
        assert share >= 0.8, (name, table.loc[~table[f"{name}_agrees"]].index.tolist())
        assert (table[f"{name}_se"] < 0.05 * table[f"{name}_model"]).all()
    low, high = claim_span()
    assert abs(CLAIM_FACTOR / np.sqrt(high / low) - 1) < 0.05


@pytest.mark.xdist_group("theatre_record")
def test_recruitment_drawn_matches_the_claims(calibrated_runs):
    """The contract soldiers the theatre draws match every claim of 2023-2024 within 5%
    (the claims are rounded totals, 'about'): the five it was tuned to
    (ru-contract-2023-jul, ru-contract-2023-sep, ru-contract-2023-dec14,
    ru-contract-2024-jun, ru-contract-2024-year) and the three left out to check it
    (ru-contract-2023-oct, ru-contract-2023-dec1, ru-contract-2024-dec24)."""
    scenario, runs = calibrated_runs
    table = recruitment_table(runs, scenario)
    assert len(table) == 8
    assert ((table["ratio"] - 1).abs() < 0.05).all(), table


@pytest.mark.xdist_group("theatre_record")
def test_the_defender_loses_at_least_its_named_dead(calibrated_runs):
    """A prediction, not a fit: the defender's killed over 2023-2024 are at least the
    Ukrainian dead identified by name (ua-named-dead-2023-2024, a lower bound), and at
    most the named dead and missing taken as 45% of the dead."""
    _, runs = calibrated_runs
    named = named_dead_monthly("ukraine", *WINDOW).sum()
    killed = [r["monthly"].query("side == 'defender'")["killed"].sum() for r in runs]
    assert named["named_deaths"] <= min(killed)
    assert max(killed) <= (named["named_deaths"] + named["named_missing"]) / 0.45


def _small_theatre(tmp_path, **changes):
    """The example theatre from 1 December 2024 to the end of February 2025, as a file."""
    data = copy.deepcopy(EXAMPLE)
    data.update(start_date=datetime.date(2024, 12, 1), max_days=30, **changes)
    path = tmp_path / "small.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def test_a_forecast_written_by_one_command_is_scored_by_another(tmp_path):
    """`attrition theatre forecast` writes January-February 2025 for a small theatre;
    `attrition score` against a record equal to the forecast's means covers every month
    with no error, and against one 1,000 a month below its lows covers none with a mean
    error of at least 1,000."""
    path = _small_theatre(tmp_path)
    done = run_cli("theatre", "forecast", str(path), "--until", "2025-02", "--replicates",
                   "3", "--workers", "1", "--out", "f.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    forecast = read_forecast(tmp_path / "f.csv").table
    assert sorted(forecast["month"].unique()) == ["2025-01", "2025-02"]
    wanted = forecast[(forecast["quantity"] == "claimed_losses")]
    exact = wanted[["month", "quantity", "who"]].assign(value=wanted["mean"])
    exact.to_csv(tmp_path / "exact.csv", index=False)
    low = wanted[["month", "quantity", "who"]].assign(value=(wanted["low"] - 1000).clip(0))
    low.to_csv(tmp_path / "low.csv", index=False)
    for record, coverage in (("exact.csv", 1.0), ("low.csv", 0.0)):
        scored = run_cli("score", "f.csv", record, "--json", cwd=tmp_path)
        assert scored.returncode == 0, scored.stderr
        row = next(r for r in json.loads(scored.stdout)["scores"]
                   if r["quantity"] == "claimed_losses")
        assert row["coverage"] == coverage
        if coverage:
            assert abs(row["mean_error"]) < 1e-6
        else:
            assert row["mean_error"] >= 1000


def test_sustainability_answers_count_every_policy_and_run():
    """Two policies x two replicates of a small theatre past 2024: each answer row
    counts its runs; a thicker drone screen from 2025 costs the attacker more per person
    in the line (its casualties over its person-days in the line after the policy
    starts, in each pair of runs with the same seeds); and recruitment that never falls
    short is counted as after the horizon."""
    data = copy.deepcopy(EXAMPLE)
    data.update(start_date=datetime.date(2024, 10, 1), max_days=30)
    # One sector where only the defender's drones strike: the attacker's casualties
    # per person in the line follow the drones alone.
    data["sectors"] = [{"name": "front", "kind": "active", "frontage_km": 20,
                        "contact_share": 0.0,
                        "attacker": {"target_persons_per_km": 600},
                        "defender": {"drones_per_km": 10, "target_persons_per_km": 300}}]
    data["attacker"]["contingents"]["contract"].update(pool=2_000_000,
                                                       recruits_per_day=3000.0)
    results = sustainability_runs(data, ["status_quo", "drone_screen"],
                                  datetime.date(2025, 6, 30), replicates=2)
    table = answers(results, datetime.date(2024, 10, 1)).set_index(["policy", "side"])
    assert (table["runs"] == 2).all() and len(table) == 4
    first = (datetime.date(2025, 1, 1) - datetime.date(2024, 10, 1)).days
    rate = {(r["policy"], r["replicate"]): (r["casualties"][-1, 0] - r["casualties"][first, 0])
            / r["in_line"][first:-1, 0].sum() for r in results}
    for replicate in (0, 1):
        assert rate[("drone_screen", replicate)] > 1.5 * rate[("status_quo", replicate)]
    assert table.loc[("status_quo", "attacker"), "cover_ends_share"] == 0.0


@pytest.mark.parametrize(("recruits", "leaving", "expected"), [
    (np.full(300, 10.0), np.full(300, 5.0), None),  # always covered
    (np.full(300, 5.0), np.full(300, 10.0), 30),  # never covered: from the first day
    # 10 recruits a day against 5 leaving, then 20 from day 151: the 30-day mean of
    # those leaving passes 10 once 11 of its days are at 20, on day 161, and stays above.
    (np.full(300, 10.0), np.r_[np.full(150, 5.0), np.full(150, 20.0)], 161),
    # Short for 50 days, then covered again: a spell, not the end of covering.
    (np.full(300, 10.0), np.r_[np.full(100, 5.0), np.full(50, 20.0), np.full(150, 5.0)],
     None),
    # Short from day 111 for over 90 days, then losses fall (the line has broken, few
    # are left to lose) and recruits cover them again: it still counts.
    (np.full(300, 10.0), np.r_[np.full(100, 5.0), np.full(100, 20.0), np.full(100, 5.0)],
     111),
])
def test_recruitment_stops_covering_losses_when_it_stays_short(recruits, leaving, expected):
    cumulative = [np.concatenate([[0.0], np.cumsum(x)]) for x in (recruits, leaving)]
    assert cover_ends(*cumulative, first_day=30, window=30, hold=90) == expected


def test_theatre_commands_refuse_bad_input_in_one_line(tmp_path):
    path = _small_theatre(tmp_path)
    for args, problem in (
            (["theatre", "run", "nowhere"], "no such file or named theatre"),
            (["theatre", "run", str(path), "--set", "attacker.intensity=-1"],
             "attacker.intensity"),
            (["theatre", "forecast", str(path), "--until", "2025-13"], "not a month"),
            (["theatre", "sustain", str(path), "--policy", "second_mobilisation",
              "--until", "2025-03-01"], "needs an attacker category 'mobilised'"),
            (["theatre", "calibrate", str(path), "--fit", "attacker.nothing"],
             "attacker.nothing"),
            # Sizes are bounded before anything is allocated.
            (["theatre", "run", str(path), "--set", "attacker.contingents.contract.unit_size=1",
              "--set", "attacker.contingents.contract.pool=1000000000"],
             "attacker.contingents.contract.unit_size: the run would hold about"),
            (["theatre", "run", str(path), "--set", "sectors[0].name=\"=cmd()\""],
             "sectors[0].name"),
            (["theatre", "sustain", str(path), "--contract-pool", "0"], "too small"),
            # Found by a hostile tester: each once a traceback or a file written over.
            (["theatre", "run", str(path), "--set", 'changes=[{day=1, assign={"x."=1}}]'],
             "is not a key path"),
            (["theatre", "sustain", str(path), "--policy", "status_quo"],
             "start_date: 2024-12-01; allowed: a theatre that starts more than 90 days"),
            (["theatre", "sustain", "--policy", "status_quo", "--contract-pool", "900000"],
             "cannot sign the 936,000 claimed"),
            (["theatre", "forecast", str(path), "--out", "small.toml"], "small.toml exists"),
            (["theatre", "calibrate", str(path)], "start_date: 2024-12-01; allowed: a theatre "
                                                  "that starts by 2023-01-01"),
            (["theatre", "run", str(path), "--set", "start_date=9999-12-01"],
             "start_date: 9999-12-01 is out of range")):
        done = run_cli(*args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1 and problem in done.stderr, (
            args, done.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.toml"]


def test_list_names_every_theatre_with_a_line(tmp_path):
    done = run_cli("theatre", "list", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.splitlines() == [
        "classroom_war      Classroom wargame: Red attacks, Blue defends, 150 km of front, "
        "20 weeks (invented numbers)",
        "theatre_2023_2024  Russia-Ukraine 2023-2024: 1,290 km of front, national "
        "recruitment, calibrated on 2023-2024"]


def test_run_writes_its_frames_and_summary(tmp_path):
    path = _small_theatre(tmp_path)
    done = run_cli("theatre", "run", str(path), "--replicates", "2", "--workers", "1",
                   "--out", "out", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    daily = pd.read_csv(tmp_path / "out" / "daily.csv")
    assert set(daily["seed"]) and len(set(daily["seed"])) == 2
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["runs"] == 2 and set(summary["sides"]) == {"attacker", "defender"}


def test_the_bonus_steps_are_those_the_recruitment_claims_imply():
    """The shipped theatre's contract bonus is what sim.theatre.calibration derives from
    the claimed signings for its pool (ru-contract-2023-jul and the rest), so that a
    different pool (an assumption) can be set with the record kept."""
    from sim.theatre.calibration import with_contract_pool

    _, data = files.read("theatre_2023_2024")
    contract = data["attacker"]["contingents"]["contract"]
    derived = with_contract_pool(data, contract["pool"])["attacker"]["contingents"]["contract"]
    assert derived["bonus"] == contract["bonus"]


def test_the_calibration_matches_logs_of_both_series_month_by_month():
    """What `attrition theatre calibrate` matches: the record as logs of the claim
    (scaled by the claim factor) and of the named dead, 24 months; a run gives the same
    two series from its months; a theatre that stops before the window ends is refused
    before any run."""
    from sim.calibration import FitKey
    from sim.scenarios import ScenarioError
    from sim.theatre.calibration import (
        SERIES,
        TheatreSeries,
        calibrate_theatre,
        observed_record,
        record_months,
    )

    record = observed_record(claim_factor=1.5)
    months = record_months()
    assert list(record.observed) == list(SERIES) and record.days == 23
    assert np.allclose(np.exp(record.observed[SERIES[0]]), 1.5 * months["claimed_losses"])
    assert np.allclose(np.exp(record.observed[SERIES[1]]), months["named_dead"])
    data = copy.deepcopy(EXAMPLE)
    data.update(start_date=datetime.date(2023, 1, 1), max_days=730)
    series = TheatreSeries(data, [FitKey("attacker.intensity", 0.5, 2.0)], list(months.index))
    values = series([1.0], seed=1)
    assert values.shape == (2, 24) and np.isfinite(values).all()
    short = copy.deepcopy(data)
    short["max_days"] = 400
    with pytest.raises(ScenarioError, match="max_days: 400 ends on 2024-02-05"):
        calibrate_theatre(short)


def test_the_tempo_is_the_named_deads_shape_and_2024s_mean_after_it():
    """The shipped theatre's national tempo is an input from the record: each month of
    2023-2024 its named dead over their mean (ru-named-dead-2023-2024), and from 2025 the
    status quo, 2024's mean, as a persistence forecast."""
    from sim.theatre.calibration import tempo_shape

    scenario = files.load("theatre_2023_2024")
    phases = [(p.day, p.intensity) for p in scenario.attacker.tempo]
    shape = [(p["day"], p["intensity"]) for p in tempo_shape()]
    assert phases[:24] == shape
    assert phases[24] == (datetime.date(2025, 1, 1),
                          pytest.approx(np.mean([v for _, v in shape[12:]]), abs=1e-3))


def test_forecast_intervals_carry_the_records_scatter():
    """With the record's scatter about the model (log scale), a claimed-loss interval is
    the runs' 5-95% times exp(+-1.645 scatter); without it, the runs' own."""
    from sim.theatre.outputs import forecast_table

    months = pd.DataFrame({"side": ["attacker", "defender"] * 3, "month": ["2025-01"] * 6,
                           "casualties": [100.0, 10, 100, 10, 100, 10],
                           "killed": [20.0, 2, 20, 2, 20, 2], "wounded": 80.0,
                           "recruited": 5.0, "leaving": 3.0, "recruits_needed": 3.0,
                           "net_change": 2.0, "in_line": 1000.0})
    runs = [{"monthly": months.iloc[2 * i:2 * i + 2]} for i in range(3)]
    plain = forecast_table({"record": (1.0, runs)}, ["2025-01"])
    wide = forecast_table({"record": (1.0, runs)}, ["2025-01"], {"claimed_losses": 0.2})
    pick = lambda t: t[(t["quantity"] == "claimed_losses")].iloc[0]  # noqa: E731
    assert (pick(plain)["low"], pick(plain)["high"]) == (100.0, 100.0)
    assert pick(wide)["low"] == pytest.approx(100 * np.exp(-1.6448536 * 0.2))
    assert pick(wide)["high"] == pytest.approx(100 * np.exp(1.6448536 * 0.2))
