"""The claims table (``seeds/claims.csv``): what the source reporting says, and who uses it.

    >>> claims = load_claims()
    >>> claims["wagner-convicts-recruited"].figures
    '48,366 recruited; about 1 in 3 died'

:func:`citation_problems` cross-checks the table against the scenarios' ``[sources]`` and
the tests; ``tests/test_claims.py`` runs it.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

PROJECT = Path(__file__).resolve().parent.parent
CLAIMS_FILE = PROJECT / "seeds" / "claims.csv"
_SCENARIO_USE = re.compile(r"scenarios/(?P<name>[\w-]+)\.toml#(?P<key>.+)")
_TEST_USE = re.compile(r"(?P<file>tests/[\w/]+\.py)::(?P<test>\w+)")


class Claim(BaseModel):
    """One row of the claims table."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    role: Literal["calibration", "context"]
    claim: str = Field(min_length=10)
    figures: str = Field(min_length=1)
    source: str = Field(min_length=1)
    date: str = Field(min_length=1)
    used_by: list[str] = Field(default_factory=list)

    @field_validator("used_by", mode="before")
    @classmethod
    def _split(cls, value):
        if isinstance(value, str):
            return [part.strip() for part in value.split(";") if part.strip()]
        return value


def load_claims(path: Path = CLAIMS_FILE) -> dict[str, Claim]:
    """The claims by id; raises ``ValueError`` naming the row of a malformed claim."""
    claims: dict[str, Claim] = {}
    with open(path, newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                claim = Claim.model_validate(row)
            except ValidationError as err:
                first = err.errors()[0]
                where = ".".join(str(p) for p in first["loc"])
                raise ValueError(f"{path}:{line}: {where}: {first['msg']}") from None
            if claim.id in claims:
                raise ValueError(f"{path}:{line}: id '{claim.id}' appears twice")
            claims[claim.id] = claim
    return claims


def citation_problems(claims: dict[str, Claim], scenarios: dict[str, dict[str, list[str]]],
                      project: Path = PROJECT) -> list[str]:
    """Everything that does not add up between the claims, the scenarios' ``sources``
    (scenario name -> key path -> claim ids, as written in the file) and the tests.

    >>> citation_problems({}, {"x": {"max_days": ["nowhere"]}})
    ["scenarios/x.toml cites 'nowhere' for max_days, which is not in seeds/claims.csv"]
    """
    problems = []
    cited = set()
    for name, sources in scenarios.items():
        for key, ids in sources.items():
            for claim_id in ids:
                use = f"scenarios/{name}.toml#{key}"
                if claim_id not in claims:
                    problems.append(f"scenarios/{name}.toml cites '{claim_id}' for {key}, "
                                    f"which is not in seeds/claims.csv")
                    continue
                cited.add((claim_id, use))
                if use not in claims[claim_id].used_by:
                    problems.append(f"claim '{claim_id}' does not list {use} in used_by")
    for claim in claims.values():
        if claim.role == "calibration" and not claim.used_by:
            problems.append(f"claim '{claim.id}' is neither used nor marked context")
        for use in claim.used_by:
            scenario, test = _SCENARIO_USE.fullmatch(use), _TEST_USE.fullmatch(use)
            if scenario:
                if (claim.id, use) not in cited:
                    problems.append(f"claim '{claim.id}': {use} does not cite it in [sources]")
            elif test:
                source = project / test["file"]
                text = source.read_text(encoding="utf-8") if source.is_file() else ""
                if not re.search(rf"def {test['test']}\(", text):
                    problems.append(f"claim '{claim.id}': no test {use}")
                elif claim.id not in text:
                    problems.append(f"claim '{claim.id}': {use} does not mention it")
            else:
                problems.append(f"claim '{claim.id}': used_by entry '{use}' is neither "
                                f"scenarios/NAME.toml#key nor tests/FILE.py::TEST")
    return problems
