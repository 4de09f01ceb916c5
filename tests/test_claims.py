"""The claims table: every claim well formed, every citation resolves both ways, and
every claim is either used or marked context."""

import tomllib

import pytest

from sim.claims import CLAIMS_FILE, citation_problems, load_claims
from sim.scenarios import PROJECT_SCENARIOS


def _shipped_sources() -> dict[str, dict[str, list[str]]]:
    """Each shipped scenario's own [sources], as written in its file."""
    return {p.stem: tomllib.loads(p.read_text()).get("sources", {})
            for p in sorted(PROJECT_SCENARIOS.glob("*.toml"))}


def test_claims_and_citations_agree():
    problems = citation_problems(load_claims(), _shipped_sources())
    assert problems == []


def test_calibrated_scenarios_cite_claims():
    sources = _shipped_sources()
    for name in ("fortified_defense", "human_wave_foreign_contingent", "convict_waves"):
        assert sources[name], f"{name} cites no claims"


def test_a_missing_or_unused_claim_is_caught():
    claims = load_claims()
    sources = _shipped_sources()
    sources["convict_waves"]["max_days"] = ["no-such-claim"]
    assert any("'no-such-claim'" in p for p in citation_problems(claims, sources))
    unused = claims["wagner-death-span"].model_copy(update={"used_by": []})
    problems = citation_problems({**claims, "wagner-death-span": unused}, _shipped_sources())
    assert "claim 'wagner-death-span' is neither used nor marked context" in problems


def test_a_used_by_entry_must_point_at_something_real():
    claims = load_claims()
    claim = claims["wagner-dead-records"]
    broken = claim.model_copy(update={"used_by": ["tests/test_scenarios.py::test_nothing",
                                                  "somewhere else"]})
    problems = citation_problems({**claims, claim.id: broken}, _shipped_sources())
    assert any("no test tests/test_scenarios.py::test_nothing" in p for p in problems)
    assert any("'somewhere else' is neither" in p for p in problems)


def test_malformed_rows_are_refused(tmp_path):
    bad = tmp_path / "claims.csv"
    bad.write_text(CLAIMS_FILE.read_text().replace(",calibration,", ",maybe,", 1))
    with pytest.raises(ValueError, match=r"claims\.csv:2: .*role"):
        load_claims(bad)
