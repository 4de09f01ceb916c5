"""Writing results whole or not at all: a folder or a file appears complete, or not.

The one home of atomic publishing and of the names of the folders results go to. A
folder of results is written into a private staging folder beside it and renamed into
place once every file is written (:func:`publishing`); a single file is written beside
its place and renamed over it (:func:`write_atomically`). A rename within one folder is
atomic, so a reader (or a resumed sweep) sees the old state or the new one, never half
of it; a failure or Ctrl-C leaves nothing behind, and the staging folder of a process
that was killed is removed by the next :func:`publishing` beside it.

Folder names made from user text (a scenario's name, a file's stem) go through
:func:`safe_name` and stay inside their root (:func:`named_folder`).

    >>> import tempfile
    >>> from pathlib import Path
    >>> out = Path(tempfile.mkdtemp()) / "results"
    >>> with publishing(out) as staging:
    ...     _ = (staging / "a.txt").write_text("written whole")
    >>> sorted(p.name for p in out.iterdir()), len(list(out.parent.iterdir()))
    (['a.txt'], 1)
    >>> safe_name("../../escape/x"), safe_name("human_wave_foreign_contingent")
    ('escape_x', 'human_wave_foreign_contingent')
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path


class OutputError(ValueError):
    """A place results cannot go; ``str()`` is one line: where, what is wrong, what is
    allowed."""


#: Longest folder name :func:`safe_name` makes, in UTF-8 bytes (a file system allows
#: 255; a time stamp, a staging tag and a counter are added to it).
NAME_BYTES = 80
#: Longest path :func:`publishing` takes, in bytes: Linux allows 4,096, and the files
#: written inside need some of it.
PATH_BYTES = 3900
#: Any run of characters other than letters, digits and these becomes one ``_``.
_UNSAFE = re.compile(r"[^\w.\-+=,@]+")
#: Staging folders: ``.NAME.staging-HOST-PID-RANDOM``, HOST a hash of the host name.
_STAGING = re.compile(r"^\..*\.staging-(?P<host>[0-9a-f]{8})-(?P<pid>\d+)-[a-z0-9_]+$",
                      re.DOTALL)


def safe_name(text: str, default: str = "run", limit: int = NAME_BYTES) -> str:
    """``text`` as one folder name: letters, digits and ``._-+=,@`` kept, any run of
    other characters (separators, spaces, control characters, ``$``, quotes) made one
    ``_``; no ``..``; no leading dot or dash; at most ``limit`` UTF-8 bytes (a longer
    name is cut and given a hash of the whole, so that names stay distinct); ``default``
    if nothing is left. Ordinary names are unchanged.

    >>> safe_name("/tmp/x"), safe_name(".hidden"), safe_name("a b\\tc"), safe_name("..")
    ('tmp_x', 'hidden', 'a_b_c', 'run')
    >>> len(safe_name("x" * 300).encode())
    80
    """
    pieces = [p for p in _UNSAFE.split(str(text)) if p.strip(".")]
    name = re.sub(r"\.{2,}", ".", "_".join(pieces)).lstrip(".-").rstrip(". ")
    if not name.strip("_"):
        return default
    if len(name.encode()) > limit:
        digest = hashlib.sha256(str(text).encode("utf-8", "surrogatepass")).hexdigest()[:8]
        head = name.encode()[:limit - 9].decode("utf-8", "ignore")
        name = f"{head}-{digest}"
    return name


def named_folder(root: str | Path, name: str, suffix: str = "") -> Path:
    """``root / (safe_name(name) + suffix)``, checked to lie inside ``root`` once both
    are resolved (:class:`OutputError` otherwise). ``suffix`` is the program's own
    (a time stamp, a hash) and is not shortened."""
    root = Path(root)
    out = root / f"{safe_name(name)}{suffix}"
    if out.name in ("", ".", "..") or not out.resolve().is_relative_to(root.resolve()):
        raise OutputError(f"{shown(name)}: not a folder name inside {root}; allowed: a name "
                          f"without path separators")
    return out


def fresh_folder(name: str, root: str | Path = "runs") -> Path:
    """A new folder under ``root`` for results named ``name`` (user text, made safe by
    :func:`safe_name`): ``NAME-YYYYmmdd-HHMMSS`` (``-2``, ``-3``, ... if taken). Nothing
    is created."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out, k = named_folder(root, name, f"-{stamp}"), 1
    while out.exists():
        k += 1
        out = named_folder(root, name, f"-{stamp}-{k}")
    return out


#: The start time in a sweep folder's name (local time, to the minute):
#: ``sweeps/NAME-YYYYmmdd-HHMM-HASH8``.
SWEEP_STAMP = "%Y%m%d-%H%M"
#: A sweep folder's name: the experiment's name made safe, the start time (absent in
#: folders made before it was added) and the first 8 hex digits of the experiment's hash.
SWEEP_NAME = re.compile(r"(?P<experiment>.+?)(?:-(?P<stamp>\d{8}-\d{4}))?-(?P<hash>[0-9a-f]{8})")


def sweep_folder(name: str, fingerprint: str, root: str | Path = "sweeps",
                 now: datetime | None = None) -> Path:
    """The folder of a sweep of experiment ``name`` (user text, made safe) whose hash is
    ``fingerprint``: the newest existing ``ROOT/NAME-YYYYmmdd-HHMM-HASH8`` (or, from
    before the time was in the name, ``ROOT/NAME-HASH8``), so that the same command
    resumes the same folder; else a new name with the time ``now``. Nothing is created.

    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> sweep_folder("exp", "1a2b3c4d5e6f", root, datetime(2026, 12, 4, 16, 30)).name
    'exp-20261204-1630-1a2b3c4d'
    >>> (root / "exp-1a2b3c4d").mkdir()
    >>> sweep_folder("exp", "1a2b3c4d5e6f", root).name
    'exp-1a2b3c4d'
    """
    code = fingerprint[:8]
    if not re.fullmatch(r"[0-9a-f]{8}", code):
        raise ValueError(f"fingerprint {fingerprint[:20]!r} is not a hexadecimal hash")
    prefix = safe_name(name)
    found = []
    try:
        for entry in Path(root).iterdir():
            match = SWEEP_NAME.fullmatch(entry.name)
            if (match and match["experiment"] == prefix and match["hash"] == code
                    and entry.is_dir()):
                found.append((match["stamp"] or "", entry.name))
    except OSError:  # no root yet (or not one we can list): a new folder
        pass
    if found:
        return Path(root) / max(found)[1]
    stamp = (now or datetime.now()).strftime(SWEEP_STAMP)
    return named_folder(root, name, f"-{stamp}-{code}")


# ------------------------------------------------------------ CSV for spreadsheets
#: What a spreadsheet takes for the start of a formula in a cell (OWASP's list for CSV
#: injection): a text cell that starts with one of these is written with a ``'`` first.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: object) -> object:
    """``value`` with a ``'`` in front if it is text that a spreadsheet would run as a
    formula (it starts with one of :data:`FORMULA_STARTS`); anything else, numbers
    above all, unchanged.

    >>> spreadsheet_text("=HYPERLINK(0)"), spreadsheet_text("-x"), spreadsheet_text(-1.5)
    ("'=HYPERLINK(0)", "'-x", -1.5)
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def spreadsheet_safe(frame):
    """A copy of the pandas ``frame`` whose text cells and column names pass through
    :func:`spreadsheet_text`; columns of numbers, booleans and dates are left as they
    are, so a CSV of it holds the same numbers."""
    safe = frame.rename(columns=spreadsheet_text)
    for position in range(safe.shape[1]):
        column = safe.iloc[:, position]
        if column.dtype.kind == "O":  # object, text (str, string) or categories
            safe.isetitem(position, column.map(spreadsheet_text).astype(object))
    return safe


def printable(text: object) -> str:
    """``text`` on one line, with no control characters (a newline, an ANSI escape):
    each is shown as Python writes it (``\\n``, ``\\x1b``).

    >>> print(printable("a\\nb\\x1b[31m"))
    a\\nb\\x1b[31m
    """
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in str(text))


def shown(path: str | Path, width: int = 120) -> str:
    """``path`` for a one-line message: control characters escaped
    (:func:`printable`), a long path cut in the middle."""
    text = printable(path)
    return text if len(text) <= width else f"{text[:width // 2]}...{text[-width // 3:]}"


# ----------------------------------------------------------------- staging folders
def _host() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _staging_prefix(name: str) -> str:
    return f".{safe_name(name, 'out', 40)}.staging-{_host()}-{os.getpid()}-"


def _alive(pid: int) -> bool:
    """Whether process ``pid`` of this host is running (a zombie is not)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return pid > 0
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def remove_stale_staging(folder: str | Path) -> list[Path]:
    """Remove the staging folders in ``folder`` that a process of this host made and
    left when it died (SIGKILL, power cut); those of running processes and of other
    hosts are kept. Returns what was removed."""
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    host = _host()
    for entry in entries:
        found = _STAGING.match(entry.name)
        if (found and found["host"] == host and not _alive(int(found["pid"]))
                and entry.is_dir() and not entry.is_symlink()):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


# ---------------------------------------------------------------------- checks
def _name_max(path: Path) -> int:
    for folder in (path, *path.parents):
        try:
            return os.pathconf(folder, "PC_NAME_MAX")
        except (OSError, ValueError):
            continue
    return 255


def _refuse(option: str, out: Path, problem: str, allowed: str) -> OutputError:
    return OutputError(f"{option} {shown(out)}: {problem}; allowed: {allowed}")


def _check_lengths(out: Path, option: str) -> None:
    absolute = Path(os.path.abspath(out))
    limit = _name_max(absolute.parent)
    for part in absolute.parts:
        if len(os.fsencode(part)) > limit:
            raise _refuse(option, out, f"a name in it is too long ({len(os.fsencode(part))} "
                          f"bytes)", f"names of at most {limit} bytes")
    if len(os.fsencode(str(absolute))) > PATH_BYTES:
        raise _refuse(option, out, f"the path is too long ({len(os.fsencode(str(absolute)))} "
                      f"bytes)", f"a path of at most {PATH_BYTES:,} bytes")


def _os_problem(err: OSError) -> tuple[str, str]:
    """What an OSError says about a place, and what is allowed instead."""
    if err.errno in (errno.ENOTDIR, errno.EEXIST):
        where = shown(err.filename) if err.filename else "a part of it"
        return (f"cannot write there ({where} is a file, not a folder)",
                "a directory you can write")
    if err.errno == errno.ENAMETOOLONG:
        return "a name in it is too long", "shorter names"
    return f"cannot write there ({err.strerror or err})", "a directory you can write"


def _make_parents(folder: Path, out: Path, option: str) -> list[Path]:
    """Create ``folder`` and its missing parents; returns those created, deepest last."""
    missing = []
    for parent in (folder, *folder.parents):
        if parent.is_dir():
            break
        missing.append(parent)
    created = []
    try:
        for parent in reversed(missing):
            parent.mkdir()
            created.append(parent)
    except OSError as err:
        _remove_folders(created)
        raise _refuse(option, out, *_os_problem(err)) from None
    return created


def _remove_folders(created: list[Path]) -> None:
    for folder in reversed(created):
        try:
            folder.rmdir()  # only if still empty: another process may use it now
        except OSError:
            return


def _mode_of_new_folders() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask


# ------------------------------------------------------------------- publishing
@contextmanager
def publishing(out: Path, option: str = "--out", replace: bool = False,
               landed: list[Path] | None = None) -> Iterator[Path]:
    """A staging folder to write results into; on leaving the block without an error,
    it becomes ``out``, whole.

    ``out`` must be new or an empty folder (with ``replace``, any folder: the old one
    is swapped out and removed). Missing parent folders are created, and removed again
    if nothing is published. Everything is checked, and the staging folder made, at
    once, before any work: :class:`OutputError` (one line naming ``option`` and
    ``out``) for a file in the way, a name too long, a place that cannot be written.
    On an error or Ctrl-C the staging folder (and any parent created) is removed and
    ``out`` left as it was. Staging folders of dead processes beside ``out`` are
    removed first (:func:`remove_stale_staging`).

    With ``landed`` (a list), ``out`` is a name the program chose (:func:`fresh_folder`):
    if another process publishes under it first (two runs started in the same second),
    the results land at ``out-2``, ``out-3``, ... instead, and the place is appended to
    ``landed``."""
    out = Path(out)
    _check_lengths(out, option)
    try:
        if out.is_symlink():
            raise _refuse(option, out, "is a symbolic link", "a new or empty directory")
        if out.exists() and not out.is_dir():
            raise _refuse(option, out, "exists and is not a directory",
                          "a new or empty directory")
        if not replace and out.is_dir() and any(out.iterdir()):
            raise _refuse(option, out, "exists and is not an empty directory",
                          "a new or empty directory")
    except OSError as err:
        raise _refuse(option, out, *_os_problem(err)) from None
    parent = Path(os.path.abspath(out)).parent
    created = _make_parents(parent, out, option)
    try:
        remove_stale_staging(parent)
        staging = Path(tempfile.mkdtemp(prefix=_staging_prefix(out.name), dir=parent))
    except OSError as err:
        _remove_folders(created)
        raise _refuse(option, out, *_os_problem(err)) from None
    try:
        yield staging
        # mkdtemp makes the folder private; give it the mode a new folder would have.
        staging.chmod(_mode_of_new_folders())
        if replace and out.is_dir() and any(out.iterdir()):
            old = Path(tempfile.mkdtemp(prefix=_staging_prefix(out.name), dir=parent))
            os.replace(out, old)  # over the empty folder just made
            os.replace(staging, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            if landed is not None:  # a rename onto an empty folder replaces it
                landed.append(_rename_to_free_name(staging, out))
            else:
                if out.is_dir():
                    out.rmdir()  # empty, checked above
                os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_folders(created)
        raise


def _rename_to_free_name(staging: Path, out: Path) -> Path:
    """Rename ``staging`` to ``out``, or to ``out-2``, ``out-3``, ... if another process
    has taken the name meanwhile (rename onto a folder that is not empty fails)."""
    target, k = out, 1
    while True:
        try:
            os.rename(staging, target)
            return target
        except OSError as err:
            if err.errno not in (errno.ENOTEMPTY, errno.EEXIST) or k >= 1000:
                raise
        k += 1
        target = out.with_name(f"{out.name}-{k}")


def write_atomically(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write`` with a hidden file beside ``path`` (``.tmp-NAME``), then rename it
    over ``path``; the hidden file is removed if ``write`` fails."""
    path = Path(path)
    tmp = path.with_name(f".tmp-{path.name}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
