"""Battle records: what real records get wrong is cleaned and reported, what cannot be
cleaned is a one-line error naming the file and the row or column."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest

from sim.records import RecordError, read_record


def _read(text: str, **options):
    return read_record(io.StringIO(text), "battle.csv", **options)


def test_days_are_counted_from_the_first_and_gaps_stay_gaps():
    record, notes = _read("day,defender_strength\n10,500\n11,490\n14,470\n")
    assert record.days == 4
    values = record.observed["defender_strength"]
    assert values[[0, 1, 4]].tolist() == [500, 490, 470]
    assert np.isnan(values[[2, 3]]).all()
    assert notes == ["battle.csv: day 12 missing: not observed",
                     "battle.csv: day 13 missing: not observed"]


def test_a_falling_cumulative_count_is_a_glitch():
    record, notes = _read("day,attacker_casualties\n0,0\n1,50\n2,45\n3,120\n4,160\n")
    assert np.isnan(record.observed["attacker_casualties"][2])
    assert notes == ["battle.csv: attacker_casualties falls on day 2 (45 after 50; its "
                     "neighbours suggest about 80); a cumulative count cannot: dropped"]


def test_an_outlier_is_dropped_and_its_neighbours_kept():
    rows = "\n".join(f"{d},{1000 - 10 * d}" for d in range(12) if d != 6)
    record, notes = _read(f"day,attacker_strength\n{rows}\n6,94\n")
    values = record.observed["attacker_strength"]
    assert np.isnan(values[6]) and np.isfinite(np.delete(values, 6)).all()
    assert notes == ["battle.csv: attacker_strength on day 6 is an outlier (94 against "
                     "about 940 nearby): dropped"]


def test_reinforcements_from_cumulative_column_and_from_a_schedule(tmp_path):
    schedule = tmp_path / "waves.csv"
    schedule.write_text("day,side,persons\n2,defender,300\n")
    record, notes = _read("day,attacker_strength,attacker_reinforcements\n"
                          "0,1000,0\n1,990,0\n2,1480,500\n3,1470,\n4,1460,450\n",
                          reinforcements=schedule)
    assert record.reinforcements[:, 0].tolist() == [0, 0, 500, 0, 0]
    assert record.reinforcements[:, 1].tolist() == [0, 0, 300, 0, 0]
    assert notes == ["battle.csv: attacker_reinforcements falls on day 4 (450 after 500); "
                     "kept at 500"]


def test_known_initial_strengths_are_kept():
    record, _ = _read("day,attacker_strength\n0,1000\n1,990\n", initial_defender=800)
    assert record.initial == {"attacker": None, "defender": 800}


def _csv(columns: dict[str, np.ndarray], first_day: int = 0) -> str:
    """A record CSV of whole persons (empty where NaN), days from ``first_day``."""
    rows = [",".join(["day", *columns])]
    for d in range(len(next(iter(columns.values())))):
        cells = ["" if np.isnan(v[d]) else f"{v[d]:.0f}" for v in columns.values()]
        rows.append(",".join([str(first_day + d), *cells]))
    return "\n".join(rows) + "\n"


def _dropped(record, column: str) -> list[int]:
    return np.flatnonzero(np.isnan(record.observed[column])).tolist()


def test_a_one_day_typo_upwards_in_a_cumulative_count_goes_alone():
    """5000, 5100, 6200 (a typo of 5200), 5300, 5400: the typo is dropped, not the two
    correct days after it (which the running maximum used to drop as falls)."""
    record, notes = _read("day,attacker_casualties\n1,5000\n2,5100\n3,6200\n4,5300\n5,5400\n")
    assert _dropped(record, "attacker_casualties") == [2]
    assert notes[0] == ("battle.csv: attacker_casualties rises on day 3 above the days after "
                        "it (6200, then 5300 on day 4; its neighbours suggest about 5200); a "
                        "cumulative count cannot fall: dropped")


def test_one_day_typos_in_a_noisy_cumulative_count_go_alone():
    """Daily increments of 100 +- 20: a day 1,000 too high and a day 1,000 too low (both
    break the count's rise) are dropped, and only they."""
    rng = np.random.default_rng(7)
    casualties = np.round(np.cumsum(np.r_[0, rng.normal(100, 20, 39)]))
    casualties[[12, 25]] += [1000, -1000]
    record, notes = _read(_csv({"defender_casualties": casualties}))
    assert _dropped(record, "defender_casualties") == [12, 25]
    assert [note.split(" (")[0] for note in notes] == [
        "battle.csv: defender_casualties rises on day 12 above the days after it",
        "battle.csv: defender_casualties falls on day 25"]


def test_a_one_day_dip_in_a_cumulative_count_goes_alone():
    record, notes = _read("day,attacker_casualties\n0,5000\n1,5100\n2,4200\n3,5300\n4,5400\n")
    assert _dropped(record, "attacker_casualties") == [2]
    assert notes[0] == ("battle.csv: attacker_casualties falls on day 2 (4200 after 5100; its "
                        "neighbours suggest about 5200); a cumulative count cannot: dropped")


def test_a_one_day_spike_in_cumulative_reinforcements_is_not_an_arrival():
    """0, 0, 500, 500, 1500, 500, 500: the running maximum made it an arrival of 1,000 on
    day 4 and kept it; now the spike alone is dropped and carries the 500 before it."""
    reinforcements = np.array([0, 0, 500, 500, 1500, 500, 500, 500.0])
    strength = 1000 - 10 * np.arange(8.0) + np.minimum(reinforcements, 500)
    record, notes = _read(_csv({"attacker_strength": strength,
                                "attacker_reinforcements": reinforcements}))
    assert record.reinforcements[:, 0].tolist() == [0, 0, 500, 0, 0, 0, 0, 0]
    assert notes == ["battle.csv: attacker_reinforcements rises on day 4 above the days after "
                     "it (1500, then 500 on day 5); not an arrival: taken as 500"]
    assert np.isfinite(record.observed["attacker_strength"]).all()


@pytest.mark.parametrize(("text", "problem"), [
    ("date,attacker_strength\n0,1\n", "battle.csv: no 'day' column; allowed: day and any of"),
    ("day,attacker_strenght\n0,1\n", "battle.csv: unknown column 'attacker_strenght'"),
    ("day,attacker_reinforcements\n0,1\n", "battle.csv: no observed series"),
    ("day,attacker_strength\n0,1000\n0,990\n", "battle.csv: day 0 appears more than once"),
    ("day,attacker_strength\n0,1000\n1,many\n",
     "battle.csv: row 3, column attacker_strength: 'many' is not a number"),
    ("day,attacker_strength\n0,1000\n1,-5\n",
     "battle.csv: row 3, column attacker_strength: -5 is negative"),
    ("day,attacker_strength\n0.5,1000\n", "battle.csv: row 2, column day: '0.5' is not a day"),
])
def test_what_cannot_be_cleaned_is_one_line(text, problem):
    with pytest.raises(RecordError) as caught:
        _read(text)
    assert str(caught.value).startswith(problem)
    assert "\n" not in str(caught.value)


def test_a_schedule_outside_the_record_is_refused(tmp_path):
    schedule = tmp_path / "waves.csv"
    schedule.write_text("day,side,persons\n9,attacker,100\n")
    with pytest.raises(RecordError, match=r"day 9 is outside the record's days"):
        _read("day,attacker_strength\n0,1000\n1,990\n", reinforcements=schedule)


# ------------------------------------------------------------ attrition calibrate
def _attrition(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def test_calibrate_writes_estimates_and_a_figure(tmp_path):
    """A square-law record with a gap: `attrition calibrate --law square` reports the
    gap, gives the library's fit of the record (whose intervals' coverage
    tests/test_lawfit.py checks over many seeds), and writes estimates.json and fit.png."""
    from sim.lawfit import fit_law, trajectory

    path = trajectory("square", 0.02, 0.03, 1000, 800, 30)
    rng = np.random.default_rng(0)
    rows = [f"{d},{a + rng.normal(0, 5):.1f},{b + rng.normal(0, 5):.1f}"
            for d, (a, b) in enumerate(path) if d != 7]
    (tmp_path / "battle.csv").write_text("day,attacker_strength,defender_strength\n"
                                         + "\n".join(rows) + "\n")
    done = _attrition("calibrate", "battle.csv", "--law", "square", "--out", "fit", "--json",
                      cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    estimates = json.loads(done.stdout)
    assert estimates["notes"] == ["battle.csv: day 7 missing: not observed"]
    square = estimates["fits"][0]["parameters"]
    record, _ = read_record(tmp_path / "battle.csv")
    expected = fit_law(record, "square").as_dict()["parameters"]
    for name in ("alpha", "beta"):
        assert square[name] == pytest.approx(expected[name], rel=1e-9)
    assert json.loads((tmp_path / "fit" / "estimates.json").read_text()) == estimates
    assert (tmp_path / "fit" / "fit.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(("args", "problem"), [
    (["missing.csv"], "missing.csv: no such file"),
    (["bad.csv"], "bad.csv: unknown column 'strength'"),
    (["one_side.csv"], "one_side.csv: the defender's strength is neither observed nor given"),
    (["one_side.csv", "--initial-defender", "-3"], "--initial-defender: -3 is not a positive"),
])
def test_calibrate_bad_input_is_one_line_and_writes_nothing(tmp_path, args, problem):
    (tmp_path / "bad.csv").write_text("day,strength\n0,1\n")
    (tmp_path / "one_side.csv").write_text("day,attacker_strength\n0,100\n1,90\n2,80\n3,72\n")
    before = sorted(p.name for p in tmp_path.iterdir())
    done = _attrition("calibrate", *args, "--out", "fit", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert problem in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before
