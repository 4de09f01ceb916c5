"""Benchmark: does model calibration recover known parameters, and are its 95%
intervals honest?

Each trial makes a battle record from the scenario itself with the parameters at their
true values and a seed that calibration never uses (one run: the battle is one draw of
the model), calibrates them with ``sim.calibration.calibrate_model``, and checks whether
each interval holds its true value. It prints per case and key the coverage (with its
binomial 95% interval; and, for comparison, that of the linearised interval, the
estimate +- t standard errors), the spread of the estimates against the mean standard
error, the mean interval width, and evaluations and seconds per calibration.

    python3 benchmarks/calibration_coverage.py                  # every case, 40 trials
    python3 benchmarks/calibration_coverage.py --trials 10 --case square
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats

from sim.calibration import FitKey, SeriesEvaluator, calibrate_model, record_of
from sim.scenarios import read

# name: (scenario, {key: true value}, observed series, days)
CASES = {
    "square": ("lanchester_square", {"defender.aimed_kills_per_shooter_per_day": 0.05},
               ["attacker_strength", "defender_strength"], 12),
    "fortified": ("fortified_defense", {"sector.fortification_level": 0.6},
                  ["attacker_casualties", "defender_casualties"], 12),
    "square_two_keys": ("lanchester_square", {"defender.aimed_kills_per_shooter_per_day": 0.05,
                                              "attacker.aimed_kills_per_shooter_per_day": 0.04},
                        ["attacker_strength", "defender_strength"], 12),
}


def trial_record(data, truth: dict[str, float], series, days, seed):
    keys = [FitKey(key, value / 2, value * 2) for key, value in truth.items()]
    return record_of(SeriesEvaluator(data, keys, series, days)(list(truth.values()), seed),
                     series)


def run_case(name: str, trials: int, replicates: int, workers: int) -> None:
    scenario, truth, series, days = CASES[name]
    _, data = read(scenario)
    fits, seconds = [], []
    for trial in range(trials):
        record = trial_record(data, truth, series, days, seed=1_000_000 + trial)
        start = time.perf_counter()
        fits.append(calibrate_model(record, data, list(truth), replicates=replicates,
                                    seed=trial, workers=workers))
        seconds.append(time.perf_counter() - start)
    t = stats.t.ppf(0.975, replicates - 1)
    print(f"{name}: {scenario}, observed {', '.join(series)} over {days} days, "
          f"{replicates} replicates, {trials} trials")
    for key, true_value in truth.items():
        covered = sum(f.intervals[key][0] <= true_value <= f.intervals[key][1] for f in fits)
        linearised = sum(abs(f.estimates[key] - true_value) <= t * f.standard_errors[key]
                         for f in fits)
        estimates = [f.estimates[key] for f in fits]
        ci = stats.binomtest(covered, trials).proportion_ci(0.95)
        print(f"  {key} = {true_value}: coverage of the 95% interval {covered}/{trials} = "
              f"{covered / trials:.0%} [{ci.low:.0%}, {ci.high:.0%}]; of the linearised "
              f"interval {linearised}/{trials}")
        print(f"    estimates: mean {np.mean(estimates):.4g}, sd "
              f"{np.std(estimates, ddof=1):.3g}; mean standard error "
              f"{np.mean([f.standard_errors[key] for f in fits]):.3g}; mean interval width "
              f"{np.mean([f.intervals[key][1] - f.intervals[key][0] for f in fits]):.3g}")
    evaluations = np.mean([f.evaluations for f in fits])
    print(f"  {evaluations:.1f} evaluations ({evaluations * replicates:.0f} runs) and "
          f"{np.mean(seconds):.1f} s per calibration with {workers} workers")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=(*CASES, "all"), default="all")
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--replicates", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    for name in CASES if args.case == "all" else (args.case,):
        run_case(name, args.trials, args.replicates, args.workers)


if __name__ == "__main__":
    main()
