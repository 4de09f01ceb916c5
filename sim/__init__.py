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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from sim.config import Scenario
    from sim.model import AttritionModel, FrontMap

__all__ = ["AttritionModel", "FrontMap", "RunResult", "Scenario", "__version__", "run"]

try:
    __version__ = metadata.version("attrition-sim")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

#: What ``import sim`` gives on first use, not at import (PEP 562): the model pulls in
#: numpy, pandas, Mesa and numba (about 2 s), which ``attrition --help`` and
#: ``attrition --version`` never need.
_LAZY = {"Scenario": "sim.config", "AttritionModel": "sim.model", "FrontMap": "sim.model"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value  # looked up once
        return value
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


@dataclass
class RunResult:
    """What one run produces: summary, tidy daily record, event log, the front at the
    end (:meth:`AttritionModel.front_map`) and, if asked for, the front on the way."""

    summary: dict[str, Any]
    daily: pd.DataFrame
    events: pd.DataFrame
    front: FrontMap | None = None
    fronts: list[FrontMap] = field(default_factory=list)


def run(scenario: Scenario | None = None, seed: int | None = None,
        front_every_days: int | None = None) -> RunResult:
    """Run a scenario to its end and return its outputs.

    ``front_every_days`` keeps the front (the frames of an animation) on day 0, every
    that many days, and on the last day; by default only the last day's.

        >>> result = run(Scenario(max_days=5), seed=1, front_every_days=2)
        >>> [front.day for front in result.fronts]
        [0, 2, 4, 5]
    """
    from sim.model import AttritionModel

    if front_every_days is not None and front_every_days < 1:
        raise ValueError(f"front_every_days must be 1 or more, not {front_every_days}")
    model = AttritionModel(scenario, rng=seed)
    fronts = [model.front_map()] if front_every_days else []
    while model.running:
        model.step()
        if front_every_days and (model.day % front_every_days == 0 or not model.running):
            fronts.append(model.front_map())
    front = fronts[-1] if fronts else model.front_map()
    return RunResult(model.summary(), model.daily_records(), model.events_frame(), front,
                     fronts)
