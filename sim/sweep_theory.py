"""Theory that a sweep's report draws over the model's means (an experiment's
``[report] theory = NAME``): what the theory predicts of each run-summary key at a
design point's scenario, and where that scenario departs from the theory's assumptions.

``lanchester``: Lanchester's square law (:mod:`sim.lanchester`) for the docking
configurations of :mod:`sim.docking` (``docs/ODD.md`` section 8): aimed fire only,
everyone in range, nobody moving, breaking, returning or arriving. From the sides'
strengths ``A0``, ``B0`` (units x personnel) and their aimed kill rates ``alpha``,
``beta`` it predicts the survivors (``sqrt(A0^2 - beta/alpha B0^2)`` of the side with
the larger ``alpha A0^2``, none of the other), the casualties and their killed share,
the exchange ratio and the day the losing side reaches zero.

    >>> from sim.docking import square_law_scenario
    >>> found = LANCHESTER.predict(square_law_scenario(200, 150, alpha=0.05, beta=0.05))
    >>> round(found["attacker_personnel"], 1), found["defender_personnel"], round(found["days"], 2)
    (132.3, 0.0, 19.46)
    >>> LANCHESTER.departures(square_law_scenario(200, 150, alpha=0.05, beta=0.05))
    []
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pydantic import ValidationError

from sim.config import Scenario
from sim.experiments import scenario_at
from sim.lanchester import square_law_survivors


@dataclass(frozen=True)
class Theory:
    """A theory's ``title`` (as a legend says it), its ``predict`` (a scenario to the
    predicted value of run-summary keys) and its ``departures`` (a scenario to the ways
    it breaks the theory's assumptions, each a plain sentence; none when it holds).
    ``offsets``: per run-summary key, why the model departs from the prediction by
    construction (a report says it beside a systematic error); ``steep``: per key, why
    the prediction may soar between a sweep's levels (a figure says it where its curve
    leaves the axis)."""

    name: str
    title: str
    predict: Callable[[Scenario], dict[str, float]]
    departures: Callable[[Scenario], list[str]]
    offsets: dict[str, str] = field(default_factory=dict)
    steep: dict[str, str] = field(default_factory=dict)


def _strength(scenario: Scenario, side: str) -> int:
    return sum(g.count * g.personnel for g in getattr(scenario, side).units)


def square_law_end_day(a0: float, b0: float, alpha: float, beta: float) -> float:
    """The day the losing side reaches zero under the square law (``inf`` at parity or
    with no fire at all): ``atanh(r) / sqrt(alpha beta)``, ``r`` the loser's
    ``sqrt(effectiveness) x strength`` over the winner's.

    >>> round(square_law_end_day(200, 150, 0.05, 0.05), 3), square_law_end_day(1, 1, 1, 1)
    (19.459, inf)
    """
    strength_a, strength_b = math.sqrt(alpha) * a0, math.sqrt(beta) * b0
    if alpha == 0 or beta == 0:
        # One side does not fire: the other's strength falls linearly.
        if alpha == 0 and beta == 0:
            return math.inf
        return a0 / (beta * b0) if alpha == 0 else b0 / (alpha * a0)
    if math.isclose(strength_a, strength_b, rel_tol=1e-12):
        return math.inf
    ratio = min(strength_a, strength_b) / max(strength_a, strength_b)
    return math.atanh(ratio) / math.sqrt(alpha * beta)


def lanchester_prediction(scenario: Scenario) -> dict[str, float]:
    """The square law's end state of a docking scenario, as run-summary keys: survivors
    (``*_personnel``), casualties to aimed fire, killed and wounded (by the side's
    ``killed_fraction``), the loss exchange ratio and the length of the run (``days``:
    the time the loser reaches zero, at most ``max_days``; the model counts the day in
    which its last loser falls, so its ``days`` run up to one above this)."""
    a0, b0 = _strength(scenario, "attacker"), _strength(scenario, "defender")
    alpha = scenario.attacker.aimed_kills_per_shooter_per_day
    beta = scenario.defender.aimed_kills_per_shooter_per_day
    if alpha > 0 and beta > 0:
        a_end, b_end = square_law_survivors(a0, b0, alpha, beta)
    else:
        a_end, b_end = (a0 if beta == 0 else 0.0), (b0 if alpha == 0 else 0.0)
    end = square_law_end_day(a0, b0, alpha, beta)
    out: dict[str, float] = {"days": min(end, float(scenario.max_days))}
    if end > scenario.max_days:
        # The battle outlasts the run: the strengths at max_days, not the survivors.
        from sim.lanchester import solve

        trajectory = solve(a0, b0, alpha, beta, "square", t_max=scenario.max_days,
                           t_eval=[0.0, float(scenario.max_days)])
        a_end, b_end = float(trajectory.a[-1]), float(trajectory.b[-1])
    for side, start, left in (("attacker", a0, a_end), ("defender", b0, b_end)):
        lost = start - left
        share = getattr(scenario, side).killed_fraction
        out |= {f"{side}_personnel": left, f"{side}_casualties_aimed": lost,
                f"{side}_killed": share * lost, f"{side}_wounded": (1 - share) * lost}
    lost_b = b0 - b_end
    out["loss_exchange_ratio"] = (a0 - a_end) / lost_b if lost_b > 0 else math.nan
    return out


def lanchester_departures(scenario: Scenario) -> list[str]:
    """Where a scenario breaks the square law's assumptions (``docs/ODD.md`` 8)."""
    out = []
    if scenario.combat.morale_enabled:
        out.append("combat.morale_enabled is true (units break before they are wiped out)")
    for side in ("attacker", "defender"):
        config = getattr(scenario, side)
        for key in ("area_strikes_per_person_per_day", "artillery_strikes_per_day", "drones"):
            if getattr(config, key):
                out.append(f"{side}.{key} is {getattr(config, key)} (fire other than aimed)")
        if config.fixed_daily_loss_fraction is not None:
            out.append(f"{side}.fixed_daily_loss_fraction is set (losses not from fire)")
        if config.return_to_duty_fraction:
            out.append(f"{side}.return_to_duty_fraction is {config.return_to_duty_fraction} "
                       f"(wounded return)")
        if config.tempo or config.tempo_variation:
            out.append(f"{side}.tempo varies the intensity")
        if any(c.pool or c.tranches or c.reinforcements for c in config.contingents.values()):
            out.append(f"{side}.contingents bring recruits or reinforcements")
        for i, group in enumerate(config.units):
            if scenario.wave_days(group) != [0]:
                out.append(f"{side}.units[{i}] does not all enter on day 0")
            tactic = scenario.tactics[group.tactic]
            uneven = [k for k, neutral in (("fire_multiplier", 1.0), ("exposure", 1.0))
                      if getattr(tactic, k) != neutral]
            moving = [k for k in ("advance_speed_m_per_day", "assault_speed_m_per_day")
                      if getattr(tactic, k)]
            if uneven or moving or (tactic.training_leverage and (
                    group.training_days or group.base_training_level or group.experience_days)):
                out.append(f"tactics.{group.tactic} is not neutral "
                           f"({', '.join(uneven + moving) or 'skill'})")
    sector = scenario.sector
    if sector.fortified_rows and sector.fortification_level:
        out.append("sector.fortification_level protects the defender")
    if sector.cover or sector.defended_cover:
        out.append("sector.cover protects")
    if sector.minefield_rows and sector.mines_per_cell:
        out.append("sector.mines_per_cell adds mines")
    reach = math.hypot(sector.width_cells, sector.depth_cells) * sector.cell_size_m
    if scenario.combat.aimed_fire_range_m < reach:
        out.append(f"combat.aimed_fire_range_m ({scenario.combat.aimed_fire_range_m:g}) is "
                   f"shorter than the sector ({reach:g} m): not everyone is in range")
    return list(dict.fromkeys(out))


LANCHESTER = Theory(
    "lanchester", "Lanchester's square law", lanchester_prediction, lanchester_departures,
    offsets={"days": "the model counts the day in which the last loser falls, so its days "
                     "run up to one above the law's continuous time"},
    steep={"days": "the law's battle lasts longer the nearer the sides are to parity "
                   "and never ends at exact parity (cut at max_days)"})
#: The theories an experiment may name in ``[report] theory``.
THEORIES: dict[str, Theory] = {"lanchester": LANCHESTER}


def predictions(theory: Theory, base: dict[str, Any],
                points: list[dict[str, Any]]) -> pd.DataFrame:
    """The theory's predictions at each point (a row: the point's values, then one
    column per predicted key, ``departures``: the assumptions it breaks, joined by
    "; ", and ``attacker_strength_persons``, ``defender_strength_persons``: each side's
    persons at the start, units x personnel); a point whose scenario is invalid gets
    none (it cannot be run either)."""
    rows = []
    for params in points:
        try:
            scenario = scenario_at(base, params)
        except (KeyError, ValueError, ValidationError):
            rows.append(dict(params))
            continue
        rows.append({**params, **theory.predict(scenario),
                     "departures": "; ".join(theory.departures(scenario)),
                     "attacker_strength_persons": _strength(scenario, "attacker"),
                     "defender_strength_persons": _strength(scenario, "defender")})
    return pd.DataFrame(rows)
