"""The ``attrition`` command: runs the reference scenario, writes whole results only,
and answers bad input with one line and a non-zero exit."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from sim.cli import main


def test_run_prints_summary_as_json(capsys):
    assert main(["run", "--days", "2", "--seed", "4", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["days"] == 2 and summary["stop_reason"] == "max_days"


def test_run_writes_outputs(tmp_path, capsys):
    out = tmp_path / "result"
    assert main(["run", "--days", "2", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["daily.csv", "events.csv", "summary.json"]
    daily = pd.read_csv(out / "daily.csv")
    assert daily["day"].max() == 2
    assert json.loads((out / "summary.json").read_text())["days"] == 2
    assert list(tmp_path.iterdir()) == [out]  # no staging directory left behind


@pytest.mark.parametrize("args, message", [
    (["run", "--days", "0"], "--days: 0 is too small; allowed: 1 or more"),
    (["run", "--seed", "x"], "--seed: 'x' is not a whole number"),
    (["run", "--days", "40000"], "max_days: Input should be less than or equal to 36500"),
])
def test_bad_input_gets_one_line_and_nonzero_exit(args, message):
    proc = subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_unwritable_output_is_reported_without_partial_result(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["run", "--days", "1", "--out", str(blocker / "out")]) == 1
    assert "cannot write to" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_help_gives_units_and_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    assert "default: 0" in text and "max_days, 30" in text


def test_plot_is_saved(tmp_path, capsys):
    figure = tmp_path / "run.png"
    assert main(["run", "--days", "2", "--plot", str(figure)]) == 0
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_with_unknown_format_is_refused(tmp_path, capsys):
    assert main(["run", "--days", "1", "--plot", str(tmp_path / "run.xyz")]) == 1
    err = capsys.readouterr().err
    assert "cannot save figure" in err and len(err.strip().splitlines()) == 1
