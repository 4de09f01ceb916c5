"""Model calibration: scenario keys fitted to a battle record by simulated moments with
common random numbers recover the values that made the record, with honest intervals."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sim.calibration import FitKey, SeriesEvaluator, calibrate_model, fit_key, record_of
from sim.scenarios import ScenarioError, load, read

KEY = "defender.aimed_kills_per_shooter_per_day"
TRUE_RATE = 0.05
BOTH_STRENGTHS = ["attacker_strength", "defender_strength"]


@pytest.fixture(scope="module")
def square_data() -> dict:
    """The square-law docking scenario with 4 fire substeps a day instead of 24: the
    same battle, five times cheaper to run."""
    _, data = read("lanchester_square")
    data["combat"]["substeps_per_day"] = 4
    return data


def simulated_record(data, values: dict[str, float], series, days, seed):
    """One run of the scenario with ``values`` set: the 'observed' battle."""
    keys = [FitKey(k, v / 2, v * 2) for k, v in values.items()]
    return record_of(SeriesEvaluator(data, keys, series, days)(list(values.values()),
                                                               seed=seed), series)


def test_model_calibration_recovers_a_known_parameter_within_its_interval(square_data):
    """Acceptance: 8 records made by the scenario itself with the defender's kill rate
    at 0.05 (seeds calibration never uses), each calibrated with 8 replicates. A 95%
    interval covers the truth in 6 or more of 8 trials with probability 0.994; an
    interval half as wide as it should be covers about 68% of the time and passes with
    probability 0.5. The estimates' spread must match the (linearised) standard errors
    they report (the sd of 8 estimates is within a factor 1.6 of its truth with
    probability about 0.95), their mean must sit within 3 standard errors of the truth
    (no bias), and the records must look like runs of the model to the misfit check."""
    estimates, errors, widths, covered, further = [], [], [], 0, []
    for trial in range(8):
        record = simulated_record(square_data, {KEY: TRUE_RATE}, BOTH_STRENGTHS, days=12,
                                  seed=900_000 + trial)
        fit = calibrate_model(record, square_data, [KEY], replicates=8, seed=trial)
        low, high = fit.intervals[KEY]
        covered += low <= TRUE_RATE <= high
        widths.append(high - low)
        estimates.append(fit.estimates[KEY])
        errors.append(fit.standard_errors[KEY])
        further.append(fit.runs_further)
    spread, se = float(np.std(estimates, ddof=1)), float(np.mean(errors))
    assert covered >= 6, (covered, estimates, errors)
    assert 1 / 2 <= spread / se <= 2, (spread, se)
    assert abs(np.mean(estimates) - TRUE_RATE) <= 3 * spread / np.sqrt(8), estimates
    # Not an interval that covers anything: narrower than the true value is large.
    assert np.mean(widths) < TRUE_RATE, widths
    # The records are runs of the model, so about half the runs (a share spread about
    # uniformly, sd 0.1 over 8 trials) lie further from the mean than the record does.
    assert np.mean(further) >= 0.25, further


def test_a_record_the_model_cannot_follow_is_flagged(square_data):
    """The defender's strength held at 150 while it is shot at: no value of the key
    brings the model there, and the record is further out than every run."""
    record = simulated_record(square_data, {KEY: TRUE_RATE}, BOTH_STRENGTHS, days=6, seed=5)
    record.observed["defender_strength"][:] = 150
    fit = calibrate_model(record, square_data, [KEY], replicates=4)
    assert fit.runs_further == 0
    assert any("does not follow this record" in note for note in fit.notes)


def test_the_numbers_do_not_depend_on_the_workers_or_the_executor(square_data):
    """The sweep engine's executors: this process, 2 local processes, a Dask cluster."""
    from distributed import LocalCluster

    record = simulated_record(square_data, {KEY: TRUE_RATE}, ["attacker_strength"], days=6,
                              seed=7)
    serial = calibrate_model(record, square_data, [KEY], replicates=4, workers=1)
    pooled = calibrate_model(record, square_data, [KEY], replicates=4, workers=2)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        dask = calibrate_model(record, square_data, [KEY], replicates=4,
                               scheduler=cluster.scheduler_address)
    assert serial.as_dict() == pooled.as_dict() == dask.as_dict()
    assert serial.runs == serial.evaluations * 4 and serial.seeds == pooled.seeds


def test_two_keys_are_fitted_together(square_data):
    """Both kill rates from both strengths: the design-then-Nelder-Mead path. One
    record, so only a loose check: each estimate within 3 of its standard errors."""
    truth = {KEY: 0.05, "attacker.aimed_kills_per_shooter_per_day": 0.04}
    record = simulated_record(square_data, truth, BOTH_STRENGTHS, days=10, seed=11)
    fit = calibrate_model(record, square_data, list(truth), replicates=6)
    for key, value in truth.items():
        assert abs(fit.estimates[key] - value) <= 3 * fit.standard_errors[key], fit.as_dict()
        assert fit.bounds[key] == (0.05 / 4, 0.05 * 4)  # the scenario's 0.05, / 4 to x 4


def test_a_key_the_record_cannot_see_is_reported_not_identified(square_data):
    """Nobody returns to duty in this scenario, so the delay before returning changes
    nothing: infinite standard error, the interval is the key's whole range."""
    record = simulated_record(square_data, {KEY: TRUE_RATE}, ["attacker_strength"], days=5,
                              seed=3)
    fit = calibrate_model(record, square_data, ["defender.return_delay_days"], replicates=3)
    assert fit.standard_errors["defender.return_delay_days"] == np.inf
    assert fit.intervals["defender.return_delay_days"] == (1.0, 365.0)
    assert any("not identified" in note for note in fit.notes)


def test_fit_keys_take_their_range_from_the_scenario_and_the_schema():
    scenario = load("fortified_defense")
    assert fit_key(scenario, "sector.fortification_level") == \
        FitKey("sector.fortification_level", 0.15, 1.0)  # 0.6 x 4 capped at its limit 1
    drones = fit_key(scenario, "defender.drones")
    assert drones.integer and drones.cast(7.6) == 8
    assert fit_key(scenario, "sector.cover=interval(0.1, 0.3)").high == 0.3


@pytest.mark.parametrize("text, message", [
    ("defender.no_such_key", "no 'no_such_key' in defender; allowed: units,"),
    ("attacker.units[0].tactic", "holds 'human_wave' (not a number)"),
    ("sector.cover=interval(0.5,0.1)", "allowed: key.path or key.path=interval(LOW,HIGH)"),
    ("sector.cover=0.5", "allowed: key.path or key.path=interval(LOW,HIGH)"),
    ("sector.cover=interval(0.5,1.5)", "leaves the key's limits; allowed: >= 0 and <= 1"),
    ("attacker.killed_fraction=interval(0,0.5)", "allowed: > 0 and <= 1"),
    ("defender.area_strikes_per_person_per_day", "is 0 in the scenario, so there is no default"),
    ("attacker.contingents[*].pool", "points at nothing ([*] over an empty list or table)"),
])
def test_bad_fit_keys_are_one_line_errors(text, message):
    with pytest.raises(ScenarioError) as err:
        fit_key(load("fortified_defense"), text, "fortified_defense.toml")
    assert message in str(err.value) and "\n" not in str(err.value)
    assert str(err.value).startswith("fortified_defense.toml: --fit")


def test_too_few_replicates_and_a_key_named_twice_are_refused(square_data):
    record = simulated_record(square_data, {KEY: TRUE_RATE}, ["attacker_strength"], days=3,
                              seed=1)
    with pytest.raises(ScenarioError, match="--replicates: 2; allowed: 3 or more"):
        calibrate_model(record, square_data, [KEY], replicates=2)
    with pytest.raises(ScenarioError, match="named twice"):
        calibrate_model(record, square_data, [KEY, KEY])


def _attrition(*args, cwd):
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


@pytest.fixture
def square_record_csv(tmp_path, square_data):
    """A record of the cheap square-law scenario (a scenario file beside it) as CSV."""
    (tmp_path / "square4.toml").write_text(
        'base = "lanchester_square"\n[combat]\nsubsteps_per_day = 4\n')
    record = simulated_record(square_data, {KEY: TRUE_RATE}, ["attacker_strength",
                                                              "defender_casualties"],
                              days=8, seed=21)
    frame = pd.DataFrame({"day": range(9), **record.observed})
    frame.drop(index=4).to_csv(tmp_path / "battle.csv", index=False)
    return tmp_path


def test_calibrate_cli_fits_a_scenario_key_and_writes_json_and_plots(square_record_csv):
    folder = square_record_csv
    done = _attrition("calibrate", "battle.csv", "--scenario", "square4.toml", "--fit", KEY,
                      "--law", "square", "--initial-defender", "150", "--replicates", "4",
                      "--workers", "1", "--no-progress", "--json", "--out", "out", cwd=folder)
    assert done.returncode == 0, done.stderr
    estimates = json.loads(done.stdout)
    assert json.loads((folder / "out" / "estimates.json").read_text()) == estimates
    model = estimates["model"]
    assert model["scenario"] == "square4" and model["replicates"] == 4
    parameter = model["parameters"][KEY]
    assert parameter["ci95_low"] < parameter["estimate"] < parameter["ci95_high"]
    assert set(model["metrics"]) == {"attacker_strength", "defender_casualties"}
    assert estimates["best"] == "square"
    assert {p.name for p in (folder / "out").iterdir()} == {"estimates.json", "fit.png",
                                                            "model_fit.png"}
    table = _attrition("calibrate", "battle.csv", "--scenario", "square4.toml", "--fit", KEY,
                       "--replicates", "4", "--workers", "2", "--no-progress", "--out",
                       "out2", cwd=folder)
    assert table.returncode == 0, table.stderr
    assert f"model square4: {model['evaluations']} evaluations x 4 replicates" in table.stdout
    assert f"{parameter['estimate']:.4g} (standard error" in table.stdout
    assert "day 4 missing: not observed" in table.stderr
    assert "--initial-defender serves the law fits only" in estimates["notes"][-1]
    assert {p.name for p in (folder / "out2").iterdir()} == {"estimates.json",
                                                             "model_fit.png"}


@pytest.mark.parametrize("args, message", [
    (["--fit", KEY], "--fit: needs --scenario"),
    (["--scenario", "square4.toml"], "--scenario: names no key to fit"),
    (["--scenario", "square4.toml", "--fit", "defender.nope"], "no 'nope' in defender"),
    (["--scenario", "no_such_scenario", "--fit", KEY], "no_such_scenario"),
    (["--scenario", "square4.toml", "--fit", KEY, "--replicates", "2"], "allowed: 3 or more"),
])
def test_calibrate_cli_bad_model_options_are_one_line_and_write_nothing(square_record_csv,
                                                                        args, message):
    done = _attrition("calibrate", "battle.csv", *args, "--out", "out",
                      cwd=square_record_csv)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert not (square_record_csv / "out").exists()
    assert not [p for p in square_record_csv.iterdir() if p.name.startswith(".out")]


def test_calibrate_cli_refuses_a_record_too_short_to_fit(tmp_path):
    (tmp_path / "short.csv").write_text("day,attacker_strength\n0,200\n1,190\n")
    done = _attrition("calibrate", "short.csv", "--scenario", "lanchester_square", "--fit",
                      KEY, "--out", "out", cwd=tmp_path)
    assert done.returncode == 2 and not (tmp_path / "out").exists()
    assert done.stderr == ("attrition: error: short.csv: 1 observed series over 2 days; "
                           "allowed: a strength or casualty series over 3 days or more\n")
