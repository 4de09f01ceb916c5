"""Docking configurations: the model reduced until Lanchester theory predicts it.

Homogeneous units, one fire mechanism, everyone in range, nobody moves, no morale,
mines, cover, fortification, skill or returning wounded, and fine sub-steps. Then
(see ``docs/ODD.md`` section 8):

* aimed fire only -> the square law with ``alpha = aimed kill rate of A's shooters``;
* organic area fire only -> the linear law with
  ``beta = strikes per B person * lethal area / A's footprint``;
* one unit a side with few people -> Brown's stochastic square law.

>>> s = square_law_scenario(100, 80, alpha=0.05, beta=0.05)
>>> s.attacker.aimed_kills_per_shooter_per_day, s.combat.morale_enabled
(0.05, False)
"""

from __future__ import annotations

from typing import Any

from sim.config import Scenario

# Tactic fields that make fire, exposure and skill the same for everyone, and stop movement.
_NEUTRAL_TACTIC = dict(advance_speed_m_per_day=0.0, assault_speed_m_per_day=0.0,
                       fire_multiplier=1.0, exposure=1.0, training_leverage=0.0,
                       mine_exposure=0.0)
SPACING_M = 10.0
LETHAL_AREA_M2 = 50.0


def _side(strength: int, unit_size: int, tactic: str, **fire: Any) -> dict[str, Any]:
    if strength % unit_size:
        raise ValueError(f"strength {strength} is not a multiple of unit size {unit_size}")
    side = dict(units=[dict(contingent="homogeneous", count=strength // unit_size,
                            personnel=unit_size, tactic=tactic, training_days=0.0,
                            base_training_level=0.0)],
                aimed_kills_per_shooter_per_day=0.0, artillery_strikes_per_day=0.0, drones=0,
                killed_fraction=0.25, return_to_duty_fraction=0.0)
    return side | fire


def _scenario(attacker: dict, defender: dict, substeps_per_day: int, max_days: int) -> Scenario:
    # One start cell per unit, in a sector so small (1 m cells) that all are in range.
    lanes = max(g["count"] for side in (attacker, defender) for g in side["units"])
    return Scenario.model_validate(dict(
        name="docking", max_days=max_days,
        sector=dict(width_cells=lanes, depth_cells=3, cell_size_m=1.0, attacker_rows=1,
                    defender_rows=1,
                    fortified_rows=0, minefield_rows=0, mines_per_cell=0.0, cover=0.0,
                    defended_cover=0.0, fortification_level=0.0),
        combat=dict(substeps_per_day=substeps_per_day, aimed_fire_range_m=300.0,
                    morale_enabled=False),
        tactics={t: dict(_NEUTRAL_TACTIC, spacing_m=SPACING_M)
                 for t in ("human_wave", "fortified_defense")},
        attacker=attacker, defender=defender))


def square_law_scenario(a0: int, b0: int, alpha: float, beta: float, unit_size: int = 10,
                        substeps_per_day: int = 24, max_days: int = 365) -> Scenario:
    """Aimed fire only: the model's mean follows ``dA/dt = -beta B``, ``dB/dt = -alpha A``."""
    return _scenario(_side(a0, unit_size, "human_wave", aimed_kills_per_shooter_per_day=alpha),
                     _side(b0, unit_size, "fortified_defense",
                           aimed_kills_per_shooter_per_day=beta),
                     substeps_per_day, max_days)


def linear_law_scenario(a0: int, b0: int, alpha: float, beta: float, unit_size: int = 100,
                        substeps_per_day: int = 24, max_days: int = 365) -> Scenario:
    """Organic area fire only: the model's mean follows ``dA/dt = -beta A B``,
    ``dB/dt = -alpha A B``.

    A person of A faces ``strikes * lethal_area / footprint_A`` with
    ``strikes = s_B * B`` and ``footprint_A = a0 * spacing^2``, so ``s_B`` is chosen as
    ``beta * footprint_A / lethal_area``.
    """
    def strikes_per_person(coefficient: float, target_strength: int) -> float:
        return coefficient * target_strength * SPACING_M**2 / LETHAL_AREA_M2

    return _scenario(
        _side(a0, unit_size, "human_wave",
              area_strikes_per_person_per_day=strikes_per_person(alpha, b0),
              organic_lethal_area_m2=LETHAL_AREA_M2),
        _side(b0, unit_size, "fortified_defense",
              area_strikes_per_person_per_day=strikes_per_person(beta, a0),
              organic_lethal_area_m2=LETHAL_AREA_M2),
        substeps_per_day, max_days)


def stock_and_flow_scenario(line0: int, daily_loss_fraction: float, recruits_per_day: int,
                            training_days: int, pool: int, unit_size: int = 50,
                            max_days: int = 60) -> Scenario:
    """Combat replaced by a fixed daily loss share of the attacker's line, fed by a
    constant recruitment through training: :func:`sim.model.pipelines.stock_and_flow` predicts
    its mean line strength and the day its pool runs out. Everyone lost is killed, so
    nobody returns, and every graduate refills the line at once."""
    attacker = _side(line0, unit_size, "human_wave", fixed_daily_loss_fraction=daily_loss_fraction,
                     killed_fraction=1.0)
    attacker["contingents"] = {"homogeneous": dict(
        pool=pool, recruits_per_day=float(recruits_per_day), training_days=float(training_days),
        refill_below_strength=1.0)}
    defender = _side(unit_size, unit_size, "fortified_defense", fixed_daily_loss_fraction=0.0)
    return _scenario(attacker, defender, substeps_per_day=4, max_days=max_days)
