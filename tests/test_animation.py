"""Animations for slides: `attrition run --animate` writes a valid GIF with one frame per
recorded day, or per stated interval, of the size and frame rate asked for, with text
readable from the back of a room and no unit cut off; and refuses what it cannot write
before running."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from sim import RunResult, Scenario, run
from sim.animation import Frames, check_target, write_animation


def _attrition(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


def _frames(path) -> list[np.ndarray]:
    with Image.open(path) as gif:
        assert gif.format == "GIF"
        frames = []
        for k in range(gif.n_frames):
            gif.seek(k)
            frames.append(np.asarray(gif.convert("RGB")))
    return frames


def test_run_animate_writes_one_frame_per_day(tmp_path):
    done = _attrition("run", "fortified_defense", "--days", "5", "--seed", "2", "--out",
                      "out", "--animate", "slides.gif", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    frames = _frames(tmp_path / "slides.gif")
    # Days 0 to 5 recorded: six frames, each different (the day and the front move).
    assert len(frames) == 6
    assert all(not np.array_equal(a, b) for a, b in zip(frames, frames[1:], strict=False))
    assert (tmp_path / "out" / "summary.json").exists()
    assert "Animation in slides.gif" in done.stdout


def test_animate_every_gives_a_frame_per_interval_and_the_last_day(tmp_path):
    done = _attrition("run", "fortified_defense", "--days", "7", "--out", "out",
                      "--animate", "every3.gif", "--animate-every", "3", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # Days 0, 3, 6 and the last day, 7.
    assert len(_frames(tmp_path / "every3.gif")) == 4


def test_a_run_that_stops_early_ends_its_animation_on_its_last_day():
    result = run(Scenario(max_days=60), seed=0, front_every_days=1)
    days = [front.day for front in result.fronts]
    assert days == list(range(result.summary["days"] + 1))
    assert result.summary["days"] < 60  # the reference attack breaks before day 60


def test_keeping_fronts_does_not_change_the_run():
    """Observation draws no random numbers: the same seed gives the same run with or
    without the frames of an animation."""
    scenario = Scenario(max_days=6)
    plain, filmed = run(scenario, seed=3), run(scenario, seed=3, front_every_days=1)
    assert plain.summary == filmed.summary
    assert plain.daily.equals(filmed.daily)
    assert filmed.fronts[-1].day == plain.front.day
    np.testing.assert_array_equal(filmed.fronts[-1].control, plain.front.control)


@pytest.mark.parametrize(("target", "problem"), [
    ("slides.png", "'.png' is not an animation format; allowed: .gif, .mp4"),
    ("missing/slides.gif", "not a file in an existing folder"),
])
def test_bad_animation_targets_are_refused_before_the_run(tmp_path, target, problem):
    done = _attrition("run", "fortified_defense", "--days", "2", "--out", "out",
                      "--animate", target, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"--animate {target}: {problem}" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_mp4_needs_ffmpeg(tmp_path, monkeypatch):
    from matplotlib import animation

    monkeypatch.setattr(animation.writers, "is_available", lambda name: name != "ffmpeg")
    with pytest.raises(ValueError, match=r"\.mp4 needs ffmpeg, which is not installed here"):
        check_target(tmp_path / "slides.mp4")


def test_write_animation_leaves_no_partial_file(tmp_path, monkeypatch):
    """A failure while drawing frames, with some frames written, leaves neither the
    target nor a temporary file."""
    result = run(Scenario(max_days=4), seed=0, front_every_days=1)
    import sim.animation

    drawn = []
    rgba = sim.animation.Frames.rgba

    def broken(self, index):
        drawn.append(index)
        if len(drawn) > 4:  # the palette's two frames, then two written
            raise RuntimeError("disk full")
        return rgba(self, index)

    monkeypatch.setattr(sim.animation.Frames, "rgba", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write_animation(result, tmp_path / "run.gif", size=(320, 180))
    assert len(drawn) == 5
    assert list(tmp_path.iterdir()) == []


def _durations(path) -> list[int]:
    with Image.open(path) as gif:
        durations = []
        for k in range(gif.n_frames):
            gif.seek(k)
            durations.append(gif.info["duration"])
    return durations


def test_default_frames_are_1080p_at_six_a_second(tmp_path):
    result = run(Scenario(max_days=3), seed=1, front_every_days=1)
    path = write_animation(result, tmp_path / "run.gif")
    with Image.open(path) as gif:
        assert gif.size == (1920, 1080)
        assert gif.n_frames == len(result.fronts) == 4
        assert gif.info["loop"] == 0
    # GIF times frames in hundredths of a second: 1/6 s is shown as 0.17 s.
    assert _durations(path) == [170] * 4


@pytest.mark.parametrize(("fps", "ms"), [(1, 1000), (12, 80), (25, 40), (30, 30)])
def test_frame_rate_is_the_frames_duration(tmp_path, fps, ms):
    result = run(Scenario(max_days=2), seed=1, front_every_days=1)
    path = write_animation(result, tmp_path / "run.gif", fps=fps, size=(320, 180))
    assert _durations(path) == [ms] * 3 == [10 * round(100 / fps)] * 3


def test_run_animate_size_and_fps_flags(tmp_path):
    done = _attrition("run", "fortified_defense", "--days", "4", "--seed", "2", "--out",
                      "out", "--animate", "small.gif", "--size", "1280x720", "--fps", "10",
                      cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with Image.open(tmp_path / "small.gif") as gif:
        assert gif.size == (1280, 720)
    assert _durations(tmp_path / "small.gif") == [100] * 5
    frames = _frames(tmp_path / "small.gif")
    assert all(not np.array_equal(a, b) for a, b in zip(frames, frames[1:], strict=False))


@pytest.mark.parametrize("size", [(1920, 1080), (1280, 720), (3840, 2160), (1440, 1080)])
def test_text_is_at_least_18_px_at_1080p_and_scales_with_the_frame(size):
    """Every text of the frame (titles, labels, ticks, legends, the day) is at least 18
    pixels high at 1920x1080, and as large against the frame at other sizes."""
    from matplotlib.text import Text

    result = run(Scenario(max_days=2), seed=1, front_every_days=1)
    frames = Frames(result, "a title", size)
    frames.rgba(1)
    figure = frames.figure
    assert tuple(figure.canvas.get_width_height()) == size
    texts = [t for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]
    assert len(texts) > 40  # ticks, labels, titles, legends of five axes
    smallest = min(t.get_fontsize() * figure.dpi / 72 for t in texts)
    assert smallest >= 18 * min(size[0] / 1920, size[1] / 1080) - 1e-9
    if size == (1920, 1080):
        assert smallest >= 18


def _edge_result() -> tuple[RunResult, pd.DataFrame]:
    """A run whose second frame adds four large units in the sector's corner cells (x =
    0 and the last cell, y = 0 and the far depth) to an otherwise identical first."""
    result = run(Scenario(max_days=1), seed=0, front_every_days=1)
    last = result.fronts[-1]
    width, depth = last.control.shape
    far = depth * last.cell_size_m
    units = pd.DataFrame({"side": ["attacker", "attacker", "defender", "defender"],
                          "contingent": [last.units["contingent"].iloc[0]] * 2
                          + [c for s, c in last.contingents if s == "defender"][:1] * 2,
                          "state": "assaulting", "personnel": 800,
                          "x": [0, width - 1, 0, width - 1],
                          "y_m": [0.0, 0.0, far, far]})
    fronts = [dataclasses.replace(last, units=last.units.iloc[:0]),
              dataclasses.replace(last, units=units)]
    return dataclasses.replace(result, fronts=fronts), units


def test_units_on_the_sectors_edges_are_drawn_whole_inside_the_frame(tmp_path):
    """In the written GIF, each unit in a corner cell of the sector is a whole disc of
    its size (its pixels reach its radius on every side of its centre), inside the
    frame: not cut at the front's axes nor at the frame's edge."""
    result, units = _edge_result()
    path = write_animation(result, tmp_path / "edges.gif")
    before, after = _frames(path)
    drawn = np.abs(after.astype(int) - before.astype(int)).sum(axis=2) > 40
    # Where the units are, in pixels, for the same layout (rows counted from the top).
    frames = Frames(result)
    ax = frames.front.ax
    size = result.fronts[-1].cell_size_m
    centres = ax.transData.transform(np.column_stack(((units["x"] + 0.5) * size,
                                                      units["y_m"])))
    height = frames.size[1]
    radius = np.sqrt(4 + 800 * 1.5) / 2 * frames.figure.dpi / 72
    box = ax.get_window_extent()
    for cx, cy in centres:
        row, col = height - cy, cx
        top, left = int(row - radius - 8), int(col - radius - 8)
        assert top >= 0 and left >= 0
        window = drawn[top:int(row + radius + 8), left:int(col + radius + 8)]
        rows, cols = np.flatnonzero(window.any(axis=1)), np.flatnonzero(window.any(axis=0))
        assert rows.size and cols.size, (cx, cy)
        extent = (top + rows[0], top + rows[-1], left + cols[0], left + cols[-1])
        assert extent[0] <= row - radius + 2 and extent[1] >= row + radius - 2, (cx, cy)
        assert extent[2] <= col - radius + 2 and extent[3] >= col + radius - 2, (cx, cy)
    # The discs do reach past the front's axes on every side (which used to clip them).
    rows, cols = np.nonzero(drawn)
    assert cols.min() < box.x0 - 5 and cols.max() > box.x1 + 5
    assert height - rows.max() < box.y0 - 5 and height - rows.min() > box.y1 + 5


def test_units_clipped_by_the_axes_fail_the_edge_check(tmp_path, monkeypatch):
    """The check above fails when units are clipped at the front's axes, as they were."""
    import sim.views

    original = sim.views.FrontView.__init__

    def clipped(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self._units.set_clip_on(True)

    monkeypatch.setattr(sim.views.FrontView, "__init__", clipped)
    with pytest.raises(AssertionError):
        test_units_on_the_sectors_edges_are_drawn_whole_inside_the_frame(tmp_path)


@pytest.mark.parametrize(("kwargs", "problem"), [
    ({"fps": 0}, "fps 0 is out of range; allowed: 1 to 30 frames a second"),
    ({"fps": 31}, "fps 31 is out of range; allowed: 1 to 30 frames a second"),
    ({"fps": 6.5}, "fps 6.5 is not a whole number; allowed: 1 to 30"),
    ({"size": (319, 180)}, "size 319x180 is out of range; allowed: WIDTHxHEIGHT from "
                           "320x180 to 3840x2160"),
    ({"size": (1920, 2161)}, "size 1920x2161 is out of range"),
    ({"size": (1920.0, 1080)}, "is not two whole numbers"),
    ({"size": 1920}, "is not a width and a height"),
])
def test_write_animation_refuses_bad_sizes_and_rates(tmp_path, kwargs, problem):
    result = run(Scenario(max_days=1), seed=0, front_every_days=1)
    with pytest.raises(ValueError, match=problem.replace("(", r"\(")) as caught:
        write_animation(result, tmp_path / "run.gif", **kwargs)
    assert "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("flag", "value", "problem"), [
    ("--size", "1920", "argument --size: '1920' is not WIDTHxHEIGHT; allowed: WIDTHxHEIGHT "
                       "from 320x180 to 3840x2160 pixels"),
    ("--size", "100x100", "argument --size: size 100x100 is out of range; allowed:"),
    ("--size", "4000x2000", "argument --size: size 4000x2000 is out of range; allowed:"),
    ("--size", "-1920x1080", "argument --size: '-1920x1080' is not WIDTHxHEIGHT"),
    ("--size", "1920x1080\n", "argument --size: '1920x1080\\n' is not WIDTHxHEIGHT"),
    ("--size", "9" * 400 + "x1", "is not WIDTHxHEIGHT"),
    ("--fps", "0", "argument --fps: '0' is not a frame rate; allowed: a whole number of "
                   "frames a second from 1 to 30"),
    ("--fps", "31", "argument --fps: '31' is not a frame rate"),
    ("--fps", "6.5", "argument --fps: '6.5' is not a frame rate"),
    ("--fps", "nan", "argument --fps: 'nan' is not a frame rate"),
    ("--fps", "9" * 400, "is not a frame rate"),
])
def test_bad_size_and_fps_flags_are_one_line_before_the_run(tmp_path, flag, value, problem):
    done = _attrition("run", "fortified_defense", "--days", "2", "--out", "out",
                      "--animate", "run.gif", f"{flag}={value}", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert problem in done.stderr
    assert list(tmp_path.iterdir()) == []


def _fake_ffmpeg(folder, status: int = 0) -> None:
    """An `ffmpeg` that records its arguments and how many bytes it was sent into its
    output file (its last argument), or fails as a build without libx264 would."""
    script = folder / "ffmpeg"
    script.write_text(f"""#!{sys.executable}
import json, sys
data = sys.stdin.buffer.read()
if {status}:
    sys.stderr.write("Unknown encoder 'libx264'\\n")
    sys.exit({status})
with open(sys.argv[-1], "w") as out:
    json.dump({{"argv": sys.argv[1:], "bytes": len(data)}}, out)
""")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_mp4_frames_go_to_ffmpeg_raw_at_the_size_and_rate(tmp_path, monkeypatch):
    _fake_ffmpeg(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    result = run(Scenario(max_days=2), seed=1, front_every_days=1)
    out = tmp_path / "slides"
    out.mkdir()
    path = write_animation(result, out / "run.mp4", fps=12, size=(640, 360))
    sent = json.loads(path.read_text())
    assert sent["bytes"] == len(result.fronts) * 640 * 360 * 4
    argv = sent["argv"]
    assert argv[argv.index("-s") + 1] == "640x360" and argv[argv.index("-r") + 1] == "12"
    assert argv[argv.index("-pix_fmt") + 1] == "rgba"
    assert list(out.iterdir()) == [path]


def test_a_failing_ffmpeg_is_an_error_and_leaves_no_file(tmp_path, monkeypatch):
    _fake_ffmpeg(tmp_path, status=1)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    result = run(Scenario(max_days=1), seed=1, front_every_days=1)
    out = tmp_path / "slides"
    out.mkdir()
    with pytest.raises(OSError, match=r"ffmpeg failed \(exit status 1\): Unknown encoder"):
        write_animation(result, out / "run.mp4", size=(320, 180))
    assert list(out.iterdir()) == []
