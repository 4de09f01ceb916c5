"""Fixtures shared by the tests."""

import pytest

from sim import Scenario


@pytest.fixture
def small_scenario() -> Scenario:
    """A short, small version of the reference scenario for fast API tests."""
    return Scenario(max_days=4).with_overrides({"sector": {"width_cells": 15}})
