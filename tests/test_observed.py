"""The public series of data/ as monthly observations: known values of the shipped files,
synthetic files with known answers, and a one-line error naming file, row and column for
every malformed file."""

from __future__ import annotations

import csv
import datetime
import re

import pandas as pd
import pytest

from sim.observed import (
    CLAIMED_LOSSES_FILE,
    DATA_DIR,
    MAX_TABLE_BYTES,
    NAMED_DEAD_FILES,
    ObservedError,
    claimed_losses_monthly,
    month_range,
    months_shown,
    named_dead_monthly,
    other_figures,
    recruitment_claims,
    recruitment_rates,
)

SHIPPED = ["other_public_figures.csv", "russia_claimed_losses_daily.csv",
           "russia_named_dead_monthly.csv", "russia_recruitment_claims.csv",
           "ukraine_named_dead_monthly.csv"]


# ------------------------------------------------------------------ the shipped data
def test_the_series_ship_in_data_with_a_readme_naming_each():
    assert sorted(p.name for p in DATA_DIR.glob("*.csv")) == SHIPPED
    readme = (DATA_DIR / "README.md").read_text()
    for name in SHIPPED:
        assert f"`{name}`" in readme
    assert "MIT" in readme and "45-65%" in readme and "31 December 2024" in readme


def _cumulative_on(day: str) -> int:
    with CLAIMED_LOSSES_FILE.open(newline="") as file:
        for row in csv.DictReader(file):
            if row["date"] == day:
                return int(row["claimed_personnel_losses_cumulative"])
    raise AssertionError(day)


def test_claimed_losses_are_the_month_end_differences():
    monthly = claimed_losses_monthly("2023-01", "2024-12")
    assert list(monthly.index) == month_range("2023-01", "2024-12")
    assert monthly["2023-01"] == _cumulative_on("2023-01-31") - _cumulative_on("2022-12-31")
    assert monthly["2024-02"] == _cumulative_on("2024-02-29") - _cumulative_on("2024-01-31")
    # The months add up to the claim over the window.
    assert monthly.sum() == _cumulative_on("2024-12-31") - _cumulative_on("2022-12-31")
    assert (monthly > 0).all()


def test_claimed_losses_refuse_months_outside_the_data():
    with pytest.raises(ObservedError, match=r"no value for 2025-01; allowed: months "
                                            r"2022-03 to 2024-12"):
        claimed_losses_monthly("2024-12", "2025-01")
    # February 2022 would need the claim on 31 January 2022, before the data begin.
    with pytest.raises(ObservedError, match="no value for 2022-02;"):
        claimed_losses_monthly("2022-02", "2022-03")
    assert list(claimed_losses_monthly(end="2022-04").index) == ["2022-03", "2022-04"]
    with pytest.raises(ObservedError, match="start: '2023-13' is not a month"):
        claimed_losses_monthly("2023-13")
    with pytest.raises(ObservedError, match="run backwards"):
        claimed_losses_monthly("2024-01", "2023-01")


def test_months_may_be_given_as_dates_or_periods():
    by_text = claimed_losses_monthly("2023-05", "2023-06")
    assert by_text.equals(claimed_losses_monthly(datetime.date(2023, 5, 17),
                                                 pd.Period("2023-06", "M")))


def test_named_dead_of_each_side():
    russia = named_dead_monthly("russia", "2023-01", "2024-12")
    assert list(russia.columns) == ["named_deaths"] and len(russia) == 24
    assert russia.loc["2024-12", "named_deaths"] == 5727
    ukraine = named_dead_monthly("ukraine")
    assert list(ukraine.columns) == ["named_deaths", "named_missing"]
    assert ukraine.index[0] == "2022-02" and ukraine.index[-1] == "2024-12"
    assert ukraine.loc["2024-12"].tolist() == [1664, 3489]
    with pytest.raises(ObservedError, match="no value for 2021-12 to 2022-01"):
        named_dead_monthly("ukraine", "2021-12", "2022-03")
    with pytest.raises(ObservedError, match="side: 'attacker'; allowed: russia, ukraine"):
        named_dead_monthly("attacker")


def test_recruitment_claims_and_their_rates():
    claims = recruitment_claims()
    assert len(claims) == 9
    mobilisation = claims[0]
    assert (mobilisation.persons, mobilisation.cumulative_within_year) == (300_000, False)
    assert all(c.cumulative_within_year for c in claims[1:])
    rates = recruitment_rates(claims)
    year = rates[rates["period_start"] == "2023-01-01"]
    # 185,000 by 4 July (185 days from 1 January), 325,000 by 26 September, 335,000 by
    # 3 October, 452,000 by 1 December, 486,000 by 14 December.
    assert year["persons"].tolist() == [185_000, 140_000, 10_000, 117_000, 34_000]
    assert year["days"].tolist() == [185, 84, 7, 59, 13]
    assert year["persons_per_day"].tolist() == pytest.approx(
        [1000, 140_000 / 84, 10_000 / 7, 117_000 / 59, 34_000 / 13])
    assert year["start"].tolist()[:2] == ["2023-01-01", "2023-07-05"]
    # The year's days are covered once: from 1 January to the last claim.
    assert year["days"].sum() == (datetime.date(2023, 12, 14)
                                  - datetime.date(2023, 1, 1)).days + 1
    # 450,000 "in 2024", said on 3 January 2025, counts until 31 December 2024.
    last = rates[rates["period_start"] == "2024-01-01"].iloc[-1]
    assert (last["start"], last["end"], last["persons"]) == ("2024-12-25", "2024-12-31",
                                                             10_000)


def test_other_figures_are_the_file_rows():
    figures = other_figures()
    raw = list(csv.DictReader((DATA_DIR / "other_public_figures.csv").open(newline="")))
    assert len(figures) == len(raw) == 6
    killed = figures[figures["figure"].str.startswith("Ukraine's own military killed")]
    assert killed["value"].tolist() == [43_000] and killed["as_of"].tolist() == [
        datetime.date(2024, 12, 8)]
    assert figures["value"].isna().sum() == 3 and figures["row"].tolist() == list(range(2, 8))


def test_months_shown_in_runs():
    assert months_shown(["2024-12", "2025-01", "2025-03"]) == "2024-12 to 2025-01, 2025-03"
    assert month_range("2024-12", "2024-12") == ["2024-12"]


# ------------------------------------------------------------------ synthetic files
def _daily_file(path, rates: dict[str, int], first: str, last: str) -> dict[str, int]:
    """A cumulative daily claim adding ``rates[month]`` persons a day; returns each
    month's expected increment."""
    total, lines, expected = 0, ["date,claimed_personnel_losses_cumulative"], {}
    for day in pd.date_range(first, last, freq="D"):
        month = day.strftime("%Y-%m")
        total += rates[month]
        expected[month] = expected.get(month, 0) + rates[month]
        lines.append(f"{day.date()},{total}")
    path.write_text("\r\n".join(lines) + "\r\n")  # CRLF, as the shipped file
    return expected


def test_a_synthetic_daily_claim_gives_its_monthly_increments(tmp_path):
    path = tmp_path / "claims.csv"
    expected = _daily_file(path, {"2024-12": 7, "2025-01": 100, "2025-02": 50,
                                  "2025-03": 10}, "2024-12-01", "2025-03-31")
    monthly = claimed_losses_monthly(path=path)
    # December is not counted: its start needs 30 November, which is not in the file.
    assert monthly.to_dict() == {"2025-01": 3100, "2025-02": 1400, "2025-03": 310}
    assert monthly.to_dict() == {m: v for m, v in expected.items() if m != "2024-12"}
    with pytest.raises(ObservedError, match=re.escape(
            f"{path}: no value for 2024-12; allowed: months 2025-01 to 2025-03")):
        claimed_losses_monthly("2024-12", path=path)


def test_a_month_whose_last_day_is_missing_is_refused_not_guessed(tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text("date,claimed_personnel_losses_cumulative\n2024-12-31,0\n"
                    "2025-01-31,100\n2025-02-27,150\n2025-03-31,300\n")
    assert claimed_losses_monthly(path=path).to_dict() == {"2025-01": 100}
    with pytest.raises(ObservedError, match="no value for 2025-02 to 2025-03"):
        claimed_losses_monthly("2025-01", "2025-03", path=path)


def test_rows_in_any_order(tmp_path):
    path = tmp_path / "claims.csv"
    path.write_text("date,claimed_personnel_losses_cumulative\n2025-01-31,100\n"
                    "2024-12-31,40\n")
    assert claimed_losses_monthly(path=path).to_dict() == {"2025-01": 60}


def test_a_running_total_that_falls_is_refused_naming_both_rows(tmp_path):
    path = tmp_path / "recruits.csv"
    path.write_text("as_of,period_start,persons,what,who_said,note\n"
                    "2025-03-01,2025-01-01,100000,signed,someone,\n"
                    "2025-06-01,2025-01-01,90000,signed,someone else,\n")
    with pytest.raises(ObservedError, match=re.escape(
            f"{path}: row 3, column persons: 90,000 by 2025-06-01 is below 100,000 by "
            f"2025-03-01 (row 2)")):
        recruitment_rates(recruitment_claims(path))


def test_two_claims_counted_until_the_same_day_are_refused(tmp_path):
    path = tmp_path / "recruits.csv"
    path.write_text("as_of,period_start,persons,what,who_said,note\n"
                    "2024-12-31,2024-01-01,100000,signed,a,\n"
                    "2025-01-05,2024-01-01,120000,in 2024,b,\n")
    with pytest.raises(ObservedError, match=r"row 3, column as_of: counts until "
                                            r"2024-12-31, as row 2 does"):
        recruitment_rates(recruitment_claims(path))


# ------------------------------------------------------------------ malformed files
CLAIMS_HEADER = "date,claimed_personnel_losses_cumulative\n"
RECRUIT_HEADER = "as_of,period_start,persons,what,who_said,note\n"
MALFORMED = {
    # case: (reader, text, the message's fragments)
    "bad date": (claimed_losses_monthly, CLAIMS_HEADER + "2024-12-31,5\n2024-13-01,9\n",
                 ["row 3, column date: '2024-13-01' is not a date; allowed: a date as "
                  "YYYY-MM-DD"]),
    "date not ISO": (claimed_losses_monthly, CLAIMS_HEADER + "31/12/2024,5\n",
                     ["row 2, column date: '31/12/2024' is not a date"]),
    "not a number": (claimed_losses_monthly, CLAIMS_HEADER + "2024-12-31,about 5\n",
                     ["row 2, column claimed_personnel_losses_cumulative: 'about 5' is not a "
                      "number; allowed: a whole number of persons"]),
    "thousands separator": (claimed_losses_monthly, CLAIMS_HEADER + '2024-12-31,"1,000"\n',
                            ["row 2, column claimed_personnel_losses_cumulative: '1,000' is "
                             "not a number"]),
    "inf": (claimed_losses_monthly, CLAIMS_HEADER + "2024-12-31,inf\n",
            ["row 2, column claimed_personnel_losses_cumulative: 'inf' is not a number"]),
    "negative": (claimed_losses_monthly, CLAIMS_HEADER + "2024-12-31,-5\n",
                 ["row 2, column claimed_personnel_losses_cumulative: -5 is out of range; "
                  "allowed: a whole number of persons from 0 to 1,000,000,000"]),
    "fraction": (claimed_losses_monthly, CLAIMS_HEADER + "2024-12-31,5.5\n",
                 ["row 2, column claimed_personnel_losses_cumulative: 5.5 is not a whole "
                  "number"]),
    "too large": (claimed_losses_monthly, CLAIMS_HEADER + "2024-12-31,1e12\n",
                  ["row 2, column claimed_personnel_losses_cumulative: 1e12 is out of range"]),
    "empty cell": (claimed_losses_monthly, CLAIMS_HEADER + "2024-12-31,\n",
                   ["row 2, column claimed_personnel_losses_cumulative: empty"]),
    "repeated date": (claimed_losses_monthly,
                      CLAIMS_HEADER + "2024-12-31,5\n2025-01-31,9\n2024-12-31,6\n",
                      ["row 4, column date: date repeats row 2; allowed: one row per date"]),
    "falling count": (claimed_losses_monthly,
                      CLAIMS_HEADER + "2024-12-31,500\n2025-01-31,400\n",
                      ["row 3, column claimed_personnel_losses_cumulative: 400 on 2025-01-31 "
                       "is below 500 on 2024-12-31 (row 2); allowed: a cumulative count "
                       "that never falls"]),
    "missing column": (claimed_losses_monthly, "date,claimed\n2024-12-31,5\n",
                       ["row 1: unknown column 'claimed'; allowed: date, "
                        "claimed_personnel_losses_cumulative"]),
    "column missing": (claimed_losses_monthly, "date\n2024-12-31\n",
                       ["row 1: no 'claimed_personnel_losses_cumulative' column"]),
    "repeated column": (claimed_losses_monthly, "date,date\n2024-12-31,2024-12-31\n",
                        ["row 1: column 'date' appears more than once"]),
    "ragged row": (claimed_losses_monthly, CLAIMS_HEADER + "2024-12-31,5\n2025-01-31,9,3\n",
                   ["row 3 has 3 cells, the header 2; allowed: as many cells in each row "
                    "as in the header"]),
    "header only": (claimed_losses_monthly, CLAIMS_HEADER, ["no rows; allowed: a header row"]),
    "empty file": (claimed_losses_monthly, "", ["no header; allowed: a header row"]),
    "cell over two lines": (claimed_losses_monthly, CLAIMS_HEADER + '2024-12-31,"5\n6"\n',
                            ["row 3: a cell spans lines"]),
    "NUL": (claimed_losses_monthly, CLAIMS_HEADER + "2024-12-31,5\x00\n",
            ["row 2: a NUL character"]),
    "bad month": (lambda path: named_dead_monthly("russia", path=path),
                  "month,named_deaths\n2024-12,5\n2025-1,7\n",
                  ["row 3, column month: '2025-1' is not a month; allowed: a month as "
                   "YYYY-MM"]),
    "repeated month": (lambda path: named_dead_monthly("russia", path=path),
                       "month,named_deaths\n2024-12,5\n2024-12,7\n",
                       ["row 3, column month: month repeats row 2"]),
    "Ukrainian file without missing": (lambda path: named_dead_monthly("ukraine", path=path),
                                       "month,named_deaths\n2024-12,5\n",
                                       ["row 1: no 'named_missing' column"]),
    "missing not a count": (lambda path: named_dead_monthly("ukraine", path=path),
                            "month,named_deaths,named_missing\n2024-12,5,many\n",
                            ["row 2, column named_missing: 'many' is not a number"]),
    "period after the claim": (recruitment_claims,
                               RECRUIT_HEADER + "2025-03-01,2025-04-01,5000,signed,a,\n",
                               ["row 2, column period_start: 2025-04-01 is after as_of "
                                "2025-03-01"]),
    "persons not a number": (recruitment_claims,
                             RECRUIT_HEADER + "2025-03-01,2025-01-01,lots,signed,a,\n",
                             ["row 2, column persons: 'lots' is not a number"]),
    "same claim twice": (recruitment_claims,
                         RECRUIT_HEADER + "2025-03-01,2025-01-01,5,a,b,\n"
                                          "2025-03-01,2025-01-01,6,a,c,\n",
                         ["row 3, column as_of: claim of a period and date repeats row 2"]),
    "figure's date": (other_figures, "as_of,figure,value,unit,who_said,note\n"
                                     "March 2025,troops,3000,persons,a,\n",
                      ["row 2, column as_of: 'March 2025' is not a date"]),
    "figure's value": (other_figures, "as_of,figure,value,unit,who_said,note\n"
                                      "2025-03-01,troops,about 3000,persons,a,\n",
                       ["row 2, column value: 'about 3000' is not a number"]),
    "figure unnamed": (other_figures, "as_of,figure,value,unit,who_said,note\n"
                                      "2025-03-01,,3000,persons,a,\n",
                       ["row 2, column figure: empty"]),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_file_is_one_line_naming_file_row_and_column(tmp_path, case):
    reader, text, fragments = MALFORMED[case]
    path = tmp_path / "series.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ObservedError) as caught:
        reader(path=path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}: "), message
    for fragment in fragments:
        assert fragment in message, message


def test_files_that_cannot_be_read_are_one_line(tmp_path):
    with pytest.raises(ObservedError, match="nowhere.csv: no such file"):
        claimed_losses_monthly(path=tmp_path / "nowhere.csv")
    with pytest.raises(ObservedError, match="folder: not a file"):
        (tmp_path / "folder").mkdir()
        claimed_losses_monthly(path=tmp_path / "folder")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(CLAIMS_HEADER.encode() + "2024-12-31,5 \xe9\n".encode("latin-1"))
    with pytest.raises(ObservedError, match=r"latin.csv: row 2: not UTF-8 text"):
        claimed_losses_monthly(path=latin)
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as file:
        file.truncate(MAX_TABLE_BYTES + 1)  # sparse: nothing is written, nothing read
    with pytest.raises(ObservedError, match=f"huge.csv: {MAX_TABLE_BYTES + 1:,} bytes; "
                                            f"allowed: a CSV file of at most"):
        claimed_losses_monthly(path=huge)


def test_the_shipped_files_pass_every_check():
    """Each reader on each shipped file: a check added later that the data fail is seen
    here, not in a calibration."""
    assert len(claimed_losses_monthly()) == 34
    for side in NAMED_DEAD_FILES:
        assert len(named_dead_monthly(side)) == 35
    assert len(recruitment_rates()) == 9
    assert len(other_figures()) == 6


def test_a_count_too_large_for_a_float_is_out_of_range(tmp_path):
    """1e400 reads as infinity: refused in one line, not a crash (hypothesis found it)."""
    from sim.forecast import ForecastError, read_scoring_record

    path = tmp_path / "named.csv"
    path.write_text("month,named_deaths\n2025-01,1e400\n")
    with pytest.raises(ForecastError, match="row 2, column named_deaths: 1e400 is out of"):
        read_scoring_record(path)
