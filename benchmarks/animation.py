"""Benchmark: how fast `attrition run --animate` draws and writes its frames.

Runs a scenario keeping its front every ``--every`` days (the run is timed apart), then
writes the animation as ``attrition run --animate`` does
(:func:`sim.animation.write_animation`) and prints seconds per frame and frames per
second of rendering, the laying out of the figure included.

    python3 benchmarks/animation.py                      # recruit_pool_exhaustion, 60 days
    python3 benchmarks/animation.py --size 3840x2160 --out slides.gif
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from sim import run, scenarios
from sim.animation import FRAMES_PER_SECOND, SIZE, parse_size, write_animation


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", default="recruit_pool_exhaustion")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--every", type=int, default=1, help="days between frames")
    parser.add_argument("--size", type=parse_size, default=SIZE, metavar="WIDTHxHEIGHT")
    parser.add_argument("--fps", type=int, default=FRAMES_PER_SECOND)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None,
                        help="keep the animation here (default: a temporary .gif)")
    args = parser.parse_args()

    scenario = scenarios.load(args.scenario, days=args.days)
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    start = time.perf_counter()
    result = run(scenario, seed=args.seed, front_every_days=args.every)
    ran = time.perf_counter() - start
    frames = len(result.fronts)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.out or Path(tmp) / "animation.gif"
        start = time.perf_counter()
        write_animation(result, path, title=f"{scenario.name}, seed {args.seed}",
                        fps=args.fps, size=args.size)
        wrote = time.perf_counter() - start
        size_mb = path.stat().st_size / 1e6
    width, height = args.size
    print(f"{scenario.name}, {result.summary['days']} days, a frame every {args.every} "
          f"day(s): {frames} frames of {width}x{height} ({path.suffix}, {size_mb:.1f} MB)")
    print(f"run keeping the fronts: {ran:.1f} s")
    print(f"animation: {wrote:.2f} s, {wrote / frames * 1e3:.0f} ms a frame, "
          f"{frames / wrote:.1f} frames a second of rendering")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
