"""Benchmark: are the law fits' 95% intervals honest on records that err in streaks, and
does the verdict name the law that made the record?

Each trial integrates a known law (:data:`CASES`) and records it as a real record is
kept: both sides' strengths with AR(1) errors (lag-one correlation 0.4, a standard
deviation of 1% of the attacker's start), a few days missing at random. It fits the
true law (:func:`sim.lawfit.fit_law`) and checks whether each parameter's 95% interval
holds its true value; it fits every law (:func:`sim.lawfit.compare_laws`) and checks
whether the verdict names the true law or calls a tie that includes it. Printed per
case: the coverage of each parameter with its binomial 95% interval, and the share of
verdicts that name the true law (alone or tied), alone, or another law.

    python3 benchmarks/law_coverage.py                        # 120 trials a case
    python3 benchmarks/law_coverage.py --trials 20 --case square --workers 2
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from scipy import stats

from sim.lawfit import BIC_DECISIVE, BIC_TIE, FIT_LAWS, Record, compare_laws, fit_law, trajectory

A0, B0, DAYS = 20_000.0, 15_000.0, 40
NOISE_SD, AUTOCORRELATION, MISSING_DAYS = 200.0, 0.4, 3
# law: the keyword arguments of trajectory(); each loses about half of a side in 40 days.
CASES = {
    "square": {"alpha": 0.02, "beta": 0.03},
    "linear": {"alpha": 2e-6, "beta": 3e-6},
    "logarithmic": {"alpha": 0.01, "beta": 0.015},
    "fatigue": {"alpha": 0.03, "beta": 0.045, "fatigue_per_day": 0.03},
    "phases": {"alpha": 0.03, "beta": 0.02, "break_day": 20, "alpha_after": 0.01,
               "beta_after": 0.04},
    # Losing most of both sides: with less the exponents are barely identified.
    "power": {"alpha": 6e-4, "beta": 9e-4, "p": 1.0, "q": 0.5},
}


def synthetic_record(law: str, seed: int, rho: float = AUTOCORRELATION) -> Record:
    """A record of ``law`` at :data:`CASES`' values: both strengths with AR(1) errors
    and :data:`MISSING_DAYS` days missing (not the first)."""
    truth = CASES[law]
    path = trajectory(law, truth["alpha"], truth["beta"], A0, B0, DAYS,
                      **{k: v for k, v in truth.items() if k not in ("alpha", "beta")})
    rng = np.random.default_rng(seed)
    record = Record.from_trajectory(path, noise_sd=NOISE_SD, rng=rng, autocorrelation=rho)
    missing = rng.choice(np.arange(1, DAYS + 1), MISSING_DAYS, replace=False)
    for values in record.observed.values():
        values[missing] = np.nan
    return record


def true_values(law: str, record: Record) -> dict[str, float]:
    """What the fit estimates, from the truth: the coefficients (and the break day and
    fatigue) for laws of fixed exponents; the exponents and each side's losses a day at
    the reference strengths (the first observations) for the power law."""
    truth = CASES[law]
    if law != "power":
        return {k: float(v) for k, v in truth.items()}
    s_a = record.observed["attacker_strength"][0]
    s_b = record.observed["defender_strength"][0]
    p, q = truth["p"], truth["q"]
    return {"p": p, "q": q, "attacker_losses_per_day": truth["beta"] * s_a**q * s_b**p,
            "defender_losses_per_day": truth["alpha"] * s_b**q * s_a**p}


def trial(law: str, seed: int, choose: bool
          ) -> tuple[dict[str, bool], str | None, bool | None]:
    """Whether each interval of the true law's fit holds the truth, the verdict on the
    laws: "true" (alone), "tie" (tied with the true law), or the law named, and whether
    the verdict rejects the true law (its BIC :data:`BIC_DECISIVE` or more worse)."""
    record = synthetic_record(law, seed)
    fit = fit_law(record, law)
    covered = {name: bool(fit.intervals[name][0] <= value <= fit.intervals[name][1])
               for name, value in true_values(law, record).items()}
    if not choose:
        return covered, None, None
    fits = compare_laws(record, FIT_LAWS)
    tied = [f.law for f in fits if f.bic - fits[0].bic < BIC_TIE]
    said = ("true" if tied == [law] else "tie" if law in tied else fits[0].law)
    gap = next(f.bic for f in fits if f.law == law) - fits[0].bic
    return covered, said, gap >= BIC_DECISIVE


def binomial_interval(hits: int, trials: int) -> tuple[float, float]:
    """Clopper-Pearson 95% interval of a proportion."""
    low = stats.beta.ppf(0.025, hits, trials - hits + 1) if hits else 0.0
    high = stats.beta.ppf(0.975, hits + 1, trials - hits) if hits < trials else 1.0
    return float(low), float(high)


def run_case(law: str, trials: int, workers: int, choose: bool) -> list:
    start = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        results = list(pool.map(trial, [law] * trials, range(trials), [choose] * trials))
    seconds = time.perf_counter() - start
    print(f"{law}: {trials} records of {DAYS + 1} days, AR(1) errors rho {AUTOCORRELATION}, "
          f"sd {NOISE_SD:g}, {MISSING_DAYS} days missing ({seconds:.0f} s)")
    for name in results[0][0]:
        hits = sum(r[0][name] for r in results)
        low, high = binomial_interval(hits, trials)
        print(f"    {name:<26} 95% intervals cover the truth in {hits / trials:6.1%} "
              f"[{low:.1%}, {high:.1%}]")
    if choose:
        said = [r[1] for r in results]
        right = sum(s in ("true", "tie") for s in said)
        others = sorted({s for s in said if s not in ("true", "tie")})
        print(f"    verdict names the {law} law or a tie with it in {right / trials:.1%} "
              f"(alone {said.count('true') / trials:.1%}); others named: "
              f"{', '.join(f'{o} {said.count(o)}' for o in others) or 'none'}")
        rejected = sum(bool(r[2]) for r in results)
        print(f"    verdict rejects the {law} law (BIC {BIC_DECISIVE:g} or more worse) in "
              f"{rejected / trials:.1%}")
    return results


def pooled(results: dict[str, list]) -> None:
    """The verdict over every case's records: the true law named or tied, and rejected."""
    said = [r for case in results.values() for r in case]
    right = sum(r[1] in ("true", "tie") for r in said)
    low, high = binomial_interval(right, len(said))
    print(f"all {len(results)} cases, {len(said)} records: the verdict names the true law or "
          f"a tie with it in {right / len(said):.1%} [{low:.1%}, {high:.1%}]; rejects it in "
          f"{sum(bool(r[2]) for r in said) / len(said):.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=120)
    parser.add_argument("--case", choices=list(CASES), action="append")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--no-choice", action="store_true",
                        help="only the intervals (the law choice fits every law)")
    args = parser.parse_args()
    results = {law: run_case(law, args.trials, args.workers, not args.no_choice)
               for law in args.case or list(CASES)}
    if not args.no_choice:
        pooled(results)


if __name__ == "__main__":
    main()
