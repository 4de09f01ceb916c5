"""The theatre's coarse scales against the sector model (sim/theatre/scales.py): a fine
sector as a one-sector theatre keeps its physics, and the coarse and fine versions of a
sector agree on loss rates per side and cause.

Tolerance: a ratio of coarse to fine loss rate within ``MODEL_TOLERANCE`` (10%) of 1
plus three standard errors of the ratio (from the replicates of both models, fixed
seeds), for each side's total and every cause of at least 5% of its casualties, per day
and per person in the line per day. The contact share the theatre is given is measured
on fine runs of their own (never those compared); nothing is fitted to the losses."""

from __future__ import annotations

import datetime

import pytest

from sim.scenarios import load
from sim.theatre.scales import (
    CONFIGURATIONS,
    MODEL_TOLERANCE,
    compare,
    sector_as_theatre,
)

# Standard errors of the ratio allowed beyond the modelling tolerance: with about a
# dozen rows checked per sector, two would flag a ratio truly at the tolerance's edge
# too often; the benchmark (benchmarks/theatre_scales.py) flags at two.
SE_MULTIPLE = 3.0
REPLICATES, STRUCTURE_REPLICATES = 12, 4


def _check(comparison):
    rows = [r for r in comparison.rows() if r.compared]
    assert rows
    outside = [f"{r.metric} {r.side} {r.cause}: {r.ratio:.3f} +- {r.ratio_se:.3f}"
               for r in rows if not r.within(SE_MULTIPLE)]
    assert not outside, f"outside {MODEL_TOLERANCE:.0%} + {SE_MULTIPLE:g} SE: {outside}"
    return rows


def test_the_reference_sector_agrees_with_its_theatre():
    """The reference sector (a mixed assault on a fortified brigade, lines in contact,
    30 days, morale off): every one of its fighters is within aimed range of an enemy
    (contact share 1 on both sides), and aimed and area losses per day and per person
    agree within the tolerance on both sides."""
    comparison = compare(CONFIGURATIONS["baseline"], REPLICATES, STRUCTURE_REPLICATES)
    assert comparison.contact_shares.tolist() == pytest.approx([1.0, 1.0], abs=0.01)
    rows = _check(comparison)
    causes = {(r.side, r.cause) for r in rows}
    assert {("attacker", "aimed"), ("attacker", "area"), ("defender", "aimed"),
            ("defender", "area")} <= causes


def test_two_deep_lines_agree_with_a_contact_share_of_one_half():
    """Out of sample: two static lines 800 m deep, other forces, training and density.
    Half of each side is within aimed range (measured), the theatre is given that share,
    and aimed fire, which scales with it, agrees as area fire does."""
    comparison = compare(CONFIGURATIONS["deep_lines"], REPLICATES, STRUCTURE_REPLICATES)
    assert comparison.contact_shares.tolist() == pytest.approx([0.49, 0.49], abs=0.05)
    assert comparison.contact_share == pytest.approx(0.49, abs=0.05)
    _check(comparison)


def test_a_side_alone_in_the_sector_is_shelled_as_in_the_fine_model():
    """The attacker's units arrive on day 10; for 9 days its guns and drones shell the
    defender alone. In the fine model they do (they fire from behind the line); the
    theatre does too, at the same rate."""
    comparison = compare(CONFIGURATIONS["shelled_alone"], REPLICATES, 1)
    rows = _check(comparison)
    area = [r for r in rows if (r.side, r.cause) == ("defender", "area")]
    assert len(area) == 2 and all(r.coarse > 0 for r in area)
    assert {r.side for r in rows} == {"defender"}


def test_a_sector_becomes_a_one_sector_theatre_with_its_physics():
    scenario = load("fortified_defense")
    theatre = sector_as_theatre(scenario, contact_share=0.4, battalion_persons=300,
                                attacker_cover=0.3)
    sector = theatre.sectors[0]
    assert (sector.frontage_km, sector.contact_share, sector.cover,
            sector.defended_cover, sector.fortification_level) == (2.0, 0.4, 0.3, 0.3, 0.6)
    assert sector.mines_per_km2 == pytest.approx(10 / 0.01)
    for side in ("attacker", "defender"):
        fine, coarse = getattr(scenario, side), getattr(theatre, side)
        here = getattr(sector, side)
        assert here.artillery_strikes_per_km_per_day * 2 == fine.artillery_strikes_per_day
        assert here.drones_per_km * 2 == fine.drones
        for key in ("aimed_kills_per_shooter_per_day", "artillery_lethal_area_m2",
                    "strikes_per_drone_per_day", "drone_lethal_area_m2", "killed_fraction",
                    "return_to_duty_fraction", "return_delay_days"):
            assert getattr(coarse, key) == getattr(fine, key), key
        persons = sum(g.count * g.personnel for g in fine.units)
        assert sum(c.in_line_at_start for c in coarse.contingents.values()) == persons
        assert all(c.unit_size == 300 for c in coarse.contingents.values())
    assert theatre.combat == scenario.combat and theatre.training == scenario.training
    assert theatre.tactics == scenario.tactics
    regulars = theatre.attacker.contingents["regulars[1]"]
    assert (regulars.tactic, regulars.training_days_at_start, regulars.experience_days_at_start,
            regulars.adaptation_at_start) == ("infiltration", 120.0, 60.0, 0.5)


def test_waves_pools_and_dates_carry_over():
    """Later waves become trained reinforcements of their own category on their days; a
    contingent's pool and recruitment go to its first group's category, whose day-0
    training gives the group's level from the recruits' base; tempo phases by date keep
    their dates."""
    from sim.model.pipelines import training_level

    scenario = load("kursk_2024_2025")
    theatre = sector_as_theatre(scenario, contact_share=1.0)
    attacker = theatre.attacker.contingents
    waves = attacker["foreign[0] waves"]
    assert [theatre.day_of(r.day) for r in waves.reinforcements] == list(range(8, 81, 8))
    assert waves.pool == 10 * 8 * 90 and attacker["foreign[0]"].in_line_at_start == 8 * 90
    first = attacker["foreign[0]"]
    assert first.pool == 3000 and first.reinforcements[0].persons == 3000
    group = scenario.attacker.units[0]
    level = training_level(first.training_days_at_start, first.base_training_level, 90.0)
    assert float(level) == pytest.approx(float(training_level(
        group.training_days, group.base_training_level, 90.0)))
    bakhmut = sector_as_theatre(load("bakhmut_2022_2023"), contact_share=1.0)
    assert bakhmut.start_date == datetime.date(2022, 7, 15)
    assert bakhmut.sectors[0].attacker.tempo[3].day == datetime.date(2023, 1, 1)


@pytest.mark.parametrize(("name", "problem"), [
    ("lanchester_square", "sector.width_cells: 20 cells of 1 m is 0.02 km of front"),
])
def test_a_sector_the_theatre_cannot_take_is_refused_in_one_line(name, problem):
    with pytest.raises(ValueError, match=problem):
        sector_as_theatre(load(name), contact_share=1.0)
    wide = load(name).with_overrides({"sector": {"cell_size_m": 100.0}})
    organic = wide.with_overrides({"attacker": {"area_strikes_per_person_per_day": 0.3}})
    with pytest.raises(ValueError, match="attacker.area_strikes_per_person_per_day: the "
                                         "theatre has no organic area fire"):
        sector_as_theatre(organic, contact_share=1.0)

