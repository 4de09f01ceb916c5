"""The model's parts each do what docs/ODD.md says: grid and layers, agents, tactics,
mines, morale, wounded care, records, summary and scenario validation."""

import numpy as np
import pytest
from helpers import mean_and_se
from pydantic import ValidationError

from sim import AttritionModel, Scenario, run
from sim.model.units import STATES, Unit
from sim.docking import square_law_scenario

SUMMARY_KEYS = {"days", "stop_reason", "winner", "attacker_killed", "attacker_wounded",
                "defender_killed", "defender_wounded", "loss_exchange_ratio", "ground_gained_m",
                "attacker_casualties_per_km", "training_days_lost"}


def test_sector_grid_and_layers(small_scenario):
    model = AttritionModel(small_scenario, rng=0)
    sector = small_scenario.sector
    assert model.grid.dimensions == (sector.width_cells, sector.depth_cells)
    for layer in ("fortification", "mines", "cover", "control"):
        assert getattr(model.grid, layer).data.shape == (sector.width_cells, sector.depth_cells)
    front = sector.depth_cells - sector.defender_rows
    assert (model.grid.fortification.data[:, front] == sector.fortification_level).all()
    assert (model.grid.mines.data[:, front - 1] == sector.mines_per_cell).all()
    assert (model.grid.mines.data[:, front] == 0).all()
    assert (model.grid.control.data[:, 0] == 0).all()
    assert (model.grid.control.data[:, -1] == 1).all()


def test_units_are_inspectable_mesa_agents_backed_by_the_arrays(small_scenario):
    model = AttritionModel(small_scenario, rng=0)
    units = list(model.agents)
    expected = sum(g.count for side in (small_scenario.attacker, small_scenario.defender)
                   for g in side.units)
    assert len(units) == expected and all(isinstance(u, Unit) for u in units)
    unit = units[0]
    assert unit.side == "attacker" and unit.tactic == "human_wave" and unit.state == "advancing"
    assert unit.cell is not None and unit in unit.cell.agents
    assert 0 <= unit.training_level <= 1 and unit.personnel == 30
    unit.personnel = 7
    assert model.units["personnel"][unit.index] == 7
    assert {u.side for u in units} == {"attacker", "defender"}
    assert all(u.state in STATES for u in units)


def test_summary_has_the_documented_keys_and_consistent_totals(small_scenario):
    result = run(small_scenario, seed=3)
    s = result.summary
    assert SUMMARY_KEYS <= s.keys()
    daily = result.daily
    last = daily[(daily["day"] == s["days"]) & (daily["contingent"] == "all")].set_index("side")
    assert last.loc["attacker", "killed_total"] == s["attacker_killed"]
    assert last.loc["defender", "wounded_total"] == s["defender_wounded"]
    causes = sum(s[f"attacker_casualties_{c}"] for c in ("aimed", "area", "mines", "fixed_rate"))
    assert causes == s["attacker_killed"] + s["attacker_wounded"]
    assert s["loss_exchange_ratio"] == pytest.approx(
        (s["attacker_killed"] + s["attacker_wounded"])
        / (s["defender_killed"] + s["defender_wounded"]))
    assert s["training_days_lost"] == pytest.approx(
        s["attacker_training_days_lost"] + s["defender_training_days_lost"])


def test_reference_assault_takes_ground_and_routs_units():
    result = run(Scenario(max_days=10), seed=5)
    kinds = set(result.events["kind"])
    assert {"cell_taken", "unit_routed"} <= kinds
    assert result.summary["ground_gained_m"] > 0
    assert result.summary["attacker_casualties_per_km"] == pytest.approx(
        (result.summary["attacker_killed"] + result.summary["attacker_wounded"])
        / (result.summary["ground_gained_m"] / 1000))


def test_no_unit_breaks_when_morale_is_off():
    scenario = Scenario(max_days=6).with_overrides({"combat": {"morale_enabled": False}})
    result = run(scenario, seed=5)
    assert "unit_routed" not in set(result.events["kind"])


def test_human_wave_walks_into_mines_and_detonates_them():
    scenario = Scenario(max_days=3).with_overrides({
        "sector": {"mines_per_cell": 200.0},
        "attacker": {"units": [dict(contingent="wave", count=40, personnel=30,
                                    tactic="human_wave")]}})
    model = AttritionModel(scenario, rng=2)
    before = model.grid.mines.data.sum()
    model.run()
    mine_casualties = model.summary()["attacker_casualties_mines"]
    assert mine_casualties > 0
    # Each mine casualty set off exactly one mine (no cell ran out of mines).
    assert model.grid.mines.data[model.grid.mines.data > 0].min() > 1
    assert before - model.grid.mines.data.sum() == pytest.approx(mine_casualties)


def test_sappers_clear_mines_for_those_who_follow():
    sappers = dict(contingent="engineers", count=20, personnel=15, tactic="mine_clearance",
                   training_days=180)
    waves = dict(contingent="wave", count=20, personnel=30, tactic="human_wave",
                 commit_day=6)

    def mine_losses_of_wave(with_sappers: bool, seed: int) -> float:
        units = [sappers, waves] if with_sappers else [waves]
        scenario = Scenario(max_days=9).with_overrides({
            "attacker": {"units": units},
            "defender": {"aimed_kills_per_shooter_per_day": 0.0,
                         "artillery_strikes_per_day": 0.0, "drones": 0}})
        model = AttritionModel(scenario, rng=seed)
        model.run()
        wave = model.units["contingent"] == model.contingents.index(("attacker", "wave"))
        lost = model.units["initial_personnel"][wave] - model.units["personnel"][wave]
        return lost.sum() / model.units["initial_personnel"][wave].sum()

    seeds = range(8)
    cleared = np.array([mine_losses_of_wave(True, s) for s in seeds])
    uncleared = np.array([mine_losses_of_wave(False, s) for s in seeds])
    (m_c, se_c), (m_u, se_u) = mean_and_se(cleared), mean_and_se(uncleared)
    assert m_u - m_c > 3 * np.hypot(se_c, se_u)


def test_elastic_defence_gives_ground_and_takes_it_back():
    """Against a wave with more than the fall-back ratio locally, on every seed, the
    elastic defence falls back and later retakes cells; a fortified defence never moves."""
    attackers = {"units": [dict(contingent="wave", count=60, personnel=30, tactic="human_wave")]}
    elastic = Scenario(max_days=15).with_overrides({"attacker": attackers, "defender": {
        "units": [dict(contingent="brigade", count=20, personnel=20, tactic="elastic_defense",
                       training_days=60)]}})
    for seed in range(5):
        model = AttritionModel(elastic, rng=seed)
        defender = model.units["side"] == 1
        gave_ground = False
        while model.running:
            model.step()
            gave_ground |= bool((model.units["y_m"][defender]
                                 > model.units["y0_m"][defender] + 1).any())
        events = model.events_frame()
        assert gave_ground
        assert ((events["kind"] == "cell_taken") & (events["side"] == "defender")).any()
    fortified = AttritionModel(Scenario(max_days=15).with_overrides({"attacker": attackers}),
                               rng=0)
    fortified.run()
    defender = fortified.units["side"] == 1
    assert np.array_equal(fortified.units["y_m"][defender], fortified.units["y0_m"][defender])


def test_wounded_return_after_the_delay():
    scenario = square_law_scenario(200, 200, 0.05, 0.05, substeps_per_day=4, max_days=8)
    scenario = scenario.with_overrides({
        side: {"return_to_duty_fraction": 1.0, "return_delay_days": 3}
        for side in ("attacker", "defender")})
    result = run(scenario, seed=1)
    daily = result.daily[result.daily["contingent"] == "all"]
    for side in ("attacker", "defender"):
        rows = daily[daily["side"] == side].set_index("day")
        assert rows["permanently_lost_total"].max() == 0
        for day in range(3, 9):
            assert rows.loc[day, "returned"] == rows.loc[day - 3, "wounded"]


def test_killed_share_of_casualties_matches_the_parameter():
    scenario = square_law_scenario(500, 500, 0.05, 0.05, max_days=10)
    scenario = scenario.with_overrides({"attacker": {"killed_fraction": 0.1}})
    shares = []
    for seed in range(10):
        s = run(scenario, seed=seed).summary
        shares.append(s["attacker_killed"] / (s["attacker_killed"] + s["attacker_wounded"]))
    mean, se = mean_and_se(np.array(shares))
    assert abs(mean - 0.1) < 3 * se


def test_experience_and_theatre_adaptation_grow_in_action(small_scenario):
    model = AttritionModel(small_scenario, rng=0)
    before_adapt = model.units["theatre_adaptation"].copy()
    before_exp = model.experience().copy()
    model.run()
    in_action = model.units["days_in_action"] > 0
    assert (model.units["theatre_adaptation"][in_action] >= before_adapt[in_action]).all()
    assert (model.units["theatre_adaptation"][in_action] > before_adapt[in_action]).any()
    assert (model.experience()[in_action] > before_exp[in_action]).all()


@pytest.mark.parametrize("overrides, message", [
    ({"sector": {"width": 3}}, "Extra inputs are not permitted"),
    ({"defender": {"units": [dict(contingent="x", count=1, personnel=5,
                                  tactic="human_wave")]}}, "not a defender tactic"),
    ({"attacker": {"units": [dict(contingent="x", count=1, personnel=-5,
                                  tactic="human_wave")]}}, "greater than or equal to 1"),
    ({"sector": {"depth_cells": 5}}, "depth_cells: 5 is less than attacker_rows"),
    ({"combat": {"substeps_per_day": "many"}}, "valid integer"),
])
def test_scenario_validation_names_the_problem(overrides, message):
    with pytest.raises(ValidationError, match=message):
        Scenario().with_overrides(overrides)


def test_a_finished_model_is_freed():
    """Nothing global keeps a model alive once its user lets go (Mesa 3.3's class-level
    id counters did), so sweeps that run thousands of models in one process stay flat."""
    import gc
    import weakref

    model = AttritionModel(Scenario(max_days=2), rng=0)
    model.run()
    ids = sorted(agent.unique_id for agent in model.agents)
    assert ids == list(range(1, len(ids) + 1))
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None
