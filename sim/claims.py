"""The claims table (``seeds/claims.csv``): what the source reporting says, who uses it,
and, for a dated public figure the model is held to, its target.

    >>> claims = load_claims()
    >>> claims["wagner-convicts-recruited"].figures
    '48,366 recruited'
    >>> claim = claims["nk-losses-jan-2025"]
    >>> claim.quantity, claim.who, claim.target_date.isoformat(), claim.low, claim.high
    ('killed', 'attacker/foreign', '2025-01-13', 250.0, 349.0)

A target names the scenarios it is checked on (``scenario``), the quantity of a run
(:data:`QUANTITIES`), whose it is (``who``: a side, or ``SIDE/CONTINGENT``), the day
(``target_date``, or the end of the run), the figure (``value``) and, where the source
gives a range or a bound, ``low`` and ``high`` (either may be open), and whether the
scenario was tuned to it (``tuned``) or never was (``predicted``). ``sim.validation``
sets the model beside these targets (``attrition validate``).

:func:`citation_problems` cross-checks the table against the scenarios' ``[sources]`` and
the tests; ``tests/test_claims.py`` runs it.
"""

from __future__ import annotations

import csv
import datetime
import io
import math
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

PROJECT = Path(__file__).resolve().parent.parent
CLAIMS_FILE = PROJECT / "seeds" / "claims.csv"
#: A claims file larger than this is refused unread (the shipped one is ~20 KB).
MAX_CLAIMS_BYTES = 1 << 20
_SCENARIO_USE = re.compile(
    r"(?P<folder>scenarios|theatres)/(?P<name>[\w-]+)\.toml#(?P<key>.+)")
_TEST_USE = re.compile(r"(?P<file>tests/[\w/]+\.py)::(?P<test>\w+)")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SCENARIO_NAME = re.compile(r"[\w-]+")
_WHO = re.compile(r"(attacker|defender)(/[A-Za-z0-9_.-]+)?")
#: A number as written in a claims file: digits, a decimal point, an exponent (no
#: separators: "1,000" and "1_000" are refused alike).
_NUMBER = re.compile(r"\d{1,15}(\.\d{0,15})?([eE][-+]?\d{1,3})?")
#: A claimed figure is 0 or in [MIN_VALUE, MAX_VALUE]: persons (at most MAX_PERSONS, as
#: in a scenario) or a ratio such as killed per recruited; the bounds keep figures and
#: their ratios to the model finite.
MIN_VALUE = 1e-6
MAX_VALUE = 1e9
#: The dates a claim may give: years the calendar and the figures' axes can hold, with
#: room for a run of MAX_DAYS (sim.config bounds start_date the same way).
FIRST_DATE = datetime.date(1000, 1, 1)
LAST_DATE = datetime.date(9000, 12, 31)

#: Quantities of a run a target can name (``sim.validation`` computes each). Counts of
#: persons: cumulative on the target's day (or at the end of the run) ...
CUMULATIVE = ("killed", "wounded", "casualties", "released", "recruited")
#: ... and those that may be given a day at all: the cumulative ones and the persons on
#: the line that day.
DATED = (*CUMULATIVE, "fighting")
#: Quantities whose value, low and high are calendar dates.
DATE_VALUED = ("deadliest_day", "end_date")
QUANTITIES = (*DATED, "peak_daily_killed", "killed_per_recruited", *DATE_VALUED)
Quantity = Literal["killed", "wounded", "casualties", "released", "recruited", "fighting",
                   "peak_daily_killed", "killed_per_recruited", "deadliest_day", "end_date"]
_REQUIRED = ("id", "role", "claim", "figures", "source", "date")
_TARGET_COLUMNS = ("scenario", "target_date", "quantity", "who", "value", "low", "high",
                   "target")


class ClaimsError(ValueError):
    """A claims file that cannot be used; ``str()`` is one line: file, row, key, what is
    allowed."""


class Claim(BaseModel):
    """One row of the claims table."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$")
    role: Literal["calibration", "validation", "context"]
    claim: str = Field(min_length=10)
    figures: str = Field(min_length=1)
    source: str = Field(min_length=1)
    date: str = Field(min_length=1)
    used_by: list[str] = Field(default_factory=list)
    # The target, if any (every one empty, or scenario, quantity, who, value and target).
    scenario: list[str] = Field(default_factory=list)
    target_date: datetime.date | None = None
    quantity: Quantity | None = None
    who: str | None = None
    value: float | datetime.date | None = None
    low: float | datetime.date | None = None
    high: float | datetime.date | None = None
    target: Literal["tuned", "predicted"] | None = None

    @field_validator("used_by", mode="before")
    @classmethod
    def _split(cls, value):
        if isinstance(value, str):
            return [part.strip() for part in value.split(";") if part.strip()]
        return value

    @model_validator(mode="before")
    @classmethod
    def _read_target(cls, data: Any) -> Any:
        """The target's cells as written in the CSV (text; empty is none) made values:
        scenario names, dates and numbers, each refused in one line naming its key."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for key in _TARGET_COLUMNS:
            if isinstance(data.get(key), str):
                data[key] = data[key].strip() or None
        names = data.get("scenario")
        if isinstance(names, str):
            parts = [part.strip() for part in names.split(";")]
            for part in parts:
                if not _SCENARIO_NAME.fullmatch(part):
                    raise ValueError(f"scenario: '{part}' is not a scenario name; allowed: "
                                     f"names such as kursk_2024_2025, ';'-separated, or "
                                     f"empty for no target")
            data["scenario"] = parts
        elif names is None:
            data["scenario"] = []
        if isinstance(data.get("target_date"), str):
            data["target_date"] = _iso_date("target_date", data["target_date"],
                                            "or empty for the end of the run")
        who = data.get("who")
        if isinstance(who, str) and not _WHO.fullmatch(who):
            raise ValueError(f"who: '{who}' is not a side or a contingent; allowed: attacker, "
                             f"defender or SIDE/CONTINGENT such as attacker/foreign")
        dated = data.get("quantity") in DATE_VALUED
        for key in ("value", "low", "high"):
            if isinstance(data.get(key), str):
                data[key] = (_iso_date(key, data[key], f"for {data['quantity']}") if dated
                             else _count(key, data[key]))
        return data

    @model_validator(mode="after")
    def _target_whole(self) -> Claim:
        """A target is whole or absent, its day and bounds make sense for its quantity,
        and its kind agrees with the claim's role."""
        given = [key for key in _TARGET_COLUMNS if getattr(self, key) not in (None, [])]
        if not given:
            if self.role == "validation" and not any(_TEST_USE.fullmatch(u)
                                                     for u in self.used_by):
                raise ValueError("target: empty, but role is validation; allowed: a "
                                 "predicted target, a test that checks it in used_by, or "
                                 "role calibration or context")
            return self
        for key in ("scenario", "quantity", "who", "value", "target"):
            if key not in given:
                raise ValueError(f"{key}: empty, but {given[0]} is set; allowed: every "
                                 f"target column empty (no target), or scenario, quantity, "
                                 f"who, value and target all set")
        dated = self.quantity in DATE_VALUED
        for key in ("value", "low", "high"):
            found = getattr(self, key)
            if found is not None and isinstance(found, datetime.date) != dated:
                allowed = (f"a date YYYY-MM-DD for {self.quantity}" if dated
                           else f"a number for {self.quantity}")
                raise ValueError(f"{key}: {found} does not fit {self.quantity}; allowed: "
                                 f"{allowed}")
        if self.target_date is not None and self.quantity not in DATED:
            raise ValueError(f"target_date: {self.quantity} is taken over the whole run; "
                             f"allowed: empty, or a quantity of a day ({', '.join(DATED)})")
        if self.low is not None and self.high is not None:
            if self.low > self.high:
                raise ValueError(f"low: {self.low} is above high {self.high}; allowed: low "
                                 f"<= high, or either empty for an open side")
            if not self.low <= self.value <= self.high:
                raise ValueError(f"value: {self.value} is outside its range {self.low} to "
                                 f"{self.high}; allowed: a value within low and high (a "
                                 f"bound alone, such as 'over 200', may lie outside it)")
        role = {"tuned": "calibration", "predicted": "validation"}[self.target]
        if self.role != role:
            raise ValueError(f"role: {self.role}, but the target is {self.target}; allowed: "
                             f"role {role} for a {self.target} target")
        return self

    @property
    def has_target(self) -> bool:
        """Whether the claim is a target of ``attrition validate``."""
        return self.target is not None

    @property
    def side(self) -> str:
        """The side of the target's ``who``."""
        return str(self.who).partition("/")[0]

    @property
    def contingent(self) -> str:
        """The contingent of the target's ``who``; ``all`` for a whole side."""
        return str(self.who).partition("/")[2] or "all"


def _iso_date(key: str, text: str, empty: str) -> datetime.date:
    try:
        if _ISO_DATE.fullmatch(text):
            found = datetime.date.fromisoformat(text)
            if FIRST_DATE <= found <= LAST_DATE:
                return found
    except ValueError:
        pass
    raise ValueError(f"{key}: '{text}' is not a date from {FIRST_DATE} to {LAST_DATE}; "
                     f"allowed: an ISO date YYYY-MM-DD {empty}")


def _count(key: str, text: str) -> float:
    try:
        value = float(text) if _NUMBER.fullmatch(text) else math.nan
    except ValueError:
        value = math.nan
    if not (value == 0 or MIN_VALUE <= value <= MAX_VALUE):
        raise ValueError(f"{key}: '{text}' is not a number from {MIN_VALUE} to "
                         f"{MAX_VALUE:,.0f} (or 0); allowed: a number such as 300 or 0.355, "
                         f"a date for deadliest_day or end_date, or empty")
    return value


def load_claims(path: Path | str = CLAIMS_FILE) -> dict[str, Claim]:
    """The claims by id; raises :class:`ClaimsError` (a ``ValueError``) naming the file,
    the row and the key of a malformed claim, and what is allowed."""
    path = Path(path)
    try:
        if path.exists() and not path.is_file():  # a folder, a device, a pipe
            raise ClaimsError(f"{path}: not a regular file; allowed: a claims CSV file")
        # Read no more than the limit: a file's size can change, or lie (a device).
        with open(path, "rb") as f:
            data = f.read(MAX_CLAIMS_BYTES + 1)
        if len(data) > MAX_CLAIMS_BYTES:
            raise ClaimsError(f"{path}: too large (over {MAX_CLAIMS_BYTES:,} bytes); "
                              f"allowed: a claims CSV of at most {MAX_CLAIMS_BYTES:,} bytes")
        # A spreadsheet's "CSV UTF-8" starts with a byte order mark: not part of the
        # first column's name.
        text = data.decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        problem = getattr(err, "strerror", None) or "not UTF-8 text"
        raise ClaimsError(f"{path}: cannot read it ({problem}); allowed: a CSV file in "
                          f"UTF-8 with the columns of seeds/README.md") from None
    claims: dict[str, Claim] = {}
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = reader.fieldnames or []
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            raise ClaimsError(f"{path}:1: {repeated[0]}: a column named twice; allowed: "
                              f"each column once (seeds/README.md)")
        absent = [name for name in _TARGET_COLUMNS if name not in header]
        if 0 < len(absent) < len(_TARGET_COLUMNS):
            raise ClaimsError(f"{path}:1: {absent[0]}: no such column; allowed: all the "
                              f"target columns ({', '.join(_TARGET_COLUMNS)}) or none "
                              f"(seeds/README.md)")
        for row in reader:
            line = reader.line_num  # the row's last line (a quoted cell may hold several)
            claim = _claim(path, line, row)
            if claim.id in claims:
                raise ClaimsError(f"{path}:{line}: id '{claim.id}' appears twice")
            claims[claim.id] = claim
    except csv.Error as err:
        raise ClaimsError(f"{path}: not a CSV file ({err}); allowed: a CSV file with the "
                          f"columns of seeds/README.md") from None
    return claims


def _claim(path: Path, line: int, row: dict) -> Claim:
    if None in row:  # csv.DictReader's key for cells beyond the header
        raise ClaimsError(f"{path}:{line}: row: more cells than the header has columns; "
                          f"allowed: one cell per column (quote a cell with a comma)")
    if None in row.values():  # and its value for the columns a short row lacks
        raise ClaimsError(f"{path}:{line}: row: fewer cells than the header has columns; "
                          f"allowed: one cell per column, empty where there is nothing")
    try:
        return Claim.model_validate(row)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "missing":
            message = (f"no such column; allowed: a header with {', '.join(_REQUIRED)} and, "
                       f"for targets, {', '.join(_TARGET_COLUMNS)} (seeds/README.md)")
        elif first["type"] == "literal_error":
            message = (f"'{str(first['input'])[:60]}' is not allowed; allowed: "
                       f"{first['ctx']['expected']}")
        elif first["type"] == "extra_forbidden":
            message = (f"unknown column; allowed: {', '.join(Claim.model_fields)} "
                       f"(seeds/README.md)")
        elif first["type"] == "string_pattern_mismatch":
            message = ("not an id; allowed: lower-case letters and digits in words joined "
                       "by '-', such as nk-losses-jan-2025")
        elif first["type"] == "string_too_short":
            least = first["ctx"]["min_length"]
            message = f"too short; allowed: at least {least} character{'s' * (least > 1)}"
        text = f"{where}: {message}" if where else message
        raise ClaimsError(_one_line(f"{path}:{line}: {text}")) from None


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def targets(claims: dict[str, Claim], scenario: str | None = None) -> list[Claim]:
    """The claims with a target, in the table's order; with ``scenario``, only those
    checked on it.

    >>> [c.id for c in targets(load_claims(), "bakhmut_2022_2023")][:2]
    ['wagner-dead-records', 'wagner-dead-convicts']
    """
    return [c for c in claims.values()
            if c.has_target and (scenario is None or scenario in c.scenario)]


def targeted_scenarios(claims: dict[str, Claim]) -> list[str]:
    """The scenarios that some target is checked on, sorted."""
    return sorted({name for claim in targets(claims) for name in claim.scenario})


def citation_problems(claims: dict[str, Claim], scenarios: dict[str, dict[str, list[str]]],
                      project: Path = PROJECT) -> list[str]:
    """Everything that does not add up between the claims, the scenarios' ``sources``
    (scenario name -> key path -> claim ids, as written in the file; a theatre's name
    as ``theatres/NAME``) and the tests.

    A claim with a target counts as used: ``attrition validate`` checks the model
    against it on its scenarios, which must exist.

    >>> citation_problems({}, {"x": {"max_days": ["nowhere"]}})
    ["scenarios/x.toml cites 'nowhere' for max_days, which is not in seeds/claims.csv"]
    """
    problems = []
    cited = set()
    for name, sources in scenarios.items():
        for key, ids in sources.items():
            for claim_id in ids:
                file = f"{name}.toml" if "/" in name else f"scenarios/{name}.toml"
                use = f"{file}#{key}"
                if claim_id not in claims:
                    problems.append(f"{file} cites '{claim_id}' for {key}, "
                                    f"which is not in seeds/claims.csv")
                    continue
                cited.add((claim_id, use))
                if use not in claims[claim_id].used_by:
                    problems.append(f"claim '{claim_id}' does not list {use} in used_by")
    for claim in claims.values():
        if claim.role == "calibration" and not claim.used_by and not claim.has_target:
            problems.append(f"claim '{claim.id}' is neither used nor marked context")
        for name in claim.scenario:
            if name not in scenarios:
                problems.append(f"claim '{claim.id}': its target's scenario '{name}' is "
                                f"not in scenarios/")
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
                                f"scenarios/NAME.toml#key, theatres/NAME.toml#key nor "
                                f"tests/FILE.py::TEST")
    return problems
