"""The claims table: every claim well formed, every citation resolves both ways, every
claim is either used or marked context, and every target is whole and well formed (a
malformed one refused in one line naming the file, the row and the column)."""

import csv
import datetime
import io
import tomllib
from pathlib import Path

import pytest

from sim.claims import (
    CLAIMS_FILE,
    ClaimsError,
    citation_problems,
    load_claims,
    targeted_scenarios,
    targets,
)
from sim.scenarios import PROJECT_SCENARIOS


def _shipped_sources() -> dict[str, dict[str, list[str]]]:
    """Each shipped scenario's and theatre's own [sources], as written in its file (a
    theatre as theatres/NAME)."""
    sources = {p.stem: tomllib.loads(p.read_text()).get("sources", {})
               for p in sorted(PROJECT_SCENARIOS.glob("*.toml"))}
    theatres = PROJECT_SCENARIOS.parent / "theatres"
    return sources | {f"theatres/{p.stem}": tomllib.loads(p.read_text()).get("sources", {})
                      for p in sorted(theatres.glob("*.toml"))}


def test_claims_and_citations_agree():
    problems = citation_problems(load_claims(), _shipped_sources())
    assert problems == []


def test_calibrated_scenarios_cite_claims():
    sources = _shipped_sources()
    for name in ("fortified_defense", "human_wave_foreign_contingent", "kursk_2024_2025",
                 "bakhmut_2022_2023"):
        assert sources[name], f"{name} cites no claims"


def test_a_missing_or_unused_claim_is_caught():
    claims = load_claims()
    sources = _shipped_sources()
    sources["bakhmut_2022_2023"]["max_days"] = ["no-such-claim"]
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


# ------------------------------------------------------------------------ targets
def test_split_claims_keep_one_target_each():
    """A claim of two figures is two rows: the killed keep the old id, the wounded get
    their own; every target has scenario, quantity, who, value and kind."""
    claims = load_claims()
    assert (claims["nk-losses-jan-2025"].quantity, claims["nk-losses-jan-2025"].value) == (
        "killed", 300)
    assert (claims["nk-wounded-jan-2025"].quantity, claims["nk-wounded-jan-2025"].value) == (
        "wounded", 2700)
    assert claims["nk-wounded-dec-2024"].low == 900 and claims["nk-wounded-dec-2024"].high == 1000
    assert claims["wagner-dead-convicts"].who == "attacker/convicts"
    assert claims["nk-second-group"].quantity is None  # an input, not a target
    found = targets(claims)
    assert len(found) >= 18
    for claim in found:
        assert claim.scenario and claim.quantity and claim.who and claim.value is not None
        assert claim.role == {"tuned": "calibration", "predicted": "validation"}[claim.target]
    assert {c.id for c in targets(claims, "kursk_2024_2025") if c.target == "predicted"} == {
        "nk-back-in-action", "kursk-retaken", "nk-losses-apr-2025", "nk-casualties-apr-2025"}
    assert targeted_scenarios(claims) == ["bakhmut_2022_2023", "human_wave_foreign_contingent",
                                          "kursk_2024_2025"]


def test_a_claim_with_a_target_counts_as_used():
    claims = load_claims()
    peak = claims["wagner-peak-days"]
    assert peak.role == "calibration" and peak.has_target
    problems = citation_problems(claims, _shipped_sources())
    assert not any("wagner-peak-days" in p for p in problems)
    bare = peak.model_copy(update={"used_by": [], "target": None, "scenario": [],
                                   "quantity": None, "who": None, "value": None,
                                   "low": None})
    problems = citation_problems({**claims, peak.id: bare}, _shipped_sources())
    assert "claim 'wagner-peak-days' is neither used nor marked context" in problems


def test_a_target_on_a_missing_scenario_is_caught():
    claims = load_claims()
    claim = claims["bakhmut-fall"].model_copy(update={"scenario": ["no_such_battle"]})
    problems = citation_problems({**claims, claim.id: claim}, _shipped_sources())
    assert "claim 'bakhmut-fall': its target's scenario 'no_such_battle' is not in " \
           "scenarios/" in problems


HEADER = ("id,role,claim,figures,source,date,used_by,scenario,target_date,quantity,who,"
          "value,low,high,target")
GOOD = {"id": "x-claim", "role": "calibration", "claim": "A claim long enough.",
        "figures": "about 300", "source": "someone", "date": "2025-01", "used_by": "",
        "scenario": "human_wave_foreign_contingent", "target_date": "2025-01-13",
        "quantity": "killed", "who": "attacker/foreign", "value": "300", "low": "250",
        "high": "349", "target": "tuned"}


def _claims_file(tmp_path, **changes) -> Path:
    row = GOOD | changes
    path = tmp_path / "claims.csv"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HEADER.split(","), lineterminator="\n")
    writer.writeheader()
    writer.writerow(row)
    path.write_text(buffer.getvalue())
    return path


def test_a_well_formed_target_loads(tmp_path):
    claim = load_claims(_claims_file(tmp_path))["x-claim"]
    assert claim.target_date == datetime.date(2025, 1, 13)
    assert (claim.side, claim.contingent, claim.low, claim.high) == ("attacker", "foreign",
                                                                     250, 349)
    open_high = load_claims(_claims_file(tmp_path, high="", who="defender"))["x-claim"]
    assert open_high.high is None and open_high.contingent == "all"
    dated = load_claims(_claims_file(tmp_path, quantity="end_date", target_date="",
                                     value="2025-04-26", low="", high="2025-05-01"))
    assert dated["x-claim"].value == datetime.date(2025, 4, 26)
    none = load_claims(_claims_file(tmp_path, **{k: "" for k in HEADER.split(",")[7:]}))
    assert not none["x-claim"].has_target


@pytest.mark.parametrize("changes, key, says", [
    ({"quantity": "dead"}, "quantity", "allowed: 'killed', 'wounded'"),
    ({"target_date": "2025-13-01"}, "target_date", "allowed: an ISO date YYYY-MM-DD"),
    ({"target_date": "20250113"}, "target_date", "is not a date"),
    ({"target_date": "13/01/2025"}, "target_date", "is not a date"),
    ({"low": "400"}, "low", "400.0 is above high 349.0; allowed: low <= high"),
    ({"value": "about 300"}, "value", "is not a number from 1e-06 to 1,000,000,000"),
    ({"value": "-5"}, "value", "is not a number from"),
    ({"high": "nan"}, "high", "is not a number from"),
    ({"low": "inf"}, "low", "is not a number from"),
    ({"value": "1.7e308"}, "value", "is not a number from"),
    ({"value": "1e-320"}, "value", "is not a number from"),
    ({"value": "1,000"}, "value", "is not a number from"),
    ({"value": "1_000"}, "value", "is not a number from"),
    ({"value": "5000", "low": "100", "high": "200"}, "value", "is outside its range"),
    ({"target_date": "9999-12-31"}, "target_date", "is not a date from 1000-01-01"),
    ({"value": "2025-01-13"}, "value", "is not a number"),
    ({"who": "attackers"}, "who", "allowed: attacker, defender or SIDE/CONTINGENT"),
    ({"who": "attacker/"}, "who", "is not a side or a contingent"),
    ({"scenario": "a b"}, "scenario", "is not a scenario name"),
    ({"quantity": ""}, "quantity", "empty, but scenario is set; allowed: every target "
                                   "column empty"),
    ({"target": ""}, "target", "empty, but scenario is set"),
    ({"scenario": ""}, "scenario", "empty, but target_date is set"),
    ({"target": "maybe"}, "target", "allowed: 'tuned' or 'predicted'"),
    ({"target": "predicted"}, "role", "allowed: role validation for a predicted target"),
    ({"role": "context"}, "role", "allowed: role calibration for a tuned target"),
    ({"role": "validation", **{k: "" for k in HEADER.split(",")[7:]}}, "target",
     "empty, but role is validation"),
    ({"quantity": "end_date", "target_date": "", "value": "300", "low": "", "high": ""},
     "value", "allowed: an ISO date YYYY-MM-DD for end_date"),
    ({"quantity": "peak_daily_killed", "low": "", "high": ""}, "target_date",
     "peak_daily_killed is taken over the whole run"),
    ({"role": "maybe"}, "role", "'maybe' is not allowed; allowed: 'calibration'"),
])
def test_a_malformed_target_is_refused_in_one_line(tmp_path, changes, key, says):
    path = _claims_file(tmp_path, **changes)
    with pytest.raises(ClaimsError) as err:
        load_claims(path)
    message = str(err.value)
    assert message.startswith(f"{path}:2: {key}: "), message
    assert says in message and "\n" not in message


def test_unreadable_or_ragged_claims_files_are_refused(tmp_path):
    with pytest.raises(ClaimsError, match="cannot read it"):
        load_claims(tmp_path / "missing.csv")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text(HEADER + "\nx-claim,calibration\n")
    with pytest.raises(ClaimsError, match=r"ragged\.csv:2: row: fewer cells"):
        load_claims(ragged)
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00id\n")
    with pytest.raises(ClaimsError, match="not UTF-8"):
        load_claims(binary)
    old = tmp_path / "old.csv"  # the columns before targets: still a claims table
    old.write_text("id,role,claim,figures,source,date,used_by\n"
                   "x-claim,context,A claim long enough.,1,someone,2025,\n")
    assert not load_claims(old)["x-claim"].has_target


def test_claims_files_that_are_no_files_or_repeat_columns_are_refused(tmp_path):
    """A device or a pipe is refused unread (its size says nothing), a spreadsheet's
    byte order mark is no part of the first column's name, a column named twice and a
    header missing some of the target columns are refused."""
    with pytest.raises(ClaimsError, match="not a regular file"):
        load_claims("/dev/zero")
    with pytest.raises(ClaimsError, match="not a regular file"):
        load_claims(tmp_path)
    good = _claims_file(tmp_path)
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + good.read_bytes())
    assert load_claims(bom)["x-claim"].value == load_claims(good)["x-claim"].value
    twice = tmp_path / "twice.csv"
    twice.write_text(HEADER + ",value\n" + good.read_text().splitlines()[1] + ",99999\n")
    with pytest.raises(ClaimsError, match=r"twice\.csv:1: value: a column named twice"):
        load_claims(twice)
    short = tmp_path / "short.csv"
    lines = good.read_text().splitlines()
    keep = [i for i, name in enumerate(HEADER.split(",")) if name != "who"]
    short.write_text("\n".join(",".join(next(csv.reader([line]))[i] for i in keep)
                               for line in lines) + "\n")
    with pytest.raises(ClaimsError, match=r"short\.csv:1: who: no such column"):
        load_claims(short)
