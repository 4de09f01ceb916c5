"""The sweep store: a sweep's finished runs on disk, consistent at every instant, with
one writer at a time.

A sweep folder holds::

    manifest.json    the experiment, its fingerprint and the sweep's status
    .lock            names the sweep writing here (pid, host, start); locked while it runs
    parts/           the runs stored so far, one folder per batch:
      batch-000000012-1a2b3c4d/runs.parquet, series.parquet
    runs.parquet     at the end: every run once, sorted by run
    series.parquet   at the end: the daily series of every ok run (if the experiment keeps them)

**One commit point per batch.** A batch is written into a hidden folder
(``parts/.tmp-batch-...``) and renamed into place: its runs and their series become
visible together, or not at all. A hidden folder left by a kill is removed on the next
start.

**Consolidation is safe to stop at any instant.** It writes ``series.parquet``, then
``runs.parquet`` (each whole, by rename) from the earlier consolidated files and the
batches, and only then removes the batches. Whatever it was doing when it was killed,
the files on disk still hold every stored run, some perhaps twice; reading the store
takes each run once (a run's row and its series from the first place that has them:
the consolidated files, then the batches in order), so a resumed sweep neither loses nor
duplicates a run. Every copy of a run holds the same numbers (the run's seed fixes
them), so which copy is kept does not matter.

**Verified before "complete".** :func:`sim.sweep_check.check` lists what is wrong with
a folder (run ids missing or repeated, series missing for an ok run, unreadable files);
a sweep says "complete" only when it finds nothing, and ``attrition verify`` runs it on
any folder.

**Found by name.** :func:`find_sweep` turns what a user types (a folder, a folder's
name under ``sweeps/``, an experiment's name, ``latest``) into a folder, for
``attrition report``, ``verify`` and any command that takes a sweep;
:func:`describe_sweep` says what ``attrition sweeps`` lists of one. Both only read, and
never more than a manifest's :data:`MANIFEST_BYTES` or from a pipe or a device.

The test-only environment variable ``ATTRITION_SWEEP_KILL_AT=N`` makes the sweep SIGKILL
itself at its N-th write boundary (:func:`boundary`), so that tests can stop it at each
in turn.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import signal
import socket
import stat
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sim.publish import SWEEP_NAME, printable, safe_name, shown, write_atomically

RUNS_FILE, SERIES_FILE, MANIFEST_FILE, PARTS_DIR, LOCK_FILE = (
    "runs.parquet", "series.parquet", "manifest.json", "parts", ".lock")
_BATCH, _STAGING = "batch-", ".tmp-"
#: The largest manifest read: an experiment file is at most 1 MiB.
MANIFEST_BYTES = 16 * 2**20
_KILL_AT = "ATTRITION_SWEEP_KILL_AT"
_boundaries_passed = 0
T = TypeVar("T")


class StoreError(ValueError):
    """A sweep folder that cannot be used; ``str()`` is one line: the folder, what is
    wrong, what is allowed."""


def boundary(name: str) -> None:
    """Mark a write boundary: the store is consistent here. With
    ``ATTRITION_SWEEP_KILL_AT=N`` in the environment (tests only), the N-th boundary of
    this process kills it with SIGKILL, as a power cut or ``kill -9`` would."""
    global _boundaries_passed
    _boundaries_passed += 1
    if os.environ.get(_KILL_AT) == str(_boundaries_passed):
        os.kill(os.getpid(), signal.SIGKILL)


# ----------------------------------------------------------------- one writer
class SweepLock:
    """The right to write a sweep folder, held with ``flock`` on ``.lock``.

    The kernel releases the lock when its process ends, however it ends (SIGKILL and
    power cuts included), so a lock left by a dead sweep is simply taken over; the file
    names the holder, which a refused sweep reports and a taking-over one notes. The
    file is never removed, so that two sweeps cannot lock two different files."""

    def __init__(self, out: Path):
        self.path = Path(out) / LOCK_FILE
        self.fd: int | None = None
        self.previous: dict | None = None  # the holder it took over from, if it died holding

    def acquire(self) -> SweepLock:
        import fcntl

        try:  # never through a symbolic link: the lock is this folder's own file
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as err:
            if err.errno in (errno.ELOOP, errno.EISDIR):
                raise StoreError(f"{shown(self.path)}: not a plain file (a link or a "
                                 f"folder); allowed: remove it, and the sweep makes its "
                                 f"own") from None
            raise StoreError(f"--out {shown(self.path.parent)}: cannot write there "
                             f"({err.strerror}); allowed: a folder you can write") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(_read_fd(fd))
            os.close(fd)
            raise StoreError(f"{self.path.parent}: a sweep is already writing here "
                             f"({holder}); allowed: wait for it to end, or another "
                             f"--out") from None
        except OSError as err:
            os.close(fd)
            raise StoreError(f"{self.path}: cannot be locked ({err.strerror}); allowed: a "
                             f"folder on a file system with file locks") from None
        self.fd = fd
        left = _read_fd(fd)
        self.previous = left if left.get("state") == "held" else None
        me = {"state": "held", "pid": os.getpid(), "host": socket.gethostname(),
              "started": _now()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(me) + "\n").encode(), 0)
        boundary("lock")
        return self

    def release(self) -> None:
        """Mark the lock released (so the next sweep knows this one ended) and unlock."""
        if self.fd is None:
            return
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, (json.dumps({"state": "released", "pid": os.getpid(),
                                        "ended": _now()}) + "\n").encode(), 0)
        os.close(self.fd)  # closing the last descriptor releases the flock
        self.fd = None

    def __enter__(self) -> SweepLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read_fd(fd: int) -> dict:
    try:
        data = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except (OSError, ValueError, RecursionError):  # a folder or a pipe as .lock; junk
        return {}
    return data if isinstance(data, dict) else {}


def _holder(info: dict) -> str:
    """Who holds (or held) a lock, for a message."""
    if not info.get("pid"):
        return "holder unknown"
    # The file is the folder's, which anyone may have written: shown, never obeyed.
    return printable(f"pid {str(info['pid'])[:20]} on {str(info.get('host', '?'))[:64]}, "
                     f"started {str(info.get('started', '?'))[:40]}")


def running_sweep(out: Path) -> str | None:
    """Who is writing ``out`` now (pid, host, start), or none if no sweep holds its lock."""
    import fcntl

    try:  # O_NONBLOCK: a pipe put there as .lock must not hang a reader
        fd = os.open(Path(out) / LOCK_FILE, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _holder(_read_fd(fd))
    except OSError:
        return None
    finally:
        os.close(fd)
    return None


def holder_note(previous: dict | None) -> str | None:
    """One line for a sweep that took over the lock of one that died holding it."""
    if previous is None:
        return None
    return (f"note: took over the lock of a sweep that stopped without releasing it "
            f"({_holder(previous)})")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# ----------------------------------------------------------------- the store
class Store:
    """The finished runs of one sweep folder: batches, then consolidated files."""

    def __init__(self, out: Path, columns: list[str] | None = None):
        self.out = Path(out)
        self.parts = self.out / PARTS_DIR
        #: The columns of runs.parquet in order (run, point, replicate, seed, the
        #: parameters, the metrics, status, error, wall_time_s); others follow, sorted.
        self.columns = list(columns or [])

    def batches(self) -> list[Path]:
        """Committed batches, in order of name (first run, then a random tag)."""
        if not self.parts.is_dir():
            return []
        return sorted(p for p in self.parts.iterdir()
                      if p.is_dir() and p.name.startswith(_BATCH))

    def sources(self) -> list[Path]:
        """Where runs are stored, in the order a run is taken from: the consolidated
        files (the folder itself), then each batch."""
        top = [self.out] if (self.out / RUNS_FILE).is_file() else []
        return top + self.batches()

    def remove_staging(self) -> None:
        """Remove what a killed writer left half-written: hidden batch folders and
        hidden files of an atomic write. Only the lock holder calls this."""
        leftovers = [p for folder in (self.out, self.parts) if folder.is_dir()
                     for p in folder.iterdir() if p.name.startswith(_STAGING)]
        for path in leftovers:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
        if leftovers:
            boundary("remove-staging")

    def stored_runs(self, with_series: bool = False) -> set[int]:
        """The ids of the runs stored (consolidated or in batches); with
        ``with_series``, an ok run counts only if its series are stored too (so that a
        resumed sweep runs again what a damaged series file lost)."""
        done: set[int] = set()
        ok: set[int] = set()
        have_series: set[int] = set()
        for source in self.sources():
            runs = _read(source / RUNS_FILE, ["run", "status"]).to_pydict()
            for run, status in zip(runs["run"], runs["status"], strict=True):
                (ok if status == "ok" and with_series else done).add(run)
            if with_series and (source / SERIES_FILE).is_file():
                have_series.update(_read(source / SERIES_FILE, ["run"])
                                   .column("run").to_pylist())
        return done | (ok & have_series)

    def write_batch(self, rows: list[dict], series: list[pd.DataFrame]) -> None:
        """Store finished runs and their series as one batch: written hidden, then
        renamed into place (the commit point)."""
        if not rows:
            return
        self.parts.mkdir(exist_ok=True)
        name = f"{_BATCH}{min(r['run'] for r in rows):09d}-{uuid.uuid4().hex[:8]}"
        staging = self.parts / f"{_STAGING}{name}"
        staging.mkdir()
        try:
            # Every column in every batch, in one order (a failed run has no metrics; a
            # batch of failed runs still has their columns, empty), and each column's
            # type from its values alone (ints, floats, none, text), not from which runs
            # share the batch: batches unify into the same table however the runs were
            # split (see consolidate).
            names = self._ordered({key for row in rows for key in row} | set(self.columns))
            table = pa.table({key: [row.get(key) for row in rows] for key in names})
            _write_synced(table, staging / RUNS_FILE)
            boundary("batch-runs")
            if series:
                _write_synced(pa.Table.from_pandas(pd.concat(series, ignore_index=True),
                                                   preserve_index=False),
                              staging / SERIES_FILE)
                boundary("batch-series")
            _sync_folder(staging)
            os.replace(staging, self.parts / name)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _sync_folder(self.parts)
        boundary("batch-commit")

    def _ordered(self, names) -> list[str]:
        return ([c for c in self.columns if c in names]
                + sorted(n for n in names if n not in self.columns))

    def consolidate(self, repair: bool = False) -> None:
        """The batches (and earlier consolidated files) into ``runs.parquet`` and
        ``series.parquet``, each run once; then the batches are removed. Safe to stop at
        any instant: see the module's notes. With ``repair``, the consolidated files are
        rewritten even without batches (a run or a series row stored twice is kept once)."""
        batches = self.batches()
        if not batches and not (repair and (self.out / RUNS_FILE).is_file()):
            _remove_if_empty(self.parts)
            return
        sources = self.sources()
        runs = _first_row_of_each_run([_read(s / RUNS_FILE) for s in sources])
        runs = runs.select(self._ordered(set(runs.column_names)))
        with_series = [s / SERIES_FILE for s in sources if (s / SERIES_FILE).is_file()]
        if with_series:
            write_atomically(self.out / SERIES_FILE,
                             lambda tmp: _first_series_of_each_run(with_series, tmp))
            _sync_folder(self.out)
            boundary("publish-series")
        write_atomically(self.out / RUNS_FILE, lambda tmp: _write_synced(runs, tmp))
        _sync_folder(self.out)
        boundary("publish-runs")
        for batch in batches:
            shutil.rmtree(batch)
            boundary("drop-batch")
        _remove_if_empty(self.parts)


def _first_row_of_each_run(tables: list[pa.Table]) -> pa.Table:
    """The rows of ``tables``, each run's first, sorted by run. Column types unify
    (none with whole numbers stays whole, whole with fractional becomes fractional), so
    the result's types depend on the runs' values, not on how they were batched."""
    runs = pa.concat_tables([t.replace_schema_metadata(None) for t in tables],
                            promote_options="permissive")
    repeated = pd.Series(runs.column("run").to_numpy()).duplicated(keep="first").to_numpy()
    return runs.filter(pa.array(~repeated)).sort_by("run")


def _first_series_of_each_run(files: list[Path], path: Path) -> None:
    """The series of ``files`` into one Parquet file at ``path``, a run's rows from the
    first file that has any, one file in memory at a time."""
    writer, seen = None, set()
    for file in files:
        table = _read(file)
        if {"run", "day", "side"} <= set(table.column_names):  # a row written twice, once
            twice = table.select(["run", "day", "side"]).to_pandas().duplicated()
            table = table.filter(pa.array(~twice.to_numpy()))
        here = set(table.column("run").to_pylist())
        new = here - seen
        if new != here:
            keep = pa.array(sorted(new), table["run"].type)
            table = table.filter(pc.is_in(table.column("run"), value_set=keep))
        seen |= here
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table.cast(writer.schema))
    writer.close()
    _fsync(path)


def _read(path: Path, columns: list[str] | None = None) -> pa.Table:
    """A stored Parquet file, or StoreError naming it (a file damaged on disk)."""
    return stored(path, lambda file: pq.read_table(file, columns=columns))


def stored(path: Path, read: Callable[[Path], T]) -> T:
    """``read(path)`` of a file of the store; a file that cannot be read (damaged on
    disk) is a StoreError naming it and saying what to do. A pipe or a device put in
    its place is refused unread (reading one could wait for ever)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = None  # missing: read() says so in its own words
    if mode is not None and not stat.S_ISREG(mode):
        raise StoreError(f"{shown(path)}: not a plain file (a pipe, a device or a "
                         f"folder); allowed: remove it (inside parts/, remove its batch "
                         f"folder) and run the same sweep again")
    try:
        return read(path)
    except (OSError, pa.ArrowException) as err:
        raise StoreError(f"{shown(path)}: unreadable ({error_line(err)}); allowed: remove "
                         f"it (inside parts/, remove its batch folder) and run the same sweep "
                         f"again: the runs it held run again") from None


def _write_synced(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path)
    _fsync(path)


def _fsync(path: Path) -> None:
    """Flush a file to the disk, so that a power cut after the rename that publishes it
    cannot leave it empty."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename into it) to the disk, where the OS allows."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove_if_empty(folder: Path) -> None:
    """Remove the store's folder once its batches are gone; files someone else put
    there are left, with the folder."""
    with contextlib.suppress(OSError):
        folder.rmdir()


def error_line(err: BaseException) -> str:
    """An exception as one short line: its type and the first line of its message, with
    control characters shown escaped."""
    lines = str(err).strip().splitlines()
    return printable(f"{type(err).__name__}: {lines[0] if lines else ''}")[:300]


# ------------------------------------------------------------ finding sweeps by name
def read_manifest(path: Path) -> dict:
    """A sweep's manifest: a plain file of at most :data:`MANIFEST_BYTES`, holding a JSON
    table; StoreError (one line) otherwise. Never reads a device, a pipe or a huge file."""
    try:
        info = Path(path).stat()
    except OSError as err:
        raise StoreError(f"{shown(path)}: missing ({err.strerror})") from None
    if not stat.S_ISREG(info.st_mode) or info.st_size > MANIFEST_BYTES:
        raise StoreError(f"{shown(path)}: not a manifest (not a plain file, or over "
                         f"{MANIFEST_BYTES // 2**20} MiB)")
    try:
        with open(path, "rb") as file:
            manifest = json.loads(file.read(MANIFEST_BYTES + 1))
    except (OSError, ValueError, RecursionError) as err:  # RecursionError: [[[[...]]]]
        raise StoreError(f"{shown(path)}: unreadable ({error_line(err)})") from None
    if not isinstance(manifest, dict):
        raise StoreError(f"{shown(path)}: unreadable (not a JSON table)")
    return manifest


#: The word for the newest sweep, by the start time its manifest gives.
LATEST = "latest"
#: Names listed at most in a message that says which are allowed.
_NAMES_SHOWN = 12


def started(folder: Path) -> datetime | None:
    """When the sweep in ``folder`` started, as its manifest says (UTC), or none if the
    manifest is missing, damaged or does not say."""
    try:
        return _started(read_manifest(Path(folder) / MANIFEST_FILE))
    except StoreError:
        return None


def _started(manifest: dict) -> datetime | None:
    """The start a manifest gives (UTC), or none if it does not say or cannot."""
    text = manifest.get("started")
    try:
        when = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        if when is not None:
            when.astimezone()  # a date at the calendar's ends cannot be shown in local time
    except (OverflowError, ValueError, OSError):
        return None
    return when


def sweep_folders(root: str | Path = "sweeps") -> list[Path]:
    """The folders under ``root`` that hold a manifest (a sweep's, or what is left of
    one), by name; none if ``root`` is not there."""
    try:
        entries = sorted(Path(root).iterdir())
    except OSError:
        return []
    found = []
    for entry in entries:
        try:
            if entry.is_dir() and os.path.lexists(entry / MANIFEST_FILE):
                found.append(entry)
        except OSError:  # a link that loops, a name too long
            continue
    return found


def find_sweep(text: str, root: str | Path = "sweeps") -> Path:
    """The sweep folder that ``text`` names: ``latest`` (the newest sweep under ``root``
    by the start time in its manifest; ``./latest`` for a folder of that name), a
    folder, a sweep's folder name under ``root``, or an experiment's name (its newest
    sweep under ``root``). StoreError (one line, listing what is allowed) for a name
    that is unknown or fits two sweeps started at the same second."""
    root = Path(root)
    if not text.strip():  # Path("") is the current folder: not a sweep named
        raise StoreError(f"'{printable(text)}': no sweep named; allowed: a sweep's folder, "
                         f"its folder's name, an experiment's name or {LATEST}")
    if text == LATEST:
        return _newest(sweep_folders(root), f"{LATEST}: no sweep under {shown(root)}/",
                       text)
    for place in (Path(text), root / text):
        try:
            if place.is_dir():
                return place
        except (OSError, ValueError):  # a NUL byte, a name too long: not a folder
            continue
    folders = sweep_folders(root)
    # An experiment by name, or by its file (experiments/NAME.toml): its folders are
    # named after the file's stem.
    name = safe_name(Path(text).stem if text.endswith(".toml") else text)
    mine = [f for f in folders if _experiment_of_name(f.name) == name]
    if mine:
        return _newest(mine, "", text)
    raise StoreError(f"{shown(text)}: not a folder, nor a sweep or an experiment's sweep "
                     f"under {shown(root)}/; allowed: {_allowed(folders)}")


def _experiment_of_name(name: str) -> str | None:
    match = SWEEP_NAME.fullmatch(name)
    return match["experiment"] if match else None


def _newest(folders: list[Path], none: str, text: str) -> Path:
    """The folder of ``folders`` that started last; StoreError if there is none (saying
    ``none``) or if two started at the same second."""
    if not folders:
        raise StoreError(f"{none}; allowed: a sweep's folder, or run attrition sweep "
                         f"EXPERIMENT first")
    dated = [(when, folder) for folder in folders if (when := started(folder)) is not None]
    if not dated:
        if len(folders) == 1:  # one folder whose manifest does not say: that one
            return folders[0]
        raise StoreError(f"{shown(text)}: no sweep whose manifest gives its start; allowed: "
                         f"one of their folders: "
                         f"{', '.join(shown(f, 80) for f in folders[:_NAMES_SHOWN])}")
    dated.sort(key=lambda pair: pair[0], reverse=True)
    tied = [folder for when, folder in dated if when == dated[0][0]]
    if len(tied) > 1:
        raise StoreError(f"{shown(text)}: ambiguous, {len(tied)} sweeps started at "
                         f"{dated[0][0].isoformat()}; allowed: one of their folders: "
                         f"{', '.join(shown(f, 80) for f in tied[:_NAMES_SHOWN])}")
    return dated[0][1]


def _allowed(folders: list[Path]) -> str:
    experiments = sorted({e for f in folders if (e := _experiment_of_name(f.name))})
    names = [LATEST, *experiments, *(f.name for f in folders)]
    shown_names = ", ".join(shown(n, 60) for n in names[:_NAMES_SHOWN])
    more = f" and {len(names) - _NAMES_SHOWN} more (attrition sweeps lists them)" if len(
        names) > _NAMES_SHOWN else ""
    return f"a sweep's folder, or one of {shown_names}{more}"


# ------------------------------------------------------------------ listing sweeps
def describe_sweep(folder: Path) -> dict:
    """What ``attrition sweeps`` shows of a folder, read without changing it and bounded
    (the manifest's size is; a pipe or a device is never read): ``name``, ``experiment``,
    ``started`` (datetime or none), ``design`` (text), ``stored`` and ``total`` (runs, or
    none if unknown) and ``state``: complete, running, interrupted (stopped, or killed,
    before the end: the same command resumes it) or damaged (with why)."""
    folder = Path(folder)
    info = {"name": folder.name, "experiment": _experiment_of_name(folder.name) or "?",
            "started": None, "design": "?", "stored": None, "total": None,
            "state": "damaged"}
    try:
        manifest = read_manifest(folder / MANIFEST_FILE)
    except StoreError as err:
        info["state"] = f"damaged: {_why(err)}"
        return info
    info["started"] = _started(manifest)
    file = manifest.get("experiment_file")
    if isinstance(file, str) and file.strip():
        info["experiment"] = Path(file).stem or info["experiment"]
    total = manifest.get("runs")
    info["total"] = total if isinstance(total, int) and not isinstance(total, bool) else None
    info["design"] = _design(manifest.get("experiment"), info["total"])
    holder = running_sweep(folder)
    if holder:
        info["state"] = "running"
    store = Store(folder)
    try:
        info["stored"] = len(store.stored_runs())
    except (StoreError, OSError, pa.ArrowException, KeyError, TypeError) as err:
        info["state"] = f"damaged: {_why(err)}"
        return info
    if holder:
        return info
    status = manifest.get("status")
    complete = (status == "complete" and (folder / RUNS_FILE).is_file()
                and not store.batches())
    info["state"] = "complete" if complete else "interrupted"
    return info


def _why(err: BaseException) -> str:
    """The gist of a StoreError (after the path it names) or of another error."""
    text = str(err).partition(": ")[2] if isinstance(err, StoreError) else error_line(err)
    return printable(text)[:80]


def _design(experiment: object, total: int | None) -> str:
    """An experiment's design in a few words: ``grid 24 x 10`` (points x replicates),
    ``sobol 256 (2,304) x 2`` (base samples, points)."""
    if not isinstance(experiment, dict):
        return "?"
    design = str(experiment.get("design", "grid"))[:10]
    replicates = experiment.get("replicates", 1)
    if not isinstance(replicates, int) or isinstance(replicates, bool) or replicates < 1:
        return printable(design)
    points = total // replicates if isinstance(total, int) else None
    samples = experiment.get("samples")
    shown_points = f"{points:,}" if points is not None else "?"
    if design in ("sobol", "morris") and isinstance(samples, int):
        shown_points = f"{samples:,} ({shown_points})"
    return printable(f"{design} {shown_points} x {replicates:,}")
