"""What a run will hold in memory, estimated from its scenario before anything is
allocated, and the limit above which a run is refused (issue 16: a scenario must never
ask for gigabytes it does not have and die of a MemoryError half-way).

The estimate adds the sector's cells (Mesa builds a Python object per cell), the units
(a row of the column store, a Mesa agent, a row of the ring of wounded in care) at the
most the run can have (its units at the start, and the new units its contingents can
form: one from each ``new_unit_size`` of its recruit pool and first units' people, an
upper bound in practice, as most people are killed, wounded or still in the pool when a
run ends; the wounded who return to form a second unit are not counted, as most return
to their own), the daily record (a row a day per contingent and side, kept until the run
ends, once per replicate) and a fixed part (the model's working arrays, Python objects).
The sizes per cell, unit and record value were measured (``AttritionModel`` under
tracemalloc, numpy 2.4, Mesa 3.3) and rounded up. The shipped scenarios are estimated at
17 to 33 MiB and peak at 12 to 17 MiB; ``recruit_pool_exhaustion`` widened 20 times at
about 300 MiB and peaks at 81 MiB.

    >>> from sim.config import Scenario
    >>> estimate = estimate_memory(Scenario())
    >>> round(estimate.bytes / 2**20), estimate.key
    (17, 'sector.width_cells')

The limit is :data:`DEFAULT_LIMIT_GIB` GiB, or the environment's ``ATTRITION_MAX_MEMORY``
(GiB; the CLI's ``--max-memory`` sets it for its command and the worker processes it
starts).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from sim.sides import SIDES

#: The environment variable that sets the limit, in GiB.
LIMIT_VARIABLE = "ATTRITION_MAX_MEMORY"
#: The default limit (GiB): above the largest run of the benchmarks (a 10,000-unit run of
#: 365 days peaks at 647 MiB) and within what a laptop has.
DEFAULT_LIMIT_GIB = 4.0
# Bytes per cell of the sector (Mesa cell object, its neighbourhood, the layers).
CELL_BYTES = 1_400
# Bytes per unit: the Mesa agent (about 900), its row of the column store (184), the
# day's working copies; the ring of wounded in care adds 8 per day of return delay.
UNIT_BYTES = 1_500
# Bytes of every run: the model's working arrays and objects, the summary, the frames.
BASE_BYTES = 16 * 2**20
# Bytes per value of the daily record: the day's block, the frame built from the
# blocks, and the copies made writing it.
RECORD_VALUE_BYTES = 32


class MemoryLimitError(ValueError):
    """A run estimated to need more memory than the limit; ``str()`` is one line that
    starts with the key that makes it large."""

    def __init__(self, key: str, problem: str):
        self.key, self.problem = key, problem
        super().__init__(f"{key}: {problem}")

    def __reduce__(self):
        return type(self), (self.key, self.problem)


@dataclass(frozen=True)
class Estimate:
    """A run's estimated memory (bytes), the units it can have at most, and the key of
    the scenario that accounts for the largest share."""

    bytes: int
    units: int
    key: str


def estimate_memory(scenario, replicates: int = 1) -> Estimate:
    """The memory of a run of ``scenario`` (a :class:`sim.config.Scenario`), with the
    daily records of ``replicates`` runs kept (as ``run_replicates`` keeps them)."""
    from sim.model.records import RECORD_COLUMNS

    sector = scenario.sector
    parts: dict[str, float] = {"base": BASE_BYTES, "sector.width_cells":
                               sector.width_cells * sector.depth_cells * CELL_BYTES}
    delay = max(scenario.attacker.return_delay_days, scenario.defender.return_delay_days)
    per_unit = UNIT_BYTES + 8 * (delay + 1)
    units = 0
    contingents = 0
    for side in SIDES:
        config = getattr(scenario, side)
        start = scenario.group_units(side)  # every wave's units
        units += start
        parts[f"{side}.units"] = start * per_unit
        names = dict.fromkeys(g.contingent for g in config.units)
        contingents += len(names)
        for name in names:
            contingent = config.contingents.get(name)
            if contingent is None or contingent.new_unit_size is None:
                continue
            people = contingent.pool + sum(g.count * g.personnel * len(scenario.wave_days(g))
                                           for g in config.units if g.contingent == name)
            formed = math.ceil(people / contingent.new_unit_size)
            units += formed
            parts[f"{side}.contingents.{name}.new_unit_size"] = formed * per_unit
    record = ((scenario.max_days + 1) * (contingents + 2) * len(RECORD_COLUMNS)
              * RECORD_VALUE_BYTES)
    parts["max_days"] = record * replicates
    key = max((k for k in parts if k != "base"), key=parts.get)
    return Estimate(int(sum(parts.values())), units, key)


def limit_bytes() -> int:
    """The limit: ``ATTRITION_MAX_MEMORY`` GiB if set, else :data:`DEFAULT_LIMIT_GIB`.
    ``MemoryLimitError`` for a value that is not a positive number."""
    text = os.environ.get(LIMIT_VARIABLE, "").strip()
    if not text:
        return int(DEFAULT_LIMIT_GIB * 2**30)
    try:
        gib = float(text)
    except ValueError:
        gib = math.nan
    if not (math.isfinite(gib) and gib > 0):
        raise MemoryLimitError(LIMIT_VARIABLE, f"'{text[:40]}' is not a size; allowed: a "
                                               f"number of GiB above 0, e.g. 16")
    return int(min(gib, 2.0**40) * 2**30)


def check_memory(scenario, replicates: int = 1) -> Estimate:
    """The estimate, or :class:`MemoryLimitError` (one line: the key, the estimate, the
    limit and how to raise it) when it is above the limit."""
    estimate = estimate_memory(scenario, replicates)
    limit = limit_bytes()
    if estimate.bytes > limit:
        what = f" and {replicates} replicates" if replicates > 1 else ""
        cells = scenario.sector.width_cells * scenario.sector.depth_cells
        raise MemoryLimitError(estimate.key, (
            f"the run{what} would need about {_gib(estimate.bytes)} of memory "
            f"({estimate.units:,} units at most, {cells:,} cells, {scenario.max_days} "
            f"days); allowed: at most {_gib(limit)}, or a higher limit with --max-memory "
            f"GIB (the environment's {LIMIT_VARIABLE})"))
    return estimate


def _gib(size: float) -> str:
    return f"{size / 2**30:.1f} GiB" if size >= 2**30 / 10 else f"{size / 2**20:.0f} MiB"
