"""Benchmark: how long the classroom page takes to step and redraw.

Two measurements of the default demo scenario (``recruit_pool_exhaustion``):

* **server**: one model step plus drawing both panels to PNG, exactly as the page does
  (``sim.app.front_png`` and ``sim.app.charts_png``), for ``--steps`` days in a row;
* **browser**: ``attrition demo`` served on 127.0.0.1 and driven by Debian's Chromium
  (installed on first use) at 1920x1080: from pressing Step to the page showing the new
  day and the new charts, for the first Step after each of three page loads and for
  ``--clicks`` presses in a row (targets: under 1 s and a median under 100 ms).

    python3 benchmarks/demo_page.py                 # about a minute
    python3 benchmarks/demo_page.py --steps 730 --clicks 50
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def describe(label: str, seconds: list[float]) -> str:
    ms = np.asarray(seconds) * 1e3
    return (f"{label}: median {np.median(ms):.0f} ms, mean {ms.mean():.0f} ms, "
            f"95th percentile {np.percentile(ms, 95):.0f} ms, max {ms.max():.0f} ms "
            f"over {len(ms)}")


def server_times(steps: int) -> np.ndarray:
    """(steps, 3) seconds of the model step, the front's PNG and the charts' PNG, for
    ``steps`` days of the default demo scenario in a row, as the page does them."""
    from sim import app
    from sim.classroom import ClassroomModel

    model = ClassroomModel()
    app.front_png(model)
    app.charts_png(model)
    parts = []
    while model.running and len(parts) < steps:
        t0 = time.perf_counter()
        model.step()
        t1 = time.perf_counter()
        app.front_png(model)
        t2 = time.perf_counter()
        app.charts_png(model)
        t3 = time.perf_counter()
        parts.append((t1 - t0, t2 - t1, t3 - t2))
    return np.asarray(parts)


def server(steps: int) -> None:
    parts = server_times(steps)
    print(describe("server, step + redraw", parts.sum(axis=1).tolist()))
    step, front, charts = parts.mean(axis=0) * 1e3
    print(f"  of which, mean: step {step:.1f} ms, front {front:.1f} ms, charts {charts:.1f} ms")


# Timed inside the page, so that the test driver's polling does not count: press Step,
# then wait until the Day monitor shows the new day and the charts picture has changed.
_STEP_AND_WAIT = """async (day) => {
  const charts = () => document.querySelector('img.charts-panel').src;
  const before = charts();
  const step = [...document.querySelectorAll('button')]
    .find(b => b.innerText.trim().toUpperCase() === 'STEP');
  const dayShown = () => [...document.querySelectorAll('.monitor')]
    .find(m => m.querySelector('.label').innerText === 'Day')
    .querySelector('.value').innerText.trim();
  const done = () => dayShown() === String(day) && charts() !== before;
  const t0 = performance.now();
  step.click();
  await new Promise(resolve => {
    const watch = new MutationObserver(() => { if (done()) { watch.disconnect(); resolve(); } });
    watch.observe(document.body, {subtree: true, childList: true, characterData: true,
                                  attributes: true});
  });
  return performance.now() - t0;
}"""


def browser_times(clicks: int, loads: int = 3) -> tuple[list[float], list[float]]:
    """Seconds from pressing Step to the page showing the new day and charts: the first
    Step of ``loads`` fresh page loads (each pressed as soon as the page shows its
    pictures), and ``clicks`` presses in a row; in Debian's Chromium at 1920x1080
    against ``attrition demo`` on 127.0.0.1."""
    from browser_helpers import CHROMIUM_ARGS, demo_server, ensure_chromium
    from playwright.sync_api import expect, sync_playwright

    chromium = ensure_chromium()
    firsts, times = [], []
    with demo_server() as (url, _), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for load in range(loads):
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(url)
            expect(page.locator("img.charts-panel")).to_be_visible(timeout=60_000)
            firsts.append(page.evaluate(_STEP_AND_WAIT, 1) / 1e3)
            if load == loads - 1:
                times = [page.evaluate(_STEP_AND_WAIT, k) / 1e3 for k in range(2, clicks + 2)]
            page.close()
        browser.close()
    return firsts, times


def browser(clicks: int) -> None:
    firsts, times = browser_times(clicks)
    print(describe("browser, first Step after the page loaded", firsts))
    print("  each (ms):", " ".join(f"{1e3 * t:.0f}" for t in times))
    print(describe("browser, Step pressed to new day and charts shown", times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=365, help="days drawn on the server")
    parser.add_argument("--clicks", type=int, default=30, help="Step presses in the browser")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}")
    server(args.steps)
    browser(args.clicks)


if __name__ == "__main__":
    main()
