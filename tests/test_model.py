"""The model's parts each do what docs/ODD.md says: grid and layers, agents, tactics,
mines, morale, wounded care, records, summary and scenario validation."""

import numpy as np
import pytest
from helpers import mean_and_se
from pydantic import ValidationError

from sim import AttritionModel, Scenario, run
from sim.docking import square_law_scenario
from sim.model import SIDES, STATES, Unit
from sim.model.units import IS_FIGHTING

DEFENDER = SIDES.index("defender")

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


def _assert_greater(high: np.ndarray, low: np.ndarray):
    """The mean of ``high`` exceeds that of ``low`` by more than 3 standard errors of
    the difference."""
    (m_high, se_high), (m_low, se_low) = mean_and_se(high), mean_and_se(low)
    assert m_high - m_low > 3 * np.hypot(se_high, se_low), (m_high, se_high, m_low, se_low)


def test_reference_assault_takes_ground():
    """Over ten seeds the reference assault takes ground (mean more than 3 SE above
    none), and its casualties per km are its casualties over the ground taken once the
    mean advance is a cell deep (100 m), none before (ODD 7.9)."""
    ground = []
    for seed in range(10):
        s = run(Scenario(max_days=10), seed=seed).summary
        ground.append(s["ground_gained_m"])
        if s["ground_gained_m"] >= 100.0:
            assert s["attacker_casualties_per_km"] == pytest.approx(
                (s["attacker_killed"] + s["attacker_wounded"]) / (s["ground_gained_m"] / 1000))
        else:
            assert s["attacker_casualties_per_km"] is None
    mean, se = mean_and_se(np.array(ground))
    assert mean > 3 * se


def test_units_rout_when_morale_is_on_and_never_when_it_is_off():
    """The same assault on the same ten seeds: with morale, units rout (more than 3 SE
    more routs than without); without it, no unit breaks in any run."""
    def routs(morale_enabled: bool) -> np.ndarray:
        scenario = Scenario(max_days=6).with_overrides(
            {"combat": {"morale_enabled": morale_enabled}})
        counts = []
        for seed in range(10):
            result = run(scenario, seed=seed)
            counts.append(int((result.events["kind"] == "unit_routed").sum()))
        return np.array(counts, dtype=float)

    on, off = routs(True), routs(False)
    assert (off == 0).all()
    _assert_greater(on, off)


def test_human_wave_walks_into_mines_and_detonates_them():
    """A wave crossing a dense minefield takes mine casualties (on every seed), each
    setting off exactly one mine; the same wave with no mines takes none."""
    def wave(mines_per_cell: float) -> Scenario:
        return Scenario(max_days=3).with_overrides({
            "sector": {"mines_per_cell": mines_per_cell},
            "attacker": {"units": [dict(contingent="wave", count=40, personnel=30,
                                        tactic="human_wave")]}})

    for seed in range(5):
        model = AttritionModel(wave(200.0), rng=seed)
        before = model.grid.mines.data.sum()
        model.run()
        mine_casualties = model.summary()["attacker_casualties_mines"]
        assert mine_casualties > 0
        # Each mine casualty set off exactly one mine (no cell ran out of mines).
        assert model.grid.mines.data[model.grid.mines.data > 0].min() > 1
        assert before - model.grid.mines.data.sum() == pytest.approx(mine_casualties)

        unmined = AttritionModel(wave(0.0), rng=seed)
        unmined.run()
        assert unmined.summary()["attacker_casualties_mines"] == 0
        assert unmined.summary()["attacker_casualties_aimed"] > 0  # it did fight


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
    elastic defence falls back and later retakes cells; against the same wave on the
    same seeds, a fortified defence never moves and never retakes a cell."""
    attackers = {"units": [dict(contingent="wave", count=60, personnel=30, tactic="human_wave")]}
    elastic = Scenario(max_days=15).with_overrides({"attacker": attackers, "defender": {
        "units": [dict(contingent="brigade", count=20, personnel=20, tactic="elastic_defense",
                       training_days=60)]}})
    fortified = Scenario(max_days=15).with_overrides({"attacker": attackers})

    def defence(scenario: Scenario, seed: int) -> tuple[bool, bool]:
        """Whether fighting defenders stood behind their start on some day (fell back,
        not routed), and whether the defence retook a cell."""
        model = AttritionModel(scenario, rng=seed)
        defender = model.units["side"] == DEFENDER
        gave_ground = False
        while model.running:
            model.step()
            fighting = defender & IS_FIGHTING[model.units["state"]]
            gave_ground |= bool((model.units["y_m"][fighting]
                                 > model.units["y0_m"][fighting] + 1).any())
        events = model.events_frame()
        return gave_ground, bool(((events["kind"] == "cell_taken")
                                  & (events["side"] == "defender")).any())

    for seed in range(5):
        assert defence(elastic, seed) == (True, True)
        assert defence(fortified, seed) == (False, False)


def test_wounded_return_after_the_delay_or_are_lost_for_good():
    """All wounded return to duty: each day's returns are the wounded of three days
    before, and nobody is lost for good. None return: nobody comes back and every
    wounded soldier is lost for good (on the day of wounding)."""
    scenario = square_law_scenario(200, 200, 0.05, 0.05, substeps_per_day=4, max_days=8)

    def care(return_fraction: float) -> dict:
        result = run(scenario.with_overrides({
            side: {"return_to_duty_fraction": return_fraction, "return_delay_days": 3}
            for side in ("attacker", "defender")}), seed=1)
        daily = result.daily[result.daily["contingent"] == "all"]
        return {side: daily[daily["side"] == side].set_index("day")
                for side in ("attacker", "defender")}

    for rows in care(1.0).values():
        assert rows["permanently_lost_total"].max() == 0
        assert rows["returned"].sum() > 0
        for day in range(3, 9):
            assert rows.loc[day, "returned"] == rows.loc[day - 3, "wounded"]
    for rows in care(0.0).values():
        assert rows["returned"].max() == 0 and rows["in_care"].max() == 0
        assert rows["wounded_total"].iloc[-1] > 0
        assert (rows["permanently_lost_total"] == rows["wounded_total"]).all()


@pytest.mark.parametrize("killed_fraction", [0.1, 0.5])
def test_killed_share_of_casualties_matches_the_parameter(killed_fraction):
    """Over 20 seeds, the attacker's killed share of casualties is its parameter within
    3 SE (and 3 SE is under 0.05, so that 0.1, 0.25 and 0.5 are told apart); the
    defender, left at the default 0.25, keeps its own share in the same runs."""
    scenario = square_law_scenario(500, 500, 0.05, 0.05, max_days=10)
    scenario = scenario.with_overrides({"attacker": {"killed_fraction": killed_fraction}})
    shares = {"attacker": [], "defender": []}
    for seed in range(20):
        s = run(scenario, seed=seed).summary
        for side, values in shares.items():
            values.append(s[f"{side}_killed"] / (s[f"{side}_killed"] + s[f"{side}_wounded"]))
    for side, expected in (("attacker", killed_fraction),
                           ("defender", scenario.defender.killed_fraction)):
        mean, se = mean_and_se(np.array(shares[side]))
        assert 3 * se < 0.05, f"{side}: too few replicates (SE {se:.3f})"
        assert abs(mean - expected) < 3 * se, f"{side}: {mean:.3f} against {expected}"


def test_fixed_loss_share_replaces_fire_and_mines():
    """With a fixed daily loss share, all the attacker's casualties are of that cause,
    none from aimed fire, area fire or mines; without it, on the same seeds, none are
    and the other causes hit it. The defender's casualties keep their causes in both."""
    def casualties(fixed: float | None, seed: int) -> dict:
        scenario = Scenario(max_days=6).with_overrides(
            {"attacker": {"fixed_daily_loss_fraction": fixed}})
        return run(scenario, seed=seed).summary

    causes = ("aimed", "area", "mines")
    for seed in range(3):
        fixed, free = casualties(0.05, seed), casualties(None, seed)
        assert fixed["attacker_casualties_fixed_rate"] > 0
        assert all(fixed[f"attacker_casualties_{c}"] == 0 for c in causes)
        assert free["attacker_casualties_fixed_rate"] == 0
        assert all(free[f"attacker_casualties_{c}"] > 0 for c in causes)
        for s in (fixed, free):
            assert s["defender_casualties_fixed_rate"] == 0 and s["defender_killed"] > 0


def test_experience_and_theatre_adaptation_grow_in_action_only(small_scenario):
    """Units that were in action gain experience and adaptation; a wave committed after
    the run's last day never is, and keeps what it arrived with."""
    groups = [g.model_dump() for g in small_scenario.attacker.units]
    late = dict(groups[0], contingent="late", count=1, commit_day=small_scenario.max_days + 1)
    scenario = small_scenario.with_overrides({"attacker": {"units": groups + [late]}})
    model = AttritionModel(scenario, rng=0)
    before_adapt = model.units["theatre_adaptation"].copy()
    before_exp = np.array([unit.experience for unit in model.unit_agents])
    model.run()
    after_exp = np.array([unit.experience for unit in model.unit_agents])
    in_action = model.units["days_in_action"] > 0
    assert (model.units["theatre_adaptation"][in_action] >= before_adapt[in_action]).all()
    assert (model.units["theatre_adaptation"][in_action] > before_adapt[in_action]).any()
    assert (after_exp[in_action] > before_exp[in_action]).all()
    never = np.array([unit.contingent == "late" for unit in model.unit_agents])
    assert never.sum() == 1 and not in_action[never].any()
    np.testing.assert_array_equal(model.units["theatre_adaptation"][never],
                                  before_adapt[never])
    np.testing.assert_array_equal(after_exp[never], before_exp[never])


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
