"""The teaching material: every notebook in docs/teaching runs top to bottom and draws
figures; every lesson note has the NetLogo Info-tab sections, in order, is listed in the
README's table, and has a notebook (but the wargame's, which the class plays in browsers)."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

TEACHING = Path(__file__).resolve().parents[1] / "docs" / "teaching"
NOTEBOOKS = sorted(TEACHING.glob("*.ipynb"))
NOTES = sorted(p for p in TEACHING.glob("*.md")
               if p.name != "README.md" and not p.stem.endswith("_handout"))
#: Notes without a notebook: the wargame is played on its pages (`attrition demo --class`).
WITHOUT_NOTEBOOK = {"wargame"}
INFO_TAB = ("WHAT IS IT?", "HOW IT WORKS", "HOW TO USE IT", "THINGS TO NOTICE", "THINGS TO TRY",
            "EXTENDING THE MODEL", "RELATED MODELS", "CREDITS AND REFERENCES")


def test_the_lessons_each_with_a_notebook_but_the_wargame():
    assert {p.stem for p in NOTES} == {"lanchester", "human_waves", "recruit_pools",
                                       "fitting_laws", "wargame"}
    assert {p.stem for p in NOTEBOOKS} == {p.stem for p in NOTES} - WITHOUT_NOTEBOOK


def test_every_note_is_listed_and_the_wargame_has_no_page_scenario():
    """The README's table lists every note (the classroom page's Lesson notes tab shows
    them); `attrition demo --class` names no scenario of the sector page."""
    from sim.lessons import lessons

    assert set(lessons()) == {p.stem for p in NOTES}
    assert lessons()["wargame"].scenario is None
    assert not lessons()["wargame"].settings()


def test_the_wargame_handout_fits_a_page():
    text = (TEACHING / "wargame_handout.md").read_text()
    assert len(text.split()) <= 650  # about 450 words of prose and a small table


@pytest.mark.parametrize("note", NOTES, ids=lambda p: p.name)
def test_note_has_the_info_tab_sections_in_order(note):
    headings = re.findall(r"^## (.+)$", note.read_text(), flags=re.M)
    assert headings == list(INFO_TAB)
    if note.stem not in WITHOUT_NOTEBOOK:
        assert f"({note.stem}.ipynb)" in note.read_text()


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom_and_draws(notebook):
    """Executed in a fresh kernel from its own folder; any error in any cell fails it.
    Each notebook draws at least three figures."""
    book = nbformat.read(notebook, as_version=4)
    assert all(not cell.get("outputs") for cell in book.cells if cell.cell_type == "code"), \
        "commit notebooks without outputs"
    NotebookClient(book, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(TEACHING)}}).execute()
    figures = sum("image/png" in output.get("data", {})
                  for cell in book.cells if cell.cell_type == "code" for output in cell.outputs)
    assert figures >= 3
