"""Animations for slides: the front and the live charts, one frame per recorded day.

A run keeps the front every ``front_every_days`` days (:func:`sim.run`); each frame
draws that day's front beside the curves up to that day, on axes that span the whole
run so that nothing jumps between frames. GIF needs nothing more than matplotlib's
Pillow; MP4 needs ``ffmpeg`` on the PATH.

    >>> import os, tempfile
    >>> from PIL import Image
    >>> from sim import Scenario, run
    >>> result = run(Scenario(max_days=3), seed=1, front_every_days=1)
    >>> path = write_animation(result, os.path.join(tempfile.mkdtemp(), "run.gif"))
    >>> Image.open(path).n_frames
    4
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib import animation

from sim import RunResult
from sim.publish import write_atomically
from sim.views import LIVE_COLUMNS, ChartsView, FrontView, plain, side_series

FORMATS = {".gif": "pillow", ".mp4": "ffmpeg"}
FRAMES_PER_SECOND = 6
#: Longest file name written (a file system allows 255 bytes; the file is written as
#: ``.tmp-NAME`` first).
MAX_NAME_BYTES = 250


def check_target(path: str | Path) -> str:
    """The matplotlib writer for ``path``'s suffix; ValueError (one line) if the suffix
    is not one we write or its writer is missing here."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"'{suffix or Path(path).name}' is not an animation format; "
                         f"allowed: {', '.join(FORMATS)}")
    name_bytes = len(os.fsencode(Path(path).name))
    if name_bytes > MAX_NAME_BYTES:
        raise ValueError(f"the file name is too long ({name_bytes} bytes); allowed: at "
                         f"most {MAX_NAME_BYTES} bytes")
    writer = FORMATS[suffix]
    if not animation.writers.is_available(writer):
        raise ValueError(f"{suffix} needs {writer}, which is not installed here; allowed: "
                         f".gif")
    return writer


def write_animation(result: RunResult, path: str | Path, title: str = "",
                    fps: int = FRAMES_PER_SECOND, dpi: int = 80) -> Path:
    """Write ``result.fronts`` (see :func:`sim.run`) as an animation to ``path`` (.gif,
    or .mp4 where ffmpeg exists): one frame per kept front, ``fps`` frames a second.

    The file appears whole or not at all (:func:`sim.publish.write_atomically`)."""
    if not result.fronts:
        raise ValueError("the run kept no fronts; run it with front_every_days")
    writer = animation.writers[check_target(path)](fps=fps)
    path = Path(path)
    history = {column: side_series(result.daily, column) for column in LIVE_COLUMNS}
    fig = plt.figure(figsize=(12, 6))
    grid = fig.add_gridspec(2, 3, width_ratios=(1.1, 1, 1))
    front = FrontView(fig.add_subplot(grid[:, 0]), result.fronts[0])
    charts = ChartsView([fig.add_subplot(grid[r, c]) for r in (0, 1) for c in (1, 2)],
                        span=history)
    fig.tight_layout(rect=(0, 0, 1, 0.95))

    def film(partial: Path) -> None:
        with writer.saving(fig, str(partial), dpi):
            for day_front in result.fronts:
                day = day_front.day
                front.update(day_front)
                charts.update(history, last_day=day)
                fig.suptitle(plain(f"{title}, day {day}" if title else f"day {day}"))
                writer.grab_frame()

    try:
        write_atomically(path, film)
    finally:
        plt.close(fig)
    return path
