"""The ``attrition`` command: list, check and run; results written whole or not at all;
bad input answered with one line naming the file, the key and what is allowed."""

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main
from sim.scenarios import PROJECT_SCENARIOS, available, load
from sim.seeds import run_seed

OUTPUTS = ["casualties.png", "daily.csv", "events.csv", "force_generation.png",
           "front_map.png", "scenario.toml", "strengths.png", "summary.json"]


def attrition(*args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd)


def attrition_here(*args) -> subprocess.CompletedProcess:
    """The command in this process (its code, without a new interpreter's start of a few
    seconds), as attrition() reports it; an error it does not handle is raised."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main([str(a) for a in args])
        except SystemExit as stop:  # argparse's own errors
            status = stop.code
    return subprocess.CompletedProcess(args, status, out.getvalue(), err.getvalue())


def test_list_names_every_scenario_with_a_line(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(available())
    assert all(len(line.split(None, 1)[1]) > 20 for line in lines)


def test_check_accepts_every_shipped_scenario(capsys):
    files = sorted(str(p) for p in PROJECT_SCENARIOS.glob("*.toml"))
    assert main(["check", *files]) == 0
    assert capsys.readouterr().out.count("ok: ") == len(files)


def test_run_writes_every_output(tmp_path, capsys):
    out = tmp_path / "result"
    assert main(["run", "fortified_defense", "--days", "3", "--seed", "4", "--out",
                 str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == OUTPUTS
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"] == "fortified_defense" and summary["seed"] == 4
    assert summary["package_version"] and summary["days"] == 3
    daily = pd.read_csv(out / "daily.csv")
    assert daily["day"].max() == 3 and (daily["seed"] == 4).all()
    assert load(out / "scenario.toml") == load("fortified_defense", days=3)
    for png in ("strengths", "casualties", "force_generation", "front_map"):
        assert (out / f"{png}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(tmp_path.iterdir()) == [out]  # no staging directory left behind
    table = capsys.readouterr().out
    assert "fortified_defense, seed 4: 3 days" in table and "killed" in table


def test_run_writes_parquet(tmp_path, capsys):
    out = tmp_path / "p"
    assert main(["run", "fortified_defense", "--days", "2", "--format", "parquet",
                 "--out", str(out)]) == 0
    daily = pd.read_parquet(out / "daily.parquet")
    events = pd.read_parquet(out / "events.parquet")
    assert daily["day"].max() == 2 and "kind" in events


def test_replicates_give_mean_and_interval_per_key(tmp_path, capsys):
    out = tmp_path / "r"
    assert main(["run", "fortified_defense", "--days", "3", "--replicates", "4", "--seed",
                 "10", "--json", "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    # Replicate i of master seed 10 runs run_seed(10, 0, i), as a sweep's point 0.
    seeds = [run_seed(10, 0, i) for i in range(4)]
    assert summary["seeds"] == seeds and summary["replicates"] == 4
    killed = summary["attacker_killed"]
    assert killed["n"] == 4 and killed["ci95_low"] <= killed["mean"] <= killed["ci95_high"]
    assert summary["stop_reason"] == {"max_days": 4}
    assert sorted(pd.read_csv(out / "daily.csv")["seed"].unique()) == sorted(seeds)


def test_one_replicate_is_the_seed_itself_and_each_replicate_reruns_alone(tmp_path, capsys):
    """--replicates 1 (the default) runs SEED itself, as run(seed=SEED) does; the daily
    record of replicate i is that of run(seed=run_seed(SEED, 0, i))."""
    from sim import run

    scenario = load("fortified_defense", days=2)
    assert main(["run", "fortified_defense", "--days", "2", "--seed", "7", "--replicates", "3",
                 "--format", "parquet", "--json", "--out", str(tmp_path / "r")]) == 0
    daily = pd.read_parquet(tmp_path / "r" / "daily.parquet")
    alone = run(scenario, seed=run_seed(7, 0, 2)).daily
    mine = daily[daily["seed"] == run_seed(7, 0, 2)].drop(columns="seed")
    pd.testing.assert_frame_equal(mine.reset_index(drop=True), alone, check_dtype=False)
    assert main(["run", "fortified_defense", "--days", "2", "--seed", "7", "--json",
                 "--out", str(tmp_path / "one")]) == 0
    capsys.readouterr()
    one = json.loads((tmp_path / "one" / "summary.json").read_text())
    assert one["seed"] == 7 and one["attacker_killed"] == run(scenario, seed=7).summary[
        "attacker_killed"]


def test_default_run_is_the_foreign_contingent_in_a_fresh_folder(tmp_path):
    proc = attrition("run", "--days", "5", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "human_wave_foreign_contingent, seed 0: 5 days" in proc.stdout
    (folder,) = (tmp_path / "runs").iterdir()
    assert folder.name.startswith("human_wave_foreign_contingent-")
    assert sorted(p.name for p in folder.iterdir()) == OUTPUTS


def test_json_is_byte_identical_for_the_same_seed(tmp_path):
    """attrition run bakhmut_2022_2023 --seed 1 --days 120 --json, twice: the same bytes
    on stdout, and nothing but the JSON."""
    command = ("run", "bakhmut_2022_2023", "--seed", "1", "--days", "120", "--json")
    first = attrition(*command, cwd=tmp_path)
    second = attrition(*command, cwd=tmp_path)
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout
    assert json.loads(first.stdout)["attacker_killed"] > 2_000


def test_help_gives_units_and_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "default: 0" in text and "default: human_wave_foreign_contingent" in text
    assert "95% confidence interval" in text


# ---------------------------------------------------------------- bad input
BASE = 'base = "fortified_defense"\n'


def _units(count: int = 2, personnel: int = 10, tactic: str = "human_wave") -> str:
    unit = (f'{{ contingent = "x", count = {count}, personnel = {personnel}, '
            f'tactic = "{tactic}" }}')
    return BASE + f"[attacker]\nunits = [{unit}]\n"


BAD_INPUTS = {
    # case: (files to write, arguments, what the one line must contain)
    "unknown key": ({"s.toml": BASE + "[sector]\nwidht_cells = 5\n"}, ["s.toml"],
                    ["s.toml: sector.widht_cells: unknown key; did you mean 'width_cells'?"]),
    "wrong type": ({"s.toml": BASE + 'max_days = "long"\n'}, ["s.toml"],
                   ["s.toml: max_days: Input should be a valid integer"]),
    "negative personnel": ({"s.toml": _units(personnel=-10)},
                           ["s.toml"], ["attacker.units[0].personnel",
                                        "greater than or equal to 1 (got -10)"]),
    "probability above 1": ({"s.toml": BASE + "[defender]\nkilled_fraction = 1.5\n"}, ["s.toml"],
                            ["s.toml: defender.killed_fraction: Input should be less than or "
                             "equal to 1 (got 1.5)"]),
    "probability below 0": ({"s.toml": BASE + "[sector]\ncover = -0.1\n"}, ["s.toml"],
                            ["s.toml: sector.cover: Input should be greater than or equal to 0"]),
    "unknown tactic": ({"s.toml": _units(tactic="banzai")},
                       ["s.toml"], ["attacker.units[0].tactic: Input should be 'human_wave'",
                                    "(got 'banzai')"]),
    "side with no units": ({"s.toml": BASE + "[defender]\nunits = []\n"}, ["s.toml"],
                           ["s.toml: defender.units: List should have at least 1 item"]),
    "more units than cells": ({"s.toml": _units(count=61)},
                              ["s.toml"], ["attacker.units: 61 units do not fit in the 60 cells",
                                           "allowed: at most 60 units"]),
    "missing file": ({}, ["nowhere.toml"], ["nowhere.toml: no such file or named scenario; "
                                            "allowed: a TOML file or one of bakhmut_2022_2023"]),
    "not TOML": ({"s.toml": "max_days = = 3\n"}, ["s.toml"], ["s.toml: not valid TOML"]),
    "missing base": ({"s.toml": 'base = "fortified_defence"\n'}, ["s.toml"],
                     ["s.toml: base: no scenario 'fortified_defence'; allowed: a path or one "
                      "of bakhmut_2022_2023"]),
    "looping base": ({"a.toml": 'base = "b"\n', "b.toml": 'base = "a"\n'}, ["a.toml"],
                     ["b.toml: base: bases loop (a -> b -> a)"]),
    "--set unknown key": ({}, ["fortified_defense", "--set", "attacker.drone=4"],
                          ["fortified_defense.toml: attacker.drone: unknown key; did you mean "
                           "'drones'?"]),
    "--set malformed value": ({}, ["fortified_defense", "--set", "attacker.drones=[1,"],
                              ["fortified_defense.toml: --set attacker.drones=[1,: '[1,' is not a "
                               "value; allowed: a TOML literal"]),
    "--set wrong type": ({}, ["fortified_defense", "--set", "attacker.drones=many"],
                         ["attacker.drones: Input should be a valid integer", "(got 'many')"]),
    "--set without =": ({}, ["fortified_defense", "--set", "attacker.drones"],
                        ["--set attacker.drones: 'attacker.drones' is not an assignment; "
                         "allowed: key.path=value"]),
    "--set missing list item": ({}, ["fortified_defense", "--set", "attacker.units[7].count=1"],
                                ["--set attacker.units[7].count: attacker.units has 3 items; "
                                 "allowed: [0] to [2]"]),
    "--set unknown list": ({}, ["fortified_defense", "--set", "attacker.unit[0].count=1"],
                           ["--set attacker.unit[0].count: unknown key 'unit'; did you mean "
                            "'units'?"]),
    "--set base": ({}, ["fortified_defense", "--set", "base=bakhmut_2022_2023"],
                   ["fortified_defense.toml: --set base: the base is chosen in the file"]),
    "--days 0": ({}, ["fortified_defense", "--days", "0"],
                 ["--days: 0 is too small; allowed: 1 or more"]),
    "--replicates 0": ({}, ["fortified_defense", "--replicates", "0"],
                       ["--replicates: 0 is too small; allowed: 1 or more"]),
    "unknown --format": ({}, ["fortified_defense", "--format", "xlsx"],
                         ["--format: invalid choice: 'xlsx'"]),
    "unwritable --out": ({"blocker": "a file, not a folder"}, ["fortified_defense", "--out",
                                                               "blocker/out"],
                         ["--out blocker/out: cannot write there", "allowed: a directory you "
                                                                   "can write"]),
    "non-empty --out": ({"full/keep.txt": "earlier results"}, ["fortified_defense", "--out",
                                                              "full"],
                        ["--out full: exists and is not an empty directory; allowed: a new or "
                         "empty directory"]),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_gets_one_line_exit_2_and_no_results(case, tmp_path, monkeypatch):
    files, args, expected = BAD_INPUTS[case]
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    out = [] if "--out" in args else ["--out", "results"]
    monkeypatch.chdir(tmp_path)
    proc = attrition_here("run", *args, *out)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for fragment in expected:
        assert fragment in lines[0], lines[0]
    # Nothing written: no results folder, no staging folder, no runs/.
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize("case", ["unknown key", "not TOML", "looping base"])
def test_check_reports_bad_files_the_same_way(case, tmp_path, monkeypatch):
    files, args, expected = BAD_INPUTS[case]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    good = Path(PROJECT_SCENARIOS / "fortified_defense.toml")
    monkeypatch.chdir(tmp_path)
    proc = attrition_here("check", good, *args)
    assert proc.returncode == 2
    assert proc.stdout.startswith("ok: ")
    assert len(proc.stderr.strip().splitlines()) == 1 and expected[0] in proc.stderr


def test_a_reader_that_stops_early_is_not_an_error():
    """`attrition list | head -1`: once the reader has gone, no error and no traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "sim", "list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    proc.stdout.close()  # gone before the command writes a line
    err = proc.stderr.read()
    assert proc.wait() == 0 and err == ""


# ---------------------------------------------------------------- attrition score
SCORE_MONTHS = [f"2025-{m:02d}" for m in range(1, 13)]
SCORE_MEANS = [40_000.0 + 1_000 * i for i in range(12)]


def _write_forecast_and_record(folder: Path) -> tuple[Path, Path]:
    """A 2025 forecast of claimed losses (intervals of +-3,000) and a record 1,500 below
    its mean, except three months 5,000 above it (outside): coverage 9 of 12, mean error
    (9 x 1,500 - 3 x 5,000) / 12 = -125, mean absolute error 2,375."""
    from sim.forecast import make_provenance, write_forecast

    table = pd.DataFrame({"month": SCORE_MONTHS, "quantity": "claimed_losses",
                          "who": "attacker", "mean": SCORE_MEANS,
                          "low": [m - 3_000 for m in SCORE_MEANS],
                          "high": [m + 3_000 for m in SCORE_MEANS], "level": 0.9,
                          "replicates": 40})
    forecast = write_forecast(table, folder / "forecast.csv", make_provenance(
        "theatre", "0" * 64, 3, 40, ("2023-01-01", "2024-12-31")))
    values = [m - 1_500 for m in SCORE_MEANS]
    for i in (3, 4, 8):
        values[i] = SCORE_MEANS[i] + 5_000
    record = folder / "record.csv"
    pd.DataFrame({"month": SCORE_MONTHS, "quantity": "claimed_losses", "who": "attacker",
                  "value": values}).to_csv(record, index=False)
    return forecast, record


def test_score_prints_coverage_beside_the_nominal_level_and_the_errors(tmp_path):
    forecast, record = _write_forecast_and_record(tmp_path)
    before = sorted(tmp_path.iterdir())
    proc = attrition("score", forecast, record, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"Forecast {forecast}: scenario theatre, seed 3, 40 "
                               f"replicates, calibrated on 2023-01-01 to 2024-12-31")
    header, row = lines[3].split(), lines[4]
    assert header[:5] == ["quantity", "who", "months", "nominal", "coverage"]
    assert row.split()[:6] == ["claimed_losses", "attacker", "12", "90%", "75%", "(9/12)"]
    assert "47% to 93%" in row and "yes" in row  # 9 of 12 could be noise at 90%
    assert "-125" in row and "2,375" in row
    assert "above: 2025-04 to 2025-05, 2025-09" in row
    assert sorted(tmp_path.iterdir()) == before  # nothing written without --out


def test_score_json_and_out_hold_the_same(tmp_path, capsys):
    forecast, record = _write_forecast_and_record(tmp_path)
    assert main(["score", str(forecast), str(record), "--json", "--out",
                 str(tmp_path / "scored")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert sorted(p.name for p in (tmp_path / "scored").iterdir()) == ["score.csv",
                                                                       "score.json"]
    assert json.loads((tmp_path / "scored" / "score.json").read_text()) == printed
    (row,) = printed["scores"]
    assert (row["months"], row["covered"], row["coverage"]) == (12, 9, 0.75)
    assert row["mean_error"] == pytest.approx(-125.0)
    assert row["mean_absolute_error"] == pytest.approx(2_375.0)
    assert row["missed_above"] == ["2025-04", "2025-05", "2025-09"]
    assert printed["forecast"]["provenance"]["seed"] == 3
    assert printed["records"] == [{"file": str(record), "format": "tidy", "notes": []}]
    csv_row = pd.read_csv(tmp_path / "scored" / "score.csv").iloc[0]
    assert csv_row["missed_above"] == "2025-04;2025-05;2025-09"


def test_score_takes_several_records_and_names_what_it_cannot_score(tmp_path, capsys):
    forecast, record = _write_forecast_and_record(tmp_path)
    named = tmp_path / "named.csv"
    named.write_text("month,named_deaths\n2025-01,4000\n")
    assert main(["score", str(forecast), str(record), str(named)]) == 0
    out = capsys.readouterr().out
    assert "Not scored or left out:" in out
    assert "not in the forecast: named_dead attacker" in out
    assert f"{named}: a named list is a lower bound" in out


def test_score_help_says_what_it_measures(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "score" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["score", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "binomial 90% interval" in text and "month,quantity,who,value" in text


SCORE_BAD_INPUTS = {
    # case: (what to break, the one line's fragments)
    "forecast row": (("forecast.csv", lambda t: t.replace("2025-03,", "2025-3,", 1)),
                     ["forecast.csv: row 6, column month: '2025-3' is not a month"]),
    "forecast interval": (("forecast.csv", lambda t: t.replace(",40000.0,37000.0,",
                                                               ",40000.0,41000.0,")),
                          ["forecast.csv: row 4, column mean: 40,000 is outside low 41,000"]),
    "record value": (("record.csv", lambda t: t.replace("38500.0", "lots")),
                     ["record.csv: row 2, column value: 'lots' is not a number"]),
    "record header": (("record.csv", lambda t: t.replace("value", "persons", 1)),
                      ["record.csv: row 1: header 'month,quantity,who,persons' is not a "
                       "record's"]),
    "forecast as record": (("record.csv", lambda t: (Path("forecast.csv").read_text())),
                           ["record.csv: row 1: a forecast file, not a record"]),
    "nothing in common": (("record.csv", lambda t: t.replace("2025-", "2024-")),
                          ["nothing to score", "forecast (2025-01 to 2025-12) and the "
                                               "record (2024-01 to 2024-12)"]),
    "missing record": (("record.csv", None), ["record.csv: no such file"]),
}


@pytest.mark.parametrize("case", SCORE_BAD_INPUTS)
def test_score_refuses_bad_input_in_one_line_and_writes_nothing(tmp_path, case,
                                                                monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write_forecast_and_record(tmp_path)
    (name, change), fragments = SCORE_BAD_INPUTS[case]
    if change is None:
        (tmp_path / name).unlink()
    else:
        (tmp_path / name).write_text(change((tmp_path / name).read_text()))
    before = sorted(tmp_path.rglob("*"))
    proc = attrition_here("score", "forecast.csv", "record.csv", "--out", "scored")
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("attrition: error: "), proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert sorted(tmp_path.rglob("*")) == before


def test_score_refuses_an_out_folder_in_use(tmp_path):
    forecast, record = _write_forecast_and_record(tmp_path)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("earlier")
    proc = attrition("score", forecast, record, "--out", tmp_path / "full", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "exists and is not an empty directory" in proc.stderr
    assert len(proc.stderr.splitlines()) == 1
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]


# ---------------------------------------------------------------- manners
#: What `attrition --help` must not import: seconds of start-up it never needs.
HEAVY = {"pandas", "numpy", "matplotlib", "numba", "pydantic", "scipy", "pyarrow", "mesa"}


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["sweep", "--help"],
                                  ["run", "--help"]])
def test_help_and_version_import_nothing_heavy(args):
    """Checked by what the interpreter reports importing (-X importtime), not by a time:
    benchmarks/cli_manners.py times it."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "sim", *args],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.rsplit("|", 1)[1].strip().split(".")[0]
                for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "sim" in imported and not imported & HEAVY, sorted(imported & HEAVY)


def test_version_prints_the_distribution_and_its_version():
    import sim

    proc = attrition("--version")
    assert proc.returncode == 0 and proc.stdout == f"attrition-sim {sim.__version__}\n"


def test_the_parser_s_copies_of_constants_agree_with_their_modules():
    """sim.cli_args keeps copies so that --help need not import their modules."""
    from sim import animation, cli, cli_args, experiments, fields, outputs, validation
    from sim.model import memory

    assert cli_args.RUN_FORMATS == outputs.FORMATS
    assert (cli_args.FRAMES_PER_SECOND, cli_args.MIN_FPS, cli_args.MAX_FPS) == (
        animation.FRAMES_PER_SECOND, animation.MIN_FPS, animation.MAX_FPS)
    assert (cli_args.SIZE, cli_args.MIN_SIZE, cli_args.MAX_SIZE) == (
        animation.SIZE, animation.MIN_SIZE, animation.MAX_SIZE)
    assert cli_args.VALIDATE_REPLICATES == validation.DEFAULT_REPLICATES
    assert cli_args.MAX_POINTS == experiments.MAX_POINTS
    assert cli_args.MAX_SWEEP_REPLICATES == experiments.MAX_VALUES
    assert cli_args.MAX_DAYS == fields.MAX_DAYS
    assert cli.LIMIT_VARIABLE == memory.LIMIT_VARIABLE


def test_run_json_names_the_folder_it_wrote_on_stderr(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "fortified_defense", "--days", "2", "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["days"] == 2  # stdout: the JSON alone
    (folder,) = (tmp_path / "runs").iterdir()
    assert captured.err == f"attrition: results in runs/{folder.name}/\n"
    assert (folder / "summary.json").is_file()
    # Named by the user: nothing to say.
    assert main(["run", "fortified_defense", "--days", "2", "--json", "--out", "mine"]) == 0
    assert capsys.readouterr().err == ""


def test_no_files_writes_nothing_at_all(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "fortified_defense", "--days", "2", "--json", "--no-files"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["days"] == 2 and captured.err == ""
    assert main(["run", "fortified_defense", "--days", "2", "--no-files"]) == 0
    assert "fortified_defense, seed 0: 2 days" in capsys.readouterr().out
    for flag in (["--out", "x"], ["--format", "csv"], ["--animate", "a.gif"]):
        assert main(["run", "fortified_defense", "--no-files", *flag]) == 2
        err = capsys.readouterr().err
        assert f"{flag[0]}: --no-files writes nothing" in err and len(err.splitlines()) == 1
    assert main(["validate", "human_wave_foreign_contingent", "--replicates", "2",
                 "--workers", "1", "--no-progress", "--json", "--no-files"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"]
    assert list(tmp_path.iterdir()) == []


def test_csv_and_parquet_runs_hold_the_same_data(tmp_path, capsys):
    """attrition run --format csv and --format parquet: the same rows, columns and values
    (pandas reads the CSV's floats back exactly)."""
    frames = {}
    for fmt in ("csv", "parquet"):
        assert main(["run", "fortified_defense", "--days", "3", "--seed", "5", "--replicates",
                     "2", "--format", fmt, "--out", str(tmp_path / fmt)]) == 0
        read = pd.read_csv if fmt == "csv" else pd.read_parquet
        frames[fmt] = [read(tmp_path / fmt / f"{name}.{fmt}") for name in ("daily", "events")]
    capsys.readouterr()
    for csv, parquet in zip(frames["csv"], frames["parquet"], strict=True):
        assert len(parquet) > 0
        pd.testing.assert_frame_equal(csv.astype(object).where(csv.notna(), None),
                                      parquet.astype(object).where(parquet.notna(), None),
                                      check_exact=True)
