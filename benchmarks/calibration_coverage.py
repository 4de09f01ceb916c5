"""Benchmark: does model calibration recover a known parameter, and are its 95%
intervals honest?

Each trial makes a battle record from the scenario itself with the parameter at its
true value and a seed that calibration never uses (one run: the battle is one draw of
the model), calibrates the parameter with ``sim.calibration.calibrate_model``, and
checks whether the interval holds the true value. It prints per case the coverage (with
its binomial 95% interval), the spread of the estimates against the mean standard
error, the mean interval width, evaluations and seconds per calibration.

    python3 benchmarks/calibration_coverage.py                  # both cases, 40 trials
    python3 benchmarks/calibration_coverage.py --trials 10 --case square
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats

from sim.calibration import FitKey, SeriesEvaluator, calibrate_model, record_of
from sim.scenarios import assign, read

# name: (scenario, --set overrides, key, true value, observed series, days)
CASES = {
    "square": ("lanchester_square", {}, "defender.aimed_kills_per_shooter_per_day", 0.05,
               ["attacker_strength", "defender_strength"], 12),
    "fortified": ("fortified_defense", {}, "sector.fortification_level", 0.6,
                  ["attacker_casualties", "defender_casualties"], 12),
}


def trial_record(data, key, true_value, series, days, seed):
    truth = SeriesEvaluator(data, [FitKey(key, true_value / 2, true_value * 2)], series,
                            days)
    return record_of(truth([true_value], seed=seed), series)


def run_case(name: str, trials: int, replicates: int, workers: int) -> None:
    scenario, overrides, key, true_value, series, days = CASES[name]
    _, data = read(scenario)
    for k, v in overrides.items():
        assign(data, k, v)
    estimates, errors, widths, covered, seconds, evaluations = [], [], [], 0, [], []
    for trial in range(trials):
        record = trial_record(data, key, true_value, series, days, seed=1_000_000 + trial)
        start = time.perf_counter()
        fit = calibrate_model(record, data, [key], replicates=replicates, seed=trial,
                              workers=workers)
        seconds.append(time.perf_counter() - start)
        low, high = fit.intervals[key]
        covered += low <= true_value <= high
        estimates.append(fit.estimates[key])
        errors.append(fit.standard_errors[key])
        widths.append(high - low)
        evaluations.append(fit.evaluations)
    ci = stats.binomtest(covered, trials).proportion_ci(0.95)
    print(f"{name}: {scenario}, {key} = {true_value}, observed {', '.join(series)} over "
          f"{days} days, {replicates} replicates, {trials} trials")
    print(f"  coverage of the 95% interval: {covered}/{trials} = {covered / trials:.0%} "
          f"[{ci.low:.0%}, {ci.high:.0%}]")
    print(f"  estimates: mean {np.mean(estimates):.4g}, sd {np.std(estimates, ddof=1):.3g}; "
          f"mean standard error {np.mean(errors):.3g}; mean interval width "
          f"{np.mean(widths):.3g}")
    print(f"  {np.mean(evaluations):.1f} evaluations ({np.mean(evaluations) * replicates:.0f} "
          f"runs) and {np.mean(seconds):.1f} s per calibration with {workers} workers")


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
