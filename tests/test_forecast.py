"""Forecast files and their score, on synthetic data with a known answer: coverage of the
intervals, error of the mean, raw public series turned into monthly values, a file
written whole or not at all, and one line naming file, row and column for every
malformed input."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.forecast import (
    COLUMNS,
    FORMAT_LINE,
    PROVENANCE_KEYS,
    QUANTITIES,
    SCORE_COLUMNS,
    ForecastError,
    combine_records,
    coverage_interval,
    format_score,
    make_provenance,
    read_forecast,
    read_scoring_record,
    scenario_sha256,
    score,
    score_json,
    score_report,
    write_forecast,
    write_score,
)
from sim.observed import month_range

MONTHS = month_range("2025-01", "2025-12")
#: A year of claimed losses, persons/month, rising as the 2024 claims did.
VALUES = [30_000.0 + 1_000 * i for i in range(12)]


def provenance(**changes):
    """The same provenance at every call (made at a fixed time)."""
    base = make_provenance("theatre_2023_2024", "0" * 64, seed=7, replicates=40,
                           calibration_window=("2023-01-01", "2024-12-31"))
    return {**base, "created": "2025-01-02T03:04:05+00:00", **changes}


def forecast_table(means, lows, highs, quantity="claimed_losses", who="attacker",
                   level=0.9, months=MONTHS) -> pd.DataFrame:
    return pd.DataFrame({"month": months, "quantity": quantity, "who": who,
                         "mean": means, "low": lows, "high": highs, "level": level,
                         "replicates": 40})


def record_table(values, quantity="claimed_losses", who="attacker",
                 months=MONTHS) -> pd.DataFrame:
    return pd.DataFrame({"month": months, "quantity": quantity, "who": who,
                         "value": values})


def only_row(scores: pd.DataFrame, quantity="claimed_losses", who="attacker") -> dict:
    rows = scores[(scores["quantity"] == quantity) & (scores["who"] == who)]
    assert len(rows) == 1
    return rows.to_dict("records")[0]


# ------------------------------------------------------------------ the quantities
def test_every_quantity_has_a_unit_and_a_meaning():
    assert list(QUANTITIES)[:4] == ["claimed_losses", "named_dead", "force_in_line",
                                    "recruits_needed"]
    assert {"recruited", "killed", "wounded"} <= set(QUANTITIES)
    for name, quantity in QUANTITIES.items():
        assert quantity.name == name and quantity.unit.startswith("persons")
        assert len(quantity.meaning) > 15
    assert QUANTITIES["force_in_line"].unit == "persons"
    assert [q for q in QUANTITIES.values() if q.signed] == [QUANTITIES["net_change"]]


# ------------------------------------------------------------------ the score
def test_intervals_covering_9_of_12_months_give_coverage_075():
    values = np.array(VALUES)
    lows, highs = values - 500, values + 500
    # Three months fall outside: two above the interval, one below.
    record = values.copy()
    record[[2, 3]] += 800
    record[10] -= 900
    row = only_row(score(forecast_table(values, lows, highs), record_table(record)))
    assert row["months"] == 12 and row["covered"] == 9
    assert row["coverage"] == 0.75 and row["level"] == pytest.approx(0.9)
    assert row["missed_above"] == ["2025-03", "2025-04"]
    assert row["missed_below"] == ["2025-11"]
    # The exact binomial 90% interval of 9 of 12: the Clopper-Pearson bounds.
    assert row["coverage_low"] == pytest.approx(stats.beta.ppf(0.05, 9, 4))
    assert row["coverage_high"] == pytest.approx(stats.beta.ppf(0.95, 10, 3))
    assert row["coverage_low"] < 0.9 < row["coverage_high"]
    assert row["nominal_in_interval"] is True  # 9 of 12 at 90%: could be noise


def test_a_value_on_the_interval_s_edge_is_inside():
    values = np.array(VALUES)
    row = only_row(score(forecast_table(values, values, values + 10), record_table(values)))
    assert row["coverage"] == 1.0 and row["missed_below"] == []


def test_a_shortfall_beyond_noise_is_flagged():
    values = np.array(VALUES)
    # Intervals that miss 9 of 12 months: 25% coverage at a nominal 90%.
    record = values.copy()
    record[:9] += 5_000
    row = only_row(score(forecast_table(values, values - 10, values + 10),
                         record_table(record)))
    assert row["coverage"] == 0.25 and row["nominal_in_interval"] is False
    assert row["coverage_high"] < 0.9


def test_a_mean_100_above_the_record_gives_mean_error_100():
    values = np.array(VALUES)
    row = only_row(score(forecast_table(values + 100, values, values + 200),
                         record_table(values)))
    assert row["mean_error"] == pytest.approx(100.0)
    assert row["mean_absolute_error"] == pytest.approx(100.0)
    assert row["mean_relative_error"] == pytest.approx(np.mean(100.0 / values))
    assert row["coverage"] == 1.0


def test_errors_of_both_signs_cancel_in_the_mean_error_not_in_the_absolute():
    values = np.array(VALUES)
    means = values + np.where(np.arange(12) % 2 == 0, 300.0, -300.0)
    row = only_row(score(forecast_table(means, means - 1000, means + 1000),
                         record_table(values)))
    assert row["mean_error"] == pytest.approx(0.0, abs=1e-9)
    assert row["mean_absolute_error"] == pytest.approx(300.0)


def test_a_month_of_value_0_is_left_out_of_the_relative_error_and_said():
    row = only_row(score(forecast_table([10.0, 110.0], [0.0, 0.0], [20.0, 200.0],
                                        months=MONTHS[:2]),
                         record_table([0.0, 100.0], months=MONTHS[:2])))
    assert row["mean_error"] == pytest.approx(10.0)
    assert row["mean_relative_error"] == pytest.approx(0.1)
    assert "1 month(s) of value 0 left out of the relative error" in row["note"]


def test_months_in_one_file_only_are_named_not_dropped_silently():
    values = np.array(VALUES)
    forecast = forecast_table(values, values - 10, values + 10)
    # The record: December 2024 (before the forecast) and January to June 2025.
    record = record_table([1.0] + list(values[:6]), months=["2024-12", *MONTHS[:6]])
    scores = score(forecast, record)
    row = only_row(scores)
    assert row["months"] == 6 and row["coverage"] == 1.0
    assert row["note"] == ("2025-07 to 2025-12 in the forecast, not in the record; "
                           "2024-12 in the record, not in the forecast")


def test_a_quantity_or_side_in_one_file_only_gets_a_row_of_no_months():
    values = np.array(VALUES)
    forecast = pd.concat([forecast_table(values, values - 10, values + 10),
                          forecast_table(values, values - 10, values + 10, who="defender")])
    record = pd.concat([record_table(values),
                        record_table(values, quantity="named_dead", who="defender")])
    scores = score(forecast, record)
    assert list(scores.columns) == list(SCORE_COLUMNS)
    assert only_row(scores, who="defender")["note"] == "not in the record"
    named = only_row(scores, "named_dead", "defender")
    assert named["months"] == 0 and named["note"] == "not in the forecast"
    assert math.isnan(named["coverage"])


def test_nothing_in_common_is_an_error_saying_what_each_covers():
    values = np.array(VALUES)
    with pytest.raises(ForecastError, match=re.escape(
            "nothing to score: no month of a quantity and side is in both the forecast "
            "(2025-01 to 2025-12) and the record (2024-01 to 2024-12)")):
        score(forecast_table(values, values, values),
              record_table(values, months=month_range("2024-01", "2024-12")))


def test_levels_that_differ_by_month_are_averaged_and_said():
    values = np.array(VALUES)
    forecast = forecast_table(values, values, values, level=[0.8] * 6 + [0.9] * 6)
    row = only_row(score(forecast, record_table(values)))
    assert row["level"] == pytest.approx(0.85)
    assert "levels differ by month (0.8 to 0.9)" in row["note"]


def test_coverage_interval_of_no_months_is_nan():
    assert all(math.isnan(x) for x in coverage_interval(0, 0))
    assert coverage_interval(12, 12)[1] == 1.0 and coverage_interval(0, 12)[0] == 0.0


# ------------------------------------------------------------------ the file
def test_a_forecast_is_written_whole_and_read_back_exactly(tmp_path):
    values = np.array(VALUES) + 0.1  # floats that are not round in binary
    table = pd.concat([forecast_table(values, values - 1e3 / 3, values + 0.3),
                       forecast_table(values * 2, values, values * 3, quantity="killed",
                                      who="defender")])
    path = tmp_path / "forecast.csv"
    assert write_forecast(table.sample(frac=1, random_state=1), path, provenance()) == path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["forecast.csv"]  # no .tmp- file
    lines = path.read_text().splitlines()
    assert lines[0] == f"# {FORMAT_LINE}" and lines[1].startswith("# provenance: {")
    assert lines[2] == ",".join(COLUMNS)
    forecast = read_forecast(path)
    assert forecast.provenance == provenance() and forecast.source == str(path)
    assert set(PROVENANCE_KEYS) <= set(forecast.provenance)
    # Sorted by month, then quantity in QUANTITIES order, then side; values exact.
    expected = table.sort_values(["month", "who"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(forecast.table, expected, check_dtype=False)
    # pandas reads it too, skipping the provenance.
    assert len(pd.read_csv(path, comment="#")) == 24


def test_a_bad_table_is_refused_before_anything_is_written(tmp_path):
    path = tmp_path / "forecast.csv"
    path.write_text("the previous forecast\n")
    values = np.array(VALUES)
    bad = forecast_table(values, values + 1, values + 2)  # mean below low
    with pytest.raises(ForecastError, match=r"table \(not written\): row 4, column mean: "
                                            r"30,000 is outside low 30,001 to high 30,002"):
        write_forecast(bad, path, provenance())
    assert path.read_text() == "the previous forecast\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["forecast.csv"]
    with pytest.raises(ForecastError, match="provenance: no key 'seed'"):
        write_forecast(forecast_table(values, values, values), path,
                       {k: v for k, v in provenance().items() if k != "seed"})
    with pytest.raises(ForecastError, match="table: unknown column 'median'"):
        write_forecast(forecast_table(values, values, values).assign(median=1.0), path,
                       provenance())
    with pytest.raises(ForecastError, match="nowhere/forecast.csv: cannot write"):
        write_forecast(forecast_table(values, values, values), tmp_path / "nowhere" /
                       "forecast.csv", provenance())


def test_provenance_of_a_scenario():
    from sim import Scenario

    digest = scenario_sha256(Scenario())
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert digest == scenario_sha256(Scenario()) != scenario_sha256(Scenario(max_days=3))
    made = make_provenance("reference", digest, 0, 10, ("2023-01-01", "2024-12-31"),
                           scenario_file="scenarios/theatre.toml")
    assert made["scenario_file"] == "scenarios/theatre.toml"
    assert made["calibration_window"] == ["2023-01-01", "2024-12-31"]
    with pytest.raises(ForecastError, match=r"provenance: calibration_window: "
                                            r"\[\"2024-12-31\", \"2023-01-01\"\]"):
        make_provenance("x", digest, 0, 10, ("2024-12-31", "2023-01-01"))


# ------------------------------------------------------------------ records
def _claims_file(path, first: str, last: str, per_day: dict[str, int]) -> None:
    total, lines = 1_000, ["date,claimed_personnel_losses_cumulative"]
    for day in pd.date_range(first, last, freq="D"):
        total += per_day[day.strftime("%Y-%m")]
        lines.append(f"{day.date()},{total}")
    path.write_text("\r\n".join(lines) + "\r\n")


def test_a_daily_cumulative_record_becomes_the_attacker_s_monthly_claimed_losses(tmp_path):
    path = tmp_path / "claims_2025.csv"
    per_day = {"2024-12": 1, "2025-01": 1_000, "2025-02": 1_200, "2025-03": 1_500}
    _claims_file(path, "2024-12-31", "2025-03-31", per_day)
    record = read_scoring_record(path)
    assert record.kind == "claimed_losses_daily" and record.notes == ()
    assert record.table[["month", "quantity", "who", "value"]].to_dict("list") == {
        "month": ["2025-01", "2025-02", "2025-03"],
        "quantity": ["claimed_losses"] * 3, "who": ["attacker"] * 3,
        "value": [31_000.0, 33_600.0, 46_500.0]}
    # The rows of each month's last day (header row 1, 31 Dec 2024 row 2).
    assert record.table["row"].tolist() == [33, 61, 92]


def test_a_daily_record_starting_mid_month_names_the_month_it_cannot_count(tmp_path):
    path = tmp_path / "claims.csv"
    _claims_file(path, "2025-01-10", "2025-02-28", {"2025-01": 10, "2025-02": 20})
    record = read_scoring_record(path)
    assert record.table["month"].tolist() == ["2025-02"]
    assert record.table["value"].tolist() == [560.0]
    assert record.notes == (f"{path}: claimed_losses attacker of 2025-01 cannot be counted "
                            f"(a month needs the cumulative claim on its last day and on the "
                            f"last day of the month before): not scored",)


def test_named_dead_lists_are_each_side_s_named_dead(tmp_path):
    russia, ukraine = tmp_path / "ru.csv", tmp_path / "ua.csv"
    russia.write_text("month,named_deaths\n2025-01,4000\n2025-02,4100\n")
    ukraine.write_text("month,named_deaths,named_missing\n2025-02,1500,3000\n")
    ru, ua = read_scoring_record(russia), read_scoring_record(ukraine)
    assert ru.table[["month", "quantity", "who", "value", "row"]].values.tolist() == [
        ["2025-01", "named_dead", "attacker", 4000.0, 2],
        ["2025-02", "named_dead", "attacker", 4100.0, 3]]
    assert ua.table[["month", "who", "value"]].values.tolist() == [
        ["2025-02", "defender", 1500.0]]
    assert any("named_missing is not scored" in n for n in ua.notes)
    assert any("lower bound" in n for n in ru.notes)
    both = combine_records([ru, ua])
    assert len(both.table) == 3 and len(both.notes) == 3


def test_the_shipped_series_are_records():
    from sim.observed import CLAIMED_LOSSES_FILE, NAMED_DEAD_FILES, claimed_losses_monthly

    claimed = read_scoring_record(CLAIMED_LOSSES_FILE)
    assert claimed.table.set_index("month")["value"].to_dict() == {
        m: float(v) for m, v in claimed_losses_monthly().items()}
    assert "2022-02 cannot be counted" in claimed.notes[0]
    for side, who in (("russia", "attacker"), ("ukraine", "defender")):
        named = read_scoring_record(NAMED_DEAD_FILES[side])
        assert (named.table["who"] == who).all() and len(named.table) == 35


def test_two_records_giving_the_same_month_are_refused_naming_both(tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    first.write_text("month,named_deaths\n2025-01,4000\n")
    second.write_text("month,quantity,who,value\n2025-02,killed,attacker,9\n"
                      "2025-01,named_dead,attacker,4100\n")
    with pytest.raises(ForecastError, match=re.escape(
            f"{second}: row 3, column month: 2025-01 named_dead attacker is also in "
            f"{first} (row 2)")):
        combine_records([read_scoring_record(first), read_scoring_record(second)])


def test_a_forecast_written_by_one_call_is_scored_by_another(tmp_path):
    """The issue's acceptance, on synthetic data with a known answer: a forecast for
    2025 written, a record of 2025 in the raw daily format, the score as expected."""
    means = np.array([31_000.0, 33_000.0, 46_000.0])
    table = forecast_table(means, means - 2_000, means + 2_000, months=MONTHS[:3])
    write_forecast(table, tmp_path / "forecast.csv", provenance())
    _claims_file(tmp_path / "claims.csv", "2024-12-31", "2025-03-31",
                 {"2024-12": 1, "2025-01": 1_000, "2025-02": 1_200, "2025-03": 1_500})
    forecast = read_forecast(tmp_path / "forecast.csv")
    record = read_scoring_record(tmp_path / "claims.csv")
    row = only_row(score(forecast, record))
    # Recorded 31,000, 33,600 and 46,500: every month inside, errors 0, -600 and -500.
    assert row["coverage"] == 1.0 and row["months"] == 3
    assert row["mean_error"] == pytest.approx(-1_100 / 3)
    assert row["mean_absolute_error"] == pytest.approx(1_100 / 3)
    report = score_report(forecast, [record], score(forecast, record))
    text = format_score(report)
    assert "claimed_losses  attacker  3" in text and "100% (3/3)" in text
    assert "-367" in text and "90%" in text
    assert json.loads(score_json(report))["scores"][0]["coverage"] == 1.0
    out = tmp_path / "out"
    out.mkdir()
    write_score(out, report)
    assert json.loads((out / "score.json").read_text()) == json.loads(score_json(report))
    assert pd.read_csv(out / "score.csv")["coverage"].tolist() == [1.0]


# ------------------------------------------------------------------ malformed input
GOOD_ROW = "2025-01,claimed_losses,attacker,100,90,110,0.9,40"
HEADER = ",".join(COLUMNS)


def _forecast_text(rows=(GOOD_ROW,), header=HEADER, **changes) -> str:
    line = json.dumps(provenance(**changes))
    return f"# {FORMAT_LINE}\n# provenance: {line}\n{header}\n" + "\n".join(rows) + "\n"


MALFORMED_FORECASTS = {
    # case: (file text, the message's fragments after the file's name)
    "no format line": ("month,quantity\n2025-01,killed\n",
                       ": row 1: not a forecast file (no '# attrition-sim forecast, format 1' "
                       "line)"),
    "no provenance": (f"# {FORMAT_LINE}\n{','.join(COLUMNS)}\n{GOOD_ROW}\n",
                      ": 0 '# provenance:' lines; allowed: one"),
    "provenance not JSON": (f"# {FORMAT_LINE}\n# provenance: {{seed: 1}}\n"
                            f"{','.join(COLUMNS)}\n{GOOD_ROW}\n",
                            ": row 2: the provenance is not JSON"),
    "provenance NaN": (_forecast_text().replace('"seed": 7', '"seed": NaN'),
                       ": row 2: the provenance is not JSON (NaN is not a JSON number)"),
    "provenance seed": (_forecast_text(seed=-1), ": row 2: provenance: seed: -1; allowed: a "
                                                 "whole number from 0"),
    "provenance hash": (_forecast_text(scenario_sha256="abc"),
                        ": row 2: provenance: scenario_sha256: \"abc\""),
    "provenance created": (_forecast_text(created="yesterday"),
                           ": row 2: provenance: created: \"yesterday\""),
    "unknown column": (_forecast_text(header=",".join(COLUMNS) + ",median",
                                      rows=[GOOD_ROW + ",5"]),
                       ": row 3: unknown column 'median'"),
    "column missing": (_forecast_text(header=",".join(COLUMNS[:-1]),
                                      rows=[GOOD_ROW.rsplit(",", 1)[0]]),
                       ": row 3: no 'replicates' column"),
    "month": (_forecast_text(rows=[GOOD_ROW.replace("2025-01", "2025-13")]),
              ": row 4, column month: '2025-13' is not a month; allowed: a month as YYYY-MM"),
    "month as a date": (_forecast_text(rows=[GOOD_ROW.replace("2025-01", "2025-01-31")]),
                        ": row 4, column month: '2025-01-31' is not a month"),
    "quantity": (_forecast_text(rows=[GOOD_ROW.replace("claimed_losses", "claimed")]),
                 ": row 4, column quantity: 'claimed' is unknown; allowed: claimed_losses, "
                 "named_dead"),
    "who": (_forecast_text(rows=[GOOD_ROW.replace("attacker", "russia")]),
            ": row 4, column who: 'russia' is unknown; allowed: attacker, defender"),
    "mean not a number": (_forecast_text(rows=[GOOD_ROW.replace(",100,", ",nan,")]),
                          ": row 4, column mean: 'nan' is not a number"),
    "low above mean": (_forecast_text(rows=[GOOD_ROW.replace(",90,", ",101,")]),
                       ": row 4, column mean: 100 is outside low 101 to high 110; allowed: "
                       "low <= mean <= high"),
    "negative killed": (_forecast_text(rows=["2025-01,killed,attacker,-1,-2,0,0.9,40"]),
                        ": row 4, column mean: -1 is out of range; allowed: a number from 0 "
                        "to 1,000,000,000 (killed: persons/month, never negative)"),
    "level 1": (_forecast_text(rows=[GOOD_ROW.replace(",0.9,", ",1,")]),
                ": row 4, column level: 1 is not strictly between 0 and 1"),
    "level 90": (_forecast_text(rows=[GOOD_ROW.replace(",0.9,", ",90,")]),
                 ": row 4, column level: 90 is out of range"),
    "replicates 0": (_forecast_text(rows=[GOOD_ROW.replace(",40", ",0")]),
                     ": row 4, column replicates: 0 is out of range; allowed: a whole number "
                     "from 1 to the provenance's 40"),
    "replicates 2.5": (_forecast_text(rows=[GOOD_ROW.replace(",40", ",2.5")]),
                       ": row 4, column replicates: 2.5 is not a whole number"),
    "more replicates than run": (_forecast_text(rows=[GOOD_ROW.replace(",40", ",41")]),
                                 ": row 4, column replicates: 41 is out of range"),
    "repeated row": (_forecast_text(rows=[GOOD_ROW, GOOD_ROW]),
                     ": row 5, column month: 2025-01 claimed_losses attacker repeats row 4"),
    "ragged row": (_forecast_text(rows=[GOOD_ROW + ",1"]),
                   ": row 4 has 9 cells, the header 8"),
    "header only": (_forecast_text(rows=[]), ": no rows"),
}


@pytest.mark.parametrize("case", MALFORMED_FORECASTS)
def test_a_malformed_forecast_is_one_line_naming_file_row_and_column(tmp_path, case):
    text, fragment = MALFORMED_FORECASTS[case]
    path = tmp_path / "forecast.csv"
    path.write_text(text)
    with pytest.raises(ForecastError) as caught:
        read_forecast(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(str(path)), message
    assert f"{path}{fragment}" in message, message


MALFORMED_RECORDS = {
    "unknown header": ("day,killed\n1,5\n",
                       ": row 1: header 'day,killed' is not a record's; allowed: "
                       "month,quantity,who,value; or a series of data/"),
    "a forecast given as a record": (_forecast_text(),
                                     ": row 1: a forecast file, not a record"),
    "tidy value": ("month,quantity,who,value\n2025-01,killed,attacker,many\n",
                   ": row 2, column value: 'many' is not a number"),
    "tidy negative": ("month,quantity,who,value\n2025-01,killed,attacker,-5\n",
                      ": row 2, column value: -5 is out of range"),
    "tidy repeated": ("month,quantity,who,value\n2025-01,killed,attacker,5\n"
                      "2025-01,killed,attacker,6\n",
                      ": row 3, column month: 2025-01 killed attacker repeats row 2"),
    "tidy side": ("month,quantity,who,value\n2025-01,killed,Russia,5\n",
                  ": row 2, column who: 'Russia' is unknown"),
    "daily claim falls": ("date,claimed_personnel_losses_cumulative\n2024-12-31,500\n"
                          "2025-01-31,499\n",
                          ": row 3, column claimed_personnel_losses_cumulative: 499 on "
                          "2025-01-31 is below 500 on 2024-12-31 (row 2)"),
    "named month": ("month,named_deaths\nJan 2025,5\n",
                    ": row 2, column month: 'Jan 2025' is not a month"),
    "empty": ("", ": no header"),
}


@pytest.mark.parametrize("case", MALFORMED_RECORDS)
def test_a_malformed_record_is_one_line_naming_file_row_and_column(tmp_path, case):
    text, fragment = MALFORMED_RECORDS[case]
    path = tmp_path / "record.csv"
    path.write_text(text)
    with pytest.raises(ForecastError) as caught:
        read_scoring_record(path)
    message = str(caught.value)
    assert "\n" not in message and f"{path}{fragment}" in message, message


def test_a_signed_quantity_may_be_negative(tmp_path):
    path = tmp_path / "forecast.csv"
    path.write_text(_forecast_text(rows=["2025-01,net_change,defender,-50,-80,20,0.9,40"]))
    assert read_forecast(path).table["mean"].tolist() == [-50.0]
