"""Seconds per simulated day as the number of units grows (front widened in step).

    python benchmarks/scaling.py

Per-day cost should grow linearly with the number of units: combat is numpy over
units and cells, never over pairs of units. Issue 8 turns this into a full benchmark
against Mesa's reference models.
"""

import time

from sim import AttritionModel, Scenario


def seconds_per_day(scale: int, days: int = 5, seed: int = 0) -> tuple[int, float]:
    scenario = Scenario(max_days=days).with_overrides({
        "sector": {"width_cells": 20 * scale},
        "attacker": {"units": [dict(contingent="wave", count=40 * scale, personnel=30,
                                    tactic="human_wave"),
                               dict(contingent="regulars", count=20 * scale, personnel=20,
                                    tactic="infiltration")]},
        "defender": {"units": [dict(contingent="brigade", count=40 * scale, personnel=20,
                                    tactic="fortified_defense")],
                     "drones": 25 * scale, "artillery_strikes_per_day": 200.0 * scale},
        # Morale off, so that the same number of units stays in action every day.
        "combat": {"morale_enabled": False}})
    model = AttritionModel(scenario, rng=seed)
    start = time.perf_counter()
    model.run()
    return len(model.units["side"]), (time.perf_counter() - start) / model.day


if __name__ == "__main__":
    print(f"{'units':>8} {'s/day':>10} {'ms/day per 100 units':>22}")
    for scale in (1, 4, 16, 64):
        units, per_day = seconds_per_day(scale)
        print(f"{units:>8} {per_day:>10.4f} {per_day * 1e3 / units * 100:>22.3f}")
