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
    assert notes == ["battle.csv: attacker_casualties rises on day 3 above the days after it "
                     "(6200, then 5300 on day 4; its neighbours suggest about 5200); a "
                     "cumulative count cannot fall: dropped",
                     "battle.csv: attacker_casualties is 5000 on the first day (day 1): the "
                     "record starts mid-battle; the law fits take the casualties before it "
                     "as an offset"]


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


def test_typos_that_keep_a_count_rising_are_caught_by_the_line_through_their_neighbours():
    """Daily increments of 1000 +- 20: a day 600 too high (still below the next day) and
    a day 600 too low (still above the day before) do not break the count's rise; each is
    far from the straight line through its neighbours, and only they go."""
    rng = np.random.default_rng(3)
    casualties = np.round(np.cumsum(np.r_[0, rng.normal(1000, 20, 29)]))
    casualties[[9, 20]] += [600, -600]
    record, notes = _read(_csv({"attacker_casualties": casualties}))
    assert _dropped(record, "attacker_casualties") == [9, 20]
    assert len(notes) == 2
    for note, d in zip(notes, (9, 20), strict=True):
        shown, about = note.split(" (")[1].split(" nearby")[0].split(" against about ")
        assert note.startswith(f"battle.csv: attacker_casualties on day {d} is an outlier")
        assert note.endswith("nearby): dropped")
        assert shown == f"{casualties[d]:.0f}"
        assert float(about) == pytest.approx((casualties[d - 1] + casualties[d + 1]) / 2,
                                             abs=30)


def test_a_one_day_dip_in_a_strength_is_caught_on_a_trend():
    """On a steep trend the median of the neighbours is off by half a day's change either
    side of a dip; the line through them is not. A strength 300 too low (three days'
    losses, still above the next day's strength) goes, and only it."""
    strength = 20_000 - 100 * np.arange(30.0)
    strength[14] -= 300
    record, notes = _read(_csv({"defender_strength": strength}))
    assert _dropped(record, "defender_strength") == [14]
    assert notes == ["battle.csv: defender_strength on day 14 is an outlier (18300 against "
                     "about 18600 nearby): dropped"]


@pytest.mark.parametrize(("column", "first", "daily"), [
    ("attacker_strength", 1000, -10), ("attacker_strength", 30_000, -400),
    ("attacker_casualties", 0, 100)])
def test_a_clean_linear_record_loses_nothing(column, first, daily):
    """The known bug: no spread at all (every change the same), a floor of 1 person, and
    the ends judged by the median of one side's neighbours (off by 1.5 days' change) ate
    a clean linear record from its ends."""
    values = first + daily * np.arange(60.0)
    record, notes = _read(_csv({column: values}))
    assert notes == []
    assert record.observed[column].tolist() == values.tolist()


def test_a_clean_record_with_landings_loses_nothing():
    days = np.arange(40.0)
    arrived = np.where(days >= 10, 5000.0, 0.0) + np.where(days >= 25, 3000.0, 0.0)
    record, notes = _read(_csv({"attacker_strength": 20_000 - 150 * days + arrived,
                                "attacker_reinforcements": arrived}))
    assert notes == []
    assert np.isfinite(record.observed["attacker_strength"]).all()


def test_a_big_day_is_not_an_outlier():
    """A step in a cumulative count (the first day of an offensive, on day 1 after a 0
    and in mid-record) is kept: the days around it each lie on one side's line."""
    casualties = np.cumsum(np.r_[0.0, np.full(29, 100.0)])
    casualties[1:] += 20_000
    casualties[15:] += 8_000
    record, notes = _read(_csv({"attacker_casualties": casualties}))
    assert notes == []
    assert np.isfinite(record.observed["attacker_casualties"]).all()


def _ar1(rng: np.random.Generator, days: int, sd: float, rho: float = 0.4) -> np.ndarray:
    """Noise of standard deviation ``sd`` whose days are correlated (``rho``): residuals
    in streaks, as real records have."""
    noise = np.empty(days)
    noise[0] = rng.normal(0, sd)
    for d in range(1, days):
        noise[d] = rho * noise[d - 1] + rng.normal(0, sd * np.sqrt(1 - rho ** 2))
    return noise


def _clean_records(seed: int, days: int = 60) -> list[dict[str, np.ndarray]]:
    """Two clean synthetic records of eight kinds, by column: exact exponential decay, an
    exact square-law battle (random rates and sizes: some end within days, a sharp bend),
    an exact curved cumulative count and one of Poisson daily losses; then a square-law
    battle with Gaussian noise, an exponential decay with AR(1) noise (rho 0.4: residuals
    in streaks, as real records have), and cumulative counts whose daily losses have AR(1)
    noise."""
    from sim.lawfit import trajectory

    rng = np.random.default_rng(seed)
    d = np.arange(days)
    decay = rng.uniform(500, 50_000) * np.exp(-rng.uniform(0.01, 0.1) * d)
    square = trajectory("square", *rng.uniform(0.005, 0.03, 2), *rng.uniform(800, 40_000, 2),
                        days - 1)
    daily = rng.uniform(20, 2000)
    noisy_daily = np.maximum(daily + _ar1(rng, days - 1, 0.2 * daily), 0)
    return [{"attacker_strength": decay, "defender_strength": square[:, rng.integers(2)],
             "attacker_casualties": daily * 20 * (1 - np.exp(-d / 20)),
             "defender_casualties": np.cumsum(np.r_[0, rng.poisson(daily, days - 1)])},
            {"attacker_strength": square[:, 0] + rng.normal(0, rng.uniform(0.2, 2) * daily,
                                                             days),
             "defender_strength": decay + _ar1(rng, days, 0.01 * decay[0]),
             "attacker_casualties": np.cumsum(np.r_[0, noisy_daily])}]


def test_clean_records_lose_almost_nothing():
    """200 seeded clean records of each of seven kinds (12,000 values a kind): none of the
    exact ones loses a value, and at most 1 value in 1,000 of a noisy kind is dropped
    (measured: none at all, 0 of 84,000)."""
    dropped = {}
    for seed in range(200):
        for number, columns in enumerate(_clean_records(seed)):
            values = {column: np.maximum(np.round(v), 0) for column, v in columns.items()}
            record, _ = _read(_csv(values))
            for column in values:
                kind = (number, column)
                dropped[kind] = dropped.get(kind, 0) + len(_dropped(record, column))
    exact = {kind: n for kind, n in dropped.items() if kind[0] == 0}
    assert set(exact.values()) == {0}, exact
    assert max(dropped.values()) <= 200 * 60 / 1000, dropped


def test_a_record_that_starts_mid_battle_is_reported_and_kept():
    casualties = 12_000 + 100 * np.arange(20.0)
    record, notes = _read(_csv({"attacker_casualties": casualties}, first_day=5))
    assert record.observed["attacker_casualties"][0] == 12_000
    assert notes == ["battle.csv: attacker_casualties is 12000 on the first day (day 5): the "
                     "record starts mid-battle; the law fits take the casualties before it as "
                     "an offset"]
    _, notes = _read(_csv({"attacker_casualties": 100 * np.arange(20.0)}, first_day=5))
    assert notes == []


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


def test_a_century_of_hostile_days_cleans_in_linear_work(monkeypatch):
    """36,501 days of a falling cumulative count and of a strength with a spike on every
    fifth day: the fewest drops leave the count rising, the spikes go, and the lines are
    fitted a bounded number of times (vectorised over all days: the work grows as n, the
    count's longest rise as n log n)."""
    import sim.records

    fits = []
    robust_lines = sim.records._robust_lines
    monkeypatch.setattr(sim.records, "_robust_lines",
                        lambda *args: fits.append(len(args[0])) or robust_lines(*args))
    days = np.arange(36_501.0)
    rng = np.random.default_rng(0)
    strength = 1e8 - 100 * days + rng.normal(0, 30, days.size)
    strength[::5] += 1e6
    casualties = np.where(days % 2 == 0, 1e9 - days, days)
    record, notes = _read(_csv({"attacker_strength": strength,
                                "attacker_casualties": casualties}))
    kept = record.observed["attacker_casualties"]
    assert np.all(np.diff(kept[np.isfinite(kept)]) >= 0)
    assert _dropped(record, "attacker_strength") == list(range(0, 36_501, 5))
    assert len(fits) <= 4 * (1 + 2 * 2) * sim.records.OUTLIER_ROUNDS
    assert max(fits) <= days.size


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
        assert square[name]["meaning"] == expected[name]["meaning"]
        for number in ("estimate", "ci95_low", "ci95_high"):
            assert square[name][number] == pytest.approx(expected[name][number], rel=1e-9)
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
