"""The unit columns are declared once (sim.model.units.COLUMNS): the column store, the Unit
attributes and the ODD's state-variable table all follow that declaration."""

from pathlib import Path

import numpy as np
import pytest

from sim import AttritionModel, Scenario
from sim.model.units import (
    COLUMNS,
    STATES,
    UNIT_DTYPE,
    Unit,
    append_rows,
    new_units,
    select_rows,
    state_variable_table,
)

ROOT = Path(__file__).resolve().parents[1]


def test_the_odd_state_variable_table_is_the_declaration():
    odd = (ROOT / "docs" / "ODD.md").read_text()
    assert state_variable_table() in odd, (
        "docs/ODD.md section 2 is out of date: paste sim.model.units.state_variable_table()")
    assert len(state_variable_table().splitlines()) == len(COLUMNS) + 2


def test_the_column_store_has_every_declared_column_with_its_dtype():
    model = AttritionModel(Scenario(max_days=2), rng=0)
    assert model.units.dtype == UNIT_DTYPE
    assert [(name, model.units.dtype[name]) for name in model.units.dtype.names] == [
        (c.name, np.dtype(c.dtype)) for c in COLUMNS]


def test_every_column_is_an_attribute_of_a_unit_that_writes_its_row():
    model = AttritionModel(Scenario(max_days=2), rng=0)
    unit = model.unit_agents[3]
    for column in COLUMNS:
        assert hasattr(Unit, column.name), column.name
    for column in COLUMNS:
        if column.name in ("side", "contingent", "tactic", "state"):
            continue
        before = model.units[column.name].copy()
        value = getattr(unit, column.name)
        assert value == before[3]
        setattr(unit, column.name, value + 1)
        after = model.units[column.name]
        assert after[3] == value + 1
        np.testing.assert_array_equal(np.delete(after, 3), np.delete(before, 3))
    assert unit.side == "attacker" and unit.state in STATES


def test_a_unit_state_is_set_by_name_and_a_wrong_name_is_refused():
    model = AttritionModel(Scenario(max_days=2), rng=0)
    unit = model.unit_agents[0]
    unit.state = "routed"
    assert model.units["state"][0] == STATES.index("routed") and unit.state == "routed"
    with pytest.raises(ValueError, match="not one of"):
        unit.state = "fleeing"


def test_new_units_refuse_an_undeclared_column():
    with pytest.raises(KeyError, match="not unit columns: disabled"):
        new_units(2, disabled=1)
    rows = new_units(3, personnel=[1, 2, 3], morale=0.5)
    assert rows["personnel"].tolist() == [1, 2, 3] and (rows["morale"] == 0.5).all()
    assert (rows["killed"] == 0).all()


def test_rows_copied_as_bytes_are_numpys_rows():
    rng = np.random.default_rng(0)
    rows = new_units(50, personnel=rng.integers(0, 100, 50), morale=rng.random(50),
                     y_m=rng.random(50) * 1000)
    keep = rng.random(50) > 0.3
    np.testing.assert_array_equal(select_rows(rows, keep), rows[keep])
    more = new_units(4, personnel=7)
    np.testing.assert_array_equal(append_rows(rows, more), np.concatenate([rows, more]))
