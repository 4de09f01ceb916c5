"""Benchmark: how long the classroom page takes to step and redraw.

Two measurements of the default demo scenario (``recruit_pool_exhaustion``):

* **server**: one model step plus drawing both panels to PNG, exactly as the page does
  (``sim.app.front_png`` and ``sim.app.charts_png``), for ``--steps`` days in a row;
* **browser**: ``attrition demo`` served on 127.0.0.1 and driven by Debian's Chromium
  (installed on first use): from pressing Step to the page showing the new day and the
  new charts, for ``--clicks`` presses.

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
# then wait until the day row shows the new day and the charts image has changed.
_STEP_AND_WAIT = """async (day) => {
  const charts = () => document.querySelector('img.charts-panel').src;
  const before = charts();
  const step = [...document.querySelectorAll('button')]
    .find(b => b.innerText.trim().toUpperCase() === 'STEP');
  const done = () => document.querySelector('table.scenario-now tr').innerText
    .includes(`${day} of at most`) && charts() !== before;
  const t0 = performance.now();
  step.click();
  await new Promise(resolve => {
    const watch = new MutationObserver(() => { if (done()) { watch.disconnect(); resolve(); } });
    watch.observe(document.body, {subtree: true, childList: true, characterData: true,
                                  attributes: true});
  });
  return performance.now() - t0;
}"""


def browser_times(clicks: int) -> list[float]:
    """Seconds from pressing Step to the page showing the new day and charts, for
    ``clicks`` presses, in Debian's Chromium against ``attrition demo`` on 127.0.0.1."""
    from browser_helpers import CHROMIUM_ARGS, demo_server, ensure_chromium
    from playwright.sync_api import expect, sync_playwright

    chromium = ensure_chromium()
    with demo_server() as (url, _), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        day = page.locator("table.scenario-now tr").first
        expect(day).to_contain_text("0 of at most", timeout=60_000)
        times = [page.evaluate(_STEP_AND_WAIT, k) / 1e3 for k in range(1, clicks + 1)]
        browser.close()
    return times


def browser(clicks: int) -> None:
    times = browser_times(clicks)
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
