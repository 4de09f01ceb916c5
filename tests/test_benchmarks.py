"""The performance benchmark runs: every part, at small sizes. Its numbers are not
checked here (speed belongs in the benchmark, whose targets it checks itself)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_performance_benchmark_runs_every_part():
    done = subprocess.run([sys.executable, "benchmarks/performance.py", "--quick",
                           "--no-browser"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Machine: ")
    for measure in ("our model, 181 units", "scaling exponent",
                    "Mesa's EpsteinCivilViolence, per agent-step", "/ Epstein per agent-step",
                    "sweep of the default scenario, 1 worker",
                    "sweep of the default scenario, 2 workers", "parallel speed-up",
                    "demo page, step + redraw", "sweep driver, 200 runs", "-unit run, 30 days"):
        assert measure in done.stdout, measure


def test_performance_benchmark_refuses_an_unknown_part():
    done = subprocess.run([sys.executable, "benchmarks/performance.py", "--only", "speed"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "--only: unknown part speed; allowed: model, sweep, demo, memory" in done.stderr
