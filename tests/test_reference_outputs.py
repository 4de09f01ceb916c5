"""Every shipped scenario and six variants, three seeds each, give the daily records,
events, summaries and fronts kept in ``tests/reference/`` bit for bit (see
``reference_runs.py``, which made them and says when to make them again)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from reference_runs import SEEDS, cases, outputs, path

CASES = cases()


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
            assert np.array_equal(kept[key], now[key]), f"{case} seed {seed}: {key} differs"
