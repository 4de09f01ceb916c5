"""Key paths: the names of scenario keys, such as ``attacker.units[0].count``.

The one home of their syntax and of getting, setting and walking over them in nested
tables and lists (scenario data as a TOML file reads or ``model_dump()`` gives it): keys
joined by dots, a list item as ``[0]`` (or ``.0``), every item of a list or every entry
of a table as ``[*]``. Pure functions on plain data; ``--set``, ``--vary``, ``--fit``,
an experiment's ``set`` and parameters, ``[sources]`` and the demo page's controls all
use them.

    >>> data = {"attacker": {"units": [{"count": 1}, {"count": 2}]}}
    >>> split_key_path("attacker.units[0].count")
    ['attacker', 'units', 0, 'count']
    >>> lookup(data, split_key_path("attacker.units[1].count"))
    2
    >>> assign(data, "attacker.units[*].count", 5); select(data, "attacker.units[*].count")
    [5, 5]
    >>> flatten({"sector": {"cover": 0.2}, "attacker.drones": 4})
    {'sector.cover': 0.2, 'attacker.drones': 4}
"""

from __future__ import annotations

import difflib
from typing import Any

#: A part of a key path that stands for every item of a list or entry of a table.
EVERY = "*"
#: The most parts a key path may have (the schema's deepest key,
#: ``attacker.contingents.NAME.schedule[0].day``, has 6), and the longest it may be.
MAX_PARTS = 16
MAX_KEY_CHARS = 400


def split_key_path(key_path: str) -> list[str | int]:
    """Split a dotted key path into keys and list indices.

    >>> split_key_path("attacker.units[0].personnel")
    ['attacker', 'units', 0, 'personnel']
    >>> split_key_path("attacker.units.0.personnel")
    ['attacker', 'units', 0, 'personnel']
    >>> split_key_path("attacker.units[*].training_days")
    ['attacker', 'units', '*', 'training_days']

    A key path of more than :data:`MAX_PARTS` parts or :data:`MAX_KEY_CHARS` characters
    is refused (``ValueError``), as one that is not a key path.
    """
    if len(key_path) > MAX_KEY_CHARS:
        raise ValueError(f"'{key_path[:60]}...' has {len(key_path):,} characters; allowed: "
                         f"a key path of at most {MAX_KEY_CHARS}")
    parts: list[str | int] = []
    for piece in key_path.replace("[", ".").replace("]", "").split("."):
        parts.append(int(piece) if piece.isdigit() else piece)
    if any(p == "" for p in parts):
        raise ValueError(f"'{key_path}' is not a key path; allowed: keys joined by dots, "
                         f"list items as [0]")
    if len(parts) > MAX_PARTS:
        raise ValueError(f"'{key_path[:60]}...' has {len(parts)} parts; allowed: a key path "
                         f"of at most {MAX_PARTS} parts")
    return parts


def format_key_path(parts) -> str:
    """The inverse of :func:`split_key_path`: ``attacker.units[0].personnel``."""
    text = ""
    for part in parts:
        if isinstance(part, int) or part == EVERY:
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def lookup(data: Any, parts: list[str | int]) -> Any:
    """The value at a split key path (no ``[*]``) of nested tables and lists; the
    ``KeyError``, ``IndexError`` or ``TypeError`` of a step that is not there."""
    for part in parts:
        data = data[part]
    return data


def select(data: Any, key: str | list[str | int]) -> list[Any]:
    """Every value a key path points at (several with ``[*]``, none with ``[*]`` over an
    empty list or table). ``KeyError`` (one line: what is missing, where, and what is
    allowed there) for a step that is not there.

    >>> select({"a": {"x": 1, "y": 2}}, "a[*]")
    [1, 2]
    >>> select({"a": [1]}, "a[3]")
    Traceback (most recent call last):
    KeyError: "no '3' in a; allowed: [0] to [0] or [*]"
    """
    parts = split_key_path(key) if isinstance(key, str) else key
    nodes = [data]
    for i, part in enumerate(parts):
        following = []
        for node in nodes:
            if part == EVERY and isinstance(node, list | dict):
                following += list(node) if isinstance(node, list) else list(node.values())
            elif isinstance(part, int) and isinstance(node, list) and part < len(node):
                following.append(node[part])
            elif isinstance(part, str) and isinstance(node, dict) and part in node:
                following.append(node[part])
            else:
                allowed = (", ".join(map(str, node)) if isinstance(node, dict)
                           else f"[0] to [{len(node) - 1}] or [*]"
                           if isinstance(node, list) else "nothing below a value")
                where = format_key_path(parts[:i]) or "(top)"
                raise KeyError(f"no '{part}' in {where}; allowed: {allowed}")
        nodes = following
    return nodes


def assign(data: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` in nested ``data``, creating tables on the way; ``[*]`` sets every
    item of a list or every entry of a table; a list index must exist. ``KeyError``
    (one line: where, and what is allowed) otherwise.

    >>> data = {"units": [{"n": 1}, {"n": 2}]}
    >>> assign(data, "units[*].n", 5); data
    {'units': [{'n': 5}, {'n': 5}]}
    >>> data = {"contingents": {"a": {"pool": 1}, "b": {}}}
    >>> assign(data, "contingents[*].pool", 0); data
    {'contingents': {'a': {'pool': 0}, 'b': {'pool': 0}}}
    """
    _assign(data, split_key_path(key), 0, value)


def _assign(node: Any, parts: list, i: int, value: Any) -> None:
    part, last = parts[i], i == len(parts) - 1
    where = format_key_path(parts[:i]) or "(top)"
    if part == EVERY:
        if not isinstance(node, list | dict):
            raise KeyError(f"{where} is not a list or table; allowed: [*] after a list or "
                           f"table")
        for item in (range(len(node)) if isinstance(node, list) else list(node)):
            if last:
                node[item] = value
            else:
                _assign(node[item], parts, i + 1, value)
        return
    if isinstance(part, int):
        if not isinstance(node, list) or part >= len(node):
            size = len(node) if isinstance(node, list) else 0
            raise KeyError(f"{where} has {size} items; allowed: [0] to [{size - 1}]")
    elif not isinstance(node, dict):
        raise KeyError(f"{where} is not a table")
    elif not last and part not in node and (isinstance(parts[i + 1], int)
                                            or parts[i + 1] == EVERY):
        close = difflib.get_close_matches(part, list(node), n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise KeyError(f"unknown key '{part}'; {hint}allowed: {', '.join(node)}")
    if last:
        node[part] = value
    else:
        if isinstance(node, dict):
            node.setdefault(part, {})
        _assign(node[part], parts, i + 1, value)


def flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables as key paths to values: ``{"sector": {"cover": 0}}`` and
    ``{"sector.cover": 0}`` both become ``{"sector.cover": 0}``."""
    flat: dict[str, Any] = {}
    for key, value in table.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            flat.update(flatten(value, path))
        else:
            flat[path] = value
    return flat


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` laid over it: tables merge key by key, anything else
    (lists, values) replaces. Neither argument is changed."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out
