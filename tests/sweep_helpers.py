"""Evaluators for sweep-engine tests, importable by worker processes."""

from __future__ import annotations

import numpy as np
from SALib.test_functions import Ishigami


class IshigamiEvaluator:
    """The Ishigami function of x1, x2, x3 (a = 7, b = 0.1), as a sweep's model."""

    def __call__(self, params, seed):
        x = np.array([[params["x1"], params["x2"], params["x3"]]])
        return {"y": float(Ishigami.evaluate(x)[0])}, None


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> dict[str, np.ndarray]:
    """Analytic first and total order Sobol indices of the Ishigami function."""
    v1 = 0.5 * (1 + b * np.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * np.pi**8 * (1 / 18 - 1 / 50)
    total = v1 + v2 + v13
    return {"S1": np.array([v1, v2, 0.0]) / total,
            "ST": np.array([v1 + v13, v2, v13]) / total}


def sweep_in_child(experiment: dict, out: str, workers: int, scheduler: str | None,
                   kill_at: int | None) -> None:
    """Run a sweep (a batch per run) in a process of its own; with ``kill_at``, the sweep
    SIGKILLs itself at that write boundary of its store (sim.sweep_store.boundary)."""
    import os

    from sim.experiments import Experiment
    from sim.sweep import run_sweep

    if kill_at is None:
        os.environ.pop("ATTRITION_SWEEP_KILL_AT", None)
    else:
        os.environ["ATTRITION_SWEEP_KILL_AT"] = str(kill_at)
    run_sweep(Experiment.model_validate(experiment), out, workers=workers,
              scheduler=scheduler, progress=False, flush_runs=1, flush_seconds=1e9)


class SometimesMissingEvaluator:
    """A metric that is a whole number for even design points and missing for odd ones,
    and one that is whole for point 0 and fractional for the others."""

    def __call__(self, params, seed):
        point = params["x"]
        return {"count": None if point % 2 else point, "ratio": 1 if point == 0 else
                point / 3}, None
