"""Replicates: the same scenario under several seeds, and what they say together.

Replicate ``i`` under master seed ``s`` uses seed ``run_seed(s, 0, i)``, as a sweep's
point 0 would (:mod:`sim.seeds`, the one home of the seed scheme); one replicate is a
single run of ``s`` itself. The seeds are independent, stored with the results, and any
replicate can be rerun alone with ``run(scenario, seed=...)``.

    >>> from sim import Scenario
    >>> results = run_replicates(Scenario(max_days=2), seed=5, replicates=3)
    >>> [r.summary["days"] for r in results]
    [2, 2, 2]
    >>> summarise([{"x": 1.0, "end": "a"}, {"x": 3.0, "end": "a"}])["x"]["mean"]
    2.0
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
from scipy import stats

from sim import RunResult, Scenario, run
from sim.seeds import replicate_seeds


def run_replicates(scenario: Scenario, seed: int, replicates: int) -> list[RunResult]:
    """Run ``scenario`` once per seed of :func:`replicate_seeds`."""
    return [run(scenario, seed=s) for s in replicate_seeds(seed, replicates)]


def summarise(summaries: list[dict[str, Any]], confidence: float = 0.95) -> dict[str, Any]:
    """Per summary key over replicates.

    A numeric key gives ``mean``, ``ci95_low`` and ``ci95_high`` (the Student-t
    confidence interval of the mean; none with fewer than two values), ``sd`` and ``n``,
    the replicates in which it has a value (``attacker_pool_exhausted_day`` has none in a
    run whose pool lasts). Other keys (stop reason, winner) give each value's count.
    """
    out: dict[str, Any] = {}
    for key in summaries[0]:
        values = [s[key] for s in summaries]
        numbers = [float(v) for v in values
                   if isinstance(v, int | float) and not isinstance(v, bool) and v is not None]
        if numbers or all(v is None for v in values):
            out[key] = mean_interval(numbers, confidence)
        else:
            out[key] = dict(sorted(Counter(str(v) for v in values).items()))
    return out


def mean_interval(values: list[float], confidence: float = 0.95) -> dict[str, Any] | None:
    """Mean, the Student-t confidence interval of the mean (``ci95_low``, ``ci95_high``;
    none with one value), ``sd`` and ``n``; none for no values.

    >>> round(mean_interval([1.0, 2.0, 3.0])["ci95_high"], 3)
    4.484
    """
    n = len(values)
    if n == 0:
        return None
    mean = math.fsum(values) / n
    if n < 2:
        return {"mean": mean, "ci95_low": None, "ci95_high": None, "sd": None, "n": 1}
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return {"mean": mean, "ci95_low": mean - half, "ci95_high": mean + half, "sd": sd, "n": n}


#: Fewer runs than this make no 5-95% band: the band is their range, and says so (with
#: 5 runs, the 5% and 95% points are the lowest and highest run anyway).
BAND_MIN_RUNS = 20


def run_band(runs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The band of ``runs`` (runs along the first axis): their 5% and 95% points from
    :data:`BAND_MIN_RUNS` runs on, their lowest and highest below.

    >>> low, high = run_band(np.array([[1.0], [5.0], [3.0]]))
    >>> float(low[0]), float(high[0])
    (1.0, 5.0)
    """
    runs = np.asarray(runs, dtype=float)
    if len(runs) >= BAND_MIN_RUNS:
        return np.percentile(runs, 5, axis=0), np.percentile(runs, 95, axis=0)
    return runs.min(axis=0), runs.max(axis=0)


def band_label(runs: int, what: str) -> str:
    """The legend of a :func:`run_band` of ``runs`` runs.

    >>> band_label(100, "single runs"), band_label(5, "single runs")
    ('single runs, 5-95% of 100 runs', 'single runs, range of 5 runs')
    """
    if runs >= BAND_MIN_RUNS:
        return f"{what}, 5-95% of {runs} runs"
    return f"{what}, range of {runs} runs"
