"""Animations for slides: the front and the live charts, one frame per recorded day.

A run keeps the front every ``front_every_days`` days (:func:`sim.run`); each frame
draws that day's front beside the curves up to that day, on axes that span the whole
run so that nothing jumps between frames. Frames are 1920x1080 unless asked otherwise,
with text 20 px high at that size (scaled with the frame), and the units in the
sector's edge cells drawn whole.

The figure's static parts (axes, ticks, labels, legends) are drawn once; each frame
draws only what changes (the front, the curves, the day) over them
(:class:`sim.views.BlitFigure`'s way), which makes a 1080p frame cost tens of
milliseconds. GIF frames are mapped onto one palette (taken from the first and last
frames) and stored as the part that changed since the frame before; an MP4 is
encoded by ``ffmpeg`` from raw frames on a pipe, where ``ffmpeg`` is on the PATH.

    >>> import os, tempfile
    >>> from PIL import Image
    >>> from sim import Scenario, run
    >>> result = run(Scenario(max_days=3), seed=1, front_every_days=1)
    >>> path = write_animation(result, os.path.join(tempfile.mkdtemp(), "run.gif"),
    ...                        size=(640, 360))
    >>> gif = Image.open(path)
    >>> gif.n_frames, gif.size, gif.info["duration"]
    (4, (640, 360), 170)
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import struct
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sim.publish import write_atomically

if TYPE_CHECKING:
    from sim import RunResult

FORMATS = {".gif": "pillow", ".mp4": "ffmpeg"}
FRAMES_PER_SECOND = 6
#: Frame rates allowed: GIF times frames in hundredths of a second, and browsers show
#: frames of under 0.02 s for 0.1 s.
MIN_FPS, MAX_FPS = 1, 30
SIZE = (1920, 1080)
#: Frame sizes allowed (width, height), each dimension on its own: from a thumbnail to
#: 4K UHD.
MIN_SIZE, MAX_SIZE = (320, 180), (3840, 2160)
#: Height of the text in pixels in a 1920x1080 frame (at least 18 px: readable from the
#: back of a room); other sizes scale it with the frame (see :func:`text_px`).
TEXT_PX = 20.0
#: Longest file name written (a file system allows 255 bytes; the file is written as
#: ``.tmp-NAME`` first).
MAX_NAME_BYTES = 250


def check_target(path: str | Path) -> str:
    """The writer for ``path``'s suffix (``pillow`` for GIF, ``ffmpeg`` for MP4);
    ValueError (one line) if the suffix is not one we write or its writer is missing
    here."""
    from matplotlib import animation

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


def size_allowed() -> str:
    return (f"WIDTHxHEIGHT from {MIN_SIZE[0]}x{MIN_SIZE[1]} to {MAX_SIZE[0]}x{MAX_SIZE[1]} "
            f"pixels, e.g. 1920x1080")


def check_size(size) -> tuple[int, int]:
    """``size`` as (width, height) in pixels, or ValueError (one line) if it is not two
    whole numbers within :data:`MIN_SIZE` to :data:`MAX_SIZE`.

    >>> check_size((1280, 720))
    (1280, 720)
    """
    try:
        width, height = size
    except (TypeError, ValueError):
        raise ValueError(f"size {size!r:.40} is not a width and a height; allowed: "
                         f"{size_allowed()}") from None
    for value in (width, height):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"size {size!r:.40} is not two whole numbers; allowed: "
                             f"{size_allowed()}")
    if not (MIN_SIZE[0] <= width <= MAX_SIZE[0] and MIN_SIZE[1] <= height <= MAX_SIZE[1]):
        raise ValueError(f"size {width}x{height} is out of range; allowed: "
                         f"{size_allowed()}")
    return int(width), int(height)


def parse_size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` (e.g. ``1280x720``) as checked (width, height); ValueError (one
    line) otherwise.

    >>> parse_size("1280x720")
    (1280, 720)
    """
    match = re.fullmatch(r"(\d{1,5})[xX](\d{1,5})", text)
    if not match:
        raise ValueError(f"{text[:20]!r} is not WIDTHxHEIGHT; allowed: {size_allowed()}")
    return check_size((int(match[1]), int(match[2])))


def check_fps(fps) -> int:
    """``fps`` if it is a whole number from :data:`MIN_FPS` to :data:`MAX_FPS`, else
    ValueError (one line)."""
    if isinstance(fps, bool) or not isinstance(fps, (int, np.integer)):
        raise ValueError(f"fps {fps!r:.20} is not a whole number; allowed: {MIN_FPS} to "
                         f"{MAX_FPS} frames a second")
    if not MIN_FPS <= fps <= MAX_FPS:
        raise ValueError(f"fps {fps} is out of range; allowed: {MIN_FPS} to {MAX_FPS} "
                         f"frames a second")
    return int(fps)


def text_px(size: tuple[int, int]) -> float:
    """Text height in pixels for frames of ``size``: :data:`TEXT_PX` at 1920x1080, and in
    proportion to the frame otherwise (to the smaller of its width's and height's
    proportions, so that the layout of a 1920x1080 frame always fits).

    >>> text_px((1920, 1080)), text_px((3840, 2160)), text_px((1440, 1080))
    (20.0, 40.0, 15.0)
    """
    return TEXT_PX * _scale(size)


def _scale(size: tuple[int, int]) -> float:
    return min(size[0] / SIZE[0], size[1] / SIZE[1])


class Frames:
    """The frames of ``result``'s animation, ``size`` pixels: a figure laid out once
    (for the run's last day, whose texts are the longest) whose changing artists are
    drawn over its saved background for each front (see :class:`sim.views.BlitFigure`)."""

    def __init__(self, result: RunResult, title: str = "", size: tuple[int, int] = SIZE):
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        from sim.views import LIVE_COLUMNS, BlitFigure, ChartsView, FrontView, side_series

        if not result.fronts:
            raise ValueError("the run kept no fronts; run it with front_every_days")
        self.size = width, height = check_size(size)
        self.fronts = result.fronts
        self._title = title
        self.history = {column: side_series(result.daily, column)
                        for column in LIVE_COLUMNS}
        # Points are the same size against the frame at every frame size: a 1920x1080
        # frame is 19.2 x 10.8 inches at 100 dpi, and a frame of another shape is at
        # least as wide and as high, in inches.
        dpi = 100.0 * _scale(self.size)
        self.figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi,
                             layout="constrained")
        self.figure.get_layout_engine().set(w_pad=0.15, h_pad=0.12, wspace=0.04,
                                            hspace=0.05)
        canvas = FigureCanvasAgg(self.figure)
        px = text_px(self.size)
        grid = self.figure.add_gridspec(2, 3, width_ratios=(1.2, 1, 1))
        last = self.fronts[-1]
        self.front = FrontView(self.figure.add_subplot(grid[:, 0]), last, text_px=px)
        self.charts = ChartsView([self.figure.add_subplot(grid[r, c])
                                  for r in (0, 1) for c in (1, 2)],
                                 span=self.history, text_px=px)
        self._heading = self.figure.suptitle(self._heading_text(last.day),
                                             fontsize=1.2 * px * 72 / dpi)
        self.charts.update(self.history, last_day=last.day)
        # Lay out once (every text counted), then keep it: a layout that followed each
        # frame's texts would move the axes (and a blit needs them still).
        canvas.draw()
        self.figure.set_layout_engine("none")
        self._blit = BlitFigure(self.figure, [*self.front.changing, *self.charts.changing,
                                              self._heading], ground=self.front.ground)

    def _heading_text(self, day: int) -> str:
        from sim.views import plain

        return plain(f"{self._title}, day {day}" if self._title else f"day {day}")

    def __len__(self) -> int:
        return len(self.fronts)

    def rgba(self, index: int) -> np.ndarray:
        """Frame ``index`` (that of ``fronts[index]``) as a (height, width, 4) uint8 array,
        valid until the next frame is drawn."""
        front = self.fronts[index]
        ground_changed = self.front.update(front)
        self.charts.update(self.history, last_day=front.day)
        self._heading.set_text(self._heading_text(front.day))
        return self._blit.rgba(ground_changed=ground_changed)


def write_animation(result: RunResult, path: str | Path, title: str = "",
                    fps: int = FRAMES_PER_SECOND, size: tuple[int, int] = SIZE) -> Path:
    """Write ``result.fronts`` (see :func:`sim.run`) as an animation to ``path`` (.gif,
    or .mp4 where ffmpeg exists): one frame per kept front, ``fps`` frames a second
    (:data:`MIN_FPS` to :data:`MAX_FPS`; a GIF shows each frame for ``100 / fps``
    hundredths of a second, rounded), each ``size`` (width, height) pixels
    (:data:`MIN_SIZE` to :data:`MAX_SIZE`). Bad arguments raise ValueError (one line)
    before anything is drawn.

    The file appears whole or not at all (:func:`sim.publish.write_atomically`)."""
    writer = check_target(path)
    fps, size = check_fps(fps), check_size(size)
    frames = Frames(result, title, size)
    try:
        if writer == "ffmpeg":
            write_atomically(Path(path),
                             lambda partial: _write_mp4(frames, partial, fps, Path(path)))
        else:
            write_atomically(Path(path), lambda partial: _write_gif(frames, partial, fps))
    finally:
        frames.figure.clear()
    return Path(path)


# ----------------------------------------------------------------------------- GIF
#: Palette index of "unchanged since the frame before" in every frame after the first.
_SAME = 255


def _write_gif(frames: Frames, path: Path, fps: int) -> None:
    from PIL import GifImagePlugin, Image

    centiseconds = max(1, round(100 / fps))
    width, height = frames.size
    last = _rgb(frames.rgba(len(frames) - 1))
    first = _rgb(frames.rgba(0))
    # One palette for every frame (so that colours hold still), of 255 colours: the
    # 256th marks a pixel unchanged since the frame before.
    palette = Image.fromarray(np.concatenate([first, last])).quantize(
        _SAME, method=Image.Quantize.MEDIANCUT)
    colours = (palette.getpalette() or [])[:3 * _SAME]
    colours += [0] * (3 * 256 - len(colours))
    with open(path, "wb") as out:
        out.write(b"GIF89a" + struct.pack("<HHBBB", width, height, 0xF7, 0, 0))
        out.write(bytes(colours))
        out.write(b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00")  # loop for ever
        before = None
        for index in range(len(frames)):
            rgb = first if index == 0 else _rgb(frames.rgba(index))
            now = np.asarray(Image.fromarray(rgb).quantize(
                palette=palette, dither=Image.Dither.NONE))
            if before is None:
                part, offset, info = now, (0, 0), {}
            else:
                part, offset = _changed(before, now)
                info = {"transparency": _SAME, "disposal": 1}
            image = Image.frombytes("P", (part.shape[1], part.shape[0]), part.tobytes())
            image.putpalette(colours)
            for chunk in GifImagePlugin.getdata(image, offset=offset,
                                                duration=10 * centiseconds, **info):
                out.write(chunk)
            before = now
        out.write(b";")


def _rgb(rgba: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgba[..., :3])


def _changed(before: np.ndarray, now: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """The box of ``now`` that differs from ``before`` (a transparent pixel where the
    frame is unchanged, 1x1 if nothing changed) and its top left corner."""
    differs = before != now
    rows, cols = np.flatnonzero(differs.any(axis=1)), np.flatnonzero(differs.any(axis=0))
    if rows.size == 0:
        return np.full((1, 1), _SAME, dtype=np.uint8), (0, 0)
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    part = np.where(differs[top:bottom, left:right], now[top:bottom, left:right], _SAME)
    return part.astype(np.uint8), (int(left), int(top))


# ----------------------------------------------------------------------------- MP4
def _write_mp4(frames: Frames, path: Path, fps: int, target: Path) -> None:
    """Raw RGBA frames to ffmpeg on a pipe: H.264 that slides and browsers play (yuv420p,
    whose halved colour planes need even sides: an odd side gets a pixel of padding)."""
    from matplotlib import rcParams

    ffmpeg = shutil.which(rcParams["animation.ffmpeg_path"]) or "ffmpeg"
    width, height = frames.size
    command = [ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgba",
               "-s", f"{width}x{height}", "-r", str(fps), "-i", "pipe:0",
               "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-c:v", "libx264",
               "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-f", "mp4", str(path)]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE) as encoder:
        try:
            for index in range(len(frames)):
                encoder.stdin.write(frames.rgba(index).tobytes())
        except BrokenPipeError:
            pass  # ffmpeg stopped: its message follows
        finally:
            try:
                encoder.stdin.close()
            except BrokenPipeError:
                pass
        said = encoder.stderr.read().decode("utf-8", "replace").strip().splitlines()
    if encoder.returncode != 0:
        raise OSError(errno.EIO, f"ffmpeg failed (exit status {encoder.returncode}): "
                                 f"{said[-1] if said else 'no message'}", str(target))
