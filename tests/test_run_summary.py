"""The run's summary table and figures, as an analyst reads them (issue 22, item 6):
units on every row, every word in place of a number explained, one number format per
quantity with and without replicates; figures that draw only what a side has, give a
side its own y axis where the sides' scales differ, and never hide one series under
another. Tiny runs (two days) and synthetic records: seconds."""

from __future__ import annotations

import json
import re

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from sim import Scenario, plots
from sim.outputs import BATTLE_ROWS, SIDE_ROWS, RunSummary, format_table, run_summary, to_json
from sim.replicates import run_replicates, summarise
from sim.scenarios import load
from sim.sides import SIDES

#: The units a row's label may end with.
UNITS = {"persons", "person-days", "day", "persons/day", "m", "persons/km",
         "attacker casualties per defender casualty"}
WHOLE = r"\d{1,3}(?:,\d{3})*"
DAY = rf"day {WHOLE}(?: \(\d{{4}}-\d{{2}}-\d{{2}}\))?"
#: A cell: an optional "k/N: " (a mean of k of N replicates), a number, an optional
#: "[low to high]" (the 95% confidence interval of the mean over replicates).
CELL = re.compile(r"(?:(?P<k>\d+)/(?P<n>\d+): )?(?P<mean>.+?)"
                  r"(?: \[(?P<low>\S+) to (?P<high>\S+)\])?")


@pytest.fixture(scope="module")
def tiny():
    """The reference scenario for two days: one run of seed 3, three replicates."""
    scenario = Scenario(max_days=2)
    return (scenario, run_summary(scenario, 3, run_replicates(scenario, 3, 1)),
            run_summary(scenario, 3, run_replicates(scenario, 3, 3)))


def parse(text: str) -> tuple[dict[str, list[str]], list[str]]:
    """A table's rows (label -> cells, a side's row has one cell per side) and its notes
    (each on one line)."""
    body, _, tail = text.partition("\nNotes:\n")
    rows = {}
    for line in body.splitlines()[3:]:  # the run's line, a blank line, the sides
        if line.strip():
            label, *cells = re.split(r"\s{2,}", line.strip())
            rows[label] = cells
    notes: list[str] = []
    for line in tail.splitlines():
        if line.startswith("    "):
            notes[-1] += " " + line.strip()
        elif line.strip():
            notes.append(line.strip())
    return rows, notes


def kinds() -> dict[str, str]:
    return {label: kind for label, _, kind in SIDE_ROWS + BATTLE_ROWS}


def is_number(text: str, kind: str) -> bool:
    """Whether ``text`` is written as the table writes a ``kind`` of number."""
    if kind == "whole":
        return re.fullmatch(WHOLE, text) is not None
    if kind == "day":
        return re.fullmatch(DAY, text) is not None
    if text == "0":
        return True
    digits = text.replace(",", "")
    if not re.fullmatch(r"\d+(?:\.\d+)?", digits) or ("," in text and "." in text):
        return False
    if "." in digits:  # three significant digits, trailing zeros kept
        return len(digits.replace(".", "").lstrip("0")) == 3
    return len(digits) >= 3 and set(digits[3:]) <= {"0"}


def number_cell(cell: str, kind: str) -> bool:
    """Whether a cell is a number of its row's kind, or a mean and interval of them (the
    interval of days in whole days)."""
    found = CELL.fullmatch(cell)
    ends = "whole" if kind == "day" else kind
    return bool(found and is_number(found["mean"], kind)
                and (found["low"] is None or (is_number(found["low"], ends)
                                              and is_number(found["high"], ends))))


def explained(cell: str, notes: list[str]) -> bool:
    """Whether each word in place of a number in ``cell`` starts a note, and a mean of
    fewer than all replicates has a note saying of how many."""
    found = CELL.fullmatch(cell)
    if found and found["k"]:
        return any(note.startswith(f"{found['k']}/{found['n']} (") for note in notes)
    for part in cell.split(", "):
        words = re.sub(r" in \d+(?:/\d+)?$", "", part)
        if not any(note.startswith(words + ":") for note in notes):
            return False
    return True


def replicates_of(summary: dict, changes: list[dict], pool_sides=SIDES) -> RunSummary:
    """A summary of ``len(changes)`` replicates: ``summary``'s keys with each replicate's
    ``changes``, summarised as ``attrition run --replicates`` does."""
    keys = {k: v for k, v in summary.items()
            if k not in ("scenario", "seed", "replicates", "package_version", "seeds")}
    head = {"scenario": "synthetic", "seed": 0, "replicates": len(changes),
            "package_version": "test", "seeds": list(range(len(changes)))}
    return RunSummary(head | summarise([keys | change for change in changes]), pool_sides)


# ------------------------------------------------------------------------ the table
def test_every_row_names_its_unit_for_one_run_and_for_replicates(tiny):
    _, one, many = tiny
    for summary in (one, many):
        rows, _ = parse(format_table(summary))
        assert len(rows) == len(SIDE_ROWS) + len(BATTLE_ROWS)
        for label, cells in rows.items():
            unit = re.fullmatch(r".+ \((?P<unit>[^()]+)\)", label)
            assert unit and unit["unit"] in UNITS, label
            assert len(cells) == (2 if label in {r[0] for r in SIDE_ROWS} else 1), label


def test_numbers_follow_one_format_per_quantity_with_and_without_replicates(tiny):
    """Persons whole with thousands separators, rates and ratios to three significant
    digits (88.2 beside 387, not 88.20 beside 387), days whole with their date: the same
    in every row and column, for one run and for the mean [95% CI] of replicates."""
    _, one, many = tiny
    varied = RunSummary(one | {"attacker_mean_daily_permanent_losses": 387.0,
                               "defender_mean_daily_permanent_losses": 88.2,
                               "attacker_training_days_lost": 774165.2,
                               "loss_exchange_ratio": 10.005, "ground_gained_m": 20.4,
                               "attacker_casualties_per_km": 12_345.6,
                               "end_date": "2025-01-21", "days": 46,
                               "attacker_pool_exhausted_day": 40,
                               "attacker_projected_exhaustion_day": 40.0,
                               "defender_projected_exhaustion_day": 912.4}, SIDES)
    tables = {name: parse(format_table(s))[0] for name, s in
              {"one": one, "replicates": many, "varied": varied}.items()}
    for name, rows in tables.items():
        for label, cells in rows.items():
            for cell in cells:
                assert number_cell(cell, kinds()[label]) or not re.search(r"\d", cell), \
                    (name, label, cell)
    varied = tables["varied"]
    assert varied["killed + permanently lost a day, mean (persons/day)"] == ["387", "88.2"]
    assert varied["loss exchange ratio (attacker casualties per defender casualty)"] == \
        ["10.0"]
    assert varied["training lost with the dead and crippled (person-days)"][0] == "774,165"
    assert varied["recruit pool exhausted (day)"][0] == "day 40 (2025-01-15)"
    assert varied["recruit pool exhausted, projected (day)"] == ["day 40 (2025-01-15)",
                                                                 "day 912 (2027-06-06)"]
    assert varied["attacker casualties per km gained (persons/km)"] == ["12,300"]
    # Replicates: every numeric cell is a mean and its interval, in the same format.
    for label, cells in tables["replicates"].items():
        for cell in cells:
            if re.search(r"\d", cell):
                assert CELL.fullmatch(cell)["low"] is not None, (label, cell)


def test_words_in_place_of_numbers_are_explained_and_none_is_a_bare_na(tiny):
    """No pool, not exhausted, not falling, beyond the horizon, no defender casualties,
    less than a cell gained, and means of fewer than all replicates: each cell says it
    and a note under the table says why."""
    _, one, _ = tiny
    single = RunSummary(one | {"loss_exchange_ratio": None,
                               "defender_projected_exhaustion_beyond_horizon": True},
                        ("defender",))
    changes = [
        {"attacker_pool_exhausted_day": 40, "attacker_projected_exhaustion_day": 40.0,
         "defender_projected_exhaustion_day": None,
         "defender_projected_exhaustion_beyond_horizon": True},
        {"attacker_projected_exhaustion_day": 900.5,
         "defender_projected_exhaustion_day": None,
         "defender_projected_exhaustion_beyond_horizon": True},
        {"attacker_projected_exhaustion_beyond_horizon": True,
         "defender_projected_exhaustion_day": None},
        {"loss_exchange_ratio": None, "defender_projected_exhaustion_day": None}]
    replicated = replicates_of(one, changes)
    seen = set()
    for summary in (single, replicated):
        text = format_table(summary)
        rows, notes = parse(text)
        assert " n/a " not in f" {text} " and "n/a\n" not in text
        for label, cells in rows.items():
            for cell in cells:
                if not number_cell(cell, kinds()[label]):
                    assert explained(cell, notes), (label, cell, notes)
                    seen.add(cell)
    assert {"no pool", "beyond day 3,650", "n/a: no defender casualties",
            "n/a: less than one cell gained"} <= seen
    rows, notes = parse(format_table(replicated))
    exhausted, projected = (rows[label] for label in ("recruit pool exhausted (day)",
                                                      "recruit pool exhausted, projected (day)"))
    assert exhausted == ["1/4: day 40", "not exhausted"]
    assert projected[0].startswith("2/4: day 470 [")
    assert projected[1] == "beyond day 3,650 in 2, not falling in 2"
    assert rows["loss exchange ratio (attacker casualties per defender casualty)"][0] \
        .startswith("3/4: ")
    assert ("1/4 (recruit pool exhausted, attacker): the mean [95% CI] of the 1 of 4 runs "
            "that have one; in the other 3: not exhausted.") in notes
    assert any(note.startswith("2/4 (recruit pool exhausted, projected, attacker)") and
               note.endswith("in the other 2: beyond day 3,650 in 1, not falling in 1.")
               for note in notes)
    assert any(note.startswith("3/4 (loss exchange ratio)") and
               note.endswith("in the other 1: n/a: no defender casualties.")
               for note in notes)


def test_replicates_header_gives_the_dates_of_their_runs(tiny):
    _, one, _ = tiny
    changes = [{"days": 46, "end_date": "2025-01-21"}, {"days": 44, "end_date": "2025-01-19"}]
    line = format_table(replicates_of(one, changes)).splitlines()[0]
    assert "2 replicates from seed 0 (mean [95% CI]): 45 [32 to 58] days (from 2024-12-06; " \
           "last day 2025-01-19 to 2025-01-21)" in line


def test_run_summary_knows_which_sides_have_a_pool_and_keeps_its_json_keys(tiny):
    """The pools come from the run (day 0 of its record) and are no key of
    summary.json; read back from the file, the table infers what it can and says so."""
    scenario, one, many = tiny
    assert one.pool_sides == many.pool_sides == ()
    pools = load("recruit_pool_exhaustion", days=2)
    results = run_replicates(pools, 1, 1)
    summary = run_summary(pools, 1, results)
    assert summary.pool_sides == ("attacker", "defender")
    assert list(json.loads(to_json(summary))) == [
        "scenario", "seed", "replicates", "package_version", *results[0].summary]
    rows, _ = parse(format_table(summary))
    assert rows["recruit pool exhausted (day)"] == ["not exhausted", "not exhausted"]
    # From the file: the reference's sides drew no recruits, pool or none.
    rows, notes = parse(format_table(json.loads(to_json(one))))
    assert rows["recruit pool exhausted (day)"] == ["none drawn", "none drawn"]
    assert any(note.startswith("none drawn: ") for note in notes)


# ---------------------------------------------------------------------- the figures
COLUMNS = ("personnel", "personnel_fighting", "reserve", "in_care", "pool", "in_training",
           "killed_total", "wounded_total", "permanently_lost_total")


def daily_record(sides: dict[str, dict], days: int = 6, seeds=(0,),
                 start: str | None = None) -> pd.DataFrame:
    """A daily record's side rows: per side, column -> value, or a function of (day,
    seed); 0 for a column not given."""
    rows = []
    for seed in seeds:
        for day in range(days + 1):
            for side, values in sides.items():
                row = {"seed": seed, "day": day, "side": side, "contingent": "all"}
                for column in COLUMNS:
                    value = values.get(column, 0)
                    row[column] = value(day, seed) if callable(value) else value
                rows.append(row)
    frame = pd.DataFrame(rows)
    if start:
        dates = pd.Timestamp(start) + pd.to_timedelta(frame["day"], unit="D")
        frame.insert(2, "date", dates.dt.strftime("%Y-%m-%d"))
    return frame


def side_axes(fig, side: str) -> list:
    return [ax for ax in fig.axes if ax.get_title().startswith(f"{side}:")]


def labels(axes) -> list[str]:
    return [line.get_label() for ax in axes for line in ax.get_lines()]


#: The default run's shape: an attacker of 10,890 in units (990 fighting), no recruit
#: pool, wounded in care; a defence of 1,800, all fighting, with a pool of 100,000 and
#: recruits in training.
FOREIGN_CONTINGENT = {
    "attacker": {"personnel": lambda d, s: 10_890 - 60 * d, "personnel_fighting": 990,
                 "in_care": lambda d, s: 100 * d, "killed_total": lambda d, s: 10 * d,
                 "wounded_total": lambda d, s: 70 * d,
                 "permanently_lost_total": lambda d, s: 35 * d},
    "defender": {"personnel": lambda d, s: 1_800 - 5 * d,
                 "personnel_fighting": lambda d, s: 1_800 - 5 * d,
                 "pool": lambda d, s: 100_000 - 5 * d, "in_training": lambda d, s: 5 * d,
                 "in_care": lambda d, s: 2 * d, "killed_total": lambda d, s: 2 * d,
                 "wounded_total": lambda d, s: 6 * d,
                 "permanently_lost_total": lambda d, s: 2 * d}}


def test_force_generation_draws_a_pool_and_a_pipeline_only_for_a_side_that_has_them():
    fig = plots.force_generation_figure(daily_record(FOREIGN_CONTINGENT,
                                                     start="2024-12-06"))
    try:
        attacker, defender = side_axes(fig, "attacker"), side_axes(fig, "defender")
        assert labels(attacker) == ["wounded in care"]  # no pool, trains no one
        assert "no recruit pool" in attacker[0].get_title()
        assert "no one in training" in attacker[0].get_title()
        pool, pipeline = defender
        assert labels([pool]) == ["recruit pool left"]
        assert labels([pipeline]) == ["in training", "wounded in care"]
        # The pool (100,000) and the pipeline (tens) each on their own axis.
        assert pool.get_ylim()[1] > 100_000 and pipeline.get_ylim()[1] < 100
    finally:
        plt.close(fig)
    nothing = daily_record({"attacker": {"personnel": 10}, "defender": {"personnel": 10}})
    fig = plots.force_generation_figure(nothing)
    try:
        assert not labels(fig.axes)
        assert {ax.get_title() for ax in fig.axes} == set(SIDES)
        assert "attacker: no recruit pool, no one in training" in fig.axes[0].texts[0] \
            .get_text()
    finally:
        plt.close(fig)


def test_sides_of_different_scales_get_their_own_y_axis_and_alike_ones_share_one():
    fig = plots.strengths_figure(daily_record(FOREIGN_CONTINGENT))
    try:
        attacker, defender = side_axes(fig, "attacker")[0], side_axes(fig, "defender")[0]
        assert not attacker.get_shared_y_axes().joined(attacker, defender)
        assert attacker.get_ylim()[1] > 10_000 and 1_800 < defender.get_ylim()[1] < 2_500
    finally:
        plt.close(fig)
    alike = {"attacker": {"personnel": 1_200, "personnel_fighting": 1_000},
             "defender": {"personnel": 1_800, "personnel_fighting": 1_700}}
    fig = plots.strengths_figure(daily_record(alike))
    try:
        attacker, defender = fig.axes
        assert attacker.get_shared_y_axes().joined(attacker, defender)
    finally:
        plt.close(fig)


def test_series_equal_throughout_are_one_line_that_says_so_and_others_differ_in_style():
    record = daily_record(FOREIGN_CONTINGENT, seeds=(0, 1))
    fig = plots.strengths_figure(record)
    try:
        (line,) = side_axes(fig, "defender")[0].get_lines()
        assert line.get_label().startswith("fighting = in units")
        fighting, in_units = side_axes(fig, "attacker")[0].get_lines()
        assert fighting.get_label() == "fighting" and in_units.get_label().startswith(
            "in units")
        assert in_units.get_linewidth() >= 3 * fighting.get_linewidth()
        assert "mean of 2 replicates" in fig.get_suptitle()
    finally:
        plt.close(fig)
    fig = plots.casualties_figure(record)
    try:
        assert labels(side_axes(fig, "defender")) == ["killed = wounded permanently lost",
                                                     "wounded"]
        styles = {line.get_linestyle() for line in side_axes(fig, "attacker")[0].get_lines()}
        assert len(styles) == 3
    finally:
        plt.close(fig)


def test_days_after_the_first_replicate_ends_are_marked_where_means_thin_out():
    """A stock's mean after some replicates stopped is of those still running: the
    figure shades those days and says so; cumulative totals keep every run's last value
    and need no shading."""
    record = daily_record(FOREIGN_CONTINGENT, days=8, seeds=(0, 1, 2))
    record = record[(record["seed"] != 1) | (record["day"] <= 5)]
    for figure, marked in ((plots.strengths_figure, True), (plots.casualties_figure, False),
                           (plots.force_generation_figure, True)):
        fig = figure(record)
        try:
            shaded = [ax for ax in fig.axes if any(
                patch.get_label().startswith("replicates end (days 5 to 8)")
                for patch in ax.patches)]
            assert bool(shaded) == marked, figure.__name__
        finally:
            plt.close(fig)


def test_a_contingents_name_reaches_a_csv_as_text_never_as_a_formula(tmp_path):
    """A name from the scenario's file that starts as a formula (=, +, -, @) is quoted
    in daily.csv; the numbers are as the run made them."""
    from sim.cli import main

    scenario = tmp_path / "f.toml"
    scenario.write_text('base = "fortified_defense"\nmax_days = 2\n'
                        '[[attacker.units]]\ncount = 2\npersonnel = 30\n'
                        'tactic = "human_wave"\ntraining_days = 14\n'
                        'contingent = "=HYPERLINK(1)"\n')
    assert main(["run", str(scenario), "--out", str(tmp_path / "out")]) == 0
    import pandas as pd

    daily = pd.read_csv(tmp_path / "out" / "daily.csv")
    assert "'=HYPERLINK(1)" in set(daily["contingent"])
    assert not daily["contingent"].astype(str).str.startswith("=").any()
    assert pd.api.types.is_numeric_dtype(daily["personnel"])


def test_no_ground_gained_is_undefined_and_less_than_a_cell_is_too_short(tiny):
    """Per km gained at 0 m is undefined, not "millions": the cell and its note say "no
    ground gained"; more than 0 but under a cell is "less than one cell gained"; over
    replicates, none in every one is "no ground", and some ground "none or less"."""
    _, one, _ = tiny
    battle = "attacker casualties per km gained (persons/km)"
    for ground, cell in ((0.0, "n/a: no ground gained"),
                         (20.0, "n/a: less than one cell gained")):
        rows, notes = parse(format_table(RunSummary(
            one | {"ground_gained_m": ground, "attacker_casualties_per_km": None}, SIDES)))
        assert rows[battle] == [cell]
        note = next(n for n in notes if n.startswith(cell + ":"))
        assert "millions" not in note
        assert ("undefined" in note) == (ground == 0)
    change = {"attacker_casualties_per_km": None}
    nothing = replicates_of(one, [change | {"ground_gained_m": 0.0}] * 2)
    assert parse(format_table(nothing))[0][battle] == ["n/a: no ground gained"]
    some = replicates_of(one, [change | {"ground_gained_m": 0.0},
                               change | {"ground_gained_m": 30.0}])
    assert parse(format_table(some))[0][battle] == ["n/a: none or less than one cell gained"]


def _withdrawn_attacker() -> pd.DataFrame:
    """The analyst's run in small: the defender draws 244 of a pool of 100,000; the
    attacker's contingent breaks on day 5 (none fighting), and on day 6 the 80 wounded
    back from care go to the reserve, as their units no longer fight."""
    sides = {"attacker": {"personnel": 7_881, "personnel_fighting": lambda d, s: 0 if d >= 5
                          else 500, "reserve": lambda d, s: 80 if d == 6 else 0,
                          "in_care": lambda d, s: 800 - 80 * (d == 6)},
             "defender": {"personnel": 1_800, "personnel_fighting": 1_800,
                          "pool": lambda d, s: 100_000 - round(244 * d / 6)}}
    frame = daily_record(sides, start="2024-12-06")
    frame["returned"] = [80 if (row.side, row.day) == ("attacker", 6) else 0
                         for row in frame.itertuples()]
    frame["recruited"] = [0 if row.side == "attacker" or row.day == 0 else
                          round(244 * row.day / 6) - round(244 * (row.day - 1) / 6)
                          for row in frame.itertuples()]
    return frame


def test_force_generation_says_how_many_recruits_were_drawn_and_why_the_reserve_jumps():
    """A flat pool of 100,000 hides a draw of 244: the panel keeps its axis from 0 and
    says "recruits drawn: 244 of 100,000"; the reserve's jump on the last day, after the
    contingent broke, is labelled as wounded back from care without a unit to join (and
    a reserve that grows while units fight is not)."""
    daily = _withdrawn_attacker()
    assert plots.pool_drawn(daily, "defender") == (244.0, 100_000.0)
    assert plots.reserve_without_units(daily, "attacker") == [(6, 80.0)]
    fighting = daily.assign(personnel_fighting=500)
    assert plots.reserve_without_units(fighting, "attacker") == []
    fig = plots.force_generation_figure(daily)
    try:
        (pool,), (reserve,) = side_axes(fig, "defender"), side_axes(fig, "attacker")
        assert pool.get_ylim()[0] == 0
        assert any("recruits drawn: 244 of 100,000 (0.24%)" in t.get_text()
                   for t in pool.texts)
        assert any("+80 to the reserve: wounded back from care" in t.get_text()
                   for t in reserve.texts)
    finally:
        plt.close(fig)


def test_front_map_legend_does_not_cover_the_axis_label(tmp_path, monkeypatch):
    """The legend sits below "along the front (m)", not over it (the analyst's
    front_map.png), for a map with several contingents."""
    import numpy as np

    from sim.model.records import FrontMap

    width, depth = 20, 40
    control = np.full((width, depth), -1)
    control[:, :7], control[:, 29:] = 0, 1
    front = FrontMap(control=control, mines=np.zeros((width, depth)),
                     fortification=np.zeros((width, depth)), initial_control=control.copy(),
                     cell_size_m=100.0, day=46,
                     contingents=[("attacker", "foreign"), ("attacker", "second"),
                                  ("defender", "brigade")],
                     units=pd.DataFrame({"side": ["defender"], "contingent": ["brigade"],
                                         "state": [0], "personnel": [100], "x": [3],
                                         "y_m": [2_950.0]}))
    kept, close = {}, plt.close
    monkeypatch.setattr(plt, "close", lambda fig: kept.setdefault("fig", fig))
    plots.plot_front_map(front, tmp_path / "front_map.png", "a title")
    fig = kept["fig"]
    renderer = fig.canvas.get_renderer()
    label = fig.axes[0].xaxis.label.get_window_extent(renderer)
    ticks = [t.get_window_extent(renderer) for t in fig.axes[0].get_xticklabels()]
    legend = fig.legends[0].get_window_extent(renderer)
    assert label.y0 > legend.y1 and not any(legend.overlaps(t) for t in ticks)
    assert fig.get_window_extent().contains(legend.x0, legend.y0)
    assert len(fig.legends[0].get_texts()) == 4  # mines, three contingents
    close(fig)
