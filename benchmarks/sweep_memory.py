"""Benchmark: the sweep driver's memory stays flat as the number of runs grows.

Sweeps ``--runs`` one-day runs of the baseline on a local process pool and prints the
driver's resident memory (RSS) as it goes and at its peak. With no argument it sweeps
1,000 and then 10,000 runs, each in a fresh process, and prints both peaks: results go
to disk as runs finish, so the peak should barely move with ten times the runs.

    python3 benchmarks/sweep_memory.py            # both sizes (about 4 minutes on 2 cores)
    python3 benchmarks/sweep_memory.py --runs 10000 --workers 2
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def rss_mib() -> float:
    """This process's resident memory now (MiB), from /proc."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_rss_mib() -> float:
    """This process's peak resident memory (MiB): VmHWM, which, unlike getrusage's
    ru_maxrss, does not carry over the memory of the parent it was forked from."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sweep(runs: int, workers: int) -> dict:
    """Sweep ``runs`` one-day runs on ``workers`` processes; the driver's memory over
    time and at its peak (this process's high-water mark, so run it in a fresh one)."""
    from sim.experiments import Experiment
    from sim.sweep import read_runs, run_sweep

    replicates = 10
    exp = Experiment.model_validate({
        "question": "How much memory does the sweep driver need?",
        "scenario": "fortified_defense", "set": {"max_days": 1},
        "parameters": {"defender.artillery_strikes_per_day": {
            "range": {"start": 0, "stop": runs // replicates}}},
        "replicates": replicates, "metrics": ["attacker_killed", "defender_killed"]})
    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def watch():
        start = time.monotonic()
        while not done.is_set():
            samples.append((time.monotonic() - start, rss_mib()))
            time.sleep(0.5)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with tempfile.TemporaryDirectory() as out:
        result = run_sweep(exp, out, workers=workers, progress=False)
        done.set()
        watcher.join()
        stored = len(read_runs(out))
    quarter = max(1, len(samples) // 4)
    return {"runs": runs, "stored": stored, "ok": result.ok, "seconds": result.seconds,
            "workers": workers,
            "peak_rss_mib": peak_rss_mib(),
            "rss_over_time_mib": [(round(t), round(m)) for t, m in samples[::quarter]]}


def describe(measured: dict) -> str:
    trace = ", ".join(f"{t}s {m}" for t, m in measured["rss_over_time_mib"])
    return (f"{measured['runs']} runs ({measured['stored']} stored, {measured['ok']} ok) in "
            f"{measured['seconds']:.0f} s on {measured['workers']} workers: driver peak RSS "
            f"{measured['peak_rss_mib']:.0f} MiB; RSS over time (MiB): {trace}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()
    if args.runs:
        measured = sweep(args.runs, args.workers)
        print(json.dumps(measured) if args.json else describe(measured))
        return
    for runs in (1_000, 10_000):
        subprocess.run([sys.executable, __file__, "--runs", str(runs), "--workers",
                        str(args.workers)], check=True)


if __name__ == "__main__":
    main()
