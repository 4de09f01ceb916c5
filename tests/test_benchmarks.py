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
                    "ours per unit-day in the sector, every wave committed on day 0, 181 units",
                    "strict: ours per unit-day in the sector / Epstein per agent-step",
                    "sweep of the default scenario, 1 worker",
                    "sweep of the default scenario, 2 workers", "parallel speed-up",
                    "demo page, step + redraw", "sweep driver, 200 runs", "-unit run, 30 days"):
        assert measure in done.stdout, measure


def test_performance_benchmark_refuses_an_unknown_part():
    done = subprocess.run([sys.executable, "benchmarks/performance.py", "--only", "speed"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert ("--only: unknown part speed; allowed: model, strict, sweep, demo, memory"
            in done.stderr)


def test_the_strict_measure_commits_every_wave_on_day_zero():
    """The strict measure's scenario has the default scenario's units, all in the sector
    from day 0: no unit waits in reserve, and nothing else changes."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from performance import all_waves_on_day_zero, default_scenario

    from sim import AttritionModel
    from sim.model.units import RESERVE

    scenario = default_scenario()
    strict = all_waves_on_day_zero(scenario)
    for side in ("attacker", "defender"):
        assert strict.group_units(side) == scenario.group_units(side)
        assert all(strict.wave_days(group) == [0] for group in getattr(strict, side).units)
    assert strict.model_dump(exclude={"attacker", "defender"}) == scenario.model_dump(
        exclude={"attacker", "defender"})
    model = AttritionModel(strict, rng=1)
    assert len(model.units) == sum(strict.group_units(s) for s in ("attacker", "defender"))
    assert not (model.units["state"] == RESERVE).any()
