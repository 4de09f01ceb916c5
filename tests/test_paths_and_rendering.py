"""Hostile text in names, paths and values (issue 16, deliverables 5 and 6): folder names
made from user text stay inside their root; a bad ``--out`` is one line and leaves
nothing; staging folders of killed processes are cleaned up, live ones kept; user text
in report.md is escaped; user text in figures is drawn literally, never as mathtext."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sim.cli import main
from sim.experiments import Experiment
from sim.publish import printable, publishing, remove_stale_staging, safe_name
from sim.report import md, write_report
from sim.sweep import run_sweep
from sim.views import plain

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ["<script>alert(1)</script>", "[a](javascript:alert(1))", "a|b||c", "`code` *em*",
           "x\\|y & &lt; _u_ ~~s~~ #h\nnew line"]
MATH = [r"$\foo$", r"cost $5 and \$ and $", r"$\frac{$"]


def listing(folder: Path) -> list[Path]:
    return sorted(p.relative_to(folder) for p in folder.rglob("*"))


def host() -> str:
    """The host tag of staging names, as sim.publish documents it."""
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def dead_pid() -> int:
    """The id of a process that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ------------------------------------------------------------------ folder names
@pytest.mark.parametrize("name", ["../../escape/x", "/tmp/x", "..", ".hidden",
                                  "a\nb\x1b[31m", "é" * 100, r"$\foo$ <b>"])
def test_a_scenario_name_never_leads_out_of_runs(name, tmp_path, monkeypatch, capsys):
    """`attrition run --set name=...` writes into runs/ only, in a folder whose name is
    safe_name(name) and a time stamp."""
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)

    def outside():  # where the names would lead (/tmp/x-TIMESTAMP for "/tmp/x")
        return [set(tmp_path.iterdir()), set((tmp_path / "a").iterdir()),
                set(Path("/tmp").glob("x-*"))]

    before = outside()
    value = name.replace("\\", "\\\\").replace("\n", "\\n").replace("\x1b", "\\u001b")
    assert main(["run", "fortified_defense", "--days", "1", "--set", f'name="{value}"']) == 0
    assert outside() == before
    (folder,) = (work / "runs").iterdir()
    assert folder.resolve().parent == (work / "runs").resolve()
    assert re.fullmatch(re.escape(safe_name(name)) + r"-\d{8}-\d{6}", folder.name)
    assert not folder.name.startswith(".") and len(folder.name.encode()) < 100
    assert all(p.parts[0] == "runs" for p in listing(work))
    assert f"Results in {Path('runs') / folder.name}/" in capsys.readouterr().out


def test_safe_names_keep_ordinary_names_and_bound_the_rest():
    for ordinary in ("human_wave_foreign_contingent", "calibrate-battle", "my.front+2"):
        assert safe_name(ordinary) == ordinary
    for text in ("../../escape/x", "/tmp/x", "..", "...", ".a", "-rf", "a\x00b", "a/../b",
                 "é" * 200, "\u202e\u2028", "C:\\x\\y", " ", ""):
        name = safe_name(text)
        assert name and name not in (".", "..") and ".." not in name
        assert not name.startswith((".", "-")) and len(name.encode()) <= 80
        assert all(c.isprintable() and c not in "/\\ " for c in name), name
    assert safe_name("x" * 300) != safe_name("x" * 301)  # cut names stay distinct


def test_calibrate_names_its_folder_safely_after_the_record(tmp_path, monkeypatch, capsys):
    """The record's stem names the calibration folder (made safe); its `$` is drawn
    literally in the plot's title."""
    from sim.lawfit import trajectory

    monkeypatch.chdir(tmp_path)
    record = tmp_path / "..$\\foo$ battle.csv"
    path = trajectory("square", 0.02, 0.03, 1000, 800, 12)
    record.write_text("day,attacker_strength,defender_strength\n"
                      + "\n".join(f"{d},{a:.1f},{b:.1f}" for d, (a, b) in enumerate(path)))
    assert main(["calibrate", str(record), "--law", "square"]) == 0
    (folder,) = (tmp_path / "runs").iterdir()
    assert folder.name.startswith(safe_name(f"calibrate-{record.stem}") + "-")
    assert folder.name.startswith("calibrate-._foo_battle-")
    assert (folder / "fit.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["..$\\foo$ battle.csv", "runs"]


# ------------------------------------------------------------------------ --out
def _blocked(tmp_path: Path) -> list[str]:
    (tmp_path / "blocker").write_text("a file")
    return ["--out", str(tmp_path / "blocker" / "deeper" / "out")]


OUT_CASES = {
    "a file": (lambda t: (t / "file").write_text("x") and ["--out", str(t / "file")],
               "exists and is not a directory; allowed: a new or empty directory"),
    "a file as a parent": (_blocked, "is a file, not a folder); allowed: a directory you "
                                     "can write"),
    "a non-empty folder": (lambda t: (t / "full").mkdir() or (t / "full" / "k").touch()
                           or ["--out", str(t / "full")],
                           "exists and is not an empty directory"),
    "a name too long": (lambda t: ["--out", str(t / "new" / ("n" * 300))],
                        "a name in it is too long (300 bytes); allowed: names of at most"),
    "a path too long": (lambda t: ["--out", str(t.joinpath(*["d" * 200] * 20))],
                        "the path is too long"),
    "an unwritable place": (lambda t: ["--out", "/sys/attrition-test/out"],
                            "cannot write there (Operation not permitted); allowed: a "
                            "directory you can write"),
    "a symbolic link": (lambda t: (t / "link").symlink_to(t) or ["--out", str(t / "link")],
                        "is a symbolic link"),
}


@pytest.mark.parametrize("command", ["run", "calibrate"])
@pytest.mark.parametrize("case", OUT_CASES)
def test_a_bad_out_is_one_line_exit_2_and_leaves_nothing(case, command, tmp_path, capsys,
                                                         monkeypatch):
    make, problem = OUT_CASES[case]
    monkeypatch.chdir(tmp_path)
    record = tmp_path.parent / f"{tmp_path.name}-record.csv"
    record.write_text("day,attacker_strength,defender_strength\n0,100,90\n1,95,88\n2,91,86\n")
    out = make(tmp_path)
    before = listing(tmp_path)
    args = (["run", "fortified_defense", "--days", "1"] if command == "run"
            else ["calibrate", str(record), "--law", "square"])
    assert main([*args, *out]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and captured.out == "", captured.err
    assert lines[0].startswith("attrition: error: --out ") and problem in lines[0], lines[0]
    assert listing(tmp_path) == before


def test_unwritable_folder_for_an_ordinary_user(tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert main(["run", "fortified_defense", "--days", "1", "--out",
                 str(locked / "out")]) == 2
    assert "cannot write there (Permission denied)" in capsys.readouterr().err
    assert list(locked.iterdir()) == []


def test_missing_parents_are_created_and_removed_again_on_failure(tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / "out"
    assert main(["run", "fortified_defense", "--days", "1", "--out", str(out)]) == 0
    assert (out / "summary.json").is_file() and listing(tmp_path)[0] == Path("new")
    failing = tmp_path / "other" / "deeper" / "out"
    with pytest.raises(RuntimeError), publishing(failing) as staging:
        (staging / "half.txt").write_text("half")
        raise RuntimeError("the work failed")
    assert not (tmp_path / "other").exists()
    with pytest.raises(KeyboardInterrupt), publishing(failing):
        raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new"]


# --------------------------------------------------------------- staging folders
def test_staging_folders_of_dead_processes_go_and_live_ones_stay(tmp_path):
    dead = tmp_path / f".results.staging-{host()}-{dead_pid()}-abc123"
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        alive = tmp_path / f".other.staging-{host()}-{live.pid}-def456"
        elsewhere = tmp_path / f".results.staging-00000000-{dead_pid()}-ghi789"
        mine = tmp_path / f".x.staging-{host()}-{os.getpid()}-jkl012"
        unrelated = tmp_path / ".results-keep"
        for folder in (dead, alive, elsewhere, mine, unrelated):
            folder.mkdir()
            (folder / "daily.csv").write_text("half written")
        with publishing(tmp_path / "results") as staging:
            (staging / "a.txt").write_text("whole")
        assert not dead.exists()
        assert all(f.is_dir() for f in (alive, elsewhere, mine, unrelated))
        assert remove_stale_staging(tmp_path) == []
    finally:
        live.kill()
        live.wait()
    assert remove_stale_staging(tmp_path) == [alive]


def test_a_killed_run_leaves_staging_that_the_next_start_removes(tmp_path):
    """SIGKILL inside publishing leaves its staging folder (nothing can run then); the
    next `attrition run` beside it removes it, and publishes its own results."""
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from sim.publish import publishing
        with publishing(Path({str(tmp_path / 'killed')!r})) as staging:
            (staging / "daily.csv").write_text("half")
            print("staged", flush=True)
            time.sleep(60)
    """)
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [
        str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env=env)
    assert proc.stdout.readline().strip() == "staged"
    (left,) = tmp_path.iterdir()
    assert left.name.startswith(f".killed.staging-{host()}-{proc.pid}-")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert left.is_dir()  # a kill leaves it ...
    assert main(["run", "fortified_defense", "--days", "1", "--json", "--out",
                 str(tmp_path / "next")]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["next"]  # ... the next start removes it


# ------------------------------------------------------------- report.md escaping
class HostileEvaluator:
    """A sweep whose parameter values, metric values and errors are hostile text."""

    def __call__(self, params, seed):
        if params["mode"] == HOSTILE[1] and seed % 2:
            raise ValueError("<script>x</script> | [a](javascript:alert(1)) `rm` *b*")
        score = float(len(params["mode"]) + params["level"] + seed % 3)
        return {"score": score, "verdict": f"<b>{params['mode']}</b> | $x$"}, None


def _cells(row: str) -> int:
    """The cells of a Markdown table row: '|' ends a cell unless escaped by '\\'."""
    count, escaped = 0, False
    for char in row.strip()[1:]:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "|":
            count += 1
    return count


def _tables(text: str) -> list[list[str]]:
    tables, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(current)
            current = []
    return tables


def test_report_escapes_every_user_string(tmp_path):
    question = "Does <script>alert(1)</script> [a](javascript:alert(1)) | `x` *y* matter?"
    exp = Experiment.model_validate({
        "question": question, "scenario": "fortified_defense",
        "parameters": {"mode": {"values": HOSTILE}, "level": {"values": [1, 2]}},
        "replicates": 2, "seed": 1, "metrics": ["score", "verdict"]})
    result = run_sweep(exp, tmp_path / "sweep", HostileEvaluator(), progress=False)
    assert result.failed > 0
    text = write_report(result.out).read_text()
    assert "<script" not in text.lower() and "](javascript:" not in text
    assert "<b>" not in text and "\n" not in text.split("\n\n")[0]  # heading on one line
    tables = _tables(text)
    assert len(tables) >= 2  # failed runs, means
    for table in tables:
        widths = {_cells(row) for row in table}
        assert len(widths) == 1, table
    assert md("`x`") in text and md("a|b||c") in text
    markdown_it = pytest.importorskip("markdown_it")
    page = markdown_it.MarkdownIt("commonmark").enable("table").render(text)
    assert "<script" not in page and "<a " not in page and "<em>" not in page
    assert set(re.findall(r"<code>(.*?)</code>", page)) == {"mode", "level", "score",
                                                            "verdict"}
    for table in re.findall(r"<table>(.*?)</table>", page, re.DOTALL):
        width = len(re.findall(r"<th[ >]", table))
        rows = re.findall(r"<tr>(.*?)</tr>", table.split("</thead>")[1], re.DOTALL)
        assert rows and all(row.count("<td") == width for row in rows), table
    for figure in (result.out / "figures").iterdir():
        assert figure.read_bytes()[:4] == b"\x89PNG"


def test_a_failing_report_leaves_the_folder_as_it_was(tmp_path, monkeypatch):
    exp = Experiment.model_validate({
        "question": "Does a failing figure leave anything behind?",
        "scenario": "fortified_defense",
        "parameters": {"mode": {"values": ["a", "b"]}, "level": {"values": [1, 2]}},
        "metrics": ["score"]})
    out = run_sweep(exp, tmp_path / "sweep", HostileEvaluator(), progress=False).out
    before = listing(out)
    import sim.report

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(sim.report, "_heatmap", broken)
    with pytest.raises(RuntimeError):
        write_report(out)
    assert listing(out) == before  # no figures/, no report.md, no staging
    monkeypatch.undo()
    write_report(out)
    figures = listing(out / "figures")
    monkeypatch.setattr(sim.report, "_heatmap", broken)
    with pytest.raises(RuntimeError):
        write_report(out)
    assert listing(out / "figures") == figures  # the earlier report stays whole
    assert not [p for p in out.iterdir() if ".staging-" in p.name]


# ------------------------------------------------------------------- mathtext
@pytest.mark.parametrize("text", MATH + HOSTILE)
def test_plain_text_is_never_mathtext_and_shows_as_written(text):
    """matplotlib reads text with an even number of unescaped `$` as math (and fails on
    `$\\foo$`); plain() escapes each, and matplotlib shows `\\$` as `$`."""
    from matplotlib import cbook
    from matplotlib.figure import Figure

    assert not cbook.is_math_text(plain(text))
    assert plain(text).replace(r"\$", "$") == printable(text)
    fig = Figure()
    fig.suptitle(plain(text))
    fig.canvas.draw()


@pytest.mark.parametrize("name", MATH)
def test_math_in_names_is_drawn_literally_in_run_plots(name, tmp_path, capsys):
    """A scenario name and a contingent name with `$` (titles, the front's legend)."""
    value = name.replace("\\", "\\\\")
    out = tmp_path / "out"
    assert main(["run", "fortified_defense", "--days", "1", "--out", str(out),
                 "--set", f'name="{value}"',
                 "--set", f'attacker.units[*].contingent="{value}"',
                 "--animate", str(tmp_path / "run.gif")]) == 0, capsys.readouterr().err
    for png in ("strengths", "casualties", "force_generation", "front_map"):
        assert (out / f"{png}.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "run.gif").stat().st_size > 0
    assert f"# {name}, resolved" in (out / "scenario.toml").read_text()


def test_math_in_questions_names_and_values_is_drawn_literally_in_the_report(tmp_path):
    exp = Experiment.model_validate({
        "question": r"What does $\foo$ cost, in $?",
        "scenario": "fortified_defense",
        "parameters": {"mode": {"values": MATH}, "level": {"values": [1, 2]}},
        "replicates": 2, "metrics": ["score"]})
    out = run_sweep(exp, tmp_path / "sweep", HostileEvaluator(), progress=False).out
    text = write_report(out).read_text()
    assert text.startswith(r"# What does \$\\foo\$ cost, in \$?")
    names = sorted(p.name for p in (out / "figures").iterdir())
    assert names == ["score_by_level.png", "score_effects.png", "score_heatmap.png"]


def test_math_in_a_sampling_design_report(tmp_path):
    """Scatter plots with text categories and Morris indices with `$` names."""
    exp = Experiment.model_validate({
        "question": "Do $a$ and $\\b$ matter at all?", "scenario": "fortified_defense",
        "design": "morris", "samples": 2,
        "parameters": {"mode": {"values": MATH}, "$\\lev$": {"interval": {"low": 1,
                                                                           "high": 3}}},
        "metrics": ["score"]})

    def evaluate(params, seed):
        return {"score": float(len(params["mode"]) + params["$\\lev$"])}, None

    out = run_sweep(exp, tmp_path / "sweep", evaluate, progress=False).out
    text = write_report(out).read_text()
    assert "score_scatter.png" in text and "score_sensitivity.png" in text
    assert all(_cells(row) == 4 for table in _tables(text) for row in table)


def test_output_error_is_one_line_for_control_characters(tmp_path, capsys):
    (tmp_path / "a\nb\x1b[2J").write_text("a file")
    assert main(["run", "fortified_defense", "--days", "1", "--out",
                 str(tmp_path / "a\nb\x1b[2J")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "a\\nb\\x1b[2J: exists" in err


def test_a_sweep_folder_is_named_after_the_experiment_file_made_safe(tmp_path, monkeypatch,
                                                                     capsys):
    monkeypatch.chdir(tmp_path)
    experiment = tmp_path / ".. $x\n.toml"
    experiment.write_text((ROOT / "experiments" / "docking.toml").read_text())
    assert main(["sweep", str(experiment), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"into sweeps/x-\d{8}-\d{4}-[0-9a-f]{8}/\n", out), out


def _widgets(widget):
    """``widget`` and every widget under it."""
    yield widget
    for child in getattr(widget, "children", None) or []:
        if not isinstance(child, str):
            yield from _widgets(child)


def test_the_demo_page_shows_hostile_names_as_text():
    """A scenario's name and description reach the page as text nodes, never as HTML;
    the one piece of hand-built HTML that names the scenario (the lesson's notice)
    escapes it; the front's legend draws a contingent's `$` literally."""
    import solara

    from sim import app
    from sim.classroom import ClassroomModel
    from sim.scenarios import load

    base = load("fortified_defense", [r'name="<script>x</script> $\\foo$"',
                                      'description="<img src=x onerror=alert(1)> & [a](b)"',
                                      r'attacker.units[*].contingent="$\\foo$"'])
    model = ClassroomModel(base)
    header, _ = solara.render(app.Header(model, base, solara.reactive("model")),
                              handle_error=False)
    texts = [c for w in _widgets(header) for c in getattr(w, "children", None) or []
             if isinstance(c, str)]
    assert r"<script>x</script> $\foo$" in texts
    assert "<img src=x onerror=alert(1)> & [a](b)" in texts
    assert not any(getattr(w, "unsafe_innerHTML", None) for w in _widgets(header))
    notes, _ = solara.render(app.LessonNotes(base, solara.reactive(
        {"base": base, **app.start_values(base)})), handle_error=False)
    html = " ".join(w.unsafe_innerHTML for w in _widgets(notes)
                    if getattr(w, "unsafe_innerHTML", None))
    assert "<script" not in html and "<img" not in html
    assert r"this page runs <code>&lt;script&gt;x&lt;/script&gt; $\foo$</code>" in html
    assert app.front_png(model)[:4] == b"\x89PNG"


def test_a_chosen_name_taken_meanwhile_lands_beside_it(tmp_path):
    """Two runs started in the same second choose the same folder name; the second to
    finish lands at NAME-2 instead of failing (and losing its work)."""
    from sim.publish import publishing

    out = tmp_path / "runs" / "battle-20261203-120000"
    landed: list = []
    with publishing(out, landed=landed) as staging:
        (staging / "mine.txt").write_text("mine")
        out.mkdir(parents=True)  # the other run publishes first
        (out / "theirs.txt").write_text("theirs")
    assert landed == [out.with_name(out.name + "-2")]
    assert (landed[0] / "mine.txt").read_text() == "mine"
    assert (out / "theirs.txt").read_text() == "theirs"
