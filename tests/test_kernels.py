"""The compiled sub-step (sim/model/kernels.py) computes what docs/ODD.md defines: aimed
fire over the contact band is aimed fire over the whole sector and its pairwise
definition, and the units the sub-step keeps through a day are the units in the sector."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import njit

from sim import AttritionModel, Scenario
from sim.model import kernels
from sim.model import physics as combat
from sim.model.casualties import generator_addresses, generator_at
from sim.model.combat import Combat
from sim.model.kernels import ENGAGED_DTYPE, RULES_DTYPE, AreaFire, Band
from sim.model.sector import Ground
from sim.model.units import ADVANCING, ATTACKER, HOLDING, IS_FIGHTING, ROUTED, new_units
from sim.scenarios import load

CELL_M = 100.0
DT = 1 / 24


@st.composite
def sectors(draw):
    """Units of both sides scattered over a small sector: some fighting, some routed,
    some defenders elastic; random control and mines."""
    width, depth = draw(st.integers(1, 12)), draw(st.integers(3, 30))
    n = draw(st.integers(0, 40))

    def column(strategy):
        return draw(st.lists(strategy, min_size=n, max_size=n))

    side = np.array(column(st.integers(0, 1)), dtype=np.int64)
    routed = np.array(column(st.booleans()), dtype=bool)
    row = np.array(column(st.integers(0, depth - 1)), dtype=np.int64)
    y_m = (row + np.array(column(st.floats(0.0, 0.999)))) * CELL_M
    cells = depth * width
    return {
        "width": width, "depth": depth, "radius": draw(st.integers(1, 5)), "side": side,
        "x": np.array(column(st.integers(0, width - 1)), dtype=np.int64), "row": row,
        "y_m": y_m, "y0_m": y_m + np.array(column(st.floats(-150.0, 150.0))),
        "personnel": np.array(column(st.integers(1, 100)), dtype=np.int64),
        "state": np.where(routed, ROUTED, np.where(side == ATTACKER, ADVANCING, HOLDING)),
        "kill_rate": np.array(column(st.floats(0.0, 0.2))),
        "elastic": (side != ATTACKER) & np.array(column(st.booleans()), dtype=bool),
        "control": np.array(draw(st.lists(st.integers(-1, 1), min_size=cells,
                                          max_size=cells)), dtype=np.int64),
        "mines": np.array(draw(st.lists(st.floats(0.0, 5.0), min_size=cells,
                                        max_size=cells))),
    }


def whole_sector_grids(s):
    """Personnel and fire by side over every row: what the contact band stands for."""
    own = s["side"] * s["width"] * s["depth"] + s["x"] * s["depth"] + s["row"]
    fighting = IS_FIGHTING[s["state"]]
    weights = s["personnel"].astype(float)
    shape = (2, s["width"], s["depth"])
    present = np.bincount(own, weights=weights, minlength=np.prod(shape))
    fire = np.bincount(own, weights=np.where(fighting, weights * s["kill_rate"] * DT, 0.0),
                       minlength=np.prod(shape))
    return present.reshape(shape), fire.reshape(shape)


def engaged(s):
    """The units of a drawn sector as the kernels take them (rows 0..n-1 of the column
    store), with no exposure reduction, no skill and no drone fire."""
    n = s["side"].size
    e = np.zeros(n, dtype=ENGAGED_DTYPE)
    e["index"] = np.arange(n)
    for name in ("side", "x", "row", "y_m", "y0_m", "personnel", "state", "kill_rate",
                 "elastic"):
        e[name] = s[name]
    e["attacking"] = s["side"] == ATTACKER
    e["cell"] = s["x"] * s["depth"] + s["row"]
    e["side_cell"] = s["side"] * s["width"] * s["depth"]
    e["exposure"] = e["mine_exposure"] = 1.0
    e["advance_speed_m_per_day"], e["assault_speed_m_per_day"] = 3000.0, 1500.0
    e["fighting"] = IS_FIGHTING[s["state"]]
    return e


def plan(s, band_first, band_rows, present, fire):
    """The sub-step's hazards, states and moves from given aimed-fire grids; protection
    is 1 and there is no area fire, so the aimed hazard is the kills per person."""
    per_target = in_range = present
    if band_rows:
        per_target, in_range = combat.aimed_fire(present, fire, s["radius"])
    n, cells = s["side"].size, s["width"] * s["depth"]
    e = engaged(s)
    band = Band(band_first, band_rows, per_target.reshape(-1), in_range.reshape(-1),
                present.reshape(-1))
    ground = Ground(np.ones(cells), np.ones(2 * cells), s["mines"], s["control"],
                    np.zeros(cells), s["width"], s["depth"], CELL_M, CELL_M**2,
                    s["depth"] // 2)
    rules = np.array([(1, DT, False, 0.5, 2.0, 0.05, 3000.0, 3.0, 1.0, 500.0, 0.0, True)],
                     dtype=RULES_DTYPE)
    units = new_units(n, state=s["state"])
    hazards, move_m, _, _, _ = kernels.hazards_and_moves(
        e, band, AreaFire(np.zeros(2), np.zeros(2)), ground, rules, units)
    np.testing.assert_array_equal(units["state"], e["state"])  # the column store follows
    return hazards, move_m, e["state"]


def pairwise_aimed(s):
    """Kills per person from aimed fire by the ODD's definition, shooter by target: a
    shooter's fire is shared by the enemies within range of its cell in proportion to
    their personnel."""
    near = ((np.abs(s["x"][:, None] - s["x"][None, :]) <= s["radius"])
            & (np.abs(s["row"][:, None] - s["row"][None, :]) <= s["radius"]))
    fighting = IS_FIGHTING[s["state"]]
    out = np.zeros(s["side"].size)
    for i in range(out.size):
        for j in np.flatnonzero(near[i] & (s["side"] != s["side"][i]) & fighting):
            # Targets of shooter j: the personnel of i's side within range of j's cell.
            targets = s["personnel"][near[j] & (s["side"] == s["side"][i])].sum()
            out[i] += s["personnel"][j] * s["kill_rate"][j] * DT / targets
    return out


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(s=sectors())
def test_aimed_fire_over_the_contact_band_is_aimed_fire_over_the_sector(s):
    """Shows that restricting the box sums to the rows within range of both sides (and,
    with an elastic defence fighting, one range more) changes no unit's aimed hazard,
    state or move, and that the hazard is the pairwise definition of ODD 7.3."""
    band = kernels.contact_grids(engaged(s), DT, s["radius"], s["width"])
    hazards, move_m, state = plan(s, *band)
    whole_hazards, whole_move_m, whole_state = plan(s, 0, s["depth"], *whole_sector_grids(s))
    # Box sums over different rows round differently: relative to the largest hazard.
    scale = max(float(np.abs(whole_hazards).max(initial=0.0)), 1e-300)
    np.testing.assert_allclose(hazards, whole_hazards, rtol=1e-12, atol=1e-12 * scale)
    np.testing.assert_array_equal(state, whole_state)
    np.testing.assert_array_equal(move_m, whole_move_m)
    # Box sums below (2r+1)^2 x 1e-10 of the largest value cannot be told from rounding
    # noise and are zeroed (combat.window_sum).
    np.testing.assert_allclose(hazards[:, 0], pairwise_aimed(s), rtol=1e-9,
                               atol=(2 * s["radius"] + 1) ** 2 * 1e-10 * scale)


def test_an_elastic_defence_counts_its_own_units_beyond_the_contact_band():
    """An elastic defender at row 6 faces 60 attackers at row 5 with 10 of its own, and 20
    more just behind at row 7: in range of it, but beyond the contact band (rows 5-6).
    Counting them, the local ratio is 60 / 30 = 2 and it holds; without them it would be
    6 and it would give ground. Shows that the band is widened for elastic units."""
    row = np.array([5, 6, 7], dtype=np.int64)
    s = {"width": 1, "depth": 12, "radius": 1, "side": np.array([0, 1, 1]),
         "x": np.zeros(3, dtype=np.int64), "row": row, "y_m": (row + 0.5) * CELL_M,
         "y0_m": (row + 0.5) * CELL_M, "personnel": np.array([60, 10, 20]),
         "state": np.array([ADVANCING, HOLDING, HOLDING]), "kill_rate": np.full(3, 0.05),
         "elastic": np.array([False, True, True]), "control": np.ones(12, dtype=np.int64),
         "mines": np.zeros(12)}
    band = kernels.contact_grids(engaged(s), DT, s["radius"], s["width"])
    _, move_m, state = plan(s, *band)
    assert state[1] == HOLDING and move_m[1] == 0.0
    _, whole_move_m, whole_state = plan(s, 0, s["depth"], *whole_sector_grids(s))
    np.testing.assert_array_equal(state, whole_state)


def test_the_band_is_empty_when_no_unit_has_an_enemy_in_range():
    """Shows that sides further apart than the range need no box sums at all."""
    row = np.array([0, 1, 9], dtype=np.int64)
    e = np.zeros(3, dtype=ENGAGED_DTYPE)
    e["side"], e["row"], e["personnel"] = [0, 0, 1], row, 10
    e["fighting"], e["kill_rate"] = True, 0.1
    first, rows, present, fire = kernels.contact_grids(e, DT, 4, 1)
    assert rows == 0 and present.size == 0
    first, rows, present, fire = kernels.contact_grids(e, DT, 8, 1)
    assert (first, rows) == (1, 9) and present[:, 0].sum() == 20


def numpy_draws(rng, personnel, hazards, killed_fraction, return_fraction):
    """The casualty draws as numpy's vectorised Generator calls (the model's draws
    before they were compiled): the reference for the compiled ones."""
    casualties = rng.binomial(personnel, combat.casualty_probability(hazards))
    hit = casualties.nonzero()[0]
    by_cause = np.zeros((hit.size, hazards.shape[1]), dtype=np.int64)
    if hit.size:
        acting = hazards[hit]
        causes = acting.any(axis=0).nonzero()[0]
        remaining, rest = casualties[hit], acting.sum(axis=1)
        for k in causes[:-1]:
            share = np.divide(acting[:, k], rest, out=np.zeros_like(rest), where=rest > 0)
            by_cause[:, k] = rng.binomial(remaining, np.clip(share, 0.0, 1.0))
            remaining, rest = remaining - by_cause[:, k], rest - acting[:, k]
        by_cause[:, causes[-1]] = remaining
    killed = rng.binomial(by_cause.sum(axis=1), killed_fraction[hit])
    returning = rng.binomial(by_cause.sum(axis=1) - killed, return_fraction[hit])
    return hit, by_cause, killed, returning


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 300))
def test_compiled_draws_are_numpys_draws(seed, n):
    """Shows that the compiled draws (numba's port of numpy's binomial, on the model's
    Generator) give numpy's vectorised draws and leave the Generator in the same state:
    a seed keeps its numbers. Hazards include zeros, certain hits and every cause."""
    setup = np.random.default_rng(seed)
    personnel = setup.integers(0, 120, n)
    hazards = setup.random((n, 4)) ** 3 * setup.choice([0.0, 0.01, 1.0, 5.0], (n, 4))
    killed_fraction, return_fraction = setup.random(n), setup.random(n)
    ours, theirs = np.random.default_rng(seed + 1), np.random.default_rng(seed + 1)
    hit, by_cause = combat.draw_casualties(ours, personnel, hazards)
    killed, returning, _ = combat.split_wounded(ours, by_cause.sum(axis=1),
                                                killed_fraction[hit], return_fraction[hit])
    expected = numpy_draws(theirs, personnel, hazards, killed_fraction, return_fraction)
    for got, want in zip((hit, by_cause, killed, returning), expected, strict=True):
        np.testing.assert_array_equal(got, want)
    assert ours.random() == theirs.random()


@njit
def compiled_binomials(rng, n, p):
    out = np.empty(n.size, dtype=np.int64)
    for i in range(n.size):
        out[i] = combat.binomial(rng, n[i], p[i])
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_binomial_draw_is_numpys(seed):
    """Shows that the compiled binomial draw, which decides most draws of 0 without
    numpy's exp and log, gives numpy's numbers and leaves the Generator in numpy's state,
    over trials from 0 to a billion and chances from 0 to 1: around the cases numpy's
    algorithm tells apart (n p at 30, p at 1/2), nearly certain zeros and nearly
    certain hits."""
    setup = np.random.default_rng(100 + seed)
    size = 300_000
    n = setup.choice([0, 1, 2, 5, 29, 30, 31, 90, 1000, 10**6, 10**9], size)
    p = (setup.choice([0.0, 1e-12, 1e-6, 1e-3, 0.0333, 0.5, 0.5000001, 0.9, 1.0], size)
         * setup.random(size) ** setup.choice([0, 1, 3], size))
    ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
    np.testing.assert_array_equal(compiled_binomials(ours, n, p), theirs.binomial(n, p))
    assert ours.random() == theirs.random()


@njit
def uniforms_at(addresses, size):
    rng = generator_at(addresses)
    out = np.empty(size)
    for i in range(size):
        out[i] = rng.random()
    return out


def test_the_compiled_sub_step_draws_from_the_models_generator():
    """The sub-step draws through the addresses of the Generator's bit generator
    (numba reads them anew, through ctypes, at every call otherwise). Shows that those
    draws are the Generator's own, and advance it; and that a model whose Generator is
    replaced draws from the new one."""
    rng, twin = np.random.default_rng(7), np.random.default_rng(7)
    np.testing.assert_array_equal(uniforms_at(generator_addresses(rng), 1000), twin.random(1000))
    assert rng.random() == twin.random()
    model = AttritionModel(Scenario(max_days=2), rng=1)
    model.step()
    model.rng = np.random.default_rng(5)
    model.step()
    again = AttritionModel(Scenario(max_days=2), rng=1)
    again.step()
    again.rng = np.random.default_rng(5)
    again.step()
    assert model.rng.bit_generator.state == again.rng.bit_generator.state
    assert (model.rng.bit_generator.state
            != np.random.default_rng(5).bit_generator.state)  # the new one was drawn from


def test_a_copied_model_draws_from_its_own_generator():
    """A deep copy of a model (its Generator copied with it) draws from the copy's
    Generator, not through the addresses of its original's, which is then freed: it
    runs on as the original would have, and its Generator advances as the original's
    would have."""
    import copy
    import gc

    scenario = load("human_wave_foreign_contingent").with_overrides({"max_days": 6})
    original = AttritionModel(scenario, rng=3)
    for _ in range(3):
        original.step()
    copied = copy.deepcopy(original)
    del original
    gc.collect()
    copied.run()
    reference = AttritionModel(scenario, rng=3)
    reference.run()
    assert copied.daily_records().equals(reference.daily_records())
    assert copied.rng.bit_generator.state == reference.rng.bit_generator.state


@pytest.mark.parametrize("name, overrides, leaves_mid_day", [
    ("human_wave_foreign_contingent", {"max_days": 30}, True),
    ("infiltration_trained", {}, True),
    ("recruit_pool_exhaustion", {"max_days": 40}, True),
    ("mine_clearance_under_fire", {}, True),
    ("fortified_defense", {"defender": {"units": [
        {"contingent": "brigade", "count": 20, "personnel": 20,
         "tactic": "elastic_defense"}]}}, True),
    ("fortified_defense", {"attacker": {"fixed_daily_loss_fraction": 0.05}, "max_days": 10},
     False),
])
def test_units_kept_through_a_day_are_the_units_in_the_sector(monkeypatch, name, overrides,
                                                              leaves_mid_day):
    """The sub-step gathers the units in the sector, and what stays fixed for them, once
    a day, and drops those who leave (destroyed, or routed off the sector) during it.
    Shows that at every sub-step what it holds equals a fresh gathering, field by field
    (fire support included; state and personnel, which the kernels change in both, as
    the column store has them), and that units left in the middle of days."""
    original = Combat.engaged
    gathered = []  # a new set of units kept: gathered, or updated when units left
    per_substep = ("fighting",)  # set as each sub-step starts

    def checked(self, fresh=False):
        kept, support = original(self)
        if not gathered or gathered[-1][1] is not kept:
            gathered.append((self.model.day, kept))
        again, fresh_support = original(self, fresh=True)
        for name in ENGAGED_DTYPE.names:
            if name not in per_substep:
                np.testing.assert_array_equal(kept[name], again[name], err_msg=name)
        for got, want in zip(support, fresh_support, strict=True):
            np.testing.assert_array_equal(got, want)
        return kept, support

    monkeypatch.setattr(Combat, "engaged", checked)
    model = AttritionModel(load(name).with_overrides(overrides), rng=3)
    model.run()
    # Gathered once a day, and updated when units left during a day.
    assert (len(gathered) > model.day) == leaves_mid_day


def test_a_widened_front_repeats_the_sector():
    scenario = load("recruit_pool_exhaustion").with_overrides({"attacker": {"contingents": {
        "mobilised": {"tranches": [{"day": 5, "persons": 100}],
                      "schedule": [{"day": 0, "recruits_per_day": 10.0}]}}}})
    wide = scenario.widened(3)
    assert wide.sector.width_cells == 3 * scenario.sector.width_cells
    assert wide.sector.depth_cells == scenario.sector.depth_cells
    for side in ("attacker", "defender"):
        before, after = getattr(scenario, side), getattr(wide, side)
        assert [g.count for g in after.units] == [3 * g.count for g in before.units]
        assert after.drones == 3 * before.drones
        assert after.artillery_strikes_per_day == 3 * before.artillery_strikes_per_day
        assert after.aimed_kills_per_shooter_per_day == before.aimed_kills_per_shooter_per_day
        for name, contingent in after.contingents.items():
            assert contingent.pool == 3 * before.contingents[name].pool
            assert contingent.recruits_per_day == 3 * before.contingents[name].recruits_per_day
            assert contingent.new_unit_size == before.contingents[name].new_unit_size
    mobilised = wide.attacker.contingents["mobilised"]
    assert mobilised.tranches[0].persons == 300 and mobilised.schedule[0].recruits_per_day == 30
    assert scenario.widened(1) == scenario
    with pytest.raises(ValueError, match="factor"):
        Scenario().widened(0)


def test_a_first_run_says_once_that_it_compiles_and_a_cached_one_says_nothing(
        monkeypatch, capsys):
    """A machine's first run (kernels neither compiled nor cached) says so on stderr,
    once per process, and starts its helpers once; with the kernels cached it says
    nothing and starts none."""
    import sys
    import threading

    from sim.model import kernels

    # This process alone (pytest-xdist's workers keep threads of their own).
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    monkeypatch.setattr(kernels, "_announced", False)
    monkeypatch.setattr(kernels, "_started", False)
    monkeypatch.setattr(kernels, "_helpers", {})
    monkeypatch.delenv(kernels.NO_HELPER_VARIABLE, raising=False)
    forked, started = [], []
    monkeypatch.setattr(kernels, "_fork_compiling", lambda jobs: forked.append(jobs) or None)
    monkeypatch.setattr(kernels, "_start_helper", lambda: started.append(True))
    inputs = []
    monkeypatch.setattr(kernels, "compiled", lambda: True)
    assert not kernels.announce_compiling()
    kernels.compile_alongside(lambda: inputs.append(True))
    assert not (forked or started or inputs)  # nothing announced: no helper
    monkeypatch.setattr(kernels, "compiled", lambda: False)
    assert kernels.announce_compiling() and not kernels.announce_compiling()
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("compiling the model, once: about") == 1
    model = AttritionModel(Scenario(max_days=1), rng=0)
    kernels.compile_alongside(model.combat.kernel_inputs)
    kernels.compile_alongside(model.combat.kernel_inputs)
    assert kernels.announced()
    if sys.platform.startswith("linux"):  # one fork per entry point, once
        assert [jobs[-1][0] for jobs in forked] == [kernels.plan_substep,
                                                    kernels.settle_substep]
        assert started == []
    else:
        assert forked == [] and started == [True]


def test_a_first_run_with_other_threads_starts_a_helper_process_not_a_fork(monkeypatch):
    """A fork copies one thread of many (the demo's server has several), which may hold
    a lock the copy then waits for: with other threads a helper process compiles
    instead."""
    import threading

    from sim.model import kernels

    monkeypatch.setattr(kernels, "_announced", True)
    monkeypatch.setattr(kernels, "_started", False)
    monkeypatch.setattr(kernels, "_helpers", {})
    forked, started = [], []
    monkeypatch.setattr(kernels, "_fork_compiling", lambda jobs: forked.append(jobs) or None)
    monkeypatch.setattr(kernels, "_start_helper", lambda: started.append(True))
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        kernels.compile_alongside(lambda: None)
    finally:
        release.set()
        other.join()
    assert forked == [] and started == [True]


def test_the_helpers_compile_each_kernel_for_the_types_a_run_passes():
    """A first run's helpers compile the entry points (and the callees of
    settle_substep that plan_substep's helper takes on) from arguments of their own:
    unless those have the types a run passes, each helper compiles a version no run
    asks for, and the run compiles the kernel again itself. The cache's index of each
    kernel holds every version compiled for it, so after a run it holds one: the
    helpers'."""
    from sim.model import kernels

    model = AttritionModel(Scenario(max_days=1), rng=0)
    model.step()
    model.step()
    jobs = [job for helper in kernels.first_run_jobs(model.combat.kernel_inputs())
            for job in helper]
    assert {kernel for kernel, _ in jobs} >= set(kernels._ENTRY_POINTS.values())
    for kernel, values in jobs:
        cached = {key[0] for key in kernel._cache._cache_file._load_index()}
        assert cached == {kernels.signature_of(kernel, values)}, kernel.__name__


def test_a_helper_process_compiles_settle_substep_into_the_cache(tmp_path):
    """Where no fork is made, a helper process builds a small model of its own and
    compiles settle_substep (for the types above) into numba's cache, an empty one here:
    compiled once, and saved for the run that waits for it."""
    import os
    import subprocess
    import sys

    code = ("from sim.model import kernels; kernels.compile_settle(); "
            "print(sorted(kernels.settle_substep.stats.cache_misses.values()), "
            "len(kernels.settle_substep._cache._cache_file._load_index()))")
    env = os.environ | {"NUMBA_CACHE_DIR": str(tmp_path), kernels.NO_HELPER_VARIABLE: "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, check=True, timeout=600)
    assert done.stdout.split() == ["[1]", "1"]


def test_the_kernels_know_they_are_compiled_once_a_model_has_stepped():
    from sim import Scenario, run
    from sim.model import kernels

    run(Scenario(max_days=1), seed=0)
    assert kernels.compiled()


def test_a_cached_run_starts_no_compile_helper():
    from sim import Scenario, run
    from sim.model import kernels

    run(Scenario(max_days=1), seed=0)
    assert kernels._helpers == {} and not kernels.announce_compiling()
