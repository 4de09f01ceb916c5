"""History as a test (``attrition validate``, sim/validation.py): each quantity read off
a hand-made daily record, the percentiles and the inside/overlap rule (open sides,
dates), the checks made before any run, the files and figures, and the command end to
end on human_wave_foreign_contingent (a few runs of a second or two each)."""

from __future__ import annotations

import contextlib
import csv
import datetime
import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import run
from sim.claims import CLAIMS_FILE, QUANTITIES, ClaimsError, load_claims, targets
from sim.cli import main
from sim.scenarios import load
from sim.seeds import replicate_seeds
from sim.validation import (
    TargetError,
    TargetResult,
    ValidationResult,
    check_target,
    daily_series,
    inside,
    observe,
    observed,
    plot_validation,
    prepare,
    spread,
    target_result,
    validate,
    validation_csv,
    validation_markdown,
)

SCENARIO = "human_wave_foreign_contingent"


# ------------------------------------------------------------ a hand-made record
def _daily() -> pd.DataFrame:
    """Four days (0-3) of an attacker with contingents a and b and their 'all' rows,
    and a defender; as RunResult.daily has them (one row per day and contingent)."""
    a = {"killed": [0, 5, 9, 9], "wounded": [0, 20, 10, 0], "recruited": [100, 0, 50, 0],
         "released": [0, 0, 3, 4], "personnel_fighting": [90, 80, 70, 60]}
    b = {"killed": [0, 1, 1, 6], "wounded": [0, 2, 2, 2], "recruited": [0, 0, 0, 0],
         "released": [0, 0, 0, 0], "personnel_fighting": [10, 10, 0, 0]}
    rows = []
    for day in range(4):
        for contingent, flows in (("a", a), ("b", b)):
            rows.append({"day": day, "side": "attacker", "contingent": contingent,
                         **{k: v[day] for k, v in flows.items()}})
        rows.append({"day": day, "side": "attacker", "contingent": "all",
                     **{k: a[k][day] + b[k][day] for k in a}})
        rows.append({"day": day, "side": "defender", "contingent": "all", "killed": 1,
                     "wounded": 1, "recruited": 0, "released": 0, "personnel_fighting": 50})
    frame = pd.DataFrame(rows)
    for flow in ("killed", "wounded", "released"):
        frame[f"{flow}_total"] = frame.groupby(["side", "contingent"])[flow].cumsum()
    return frame


@pytest.mark.parametrize("quantity, who, day, expected", [
    ("killed", "attacker/a", 1, 5), ("killed", "attacker/a", None, 23),
    ("wounded", "attacker/a", 2, 30), ("casualties", "attacker/a", 2, 44),
    ("casualties", "attacker", 1, 28), ("released", "attacker/a", 3, 7),
    ("recruited", "attacker/a", 0, 100), ("recruited", "attacker/a", 2, 150),
    ("recruited", "attacker", None, 150), ("fighting", "attacker/a", 3, 60),
    ("fighting", "attacker/b", 2, 0), ("fighting", "attacker", 0, 100),
    ("killed", "defender", 3, 4),
    # After the run's last day (3): cumulative quantities keep their last value, and
    # no one is on the line.
    ("killed", "attacker/a", 10, 23), ("recruited", "attacker/a", 10, 150),
    ("fighting", "attacker/a", 10, 0),
    ("peak_daily_killed", "attacker/a", None, 9), ("peak_daily_killed", "attacker", None, 15),
    ("deadliest_day", "attacker/a", None, 2),  # days 2 and 3 tie at 9: the first
    ("deadliest_day", "attacker/b", None, 3), ("end_date", "attacker", None, 3),
    ("killed_per_recruited", "attacker/a", None, 23 / 150),
])
def test_each_quantity_is_read_off_the_daily_record(quantity, who, day, expected):
    assert observe(_daily(), quantity, who, day) == pytest.approx(expected)


def test_every_quantity_of_the_claims_table_is_computed():
    daily = _daily()
    for quantity in QUANTITIES:
        assert math.isfinite(observe(daily, quantity, "attacker/a"))


def test_killed_per_recruited_without_recruits_and_unknown_who():
    assert math.isnan(observe(_daily(), "killed_per_recruited", "attacker/b"))
    with pytest.raises(ValueError, match="no rows of attacker/c"):
        observe(_daily(), "killed", "attacker/c")
    with pytest.raises(ValueError, match="before the run's start"):
        observe(_daily(), "killed", "attacker", -1)


def test_daily_series_pads_after_the_run():
    daily = _daily()
    assert daily_series(daily, "killed", "attacker/a", 5).tolist() == [0, 5, 14, 23, 23, 23]
    assert daily_series(daily, "fighting", "attacker/a", 5).tolist() == [90, 80, 70, 60, 0, 0]
    assert daily_series(daily, "casualties", "attacker/b", 1).tolist() == [0, 3]
    with pytest.raises(ValueError, match="not a quantity of a day"):
        daily_series(daily, "end_date", "attacker", 3)


# ------------------------------------------------------------------- statistics
def test_spread_is_numpys_linear_percentiles_over_the_finite_values():
    values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
    found = spread(values + [math.nan])
    assert found.n == 8 and found.mean == pytest.approx(np.mean(values))
    assert (found.q05, found.q95) == tuple(np.percentile(values, [5, 95]))
    assert found.q05 == pytest.approx(1.0) and found.q95 == pytest.approx(7.95)
    empty = spread([math.nan])
    assert empty.n == 0 and math.isnan(empty.mean)


@pytest.mark.parametrize("value, low, high, q05, q95, expected", [
    (300, None, None, 290, 310, True), (300, None, None, 300, 310, True),
    (300, None, None, 301, 310, False), (300, None, None, 200, 299.9, False),
    # "about 300", 250-349: overlap, at either edge, or none.
    (300, 250, 349, 340, 400, True), (300, 250, 349, 349, 400, True),
    (300, 250, 349, 350, 400, False), (300, 250, 349, 100, 249, False),
    (300, 250, 349, 100, 500, True),  # the interval holds the whole range
    # "over 3,000": open above.
    (3000, 3001, None, 2900, 3001, True), (3000, 3001, None, 2900, 3000, False),
    (3000, 3001, None, 9000, 12000, True),
    # "at most 5": open below.
    (5, None, 5, 0, 3, True), (5, None, 5, 5.5, 9, False),
    (0, 0, 0, 0, 2061, True), (0, 0, 0, 1, 2061, False),
    (1, 1, None, math.nan, math.nan, False),
])
def test_inside_is_point_in_interval_or_range_overlap(value, low, high, q05, q95, expected):
    assert inside(value, low, high, q05, q95) is expected


def _claim(**changes):
    claim = load_claims()["bakhmut-fall"]
    return claim.model_copy(update=changes)


def test_dates_are_day_numbers_inside_and_iso_dates_outside():
    start = datetime.date(2023, 5, 1)
    # Days 10, 11, 20, 25 from 1 May: the 5th percentile 10.15 widens down to day 10,
    # the 95th 24.25 up to day 25; the mean 16.5 rounds to day 16.
    row = target_result("s", _claim(), [10.0, 11.0, 20.0, 25.0], start)
    assert (row.value, row.mean, row.q05, row.q95) == ("2023-05-20", "2023-05-17",
                                                       "2023-05-11", "2023-05-26")
    assert row.values[0] == "2023-05-11" and row.inside and row.date is None
    late = target_result("s", _claim(), [0.0, 1.0, 2.0], start)
    assert not late.inside and late.q95 == "2023-05-03"
    ranged = _claim(quantity="deadliest_day", value=datetime.date(2023, 1, 15),
                    low=datetime.date(2023, 1, 1), high=datetime.date(2023, 1, 31))
    start = datetime.date(2022, 7, 15)
    jan_31 = (datetime.date(2023, 1, 31) - start).days
    # The 5th percentile of [Jan 30, Mar 1] is Jan 31 plus 0.55 of a day: rounded down,
    # Jan 31, which the claimed January holds.
    assert target_result("s", ranged, [jan_31 - 1.0, jan_31 + 30.0], start).inside
    assert not target_result("s", ranged, [jan_31 + 1.0, jan_31 + 30.0], start).inside


# ------------------------------------------------------------------- the checks
def test_a_target_is_checked_against_its_scenario():
    scenario = load(SCENARIO)
    claim = load_claims()["nk-losses-jan-2025"]
    check_target(claim, SCENARIO, scenario)
    with pytest.raises(TargetError, match=r"no contingent 'regulars' on the attacker side.*"
                                          r"allowed: attacker, attacker/foreign"):
        check_target(claim.model_copy(update={"who": "attacker/regulars"}), SCENARIO, scenario)
    with pytest.raises(TargetError, match="before human_wave_foreign_contingent's start_date"):
        check_target(claim.model_copy(update={"target_date": datetime.date(2024, 1, 1)}),
                     SCENARIO, scenario)
    with pytest.raises(TargetError, match="has no start_date"):
        check_target(claim, "fortified_defense", load("fortified_defense"))
    undated = claim.model_copy(update={"target_date": None, "who": "attacker"})
    check_target(undated, "fortified_defense", load("fortified_defense"))


def test_every_shipped_target_fits_its_scenario():
    plan = prepare(replicates=2)
    assert list(plan.scenarios) == ["bakhmut_2022_2023", SCENARIO, "kursk_2024_2025"]
    assert sum(map(len, plan.targets.values())) == sum(len(c.scenario) for c in
                                                       targets(load_claims()))


def test_prepare_names_what_is_wrong(tmp_path):
    with pytest.raises(TargetError, match=r"fortified_defense: no targets in .*claims\.csv; "
                                          r"allowed: one of bakhmut_2022_2023, "):
        prepare(["fortified_defense"])
    bare = tmp_path / "bare.csv"
    bare.write_text("id,role,claim,figures,source,date,used_by\n"
                    "x-claim,context,A claim long enough.,1,someone,2025,\n")
    with pytest.raises(TargetError, match="no claim has a target"):
        prepare(claims_file=bare)
    with pytest.raises(ClaimsError, match="cannot read it"):
        prepare(claims_file=tmp_path / "missing.csv")


# ------------------------------------------------------------------ files, figure
def _result(claims_file: str = "claims.csv") -> ValidationResult:
    """A result made by hand: a dated count (with its curve), a date and a share."""
    rows = [
        TargetResult("s", "c-killed", "2025-01-03", "killed", "attacker/a", 300.0, 250.0,
                     349.0, 320.0, 290.0, 360.0, 4, True, "tuned", [290.0, 310, 330, 350]),
        TargetResult("s", "c-fighting", "2025-01-05", "fighting", "attacker/a", 1.0, 1.0,
                     None, 0.0, 0.0, 0.0, 4, False, "predicted", [0.0] * 4),
        TargetResult("s", "c-end", None, "end_date", "attacker", "2025-01-10", None, None,
                     "2025-01-06", "2025-01-05", "2025-01-08", 4, False, "predicted",
                     ["2025-01-05"] * 4),
        TargetResult("s", "c-share", None, "killed_per_recruited", "attacker/a", 0.355,
                     None, None, 0.3, 0.25, 0.36, 4, True, "tuned", [0.3] * 4),
    ]
    curve = np.cumsum(np.full((4, 9), 50.0), axis=1)
    return ValidationResult(rows, ["s"], 7, 4, [1, 2, 3, 4], claims_file,
                            {"s": "2025-01-01"}, {"s": [5, 5, 6, 6]},
                            {"s": {("killed", "attacker/a"): curve,
                                   ("fighting", "attacker/a"): curve * 0}})


def test_tables_show_claims_ranges_and_intervals():
    rows = _result().rows
    assert [observed(r) for r in rows] == ["300 (250 to 349)", "1 (>= 1)", "2025-01-10",
                                           "0.355"]
    text = validation_csv(_result())
    table = list(csv.DictReader(io.StringIO(text)))
    assert table[1]["high"] == "" and table[1]["inside"] == "False"
    assert table[2]["q95"] == "2025-01-08" and table[3]["mean"] == "0.3"


def test_markdown_escapes_user_text():
    text = validation_markdown(_result("/tmp/[x](javascript:y)|<b>*.csv"))
    assert "\\[x\\]\\(javascript:y\\)\\|&lt;b&gt;\\*.csv" in text
    assert "| c-killed | 2025-01-03 | killed | attacker/a | 300 \\(250 to 349\\) | 320 | " \
           "290 to 360 | yes | tuned |" in text
    assert "| c-end | - | end_date | attacker | 2025-01-10 | 2025-01-06 | 2025-01-05 to " \
           "2025-01-08 | NO | predicted |" in text


def test_the_figure_draws_every_kind_of_claim(tmp_path):
    path = plot_validation(_result(), "s", tmp_path / "v.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -------------------------------------------------------------------- end to end
def _attrition(*argv) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main([str(a) for a in argv])
        except SystemExit as exit_:
            status = exit_.code
    return status, out.getvalue(), err.getvalue()


def test_validate_writes_the_table_files_and_figure(tmp_path):
    out = tmp_path / "v"
    status, stdout, _ = _attrition("validate", SCENARIO, "--replicates", 3, "--workers", 1,
                                   "--out", out, "--no-progress")
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == [
        f"validation-{SCENARIO}.png", "validation.csv", "validation.json", "validation.md"]
    report = json.loads((out / "validation.json").read_text())
    ids = [c.id for c in targets(load_claims(), SCENARIO)]
    assert [r["claim"] for r in report["rows"]] == ids
    assert report["replicates"] == 3 and report["seeds"] == replicate_seeds(0, 3)
    assert all(r["n"] == 3 and len(r["values"]) == 3 for r in report["rows"])
    for claim_id in ids:
        assert claim_id in stdout and f"| {claim_id} |" in (out / "validation.md").read_text()
    # Each replicate's value is its run's: the foreign contingent's killed on 13 January
    # 2025 (day 38), read here straight from the runs.
    scenario = load(SCENARIO)
    row = next(r for r in report["rows"] if r["claim"] == "nk-losses-jan-2025")
    for seed, value in zip(report["seeds"], row["values"], strict=True):
        daily = run(scenario, seed=seed).daily
        found = daily[(daily["contingent"] == "foreign") & (daily["day"] <= 38)]
        assert value == found["killed_total"].iloc[-1]
    q05, q95 = np.percentile(row["values"], [5, 95])
    assert (row["q05"], row["q95"]) == (q05, q95)
    assert row["inside"] == (q05 <= 349 and q95 >= 250)


def _only(tmp_path, keep: dict[str, dict[str, str]]) -> Path:
    """A claims file whose targets are those of ``keep`` (id -> cells changed); every
    other target emptied."""
    rows = list(csv.DictReader(CLAIMS_FILE.open(newline="", encoding="utf-8")))
    columns = ["scenario", "target_date", "quantity", "who", "value", "low", "high",
               "target"]
    for row in rows:
        if row["id"] in keep:
            row.update(keep[row["id"]])
        else:
            row.update({c: "" for c in columns})
            row["role"] = "context" if row["role"] == "validation" else row["role"]
    path = tmp_path / "claims.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_strict_fails_on_a_claim_outside_and_passes_when_all_are_inside(tmp_path):
    withdrawn = {"nk-withdrawn": {"scenario": SCENARIO}}  # off the line: 0 in every run
    (tmp_path / "a").mkdir()
    passing = _only(tmp_path / "a", withdrawn)
    status, stdout, stderr = _attrition("validate", "--claims", passing, "--replicates", 2,
                                        "--workers", 1, "--strict", "--json",
                                        "--out", tmp_path / "pass")
    assert status == 0 and stderr == ""
    assert json.loads(stdout)["inside"] == 1
    # The same withdrawal claimed with 5,000 still on the line cannot be inside.
    failing = _only(tmp_path, {"nk-withdrawn": {"scenario": SCENARIO, "value": "5000",
                                                "low": "5000", "high": ""}})
    argv = ["validate", "--claims", failing, "--replicates", 2, "--workers", 1]
    status, stdout, stderr = _attrition(*argv, "--strict", "--out", tmp_path / "strict")
    assert status == 1 and "nk-withdrawn" in stdout
    assert "1 of 1 claims outside the model's 90% interval: nk-withdrawn" in stderr
    status, _, stderr = _attrition(*argv, "--out", tmp_path / "report")
    assert status == 0 and stderr.startswith("note: 1 of 1 claims outside")
    assert (tmp_path / "report" / "validation.md").is_file()


def test_the_numbers_do_not_depend_on_the_workers():
    one = validate([SCENARIO], replicates=2, seed=5, workers=1)
    two = validate([SCENARIO], replicates=2, seed=5, workers=2)
    assert one.rows == two.rows
    assert one.curves[SCENARIO].keys() == two.curves[SCENARIO].keys()
    for pair, curve in one.curves[SCENARIO].items():
        assert np.array_equal(curve, two.curves[SCENARIO][pair])


@pytest.mark.parametrize("argv, says", [
    (["no_such_scenario"], "no_such_scenario: no targets in"),
    (["fortified_defense"], "allowed: one of bakhmut_2022_2023, human_wave_foreign_contingent"),
    (["--replicates", "1"], "argument --replicates: 1 is too small; allowed: 2 or more"),
    (["--replicates", "many"], "'many' is not a whole number"),
    (["--workers", "0"], "argument --workers: 0 is too small"),
    (["--claims", "missing.csv"], "missing.csv: cannot read it"),
    (["--claims", "bad.csv"], "bad.csv:5: quantity: 'dead' is not allowed; allowed: "),
    (["--out", "full"], "--out full: exists and is not an empty directory"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, monkeypatch, argv, says):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    with CLAIMS_FILE.open(encoding="utf-8") as f:
        text = f.read()
    (tmp_path / "bad.csv").write_text(text.replace(",killed,attacker/foreign,300,", ",dead,"
                                                   "attacker/foreign,300,", 1))
    before = sorted(tmp_path.rglob("*"))
    status, stdout, stderr = _attrition("validate", *argv, "--no-progress")
    assert status == 2 and stdout == ""
    assert len(stderr.strip().splitlines()) == 1 and says in stderr, stderr
    assert sorted(tmp_path.rglob("*")) == before


def test_a_run_cut_off_at_max_days_ends_after_it():
    """An end date is censored at the horizon: a run stopped by max_days counts as ending
    the day after (it had not ended), one that stopped earlier on its last day."""
    from sim import Scenario
    from sim.validation import _Spec, measure

    spec = [_Spec("end_date", "attacker", None)]
    cut_off = Scenario(max_days=2)
    values, _, last = measure(cut_off, 0, spec, [], 2)
    assert run(cut_off, seed=0).summary["stop_reason"] == "max_days"
    assert (values, last) == ([3.0], 2)
    ended = Scenario(max_days=60)
    summary = run(ended, seed=0).summary
    assert summary["stop_reason"] != "max_days"
    values, _, last = measure(ended, 0, spec, [], 60)
    assert values == [float(summary["days"])] and last == summary["days"]


def test_the_figure_draws_the_days_killed_for_the_claims_of_the_peak():
    """The claims of the deadliest days bring the day's killed as a curve: the flow of
    each day, zero after the run."""
    from sim.validation import DAILY_KILLED, _curves, daily_series

    claims = load_claims()
    pairs = _curves(targets(claims, "bakhmut_2022_2023"))
    assert (DAILY_KILLED, "attacker") in pairs
    daily = pd.DataFrame({"day": [0, 1, 2], "side": "attacker", "contingent": "all",
                          "killed": [0, 5, 3]})
    assert daily_series(daily, DAILY_KILLED, "attacker", 4).tolist() == [0, 5, 3, 0, 0]


def test_targets_a_run_cannot_answer_are_refused_before_any_run(tmp_path):
    """A target dated after the scenario's last day (a run is cut off there, not ended),
    the deadliest days on a scenario without a calendar, and a single replicate are
    refused in one line naming the claims file."""
    def claims_with(**cells):
        rows = list(csv.DictReader(io.StringIO(CLAIMS_FILE.read_text(encoding="utf-8"))))
        row = next(r for r in rows if r["id"] == "nk-losses-jan-2025") | cells
        path = tmp_path / "claims.csv"
        with open(path, "w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerow(row)
        return path

    with pytest.raises(TargetError, match=r"claims\.csv: claim 'nk-losses-jan-2025': "
                                          r"target_date 2025-06-01 is after"):
        prepare([SCENARIO], 2, claims_with(target_date="2025-06-01"))
    undated = claims_with(scenario="fortified_defense", target_date="",
                          quantity="peak_daily_killed", who="attacker", value="100",
                          low="", high="")
    with pytest.raises(TargetError, match="has no start_date"):
        prepare(["fortified_defense"], 2, undated)
    with pytest.raises(TargetError, match="replicates: 1; allowed: 2 or more"):
        prepare([SCENARIO], 1)
