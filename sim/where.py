"""Conditions on a sweep's runs (``attrition discover --where``), read as data.

The one home of the condition language: comparisons of a run's metric or varied
parameter with a literal, joined by ``and``, ``or``, ``not`` and parentheses::

    attacker_pool_exhausted_day <= 730
    loss_exchange_ratio > 5 and days < 100
    not (defender.drones >= 40) or attacker.units[0].tactic == "human_wave"

A hand-written tokenizer and recursive-descent parser turn the text into a tree of
plain objects (:class:`Comparison`, :class:`Not`, :class:`And`, :class:`Or`); nothing in
it is ever evaluated as Python (no ``eval``, no ``DataFrame.query``, which run code).

* Names are the sweep's columns: its metrics and its varied parameters, as key paths
  (``attacker.units[0].count``, or ``attacker.units.0.count``, the same key). A name
  that is not a plain key path (a contingent called ``my force``) is written in
  backticks: ```attacker.contingents.my force.pool` > 100``.
* Literals: finite numbers (``730``, ``-0.5``, ``1e3``), text in single or double quotes
  (no escapes; compared with ``==`` and ``!=`` only), ``true`` and ``false``.
* Operators: ``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=``; ``not`` binds tighter than
  ``and``, which binds tighter than ``or`` (as in Python).
* A missing value (a metric a run did not reach, e.g. a pool never exhausted) makes
  every comparison with it false, ``!=`` included. ``not`` is plain negation, so
  ``not (day <= 730)`` is true where the day is missing while ``day > 730`` is not.
* Bounded: at most :data:`MAX_CHARS` characters and :data:`MAX_DEPTH` levels of
  parentheses and ``not``; outside quotes only printable ASCII, so that a look-alike
  letter, a full-width digit or an invisible character cannot pass for another.

Errors are :class:`WhereError`, one line naming the condition, the position and token,
and what is allowed there.

    >>> kinds = {"days": "number", "attacker.units[0].tactic": "text"}
    >>> condition = parse("days < 100 and not (attacker.units.0.tactic == 'human_wave')", kinds)
    >>> print(condition)
    days < 100 and not (attacker.units[0].tactic == "human_wave")
    >>> import pandas as pd
    >>> runs = pd.DataFrame({"days": [50, 150, None],
    ...                      "attacker.units[0].tactic": ["infiltration"] * 3})
    >>> condition.truth(runs).tolist()
    [True, False, False]
"""

from __future__ import annotations

import difflib
import math
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from sim.keypaths import format_key_path, split_key_path
from sim.publish import printable

#: Longest condition, in characters.
MAX_CHARS = 1000
#: Deepest nesting of parentheses and ``not``.
MAX_DEPTH = 16
#: What a column holds: numbers, text, true/false, several of these, or nothing at all.
Kind = Literal["number", "text", "boolean", "mixed", "empty"]
OPERATORS = ("<=", ">=", "==", "!=", "<", ">")
KEYWORDS = ("and", "or", "not")
#: The reverse of each operator, for a literal written on the left (``730 >= day``).
_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
_BOOLEANS = {"true": True, "false": False, "True": True, "False": False}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\.[0-9]+|\[[0-9]+\]"
                   r"|\[\*\])*", re.ASCII)
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)
_SPACE = " \t\r\n"
#: Look-alikes of the language's own operators, named in the error.
_WRONG = {"=": "==", "&&": "and", "&": "and", "||": "or", "|": "or", "!": "not",
          "<>": "!=", "=<": "<=", "=>": ">="}
#: Characters a quoted text may not hold: controls, format characters (zero-width,
#: direction overrides), surrogates, private-use and unassigned code points.
_HIDDEN = ("Cc", "Cf", "Cs", "Co", "Cn")
SYNTAX = ("comparisons NAME OP VALUE (OP one of <, <=, >, >=, ==, !=; VALUE a finite "
          "number, a quoted text or true/false) joined by and, or, not and parentheses")


class WhereError(ValueError):
    """A condition that cannot be read; ``str()`` is one line: the condition, where, what
    is wrong, and what is allowed."""


# ------------------------------------------------------------------------- tree
@dataclass(frozen=True)
class Comparison:
    """``name op value``: a column compared with a literal."""

    name: str
    op: str
    value: float | str | bool

    def __str__(self) -> str:
        return f"{_shown_name(self.name)} {self.op} {_literal(self.value)}"

    def truth(self, runs: pd.DataFrame) -> np.ndarray:
        column = runs[self.name]
        if isinstance(self.value, float) and (pd.api.types.is_numeric_dtype(column.dtype)
                                              and not pd.api.types.is_bool_dtype(column.dtype)):
            values = column.astype(float)  # the common case, without a look at each value
        elif isinstance(self.value, bool):
            values = column.map(lambda v: v if isinstance(v, bool | np.bool_) else None)
        elif isinstance(self.value, str):
            values = column.map(lambda v: v if isinstance(v, str) else None)
        else:
            values = pd.to_numeric(column.map(_number_or_none), errors="coerce")
        present = values.notna().to_numpy()
        known = values[present].to_numpy(dtype=float if isinstance(self.value, float)
                                          else object)
        found = np.zeros(len(column), dtype=bool)
        found[present] = _compare(known, self.op, self.value)
        return found

    def names(self) -> set[str]:
        return {self.name}


@dataclass(frozen=True)
class Not:
    operand: Condition

    def __str__(self) -> str:
        return f"not ({self.operand})"

    def truth(self, runs: pd.DataFrame) -> np.ndarray:
        return ~self.operand.truth(runs)

    def names(self) -> set[str]:
        return self.operand.names()


@dataclass(frozen=True)
class And:
    operands: tuple[Condition, ...]

    def __str__(self) -> str:
        return " and ".join(f"({o})" if isinstance(o, Or) else str(o) for o in self.operands)

    def truth(self, runs: pd.DataFrame) -> np.ndarray:
        return np.logical_and.reduce([o.truth(runs) for o in self.operands])

    def names(self) -> set[str]:
        return set().union(*(o.names() for o in self.operands))


@dataclass(frozen=True)
class Or:
    operands: tuple[Condition, ...]

    def __str__(self) -> str:
        return " or ".join(str(o) for o in self.operands)

    def truth(self, runs: pd.DataFrame) -> np.ndarray:
        return np.logical_or.reduce([o.truth(runs) for o in self.operands])

    def names(self) -> set[str]:
        return set().union(*(o.names() for o in self.operands))


Condition = Comparison | Not | And | Or


def _compare(values: np.ndarray, op: str, literal) -> np.ndarray:
    if op == "==":
        return np.asarray(values == literal, dtype=bool)
    if op == "!=":
        return np.asarray(values != literal, dtype=bool)
    compare = {"<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal}
    return compare[op](values.astype(float), literal)


def _number_or_none(value):
    """A number as a float; anything else (text, true/false, missing) as missing."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        return None
    return float(value)


def _literal(value: float | str | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value}'" if '"' in value else f'"{value}"'
    return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)


def _shown_name(name: str) -> str:
    return name if _NAME.fullmatch(name) and name not in _RESERVED else f"`{name}`"


_RESERVED = {*KEYWORDS, *_BOOLEANS}


# --------------------------------------------------------------- column kinds
def kind_of(column: pd.Series) -> Kind:
    """What a column of runs holds, from its values (missing ones aside)."""
    values = column.dropna()
    if values.empty:
        return "empty"
    if pd.api.types.is_bool_dtype(values.dtype):
        return "boolean"
    if pd.api.types.is_numeric_dtype(values.dtype):
        return "number"
    types = {"boolean" if isinstance(v, bool | np.bool_) else "text" if isinstance(v, str)
             else "number" if isinstance(v, int | float | np.number) else "mixed"
             for v in values}
    return types.pop() if len(types) == 1 else "mixed"


def kinds(runs: pd.DataFrame, names: list[str]) -> dict[str, Kind]:
    """The kind of each named column of ``runs``, in the order given."""
    return {name: kind_of(runs[name]) for name in names}


# ------------------------------------------------------------------- tokenizer
@dataclass(frozen=True)
class Token:
    kind: Literal["name", "number", "text", "boolean", "op", "keyword", "(", ")", "end"]
    text: str
    at: int  # 0-based character index in the condition


def tokens(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an ``end`` token; :class:`WhereError` for a
    character or word the language does not have."""
    if not isinstance(text, str):
        raise WhereError(f"where {printable(type(text).__name__)}: not text; allowed: "
                         f"{SYNTAX}")
    if len(text) > MAX_CHARS:
        raise WhereError(f"where {_shown(text)}: {len(text):,} characters; allowed: at most "
                         f"{MAX_CHARS:,}")
    found: list[Token] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c in _SPACE:
            i += 1
            continue
        if c in "()":
            found.append(Token(c, c, i))
            i += 1
        elif c in "'\"":
            end = text.find(c, i + 1)
            if end < 0:
                raise _error(text, i, c, "a quoted text that is never closed",
                             f"text between two {c} on one line")
            value = text[i + 1:end]
            for k, char in enumerate(value):
                if unicodedata.category(char) in _HIDDEN or char in "\\\n":
                    raise _error(text, i + 1 + k, char, f"character U+{ord(char):04X} in a "
                                 f"quoted text", "visible characters (no escapes, no "
                                 "control or invisible characters)")
            found.append(Token("text", value, i))
            i = end + 1
        elif c == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise _error(text, i, c, "a name in backticks that is never closed",
                             "`a name` between two backticks")
            name = text[i + 1:end]
            for k, char in enumerate(name):
                if not (" " <= char <= "~"):
                    raise _error(text, i + 1 + k, char, f"character U+{ord(char):04X} in a "
                                 f"name", "printable ASCII in names")
            found.append(Token("name", name, i))
            i = end + 1
        elif (number := _NUMBER.match(text, i)) and (c != "-" or _value_expected(found)):
            found.append(Token("number", number.group(), i))
            i = number.end()
        elif name := _NAME.match(text, i):
            word = name.group()
            kind = ("keyword" if word in KEYWORDS else "boolean" if word in _BOOLEANS
                    else "name")
            found.append(Token(kind, word, i))
            i = name.end()
        elif (op := _operator_at(text, i)) is not None:
            if op in _WRONG:
                raise _error(text, i, op, f"'{op}' is not an operator of conditions",
                             f"{_WRONG[op]} (and the operators <, <=, >, >=, ==, !=, and, "
                             f"or, not)")
            found.append(Token("op", op, i))
            i += len(op)
        elif not (" " <= c <= "~"):
            raise _error(text, i, c, f"character U+{ord(c):04X} "
                         f"({unicodedata.name(c, 'unnamed')}) outside quotes",
                         "ASCII letters, digits, _ . [ ] * ( ) ` quotes and the operators "
                         "< <= > >= == !=")
        else:
            raise _error(text, i, c, f"'{c}' is not part of a condition", SYNTAX)
    found.append(Token("end", "", len(text)))
    return found


def _operator_at(text: str, i: int) -> str | None:
    """The operator, or the look-alike of one, that starts at ``text[i]``: two characters
    before one (``<=`` before ``<``, ``==`` before ``=``)."""
    for width in (2, 1):
        piece = text[i:i + width]
        if len(piece) == width and (piece in OPERATORS or piece in _WRONG):
            return piece
    return None


def _value_expected(found: list[Token]) -> bool:
    """Whether a ``-`` here starts a negative number: after an operator, a keyword, an
    opening parenthesis or at the start, where a value may stand."""
    return not found or found[-1].kind in ("op", "keyword", "(")


# ---------------------------------------------------------------------- parser
def parse(text: str, columns: dict[str, Kind]) -> Condition:
    """The condition ``text`` over ``columns`` (name to kind, e.g. from :func:`kinds`),
    checked: every name a column, every literal of the column's kind, numbers finite.
    Raises :class:`WhereError` (one line)."""
    return _Parser(text, columns).condition()


class _Parser:
    def __init__(self, text: str, columns: dict[str, Kind]):
        self.text, self.columns = text, dict(columns)
        self.tokens = tokens(text)
        self.i = 0
        self.depth = 0
        self.canonical: dict[str, str] = {}
        for name in self.columns:
            try:
                self.canonical.setdefault(_key(name), name)
            except ValueError:  # not a key path: matched as written only
                pass

    # condition := or_expr END
    def condition(self) -> Condition:
        found = self.any_of()
        token = self.peek()
        if token.kind != "end":
            if token.kind == ")":
                raise self.error(token, "a ) without its (", "balanced parentheses")
            raise self.error(token, f"{_what(token)} after a complete comparison",
                             "and, or, or the end of the condition")
        return found

    # or_expr := and_expr ("or" and_expr)*
    def any_of(self) -> Condition:
        parts = [self.all_of()]
        while self.keyword("or"):
            parts.append(self.all_of())
        return _joined(Or, parts)

    # and_expr := not_expr ("and" not_expr)*
    def all_of(self) -> Condition:
        parts = [self.negation()]
        while self.keyword("and"):
            parts.append(self.negation())
        return _joined(And, parts)

    # not_expr := "not" not_expr | "(" or_expr ")" | comparison
    def negation(self) -> Condition:
        token = self.peek()
        if token.kind == "keyword" and token.text == "not":
            self.i += 1
            with self.deeper(token):
                return Not(self.negation())
        if token.kind == "(":
            self.i += 1
            with self.deeper(token):
                inner = self.any_of()
            closing = self.peek()
            if closing.kind != ")":
                raise self.error(closing, f"{_what(closing)} where the ( at character "
                                 f"{token.at + 1} should be closed",
                                 "a ) closing it (or and, or)")
            self.i += 1
            return inner
        return self.comparison()

    # comparison := NAME OP literal | literal OP NAME
    def comparison(self) -> Comparison:
        first = self.take()
        if first.kind in ("number", "text", "boolean"):
            op = self.operator(first)
            name = self.take()
            if name.kind != "name":
                raise self.error(name, f"{_what(name)} where a name should be compared with "
                                 f"{first.text}", self.allowed_names())
            return self.checked(name, _FLIPPED[op.text], first, op)
        if first.kind != "name":
            raise self.error(first, f"{_what(first)} where a comparison should start",
                             f"{SYNTAX}; names: {self.allowed_names()}")
        self.column(first)
        op = self.operator(first)
        value = self.take()
        if value.kind not in ("number", "text", "boolean"):
            if value.kind == "name" and value.text.lower() in ("inf", "infinity", "nan"):
                raise self.error(value, f"{value.text} is not a finite number",
                                 "finite numbers such as 730, -0.5 or 1e3")
            quoted = f' (text in quotes: "{value.text}")' if value.kind == "name" else ""
            raise self.error(value, f"{_what(value)} where a value should follow "
                             f"{first.text} {op.text}", f"a finite number, a quoted text or "
                             f"true/false{quoted}; one side of a comparison is a name, the "
                             f"other a value")
        return self.checked(first, op.text, value, op)

    def operator(self, after: Token) -> Token:
        op = self.take()
        if op.kind != "op":
            raise self.error(op, f"{_what(op)} after {after.text}",
                             "a comparison operator: <, <=, >, >=, ==, !=")
        return op

    def checked(self, name_token: Token, op: str, literal: Token, op_token: Token
                ) -> Comparison:
        name = self.column(name_token)
        kind = self.columns[name]
        if literal.kind == "number":
            value: float | str | bool = float(literal.text)
            if not math.isfinite(value):
                raise self.error(literal, f"{literal.text} is not a finite number",
                                 "numbers of at most about 1.8e308")
            if kind in ("text", "boolean"):
                raise self.error(literal, f"{name} holds {_holds(kind)}, not numbers",
                                 _compare_with(kind))
        elif literal.kind == "text":
            value = literal.text
            if kind in ("number", "boolean"):
                raise self.error(literal, f"{name} holds {_holds(kind)}, not text",
                                 _compare_with(kind))
        else:
            value = _BOOLEANS[literal.text]
            if kind in ("number", "text"):
                raise self.error(literal, f"{name} holds {_holds(kind)}, not true/false",
                                 _compare_with(kind))
        if not isinstance(value, float) and op not in ("==", "!="):
            raise self.error(op_token, f"{op} does not order {_holds(kind)}",
                             "== or != with a quoted text or true/false")
        return Comparison(name, op, value)

    def column(self, token: Token) -> str:
        """The column a name token stands for (``units.0`` is ``units[0]``)."""
        if token.text in self.columns:
            return token.text
        try:
            found = self.canonical.get(_key(token.text))
        except ValueError:
            found = None
        if found is not None:
            return found
        # A key's last part alone (tactic for attacker.units[0].tactic), or a misspelling.
        close = [n for n in self.columns if n.endswith(f".{token.text}")] or \
            difflib.get_close_matches(token.text, list(self.columns), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        problem = f"unknown name {token.text}{hint}"
        if token.text.lower() in ("inf", "infinity", "nan"):
            problem = f"{token.text} is neither a finite number nor a name of the sweep"
        raise self.error(token, problem, f"the sweep's metrics and varied parameters: "
                         f"{self.allowed_names()}")

    def allowed_names(self) -> str:
        return ", ".join(_shown_name(n) for n in self.columns) or "none"

    # --------------------------------------------------------------- helpers
    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        token = self.tokens[self.i]
        if token.kind != "end":
            self.i += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token.kind == "keyword" and token.text == word:
            self.i += 1
            return True
        return False

    @contextmanager
    def deeper(self, token: Token) -> Iterator[None]:
        """One level deeper into parentheses or ``not``, at most :data:`MAX_DEPTH`."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(token, f"nested more than {MAX_DEPTH} deep",
                             f"at most {MAX_DEPTH} levels of parentheses and not")
        try:
            yield
        finally:
            self.depth -= 1

    def error(self, token: Token, problem: str, allowed: str) -> WhereError:
        return _error(self.text, token.at, token.text or "end", problem, allowed)


def _joined(kind: type[And] | type[Or], parts: list[Condition]) -> Condition:
    """``parts`` joined by ``kind``, a part of the same kind (in parentheses) merged in:
    ``a and (b and c)`` is ``a and b and c``, so that a condition has one tree."""
    flat: list[Condition] = []
    for part in parts:
        flat.extend(part.operands if isinstance(part, kind) else [part])
    return flat[0] if len(flat) == 1 else kind(tuple(flat))


def _what(token: Token) -> str:
    return "the end" if token.kind == "end" else repr(token.text)


def _key(name: str) -> str:
    """A key path in one spelling (``units.0`` and ``units[0]`` alike)."""
    return format_key_path(split_key_path(name))


def _holds(kind: Kind) -> str:
    return {"number": "numbers", "text": "text", "boolean": "true/false",
            "mixed": "values of several kinds", "empty": "no values"}[kind]


def _compare_with(kind: Kind) -> str:
    return {"number": "a finite number (with <, <=, >, >=, ==, !=)",
            "text": 'a quoted text such as "human_wave" (with == or !=)',
            "boolean": "true or false (with == or !=)"}.get(kind, "a value of its kind")


def _shown(text: str, width: int = 80) -> str:
    """The condition for a message: quoted, on one line, a long one cut."""
    text = printable(text)
    return repr(text if len(text) <= width else f"{text[:width - 3]}...")


def _error(text: str, at: int, token: str, problem: str, allowed: str) -> WhereError:
    token = printable(token)
    token = token if len(token) <= 40 else f"{token[:37]}..."
    return WhereError(f"where {_shown(text)}: at character {at + 1} ({token!r}): {problem}; "
                      f"allowed: {allowed}")


__all__ = ["MAX_CHARS", "MAX_DEPTH", "And", "Comparison", "Condition", "Kind", "Not", "Or",
           "WhereError", "kind_of", "kinds", "parse", "tokens"]
