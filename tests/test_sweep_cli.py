"""Sweeps an analyst can size and find: --replicates/--samples/--seed, the dry run's
estimate, folders named by experiment and date that the same command resumes, sweeps
found by name or `latest`, `attrition sweeps`, and CSV copies equal to the Parquet."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main
from sim.experiments import Experiment, design_points, load_experiment
from sim.publish import sweep_folder
from sim.sweep import Probe, run_sweep, time_probe, write_csv_copies
from sim.sweep_store import LOCK_FILE, PARTS_DIR, Store, StoreError, SweepLock, find_sweep

ROOT = Path(__file__).resolve().parents[1]
STAMPED = re.compile(r"exp-\d{8}-\d{4}-[0-9a-f]{8}")

# Two runs of two days with series: the model, quickly.
TINY = ('question = "Do drones change the attacker\'s losses?"\n'
        'scenario = "fortified_defense"\nreplicates = 1\nseed = 4\n'
        'metrics = ["attacker_killed", "stop_reason"]\n'
        '[set]\nmax_days = 2\n'
        '[series]\ncolumns = ["personnel"]\n'
        '[parameters."defender.drones"]\nvalues = [0, 20]\n')


def function_experiment(**extra) -> Experiment:
    return Experiment.model_validate({
        "question": "Which labels and numbers does a function give?",
        "scenario": "not used: the evaluator is a function",
        "parameters": {"x": {"values": [0, 1, 2, 3]}}, "replicates": 2, "seed": 1,
        "metrics": ["ratio", "negative", "label", "sometimes"]} | extra)


def labelled(params, seed):
    """Numbers of full precision and negative ones, text that a spreadsheet would run as a
    formula, a metric missing in some runs, and a daily series."""
    x = params["x"]
    labels = ["=1+2", "-x", "@SUM(A1)", "plain"]
    series = pd.DataFrame({"day": [0, 1], "side": ["attacker", "=defender"],
                           "personnel": [seed % 997 / 3, -x / 7]})
    return ({"ratio": seed / 7, "negative": -x - 0.5, "label": labels[x],
             "sometimes": None if x % 2 else x}, series)


def sweep_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if not line.startswith("SWEEP ")]


# ------------------------------------------------------------------ the flags
def test_flags_size_the_design_and_enter_the_hash_as_the_file_s_values(tmp_path):
    base = ROOT / "experiments" / "sensitivity_ler.toml"
    flagged = load_experiment(base, sizes={"samples": 128, "replicates": 1, "seed": 7})
    written = tmp_path / "sensitivity_ler.toml"
    text = base.read_text().replace("samples = 256", "samples = 128").replace(
        "replicates = 2", "replicates = 1").replace("seed = 99", "seed = 7")
    written.write_text(text)
    same = load_experiment(written)
    assert (flagged.samples, flagged.replicates, flagged.seed) == (128, 1, 7)
    assert flagged.fingerprint() == same.fingerprint()
    assert flagged.fingerprint() != load_experiment(base).fingerprint()
    assert len(design_points(flagged)) == 128 * (7 + 2)


@pytest.mark.parametrize("flags, message", [
    (["--samples", "16"], "sensitivity_ler.toml: samples: 16 is too few for Sobol indices of "
                          "7 parameters; allowed: a power of 2 of at least 128, 1,152 points"),
    (["--samples", "200"], "samples: 200 is not a power of 2"),
    (["--replicates", "0"], "--replicates: 0 is too small; allowed: 1 or more"),
])
def test_flags_are_checked_as_the_file_s_values_are(flags, message, tmp_path, monkeypatch,
                                                    capsys):
    monkeypatch.chdir(tmp_path)
    try:
        status = main(["sweep", str(ROOT / "experiments" / "sensitivity_ler.toml"), *flags])
    except SystemExit as stop:  # argparse's own checks
        status = stop.code
    assert status == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert list(tmp_path.iterdir()) == []


def test_samples_of_a_grid_are_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", str(ROOT / "experiments" / "docking.toml"), "--samples",
                 "10"]) == 2
    err = capsys.readouterr().err
    assert "samples: a grid design takes every combination" in err, err
    assert len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ the probe
def test_the_probe_times_points_spread_over_the_design_and_stops_a_long_run():
    exp = function_experiment(parameters={"x": {"values": list(range(40))}})
    points = design_points(exp)
    seen = []

    def quick(params, seed):
        seen.append(params["x"])
        return {"ratio": 1.0, "negative": -1.0, "label": "a", "sometimes": 1}, None

    probe = time_probe(exp, points, quick)
    assert seen == [0, 10, 20, 29, 39] and probe.runs == 5 and not probe.stopped
    assert probe.seconds_per_run is not None and probe.seconds_per_run >= 0

    def endless(params, seed):
        time.sleep(60)

    before = signal.getsignal(signal.SIGALRM)
    start = time.monotonic()
    assert time_probe(exp, points, endless, seconds=0.2) == Probe(0, None, True)
    assert time.monotonic() - start < 5
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


# ----------------------------------------------------- folders, resuming, names
def test_the_same_command_resumes_its_folder_named_by_experiment_and_date(tmp_path,
                                                                           monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("exp.toml").write_text(TINY)
    command = ["sweep", "exp.toml", "--workers", "1", "--no-progress"]
    assert main(command) == 0
    (first,) = Path("sweeps").iterdir()
    assert STAMPED.fullmatch(first.name), first.name
    assert first.name.endswith(load_experiment("exp.toml").fingerprint()[:8])
    assert "0 already stored" in capsys.readouterr().out

    assert main(command) == 0  # again: the same folder, nothing to run
    assert "2 already stored" in capsys.readouterr().out
    assert main([*command, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert f"into {first}/" in out and "2 of them already stored there" in out
    assert out.splitlines()[-1] == "estimated time: none, every run is stored"
    assert list(Path("sweeps").iterdir()) == [first]

    # A folder named before the date was in the name is resumed too.
    old = first.with_name(f"exp-{first.name[-8:]}")
    first.rename(old)
    assert main(command) == 0
    assert "2 already stored" in capsys.readouterr().out
    assert list(Path("sweeps").iterdir()) == [old]

    # A flag changes the experiment, hence the hash and the folder. (The first sweep is
    # dated a year back: two sweeps of one experiment started in the same second are
    # ambiguous by name.)
    manifest = json.loads((old / "manifest.json").read_text())
    (old / "manifest.json").write_text(json.dumps(manifest | {"started": "2025-01-01T00:00"}))
    assert main([*command, "--seed", "9"]) == 0
    capsys.readouterr()
    new = [p for p in Path("sweeps").iterdir() if p != old]
    assert len(new) == 1 and STAMPED.fullmatch(new[0].name)
    assert new[0].name.endswith(load_experiment("exp.toml", sizes={"seed": 9})
                                .fingerprint()[:8])

    # Found by name: the experiment's newest sweep, latest, a folder's name.
    assert main(["verify", "exp", "latest", old.name]) == 0
    assert capsys.readouterr().out.splitlines() == [f"ok: {new[0]}", f"ok: {new[0]}",
                                                    f"ok: {old}"]
    assert main(["report", "exp"]) == 0
    assert capsys.readouterr().out.strip() == f"Report in {new[0] / 'report.md'}"
    assert main(["report", str(old), str(new[0])]) == 2
    err = capsys.readouterr().err
    assert "2 sweeps given" in err and "allowed: one:" in err and len(err.splitlines()) == 1


def test_the_newest_folder_of_a_hash_is_resumed_and_a_new_one_named_by_the_time(tmp_path):
    code = "1a2b3c4d"
    for name in (f"exp-20250101-0900-{code}", f"exp-20260101-0900-{code}", f"exp-{code}",
                 "exp-20270101-0000-99999999", f"other-20270101-0000-{code}"):
        (tmp_path / name).mkdir()
    (tmp_path / f"exp-20280101-0000-{code}").write_text("a file, not a sweep's folder")
    assert sweep_folder("exp", code + "5e6f", tmp_path) == tmp_path / f"exp-20260101-0900-{code}"
    assert sweep_folder("new", code, tmp_path, datetime(2026, 12, 4, 16, 30)) == (
        tmp_path / f"new-20261204-1630-{code}")
    assert sweep_folder("exp", code, tmp_path / "not-yet").parent == tmp_path / "not-yet"


def _sweep_with_start(root: Path, name: str, started: str, **manifest) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"started": started, "runs": 4,
                                                      "status": "complete"} | manifest))
    return folder


def test_a_sweep_is_found_by_folder_name_experiment_or_latest(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    root = Path("sweeps")
    a = _sweep_with_start(root, "exp-20260101-0900-aaaaaaaa", "2026-01-01T09:00:00+00:00")
    b = _sweep_with_start(root, "exp-20260102-0900-bbbbbbbb", "2026-01-02T09:00:00+00:00")
    c = _sweep_with_start(root, "other-20251231-0000-cccccccc", "2025-12-31T00:00:00+00:00")
    os.utime(c, (2e9, 2e9))  # touched last: latest goes by the start, not the mtime
    os.utime(c / "manifest.json", (2e9, 2e9))
    assert find_sweep("latest") == b
    assert find_sweep("exp") == b and find_sweep("experiments/exp.toml") == b
    assert find_sweep("other") == c
    assert find_sweep(a.name) == a and find_sweep(str(a.resolve())) == a.resolve()

    with pytest.raises(StoreError) as unknown:
        find_sweep("nope")
    message = str(unknown.value)
    assert "\n" not in message and message.startswith("nope: not a folder")
    assert "allowed: a sweep's folder, or one of latest, exp, other, " + a.name in message

    tie = _sweep_with_start(root, "exp-20260102-0900-dddddddd", "2026-01-02T09:00:00Z")
    for name in ("exp", "latest"):
        with pytest.raises(StoreError, match="ambiguous, 2 sweeps started at 2026-01-02"):
            find_sweep(name)
    assert find_sweep(tie.name) == tie
    with pytest.raises(StoreError, match="latest: no sweep under empty/"):
        find_sweep("latest", root="empty")


# ------------------------------------------------------------- attrition sweeps
def _batch(folder: Path, runs: list[int]) -> None:
    Store(folder, ["run", "status"]).write_batch(
        [{"run": r, "point": r, "replicate": 0, "seed": r, "x": r, "status": "ok",
          "error": None} for r in runs], [])


def test_sweeps_lists_each_sweep_s_state_and_survives_hostile_folders(tmp_path):
    root = tmp_path / "sweeps"
    complete = root / "fn-20260101-0900-aaaaaaaa"
    run_sweep(function_experiment(), complete, labelled, progress=False)
    manifest = json.loads((complete / "manifest.json").read_text())
    (complete / "manifest.json").write_text(json.dumps(
        manifest | {"started": "2026-01-06T09:00:00+00:00"}))
    interrupted = _sweep_with_start(
        root, "fn-20260102-0900-bbbbbbbb", "2026-01-02T09:00:00+00:00", status="running",
        experiment={"design": "sobol", "samples": 128, "replicates": 2})
    _batch(interrupted, [0, 1])
    running = _sweep_with_start(root, "fn-20260103-0900-cccccccc",
                                "2026-01-03T09:00:00+00:00", status="running")
    _batch(running, [3])
    # Hostile: a manifest that is a pipe, huge, nested without end or of the wrong types
    # (with terminal escapes); a lock or a batch file that is a pipe.
    for name, make in (("pipe", os.mkfifo),
                       ("huge", lambda p: p.open("wb").truncate(17 * 2**20)),
                       ("nested", lambda p: p.write_text("[" * 200_000))):
        (root / name).mkdir()
        make(root / name / "manifest.json")
    _sweep_with_start(root, "types", 5, runs="many", experiment=[1], status=7,
                      experiment_file="\x1b[31mred.toml")
    locked = _sweep_with_start(root, "pipe-lock", "2026-01-04T09:00:00+00:00",
                               status="interrupted")
    os.mkfifo(locked / LOCK_FILE)
    piped = _sweep_with_start(root, "pipe-batch", "2026-01-05T09:00:00+00:00",
                              status="interrupted")
    (piped / PARTS_DIR / "batch-000000000-0000").mkdir(parents=True)
    os.mkfifo(piped / PARTS_DIR / "batch-000000000-0000" / "runs.parquet")
    (root / "not-a-sweep").mkdir()

    with SweepLock(running):  # held here: the listing's process sees a sweep running
        proc = subprocess.run([sys.executable, "-m", "sim", "sweeps", str(root)],
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert "\x1b" not in proc.stdout
    lines = sweep_lines(proc.stdout)
    assert len(lines) == 9, proc.stdout  # not-a-sweep has no manifest
    by_name = {line.split()[0]: line for line in lines}
    assert re.search(r"fn\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+grid 4 x 2\s+8/8\s+complete$",
                     by_name[complete.name]), by_name[complete.name]
    assert re.search(r"sobol 128 \(2\) x 2\s+2/4\s+interrupted$", by_name[interrupted.name])
    assert re.search(r"\s1/4\s+running$", by_name[running.name])
    assert "damaged: not a manifest" in by_name["pipe"]
    assert "damaged: not a manifest" in by_name["huge"]
    assert "damaged: unreadable (RecursionError" in by_name["nested"]
    assert re.search(r"\\x1b\[31mred\s+\?\s+\?\s+0/\?\s+interrupted$", by_name["types"]), (
        by_name["types"])
    assert re.search(r"\s0/4\s+interrupted$", by_name["pipe-lock"])
    assert "damaged: not a plain file" in by_name["pipe-batch"]
    # Newest first by the start in the manifest, then those whose manifest gives none.
    assert [line.split()[0] for line in lines] == [
        complete.name, "pipe-batch", "pipe-lock", running.name, interrupted.name, "huge",
        "nested", "pipe", "types"]


# ------------------------------------------------------------------ CSV copies
def same_data(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every missing value one and the same (an empty CSV cell reads as
    NaN, a Parquet null as None), for an exact comparison."""
    return frame.astype(object).where(frame.notna(), None)


def assert_same_data(csv: pd.DataFrame, parquet: pd.DataFrame, name: str) -> None:
    pd.testing.assert_frame_equal(same_data(csv), same_data(parquet), check_exact=True,
                                  obj=name)


def read_csv_as_parquet(path: Path) -> pd.DataFrame:
    """A CSV copy read back (pandas reads floats back exactly), with the ' that keeps a
    spreadsheet from running a cell taken off again."""
    frame = pd.read_csv(path)
    frame.columns = [c[1:] if c.startswith("'") else c for c in frame.columns]
    for name in frame.columns:
        if frame[name].dtype.kind == "O":
            frame[name] = frame[name].map(
                lambda v: v[1:] if isinstance(v, str) and v[:2] in (
                    "'=", "'+", "'-", "'@") else v)
    return frame


def test_csv_copies_hold_the_parquet_data_with_formulas_kept_from_spreadsheets(tmp_path):
    out = tmp_path / "out"
    run_sweep(function_experiment(), out, labelled, progress=False, csv=True)
    for name in ("runs", "series"):
        parquet = pd.read_parquet(out / f"{name}.parquet")
        assert_same_data(read_csv_as_parquet(out / f"{name}.csv"), parquet, name)
    runs = pd.read_parquet(out / "runs.parquet")
    assert runs["ratio"].map(lambda v: len(repr(v))).max() >= 17  # full precision
    text = (out / "runs.csv").read_text()
    assert ",'=1+2," in text and ",'-x," in text and ",'@SUM(A1)," in text
    assert ",-0.5," in text and ",'-0.5" not in text  # numbers are never quoted
    assert "'=defender" in (out / "series.csv").read_text()
    assert not [p for p in out.iterdir() if p.name.startswith(".tmp-")]


def test_format_csv_on_a_complete_folder_writes_only_what_is_missing(tmp_path, monkeypatch,
                                                                     capsys):
    monkeypatch.chdir(tmp_path)
    Path("exp.toml").write_text(TINY)
    command = ["sweep", "exp.toml", "--workers", "1", "--no-progress", "--out", "out"]
    assert main(command) == 0
    assert not list(Path("out").glob("*.csv"))
    assert main([*command, "--format", "csv"]) == 0
    assert "2 already stored" in capsys.readouterr().out
    for name in ("runs", "series"):
        assert_same_data(read_csv_as_parquet(Path("out") / f"{name}.csv"),
                         pd.read_parquet(Path("out") / f"{name}.parquet"), name)
    (Path("out") / "series.csv").unlink()
    before = (Path("out") / "runs.csv").stat().st_mtime_ns
    assert write_csv_copies("out", missing_only=True) == [Path("out") / "series.csv"]
    assert (Path("out") / "runs.csv").stat().st_mtime_ns == before


def test_csv_copies_are_made_again_when_a_repair_rebuilds_the_parquet(tmp_path):
    """A sweep that reruns runs (their store was lost) rebuilds the Parquet files: its
    CSV copies are made again from them, not kept from before."""
    out = tmp_path / "out"
    run_sweep(function_experiment(), out, labelled, progress=False, csv=True)
    for name in ("runs", "series"):  # every run lost: all run again
        (out / f"{name}.parquet").unlink()
        (out / f"{name}.csv").write_text("stale\n")
    run_sweep(function_experiment(), out, labelled, progress=False, csv=True)
    for name in ("runs", "series"):
        assert_same_data(read_csv_as_parquet(out / f"{name}.csv"),
                         pd.read_parquet(out / f"{name}.parquet"), name)


def test_a_start_date_at_the_calendar_s_ends_is_unknown_not_a_traceback(tmp_path, capsys):
    from sim.sweep_store import started

    for when in ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        folder = _sweep_with_start(tmp_path, f"edge-{when[:4]}", when)
        assert started(folder) is None
    assert main(["sweeps", str(tmp_path)]) == 0
    assert len(sweep_lines(capsys.readouterr().out)) == 2


def test_the_dry_run_says_when_its_probe_runs_fail(tmp_path, monkeypatch, capsys):
    """Failed runs are quick: their time would make the estimate too short, so the dry
    run names them and times only the runs that worked."""
    monkeypatch.chdir(tmp_path)
    Path("exp.toml").write_text(TINY)
    assert main(["sweep", "exp.toml", "--dry-run", "--vary", "sector.width_cells=1,2"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"warning: 4 of the 4 probe runs failed; the first: .*do not fit", out), out
    assert "estimated time: unknown, as no probe run worked" in out
    assert not list(tmp_path.glob("sweeps/*"))


def test_a_design_table_shows_escape_codes_and_a_grid_refuses_repeated_values(tmp_path):
    from sim.outputs import format_design

    assert "\x1b" not in format_design([{"name\x1b[2J": "a\x1b[31mb", "x": 1}])
    for values in ([0.0, 0.0], ["a", "a"]):
        with pytest.raises(ValueError, match="is given twice"):
            function_experiment(parameters={"x": {"values": values}})
    function_experiment(parameters={"x": {"values": [1, True, 1.5]}})  # 1 and True differ


@pytest.mark.parametrize("text", ["1_000", " +3", "\u0663", "3.0", "0x10"])
def test_number_flags_take_ascii_digits_only(text, capsys):
    with pytest.raises(SystemExit):
        main(["run", "--days", text, "--no-files"])
    err = capsys.readouterr().err
    assert "is not a whole number (digits 0-9)" in err and len(err.splitlines()) == 1


def test_an_empty_sweep_name_is_refused_not_taken_for_the_current_folder(tmp_path,
                                                                          monkeypatch):
    monkeypatch.chdir(tmp_path)
    for text in ("", "  "):
        with pytest.raises(StoreError, match="no sweep named"):
            find_sweep(text)
