"""Scenario files: TOML that names a base, overrides a few keys and is validated whole.

A scenario file holds the keys of :class:`sim.config.Scenario` (``docs/ODD.md``
section 7.10), plus ``base``: the name or path of a scenario it extends. Tables merge
key by key with the base; lists and values replace. The file's stem is its name::

    >>> from sim.scenarios import load
    >>> load("lanchester_square").combat.morale_enabled
    False
    >>> load("convict_waves", ["attacker.drones=0", "max_days=5"]).max_days
    5

Anything wrong raises :class:`ScenarioError`, whose text is one line naming the file,
the key and what is allowed. Values (in files and in ``--set``) are read as TOML
literals, never evaluated as code.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from sim.config import Scenario
from sim.fields import keys_at
from sim.keypaths import assign, deep_merge, format_key_path, split_key_path

#: Where named scenarios are found: the working directory's ``scenarios/`` first, then
#: the project's own.
PROJECT_SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
_BARE_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_NAMED_KEY = re.compile(r"([A-Za-z_][\w.\[\]]*): (.*)", re.DOTALL)


class ScenarioError(ValueError):
    """A scenario that cannot be used; ``str()`` is one line: file, key, what is allowed."""

    def __init__(self, file: str | Path, key: str, problem: str):
        self.file, self.key, self.problem = str(file), key, problem
        super().__init__(f"{self.file}: {key}: {problem}" if key else f"{self.file}: {problem}")

    def __reduce__(self):
        # Raised in worker processes too: pickle with the three parts, not the message.
        return type(self), (self.file, self.key, self.problem)


def scenario_dirs(kind: str = "scenarios") -> list[Path]:
    """Folders searched for named files of a kind (``scenarios`` or ``experiments``):
    the working directory's first, then the project's."""
    dirs = [Path.cwd() / kind, PROJECT_SCENARIOS.parent / kind]
    unique: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in [u.resolve() for u in unique]:
            unique.append(d)
    return unique


def available(kind: str = "scenarios") -> dict[str, Path]:
    """Named files of a kind: name to file, the first folder of :func:`scenario_dirs`
    winning.

    >>> "fortified_defense" in available()
    True
    >>> "docking" in available("experiments")
    True
    """
    found: dict[str, Path] = {}
    for folder in scenario_dirs(kind):
        for path in sorted(folder.glob("*.toml")):
            found.setdefault(path.stem, path)
    return dict(sorted(found.items()))


def find(name_or_path: str | Path, relative_to: Path | None = None,
         kind: str = "scenarios") -> Path:
    """The file of a scenario (or another ``kind``) given by name (``convict_waves``)
    or path."""
    text = str(name_or_path)
    candidates = []
    if relative_to is not None:
        candidates += [relative_to / text, relative_to / f"{text}.toml"]
    candidates.append(Path(text))
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    named = available(kind)
    if text in named:
        return named[text]
    raise FileNotFoundError(text)


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's data; a file that cannot be read or parsed is a
    :class:`ScenarioError` naming it."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(path, "", f"not valid TOML ({err}); allowed: a TOML file such as "
                                      f"those in scenarios/") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError(path, "", f"cannot read: {getattr(err, 'strerror', None) or err}"
                            ) from None


def description(path: Path) -> str:
    """A scenario file's one-line ``description``, without validating the whole file."""
    try:
        return str(tomllib.loads(path.read_text(encoding="utf-8")).get("description", ""))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return "(unreadable; see attrition check)"


def read(name_or_path: str | Path) -> tuple[Path, dict[str, Any]]:
    """The file and its data merged over its chain of bases (not yet validated)."""
    try:
        path = find(name_or_path)
    except FileNotFoundError:
        known = ", ".join(available()) or "none"
        raise ScenarioError(name_or_path, "", f"no such file or named scenario; allowed: a "
                                              f"TOML file or one of {known}") from None
    return path, _read_chain(path, [])


def _read_chain(path: Path, chain: list[Path]) -> dict[str, Any]:
    if path.resolve() in chain:
        loop = " -> ".join(p.stem for p in chain + [path.resolve()])
        raise ScenarioError(chain[-1], "base", f"bases loop ({loop}); allowed: a chain of "
                                               f"bases that ends")
    data = read_toml(path)
    base = data.pop("base", None)
    data.setdefault("name", path.stem)
    if base is None:
        # Without a base, a file states its differences from the reference scenario.
        return deep_merge(Scenario().model_dump(), data)
    if not isinstance(base, str):
        raise ScenarioError(path, "base", f"{base!r} is not a scenario name; allowed: a name "
                                          f"or a path, as a string")
    try:
        base_path = find(base, relative_to=path.parent)
    except FileNotFoundError:
        known = ", ".join(available())
        raise ScenarioError(path, "base", f"no scenario '{base}'; allowed: a path or one of "
                                          f"{known}") from None
    inherited = _read_chain(base_path, chain + [path.resolve()])
    validate(inherited, base_path)  # a broken base is reported as itself
    # A scenario names and describes itself; it does not inherit those.
    inherited.pop("name", None)
    inherited.pop("description", None)
    return deep_merge(inherited, data)


def parse_assignment(text: str) -> tuple[str, Any]:
    """Split ``key.path=value`` and read the value as a TOML literal; a bare word is a
    string.

    >>> parse_assignment("attacker.drones=40")
    ('attacker.drones', 40)
    >>> parse_assignment("attacker.units[0].tactic=infiltration")
    ('attacker.units[0].tactic', 'infiltration')
    >>> parse_assignment("sector.fortification_level=0.9")
    ('sector.fortification_level', 0.9)
    """
    key, sep, literal = text.partition("=")
    key, literal = key.strip(), literal.strip()
    if not sep or not key:
        raise ValueError(f"'{text}' is not an assignment; allowed: key.path=value")
    try:
        split_key_path(key)
    except ValueError as err:
        raise ValueError(str(err)) from None
    try:
        return key, tomllib.loads(f"value = {literal}")["value"]
    except tomllib.TOMLDecodeError:
        if _BARE_WORD.fullmatch(literal) and literal not in ("true", "false"):
            return key, literal
        raise ValueError(f"'{literal}' is not a value; allowed: a TOML literal such as 40, "
                         f"0.5, true, \"text\" or [1, 2]") from None


def load(name_or_path: str | Path, overrides: list[str] | tuple[str, ...] = (),
         days: int | None = None) -> Scenario:
    """Read, merge, override (``key.path=value`` strings, as ``--set``) and validate.

    ``days`` replaces ``max_days``. Raises :class:`ScenarioError`.
    """
    path, data = read(name_or_path)
    for text in overrides:
        try:
            key, value = parse_assignment(text)
        except ValueError as err:
            raise ScenarioError(path, f"--set {text}", str(err)) from None
        if key == "base":
            raise ScenarioError(path, "--set base", "the base is chosen in the file; allowed: "
                                                    "the scenario's keys")
        try:
            assign(data, key, value)
        except KeyError as err:
            raise ScenarioError(path, f"--set {key}", err.args[0]) from None
    if days is not None:
        data["max_days"] = days
    return validate(data, path)


def validate(data: dict[str, Any], file: str | Path) -> Scenario:
    """Validate merged scenario data; the first problem becomes a :class:`ScenarioError`."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise explain(err, file) from None


def explain(err: ValidationError, file: str | Path,
            root: type[BaseModel] = Scenario) -> ScenarioError:
    """One line for a pydantic error of a ``root`` model (a scenario unless told): the
    key, what is wrong and what is allowed."""
    errors = err.errors()
    first = errors[0]
    loc = list(first["loc"])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if first["type"] == "extra_forbidden":
        parent, unknown = loc[:-1], str(loc[-1])
        fields = keys_at(parent, root) + (["base"] if root is Scenario and not parent else [])
        close = difflib.get_close_matches(unknown, fields, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        problem = f"unknown key; {hint}allowed: {', '.join(fields)}"
    elif loc and loc[-1] == "[key]":
        # A table keyed by a fixed set of names (tactics): the key itself is unknown.
        loc = loc[:-1]
        names = re.findall(r"'([^']+)'", first["msg"])
        close = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        problem = f"unknown name; {hint}allowed: {', '.join(names)}"
        more = ""
    else:
        problem = first["msg"].removeprefix("Value error, ")
        # Whole-model checks start their message with the key they are about.
        named = _NAMED_KEY.match(problem) if first["type"] == "value_error" else None
        if named:
            loc += split_key_path(named.group(1))
            problem = named.group(2)
        shown = first.get("input")
        if first["type"] != "value_error" and isinstance(shown, str | int | float | bool):
            problem += f" (got {shown!r})"
    return ScenarioError(file, format_key_path(loc), problem + more)
