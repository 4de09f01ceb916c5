"""The teaching material: every notebook in docs/teaching runs top to bottom and draws
figures; every lesson note has the NetLogo Info-tab sections, in order, and a notebook."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

TEACHING = Path(__file__).resolve().parents[1] / "docs" / "teaching"
NOTEBOOKS = sorted(TEACHING.glob("*.ipynb"))
NOTES = sorted(p for p in TEACHING.glob("*.md") if p.name != "README.md")
INFO_TAB = ("WHAT IS IT?", "HOW IT WORKS", "HOW TO USE IT", "THINGS TO NOTICE", "THINGS TO TRY",
            "EXTENDING THE MODEL", "RELATED MODELS", "CREDITS AND REFERENCES")


def test_four_lessons_each_with_a_notebook():
    assert {p.stem for p in NOTES} == {"lanchester", "human_waves", "recruit_pools",
                                       "fitting_laws"}
    assert {p.stem for p in NOTEBOOKS} == {p.stem for p in NOTES}


@pytest.mark.parametrize("note", NOTES, ids=lambda p: p.name)
def test_note_has_the_info_tab_sections_in_order(note):
    headings = re.findall(r"^## (.+)$", note.read_text(), flags=re.M)
    assert headings == list(INFO_TAB)
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
