"""Every shipped scenario and six variants, three seeds each, give the daily records,
events, summaries and fronts kept in ``tests/reference/`` bit for bit (see
``reference_runs.py``, which made them and says when to make them again), except the
mines left in the front's cells, which may differ in the last bits between processors
(numba compiles for the one it runs on, and numpy picks its vector code by it): on an
AMD EPYC the mines of a few cells in 600 came out up to 2.2e-15 away from those of the
machine that made the references, with every daily record, event and summary the same.
They are held to :data:`MINES_TOLERANCE`."""

from __future__ import annotations

import json

import numpy as np
import pytest
from reference_runs import SEEDS, cases, outputs, path

CASES = cases()
#: Mines a cell's count may differ by between processors (1,000 times the most seen).
MINES_TOLERANCE = 1e-12


def test_every_shipped_scenario_has_reference_outputs():
    from sim.scenarios import available

    for name in available():
        for seed in SEEDS:
            assert path(name, seed).exists(), f"no reference outputs for {name}, seed {seed}"


def test_the_variants_exercise_their_mechanisms():
    """Each variant differs from the run it varies, so that it checks something."""
    def summary(case, seed=0):
        with np.load(path(case, seed)) as kept:
            return json.loads(str(kept["summary"]))

    assert summary("variant_elastic_defence") != summary("fortified_defense")
    assert summary("variant_infiltration") != summary("fortified_defense")
    assert summary("variant_organic_fire") != summary("fortified_defense")
    assert summary("variant_no_morale") != summary("human_wave_foreign_contingent")
    assert summary("variant_fixed_loss_share") != summary("variant_reference")
    assert summary("variant_fixed_loss_share")["attacker_casualties_fixed_rate"] > 0


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_outputs_equal_the_reference_bit_for_bit(case, seed):
    now = outputs(CASES[case], seed)
    with np.load(path(case, seed)) as kept:
        assert sorted(kept.files) == sorted(now), "outputs gained or lost a column"
        for key in kept.files:
            assert kept[key].dtype == now[key].dtype, f"{key}: dtype changed"
            if key == "front.mines":
                np.testing.assert_allclose(now[key], kept[key], rtol=0, atol=MINES_TOLERANCE,
                                           err_msg=f"{case} seed {seed}: {key} differs")
                continue
            assert np.array_equal(kept[key], now[key]), f"{case} seed {seed}: {key} differs"
