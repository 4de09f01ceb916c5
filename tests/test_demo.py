"""The classroom page's controls and `attrition demo` (the page itself, drawn and in a
real Chromium, is tests/test_page.py)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pandas as pd
import pytest

from sim import scenarios
from sim.classroom import (
    CONTROLS,
    MIXED,
    ClassroomModel,
    apply_controls,
    control_values,
    controls_for,
)


# ------------------------------------------------------------------ controls
def test_controls_left_alone_keep_the_scenario_exactly():
    base = scenarios.load("recruit_pool_exhaustion")
    assert apply_controls(base, **control_values(base)) == base
    assert apply_controls(base) == base


def test_each_control_sets_its_keys_for_every_group_and_contingent():
    base = scenarios.load("recruit_pool_exhaustion")
    changed = apply_controls(base, tactic="infiltration", attacker_training_days=200,
                             fortification_level=0.1, defender_drones=80,
                             recruits_per_day=40, recruit_training_days=150)
    assert {g.tactic for g in changed.attacker.units} == {"infiltration"}
    assert {g.training_days for g in changed.attacker.units} == {200}
    assert changed.sector.fortification_level == 0.1
    assert changed.defender.drones == 80
    mobilised = changed.attacker.contingents["mobilised"]
    assert (mobilised.recruits_per_day, mobilised.training_days) == (40, 150)
    # The defender's own pipeline is not the class's recruitment control.
    assert changed.defender.contingents == base.defender.contingents
    assert control_values(changed) == {
        "tactic": "infiltration", "attacker_training_days": 200, "fortification_level": 0.1,
        "defender_drones": 80, "recruits_per_day": 40, "recruit_training_days": 150}


def test_mixed_groups_stay_mixed_until_the_tactic_is_chosen():
    base = scenarios.load("human_wave_foreign_contingent")
    assert control_values(base)["tactic"] == MIXED
    assert apply_controls(base, tactic=MIXED, fortification_level=0.3).attacker.units == \
        base.attacker.units
    assert {g.tactic for g in apply_controls(base, tactic="human_wave").attacker.units} == \
        {"human_wave"}


def test_recruitment_controls_only_where_the_attacker_recruits():
    assert "recruits_per_day" in controls_for(scenarios.load("recruit_pool_exhaustion"))
    no_pool = scenarios.load("fortified_defense")
    assert set(controls_for(no_pool)) == set(CONTROLS) - {"recruits_per_day",
                                                           "recruit_training_days"}
    # Set anyway (a notebook can), it changes nothing rather than inventing a pool.
    assert apply_controls(no_pool, recruits_per_day=50) == no_pool


def test_bad_control_values_are_one_line_errors():
    base = scenarios.load("recruit_pool_exhaustion")
    with pytest.raises(ValueError, match=r"unknown control tactics; allowed: tactic"):
        apply_controls(base, tactics="human_wave")
    with pytest.raises(ValueError, match=r"fortification_level.*less than or equal to 1"):
        apply_controls(base, fortification_level=1.5)


def test_classroom_model_is_the_scenario_with_controls_and_seed():
    base = scenarios.load("recruit_pool_exhaustion")
    model = ClassroomModel(base, defender_drones=0, seed=4)
    model.step()
    twin = ClassroomModel(base, defender_drones=0, seed=4)
    twin.step()
    other = ClassroomModel(base, defender_drones=0, seed=5)
    other.step()
    assert model.config.defender.drones == 0
    assert model.config.sector == base.sector
    pd.testing.assert_frame_equal(model.daily_records(), twin.daily_records())
    assert not model.daily_records().equals(other.daily_records())


# ---------------------------------------------------------------------- CLI
def _demo_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", "demo", *args], capture_output=True,
                          text=True, timeout=60)


def test_demo_with_unknown_scenario_is_one_line():
    done = _demo_cli("no_such_scenario")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "no_such_scenario" in done.stderr and "allowed" in done.stderr


def test_demo_port_out_of_range_is_one_line():
    done = _demo_cli("--port", "70000")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1
    assert "--port: 70000 is too large; allowed: 0 to 65535" in done.stderr


def test_demo_on_a_port_in_use_is_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _demo_cli("--port", str(port))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"--port {port}: cannot listen on 127.0.0.1:{port}" in done.stderr
