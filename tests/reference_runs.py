"""The runs whose outputs are kept in ``tests/reference/``: every shipped scenario and
six variants, three seeds each. A change that means to keep the numbers (a refactoring,
a faster kernel) must give these outputs bit for bit; ``test_reference_outputs.py``
checks it. After a change that means to change the numbers, regenerate them in a commit
of their own and say why::

    python3 tests/reference_runs.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from sim import Scenario, run
from sim.scenarios import available, load

REFERENCE_DIR = Path(__file__).parent / "reference"
SEEDS = (0, 1, 2)
# Mechanisms that no shipped scenario exercises, or only one does.
VARIANTS: dict[str, tuple[str | None, list[str]]] = {
    "reference": (None, []),
    "elastic_defence": ("fortified_defense", ['defender.units[*].tactic="elastic_defense"']),
    "fixed_loss_share": (None, ["attacker.fixed_daily_loss_fraction=0.05",
                                "defender.fixed_daily_loss_fraction=0.02"]),
    "no_morale": ("human_wave_foreign_contingent", ["combat.morale_enabled=false"]),
    "infiltration": ("fortified_defense", ['attacker.units[*].tactic="infiltration"']),
    "organic_fire": ("fortified_defense", ["attacker.area_strikes_per_person_per_day=0.02",
                                           "defender.area_strikes_per_person_per_day=0.05"]),
}


def cases() -> dict[str, Scenario]:
    """Every case by name: the shipped scenarios, then the variants."""
    out = {name: load(name) for name in sorted(available())}
    for name, (base, sets) in VARIANTS.items():
        out[f"variant_{name}"] = load(base, sets) if base else Scenario().with_overrides(
            _overrides(sets))
    return out


def _overrides(sets: list[str]) -> dict:
    from sim.keypaths import assign
    from sim.scenarios import parse_assignment

    data: dict = {}
    for text in sets:
        assign(data, *parse_assignment(text))
    return data


def outputs(scenario: Scenario, seed: int) -> dict[str, np.ndarray]:
    """A run's daily record, events, summary and front as named arrays (no pickles)."""
    result = run(scenario, seed=seed)
    arrays: dict[str, np.ndarray] = {}
    for prefix, frame in (("daily", result.daily), ("events", result.events),
                          ("front_units", result.front.units)):
        arrays[f"{prefix}.columns"] = np.array(list(frame.columns))
        for column in frame.columns:
            values = frame[column].to_numpy()
            arrays[f"{prefix}.{column}"] = values.astype(str) if values.dtype == object \
                else values
    for key in ("control", "mines", "fortification", "initial_control"):
        arrays[f"front.{key}"] = np.asarray(getattr(result.front, key))
    arrays["front.contingents"] = np.array([f"{s}/{c}" for s, c in result.front.contingents])
    arrays["front.day"] = np.array(result.front.day)
    arrays["summary"] = np.array(json.dumps(result.summary, sort_keys=True))
    return arrays


def path(case: str, seed: int) -> Path:
    return REFERENCE_DIR / f"{case}-seed{seed}.npz"


def main() -> None:
    REFERENCE_DIR.mkdir(exist_ok=True)
    for case, scenario in cases().items():
        for seed in SEEDS:
            np.savez_compressed(path(case, seed), **outputs(scenario, seed))
            print(path(case, seed).name, file=sys.stderr)


if __name__ == "__main__":
    main()
