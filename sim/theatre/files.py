"""Theatre files: TOML in ``theatres/`` (by name) or anywhere (by path), read, overridden
(``--set key.path=value``) and validated as scenario files are (:mod:`sim.scenarios`):
every problem is one line naming the file, the key and what is allowed.

    >>> load("theatre_2023_2024").start_date.isoformat()
    '2023-01-01'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sim.model.memory import MemoryLimitError
from sim.scenarios import (
    ScenarioError,
    apply_overrides,
    available,
    explain,
    find,
    read_toml,
)
from sim.theatre.config import TheatreScenario
from sim.theatre.records import check_memory

KIND = "theatres"


def read(name_or_path: str | Path) -> tuple[Path, dict[str, Any]]:
    """A theatre file and its data (not yet validated)."""
    try:
        path = find(name_or_path, kind=KIND)
    except FileNotFoundError:
        known = ", ".join(available(KIND)) or "none"
        raise ScenarioError(name_or_path, "", f"no such file or named theatre; allowed: a "
                                              f"TOML file or one of {known}") from None
    data = read_toml(path)
    data.setdefault("name", path.stem)
    return path, data


def load(name_or_path: str | Path, overrides: list[str] | tuple[str, ...] = (),
         days: int | None = None, replicates: int = 1) -> TheatreScenario:
    """Read, override (``key.path=value`` strings, as ``--set``) and validate; ``days``
    replaces ``max_days``; the memory of ``replicates`` runs' records is bounded. Raises
    :class:`sim.scenarios.ScenarioError`."""
    path, data = read(name_or_path)
    apply_overrides(data, overrides, path)
    if days is not None:
        data["max_days"] = days
    return validate(data, path, replicates)


def description(path: Path) -> str:
    """A theatre file's one-line ``description``, without validating the whole file."""
    try:
        return str(read_toml(path).get("description", ""))
    except ScenarioError:
        return "(unreadable; see attrition theatre run)"


def validate(data: dict[str, Any], file: str | Path, replicates: int = 1) -> TheatreScenario:
    """Validate theatre data and the memory of ``replicates`` runs; the first problem as
    a ScenarioError."""
    try:
        scenario = TheatreScenario.model_validate(data)
    except ValidationError as err:
        raise explain(err, file, root=TheatreScenario) from None
    try:
        check_memory(scenario, replicates)
    except MemoryLimitError as err:
        raise ScenarioError(file, err.key, err.problem) from None
    return scenario
