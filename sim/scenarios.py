"""Scenario files: TOML that names a base, overrides a few keys and is validated whole.

A scenario file holds the keys of :class:`sim.config.Scenario` (``docs/ODD.md``
section 7.10), plus ``base``: the name or path of a scenario it extends. Tables merge
key by key with the base; lists and values replace. The file's stem is its name::

    >>> from sim.scenarios import load
    >>> load("lanchester_square").combat.morale_enabled
    False
    >>> load("bakhmut_2022_2023", ["attacker.drones=0", "max_days=5"]).max_days
    5

Anything wrong raises :class:`ScenarioError`, whose text is one line naming the file,
the key and what is allowed. Values (in files and in ``--set``) are read as TOML
literals, never evaluated as code, and strictly: ``true`` is not a number, ``"5"`` not
a count, ``inf`` and ``nan`` no value at all. Reading is bounded: files of at most
:data:`MAX_FILE_BYTES`, tables and lists nested at most :data:`MAX_DEPTH` deep, chains of
at most :data:`MAX_BASES` bases, and runs estimated to fit in memory
(:mod:`sim.model.memory`).
"""

from __future__ import annotations

import difflib
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from sim.config import Scenario
from sim.fields import allowed, keys_at, schema_at
from sim.keypaths import assign, deep_merge, format_key_path, split_key_path
from sim.model.memory import MemoryLimitError, check_memory

#: Where named scenarios are found: the working directory's ``scenarios/`` first, then
#: the project's own.
PROJECT_SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
_BARE_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_NAMED_KEY = re.compile(r"([A-Za-z_][\w.\[\]]*): (.*)", re.DOTALL)
#: The largest scenario or experiment file read (the largest shipped is 6 KB).
MAX_FILE_BYTES = 1 << 20
#: The deepest nesting of tables and lists in a file or a ``--set`` value (the schema's
#: deepest key, ``attacker.contingents.NAME.schedule[0].day``, is 5 deep).
MAX_DEPTH = 16
#: The longest chain of bases (the shipped scenarios use at most 2).
MAX_BASES = 16
#: Echoed input (keys, values) is cut to this many characters in messages.
SHOWN_CHARS = 120


class ScenarioError(ValueError):
    """A scenario that cannot be used; ``str()`` is one line: file, key, what is allowed."""

    def __init__(self, file: str | Path, key: str, problem: str):
        self.file, self.key, self.problem = str(file), shorten(key), problem
        # One line whatever the input echoed: control characters (a newline in a key
        # or a value) are shown escaped.
        super().__init__(one_line(f"{self.file}: {self.key}: {problem}" if key
                                  else f"{self.file}: {problem}"))

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
    """The file of a scenario (or another ``kind``) given by name (``bakhmut_2022_2023``)
    or path."""
    text = str(name_or_path)
    candidates = []
    if relative_to is not None:
        candidates += [relative_to / text, relative_to / f"{text}.toml"]
    candidates.append(Path(text))
    for candidate in candidates:
        try:
            if candidate.is_file():
                return candidate
        except (OSError, ValueError):  # a name too long, a NUL byte: no such file
            continue
    named = available(kind)
    if text in named:
        return named[text]
    raise FileNotFoundError(text)


def one_line(text: str) -> str:
    """``text`` with control characters (newlines, NUL) escaped, as one line.

    >>> one_line("a\\nb")
    'a\\\\nb'
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def shorten(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` cut to ``limit`` characters (with ``...``), for echoing input."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's data; a file that cannot be read or parsed, or is larger than
    :data:`MAX_FILE_BYTES` or nested deeper than :data:`MAX_DEPTH`, is a
    :class:`ScenarioError` naming it."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioError(path, "", f"{size:,} bytes; allowed: a TOML file of at most "
                                          f"{MAX_FILE_BYTES:,} bytes")
        with path.open("rb") as file:
            text = file.read(MAX_FILE_BYTES + 1).decode("utf-8").removeprefix("\ufeff")
        _check_key_lengths(path, text)
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ScenarioError(path, "", f"not valid TOML ({shorten(str(err))}); allowed: a TOML "
                                      f"file such as those in scenarios/") from None
    except ScenarioError:
        raise
    except ValueError as err:  # a number of more than 4300 digits
        raise ScenarioError(path, "", f"not a value ({shorten(str(err), 60)}); allowed: a "
                                      f"TOML file such as those in scenarios/") from None
    except RecursionError:
        data = None
    except OSError as err:
        raise ScenarioError(path, "", f"cannot read: {getattr(err, 'strerror', None) or err}"
                            ) from None
    where = nested_too_deep(data)
    if where is not None:
        raise ScenarioError(path, where, f"nested more than {MAX_DEPTH} deep; allowed: tables "
                                         f"and lists at most {MAX_DEPTH} deep")
    return data


def _check_key_lengths(path: Path, text: str) -> None:
    """Refuse a dotted key or table header of far more parts than any allowed key path
    before parsing: tomllib's time and memory grow with the square of a key's parts (a
    400 KB key of 200,000 parts took minutes and gigabytes). Counts the dots before a
    line's first ``=`` (or in a ``[header]``); a quoted key full of dots may be refused
    too, and no key of the schema is one."""
    limit = 4 * MAX_DEPTH
    for number, line in enumerate(text.splitlines(), start=1):
        head = line.split("=", 1)[0] if "=" in line else line if line.lstrip().startswith(
            "[") else ""
        if head.count(".") > limit:
            raise ScenarioError(path, f"line {number}", f"a key of {head.count('.') + 1:,} "
                                f"parts; allowed: keys of at most {limit} parts")


def nested_too_deep(data: Any) -> str | None:
    """The key path where ``data`` (tables and lists) is nested deeper than
    :data:`MAX_DEPTH` (``(top)`` for none that could be parsed), or none; no recursion.

    >>> nested_too_deep({"a": [1, {"b": 2}]}) is None
    True
    >>> nested_too_deep({"a": [[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]})
    'a[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]'
    """
    if data is None:
        return "(top)"
    stack = [(data, [])]
    while stack:
        node, parts = stack.pop()
        if len(parts) > MAX_DEPTH:
            return shorten(format_key_path(parts))
        if isinstance(node, dict):
            stack += [(value, parts + [str(key)]) for key, value in node.items()]
        elif isinstance(node, list):
            stack += [(value, parts + [i]) for i, value in enumerate(node)]
    return None


def description(path: Path) -> str:
    """A scenario file's one-line ``description``, without validating the whole file."""
    try:
        return str(read_toml(path).get("description", ""))
    except ScenarioError:
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
        raise ScenarioError(chain[-1], "base", f"bases loop ({shorten(loop, 400)}); allowed: "
                                               f"a chain of bases that ends")
    if len(chain) > MAX_BASES:
        raise ScenarioError(chain[0], "base", f"a chain of more than {MAX_BASES} bases "
                                              f"({chain[0].stem} -> {chain[1].stem} -> ... "
                                              f"-> {path.stem}); allowed: at most {MAX_BASES}")
    data = read_toml(path)
    base = data.pop("base", None)
    data.setdefault("name", path.stem)
    if base is None:
        # Without a base, a file states its differences from the reference scenario.
        return deep_merge(Scenario().model_dump(), data)
    if not isinstance(base, str):
        raise ScenarioError(path, "base", f"{shorten(repr(base))} is not a scenario name; "
                                          f"allowed: a name or a path, as a string")
    try:
        base_path = find(base, relative_to=path.parent)
    except FileNotFoundError:
        known = ", ".join(available())
        raise ScenarioError(path, "base", f"no scenario '{shorten(base)}'; allowed: a path "
                                          f"or one of {known}") from None
    inherited = _read_chain(base_path, chain + [path.resolve()])
    # A broken base is reported as itself; its memory is not: the file that extends it
    # may make the run smaller.
    validate(inherited, base_path, memory=False)
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
        value = tomllib.loads(f"value = {literal}")["value"]
    except ValueError:  # TOMLDecodeError, or a number of more than 4300 digits
        if _BARE_WORD.fullmatch(literal) and literal not in ("true", "false"):
            return key, literal
        raise ValueError(f"'{shorten(literal)}' is not a value; allowed: a TOML literal such "
                         f"as 40, 0.5, true, \"text\" or [1, 2]") from None
    except RecursionError:
        value = None
    if nested_too_deep(None if value is None else {"value": value}) is not None:
        raise ValueError(f"'{shorten(literal)}' is nested more than {MAX_DEPTH} deep; allowed: "
                         f"a TOML literal such as 40, 0.5, true, \"text\" or [1, 2]")
    return key, value


def apply_overrides(data: dict[str, Any], overrides: list[str] | tuple[str, ...],
                    path: str | Path, fixed: tuple[str, ...] = ()) -> None:
    """Set each ``key.path=value`` of ``overrides`` (as ``--set``) in ``data``; a key of
    ``fixed`` (chosen in the file only) or a bad assignment is a :class:`ScenarioError`."""
    for text in overrides:
        try:
            key, value = parse_assignment(text)
        except ValueError as err:
            raise ScenarioError(path, f"--set {text}", str(err)) from None
        if key in fixed:
            raise ScenarioError(path, f"--set {key}", f"the {key} is chosen in the file; "
                                                      f"allowed: the scenario's keys")
        try:
            assign(data, key, value)
        except KeyError as err:
            raise ScenarioError(path, f"--set {key}", err.args[0]) from None


def load(name_or_path: str | Path, overrides: list[str] | tuple[str, ...] = (),
         days: int | None = None, replicates: int = 1) -> Scenario:
    """Read, merge, override (``key.path=value`` strings, as ``--set``) and validate.

    ``days`` replaces ``max_days``; ``replicates`` is the number of runs whose records
    the memory estimate counts. Raises :class:`ScenarioError`.
    """
    path, data = read(name_or_path)
    apply_overrides(data, overrides, path, fixed=("base",))
    if days is not None:
        validate(data, path, memory=False)  # --days replaces a max_days that is valid
        data["max_days"] = days
    return validate(data, path, replicates)


def validate(data: dict[str, Any], file: str | Path, replicates: int = 1,
             memory: bool = True) -> Scenario:
    """Validate merged scenario data, and (with ``memory``) estimate the memory of
    ``replicates`` runs (:func:`sim.model.memory.check_memory`); the first problem
    becomes a :class:`ScenarioError`."""
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        raise explain(err, file) from None
    if not memory:
        return scenario
    try:
        check_memory(scenario, replicates)
    except MemoryLimitError as err:
        raise ScenarioError(file, err.key, err.problem) from None
    return scenario


def explain(err: ValidationError, file: str | Path,
            root: type[BaseModel] = Scenario) -> ScenarioError:
    """One line for a pydantic error of a ``root`` model (a scenario unless told): the
    key, what is wrong and what is allowed."""
    errors = err.errors()
    first = errors[0]
    loc = list(_without_branch(first["loc"]))
    # A day-or-date that is neither fails both branches of its union: one problem.
    problems = {_without_branch(e["loc"]) for e in errors}
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
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
            try:
                loc += split_key_path(named.group(1))
                problem = named.group(2)
            except ValueError:  # the key the check names is itself malformed: say it all
                pass
        shown = first.get("input")
        if first["type"] != "value_error" and isinstance(shown, str | int | float | bool):
            problem += f" (got {shorten(repr(shown), 60)})"
        if first["type"] not in ("value_error", "literal_error") and "allowed:" not in problem:
            _, field = schema_at(loc, root)
            if field is not None and allowed(field) != "any" and _is_value(tuple(loc)):
                problem += f"; allowed: {allowed(field)}"
    return ScenarioError(file, format_key_path(loc), problem + more)


#: The branches pydantic names in the location of an error of a day-or-date
#: (``sim.fields.DayOrDate``): not keys of the scenario.
_DAY_BRANCHES = ("constrained-int", "int", "date")
_DAY_KEYS = ("commit_day", "until_day", "day")


def _without_branch(loc: tuple) -> tuple:
    """An error's location without the union branch a day-or-date adds to it."""
    if len(loc) >= 2 and loc[-2] in _DAY_KEYS and loc[-1] in _DAY_BRANCHES:
        return tuple(loc[:-1])
    return tuple(loc)


def _is_value(loc: tuple) -> bool:
    """Whether an error's location ends at a field's own value (not inside a list or
    table of values, nor at a union's branch)."""
    return bool(loc) and isinstance(loc[-1], str) and not str(loc[-1]).endswith("]")
