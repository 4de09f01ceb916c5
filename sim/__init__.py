"""attrition-sim: an agent-based model of military attrition on Mesa.

The same Python API serves the CLI, sweeps, the demo page and notebooks::

    >>> from sim import Scenario, run
    >>> result = run(Scenario(max_days=2), seed=7)
    >>> sorted(result.daily["day"].unique().tolist())
    [0, 1, 2]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pandas as pd

from sim.config import Scenario
from sim.model import AttritionModel

__all__ = ["AttritionModel", "RunResult", "Scenario", "__version__", "run"]

try:
    __version__ = metadata.version("attrition-sim")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"


@dataclass
class RunResult:
    """What one run produces: summary, tidy daily record, event log and the front at the
    end (:meth:`AttritionModel.front_map`)."""

    summary: dict[str, Any]
    daily: pd.DataFrame
    events: pd.DataFrame
    front: dict[str, Any] = field(default_factory=dict)


def run(scenario: Scenario | None = None, seed: int | None = None) -> RunResult:
    """Run a scenario to its end and return its outputs."""
    model = AttritionModel(scenario, rng=seed)
    model.run()
    return RunResult(model.summary(), model.daily_records(), model.events_frame(),
                     model.front_map())
