"""What is wrong with a sweep folder: :func:`check`, which a sweep runs before it says
"complete", ``attrition verify`` runs on any folder, and ``attrition report`` runs
before it reads one. Reads only; never changes the folder.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from sim.publish import shown
from sim.sweep_store import (
    MANIFEST_FILE,
    RUNS_FILE,
    SERIES_FILE,
    Store,
    StoreError,
    _read,
    error_line,
    read_manifest,
    running_sweep,
    stored,
)

__all__ = ["check", "read_manifest"]


def check(out: str | Path) -> list[str]:
    """What is wrong with a sweep folder, one line each; none for a sound folder.

    A sound folder has its manifest; every run of the design once in ``runs.parquet``
    (or, while the sweep is unfinished, in its batches); a status for each; and, if the
    experiment keeps series, series rows for every ok run and for no other run."""
    out = Path(out)
    manifest_path = out / MANIFEST_FILE
    if not out.is_dir():
        return [f"{shown(out)}: not a folder"]
    try:
        manifest = read_manifest(manifest_path)
        total, experiment = int(manifest["runs"]), manifest["experiment"]
        keeps_series, metrics = experiment.get("series"), list(experiment["metrics"])
    except (StoreError, KeyError, TypeError, ValueError, AttributeError) as err:
        why = (str(err) if isinstance(err, StoreError)
               else f"{shown(manifest_path)}: {error_line(err)}")
        return [f"{why}; a sweep folder starts with its manifest"]
    store = Store(out)
    problems = []
    if store.batches() or not (out / RUNS_FILE).is_file():
        try:
            stored = len(store.stored_runs())
            for source in store.sources():  # every file of every batch opens
                for name in (RUNS_FILE, SERIES_FILE):
                    if (source / name).exists():
                        _read_metadata(source / name)
        except StoreError as err:
            return [str(err)]
        writer = running_sweep(out)
        if writer:
            return [f"{out}: running: {stored} of {total} runs stored so far ({writer})"]
        return [f"{out}: unfinished: {stored} of {total} runs stored "
                f"(status {manifest.get('status', '?')}); the same sweep command resumes it"]
    try:
        runs = _read(out / RUNS_FILE, ["run", "status"]).to_pandas()
        names = set(_read_metadata(out / RUNS_FILE).schema.names)
    except StoreError as err:
        return [str(err)]
    lacking = [m for m in metrics if m not in names]
    if lacking:
        problems.append(f"{out / RUNS_FILE}: no column for the metric {lacking[0]}")
    ids = runs["run"]
    repeated = ids[ids.duplicated()].unique()
    if len(repeated):
        problems.append(f"{out / RUNS_FILE}: {len(repeated)} runs stored more than once "
                        f"(e.g. run {repeated[0]})")
    missing = sorted(set(range(total)) - set(ids))
    extra = sorted(set(ids) - set(range(total)))
    if missing:
        problems.append(f"{out / RUNS_FILE}: {len(missing)} of {total} runs missing "
                        f"(e.g. run {missing[0]})")
    if extra:
        problems.append(f"{out / RUNS_FILE}: {len(extra)} runs not in the design "
                        f"(e.g. run {extra[0]})")
    odd = sorted(set(runs["status"]) - {"ok", "failed"})
    if odd:
        problems.append(f"{out / RUNS_FILE}: unknown status {odd[0]!r}")
    if keeps_series:
        problems += _check_series(out, set(runs.loc[runs["status"] == "ok", "run"]),
                                  set(ids))
    return problems


def _read_metadata(path: Path):
    return stored(path, pq.read_metadata)


def _check_series(out: Path, ok: set[int], known: set[int]) -> list[str]:
    path = out / SERIES_FILE
    if not ok:
        return []
    if not path.is_file():
        return [f"{path}: missing; it should hold the series of {len(ok)} ok runs"]
    try:
        series = _read(path, ["run", "day", "side"]).to_pandas()
    except StoreError as err:
        return [str(err)]
    problems = []
    have = set(series["run"])
    if ok - have:
        lacking = sorted(ok - have)
        problems.append(f"{path}: no series for {len(lacking)} ok runs (e.g. run "
                        f"{lacking[0]})")
    if have - known:
        problems.append(f"{path}: series of {len(have - known)} runs not in runs.parquet")
    repeated = series.duplicated(["run", "day", "side"])
    if repeated.any():
        run = series.loc[repeated, "run"].iloc[0]
        problems.append(f"{path}: {int(repeated.sum())} repeated rows (e.g. run {run})")
    return problems
