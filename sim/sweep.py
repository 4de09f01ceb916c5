"""The sweep engine: every design point times every replicate, on any executor,
streamed to disk, resumable.

Each run's seed comes from the master seed, the design point and the replicate index
through numpy's ``SeedSequence`` (:func:`sim.seeds.run_seed`), so a run's numbers do
not depend on the executor, the worker count or the order of completion; the seed is
stored, and ``attrition run --seed`` reproduces a run alone. Finished runs are written to small
Parquet part files (atomically) as they complete, at most every ``flush_seconds`` or
``flush_runs``; running the same sweep into the same folder skips every run already
stored. At the end the parts become ``runs.parquet`` (and ``series.parquet``).

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

import copy
import json
import shutil
import sys
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import pyarrow.parquet as pq
from pydantic import ValidationError

from sim import AttritionModel, __version__
from sim.config import Scenario
from sim.executors import executor_for
from sim.experiments import Experiment, SeriesSpec, design_points
from sim.keypaths import assign, flatten
from sim.publish import write_atomically
from sim.scenarios import ScenarioError, explain, find, read, validate
from sim.seeds import run_seed

RUNS_FILE, SERIES_FILE, MANIFEST_FILE, PARTS_DIR = ("runs.parquet", "series.parquet",
                                                    "manifest.json", "parts")


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
        data = copy.deepcopy(self.base)
        for key, value in params.items():
            assign(data, key, value)
        return Scenario.model_validate(data)

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
    base = exp.scenario
    if experiment_file is not None:
        try:
            base = find(exp.scenario, relative_to=Path(experiment_file).parent)
        except FileNotFoundError:
            pass
    path, data = read(base)
    for key, value in flatten(exp.set).items():
        try:
            assign(data, key, value)
        except KeyError as err:
            raise ScenarioError(experiment_file or path, f"set.{key}", err.args[0]) from None
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
    return [Task(p * exp.replicates + r, p, r, run_seed(exp.seed, p, r), params)
            for p, params in enumerate(design_points(exp)) for r in range(exp.replicates)]


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
    lines = str(err).strip().splitlines()
    return f"{type(err).__name__}: {lines[0] if lines else ''}"


@dataclass
class SweepResult:
    out: Path
    total: int
    ok: int
    failed: int
    skipped: int
    seconds: float


class _Store:
    """Finished runs, flushed to atomic part files."""

    def __init__(self, out: Path, flush_runs: int, flush_seconds: float):
        self.parts = out / PARTS_DIR
        self.parts.mkdir(parents=True, exist_ok=True)
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
        if self.rows:
            name = f"{min(r['run'] for r in self.rows):09d}-{uuid.uuid4().hex[:8]}.parquet"
            _atomic_parquet(pd.DataFrame(self.rows), self.parts / f"runs-{name}")
            if self.series:
                _atomic_parquet(pd.concat(self.series, ignore_index=True),
                                self.parts / f"series-{name}")
        self.rows, self.series = [], []
        self.last_flush = time.monotonic()


def _atomic_parquet(frame: pd.DataFrame, path: Path) -> None:
    write_atomically(path, lambda tmp: frame.to_parquet(tmp, index=False))


def stored_runs(out: Path) -> set[int]:
    """Runs already stored in ``out`` (consolidated or in parts)."""
    done: set[int] = set()
    files = list((out / PARTS_DIR).glob("runs-*.parquet")) if (out / PARTS_DIR).is_dir() else []
    if (out / RUNS_FILE).is_file():
        files.append(out / RUNS_FILE)
    for file in files:
        done.update(pq.read_table(file, columns=["run"]).column("run").to_pylist())
    return done


def run_sweep(exp: Experiment, out: str | Path, evaluate: Evaluate | None = None,
              workers: int = 1, scheduler: str | None = None, experiment_file: str | None = None,
              progress: bool = True, flush_runs: int = 200, flush_seconds: float = 2.0,
              window_per_worker: int = 4) -> SweepResult:
    """Run (or resume) a sweep into ``out``.

    Parameters
    ----------
    exp : the experiment.
    out : output folder; a folder holding another experiment is refused.
    evaluate : what to run; by default the attrition model on the experiment's scenario.
    workers : local processes (1 runs in this process); ignored with ``scheduler``.
    scheduler : address of a Dask distributed scheduler, e.g. ``tcp://127.0.0.1:8786``.
    progress : show a progress bar (rate, ETA) on stderr.
    """
    out = Path(out)
    evaluate = evaluate or scenario_evaluator(exp, experiment_file)
    every = tasks(exp)
    with executor_for(workers, scheduler) as (executor, slots):
        manifest = _open_manifest(exp, out, len(every), experiment_file)
        done = stored_runs(out)
        todo = [t for t in every if t.run not in done]
        store = _Store(out, flush_runs, flush_seconds)
        start = time.monotonic()
        window = slots * window_per_worker if slots > 1 else 1
        ok = failed = 0
        bar = _progress(len(every), len(done), progress)
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
                    store.add(result)
                    ok += result["row"]["status"] == "ok"
                    failed += result["row"]["status"] != "ok"
                    bar.update(1)
            store.flush()
        except BaseException:
            store.flush()  # keep what finished; the same command resumes
            _write_manifest(out, manifest | {"status": "interrupted",
                                             "stopped": _now()})
            raise
        finally:
            bar.close()
    _consolidate(out)
    counts = pd.read_parquet(out / RUNS_FILE, columns=["status"])["status"].value_counts()
    _write_manifest(out, manifest | {"status": "complete", "finished": _now(),
                                     "runs_ok": int(counts.get("ok", 0)),
                                     "runs_failed": int(counts.get("failed", 0))})
    return SweepResult(out, len(every), ok, failed, len(done), time.monotonic() - start)


def _progress(total: int, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="run", file=sys.stderr, disable=not enabled,
                dynamic_ncols=True, smoothing=0.1)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _open_manifest(exp: Experiment, out: Path, total: int, experiment_file) -> dict:
    path = out / MANIFEST_FILE
    fingerprint = exp.fingerprint()
    if path.is_file():
        manifest = json.loads(path.read_text())
        if manifest.get("fingerprint") != fingerprint:
            raise ScenarioError(out, "--out", f"holds another experiment (hash "
                                              f"{manifest.get('fingerprint')}, this one "
                                              f"{fingerprint}); allowed: the same "
                                              f"experiment to resume, or a new folder")
        manifest |= {"status": "running", "resumed": _now()}
    else:
        if out.exists() and any(p.name != MANIFEST_FILE for p in out.iterdir()):
            raise ScenarioError(out, "--out", "exists and holds other files; allowed: a new "
                                              "or empty folder, or a sweep's folder")
        manifest = {"experiment_file": str(experiment_file or ""), "question": exp.question,
                    "fingerprint": fingerprint, "package_version": __version__,
                    "runs": total, "started": _now(), "status": "running",
                    "experiment": exp.model_dump(mode="json")}
    out.mkdir(parents=True, exist_ok=True)
    _write_manifest(out, manifest)
    return manifest


def _write_manifest(out: Path, manifest: dict) -> None:
    write_atomically(out / MANIFEST_FILE,
                     lambda tmp: tmp.write_text(json.dumps(manifest, indent=2) + "\n"))


def _consolidate(out: Path) -> None:
    """Parts (and an earlier runs.parquet) into one sorted runs.parquet; series appended
    part by part so that they are never all in memory."""
    parts = out / PARTS_DIR
    run_files = sorted(parts.glob("runs-*.parquet"))
    if not run_files and (out / RUNS_FILE).is_file():
        shutil.rmtree(parts, ignore_errors=True)
        return
    frames = [pd.read_parquet(f) for f in run_files]
    if (out / RUNS_FILE).is_file():
        frames.insert(0, pd.read_parquet(out / RUNS_FILE))
    runs = pd.concat(frames, ignore_index=True).sort_values("run", kind="stable")
    runs = runs.reset_index(drop=True)
    _atomic_parquet(runs, out / RUNS_FILE)
    series_files = sorted(parts.glob("series-*.parquet"))
    if series_files:
        sources = ([out / SERIES_FILE] if (out / SERIES_FILE).is_file() else []) + series_files
        write_atomically(out / SERIES_FILE, lambda tmp: _append_tables(sources, tmp))
    shutil.rmtree(parts, ignore_errors=True)


def _append_tables(sources: list[Path], path: Path) -> None:
    """The Parquet files ``sources``, one after another, into one file at ``path``."""
    writer = None
    for file in sources:
        table = pq.read_table(file)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table.cast(writer.schema))
    writer.close()


def read_runs(out: str | Path) -> pd.DataFrame:
    """The runs of a finished sweep, sorted by run."""
    return pd.read_parquet(Path(out) / RUNS_FILE)


__all__ = ["ScenarioEvaluator", "SweepResult", "Task", "execute", "executor_for", "read_runs",
           "run_seed", "run_sweep", "scenario_evaluator", "stored_runs", "tasks"]
