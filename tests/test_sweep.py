"""The sweep engine: the same results on any executor, resumption after SIGKILL, failed
runs recorded, Sobol indices that match theory, experiment files and the CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sweep_helpers import IshigamiEvaluator, ishigami_indices

from sim.experiments import Experiment, design_points, load_experiment, parse_vary
from sim.report import sensitivity_indices, write_report
from sim.sweep import (
    PARTS_DIR,
    read_runs,
    run_seed,
    run_sweep,
    scenario_evaluator,
    stored_runs,
    tasks,
)
from sim.sweep_store import StoreError

ROOT = Path(__file__).resolve().parents[1]

# Long enough that a signal lands before the end: 5 x 120 runs (the compiled sub-step
# ran 60 of 12 days before a signal could land once it got twice as fast).
LONG_SWEEP_RUNS = 600
LONG_SWEEP = ('question = "What does a longer assault cost, by drones?"\n'
              'scenario = "fortified_defense"\nreplicates = 120\nseed = 3\n'
              'metrics = ["attacker_killed", "defender_killed", "days"]\n'
              '[set]\nmax_days = 12\n'
              '[parameters."defender.drones"]\nvalues = [0, 20, 40, 60, 80]\n')


def start_long_sweep(tmp_path: Path, out: Path) -> tuple[subprocess.Popen, list[str]]:
    """Start LONG_SWEEP on 2 workers in a process group of its own (as a terminal runs
    a command), and return once some of its runs are stored, with the command."""
    experiment = tmp_path / "exp.toml"
    experiment.write_text(LONG_SWEEP)
    command = [sys.executable, "-m", "sim", "sweep", str(experiment), "--out", str(out),
               "--workers", "2", "--no-progress"]
    proc = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list((out / PARTS_DIR).glob("batch-*")):
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return proc, command


def small_experiment(**extra) -> Experiment:
    data = {"question": "Do drones and fortification change the attacker's losses?",
            "scenario": "fortified_defense", "set": {"max_days": 3},
            "parameters": {"defender.drones": {"values": [0, 30]},
                           "sector.fortification_level": {"values": [0.3, 0.9]}},
            "replicates": 3, "seed": 17,
            "metrics": ["attacker_killed", "loss_exchange_ratio", "stop_reason"],
            "series": {"columns": ["personnel", "killed_total"], "every": 1}}
    return Experiment.model_validate(data | extra)


def comparable(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """runs.parquet and series.parquet, sorted, without wall times."""
    runs = read_runs(out).drop(columns="wall_time_s").sort_values("run")
    series = pd.read_parquet(out / "series.parquet").sort_values(["run", "day", "side"])
    return runs.reset_index(drop=True), series.reset_index(drop=True)


def test_serial_process_pool_and_dask_give_identical_results(tmp_path):
    """Seeds come from (master seed, point, replicate), so neither the executor nor the
    number of workers nor the order of completion changes a number."""
    from distributed import LocalCluster

    exp = small_experiment()
    serial = run_sweep(exp, tmp_path / "serial", workers=1, progress=False)
    pool = run_sweep(exp, tmp_path / "pool", workers=2, progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        dask = run_sweep(exp, tmp_path / "dask", scheduler=cluster.scheduler_address,
                         progress=False)
    assert serial.ok == pool.ok == dask.ok == 12
    reference = comparable(serial.out)
    for other in (pool.out, dask.out):
        for expected, got in zip(reference, comparable(other), strict=True):
            pd.testing.assert_frame_equal(expected, got)
    runs = reference[0]
    assert runs["seed"].tolist() == [run_seed(17, p, r) for p in range(4) for r in range(3)]
    assert runs["seed"].nunique() == 12


def test_sigkill_then_rerun_equals_an_uninterrupted_sweep(tmp_path):
    """Kill the sweep (and its workers) with SIGKILL once some runs are stored; the same
    command then finishes it, with every run exactly once and the same numbers."""
    out = tmp_path / "killed"
    proc, command = start_long_sweep(tmp_path, out)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    partial = stored_runs(out)
    assert 0 < len(partial) < LONG_SWEEP_RUNS, "killed part way"
    assert not (out / "runs.parquet").exists()
    rerun = subprocess.run(command, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(partial)} already stored" in rerun.stdout
    resumed = read_runs(out)
    assert resumed["run"].is_unique and sorted(resumed["run"]) == list(range(LONG_SWEEP_RUNS))
    whole = run_sweep(load_experiment(tmp_path / "exp.toml"), tmp_path / "whole",
                      progress=False)
    pd.testing.assert_frame_equal(resumed.drop(columns="wall_time_s"),
                                  read_runs(whole.out).drop(columns="wall_time_s"))
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


def test_ctrl_c_stops_cleanly_and_the_same_command_resumes(tmp_path):
    """SIGINT to the whole process group, as a terminal's Ctrl-C: one line saying what
    was kept, exit 130, no traceback from the driver or its workers; then a rerun ends
    the sweep with every run once."""
    out = tmp_path / "out"
    proc, command = start_long_sweep(tmp_path, out)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "interrupted;" in err and "the same command resumes" in err
    kept = len(stored_runs(out))
    assert 0 < kept < LONG_SWEEP_RUNS
    assert json.loads((out / "manifest.json").read_text())["status"] == "interrupted"
    rerun = subprocess.run(command, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(read_runs(out)["run"]) == list(range(LONG_SWEEP_RUNS))


def test_a_failing_run_is_recorded_and_the_others_complete(tmp_path):
    """A sector one cell wide cannot hold the baseline's units: those runs fail with
    the reason, the rest of the sweep runs."""
    exp = small_experiment(parameters={"sector.width_cells": {"values": [20, 1]}},
                           replicates=2, series=None)
    result = run_sweep(exp, tmp_path / "out", workers=1, progress=False)
    runs = read_runs(result.out)
    assert (result.ok, result.failed) == (2, 2)
    failed = runs[runs["status"] == "failed"]
    assert (failed["sector.width_cells"] == 1).all()
    assert failed["error"].str.contains("attacker.units: 44 units do not fit").all()
    assert runs.loc[runs["status"] == "ok", "attacker_killed"].notna().all()


def test_sobol_indices_of_the_ishigami_function_match_theory(tmp_path):
    """Ishigami through the same engine (design, runs, storage, SALib analysis): each
    analytic S1 and ST lies within the 99% confidence half-width of its estimate
    (2^11 base samples, 10,240 evaluations). At 99% a single index misses by chance
    about one time in a hundred; the seed is fixed, so the result is reproducible."""
    bounds = {"interval": {"low": -np.pi, "high": np.pi}}
    exp = Experiment.model_validate({
        "question": "Do the engine's Sobol indices match the Ishigami function's?",
        "scenario": "not used: the evaluator is the Ishigami function",
        "parameters": {"x1": bounds, "x2": bounds, "x3": bounds}, "design": "sobol",
        "samples": 2048, "seed": 1, "metrics": ["y"]})
    run_sweep(exp, tmp_path / "ishigami", evaluate=IshigamiEvaluator(), progress=False)
    runs = read_runs(tmp_path / "ishigami")
    assert len(runs) == 2048 * 5
    estimated = sensitivity_indices(runs, exp, "y", confidence=0.99)
    truth = ishigami_indices()
    for order in ("S1", "ST"):
        error = np.abs(estimated[order].to_numpy() - truth[order])
        assert (error <= estimated[f"{order}_conf"].to_numpy()).all(), (order, estimated)


@pytest.mark.parametrize("design, samples, extra, message", [
    ("sobol", 64, {}, "samples: 64 is too few for Sobol indices of 2 parameters; allowed: "
                      "a power of 2 of at least 128, 512 points here"),
    ("sobol", 16, {"second_order": True}, "allowed: a power of 2 of at least 128, 768 "
                                          "points here"),
    ("sobol", 96, {}, "samples: 96 is not a power of 2; allowed: a power of 2 of at least "
                      "128"),
    ("morris", 1, {}, "samples: 1 Morris trajectory gives no spread of elementary effects "
                      "(sigma) and no interval; allowed: at least 2"),
])
def test_sensitivity_designs_too_small_for_their_indices_are_refused(design, samples, extra,
                                                                      message):
    """Below MIN_SOBOL_SAMPLES, SALib's indices stray outside [0, 1] (sim.experiments
    says how often); a single Morris trajectory has no spread. The floor itself is
    accepted."""
    from pydantic import ValidationError

    from sim.experiments import MIN_MORRIS_TRAJECTORIES, MIN_SOBOL_SAMPLES

    intervals = {"defender.drones": {"interval": {"low": 0, "high": 50}},
                 "sector.cover": {"interval": {"low": 0.0, "high": 0.5}}}
    with pytest.raises(ValidationError, match=re.escape(message)):
        small_experiment(design=design, samples=samples, parameters=intervals, **extra)
    floor = MIN_SOBOL_SAMPLES if design == "sobol" else MIN_MORRIS_TRAJECTORIES
    assert small_experiment(design=design, samples=floor, parameters=intervals,
                            **extra).samples == floor


def test_designs_give_the_documented_points():
    exp = small_experiment()
    assert len(design_points(exp)) == 4 and len(tasks(exp)) == 12
    sampled = small_experiment(design="lhs", samples=10, parameters={
        "defender.drones": {"interval": {"low": 0, "high": 50}, "integer": True},
        "sector.fortification_level": {"interval": {"low": 0.2, "high": 0.4}}})
    points = design_points(sampled)
    drones = sorted(p["defender.drones"] for p in points)
    levels = np.array([p["sector.fortification_level"] for p in points])
    assert all(isinstance(d, int) and 0 <= d <= 50 for d in drones)
    # Latin hypercube: one point in each tenth of the interval.
    assert sorted(((levels - 0.2) / 0.02).astype(int).tolist()) == list(range(10))
    morris = small_experiment(design="morris", samples=5)
    assert len(design_points(morris)) == 5 * (2 + 1)


@pytest.mark.parametrize("text, expected", [
    ("defender.drones=0,20,40", {"values": [0, 20, 40]}),
    ("attacker.units[*].tactic=human_wave,infiltration",
     {"values": ["human_wave", "infiltration"]}),
    ("sector.cover=range(0,0.5,0.25)", {"range": {"start": 0.0, "stop": 0.5, "step": 0.25}}),
    ("sector.cover=interval(0.1,0.4)", {"interval": {"low": 0.1, "high": 0.4}}),
])
def test_vary_reads_hydra_style_sweeps(text, expected):
    assert parse_vary(text)[1] == expected


def test_range_excludes_its_stop():
    exp = small_experiment(parameters={"sector.cover": {"range": {"start": 0, "stop": 0.5,
                                                                   "step": 0.25}}})
    assert [p["sector.cover"] for p in design_points(exp)] == [0.0, 0.25]


@pytest.mark.parametrize("text, message", [
    ('question = "Does it work at all, really?"\nscenario = "fortified_defense"\n'
     'metrics = ["days"]\n[parameters."defender.drones"]\nvalus = [1, 2]\n',
     "parameters.defender.drones.valus: unknown key; did you mean 'values'?"),
    ('question = "Does it work at all, really?"\nscenario = "fortified_defense"\n'
     'metrics = ["days"]\ndesign = "sobol"\nsamples = 10\n'
     '[parameters.a]\ninterval = {low = 0, high = 1}\n[parameters.b]\nvalues = [1]\n',
     "samples: 10 is not a power of 2"),
    ('question = "Does it work at all, really?"\nscenario = "fortified_defense"\n'
     'metrics = ["days"]\n[parameters.a]\ninterval = {low = 0, high = 1}\n',
     "parameters.a: an interval has no grid"),
    ('question = "Does it work at all, really?"\nscenario = "fortified_defense"\n'
     'metrics = ["dayz"]\n[parameters."defender.drones"]\nvalues = [1, 2]\n',
     "metrics: unknown dayz; allowed: days"),
    ('question = "Does it work at all, really?"\nscenario = "fortified_defense"\n'
     'metrics = ["days"]\n[set]\n"defender.drone" = 3\n[parameters."defender.drones"]\n'
     'values = [1, 2]\n', "defender.drone: unknown key; did you mean 'drones'?"),
])
def test_bad_experiments_get_one_line_and_exit_2(text, message, tmp_path, capsys):
    """In this process (the command's code, without a new interpreter's start)."""
    from sim.cli import main

    path = tmp_path / "bad.toml"
    path.write_text(text)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], captured.err
    assert captured.out == "" and not (tmp_path / "out").exists()


def test_a_folder_of_another_experiment_is_refused(tmp_path):
    run_sweep(small_experiment(series=None), tmp_path / "out", progress=False)
    with pytest.raises(StoreError, match="holds another experiment"):
        run_sweep(small_experiment(series=None, seed=18), tmp_path / "out", progress=False)


def test_dry_run_counts_the_runs_estimates_the_time_and_writes_nothing(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "sim", "sweep",
                           str(ROOT / "experiments" / "wave_vs_fortification.toml"),
                           "--dry-run", "--vary", "sector.fortification_level=0.0,0.9",
                           "--workers", "2"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "design grid: 12 points x 10 replicates = 120 runs" in proc.stdout
    # Five points spread over the design, each run once, here: an estimate, said so.
    estimate = proc.stdout.splitlines()[-1]
    assert re.fullmatch(r"estimated time: about \d+ (s|min) on 2 workers \(an estimate "
                        r"from 5 probe runs of points spread over the design, timed here "
                        r"at [0-9.e-]+ s each on average, for 120 runs.*; runs differ in "
                        r"length\)", estimate), estimate
    assert list(tmp_path.iterdir()) == []


def test_shipped_experiments_are_valid_and_say_what_they_show():
    readme = (ROOT / "experiments" / "README.md").read_text()
    for path in sorted((ROOT / "experiments").glob("*.toml")):
        exp = load_experiment(path)
        assert f"### `{path.stem}`" in readme, f"experiments/README.md skips {path.stem}"
        scenario_evaluator(exp, path)  # base scenario, fixed overrides and metrics resolve
        assert design_points(exp)
    names = {p.stem for p in (ROOT / "experiments").glob("*.toml")}
    assert {"wave_vs_fortification", "training_waste", "pool_sustainability",
            "sensitivity_ler", "docking"} <= names
    sobol = load_experiment(ROOT / "experiments" / "sensitivity_ler.toml")
    assert sobol.design == "sobol" and len(sobol.parameters) >= 6


def test_report_writes_figures_tables_and_indices(tmp_path):
    grid = run_sweep(small_experiment(series=None), tmp_path / "grid", progress=False)
    text = write_report(grid.out).read_text()
    assert "figures/attacker_killed_heatmap.png" in text
    assert "| defender.drones | sector.fortification_level | mean |" in text
    for figure in ("attacker_killed_effects.png", "attacker_killed_heatmap.png"):
        assert (grid.out / "figures" / figure).read_bytes()[:4] == b"\x89PNG"
    # The smallest Sobol design allowed (128 base samples, 512 points), of a function of
    # the two parameters instead of the model: the report is what is tested here.
    sobol = small_experiment(series=None, design="sobol", samples=128, replicates=1,
                             parameters={"defender.drones": {"interval": {"low": 0,
                                                                          "high": 50},
                                                             "integer": True},
                                         "sector.fortification_level": {"interval": {
                                             "low": 0.2, "high": 0.9}}},
                             metrics=["attacker_killed"])

    def killed(params, seed):
        return {"attacker_killed": params["defender.drones"] * (
            1 + params["sector.fortification_level"])}, None

    result = run_sweep(sobol, tmp_path / "sobol", killed, progress=False)
    text = write_report(result.out).read_text()
    assert "| parameter | S1 | S1_conf | ST | ST_conf |" in text
    assert (result.out / "figures" / "attacker_killed_sensitivity.png").is_file()
    morris = sobol.model_copy(update={"design": "morris", "samples": 3})
    result = run_sweep(morris, tmp_path / "morris", progress=False)
    assert len(read_runs(result.out)) == 3 * (2 + 1)
    assert "| parameter | mu_star | mu_star_conf | sigma |" in write_report(
        result.out).read_text()
