"""The lesson notes (``docs/teaching``) as the classroom page shows them in its Info tab.

Each note is a NetLogo-style Info tab in Markdown. An item of a note may end with one or
more settings for the page, written as HTML comments so that the note reads the same
anywhere else::

    * Try **Attacker training** at 30 and 365 days.
      <!-- page: attacker_training_days=30 --> <!-- page: attacker_training_days=365 -->

Each ``page:`` comment becomes a button on the page that sets those controls (the names
of :data:`sim.classroom.CONTROLS`, and ``seed``) with one press; Reset then runs them.
The page scenario of each lesson is the one its row in ``docs/teaching/README.md`` gives
(`` `attrition demo NAME` ``; plain `` `attrition demo` `` is the demo's default); a lesson
whose page is another command (`` `attrition calibrate` ``, the wargame's
`` `attrition demo --class` ``) has none.

    >>> lesson = lessons()["human_waves"]
    >>> lesson.scenario
    'human_wave_foreign_contingent'
    >>> lesson.settings()[0].values
    {'tactic': 'infiltration'}
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import markdown

from sim.classroom import CONTROLS, DEMO_SCENARIO, Control

TEACHING = Path(__file__).resolve().parent.parent / "docs" / "teaching"
#: The page's seed control, besides :data:`CONTROLS`.
SEED_RANGE = (0, 99)
_SETTING = re.compile(r"<!--\s*page:(.*?)-->", re.S)
_ROW = re.compile(r"^\|\s*(?P<title>[^|]+?)\s*\|\s*\[(?P<file>[\w.-]+\.md)\]\([\w.-]+\.md\)"
                  r".*\|\s*(?P<page>[^|]*?)\s*\|\s*$")
# A scenario name, never an option: `attrition demo --class` is the wargame, not a scenario.
_DEMO = re.compile(r"^`attrition demo(?: (?P<name>\w[\w-]*))?`$")
# A relative link to another note: shown as its text (the page serves no files).
_NOTE_LINK = re.compile(r'<a href="(?!https?:)[^"]*">(.*?)</a>', re.S)


@dataclass(frozen=True)
class Setting:
    """One press of a "thing to try": control name to value."""

    values: dict[str, Any]

    def label(self) -> str:
        """The press in words, e.g. "Attacker training (days) = 30"."""
        parts = []
        for name, value in self.values.items():
            title = "Seed" if name == "seed" else CONTROLS[name].label
            parts.append(f"{title} = {value}")
        return "Set " + ", ".join(parts)


@dataclass(frozen=True)
class Block:
    """A piece of a note: HTML, and the settings its item ends with (none for prose)."""

    html: str
    settings: tuple[Setting, ...] = ()


@dataclass(frozen=True)
class Lesson:
    """A lesson note: its title, file, the scenario its page runs, and its text."""

    name: str
    title: str
    path: Path
    scenario: str | None
    text: str = field(repr=False)

    def settings(self) -> list[Setting]:
        """Every "thing to try" setting of the note, in order."""
        return [s for block in self.blocks() for s in block.settings]

    def blocks(self) -> list[Block]:
        """The note as HTML blocks: an item with settings is a block of its own (its
        buttons follow it on the page); the prose between is one block."""
        blocks: list[Block] = []
        pending: list[str] = []
        for chunk in _chunks(self.text):
            found = [parse_setting(m.group(1), f"{self.path.name}")
                     for m in _SETTING.finditer(chunk)]
            if not found:
                pending.append(chunk)
                continue
            if pending:
                blocks.append(Block(to_html("".join(pending))))
                pending = []
            blocks.append(Block(to_html(_SETTING.sub("", chunk)), tuple(found)))
        if pending:
            blocks.append(Block(to_html("".join(pending))))
        return blocks


def _chunks(text: str) -> list[str]:
    """``text`` cut before each top-level list item and heading, so that an item (with
    its continuation lines) is one chunk."""
    chunks: list[str] = []
    for line in text.splitlines(keepends=True):
        starts = line.startswith(("* ", "- ", "#")) or not chunks
        if starts:
            chunks.append(line)
        else:
            chunks[-1] += line
    return chunks


def to_html(text: str) -> str:
    """Markdown to HTML (tables and fenced code), links to other notes as plain text.
    The notes are the project's own files; HTML in them is passed through."""
    rendered = markdown.markdown(text, extensions=["tables", "fenced_code"])
    return _NOTE_LINK.sub(r"\1", rendered)


def parse_setting(text: str, where: str) -> Setting:
    """``name=value name=value`` (or comma-separated) as a :class:`Setting`; ValueError
    (one line, naming ``where``) for an unknown control or a value it does not allow."""
    values: dict[str, Any] = {}
    for item in filter(None, re.split(r"[,\s]+", text.strip())):
        name, sep, raw = item.partition("=")
        if not sep or not raw:
            raise ValueError(f"{where}: page setting '{html.escape(item)}': allowed: "
                             f"name=value")
        if name == "seed":
            if not raw.isdigit() or not SEED_RANGE[0] <= int(raw) <= SEED_RANGE[1]:
                raise ValueError(f"{where}: page setting seed={raw}: allowed: a whole "
                                 f"number from {SEED_RANGE[0]} to {SEED_RANGE[1]}")
            values[name] = int(raw)
            continue
        if name not in CONTROLS:
            raise ValueError(f"{where}: page setting {name}: unknown control; allowed: "
                             f"{', '.join([*CONTROLS, 'seed'])}")
        values[name] = _value(CONTROLS[name], name, raw, where)
    if not values:
        raise ValueError(f"{where}: an empty page setting; allowed: name=value ...")
    return Setting(values)


def _value(control: Control, name: str, raw: str, where: str) -> Any:
    if control.choices:
        if raw not in control.choices:
            raise ValueError(f"{where}: page setting {name}={raw}: allowed: "
                             f"{', '.join(control.choices)}")
        return raw
    try:
        number = float(raw)
    except ValueError:
        raise ValueError(f"{where}: page setting {name}={raw}: allowed: a number from "
                         f"{control.low:g} to {control.high:g}") from None
    if not control.low <= number <= control.high:
        raise ValueError(f"{where}: page setting {name}={raw}: allowed: a number from "
                         f"{control.low:g} to {control.high:g}")
    return int(number) if float(control.step).is_integer() else number


@cache
def lessons() -> dict[str, Lesson]:
    """The lessons of ``docs/teaching/README.md``'s table, by file stem, in its order."""
    found: dict[str, Lesson] = {}
    for line in (TEACHING / "README.md").read_text(encoding="utf-8").splitlines():
        row = _ROW.match(line)
        if not row:
            continue
        demo = _DEMO.match(row["page"])
        scenario = (demo["name"] or DEMO_SCENARIO) if demo else None
        path = TEACHING / row["file"]
        found[path.stem] = Lesson(path.stem, row["title"], path, scenario,
                                  path.read_text(encoding="utf-8"))
    return found


def lesson_for(scenario_name: str) -> str | None:
    """The lesson whose page runs ``scenario_name`` (its stem), if any."""
    return next((name for name, lesson in lessons().items()
                 if lesson.scenario == scenario_name), None)
