"""Docs stay true: the ODD's parameter tables are the schema's, and the README's
commands are the ones CI runs."""

from pathlib import Path

import pytest

from sim import config
from sim.fields import parameter_table
from sim.tactics import TacticProfile, tactic_table

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("section", [config.Scenario, config.SectorConfig, config.SideConfig,
                                     config.UnitGroup, config.ContingentConfig,
                                     config.RecruitmentStep, config.Tranche,
                                     config.Reinforcement, config.BonusStep,
                                     config.TempoPhase,
                                     config.Objective, config.CombatConfig,
                                     config.TrainingConfig, TacticProfile])
def test_odd_parameter_tables_match_the_schema(section):
    odd = (ROOT / "docs" / "ODD.md").read_text()
    assert parameter_table(section) in odd, (
        f"docs/ODD.md section 7.10 is out of date for {section.__name__}: paste "
        f"sim.fields.parameter_table({section.__name__})")


def test_odd_tactic_defaults_match_the_schema():
    assert tactic_table() in (ROOT / "docs" / "ODD.md").read_text()


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = "python3 -m pip install -e '.[test]' && python3 -m pytest -n auto"
    assert command in readme
    assert command in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("section", ["TheatreScenario", "TheatreSector", "SectorSide",
                                     "TargetStep", "TheatreSide", "TheatreContingent",
                                     "TheatreChange", "TheatreVariant"])
def test_odd_theatre_tables_match_the_schema(section):
    from sim.theatre import config as theatre_config

    odd = (ROOT / "docs" / "ODD.md").read_text()
    assert parameter_table(getattr(theatre_config, section)) in odd, (
        f"docs/ODD.md section 10.7 is out of date for {section}: paste "
        f"sim.fields.parameter_table({section})")


def test_odd_battalion_table_is_the_declaration():
    from sim.theatre.battalions import state_variable_table

    assert state_variable_table() in (ROOT / "docs" / "ODD.md").read_text()
