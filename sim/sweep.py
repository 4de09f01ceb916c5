"""The sweep engine: every design point times every replicate, on any executor,
streamed to disk, resumable.

Each run's seed comes from the master seed, the design point and the replicate index
through numpy's ``SeedSequence`` (:func:`sim.seeds.run_seed`), so a run's numbers do
not depend on the executor, the worker count or the order of completion; the seed is
stored, and ``attrition run --seed`` reproduces a run alone. Finished runs are stored
in batches as they complete, at most every ``flush_seconds`` or ``flush_runs``, each batch's
runs and series together or not at all (:mod:`sim.sweep_store`, which also holds the
lock that keeps a second sweep out of the folder); running the same sweep into the same
folder skips every run already stored. At the end the batches become ``runs.parquet``
(and ``series.parquet``), which are checked before the manifest says "complete"; asked
for, ``runs.csv`` (and ``series.csv``) are written from them then, each whole or not at
all (:func:`write_csv_copies`). :func:`time_probe` times a few of a design's runs in this
process, for ``attrition sweep --dry-run`` 's estimate.

    >>> import tempfile
    >>> from sim.experiments import Experiment
    >>> exp = Experiment.model_validate({"question": "How do drones change the losses?",
    ...     "scenario": "fortified_defense", "set": {"max_days": 2},
    ...     "parameters": {"defender.drones": {"values": [0, 50]}}, "replicates": 2,
    ...     "metrics": ["attacker_killed"]})
    >>> result = run_sweep(exp, tempfile.mkdtemp(), progress=False)
    >>> result.ok, result.failed
    (4, 0)
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import pyarrow as pa
from pydantic import ValidationError

from sim import AttritionModel, __version__
from sim.config import Scenario
from sim.executors import executor_for
from sim.experiments import Experiment, SeriesSpec, base_data, design_points, scenario_at
from sim.publish import printable, shown, spreadsheet_safe, write_atomically
from sim.scenarios import ScenarioError, explain, validate
from sim.seeds import run_seed
from sim.sweep_check import check, read_manifest
from sim.sweep_store import (
    LOCK_FILE,
    MANIFEST_FILE,
    PARTS_DIR,
    RUNS_FILE,
    SERIES_FILE,
    Store,
    StoreError,
    SweepLock,
    boundary,
    error_line,
    stored,
)


class Evaluate(Protocol):
    """What a sweep runs: parameters and a seed in, metrics (and optional series) out."""

    def __call__(self, params: dict[str, Any], seed: int
                 ) -> tuple[dict[str, Any], pd.DataFrame | None]: ...


class ScenarioEvaluator:
    """Runs the attrition model on the base scenario with a design point's values set.

    Plain data, so it pickles to process-pool and Dask workers.
    """

    def __init__(self, base: dict[str, Any], metrics: list[str],
                 series: SeriesSpec | None = None):
        self.base, self.metrics, self.series = base, list(metrics), series

    def scenario(self, params: dict[str, Any]) -> Scenario:
        return scenario_at(self.base, params)

    def __call__(self, params, seed):
        model = AttritionModel(self.scenario(params), rng=seed)
        model.run()
        summary = model.summary()
        metrics = {m: summary[m] for m in self.metrics}
        if self.series is None:
            return metrics, None
        daily = model.daily_records()
        daily = daily[(daily["contingent"] == "all") & (daily["day"] % self.series.every == 0)]
        return metrics, daily[["day", "side", *self.series.columns]].reset_index(drop=True)


def summary_keys() -> list[str]:
    """The keys of a run summary, which a sweep's metrics must come from."""
    return list(AttritionModel(Scenario(max_days=1), rng=0).summary())


def scenario_evaluator(exp: Experiment, experiment_file: str | Path | None = None
                       ) -> ScenarioEvaluator:
    """The evaluator of an experiment: its base scenario (found beside the experiment
    file first) with its fixed ``set`` overrides, checked once here."""
    path, data = base_data(exp, experiment_file)
    validate(data, experiment_file or path)
    known = summary_keys()
    unknown = [m for m in exp.metrics if m not in known]
    if unknown:
        raise ScenarioError(experiment_file or "experiment", "metrics",
                            f"unknown {', '.join(unknown)}; allowed: {', '.join(known)}")
    return ScenarioEvaluator(data, exp.metrics, exp.series)


@dataclass(frozen=True)
class Task:
    run: int
    point: int
    replicate: int
    seed: int
    params: dict[str, Any]


def tasks(exp: Experiment) -> list[Task]:
    """Every run of the experiment: design points in order, replicates within."""
    return [task(exp, p, r, params)
            for p, params in enumerate(design_points(exp)) for r in range(exp.replicates)]


def task(exp: Experiment, point: int, replicate: int, params: dict[str, Any]) -> Task:
    """The run of design point ``point`` (its values ``params``) and ``replicate``."""
    return Task(point * exp.replicates + replicate, point, replicate,
                run_seed(exp.seed, point, replicate), params)


def execute(evaluate: Evaluate, task: Task) -> dict[str, Any]:
    """Run one task; an exception is caught and recorded, never raised."""
    start = time.perf_counter()
    metrics: dict[str, Any] = {}
    series = None
    try:
        metrics, series = evaluate(task.params, task.seed)
        status, error = "ok", None
    except Exception as err:  # noqa: BLE001 - any failure of a run is data
        status, error = "failed", _one_line(err)
    row = {"run": task.run, "point": task.point, "replicate": task.replicate,
           "seed": task.seed, **task.params, **metrics, "status": status, "error": error,
           "wall_time_s": time.perf_counter() - start}
    if series is not None:
        series = series.assign(run=task.run, point=task.point, replicate=task.replicate)
    return {"row": row, "series": series}


def _one_line(err: Exception) -> str:
    """An exception as one line: a scenario the design made invalid is explained as
    ``--set`` would explain it."""
    if isinstance(err, ValidationError):
        return f"invalid scenario: {explain(err, 'design point')}"
    return error_line(err)


@dataclass
class SweepResult:
    out: Path
    total: int
    ok: int
    failed: int
    skipped: int
    seconds: float
    #: The holder of a lock this sweep took over (a sweep that died holding it), if any.
    took_over: dict | None = None


class _Batches:
    """Finished runs held in memory until the next batch is stored, at most every
    ``flush_seconds`` or ``flush_runs``."""

    def __init__(self, store: Store, flush_runs: int, flush_seconds: float):
        self.store = store
        self.rows: list[dict] = []
        self.series: list[pd.DataFrame] = []
        self.flush_runs, self.flush_seconds = flush_runs, flush_seconds
        self.last_flush = time.monotonic()

    def add(self, result: dict) -> None:
        self.rows.append(result["row"])
        if result["series"] is not None:
            self.series.append(result["series"])
        if (len(self.rows) >= self.flush_runs
                or time.monotonic() - self.last_flush >= self.flush_seconds):
            self.flush()

    def flush(self) -> None:
        self.store.write_batch(self.rows, self.series)
        self.rows, self.series = [], []
        self.last_flush = time.monotonic()


def stored_runs(out: str | Path) -> set[int]:
    """Runs already stored in ``out`` (consolidated or in batches)."""
    return Store(Path(out)).stored_runs()


def run_sweep(exp: Experiment, out: str | Path, evaluate: Evaluate | None = None,
              workers: int = 1, scheduler: str | None = None, experiment_file: str | None = None,
              progress: bool = True, flush_runs: int = 200, flush_seconds: float = 2.0,
              window_per_worker: int = 4, csv: bool = False) -> SweepResult:
    """Run (or resume) a sweep into ``out``.

    Parameters
    ----------
    exp : the experiment.
    out : output folder; a folder holding another experiment, or one another sweep is
        writing, is refused (:class:`sim.sweep_store.StoreError`).
    evaluate : what to run; by default the attrition model on the experiment's scenario.
    workers : local processes (1 runs in this process); ignored with ``scheduler``.
    scheduler : address of a Dask distributed scheduler, e.g. ``tcp://127.0.0.1:8786``.
    progress : show a progress bar (rate, ETA) on stderr.
    csv : also write ``runs.csv`` (and ``series.csv``) once complete, if not there yet
        (:func:`write_csv_copies`); a complete folder gets them too.

    The runs stored before are skipped; at the end the store is consolidated and
    checked (:func:`sim.sweep_check.check`) before the manifest says "complete".
    """
    out = Path(out)
    evaluate = evaluate or scenario_evaluator(exp, experiment_file)
    every = tasks(exp)
    _check_folder(exp, out)
    try:
        out.mkdir(parents=True)
        created = True  # by this sweep: removed again if it is refused before storing
    except FileExistsError:
        created = False
    except OSError as err:
        raise StoreError(f"--out {shown(out)}: cannot create it ({err.strerror}); allowed: "
                         f"a folder you can write") from None
    lock = SweepLock(out)
    manifest = None
    try:
        lock.acquire()
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise
    try:
        if workers > 1 and scheduler is None:
            _compile_for(evaluate)  # once here, not once in every worker
        with executor_for(workers, scheduler) as (executor, slots):
            store = Store(out, ["run", "point", "replicate", "seed", *exp.parameters,
                                *exp.metrics, "status", "error", "wall_time_s"])
            store.remove_staging()
            manifest = _open_manifest(exp, out, len(every), experiment_file)
            done = store.stored_runs(with_series=exp.series is not None)
            todo = [t for t in every if t.run not in done]
            start = time.monotonic()
            ok, failed = _execute_all(executor, evaluate, todo, _Batches(
                store, flush_runs, flush_seconds), slots * window_per_worker if slots > 1
                else 1, _progress(len(every), len(done), progress), out, manifest)
        # Batches to gather (check() reports any as unfinished) or something to mend:
        # the Parquet files are rewritten, and so are the CSV copies below.
        rebuilt = bool(check(out))
        store.consolidate(repair=rebuilt)  # otherwise it only removes an empty parts/
        problems = check(out) if rebuilt else []
        if problems:
            raise StoreError(f"{problems[0]}; allowed: a new folder for this sweep "
                             f"(attrition verify {out} lists every problem)")
        counts = pd.read_parquet(out / RUNS_FILE, columns=["status"])["status"].value_counts()
        _write_manifest(out, manifest | {"status": "complete", "finished": _now(),
                                         "runs_ok": int(counts.get("ok", 0)),
                                         "runs_failed": int(counts.get("failed", 0))})
        boundary("manifest-complete")
        if csv:  # under the lock: a second sweep cannot clear the files half-written
            write_csv_copies(out, missing_only=not rebuilt)
    except BaseException as err:
        if created and not (out / MANIFEST_FILE).exists():
            shutil.rmtree(out, ignore_errors=True)  # refused before anything was stored
        elif manifest is not None and manifest.get("status") == "running":
            with contextlib.suppress(OSError):  # stopped while consolidating, say
                _write_manifest(out, manifest | {"status": "interrupted", "stopped": _now()})
        if isinstance(err, OSError | pa.ArrowException):  # a full disk, a folder removed
            raise StoreError(f"{shown(out)}: cannot store results ({error_line(err)}); "
                             f"allowed: a folder with room, then the same command resumes "
                             f"(what was stored is kept)") from None
        raise
    finally:
        lock.release()
    return SweepResult(out, len(every), ok, failed, len(done), time.monotonic() - start,
                       lock.previous)


def _execute_all(executor, evaluate: Evaluate, todo: list[Task], batches: _Batches,
                 window: int, bar, out: Path, manifest: dict) -> tuple[int, int]:
    """Run ``todo`` with at most ``window`` runs submitted at once, storing each batch as
    it fills; on any interruption, store what finished and mark the sweep interrupted."""
    ok = failed = 0
    try:
        pending: dict = {}
        queue = iter(todo)
        while True:
            while len(pending) < window:
                task = next(queue, None)
                if task is None:
                    break
                pending[executor.submit(execute, evaluate, task)] = task
            if not pending:
                break
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                pending.pop(future)
                result = future.result()
                batches.add(result)
                ok += result["row"]["status"] == "ok"
                failed += result["row"]["status"] != "ok"
                bar.update(1)
        batches.flush()
    except BaseException:
        # Keep what finished (the same command resumes); if the disk is what failed,
        # the runs held here run again then.
        with contextlib.suppress(OSError, pa.ArrowException):
            batches.flush()
            _write_manifest(out, manifest | {"status": "interrupted", "stopped": _now()})
        raise
    finally:
        bar.close()
    return ok, failed


def _progress(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="run", file=sys.stderr, disable=not enabled,
                dynamic_ncols=True, smoothing=0.1)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _check_folder(exp: Experiment, out: Path) -> None:
    """Before anything is written: ``out`` is new, empty, or this experiment's folder."""
    path = out / MANIFEST_FILE
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise StoreError(f"--out {shown(out)}: is a file or a link; allowed: a new or empty "
                         f"folder, or a sweep's folder")
    if path.exists() or path.is_symlink():
        try:
            fingerprint = read_manifest(path).get("fingerprint")
        except StoreError as err:
            raise StoreError(f"{err}; allowed: a sweep's manifest, or a new folder") from None
        if fingerprint != exp.fingerprint():
            raise StoreError(f"--out {shown(out)}: holds another experiment (hash "
                             f"{printable(str(fingerprint)[:64])}, this one "
                             f"{exp.fingerprint()}); allowed: the same experiment to "
                             f"resume, or a new folder")
    elif out.exists() and any(p.name not in (MANIFEST_FILE, LOCK_FILE)
                              and not p.name.startswith(".tmp-") for p in out.iterdir()):
        # A hidden .tmp- file is a manifest a killed sweep was writing.
        raise StoreError(f"--out {shown(out)}: exists and holds other files; allowed: a new "
                         f"or empty folder, or a sweep's folder")


def _open_manifest(exp: Experiment, out: Path, total: int, experiment_file) -> dict:
    """The manifest, written as "running" (under the lock: checked again here)."""
    _check_folder(exp, out)
    path = out / MANIFEST_FILE
    if path.is_file():
        manifest = read_manifest(path) | {"status": "running", "resumed": _now()}
    else:
        manifest = {"experiment_file": str(experiment_file or ""), "question": exp.question,
                    "fingerprint": exp.fingerprint(), "package_version": __version__,
                    "runs": total, "started": _now(), "status": "running",
                    "experiment": exp.model_dump(mode="json")}
    _write_manifest(out, manifest)
    boundary("manifest")
    return manifest


def _write_manifest(out: Path, manifest: dict) -> None:
    write_atomically(out / MANIFEST_FILE,
                     lambda tmp: tmp.write_text(json.dumps(manifest, indent=2) + "\n"))


def read_runs(out: str | Path) -> pd.DataFrame:
    """The runs of a finished sweep, sorted by run."""
    return pd.read_parquet(Path(out) / RUNS_FILE)


#: Rows of series.parquet converted to CSV at a time (memory stays bounded).
CSV_ROWS_AT_ONCE = 65_536


def write_csv_copies(out: str | Path, missing_only: bool = False) -> list[Path]:
    """``runs.csv`` from ``runs.parquet`` and, where the sweep keeps series,
    ``series.csv`` from ``series.parquet``: the same rows, columns and values (floats
    as Python writes them, to the last digit, which ``pandas.read_csv`` reads back
    exactly; an empty cell is a missing value). A text cell
    (or column name) that starts with ``= + - @``, a tab or a carriage return gets a
    ``'`` in front, so that a spreadsheet shows it instead of running it as a formula
    (:func:`sim.publish.spreadsheet_text`); numbers never do. Each file is written beside
    its place and renamed into it. With ``missing_only``, a file already there is kept.
    Returns the files written."""
    import pyarrow.parquet as pq

    written = []
    for name in (RUNS_FILE, SERIES_FILE):
        source = Path(out) / name
        target = source.with_suffix(".csv")
        if not source.is_file() or (missing_only and target.exists()):
            continue

        def write(tmp: Path, source=source) -> None:
            parquet = stored(source, pq.ParquetFile)
            with tmp.open("w", newline="") as file:
                header = True
                for batch in parquet.iter_batches(batch_size=CSV_ROWS_AT_ONCE):
                    spreadsheet_safe(batch.to_pandas()).to_csv(file, index=False,
                                                                header=header)
                    header = False
                if header:  # no rows: the header alone
                    spreadsheet_safe(parquet.schema_arrow.empty_table().to_pandas()).to_csv(
                        file, index=False)

        write_atomically(target, write)
        boundary("publish-csv")
        written.append(target)
    return written


# ------------------------------------------------------------------ timing probe
#: The probe of ``--dry-run``: at most this many runs, and this many seconds (a run
#: still going then is stopped).
PROBE_RUNS, PROBE_SECONDS = 5, 3.0


@dataclass(frozen=True)
class Probe:
    """A timing probe's result: ``runs`` finished, their mean wall time in seconds (none
    if none finished), whether the time ran out (a run was stopped), and how many of the
    runs failed, with the first one's error (a failed run is quick: its time would make
    the estimate too short)."""

    runs: int
    seconds_per_run: float | None
    stopped: bool
    failed: int = 0
    first_error: str | None = None


class _OutOfTime(BaseException):
    """The probe's time is up (a BaseException: execute() records Exceptions)."""


def probe_points(count: int, most: int = PROBE_RUNS) -> list[int]:
    """Up to ``most`` design points spread evenly over ``count``, first and last
    included: runs differ in length across a design.

    >>> probe_points(240), probe_points(2)
    ([0, 60, 120, 179, 239], [0, 1])
    """
    if count <= most:
        return list(range(count))
    return [round(i * (count - 1) / (most - 1)) for i in range(most)]


def _compile_for(evaluate: Evaluate) -> None:
    """Compile the model's kernels (announced; :func:`sim.model.kernels.compile_kernels`)
    before the runs of a sweep of it, if a machine's first run has yet to: in this
    process they are then in numba's cache, which every local worker loads."""
    if isinstance(evaluate, ScenarioEvaluator):
        from sim.model import kernels

        if not kernels.compiled():
            kernels.compile_kernels()


def time_probe(exp: Experiment, points: list[dict[str, Any]], evaluate: Evaluate,
               seconds: float = PROBE_SECONDS, most: int = PROBE_RUNS) -> Probe:
    """Time the first replicate of a few design points (:func:`probe_points`) in this
    process, as a worker runs them (:func:`execute`), within ``seconds`` (a run still
    going then is stopped, where this is the main thread: a timer signal interrupts it);
    nothing is written."""
    timed: list[float] = []
    failed, first_error = 0, None
    timer = threading.current_thread() is threading.main_thread()
    previous = None
    # armed: the alarm stops a run only while the probe runs (it may fire just after);
    # fired: it did (a compiled kernel can turn the exception into an error the run
    # records as a failure, so its time must not count).
    state = {"armed": True, "fired": False}

    def out_of_time(signum, frame):
        if state["armed"]:
            state["fired"] = True
            raise _OutOfTime

    _compile_for(evaluate)  # a first run's compile is not a run's time
    if timer:
        previous = signal.signal(signal.SIGALRM, out_of_time)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    start = time.perf_counter()
    try:
        for point in probe_points(len(points), most):
            row = execute(evaluate, task(exp, point, 0, points[point]))["row"]
            if state["fired"]:
                break
            if row["status"] != "ok":
                failed += 1
                first_error = first_error or row["error"]
                continue
            timed.append(row["wall_time_s"])
            if time.perf_counter() - start >= seconds:
                break
    except _OutOfTime:
        pass
    finally:
        state["armed"] = False
        if timer:
            signal.setitimer(signal.ITIMER_REAL, 0)
            # None: a handler set outside Python; the default is the nearest we can restore.
            signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)
    return Probe(len(timed), sum(timed) / len(timed) if timed else None, state["fired"],
                 failed, first_error)


__all__ = ["MANIFEST_FILE", "PARTS_DIR", "RUNS_FILE", "SERIES_FILE", "Probe",
           "ScenarioEvaluator", "StoreError", "SweepResult", "Task", "check", "execute",
           "executor_for", "probe_points", "read_runs", "run_seed", "run_sweep",
           "scenario_evaluator", "stored_runs", "task", "tasks", "time_probe", "write_csv_copies"]
