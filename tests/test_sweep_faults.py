"""The sweep store under faults: SIGKILL at every write boundary, two sweeps into one
folder, a killed driver's workers, a dead sweep's lock, and `attrition verify`."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from sweep_helpers import sweep_in_child

from sim import sweep
from sim.cli import main
from sim.experiments import Experiment
from sim.scenarios import ScenarioError
from sim.sweep import read_runs, run_sweep, stored_runs
from sim.sweep_check import check
from sim.sweep_store import LOCK_FILE, PARTS_DIR

# Each design point a run of two days with daily series: fast, and enough to fill both
# files of a batch.
FAST = {"question": "Do drones change the attacker's losses?", "scenario": "fortified_defense",
        "set": {"max_days": 2}, "replicates": 1, "seed": 5,
        "metrics": ["attacker_killed", "defender_killed", "stop_reason"],
        "series": {"columns": ["personnel", "killed_total"], "every": 1}}

# 24 runs of 30 days: a few seconds, long enough to act on while it runs.
SLOW = ('question = "What does a longer assault cost, by drones?"\n'
        'scenario = "fortified_defense"\nreplicates = 6\nseed = 3\n'
        'metrics = ["attacker_killed", "defender_killed", "days"]\n'
        '[set]\nmax_days = 30\n'
        '[series]\ncolumns = ["personnel"]\n'
        '[parameters."defender.drones"]\nvalues = [0, 20, 40, 60]\n')


def fast_experiment(points: int) -> dict:
    return FAST | {"parameters": {"defender.drones": {"values": list(range(0, 10 * points,
                                                                          10))}}}


def contents(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """runs.parquet and series.parquet without wall times, in a canonical order."""
    runs = read_runs(out).drop(columns="wall_time_s")
    series = pd.read_parquet(out / "series.parquet").sort_values(["run", "day", "side"])
    return runs, series.reset_index(drop=True)


def kill_at_every_boundary(tmp_path: Path, points: int, workers: int,
                           scheduler: str | None, resume_workers: int) -> int:
    """Kill a sweep at its first, second, ... write boundary in turn, each time in a fresh
    folder, resume it, and compare with an uninterrupted sweep; return how many
    boundaries there were (the first k at which the sweep ends by itself, minus one)."""
    experiment = fast_experiment(points)
    whole = tmp_path / "whole"
    run_sweep(Experiment.model_validate(experiment), whole, workers=workers,
              scheduler=scheduler, progress=False, flush_runs=1)
    expected = contents(whole)
    # A fork server with the package loaded starts each killed sweep in a fraction of a
    # second, from a process without the test's threads.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["sim.sweep", "sweep_helpers"])
    k = 0
    while True:
        k += 1
        out = tmp_path / f"killed-at-{k}"
        child = context.Process(target=sweep_in_child,
                                args=(experiment, str(out), workers, scheduler, k))
        child.start()
        child.join(120)
        if child.exitcode == 0:
            return k - 1  # no k-th boundary: the sweep ran to the end
        assert child.exitcode == -signal.SIGKILL, f"boundary {k}: exit {child.exitcode}"
        sweep_in_child(experiment, str(out), resume_workers, scheduler, None)
        assert check(out) == [], f"boundary {k}"
        for want, got in zip(expected, contents(out), strict=True):
            pd.testing.assert_frame_equal(want, got, obj=f"killed at boundary {k}")
        assert json.loads((out / "manifest.json").read_text())["status"] == "complete"
        assert not (out / PARTS_DIR).exists()
        assert not [p for p in out.iterdir() if p.name.startswith(".tmp-")]


def test_sigkill_at_every_write_boundary_with_a_process_pool(tmp_path):
    """Lock, manifest, each batch's runs, series and commit, the published series and
    runs, each batch removed, the manifest marked complete: killed at each with its pool
    at work, resumed, the same runs and series as a sweep never killed. The resumption
    runs in this process: a pool's start costs seconds, the store's code is the same on
    every executor, and test_sweep shows the executors give the same numbers."""
    boundaries = kill_at_every_boundary(tmp_path, points=2, workers=2, scheduler=None,
                                        resume_workers=1)
    assert boundaries == 2 + 3 * 2 + 2 + 2 + 1


def test_sigkill_at_every_write_boundary_with_dask(tmp_path):
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        boundaries = kill_at_every_boundary(tmp_path, points=3, workers=1,
                                            scheduler=cluster.scheduler_address,
                                            resume_workers=1)
    assert boundaries == 2 + 3 * 3 + 2 + 3 + 1


def start_slow_sweep(tmp_path: Path, out: Path, *options: str, batch: bool = True
                     ) -> tuple[subprocess.Popen, list[str]]:
    """Start SLOW as the CLI would, and return once it holds the folder's lock (and, with
    ``batch``, has stored a batch)."""
    experiment = tmp_path / "exp.toml"
    experiment.write_text(SLOW)
    command = [sys.executable, "-m", "sim", "sweep", str(experiment), "--out", str(out),
               "--no-progress", *options]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)

    def started() -> bool:
        try:
            holder = json.loads((out / LOCK_FILE).read_text())
        except (OSError, ValueError):
            return False
        held = holder.get("state") == "held" and holder.get("pid") == proc.pid
        return held and (not batch or any((out / PARTS_DIR).glob("batch-*")))

    deadline = time.monotonic() + 120
    while not started():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return proc, command


def test_a_second_sweep_into_the_same_folder_is_refused_in_one_line(tmp_path, capsys):
    out = tmp_path / "out"
    first, command = start_slow_sweep(tmp_path, out, "--workers", "1", batch=False)
    assert main(command[3:]) == 2  # the same command, in this process
    lines = capsys.readouterr().err.strip().splitlines()
    assert main(["verify", str(out)]) == 1
    assert "running: " in capsys.readouterr().out
    assert first.poll() is None, "the first sweep was still running"
    assert len(lines) == 1 and "a sweep is already writing here" in lines[0], lines
    assert f"pid {first.pid} on " in lines[0] and "started" in lines[0]
    _, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    alone = tmp_path / "alone"
    assert main([*command[3:6], str(alone), "--no-progress", "--workers", "1"]) == 0
    for want, got in zip(contents(alone), contents(out), strict=True):
        pd.testing.assert_frame_equal(want, got)


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie, dead but not yet reaped, does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads processes from /proc")
def test_workers_end_within_seconds_of_a_sigkill_of_their_driver(tmp_path):
    driver, _ = start_slow_sweep(tmp_path, tmp_path / "out", "--workers", "2")
    workers = _children(driver.pid)
    assert len(workers) >= 2, workers
    driver.kill()  # SIGKILL to the driver alone: its workers get no signal from us
    driver.communicate()
    deadline = time.monotonic() + 5
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if _alive(pid)], "workers outlived their driver"


def test_a_killed_driver_s_tasks_leave_the_dask_cluster_within_seconds(tmp_path):
    """A cluster's workers are the cluster's, not the sweep's: what must go is the
    sweep's work, which the scheduler drops when the driver's connection closes."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, Client(cluster) as client:
        driver, _ = start_slow_sweep(tmp_path, tmp_path / "out", "--scheduler",
                                     cluster.scheduler_address)
        assert client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) > 0
        driver.kill()
        driver.communicate()
        deadline = time.monotonic() + 5
        while (client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks))
               and time.monotonic() < deadline):
            time.sleep(0.1)
        assert client.run_on_scheduler(lambda dask_scheduler: len(dask_scheduler.tasks)) == 0


def test_the_lock_of_a_dead_sweep_is_taken_over_with_a_note(tmp_path, capsys):
    out = tmp_path / "out"
    experiment = tmp_path / "exp.toml"
    experiment.write_text(SLOW.replace("values = [0, 20, 40, 60]", "values = [0]")
                          .replace("replicates = 4", "replicates = 1"))
    out.mkdir()
    dead = {"state": "held", "pid": 2**22 + 1, "host": "lab-7", "started": "2026-01-01"}
    (out / LOCK_FILE).write_text(json.dumps(dead))
    assert main(["sweep", str(experiment), "--out", str(out), "--workers", "1",
                 "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "took over the lock" in err and f"pid {dead['pid']} on lab-7" in err
    assert check(out) == []
    assert json.loads((out / LOCK_FILE).read_text())["state"] == "released"


def test_verify_and_report_name_what_is_damaged_and_a_rerun_repairs_it(tmp_path, capsys):
    out = tmp_path / "out"
    exp = Experiment.model_validate(fast_experiment(3))
    run_sweep(exp, out, progress=False)
    sound = contents(out)
    assert main(["verify", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"ok: {out}"
    assert main(["verify", str(tmp_path / "nothing")]) == 2
    assert "not a folder" in capsys.readouterr().err

    runs = pd.read_parquet(out / "runs.parquet")
    pd.concat([runs, runs.iloc[[1]]]).to_parquet(out / "runs.parquet", index=False)
    series = pd.read_parquet(out / "series.parquet")
    series[series["run"] != 2].to_parquet(out / "series.parquet", index=False)
    assert main(["verify", str(out)]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert any("1 runs stored more than once (e.g. run 1)" in line for line in lines), lines
    assert any("no series for 1 ok runs (e.g. run 2)" in line for line in lines), lines

    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "stored more than once" in err[0], err
    assert not (out / "report.md").exists()

    series = pd.read_parquet(out / "series.parquet")
    pd.concat([series, series[series["run"] == 0]]).to_parquet(out / "series.parquet",
                                                               index=False)
    result = run_sweep(exp, out, progress=False)
    assert result.ok == 1 and result.skipped == 2  # run 2 again, for its lost series
    assert check(out) == []
    for want, got in zip(sound, contents(out), strict=True):
        pd.testing.assert_frame_equal(want, got)


def test_an_unfinished_sweep_is_reported_as_such(tmp_path, capsys):
    out = tmp_path / "out"
    # Boundaries: lock, manifest, then the first run's batch: runs, series, commit.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["sim.sweep", "sweep_helpers"])
    child = context.Process(
        target=sweep_in_child, args=(fast_experiment(3), str(out), 1, None, 5))
    child.start()
    child.join(120)
    assert child.exitcode == -signal.SIGKILL
    assert len(stored_runs(out)) == 1
    assert main(["verify", str(out)]) == 1
    assert "unfinished: 1 of 3 runs stored" in capsys.readouterr().out


def test_a_sweep_refused_before_it_starts_leaves_nothing(tmp_path, monkeypatch):
    target = tmp_path / "a-file"
    target.write_text("not a folder")
    with pytest.raises(ValueError, match="is a file"):
        run_sweep(Experiment.model_validate(fast_experiment(1)), target, progress=False)
    assert target.read_text() == "not a folder"

    def unreachable(workers, scheduler):  # as executor_for fails for a scheduler not there
        raise ScenarioError(scheduler, "--scheduler", "cannot reach it")

    monkeypatch.setattr(sweep, "executor_for", unreachable)
    with pytest.raises(ScenarioError, match="cannot reach it"):
        run_sweep(Experiment.model_validate(fast_experiment(1)), tmp_path / "new",
                  scheduler="tcp://127.0.0.1:9", progress=False)
    assert os.listdir(tmp_path) == ["a-file"]


def test_column_types_do_not_depend_on_how_runs_were_batched(tmp_path):
    """A metric missing in some runs, or whole in some and fractional in others, gets
    the same Parquet type whether the runs were stored one per batch or all in one."""
    import pyarrow.parquet as pq
    from sweep_helpers import SometimesMissingEvaluator

    exp = Experiment.model_validate({
        "question": "Does batching change the stored types?", "scenario": "reference",
        "parameters": {"x": {"values": [0, 1, 2, 3]}}, "metrics": ["count", "ratio"]})
    outs = []
    for flush_runs in (1, 100):
        out = tmp_path / f"flush-{flush_runs}"
        run_sweep(exp, out, evaluate=SometimesMissingEvaluator(), progress=False,
                  flush_runs=flush_runs)
        outs.append(out)
    schemas = [pq.read_schema(out / "runs.parquet") for out in outs]
    assert schemas[0].equals(schemas[1]), (schemas[0], schemas[1])
    assert str(schemas[0].field("count").type) == "int64"
    assert str(schemas[0].field("ratio").type) == "double"
    pd.testing.assert_frame_equal(read_runs(outs[0]).drop(columns="wall_time_s"),
                                  read_runs(outs[1]).drop(columns="wall_time_s"))


def test_runs_that_fail_do_not_take_the_metrics_of_their_batch(tmp_path):
    """A batch that starts with a failed run (no metrics) keeps the metrics of the ok
    runs after it; one batch per run or one for all gives the same table."""
    exp = Experiment.model_validate(FAST | {
        "parameters": {"sector.fortified_rows": {"values": [11, 1, 2]}}})  # 11: too deep
    outs = []
    for flush_runs in (1, 100):
        out = tmp_path / f"flush-{flush_runs}"
        result = run_sweep(exp, out, progress=False, flush_runs=flush_runs)
        assert (result.ok, result.failed) == (2, 1)
        assert check(out) == []
        outs.append(contents(out))
    runs = outs[0][0]
    assert runs.loc[runs["status"] == "ok", "attacker_killed"].notna().all()
    assert runs.loc[runs["status"] == "failed", "attacker_killed"].isna().all()
    for want, got in zip(*outs, strict=True):
        pd.testing.assert_frame_equal(want, got)


def test_hostile_folder_contents_get_one_line_and_leftovers_are_cleared(tmp_path, capsys):
    exp = Experiment.model_validate(fast_experiment(2))
    # A manifest a killed sweep was writing: cleared, and the sweep starts.
    out = tmp_path / "half-manifest"
    out.mkdir()
    (out / ".tmp-manifest.json").write_text('{"half": ')
    run_sweep(exp, out, progress=False)
    assert check(out) == [] and not (out / ".tmp-manifest.json").exists()

    # A batch file damaged on disk: named, with what to do, for the sweep and verify.
    out = tmp_path / "damaged-batch"
    child = multiprocessing.get_context("forkserver")
    child.set_forkserver_preload(["sim.sweep", "sweep_helpers"])
    proc = child.Process(target=sweep_in_child,
                         args=(fast_experiment(2), str(out), 1, None, 5))
    proc.start()
    proc.join(120)
    (batch,) = (out / PARTS_DIR).glob("batch-*")
    (batch / "series.parquet").write_bytes(b"not parquet")
    problems = check(out)
    assert len(problems) == 1 and "series.parquet: unreadable" in problems[0], problems
    with pytest.raises(ValueError, match="unreadable.*remove its batch folder"):
        run_sweep(exp, out, progress=False)

    # A manifest that is a pipe, a device or huge is never read.
    for name, make in (("fifo", lambda p: os.mkfifo(p)),
                       ("device", lambda p: p.symlink_to("/dev/zero")),
                       ("huge", lambda p: p.write_bytes(b" " * (17 * 2**20)))):
        out = tmp_path / name
        out.mkdir()
        make(out / "manifest.json")
        assert main(["verify", str(out)]) == 1
        lines = capsys.readouterr().out.strip().splitlines()
        assert len(lines) == 1 and "not a manifest" in lines[0], lines
        with pytest.raises(ValueError, match="not a manifest"):
            run_sweep(exp, out, progress=False)

    # A lock naming its holder with terminal escapes: shown escaped, on one line.
    out = tmp_path / "escapes"
    out.mkdir()
    (out / LOCK_FILE).write_text(json.dumps({"state": "held", "pid": "1\n\x1b[31mRED",
                                             "host": "\x1b]0;pwn\x07"}))
    result = run_sweep(exp, out, progress=False)
    from sim.sweep_store import holder_note
    note = holder_note(result.took_over)
    assert "\x1b" not in note and "\n" not in note and "\\x1b" in note


def test_sigterm_stops_a_sweep_as_ctrl_c_does(tmp_path):
    proc, command = start_slow_sweep(tmp_path, tmp_path / "out", "--workers", "1",
                                     batch=False)
    while not (tmp_path / "out" / "manifest.json").exists():  # running its first runs
        assert proc.poll() is None
        time.sleep(0.01)
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "the same command resumes" in err
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["status"] == \
        "interrupted"
    assert json.loads((tmp_path / "out" / LOCK_FILE).read_text())["state"] == "released"
