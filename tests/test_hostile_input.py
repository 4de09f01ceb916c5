"""Hostile input never crashes (issue 16): malformed scenario files, ``--set`` values,
experiment files, ``--vary`` ranges and record CSVs, built by hypothesis, each get exit
0 with a valid result or exit 2 with at most two lines on stderr and no traceback,
within a time limit, and leave no file behind on failure. Then a plain test for each
case the issue reported.

The property tests drive ``sim.cli.main`` in this process (a subprocess per example
would be too slow) on tiny runs (``--days 1``). In CI each runs a few dozen examples;
the exhaustive run, many more::

    ATTRITION_EXHAUSTIVE=1 python3 -m pytest tests/test_hostile_input.py -m exhaustive
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from sim import Scenario, run
from sim.cli import main
from sim.config import ContingentConfig
from sim.experiments import Experiment, load_experiment
from sim.fields import MAX_PERSONS
from sim.keypaths import format_key_path, lookup, split_key_path
from sim.model import AttritionModel
from sim.model.memory import LIMIT_VARIABLE, MemoryLimitError, estimate_memory
from sim.records import RecordError, read_record
from sim.scenarios import MAX_BASES, MAX_DEPTH, MAX_FILE_BYTES, ScenarioError, load

EXHAUSTIVE = os.environ.get("ATTRITION_EXHAUSTIVE") == "1"
# Examples per property in CI and in the exhaustive run.
EXAMPLES = 2000 if EXHAUSTIVE else 25
# An example (a whole command) that takes longer than this is a hang.
TIME_LIMIT_S = 60.0
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, derandomize=not EXHAUSTIVE,
                    suppress_health_check=[HealthCheck.too_slow,
                                           HealthCheck.function_scoped_fixture])
# Experiments and --vary are refused or dry-run in milliseconds: four times as many.
CHEAP = settings(PROPERTY, max_examples=4 * EXAMPLES)

# --------------------------------------------------------------- the command, checked
def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def _valid_json(text: str):
    return json.loads(text, parse_constant=_reject_constant)


def attrition(folder: Path, *argv: str) -> tuple[int, str, str]:
    """Run the command in this process, in ``folder``; check the issue's promise: exit
    0, or exit 2 with at most two lines on stderr, no traceback and no new file in
    ``folder``; within the time limit. Returns the status, stdout and stderr."""
    before = _files(folder)
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(argv))
        except SystemExit as exit_:  # argparse
            status = exit_.code
    elapsed = time.perf_counter() - start
    stderr = err.getvalue()
    assert elapsed < TIME_LIMIT_S, (argv, elapsed)
    assert "Traceback" not in stderr, stderr
    assert status in (0, 2), (status, stderr[-2000:], argv)
    with contextlib.suppress(InvalidArgument):  # outside a hypothesis test
        event(f"{argv[0]}: exit {status}")
    if status == 2:
        assert 1 <= len(stderr.splitlines()) <= 2, stderr
        assert "error" in stderr
        assert _files(folder) == before, (argv, _files(folder) - before)
    return status, out.getvalue(), stderr


def _check_run_folder(folder: Path) -> None:
    summary = _valid_json((folder / "summary.json").read_text())
    assert summary["days"] >= 1
    assert (folder / "daily.csv").stat().st_size > 0


# --------------------------------------------------------------------- strategies
def _leaves(node, parts=()) -> list[str]:
    """Every key path to a value of nested tables and lists."""
    if isinstance(node, dict) and node:
        return [k for key, value in node.items() for k in _leaves(value, (*parts, key))]
    if isinstance(node, list) and node:
        return [k for i, value in enumerate(node) for k in _leaves(value, (*parts, i))]
    return [format_key_path(parts)]


LEAVES = sorted(_leaves(Scenario().model_dump()))
HOSTILE_INTS = [-1, 0, 1, 2, 3, 7, 30, 2001, 36_500, 36_501, 10**6, MAX_PERSONS,
                MAX_PERSONS + 1, 2**31, 2**62, 2**63 - 1, 2**63, 2**64, 10**20, 10**400]
HOSTILE_FLOATS = [math.inf, -math.inf, math.nan, -0.0, 0.0, 0.5, 1.0, 1.5, 1e-308, 1e6,
                  1e9, 1e30, 1e308, -1e308]
HOSTILE_STRINGS = ["", "5", "0.5", "inf", "nan", "true", "x" * 200, "human_wave",
                   "../../escape", "$\\foo$", "<script>"]
scalars = st.one_of(st.sampled_from(HOSTILE_INTS), st.sampled_from(HOSTILE_FLOATS),
                    st.booleans(), st.sampled_from(HOSTILE_STRINGS),
                    st.integers(-10, 100), st.floats(allow_nan=True, allow_infinity=True))
# Values a key may well take: most examples should be near the valid ones.
PLAUSIBLE = st.one_of(st.integers(0, 40), st.floats(0, 1), st.booleans(),
                      st.sampled_from(["human_wave", "infiltration", "fortified_defense",
                                       "constant", "depleting"]))
DEFAULTS = Scenario().model_dump()


def near(key: str):
    """Values like the key's default (so that many examples are valid), or any
    plausible value where the key is not in the reference scenario."""
    try:
        default = lookup(DEFAULTS, split_key_path(key))
    except (KeyError, IndexError, TypeError, ValueError):
        return PLAUSIBLE
    if isinstance(default, bool):
        return st.booleans()
    if isinstance(default, int):
        return st.integers(max(0, default - 2), default + 2)
    if isinstance(default, float):
        return st.floats(0.0, max(1.0, default))
    return st.just(default)


values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(["a", "count", "pool"]),
                                                 inner, max_size=2)), max_leaves=6)


@st.composite
def key_parts(draw) -> list:
    """A scenario key's parts: a real one, one with a list index or [*], or a bogus
    one (maybe thousands of parts deep)."""
    key = draw(st.sampled_from(LEAVES))
    parts = split_key_path(key)
    kind = draw(st.sampled_from(["real"] * 5 + ["index", "every", "bogus", "deep"]))
    if kind == "index" and "units" in parts[:-1]:
        parts[parts.index("units") + 1] = draw(st.sampled_from([0, 1, 2, 99]))
    elif kind == "every" and "units" in parts[:-1]:
        parts[parts.index("units") + 1] = "*"
    elif kind == "bogus":
        parts[-1] = draw(st.sampled_from(["cout", "drone", "x", "max_day"]))
    elif kind == "deep":
        parts += ["a"] * draw(st.sampled_from([1, 20, 3000]))
    return parts


def keys():
    return key_parts().map(format_key_path)


def _toml_literal(value) -> str:
    """A value as TOML (``inf``, ``nan`` and huge integers included)."""
    return tomli_w.dumps({"v": value})[4:].strip()


literals = st.one_of(
    PLAUSIBLE.map(_toml_literal), PLAUSIBLE.map(_toml_literal),
    values.map(_toml_literal),
    st.sampled_from(["[" * 3000 + "]" * 3000, "9" * 5000, "1e999", "'unterminated",
                     "{a = }", "nan", "-inf", "0x10", "1979-05-27", "a b"]),
    st.text(max_size=20))


def _write_tree(data) -> str:
    try:
        return tomli_w.dumps(data)
    except (TypeError, ValueError):
        return "x = 1\n"
    except RecursionError:  # a key thousands of tables deep
        return "a" + ".a" * 3000 + " = 1\n"


@st.composite
def scenario_files(draw) -> bytes:
    """A scenario file: a base or none, a few keys with hostile values, sometimes raw
    damage (cut, garbage, deep nesting, invalid UTF-8)."""
    data = {}
    base = draw(st.sampled_from([None, "fortified_defense", "fortified_defense",
                                 "lanchester_square", "nonexistent", 5]))
    if base is not None:
        data["base"] = base
    for parts in draw(st.lists(key_parts(), max_size=4)):
        if any(isinstance(p, int) or p == "*" for p in parts):
            continue  # a file sets whole lists
        node = data
        for part in parts[:-1]:
            node = node.setdefault(str(part), {})
            if not isinstance(node, dict):
                break
        else:
            node[str(parts[-1])] = draw(st.one_of(PLAUSIBLE, values))
    text = _write_tree(data).encode()
    damage = draw(st.sampled_from(["none"] * 6 + ["cut", "garbage", "deep", "utf8"]))
    if damage == "cut":
        text = text[:draw(st.integers(0, max(0, len(text) - 1)))]
    elif damage == "garbage":
        text += draw(st.binary(max_size=20))
    elif damage == "deep":
        text += b"x = " + b"[" * 3000 + b"]" * 3000 + b"\n"
    elif damage == "utf8":
        text += b'description = "\xff\xfe"\n'
    return text


NUMBER_TEXT = st.sampled_from(["0", "1", "-1", "0.5", "10", "1e20", "1e400", "inf", "nan",
                               "-0", "1e-300", "3", "2.5", "x", ""])


@st.composite
def vary_specs(draw) -> str:
    key = draw(keys())
    kind = draw(st.sampled_from(["range", "interval", "values", "raw", "plausible",
                                 "plausible"]))
    numbers = draw(st.lists(NUMBER_TEXT, min_size=1, max_size=4))
    if kind == "plausible":
        low = draw(st.integers(0, 5))
        return f"{key}=" + draw(st.sampled_from([
            f"range({low},{low + draw(st.integers(1, 4))})",
            f"interval({low / 10},{low / 10 + 0.1})",
            f"{low},{low + 1}", f"{low / 10},{low / 10 + 0.05}", "true,false"]))
    if kind == "range":
        spec = f"range({','.join(numbers)})"
    elif kind == "interval":
        spec = f"interval({','.join(numbers)})"
    elif kind == "values":
        spec = ",".join(draw(st.lists(literals, min_size=1, max_size=3)))
    else:
        spec = draw(st.text(max_size=20))
    return f"{key}={spec}"


def mostly(draw, good, *bad):
    """``good`` nine times in ten, else one of ``bad``."""
    return good if draw(st.integers(0, 9)) else draw(st.sampled_from(bad))


@st.composite
def experiments(draw) -> bytes:
    data = {"question": mostly(draw, "How do drones change the losses?", "short", 5, ""),
            "scenario": mostly(draw, "fortified_defense", "nonexistent", "../x", 1),
            "metrics": mostly(draw, ["loss_exchange_ratio"], ["nope"], [], "x"),
            "set": {"max_days": mostly(draw, 1, 2, 0, 1.5, "1", 10**9)}}
    design = mostly(draw, "grid", "random", "lhs", "sobol", "morris", "x")
    data["design"] = design
    if design != "grid" or draw(st.booleans()):
        data["samples"] = mostly(draw, 2, 1, 4, 0, -1, 3, 2**40, 10**20, 1.5, "4", True)
    if draw(st.booleans()):
        data["replicates"] = mostly(draw, 1, 2, 0, 10**6, 2**63, 1.0, False)
    parameters = {}
    count = mostly(draw, 1, 0, 2, 3)
    for key in [mostly(draw, draw(st.sampled_from(LEAVES)), draw(keys()))
                for _ in range(count)]:
        form = mostly(draw, "plausible", "values", "range", "interval", "junk")
        if form == "plausible":
            spec = {"values": draw(st.lists(near(key), min_size=1, max_size=2))}
        elif form == "values":
            spec = {"values": draw(st.lists(scalars, max_size=3))}
        elif form == "range":
            spec = {"range": {"start": draw(scalars), "stop": draw(scalars)}}
            if draw(st.booleans()):
                spec["range"]["step"] = draw(scalars)
        elif form == "interval":
            spec = {"interval": {"low": draw(scalars), "high": draw(scalars)}}
        else:
            spec = draw(values)
        parameters[key] = spec
    data["parameters"] = parameters
    return _write_tree(data).encode()


RECORD_COLUMNS = ["day", "attacker_strength", "defender_strength", "attacker_casualties",
                  "defender_casualties", "attacker_reinforcements", "strength"]
CELLS = st.one_of(st.sampled_from(["", "nan", "NaN", "inf", "-inf", "1e30", "-5", "abc",
                                   "1e9", "1e10", "0.5", "0", "1e400", '"7"', " 12 "]),
                  st.integers(0, 2000).map(str))
DAYS = st.one_of(st.integers(-3, 25).map(str),
                 st.sampled_from(["1e30", "-1e12", "36501", "0.5", "", "nan", "x", "inf"]))


@st.composite
def records(draw) -> bytes:
    """A record CSV: a header (maybe only a header), rows of hostile cells."""
    columns = draw(st.lists(st.sampled_from(RECORD_COLUMNS), min_size=0, max_size=4,
                            unique=True))
    if draw(st.integers(0, 4)):
        columns = ["day"] + [c for c in columns if c != "day"]
    plausible = draw(st.integers(0, 2)) > 0  # mostly a clean record with a few bad cells
    if plausible:
        columns = ["day", "attacker_strength", "defender_strength"]
    lines = [",".join(columns)]
    for d in range(draw(st.integers(0, 12))):
        if plausible and draw(st.integers(0, 5)):
            row = [str(d), str(1000 - 10 * d + draw(st.integers(0, 5))),
                   str(800 - 12 * d + draw(st.integers(0, 5)))]
            lines.append(",".join(row))
            continue
        row = [draw(DAYS) if c == "day" else draw(CELLS) for c in columns]
        if draw(st.integers(0, 9)) == 0:
            row = row[:-1] or ["1", "2", "3"]  # a ragged row
        lines.append(",".join(row))
    text = "\n".join(lines) + ("\n" if draw(st.booleans()) else "")
    return text.encode() + (draw(st.binary(max_size=8)) if draw(st.integers(0, 9)) == 0
                            else b"")


FORECAST_MONTHS = st.one_of(st.sampled_from(["2025-01", "2025-02", "2025-12"]),
                            st.sampled_from(["2025-13", "2025-1", "2025-01-31", "", "0000-01",
                                             "\u0662\u0660\u0662\u0665-01", "Jan 2025"]))
FORECAST_NUMBERS = st.one_of(st.sampled_from(["0", "1", "100", "1e9", "1e10", "-5", "nan",
                                              "inf", "1e400", "", "1,000", "0x10", "1_000",
                                              "9" * 40, "2.5"]),
                             st.integers(0, 10_000).map(str))


@st.composite
def provenance_lines(draw, sound: bool = False) -> str:
    """The forecast file's two comment lines: sound, or broken one way."""
    from sim.forecast import FORMAT_LINE

    provenance = {"scenario": "theatre", "scenario_sha256": "0" * 64, "seed": 0,
                  "replicates": 40, "calibration_window": ["2023-01-01", "2024-12-31"],
                  "created": "2025-01-01T00:00:00+00:00", "sim_version": "0.1.0"}
    how = 0 if sound else draw(st.integers(0, 6))
    if how == 1:
        provenance.pop(draw(st.sampled_from(sorted(provenance))))
    elif how == 2:
        provenance[draw(st.sampled_from(sorted(provenance)))] = draw(st.one_of(
            scalars.filter(lambda v: not isinstance(v, float) or math.isfinite(v)),
            st.just([]), st.just({})))
    text = json.dumps(provenance)
    if how == 3:
        text = "[" * 50_000  # deeper than json's recursion limit
    elif how == 4:
        text = text[:draw(st.integers(0, len(text)))]
    first = f"# {FORMAT_LINE}\n" if how != 5 else ""
    return f"{first}# provenance: {text}\n" if how != 6 else first


@st.composite
def forecast_files(draw) -> bytes:
    """A forecast file: mostly sound with a few bad cells (as records() makes them);
    else a broken provenance, a header with a column lost or added, ragged rows, rows
    of hostile cells and bytes that are not text."""
    from sim.forecast import COLUMNS, QUANTITIES

    plausible = draw(st.integers(0, 2)) > 0
    columns = list(COLUMNS)
    if not plausible and draw(st.booleans()):
        columns.remove(draw(st.sampled_from(COLUMNS)))
    if not plausible and draw(st.booleans()):
        columns.append(draw(st.sampled_from(["median", "month", ""])))
    lines = [draw(provenance_lines(sound=plausible or draw(st.booleans())))
             + ",".join(columns)]
    cells = {"month": FORECAST_MONTHS,
             "quantity": st.sampled_from([*QUANTITIES, "", "claimed"]),
             "who": st.sampled_from(["attacker", "defender", "russia", ""]),
             "level": st.sampled_from(["0.9", "0.5", "0", "1", "-0.1", "nan", "90"]),
             "replicates": st.sampled_from(["40", "1", "0", "41", "2.5", "-1", "1e30"])}
    for i in range(draw(st.integers(1, 8))):  # no rows at all: tests/test_forecast.py
        low = draw(st.integers(0, 1000))
        row = {"month": f"2025-{i + 1:02d}", "quantity": "killed", "who": "attacker",
               "mean": str(low + 10), "low": str(low), "high": str(low + 20),
               "level": "0.9", "replicates": "40"}
        if plausible and draw(st.integers(0, 5)) == 0:
            column = draw(st.sampled_from(COLUMNS))
            row[column] = draw(cells.get(column, FORECAST_NUMBERS))
        elif not plausible:
            row = {c: draw(cells.get(c, FORECAST_NUMBERS)) for c in COLUMNS}
        line = [row.get(c, "1") for c in columns]
        if not plausible and draw(st.booleans()):
            line = line[:-1]  # a ragged row
        lines.append(",".join(line))
    text = "\n".join(lines) + "\n"
    return text.encode() + (draw(st.binary(max_size=8)) if not plausible and
                            draw(st.booleans()) else b"")


@st.composite
def scoring_records(draw) -> bytes:
    """A record in one of the formats score recognises (or none), hostile cells."""
    kind = draw(st.sampled_from(["tidy", "tidy", "daily", "named", "ukraine", "other"]))
    header = {"tidy": "month,quantity,who,value",
              "daily": "date,claimed_personnel_losses_cumulative",
              "named": "month,named_deaths", "ukraine": "month,named_deaths,named_missing",
              "other": draw(st.sampled_from(["day,killed", "", "month,value"]))}[kind]
    lines = [header]
    total = 0
    sound = draw(st.integers(0, 2)) > 0  # mostly a sound record with a few bad cells
    for i in range(draw(st.integers(1, 8))):  # no rows at all: tests/test_forecast.py
        plausible = sound and draw(st.integers(0, 5)) > 0
        if kind == "daily":
            total += draw(st.integers(0, 500))
            day = ["2024-12-31", "2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30",
                   "2025-05-31", "2025-06-30", "2025-07-31"][i]
            row = [day if plausible else draw(st.sampled_from(["2025-02-30", "", day])),
                   str(total) if plausible else draw(FORECAST_NUMBERS)]
        elif kind == "tidy":
            # A sound row is of what forecast_files() forecasts, so that it is scored.
            row = [f"2025-{i + 1:02d}", "killed", "attacker", str(draw(st.integers(0, 9999)))]
            if not plausible:
                row = [draw(FORECAST_MONTHS),
                       draw(st.sampled_from(["killed", "named_dead", "force_in_line", "x"])),
                       draw(st.sampled_from(["attacker", "defender", "ukraine"])),
                       draw(FORECAST_NUMBERS)]
        else:
            row = [f"2025-{i + 1:02d}" if plausible else draw(FORECAST_MONTHS)] + [
                draw(FORECAST_NUMBERS) for _ in header.split(",")[1:]]
        lines.append(",".join(row))
    text = "\n".join(lines) + ("\n" if draw(st.booleans()) else "")
    return text.encode() + (draw(st.binary(max_size=8)) if not sound and draw(st.booleans())
                            else b"")


# -------------------------------------------------------------- the properties
def _fresh():
    """A fresh folder per example (hypothesis runs many examples per test call)."""
    return tempfile.TemporaryDirectory(prefix="hostile-")


def _check_scenario_file(text: bytes) -> None:
    with _fresh() as name:
        folder = Path(name)
        (folder / "s.toml").write_bytes(text)
        attrition(folder, "check", str(folder / "s.toml"))
        status, _, _ = attrition(folder, "run", str(folder / "s.toml"), "--days", "1",
                                 "--out", str(folder / "out"), "--json")
        if status == 0:
            _check_run_folder(folder / "out")


def _check_set(key_values: list[tuple[str, str]]) -> None:
    with _fresh() as name:
        folder = Path(name)
        argv = ["run", "fortified_defense", "--days", "1", "--out", str(folder / "out"),
                "--json"]
        for key, literal in key_values:
            argv += ["--set", f"{key}={literal}"]
        status, stdout, _ = attrition(folder, *argv)
        if status == 0:
            _valid_json(stdout)
            _check_run_folder(folder / "out")


def _check_experiment(text: bytes, vary: list[str]) -> None:
    with _fresh() as name:
        folder = Path(name)
        (folder / "e.toml").write_bytes(text)
        extra = [a for v in vary for a in ("--vary", v)]
        status, stdout, _ = attrition(folder, "sweep", str(folder / "e.toml"), "--dry-run",
                                      *extra)
        if status != 0:
            return
        runs = int(stdout.splitlines()[1].split(" = ")[1].split()[0])
        if runs <= 3:
            status, _, _ = attrition(folder, "sweep", str(folder / "e.toml"), *extra,
                                     "--workers", "1", "--no-progress", "--out",
                                     str(folder / "out"))
            if status == 0:
                assert (folder / "out").is_dir()


def _check_vary(specs: list[str]) -> None:
    with _fresh() as name:
        folder = Path(name)
        argv = ["sweep", "docking", "--dry-run"]
        for spec in specs:
            argv += ["--vary", spec]
        attrition(folder, *argv)


def _check_record(text: bytes) -> None:
    with _fresh() as name:
        folder = Path(name)
        (folder / "r.csv").write_bytes(text)
        status, stdout, _ = attrition(folder, "calibrate", str(folder / "r.csv"), "--law",
                                      "square", "--out", str(folder / "out"), "--json")
        if status == 0:
            assert _valid_json(stdout) == _valid_json((folder / "out" / "estimates.json")
                                                      .read_text())


def _check_score(forecast: bytes, record: bytes) -> None:
    with _fresh() as name:
        folder = Path(name)
        (folder / "f.csv").write_bytes(forecast)
        (folder / "r.csv").write_bytes(record)
        status, stdout, _ = attrition(folder, "score", str(folder / "f.csv"),
                                      str(folder / "r.csv"), "--out", str(folder / "out"),
                                      "--json")
        if status == 0:
            assert _valid_json(stdout) == _valid_json((folder / "out" / "score.json")
                                                      .read_text())


@PROPERTY
@given(scenario_files())
def test_malformed_scenario_files(text):
    _check_scenario_file(text)


@PROPERTY
@given(st.lists(st.tuples(keys(), literals), min_size=1, max_size=3))
def test_malformed_set_values(key_values):
    _check_set(key_values)


@CHEAP
@given(experiments(), st.lists(vary_specs(), max_size=1))
def test_malformed_experiment_files(text, vary):
    _check_experiment(text, vary)


@CHEAP
@given(st.lists(vary_specs(), min_size=1, max_size=2))
def test_malformed_vary_ranges(specs):
    _check_vary(specs)


@PROPERTY
@given(records())
def test_malformed_record_csvs(text):
    _check_record(text)


@CHEAP
@given(forecast_files(), scoring_records())
def test_malformed_forecasts_and_scoring_records(forecast, record):
    """attrition score: a forecast file and a record, either or both malformed: a score
    (JSON, the same as score.json) or one line and exit 2, nothing written."""
    _check_score(forecast, record)


FLAG_VALUES = st.one_of(
    st.sampled_from(["0", "1", "-1", "2", "1e3", "inf", "nan", "", " ", "0x10", "1_000",
                     "99999999999999999999", "9" * 400, "true", "'1'", "1\n2", "\x00",
                     "parquet", "csv", "xlsx", "../x", "/dev/null"]),
    st.text(max_size=12))


@CHEAP
@given(st.lists(st.tuples(st.sampled_from(["--seed", "--days", "--replicates", "--format",
                                           "--max-memory", "--animate-every", "--size",
                                           "--fps", "--workers", "--frobnicate"]),
                              FLAG_VALUES),
                min_size=1, max_size=3))
def test_malformed_flags(flags):
    """Flags of ``attrition run`` (with ``--days 1`` first: a later --days wins) and of
    ``sweep --dry-run``: one line and exit 2, or a valid result."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        argv = [part for flag, value in flags for part in (flag, value)]
        status, stdout, _ = attrition(folder, "run", "reference", "--days", "1", "--json",
                                      "--out", str(folder / "out"), *argv)
        if status == 0:
            assert _valid_json(stdout)["days"] >= 1
        attrition(folder, "sweep", "docking", "--dry-run", "--out", str(folder / "sweep"),
                  *argv)


EXHAUSTIVE_SETTINGS = settings(max_examples=2000, deadline=None,
                               suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.exhaustive
@pytest.mark.skipif(not EXHAUSTIVE, reason="ATTRITION_EXHAUSTIVE=1 runs it")
@EXHAUSTIVE_SETTINGS
@given(st.one_of(scenario_files().map(lambda t: ("file", t)),
                 st.lists(st.tuples(keys(), literals), min_size=1, max_size=3)
                 .map(lambda kv: ("set", kv)),
                 st.tuples(experiments(), st.lists(vary_specs(), max_size=1))
                 .map(lambda ev: ("experiment", ev)),
                 st.lists(vary_specs(), min_size=1, max_size=2).map(lambda v: ("vary", v)),
                 records().map(lambda r: ("record", r)),
                 st.tuples(forecast_files(), scoring_records()).map(lambda fr: ("score", fr))))
def test_hostile_input_exhaustive(case):
    """Every kind of input mixed, many more examples, not derandomized."""
    kind, value = case
    if kind == "file":
        _check_scenario_file(value)
    elif kind == "set":
        _check_set(value)
    elif kind == "experiment":
        _check_experiment(*value)
    elif kind == "vary":
        _check_vary(value)
    elif kind == "score":
        _check_score(*value)
    else:
        _check_record(value)


# ------------------------------------------------------- the reported cases, one by one
def _refused(folder: Path, *argv: str) -> str:
    status, _, stderr = attrition(folder, *argv)
    assert status == 2, stderr
    return stderr


@pytest.mark.parametrize(("literal", "problem"), [
    ("inf", "finite number"), ("nan", "finite number"), ("-inf", "finite number"),
    ("1e999", "finite number")])
def test_inf_and_nan_are_refused(tmp_path, literal, problem):
    stderr = _refused(tmp_path, "run", "fortified_defense", "--days", "1", "--out",
                      str(tmp_path / "out"), "--set",
                      f"defender.aimed_kills_per_shooter_per_day={literal}")
    assert "defender.aimed_kills_per_shooter_per_day" in stderr and problem in stderr
    assert "allowed: >= 0.0, <= 1000000.0" in stderr


def test_inf_in_a_file_is_refused_naming_file_and_key(tmp_path):
    (tmp_path / "s.toml").write_text('base = "fortified_defense"\n[attacker]\n'
                                     'artillery_strikes_per_day = inf\n')
    stderr = _refused(tmp_path, "check", str(tmp_path / "s.toml"))
    assert f"{tmp_path / 's.toml'}: attacker.artillery_strikes_per_day: Input should be a " \
           f"finite number" in stderr


@pytest.mark.parametrize(("override", "key"), [
    ("sector.fortification_level=true", "sector.fortification_level"),
    ('attacker.units[0].count="5"', "attacker.units[0].count"),
    ("attacker.units[0].count=5.0", "attacker.units[0].count"),
    ("defender.drones=false", "defender.drones"),
    ('sector.cover="0.1"', "sector.cover"),
    ("combat.morale_enabled=1", "combat.morale_enabled"),
    ('attacker.units[0].tactic=1', "attacker.units[0].tactic"),
])
def test_no_coercion_between_booleans_strings_and_numbers(override, key):
    with pytest.raises(ScenarioError) as caught:
        load("fortified_defense", [override])
    assert caught.value.key == key, str(caught.value)
    assert caught.value.problem.startswith("Input should be "), str(caught.value)


def test_a_whole_number_stands_for_a_decimal():
    assert load("fortified_defense", ["sector.cover=0"]).sector.cover == 0.0
    assert isinstance(load("fortified_defense", ["sector.cover=0"]).sector.cover, float)


def test_personnel_that_would_overflow_is_refused():
    """2^62 persons in each of two units once summed to a negative personnel."""
    with pytest.raises(ScenarioError, match=r"attacker\.units\[0\]\.personnel: Input should "
                                            r"be less than or equal to 1000000"):
        load("fortified_defense", ["attacker.units[0].personnel=4611686018427387904"])
    with pytest.raises(ScenarioError, match=r"attacker\.contingents\.foreign\.pool: Input "
                                            r"should be less than or equal to 1000000000"):
        load("fortified_defense", ["attacker.contingents.foreign.pool=9223372036854775807"])


def test_a_side_of_more_than_a_billion_people_is_refused():
    with pytest.raises(ScenarioError, match=r"attacker\.units: 1,000,001,160 persons .*"
                                            r"allowed: at most 1,000,000,000"):
        load("fortified_defense", ["attacker.contingents.foreign.pool=1000000000"])


def test_the_largest_side_allowed_sums_exactly():
    """Two units at the largest personnel and a pool at the rest of a billion: every
    personnel sum of the model is exact and positive (no int64 or float64 overflow)."""
    big = 1_000_000
    scenario = Scenario(max_days=1).with_overrides({"attacker": {
        "units": [{"contingent": "a", "count": 2, "personnel": big, "tactic": "human_wave"}],
        "contingents": {"a": ContingentConfig(pool=MAX_PERSONS - 2 * big).model_dump()}}})
    model = AttritionModel(scenario, rng=0)
    assert model.forces.strength_at_start[0] == 2 * big
    assert int(model.conservation_totals()[0]) == MAX_PERSONS
    model.step()
    daily = model.daily_records()
    attacker = daily[(daily["side"] == "attacker") & (daily["contingent"] == "all")]
    assert (attacker["personnel"] >= 0).all() and (attacker["pool"] >= 0).all()
    assert int(model.conservation_totals()[0]) == MAX_PERSONS


@pytest.mark.parametrize(("overrides", "key"), [
    (["attacker.contingents={foreign={pool=900000000,new_unit_size=1,"
      "recruits_per_day=1000000000.0}}"], "attacker.contingents.foreign.new_unit_size"),
    (["attacker.contingents={foreign={pool=900000000,new_unit_size=1,"
      "tranches=[{day=1,persons=900000000}]}}"], "attacker.contingents.foreign.new_unit_size"),
])
def test_a_run_too_large_for_memory_is_refused_before_it_starts(tmp_path, overrides, key):
    argv = ["run", "fortified_defense", "--days", "1", "--out", str(tmp_path / "out")]
    for text in overrides:
        argv += ["--set", text]
    start = time.perf_counter()
    stderr = _refused(tmp_path, *argv)
    assert time.perf_counter() - start < 10
    assert f"{key}: the run would need about" in stderr
    assert "--max-memory" in stderr and LIMIT_VARIABLE in stderr


def test_the_memory_limit_can_be_raised_and_lowered(tmp_path, monkeypatch):
    monkeypatch.delenv(LIMIT_VARIABLE, raising=False)
    text = "attacker.contingents={foreign={pool=90000000,new_unit_size=30}}"
    estimate = estimate_memory(Scenario(max_days=1).with_overrides({"attacker": {
        "contingents": {"foreign": {"pool": 90_000_000, "new_unit_size": 30}}}}))
    assert 4 * 2**30 < estimate.bytes < 8 * 2**30
    _refused(tmp_path, "check", "fortified_defense", "--max-memory", "0.001")
    status, stdout, _ = attrition(tmp_path, "run", "fortified_defense", "--days", "1",
                                  "--out", str(tmp_path / "out"), "--set", text, "--json",
                                  "--max-memory", "8")
    assert status == 0 and _valid_json(stdout)["days"] == 1
    assert LIMIT_VARIABLE not in os.environ  # restored after the command
    monkeypatch.setenv(LIMIT_VARIABLE, "0.001")
    with pytest.raises(MemoryLimitError, match=r"^sector\.width_cells: the run would need"):
        AttritionModel(Scenario(), rng=0)
    monkeypatch.setenv(LIMIT_VARIABLE, "lots")
    with pytest.raises(ScenarioError, match=f"{LIMIT_VARIABLE}: 'lots' is not a size"):
        load("fortified_defense")


def test_replicates_count_in_the_memory_estimate(tmp_path):
    stderr = _refused(tmp_path, "run", "fortified_defense", "--days", "36500",
                      "--replicates", "10000", "--out", str(tmp_path / "out"))
    assert "max_days: the run and 10000 replicates would need about" in stderr


def test_a_sector_of_too_many_cells_is_refused_quickly():
    start = time.perf_counter()
    with pytest.raises(ScenarioError, match=r"sector\.width_cells: 2000 x depth_cells 2000 "
                                            r"is 4,000,000 cells; allowed: at most 250,000"):
        load("fortified_defense", ["sector.width_cells=2000", "sector.depth_cells=2000"])
    assert time.perf_counter() - start < 5


def test_deep_nesting_is_one_line(tmp_path):
    (tmp_path / "deep.toml").write_text("x = " + "[" * 3000 + "]" * 3000 + "\n")
    stderr = _refused(tmp_path, "check", str(tmp_path / "deep.toml"))
    assert f"nested more than {MAX_DEPTH} deep" in stderr
    (tmp_path / "tables.toml").write_text("a" + ".a" * 3000 + " = 1\n")
    assert "line 1: a key of 3,001 parts" in _refused(  # refused before parsing
        tmp_path, "check", str(tmp_path / "tables.toml"))
    (tmp_path / "tables.toml").write_text("a" + ".a" * 40 + " = 1\n")
    assert f"nested more than {MAX_DEPTH} deep" in _refused(
        tmp_path, "check", str(tmp_path / "tables.toml"))
    stderr = _refused(tmp_path, "run", "fortified_defense", "--days", "1", "--out",
                      str(tmp_path / "out"), "--set", "x=" + "[" * 3000 + "]" * 3000)
    assert f"nested more than {MAX_DEPTH} deep" in stderr


def test_a_key_path_of_thousands_of_parts_is_one_line(tmp_path):
    stderr = _refused(tmp_path, "run", "fortified_defense", "--days", "1", "--out",
                      str(tmp_path / "out"), "--set", "a" + ".a" * 3000 + "=1")
    assert "allowed: a key path of at most 400" in stderr and len(stderr) < 600
    stderr = _refused(tmp_path, "run", "fortified_defense", "--days", "1", "--out",
                      str(tmp_path / "out"), "--set", "a" + ".a" * 30 + "=1")
    assert "allowed: a key path of at most 16 parts" in stderr


def test_a_long_chain_of_bases_is_one_line(tmp_path):
    for i in range(1500):
        (tmp_path / f"b{i}.toml").write_text(f'base = "b{i + 1}"\n' if i < 1499
                                             else "max_days = 2\n")
    stderr = _refused(tmp_path, "check", str(tmp_path / "b0.toml"))
    assert f"a chain of more than {MAX_BASES} bases" in stderr
    (tmp_path / "b15.toml").write_text("max_days = 2\n")  # 16 bases: allowed
    assert load(tmp_path / "b0.toml").max_days == 2


def test_a_loop_of_bases_is_one_line(tmp_path):
    (tmp_path / "a.toml").write_text('base = "b"\n')
    (tmp_path / "b.toml").write_text('base = "a"\n')
    assert "bases loop (a -> b -> a)" in _refused(tmp_path, "check", str(tmp_path / "a.toml"))


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.toml"
    with path.open("wb") as file:
        file.truncate(MAX_FILE_BYTES * 64)  # sparse: no time to write it
    start = time.perf_counter()
    stderr = _refused(tmp_path, "check", str(path))
    assert time.perf_counter() - start < 2
    assert f"allowed: a TOML file of at most {MAX_FILE_BYTES:,} bytes" in stderr


# ------------------------------------------------------------------- experiments
def _experiment(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "e.toml"
    path.write_text('question = "How do drones change the losses?"\n'
                    'scenario = "fortified_defense"\nmetrics = ["loss_exchange_ratio"]\n'
                    + extra)
    return path


@pytest.mark.parametrize(("extra", "message"), [
    ('design = "sobol"\nsamples = 1099511627776\n[parameters]\n'
     '"defender.drones" = {interval = {low = 0, high = 10}}\n'
     '"sector.cover" = {interval = {low = 0, high = 0.5}}\n',
     "samples: Input should be less than or equal to 1000000"),
    ('design = "sobol"\nsamples = 524288\n[parameters]\n'
     '"defender.drones" = {interval = {low = 0, high = 10}}\n'
     '"sector.cover" = {interval = {low = 0, high = 0.5}}\n',
     "samples: the sobol design has 2,097,152 points; allowed: at most 1,000,000"),
    ('design = "morris"\nsamples = 600000\n[parameters]\n'
     '"defender.drones" = {interval = {low = 0, high = 10}}\n'
     '"sector.cover" = {interval = {low = 0, high = 0.5}}\n',
     "samples: the morris design has 1,800,000 points"),
    ('[parameters]\n"defender.drones" = {range = {start = 0, stop = 10000}}\n'
     '"sector.cover" = {range = {start = 0, stop = 1, step = 0.0001}}\n'
     '"attacker.drones" = {range = {start = 0, stop = 10000}}\n',
     "parameters: the grid design has 1,000,000,000,000 points"),
    ('replicates = 10000\n[parameters]\n"defender.drones" = {range = {start = 0, stop = 200}}\n',
     "replicates: 200 points x 10,000 replicates is 2,000,000 runs"),
    ('[parameters]\n"defender.drones" = {range = {start = 0, stop = 1e20}}\n',
     "makes 100,000,000,000,000,000,000 values; allowed: at most 10,000"),
    ('[parameters]\n"defender.drones" = {range = {start = 0, stop = inf}}\n',
     "range.stop: Input should be a finite number"),
    ('[parameters]\n"defender.drones" = {values = [1, "5"]}\n',
     "parameters.defender.drones: Input should be a valid integer (got '5')"),
    ('[parameters]\n"sector.fortification_level" = {values = [0.5, true]}\n',
     "parameters.sector.fortification_level: Input should be a valid number (got True)"),
    ('[parameters]\n"sector.cover" = {range = {start = 0.5, stop = 1.5, step = 0.25}}\n',
     "parameters.sector.cover: Input should be less than or equal to 1"),
    ('[parameters]\n"defender.drone" = {values = [1, 2]}\n',
     "parameters.defender.drone: unknown key; did you mean 'drones'?"),
    ('samples = "4"\n[parameters]\n"defender.drones" = {values = [1, 2]}\n',
     "samples: Input should be a valid integer"),
])
def test_enormous_or_wrong_designs_are_refused_before_any_point(tmp_path, extra, message):
    path = _experiment(tmp_path, extra)
    start = time.perf_counter()
    stderr = _refused(tmp_path, "sweep", str(path), "--dry-run")
    assert time.perf_counter() - start < 10
    assert message in stderr, stderr


@pytest.mark.parametrize(("vary", "message"), [
    ("attacker.units[0].count=range(0,100000000000000000000)",
     "makes 100,000,000,000,000,000,000 values"),
    ("attacker.units[0].count=range(0,inf)", "finite number"),
    ("attacker.units[0].count=interval(nan,5)", "finite number"),
    ("attacker.units[0].count=1.5,2", "Input should be a valid integer (got 1.5)"),
    ("defender.drones=true", "Input should be a valid integer (got True)"),
])
def test_vary_ranges_are_bounded_and_checked(tmp_path, vary, message):
    stderr = _refused(tmp_path, "sweep", "docking", "--dry-run", "--vary", vary)
    assert message in stderr, stderr


def test_the_shipped_experiments_still_load():
    for name in ("docking", "pool_sustainability", "sensitivity_ler", "training_waste",
                 "wave_vs_fortification"):
        assert isinstance(load_experiment(name), Experiment)


# ---------------------------------------------------------------------- records
@pytest.mark.parametrize(("text", "problem"), [
    ("day,attacker_strength\n", "no rows"),
    ("day,attacker_strength,defender_strength\n0,,\n1,,\n2,,\n",
     "no value in attacker_strength, defender_strength"),
    ("day,attacker_strength,defender_strength\n0,nan,NaN\n1,,\n", "no value in"),
    ("day,attacker_strength\n0,100\n1e30,90\n", "row 3, column day: '1e30' is not a day"),
    ("day,attacker_strength\n0,100\n36501,90\n", "span 36,501 days; allowed: at most 36,500"),
    ("day,attacker_strength\n0,inf\n1,90\n", "row 2, column attacker_strength: 'inf' is not "
                                             "a number"),
    ("day,attacker_strength\n0,1e300\n1,90\n", "1e+300 is too large; allowed: at most "
                                               "1,000,000,000"),
])
def test_records_that_cannot_be_used_are_one_line(text, problem):
    with pytest.raises(RecordError) as caught:
        read_record(io.StringIO(text), "battle.csv")
    assert problem in str(caught.value) and "\n" not in str(caught.value)


def test_calibrate_refuses_bad_records_in_one_line(tmp_path):
    (tmp_path / "r.csv").write_text("day,attacker_strength\n")
    assert "r.csv: no rows" in _refused(tmp_path, "calibrate", str(tmp_path / "r.csv"),
                                        "--out", str(tmp_path / "out"))
    (tmp_path / "dir.csv").mkdir()
    assert "cannot read" in _refused(tmp_path, "calibrate", str(tmp_path / "dir.csv"),
                                     "--out", str(tmp_path / "out"))


def test_a_schedule_with_an_empty_cell_is_one_line(tmp_path):
    (tmp_path / "waves.csv").write_text("day,side,persons\n1,attacker,\n")
    with pytest.raises(RecordError, match="row 2, column persons: empty"):
        read_record(io.StringIO("day,attacker_strength\n0,1000\n1,990\n2,980\n"),
                    "battle.csv", reinforcements=tmp_path / "waves.csv")


# ------------------------------------------------------------ forecasts and scores
def _sound_forecast(folder: Path) -> Path:
    import pandas as pd

    from sim.forecast import make_provenance, write_forecast

    table = {"month": ["2025-01"], "quantity": ["killed"], "who": ["attacker"],
             "mean": [100.0], "low": [80.0], "high": [120.0], "level": [0.9],
             "replicates": [40]}
    return write_forecast(pd.DataFrame(table), folder / "forecast.csv", make_provenance(
        "theatre", "0" * 64, 0, 40, ("2023-01-01", "2024-12-31")))


@pytest.mark.parametrize(("forecast", "record", "problem"), [
    # A provenance nested deeper than json's recursion limit.
    (lambda f: f.read_text().replace("# provenance: {", "# provenance: " + "[" * 100_000,
                                     1), None, "forecast.csv: row 2: the provenance is not "
                                               "JSON"),
    (lambda f: f.read_text().replace(",100.0,", ",1e400,"), None,
     "forecast.csv: row 4, column mean: 1e400 is out of range"),
    (None, lambda r: r.write_bytes(b"month,quantity,who,value\n2025-01,killed,attacker,5\x00\n"),
     "r.csv: row 2: a NUL character"),
    (None, lambda r: r.write_bytes(b"\xff\xfe" + "month,named_deaths\n".encode("utf-16-le")),
     "r.csv: row 1: not UTF-8 text"),
    (None, lambda r: r.mkdir(), "r.csv: not a file"),
    (None, lambda r: r.write_text('month,named_deaths\n2025-01,"5\n6"\n'),
     "r.csv: row 3: a cell spans lines"),
    (None, lambda r: r.write_text("month,quantity,who,value\n2025-01,killed,attacker,"
                                  + "9" * 400 + "\n"),
     f"r.csv: row 2, column value: '{'9' * 37}...' is not a number"),
])
def test_forecasts_and_records_that_cannot_be_used_are_one_line(tmp_path, forecast, record,
                                                                problem):
    path = _sound_forecast(tmp_path)
    if forecast is not None:
        path.write_text(forecast(path))
    r = tmp_path / "r.csv"
    if record is not None:
        record(r)
    else:
        r.write_text("month,quantity,who,value\n2025-01,killed,attacker,90\n")
    assert problem in _refused(tmp_path, "score", str(path), str(r), "--out",
                               str(tmp_path / "out"))


def test_a_huge_forecast_is_refused_before_it_is_read(tmp_path):
    from sim.observed import MAX_TABLE_BYTES

    huge = tmp_path / "huge.csv"
    with huge.open("wb") as file:
        file.truncate(MAX_TABLE_BYTES + 1)
    start = time.perf_counter()
    assert f"huge.csv: {MAX_TABLE_BYTES + 1:,} bytes" in _refused(
        tmp_path, "score", str(huge), str(huge))
    assert time.perf_counter() - start < 5


def test_a_sound_forecast_scores_against_a_record(tmp_path):
    path = _sound_forecast(tmp_path)
    (tmp_path / "r.csv").write_text("month,quantity,who,value\n2025-01,killed,attacker,90\n")
    status, stdout, _ = attrition(tmp_path, "score", str(path), str(tmp_path / "r.csv"),
                                  "--json")
    assert status == 0 and _valid_json(stdout)["scores"][0]["mean_error"] == 10.0


# ------------------------------------------------------------- values at the limits
def test_every_number_at_its_limit_gives_a_finite_summary():
    """The largest rate, area, speed and multiplier everywhere at once: the run's
    summary is finite (or none), so summary.json stays valid JSON."""
    top = 1e6
    data = Scenario(max_days=2).model_dump()
    for side in ("attacker", "defender"):
        data[side].update(aimed_kills_per_shooter_per_day=top,
                          area_strikes_per_person_per_day=top, organic_lethal_area_m2=top,
                          artillery_strikes_per_day=top, artillery_lethal_area_m2=top,
                          strikes_per_drone_per_day=top, drone_lethal_area_m2=top,
                          drones=1_000_000)
    data["combat"].update(training_hit_gain=top, mines_cleared_per_person_per_day=top,
                          morale_loss_per_casualty_fraction=top, routed_speed_m_per_day=top)
    for profile in data["tactics"].values():
        profile.update(advance_speed_m_per_day=top, fire_multiplier=top, exposure=top)
    data["sector"].update(mines_per_cell=top)
    for scenario in (Scenario.model_validate(data), Scenario(max_days=2).with_overrides(
            {"tactics": {t: {"spacing_m": 0.1} for t in data["tactics"]},
             "sector": {"cell_size_m": 1.0}})):
        summary = run(scenario, seed=0).summary
        numbers = [v for v in summary.values() if isinstance(v, float)]
        assert all(np.isfinite(numbers)), summary


# ------------------------------------------------- found by a hostile tester, fixed
def test_a_key_of_very_many_parts_is_refused_before_parsing(tmp_path):
    """tomllib's time and memory grow with the square of a dotted key's parts."""
    path = tmp_path / "long_key.toml"
    path.write_text('base = "fortified_defense"\n' + ".".join(["a"] * 200_000) + " = 1\n")
    start = time.perf_counter()
    with pytest.raises(ScenarioError, match="line 2: a key of 200,000 parts"):
        load(path)
    assert time.perf_counter() - start < 5


def test_a_file_that_makes_its_base_smaller_is_judged_on_the_result(tmp_path):
    """The memory of the run asked for counts, not that of a base on the way."""
    (tmp_path / "big.toml").write_text(
        'base = "fortified_defense"\nmax_days = 36500\n'
        '[attacker.contingents.foreign]\npool = 10000000\nnew_unit_size = 1\n'
        'recruits_per_day = 1000000\n')
    (tmp_path / "small.toml").write_text(
        'base = "big.toml"\nmax_days = 2\n'
        '[attacker.contingents.foreign]\npool = 0\nnew_unit_size = 100\n')
    with pytest.raises(ScenarioError, match="new_unit_size: the run would need"):
        load(tmp_path / "big.toml")
    assert load(tmp_path / "small.toml").max_days == 2


@pytest.mark.parametrize("value", ['"lots"', "true", '"3"', "[1, 2]", "1.0"])
def test_days_replaces_only_a_valid_max_days(tmp_path, value):
    path = tmp_path / "s.toml"
    path.write_text(f'base = "fortified_defense"\nmax_days = {value}\n')
    with pytest.raises(ScenarioError, match="max_days"):
        load(path, days=1)


def test_a_dry_run_checks_the_metrics(tmp_path):
    path = tmp_path / "exp.toml"
    path.write_text('question = "Does the dry run check metrics?"\n'
                    'scenario = "fortified_defense"\nmetrics = ["days", "nope"]\n'
                    '[parameters."defender.drones"]\nvalues = [0, 1]\n')
    status, _, err = attrition(tmp_path, "sweep", str(path), "--dry-run")
    assert status == 2 and "metrics: unknown nope" in err


def test_law_fits_refuse_long_or_thin_records_before_integrating(tmp_path):
    sparse = tmp_path / "sparse.csv"
    sparse.write_text("day,attacker_strength,defender_strength\n0,1000,800\n36500,970,780\n")
    status, _, err = attrition(tmp_path, "calibrate", str(sparse), "--law", "square")
    assert status == 2 and "spans 36,500 days" in err
    thin = tmp_path / "thin.csv"
    thin.write_text("day,attacker_strength,defender_strength\n0,1000,800\n900,970,780\n")
    start = time.perf_counter()
    status, _, err = attrition(tmp_path, "calibrate", str(thin), "--law", "square")
    assert status == 2 and "cannot fit" in err
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize(("text", "problem"), [
    # pandas would take the day column as an index and shift every column by one.
    ("day,attacker_strength,defender_strength\n0,1000,800,\n1,990,790,\n",
     "row 2 has 4 cells, the header 3"),
    ("day,attacker_strength,defender_strength\n0,1000,800,7\n1,990,790,7\n",
     "row 2 has 4 cells, the header 3"),
    ("day,attacker_strength,attacker_strength\n0,1000,1000\n1,990,990\n",
     "column 'attacker_strength' appears more than once"),
])
def test_a_record_whose_rows_do_not_match_its_header_is_refused(text, problem):
    with pytest.raises(RecordError) as caught:
        read_record(io.StringIO(text), "battle.csv")
    assert problem in str(caught.value) and "\n" not in str(caught.value)


def test_a_model_that_died_out_is_written_with_its_priors_only():
    """With several laws, one whose particles all die out has no summary: estimates.json
    gives its priors (it raised KeyError, a traceback after all the runs)."""
    from sim.bayes import ModelPosterior

    dead = ModelPosterior(name="square", priors={"alpha": (0.001, 0.01)},
                          particles=np.empty((0, 1)), weights=np.empty(0), probability=0.0,
                          ess=0.0, summary={})
    written = dead.as_dict()
    assert written["particles"] == 0
    assert written["parameters"]["alpha"]["prior_low"] == 0.001
    json.dumps(written)


def test_the_temperature_of_several_laws_is_a_float():
    """pyABC's effective-sample-size scheme proposes an array of one; taken as the
    temperature, pyABC's own log line failed to format it (TypeError: calibrate --law all
    --bayes crashed after its first generations)."""
    from sim.bayes import _lowest_temperature

    lowest = _lowest_temperature([44.7, np.array([1.73])])
    assert type(lowest) is float and lowest == 1.73
    assert f"{lowest:.8e}"


def test_sigterm_stops_a_calibration_as_ctrl_c_does(tmp_path):
    """kill (SIGTERM) during calibrate --bayes: one line, status 130, no folder and no
    staging folder left (it died at once, leaving its staging folder and semaphores)."""
    import signal
    import subprocess
    import sys

    record = tmp_path / "battle.csv"
    record.write_text("day,attacker_strength,defender_strength\n" + "".join(
        f"{d},{10000 - 25 * d + 7 * (d % 3)},{8000 - 20 * d - 5 * (d % 2)}\n" for d in range(30)))
    process = subprocess.Popen(
        [sys.executable, "-m", "sim", "calibrate", str(record), "--law", "square", "--bayes",
         "--workers", "1", "--no-progress", "--out", str(tmp_path / "out")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.perf_counter() + TIME_LIMIT_S
    while not list(tmp_path.glob(".out.staging-*")) and process.poll() is None:
        assert time.perf_counter() < deadline
        time.sleep(0.1)
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=TIME_LIMIT_S)
    assert process.returncode == 130, err
    assert err.strip() == "attrition: interrupted; no results written"
    assert _files(tmp_path) == {"battle.csv"}


_INTERRUPTED_COMMAND = """
import sim.cli


def interrupted():
    {how}
    return 0


sim.cli._list = interrupted
raise SystemExit(sim.cli.main(["list"]))
"""


@pytest.mark.parametrize("how", [
    # A SIGTERM landing in code pyABC, sqlalchemy or numba build with a string exec: the
    # process ended by SIGINT (-2) after printing its line (CI, Python 3.12).
    'exec("raise KeyboardInterrupt", {})',
    'eval("(_ for _ in ()).throw(KeyboardInterrupt)", {})',
    # One landing in a __del__ was printed as "Exception ignored" and dropped: the command
    # ran on (here for up to 20 s) and ended 0.
    "type('Dying', (), {'__del__': lambda self: (_ for _ in ()).throw(KeyboardInterrupt)})()"
    "\n    import time\n    ends = time.monotonic() + 20\n    while time.monotonic() < ends:"
    "\n        pass",
])
def test_an_interrupt_anywhere_under_python_m_ends_with_status_130(tmp_path, how):
    """``python -m sim`` (as the tests and scripts run it): an interrupt ends with one line
    and status 130 wherever it lands."""
    import subprocess
    import sys

    (tmp_path / "interrupted_command.py").write_text(_INTERRUPTED_COMMAND.format(how=how))
    ended = subprocess.run([sys.executable, "-m", "interrupted_command"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=TIME_LIMIT_S,
                           env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})
    assert (ended.returncode, ended.stderr) == (
        130, "attrition: interrupted; no results written\n")


def test_an_error_raised_while_stopping_for_ctrl_c_is_the_interruption(tmp_path, monkeypatch):
    """Ctrl-C during pyABC's database write: its cleanup raises another error (sqlalchemy's
    PendingRollbackError) whose context is the KeyboardInterrupt; one line, status 130,
    not that error's traceback."""
    import sim.cli

    def interrupted(args):
        try:
            try:
                raise KeyboardInterrupt
            finally:
                raise ValueError("This Session's transaction has been rolled back")
        except ValueError as err:
            raise RuntimeError("cleanup failed") from err

    monkeypatch.setattr(sim.cli, "_calibrate", interrupted)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        status = main(["calibrate", str(tmp_path / "battle.csv")])
    assert status == 130 and err.getvalue() == "attrition: interrupted; no results written\n"
