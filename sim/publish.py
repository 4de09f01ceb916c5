"""Writing results whole or not at all: a folder or a file appears complete, or not.

The one home of atomic publishing. A folder of results is written into a private
staging folder beside it and renamed into place once every file is written
(:func:`publishing`); a single file is written beside its place and renamed over it
(:func:`write_atomically`). A rename within one folder is atomic, so a reader (or a
resumed sweep) sees the old state or the new one, never half of it; a failure or Ctrl-C
leaves nothing behind.

    >>> import tempfile
    >>> from pathlib import Path
    >>> out = Path(tempfile.mkdtemp()) / "results"
    >>> with publishing(out) as staging:
    ...     _ = (staging / "a.txt").write_text("written whole")
    >>> sorted(p.name for p in out.iterdir()), len(list(out.parent.iterdir()))
    (['a.txt'], 1)
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path


class OutputError(ValueError):
    """A place results cannot go; ``str()`` is one line: where, what is wrong, what is
    allowed."""


def fresh_folder(name: str, root: str | Path = "runs") -> Path:
    """A new folder name under ``root``: ``NAME-YYYYmmdd-HHMMSS`` (``-2``, ``-3``, ...
    if taken). Nothing is created."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    out, k = Path(root) / f"{name}-{stamp}", 1
    while out.exists():
        k += 1
        out = Path(root) / f"{name}-{stamp}-{k}"
    return out


@contextmanager
def publishing(out: Path, option: str = "--out") -> Iterator[Path]:
    """A staging folder to write results into; on leaving the block without an error,
    it becomes ``out``, whole. ``out`` must be new or an empty folder, which is checked
    (and the staging folder made) at once, before any work: :class:`OutputError` names
    ``option`` and ``out`` otherwise. On an error the staging folder is removed and
    ``out`` left as it was."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise OutputError(f"{option} {out}: exists and is not an empty directory; allowed: "
                          f"a new or empty directory")
    try:
        out.resolve().parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.resolve().parent))
    except OSError as err:
        raise OutputError(f"{option} {out}: cannot write there ({err.strerror or err}); "
                          f"allowed: a directory you can write") from None
    try:
        yield staging
        if out.is_dir():
            out.rmdir()  # empty, checked above
        # mkdtemp makes the folder private; give it the mode a new folder would have.
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


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
