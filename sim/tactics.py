"""Tactics: their names, the profile of each (how it moves, fires, exposes its people and
uses their skill) and the defaults a scenario's ``tactics`` table overrides field by
field (``docs/ODD.md`` section 7.10).

    >>> TacticProfile(**DEFAULT_TACTICS["infiltration"]).spacing_m
    15.0
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from sim.fields import MAX_QUANTITY, Fraction, NonNegative, StrictModel

ATTACK_TACTICS = ("human_wave", "infiltration", "mine_clearance")
DEFENCE_TACTICS = ("fortified_defense", "elastic_defense")
TACTICS = ATTACK_TACTICS + DEFENCE_TACTICS

Tactic = Literal["human_wave", "infiltration", "mine_clearance", "fortified_defense",
                 "elastic_defense"]


class TacticProfile(StrictModel):
    """How a tactic moves, fires, exposes its people and uses their skill."""

    # At least 10 cm: closer is no formation, and a footprint (personnel x spacing^2)
    # must not round to zero.
    spacing_m: Annotated[float, Field(ge=0.1, le=MAX_QUANTITY)] = Field(
        description="Distance between soldiers (m); a unit's footprint is personnel x spacing^2.")
    advance_speed_m_per_day: NonNegative = Field(
        description="Speed before contact (m/day).")
    assault_speed_m_per_day: NonNegative = Field(
        description="Speed once an enemy is within aimed-fire range (m/day); for an elastic "
                    "defence, the speed of falling back and counter-attacking.")
    fire_multiplier: NonNegative = Field(
        description="Aimed-fire effectiveness relative to the side's base kill rate (-).")
    exposure: NonNegative = Field(
        description="Multiplier on the chance that fire aimed at or landing on the unit hits "
                    "someone: posture, use of ground (-).")
    training_leverage: Fraction = Field(
        description="Share of training and experience the tactic turns into skill (-): a human "
                    "wave leaves little room for skill.")
    mine_exposure: Fraction = Field(
        description="Share of personnel who walk their own path through a minefield (-): "
                    "dispersed lines all do, files following a point man mostly do not.")
    break_morale: Fraction = Field(
        description="Morale below which the unit breaks and routs (-).")
    clears_mines: bool = Field(
        default=False, description="Whether the unit stops in mined cells to clear them.")


DEFAULT_TACTICS: dict[str, dict[str, Any]] = {
    "human_wave": dict(spacing_m=4.0, advance_speed_m_per_day=3000.0,
                       assault_speed_m_per_day=1500.0, fire_multiplier=0.6, exposure=1.0,
                       training_leverage=0.2, mine_exposure=1.0, break_morale=0.15),
    "infiltration": dict(spacing_m=15.0, advance_speed_m_per_day=800.0,
                         assault_speed_m_per_day=300.0, fire_multiplier=1.0, exposure=0.6,
                         training_leverage=1.0, mine_exposure=0.2, break_morale=0.4),
    "mine_clearance": dict(spacing_m=8.0, advance_speed_m_per_day=1000.0,
                           assault_speed_m_per_day=300.0, fire_multiplier=0.5, exposure=0.9,
                           training_leverage=0.6, mine_exposure=0.5, break_morale=0.3,
                           clears_mines=True),
    "fortified_defense": dict(spacing_m=10.0, advance_speed_m_per_day=0.0,
                              assault_speed_m_per_day=0.0, fire_multiplier=1.0, exposure=1.0,
                              training_leverage=0.8, mine_exposure=0.0, break_morale=0.25),
    "elastic_defense": dict(spacing_m=15.0, advance_speed_m_per_day=0.0,
                            assault_speed_m_per_day=1500.0, fire_multiplier=1.0, exposure=0.8,
                            training_leverage=1.0, mine_exposure=0.0, break_morale=0.35),
}


def tactic_table() -> str:
    """Markdown table of the default tactic profiles, one column per tactic."""
    fields = list(TacticProfile.model_fields)
    rows = ["| field | " + " | ".join(f"`{t}`" for t in TACTICS) + " |",
            "| --- |" + " --- |" * len(TACTICS)]
    for field in fields:
        values = [TacticProfile(**DEFAULT_TACTICS[t]).model_dump()[field] for t in TACTICS]
        rows.append(f"| `{field}` | " + " | ".join(str(v) for v in values) + " |")
    return "\n".join(rows)
