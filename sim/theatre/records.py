"""What the theatre records (ODD, theatre section): a day's stocks and cumulative flows
per force category, and each sector's line and losses per side, kept in arrays sized
before the run (:func:`estimate_memory` bounds them) and turned into tidy frames."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.model.memory import MemoryLimitError, limit_bytes
from sim.sides import SIDES
from sim.theatre.battalions import LINE, REAR

if TYPE_CHECKING:
    from sim.theatre.config import TheatreScenario
    from sim.theatre.model import TheatreModel

#: Per force category and day (persons): stocks on the day, and cumulative flows.
CONTINGENT_COLUMNS = {
    "pool": "eligible people not yet recruited",
    "in_training": "recruits in training",
    "reserve": "trained, and returned wounded, awaiting a battalion",
    "in_care": "wounded in care, due back",
    "in_line": "persons in battalions in the line",
    "in_rear": "persons in battalions resting or refilling in the rear",
    "battalions_in_line": "battalions in the line (-)",
    "recruited": "recruited so far (cumulative)",
    "killed": "killed so far (cumulative)",
    "wounded": "wounded so far (cumulative)",
    "permanently_lost": "wounded who will not return, so far (cumulative)",
    "released": "released at the end of their term so far (cumulative)",
}
#: Per sector, side and day (persons).
SECTOR_COLUMNS = {
    "in_line": "persons in the line in the sector",
    "casualties": "killed and wounded that day",
    "killed": "killed that day",
}
# Bytes per battalion (the Mesa agent, its row, the day's working copies) and per
# recorded value, rounded up; the fixed part covers the model's arrays and objects.
BATTALION_BYTES = 1_500
VALUE_BYTES = 8
BASE_BYTES = 32 * 2**20


def most_battalions(scenario: TheatreScenario) -> int:
    """The most battalions a run can have: those of the start and one per unit size of
    every pool (an upper bound: most recruits are still in the pool, in training or
    lost when a run ends)."""
    total = 0
    for side in SIDES:
        for contingent in getattr(scenario, side).contingents.values():
            people = contingent.in_line_at_start + contingent.pool
            total += -(-people // contingent.unit_size) + 1
    return total


def estimate_memory(scenario: TheatreScenario, replicates: int = 1) -> tuple[int, str]:
    """Bytes a run will hold at most (and the records of ``replicates`` runs, which a
    command keeps together), and the key that makes it large."""
    n_cont = sum(len(getattr(scenario, side).contingents) for side in SIDES)
    days = scenario.max_days + 1
    records = days * (n_cont * len(CONTINGENT_COLUMNS)
                      + len(scenario.sectors) * 2 * len(SECTOR_COLUMNS)) * VALUE_BYTES
    records *= max(1, replicates)
    battalions = most_battalions(scenario) * BATTALION_BYTES
    key = "max_days" if records > battalions else "unit_size"
    return BASE_BYTES + records + battalions, key


def check_memory(scenario: TheatreScenario, replicates: int = 1) -> None:
    """Refuse, before anything is allocated, a run (or ``replicates`` runs' records)
    estimated above the limit."""
    size, key = estimate_memory(scenario, replicates)
    if size > limit_bytes():
        if key == "unit_size":
            key = next(f"{side}.contingents.{name}.unit_size" for side in SIDES
                       for name in getattr(scenario, side).contingents)
        raise MemoryLimitError(key, f"the run would hold about {size / 2**30:.1f} GiB (at most "
                                    f"{most_battalions(scenario):,} battalions over "
                                    f"{scenario.max_days:,} days); allowed: at most "
                                    f"{limit_bytes() / 2**30:.1f} GiB: fewer days, larger "
                                    f"battalions or smaller pools")


class TheatreRecords:
    """The day's records, written at the end of each day."""

    def __init__(self, model: TheatreModel):
        self.model = model
        days = model.config.max_days + 1
        n_cont = len(model.contingents)
        self._contingent = np.zeros((days, n_cont, len(CONTINGENT_COLUMNS)), dtype=np.int64)
        self._sector = np.zeros((days, len(model.config.sectors), 2, len(SECTOR_COLUMNS)),
                                dtype=np.int64)

    def record_day(self, sector_casualties: np.ndarray, sector_killed: np.ndarray) -> None:
        model = self.model
        forces, battalions = model.forces, model.battalions
        line = battalions["state"] == LINE
        personnel = battalions["personnel"]
        values = {
            "pool": forces.pipelines.pool, "in_training": forces.pipelines.in_training,
            "reserve": forces.reserve, "in_care": forces.in_care,
            "in_line": forces.contingent_sum(personnel, line),
            "in_rear": forces.contingent_sum(personnel, battalions["state"] == REAR),
            "battalions_in_line": forces.contingent_sum(np.ones(len(battalions), np.int64),
                                                        line & (personnel > 0)),
            "recruited": forces.pipelines.recruited_total,
            "killed": forces.contingent_sum(battalions["killed"]),
            "wounded": forces.contingent_sum(battalions["wounded"]),
            "permanently_lost": forces.contingent_sum(battalions["permanently_lost"]),
            "released": forces.released,
        }
        today = self._contingent[model.day]
        for j, name in enumerate(CONTINGENT_COLUMNS):
            today[:, j] = values[name]
        n_sectors = len(model.config.sectors)
        self._sector[model.day, :, :, 0] = np.bincount(
            battalions["sector"][line] * 2 + battalions["side"][line],
            weights=personnel[line], minlength=2 * n_sectors).reshape(n_sectors, 2)
        self._sector[model.day, :, :, 1] = sector_casualties
        self._sector[model.day, :, :, 2] = sector_killed

    def contingent_array(self) -> np.ndarray:
        """(days + 1, contingents, columns) of :data:`CONTINGENT_COLUMNS` so far."""
        return self._contingent[: self.model.day + 1]

    def side_series(self, column: str) -> np.ndarray:
        """(days + 1, 2): a column of :data:`CONTINGENT_COLUMNS` summed per side."""
        j = list(CONTINGENT_COLUMNS).index(column)
        values = self.contingent_array()[:, :, j]
        side_of = self.model.forces.side_of
        return np.stack([values[:, side_of == s].sum(axis=1) for s in (0, 1)], axis=1)

    def daily_records(self) -> pd.DataFrame:
        """One row per day and force category, plus a row per side (``contingent`` 'all')."""
        model = self.model
        data = self.contingent_array()
        days = np.arange(data.shape[0])
        dates = pd.to_datetime([model.config.date_of(d) for d in days])
        frames = []
        for k, (side, name) in enumerate(model.contingents):
            frame = pd.DataFrame(data[:, k, :], columns=list(CONTINGENT_COLUMNS))
            frame.insert(0, "contingent", name)
            frame.insert(0, "side", side)
            frame.insert(0, "date", dates)
            frame.insert(0, "day", days)
            frames.append(frame)
        for s, side in enumerate(SIDES):
            mine = model.forces.side_of == s
            frame = pd.DataFrame(data[:, mine, :].sum(axis=1), columns=list(CONTINGENT_COLUMNS))
            frame.insert(0, "contingent", "all")
            frame.insert(0, "side", side)
            frame.insert(0, "date", dates)
            frame.insert(0, "day", days)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True).sort_values(
            ["day", "side", "contingent"], kind="stable", ignore_index=True)

    def sector_records(self) -> pd.DataFrame:
        """One row per day, sector and side: :data:`SECTOR_COLUMNS`."""
        model = self.model
        data = self._sector[: model.day + 1]
        days, sectors = data.shape[0], data.shape[1]
        day = np.repeat(np.arange(days), sectors * 2)
        frame = pd.DataFrame(data.reshape(-1, len(SECTOR_COLUMNS)), columns=list(SECTOR_COLUMNS))
        names = [s.name for s in model.config.sectors]
        kinds = [s.kind for s in model.config.sectors]
        frame.insert(0, "side", np.tile(SIDES, days * sectors))
        frame.insert(0, "kind", np.tile(np.repeat(kinds, 2), days))
        frame.insert(0, "sector", np.tile(np.repeat(names, 2), days))
        frame.insert(0, "date", pd.to_datetime([model.config.date_of(d) for d in day]))
        frame.insert(0, "day", day)
        return frame
