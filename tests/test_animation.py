"""Animations for slides: `attrition run --animate` writes a valid GIF with one frame per
recorded day, or per stated interval, and refuses what it cannot write before running."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from sim import Scenario, run
from sim.animation import check_target, write_animation


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
    """A failure while drawing frames leaves neither the target nor a temporary file."""
    result = run(Scenario(max_days=2), seed=0, front_every_days=1)
    import sim.animation

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(sim.animation.FrontView, "update", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        write_animation(result, tmp_path / "run.gif")
    assert list(tmp_path.iterdir()) == []
