"""What a class controls on the demo page, and the model the page runs.

Each control sets one or more scenario keys. A control left at the scenario's own value
changes nothing, so a scenario whose groups differ (say, two tactics) keeps them until
the teacher moves that control; a moved control sets the key for every group or
contingent of the side. Notebooks can use the same knobs:

    >>> from sim import scenarios
    >>> base = scenarios.load("recruit_pool_exhaustion")
    >>> control_values(base)["recruits_per_day"]
    120.0
    >>> changed = apply_controls(base, recruits_per_day=60, tactic="infiltration")
    >>> changed.attacker.contingents["mobilised"].recruits_per_day
    60.0
    >>> {g.tactic for g in changed.attacker.units}
    {'infiltration'}
    >>> ClassroomModel(base, fortification_level=0.2, seed=3).config.sector.fortification_level
    0.2
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from sim import scenarios
from sim.config import Scenario
from sim.keypaths import assign, select
from sim.model import AttritionModel
from sim.tactics import ATTACK_TACTICS

DEMO_SCENARIO = "recruit_pool_exhaustion"
# The select's entry for "leave each group's tactic as the scenario has it".
MIXED = "as in the scenario"


@dataclass(frozen=True)
class Control:
    """One control: its label (with unit), the scenario keys it sets, and its range."""

    label: str
    keys: tuple[str, ...]
    low: float = 0
    high: float = 1
    step: float = 1
    choices: tuple[str, ...] = ()
    # Needs an attacker contingent with a recruit pool to have any effect.
    needs_pool: bool = False
    #: How a value is shown on the page: "{}" filled with the value, e.g. "{} days".
    unit: str = "{}"

    def _values(self, data: dict) -> list:
        """The control's value in every group or contingent of ``data``."""
        return [value for key in self.keys for value in select(data, key)]

    def spread(self, data: dict) -> tuple[Any, Any] | None:
        """(lowest, highest) value across the groups or contingents of a scenario's
        ``data`` where they differ (a numeric control shows the first group's value and
        sets every group when moved), else None."""
        found = self._values(data)
        if self.choices or len(set(found)) < 2:
            return None
        return min(found), max(found)

    def shown(self, value: Any) -> str:
        """``value`` as the page shows it, with its unit: "30 days", "0.60".

        >>> CONTROLS["fortification_level"].shown(0.6)
        '0.60'
        >>> CONTROLS["recruits_per_day"].shown(120.0)
        '120 a day'
        """
        if value is None or isinstance(value, str):
            return str(value)
        return self.unit.format(self._number(value))

    def shown_range(self, low: float, high: float) -> str:
        """A range of values with its unit once: "14 to 180 days"."""
        return self.unit.format(f"{self._number(low)} to {self._number(high)}")

    def _number(self, value: float) -> str:
        return f"{value:.0f}" if float(self.step).is_integer() else f"{value:.2f}"

    def read(self, data: dict) -> Any:
        """The value in a scenario's ``data`` (``model_dump()``): the first group's or
        contingent's; for a choice that differs between groups, :data:`MIXED`."""
        found = self._values(data)
        if not found:
            return None
        if self.choices and len(set(found)) > 1:
            return MIXED
        return found[0]


CONTROLS: dict[str, Control] = {
    "tactic": Control("Attacker tactic", ("attacker.units[*].tactic",),
                      choices=(MIXED, *ATTACK_TACTICS)),
    "attacker_training_days": Control("Attacker training (days)",
                                      ("attacker.units[*].training_days",), 0, 730, 5,
                                      unit="{} days"),
    "fortification_level": Control("Fortification level (0-1)",
                                   ("sector.fortification_level",), 0, 1, 0.05),
    "defender_drones": Control("Defender drones over the sector", ("defender.drones",),
                               0, 200, 5, unit="{} drones"),
    "recruits_per_day": Control("Attacker recruits a day (persons)",
                                ("attacker.contingents[*].recruits_per_day",), 0, 500, 5,
                                needs_pool=True, unit="{} a day"),
    "recruit_training_days": Control("Recruits' training length (days)",
                                     ("attacker.contingents[*].training_days",), 0, 365, 5,
                                     needs_pool=True, unit="{} days"),
}


def has_recruit_pool(scenario: Scenario) -> bool:
    """Whether the attacker recruits at all: a pool or drafts in some contingent."""
    return any(c.pool > 0 or c.tranches for c in scenario.attacker.contingents.values())


def controls_for(scenario: Scenario) -> dict[str, Control]:
    """The controls that can change this scenario: recruitment and training length only
    where the attacker has a recruit pool."""
    pool = has_recruit_pool(scenario)
    return {name: c for name, c in CONTROLS.items() if pool or not c.needs_pool}


def control_values(scenario: Scenario) -> dict[str, Any]:
    """Each control's value in ``scenario`` (see :meth:`Control.read`)."""
    data = scenario.model_dump()
    return {name: control.read(data) for name, control in controls_for(scenario).items()}


def control_spreads(scenario: Scenario) -> dict[str, tuple[Any, Any]]:
    """The controls whose groups or contingents differ in ``scenario``, with their
    (lowest, highest) values (see :meth:`Control.spread`).

    >>> from sim import scenarios
    >>> control_spreads(scenarios.load("bakhmut_2022_2023"))["attacker_training_days"]
    (14.0, 180.0)
    """
    data = scenario.model_dump()
    spreads = {name: control.spread(data) for name, control in controls_for(scenario).items()}
    return {name: spread for name, spread in spreads.items() if spread is not None}


def apply_controls(base: Scenario, **values: Any) -> Scenario:
    """``base`` with the controls that differ from its own values applied to every
    group or contingent; ``None`` leaves a control alone. ValueError (one line) for an
    unknown control or a value the scenario does not allow."""
    known = controls_for(base)
    unknown = sorted(set(values) - set(CONTROLS))
    if unknown:
        raise ValueError(f"unknown control {unknown[0]}; allowed: {', '.join(CONTROLS)}")
    own = control_values(base)
    data = base.model_dump()
    for name, value in values.items():
        if value is None or name not in known or value == own[name] or value == MIXED:
            continue
        for key in CONTROLS[name].keys:
            assign(data, key, value)
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ValueError(str(scenarios.explain(err, "controls"))) from None


class ClassroomModel(AttritionModel):
    """The model of the demo page: a scenario with the class's controls applied.

    Mesa's page rebuilds the model on Reset by calling this class with the controls'
    values as keywords; ``base`` stays fixed. Parameters are those of
    :data:`CONTROLS` plus ``seed`` (int)."""

    def __init__(self, base: Scenario | None = None, *, tactic: str | None = None,
                 attacker_training_days: float | None = None,
                 fortification_level: float | None = None,
                 defender_drones: int | None = None, recruits_per_day: float | None = None,
                 recruit_training_days: float | None = None, seed: int = 0):
        self.base = base if base is not None else scenarios.load(DEMO_SCENARIO)
        self.seed = int(seed)
        scenario = apply_controls(
            self.base, tactic=tactic, attacker_training_days=attacker_training_days,
            fortification_level=fortification_level, defender_drones=defender_drones,
            recruits_per_day=recruits_per_day, recruit_training_days=recruit_training_days)
        super().__init__(scenario, rng=self.seed)
