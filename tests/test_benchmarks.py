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


def test_theatre_benchmark_runs_both_parts_and_reproduces_on_dask():
    """The theatre benchmark at tiny sizes (--quick: about 1,000 battalions for 30 days
    in a child process; 4 runs of 30 days on a 2-worker Dask LocalCluster): it prints
    its table, and the cluster's replicates equal this process's exactly."""
    done = subprocess.run([sys.executable, "benchmarks/theatre.py", "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Machine: ")
    assert "| measure | value | target | met |" in done.stdout
    for measure in ("scale: battalions at the start | 1,000 ", "scale: days run | 30 |",
                    "scale: run, 30 days, one process", "scale: construction + run",
                    "scale: cost per battalion-day", "scale: peak memory (RSS)",
                    "dask: LocalCluster on 127.0.0.1 | 2 worker processes x 1 thread",
                    "dask: sweep of theatre_2023_2024, 30 days a run | 4 runs in"):
        assert measure in done.stdout, measure
    assert ("| dask: replicates 0-1, cluster against this process | 2 of 2 with daily, "
            "sector and monthly tables identical | identical | met |") in done.stdout


def test_theatre_benchmark_counts_the_battalions_it_builds():
    """The battalion sizes it picks give at least the battalions asked for, as the
    model forms them on day 0, and the shipped theatre's own sizes for its own count."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from theatre import battalions_at_start, scale_theatre, sizes_for_units

    from sim.theatre.files import load
    from sim.theatre.model import TheatreModel

    shipped = load("theatre_2023_2024")
    own = {(side, name): config.unit_size for side in ("attacker", "defender")
           for name, config in getattr(shipped, side).contingents.items()}
    assert sizes_for_units(shipped, battalions_at_start(shipped, own)) == own
    assert battalions_at_start(shipped, sizes_for_units(shipped, 10_000)) >= 10_000
    scenario, sizes = scale_theatre("theatre_2023_2024", 2_000, 1)
    assert len(TheatreModel(scenario, rng=1).battalions) == battalions_at_start(
        shipped, sizes) >= 2_000


def test_theatre_benchmark_refuses_an_unknown_part():
    done = subprocess.run([sys.executable, "benchmarks/theatre.py", "--only", "speed"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "--only: unknown part speed; allowed: scale, dask" in done.stderr


def test_wargame_load_benchmark_runs_a_small_class():
    """The load benchmark at a small size: 8 students, 3 turns; no error, every game's
    replay equal to it (its timing targets are the benchmark's to check)."""
    done = subprocess.run([sys.executable, "benchmarks/wargame_load.py", "--games", "2",
                           "--turns", "3"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "errors: 0" in done.stdout
    assert "replays equal to their games: 2 of 2" in done.stdout
    assert "turns resolved: 6 (per game: 3 to 3)" in done.stdout
