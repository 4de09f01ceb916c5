"""Replicate runs with fixed seeds, and their summary statistics."""

from __future__ import annotations

import numpy as np

from sim import AttritionModel, Scenario
from sim.calibration import model_series


def replicate_series(scenario: Scenario, seeds, days: int) -> np.ndarray:
    """(replicates, days+1, 2) personnel per side; a run that ended early keeps its
    final strengths (the battle is over, nothing changes)."""
    out = np.empty((len(seeds), days + 1, 2))
    for k, seed in enumerate(seeds):
        model = AttritionModel(scenario, rng=seed)
        model.run()
        out[k] = model_series(model, ["attacker_strength", "defender_strength"], days).T
    return out


def replicate_summaries(scenario: Scenario, seeds, key) -> np.ndarray:
    """One number per replicate: ``key(summary)`` of each run."""
    values = []
    for seed in seeds:
        model = AttritionModel(scenario, rng=seed)
        model.run()
        values.append(key(model.summary()))
    return np.asarray(values, dtype=float)


def side_series(daily, column: str) -> np.ndarray:
    """(days + 1, 2) array of a daily-record column for the attacker and the defender,
    from the side totals (``contingent == 'all'``) of ``model.daily_records()``."""
    rows = daily[daily["contingent"] == "all"]
    assert (rows["side"].to_numpy().reshape(-1, 2) == ["attacker", "defender"]).all()
    return rows[column].to_numpy().reshape(-1, 2)


def mean_and_se(values: np.ndarray) -> tuple[float, float]:
    """Sample mean and its standard error."""
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))
