"""Theatre benchmark (issue 19): a national-scale theatre on one core, and a sweep of
theatre runs on a Dask cluster started on this machine.

    python3 benchmarks/theatre.py                      # both parts at the issue's sizes
    python3 benchmarks/theatre.py --only scale         # 10,000 battalions, 1,000 days
    python3 benchmarks/theatre.py --only dask --runs 200 --sweep-days 365
    python3 benchmarks/theatre.py --quick              # tiny sizes: only that it runs

It prints the machine, then a Markdown table (measure, value, target, met) and exits 1
if a target is missed. With ``--quick`` the sizes are not the issue's, so sizes, times
and memory are not judged; the reproducibility check is. Parts (``--only`` takes a comma
list):

* ``scale``: the shipped theatre (``--theatre``, 1,290 km of front) with every force
  category's ``unit_size`` scaled by one common factor (through ``--set``-style
  overrides), the largest factor that gives at least ``--units`` battalions at the start
  (for 10,000: battalions of 65 and 39 persons instead of 500 and 300, 10,105 of them),
  run ``--days`` days. It runs in a fresh child process (one process; numpy's and
  numba's thread pools held to one thread), which first runs the theatre for one day at
  its own sizes so that loading and compiling the numba kernels, which a process does
  once, is not in the time. Construction of the model and its run are timed apart
  (``time.perf_counter``; the run is the sum of the steps, its CPU time beside it: on a
  busy machine wall time exceeds CPU time) and judged together against 120 s. Recruits
  form new battalions all run long, and battalions are never dropped from the column
  store (the rear keeps those beyond every sector's target, the disbanded stay as rows),
  so the store at the end is several times the start's: both are shown, with the cost
  per battalion-day (step time over the sum, over days, of the battalions in the store,
  and of those in the line). Peak memory is the child's own peak resident set (``VmHWM``
  in ``/proc/self/status`` at its end, the whole process: interpreter, imports, model
  and the output tables), judged against 2 GiB; ``getrusage(RUSAGE_CHILDREN).ru_maxrss``
  is shown beside it as a cross-check (an upper bound: Linux carries the parent's
  resident set into it).
* ``dask``: a ``dask.distributed.LocalCluster`` on 127.0.0.1 (``--workers`` worker
  processes of one thread each, no dashboard) and ``--runs`` replicates of the theatre
  at its own battalion sizes (``--sweep-days`` days, the theatre's own, 730, unless
  told) through ``sim.theatre.outputs.run_theatre`` with
  ``scheduler=cluster.scheduler_address``, timed around that call (the driver collects
  every run's daily, sector and monthly tables); each worker has imported the theatre
  and loaded its kernels before, by a one-day run, timed apart. Before the cluster
  starts, the first ``--check`` replicates run in this process (``workers=1``), which
  times one run serially (multiply by runs / workers to scale); the check is that their
  daily, sector and monthly tables equal the cluster's exactly. The cluster is closed on
  leaving, also on an error, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

PARTS = ("scale", "dask")
THEATRE = "theatre_2023_2024"
TARGET_FRONT_KM = 1_000
TARGET_UNITS = 10_000
TARGET_DAYS = 1_000
TARGET_SECONDS = 120.0  # construction + run, one core
TARGET_MEMORY_GIB = 2.0
TARGET_RUNS = 200
# Sizes of the issue, and tiny ones for --quick (the test suite runs those).
FULL = {"units": TARGET_UNITS, "days": TARGET_DAYS, "runs": TARGET_RUNS, "sweep_days": None,
        "check": 3}
QUICK = {"units": 1_000, "days": 30, "runs": 4, "sweep_days": 30, "check": 2}
# The scale run's child: one thread for every pool numpy or numba could start.
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                     "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}
SIDES = ("attacker", "defender")


# ------------------------------------------------------------------ battalion sizes
def contingents(scenario) -> list[tuple[str, str, object]]:
    """(side, name, configuration) of every force category."""
    return [(side, name, config) for side in SIDES
            for name, config in getattr(scenario, side).contingents.items()]


def scaled_sizes(scenario, factor: float) -> dict[tuple[str, str], int]:
    """Each category's ``unit_size`` times ``factor``, rounded, within what the schema
    allows (1 to 100,000 persons)."""
    return {(side, name): min(100_000, max(1, round(config.unit_size * factor)))
            for side, name, config in contingents(scenario)}


def battalions_at_start(scenario, sizes: dict[tuple[str, str], int]) -> int:
    """Battalions on day 0 with these sizes: each category's ``in_line_at_start`` in
    battalions of its size, the last one smaller (``NationalForces.initial_battalions``)."""
    return sum(-(-config.in_line_at_start // sizes[side, name])
               for side, name, config in contingents(scenario))


def sizes_for_units(scenario, units: int) -> dict[tuple[str, str], int]:
    """The largest common scaling of the categories' battalion sizes that gives at least
    ``units`` battalions on day 0 (the categories keep their sizes' proportions, so the
    convicts' battalions stay smaller than the others'). ValueError if even battalions of
    one person would not make that many."""
    most = battalions_at_start(scenario, scaled_sizes(scenario, 0.0))
    if units > most:
        raise ValueError(f"--units {units:,}: the theatre has {most:,} persons in the line "
                         f"at the start; allowed: at most that many battalions")
    # The count falls as the factor grows: bisect on its logarithm.
    low, high = math.log(1e-6), math.log(1e3)
    for _ in range(80):
        middle = (low + high) / 2
        if battalions_at_start(scenario, scaled_sizes(scenario, math.exp(middle))) >= units:
            low = middle
        else:
            high = middle
    return scaled_sizes(scenario, math.exp(low))


def scale_theatre(theatre: str, units: int, days: int):
    """The theatre with battalion sizes for at least ``units`` battalions at the start,
    run ``days`` days, built through overrides as ``--set`` builds it; and the sizes."""
    from sim.theatre.files import load

    sizes = sizes_for_units(load(theatre), units)
    overrides = [f"{side}.contingents.{name}.unit_size={size}"
                 for (side, name), size in sizes.items()]
    return load(theatre, overrides, days=days), sizes


def warm_up(theatre: str, seed: int) -> float:
    """Import the theatre's modules and load and compile its numba kernels in this
    process, as its first run does once, by a one-day run with its tables (as
    ``run_theatre``'s job makes them); the seconds it took."""
    start = time.perf_counter()
    from sim.theatre.files import load
    from sim.theatre.outputs import TheatreRun

    TheatreRun(load(theatre, days=1), seed)()
    return time.perf_counter() - start


# ------------------------------------------------------------------ scale
def scale_run(theatre: str, units: int, days: int, seed: int) -> None:
    """The scale run in this (fresh) process; prints its measures as one JSON line."""
    import numpy as np
    from sweep_memory import peak_rss_mib, rss_mib

    from sim.theatre.battalions import LINE, STATES
    from sim.theatre.calibration import monthly
    from sim.theatre.model import TheatreModel

    warm_up_s = warm_up(theatre, seed)
    baseline_mib = rss_mib()
    scenario, sizes = scale_theatre(theatre, units, days)

    start = time.perf_counter()
    model = TheatreModel(scenario, rng=seed)
    construction_s = time.perf_counter() - start
    units_at_start = len(model.battalions)

    run_s, battalion_days, line_days = 0.0, 0, 0
    cpu_start = time.process_time()
    while model.running:
        start = time.perf_counter()
        model.step()
        run_s += time.perf_counter() - start
        state = model.battalions["state"]
        battalion_days += state.size
        line_days += int(np.count_nonzero(state == LINE))
    run_cpu_s = time.process_time() - cpu_start

    start = time.perf_counter()
    frames = (model.daily_records(), model.sector_records(), monthly(model))
    outputs_s = time.perf_counter() - start
    at_end = np.bincount(model.battalions["state"], minlength=len(STATES))
    # Its threads by name, to show that it ran on one (pandas' pyarrow starts jemalloc's
    # background thread, which returns freed memory and does none of the work).
    threads = sorted(Path(f"/proc/self/task/{task}/comm").read_text().strip()
                     for task in os.listdir("/proc/self/task"))
    print(json.dumps({
        "theatre": theatre, "sectors": len(scenario.sectors), "front_km": scenario.front_km(),
        "sizes": {f"{side}.{name}": size for (side, name), size in sizes.items()},
        "days": model.day, "units_at_start": units_at_start,
        "units_at_end": len(model.battalions),
        "at_end": dict(zip(STATES, at_end.tolist(), strict=True)),
        "warm_up_s": warm_up_s, "construction_s": construction_s, "run_s": run_s,
        "run_cpu_s": run_cpu_s, "outputs_s": outputs_s, "output_rows": sum(map(len, frames)),
        "battalion_days": battalion_days, "line_days": line_days,
        "baseline_mib": baseline_mib, "peak_rss_mib": peak_rss_mib(), "threads": threads}))


def measure_scale(theatre: str, units: int, days: int, seed: int) -> dict:
    """:func:`scale_run` in a fresh child process, one thread; its JSON, with the
    children's ``ru_maxrss`` as seen from here."""
    env = {**os.environ, **ONE_THREAD}
    done = subprocess.run([sys.executable, __file__, "--scale-run", json.dumps(
        {"theatre": theatre, "units": units, "days": days, "seed": seed})],
        capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"the scale run failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["children_maxrss_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return result


# ------------------------------------------------------------------ Dask
def measure_dask(theatre: str, runs: int, days: int | None, check: int, workers: int,
                 seed: int) -> dict:
    """``runs`` replicates on a LocalCluster of ``workers`` single-threaded processes,
    and the first ``check`` of them in this process, compared table by table."""
    from distributed import Client, LocalCluster
    from sweep_memory import peak_rss_mib

    from sim.theatre.files import load
    from sim.theatre.outputs import run_theatre

    scenario = load(theatre, days=days)
    check = min(check, runs)
    warm_up(theatre, seed)
    start = time.perf_counter()
    local = run_theatre(scenario, seed=seed, replicates=check, workers=1)
    local_s = time.perf_counter() - start

    start = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None) as cluster:
        startup_s = time.perf_counter() - start
        # Each worker imports the theatre and its kernels before the sweep's clock
        # starts, as this process did before its runs: shown apart, it does not scale
        # with the runs.
        start = time.perf_counter()
        with Client(cluster.scheduler_address, timeout="10s") as client:
            client.run(warm_up, theatre, seed)
        workers_warm_s = time.perf_counter() - start
        start = time.perf_counter()
        remote = run_theatre(scenario, seed=seed, replicates=runs,
                             scheduler=cluster.scheduler_address)
        sweep_s = time.perf_counter() - start
        start = time.perf_counter()
    shutdown_s = time.perf_counter() - start
    # Exactly equal: the same seed must give the same numbers wherever it runs.
    identical = [a["seed"] == b["seed"] and all(a[t].equals(b[t]) for t in
                                                ("daily", "sectors", "monthly"))
                 for a, b in zip(local, remote, strict=False)]
    return {"theatre": theatre, "days": scenario.max_days, "workers": workers,
            "runs": len(remote), "requested": runs, "startup_s": startup_s,
            "workers_warm_s": workers_warm_s,
            "sweep_s": sweep_s, "shutdown_s": shutdown_s, "check": check,
            "local_per_run_s": local_s / check, "identical": identical,
            "driver_peak_rss_mib": peak_rss_mib()}


# ------------------------------------------------------------------ the table
def table(results: dict, quick: bool) -> tuple[str, bool]:
    rows, met = [], True

    def row(measure: str, value: str, target: str = "", ok: bool | None = None,
            always: bool = False) -> None:
        """A row; ``ok`` judges it, unless --quick (whose sizes are not the issue's)
        and not ``always``."""
        nonlocal met
        verdict = ""
        if ok is not None and quick and not always:
            verdict = "not judged (--quick)"
        elif ok is not None:
            met &= ok
            verdict = "met" if ok else "MISSED"
        rows.append(f"| {measure} | {value} | {target} | {verdict} |")

    if "scale" in results:
        s = results["scale"]
        sizes = ", ".join(f"{k} {v}" for k, v in s["sizes"].items())
        row("scale: theatre", f"{s['theatre']}, {s['sectors']} sectors, "
            f"{s['front_km']:,.0f} km of front", f">= {TARGET_FRONT_KM:,} km",
            s["front_km"] >= TARGET_FRONT_KM)
        row("scale: battalions at the start", f"{s['units_at_start']:,} (persons each: {sizes})",
            f">= {TARGET_UNITS:,}", s["units_at_start"] >= TARGET_UNITS)
        row("scale: days run", f"{s['days']:,}", f">= {TARGET_DAYS:,}",
            s["days"] >= TARGET_DAYS)
        at_end = s["at_end"]
        row("scale: battalions at the end (rows of the store)",
            f"{s['units_at_end']:,} ({at_end['line']:,} in the line, {at_end['rear']:,} in "
            f"the rear, {at_end['disbanded']:,} disbanded)")
        row("scale: construction of the model", f"{s['construction_s']:.2f} s "
            f"(kernels loaded beforehand in {s['warm_up_s']:.1f} s, not counted)")
        row(f"scale: run, {s['days']:,} days, one process",
            f"{s['run_s']:.2f} s wall, {s['run_cpu_s']:.2f} s CPU "
            f"({s['run_s'] / s['days'] * 1e3:.1f} ms a day; threads at the end: "
            f"{', '.join(s['threads'])})")
        total = s["construction_s"] + s["run_s"]
        row("scale: construction + run", f"{total:.2f} s", f"< {TARGET_SECONDS:.0f} s",
            total < TARGET_SECONDS)
        row("scale: cost per battalion-day",
            f"{s['run_s'] / s['battalion_days'] * 1e6:.2f} us per battalion-day in the store "
            f"({s['battalion_days'] / s['days']:,.0f} a day on average); "
            f"{s['run_s'] / max(1, s['line_days']) * 1e6:.2f} us per battalion-day in the "
            f"line ({s['line_days'] / s['days']:,.0f})")
        row("scale: output tables (daily, sector, monthly)",
            f"{s['outputs_s']:.2f} s ({s['output_rows']:,} rows)")
        row("scale: peak memory (RSS) of the child process",
            f"{s['peak_rss_mib']:,.0f} MiB (its VmHWM; {s['baseline_mib']:,.0f} MiB after "
            f"imports and warm-up; getrusage children: {s['children_maxrss_mib']:,.0f} MiB)",
            f"< {TARGET_MEMORY_GIB:.0f} GiB", s["peak_rss_mib"] < TARGET_MEMORY_GIB * 1024)
    if "dask" in results:
        d = results["dask"]
        row("dask: LocalCluster on 127.0.0.1",
            f"{d['workers']} worker processes x 1 thread, started in {d['startup_s']:.1f} s, "
            f"their imports and kernels in {d['workers_warm_s']:.1f} s (before the sweep's "
            f"clock), closed in {d['shutdown_s']:.1f} s")
        row(f"dask: one run in this process ({d['days']:,} days)",
            f"{d['local_per_run_s']:.2f} s (mean of {d['check']})")
        row(f"dask: sweep of {d['theatre']}, {d['days']:,} days a run",
            f"{d['runs']:,} runs in {d['sweep_s']:.1f} s = {d['runs'] / d['sweep_s']:.2f} "
            f"runs/s ({d['sweep_s'] * d['workers'] / d['runs']:.2f} s per run per worker)",
            f"{TARGET_RUNS:,} runs", d["runs"] >= TARGET_RUNS and d["runs"] == d["requested"])
        speedup = d["local_per_run_s"] * d["runs"] / d["sweep_s"]
        row("dask: speed-up over one process (efficiency)",
            f"{speedup:.2f}x ({speedup / d['workers']:.0%})")
        same = sum(d["identical"])
        row(f"dask: replicates 0-{d['check'] - 1}, cluster against this process",
            f"{same} of {d['check']} with daily, sector and monthly tables identical",
            "identical", same == d["check"], always=True)
        row("dask: driver peak memory (RSS)",
            f"{d['driver_peak_rss_mib']:,.0f} MiB (holds every run's tables)")
    head = ["| measure | value | target | met |", "| --- | --- | --- | --- |"]
    return "\n".join(head + rows), met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"parts to run, a comma list of {', '.join(PARTS)} (all)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, to check that the script runs (sizes, times and "
                             "memory not judged)")
    parser.add_argument("--theatre", default=THEATRE, help=f"theatre file or name ({THEATRE})")
    parser.add_argument("--units", type=int, help=f"scale: battalions at the start, at least "
                                                  f"({FULL['units']:,}; --quick {QUICK['units']})")
    parser.add_argument("--days", type=int, help=f"scale: days run ({FULL['days']:,}; "
                                                 f"--quick {QUICK['days']})")
    parser.add_argument("--runs", type=int, help=f"dask: runs of the sweep ({FULL['runs']}; "
                                                 f"--quick {QUICK['runs']})")
    parser.add_argument("--sweep-days", type=int,
                        help=f"dask: days of each run (the theatre's own; --quick "
                             f"{QUICK['sweep_days']})")
    parser.add_argument("--check", type=int, help=f"dask: replicates also run in this process "
                                                  f"and compared ({FULL['check']}; --quick "
                                                  f"{QUICK['check']})")
    parser.add_argument("--workers", type=int, default=2, help="dask: worker processes (2)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the scale run and master "
                                                            "seed of the sweep (1)")
    parser.add_argument("--scale-run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scale_run:
        scale_run(**json.loads(args.scale_run))
        return 0
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"--only: unknown part {', '.join(unknown)}; allowed: {', '.join(PARTS)}")
    sizes = {**(QUICK if args.quick else FULL),
             **{k: v for k in FULL if (v := getattr(args, k)) is not None}}
    for key in ("units", "days", "runs", "sweep_days", "check"):
        if sizes[key] is not None and sizes[key] < 1:
            parser.error(f"--{key.replace('_', '-')}: {sizes[key]}; allowed: 1 or more")
    if args.workers < 1:
        parser.error(f"--workers: {args.workers}; allowed: 1 or more")
    if "scale" in parts:  # a size the theatre refuses, refused before anything runs
        from sim.scenarios import ScenarioError

        try:
            scale_theatre(args.theatre, sizes["units"], sizes["days"])
        except (ValueError, ScenarioError) as err:
            parser.error(str(err))
    # SIGTERM as Ctrl-C, so that the cluster's block closes it on the way out.
    signal.signal(signal.SIGTERM, _interrupt)

    from performance import machine

    print(f"Machine: {machine()}", flush=True)
    results: dict = {}
    if "scale" in parts:
        results["scale"] = measure_scale(args.theatre, sizes["units"], sizes["days"], args.seed)
    if "dask" in parts:
        results["dask"] = measure_dask(args.theatre, sizes["runs"], sizes["sweep_days"],
                                       sizes["check"], args.workers, args.seed)
    text, met = table(results, args.quick)
    print(text)
    return 0 if met else 1


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
