"""The classroom page: its pictures, exports and lesson notes in Python, and the page
served by `attrition demo` in a real Chromium at 1920x1080 and 1280x720 with nothing
reachable but 127.0.0.1. Screenshots of both sizes are kept in tests/artifacts/."""

from __future__ import annotations

import io
import re
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest
from browser_helpers import CHROMIUM_ARGS, demo_server, ensure_chromium
from matplotlib.text import Text

from sim import app, scenarios
from sim.classroom import CONTROLS, ClassroomModel, controls_for
from sim.lessons import lessons, parse_setting
from sim.views import LIVE_CHARTS, LIVE_COLUMNS

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
SIZES = ((1920, 1080), (1280, 720))
# Chart and monitor text, in CSS pixels at 1080p.
MIN_TEXT_PX = 18
# What Mesa's SolaraViz and Solara show that the class does not need.
FRAMEWORK_TEXT = re.compile(r"Play Interval|Render Interval|Use Threads|PAGE \d|^Step: \d|"
                            r"^Time: \d|runs on Solara|Model Parameters")


# ------------------------------------------------------------------- pictures
def _stepped(name: str = "recruit_pool_exhaustion", days: int = 0, **controls):
    model = ClassroomModel(scenarios.load(name), **controls)
    for _ in range(days):
        model.step()
    return model


@pytest.mark.parametrize("name", sorted(scenarios.available()))
def test_every_shipped_scenario_opens_on_the_page(name):
    """The page's controls start at each scenario's own values (so that Reset without a
    change rebuilds the same scenario), inside their sliders, and its pictures draw."""
    base = scenarios.load(name)
    start = app.start_values(base)
    model = ClassroomModel(base, **start)
    assert model.config == base
    for control in controls_for(base):
        if not CONTROLS[control].choices:
            low, high, step = app.slider_range(base, control)
            assert low <= start[control] <= high
            # On the slider's grid: a slider snaps to its steps, which would count as a
            # change waiting for Reset before anyone touched it.
            steps = (start[control] - low) / step
            assert steps == pytest.approx(round(steps), abs=1e-6), (control, step)
    model.step()
    assert app.front_png(model)[:4] == app.charts_png(model)[:4] == b"\x89PNG"


def test_pictures_follow_the_model():
    model = _stepped()
    first_front, first_charts = app.front_png(model), app.charts_png(model)
    for _ in range(3):
        model.step()
    assert app.charts_png(model) != first_charts
    assert app.front_png(model) != first_front
    assert app.status(model) == "Day 3 of at most 730: running"
    shown = {label: value for label, value, _ in app.monitors(model)}
    killed = model.side_history("killed_total")[-1]
    assert shown["Day"] == "3"
    assert shown["Attacker killed"] == f"{killed[0]:,.0f}"
    assert shown["Recruit pool left"] == f"{model.side_history('pool')[-1][0]:,.0f}"


@pytest.mark.parametrize("panel", ["front_png", "charts_png"])
def test_blitted_frame_equals_a_full_drawing(panel):
    """Drawing only what changes over the saved background (a model drawn on day 0,
    then stepped) gives the same pixels as drawing the whole figure afresh for a twin
    model that was never drawn before day 5; and they differ from day 0's picture."""
    from PIL import Image

    def pixels(png):
        return np.asarray(Image.open(io.BytesIO(png)))

    draw = getattr(app, panel)
    model, twin = _stepped(), _stepped()
    first = draw(model)
    for _ in range(5):
        model.step()
        twin.step()
    blitted, full = draw(model), draw(twin)
    np.testing.assert_array_equal(pixels(blitted), pixels(full))
    assert not np.array_equal(pixels(blitted), pixels(first))
    # Drawn again on the same day: the ground (cells, mines) is the kept one.
    np.testing.assert_array_equal(pixels(draw(model)), pixels(full))


@pytest.mark.parametrize("panel", ["front", "charts"])
def test_every_text_of_the_pictures_is_drawn_at_the_page_size(panel):
    """Each piece of text in the front and the charts is at least TEXT_PX pixels of the
    picture (which the browser test shows at no less than its size at 1080p), and
    inside the picture: nothing is cut off at its edges."""
    model = _stepped("human_wave_foreign_contingent", days=40)
    getattr(app, f"{panel}_png")(model)
    _, frames = app._figures[panel][model]
    fig = frames.figure
    renderer = frames.canvas.get_renderer()
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    assert len(texts) > 10
    width, height = fig.bbox.width, fig.bbox.height
    for text in texts:
        assert text.get_fontsize() * fig.dpi / 72 >= app.TEXT_PX - 1e-9, text.get_text()
    # What each axes draws (ticks in view, labels, title, legend, the units) is inside.
    for ax in fig.axes:
        box = ax.get_tightbbox(renderer)
        assert box.x0 >= 0 and box.y0 >= 0, (ax.get_title(), box)
        assert box.x1 <= width and box.y1 <= height, (ax.get_title(), box, width, height)


def test_the_loss_exchange_chart_is_not_clipped():
    """The ratio's axis grows with it: every day's value lies inside the chart."""
    model = _stepped("human_wave_foreign_contingent", days=30)
    app.charts_png(model)
    view, _ = app._figures["charts"][model]
    ratio_axes = view.axes[3]
    ratio = app.loss_exchange_series(app.history(model))
    assert np.nanmax(ratio) > 2
    assert ratio_axes.get_ylim()[1] >= np.nanmax(ratio)


def test_the_csv_exports_are_the_models_records():
    """Each chart's CSV is its columns of the model's daily records, day by day."""
    model = _stepped(days=6)
    for chart, (_, _, lines) in enumerate(LIVE_CHARTS):
        table = pd.read_csv(io.StringIO(app.chart_csv(model, chart)))
        assert table["day"].tolist() == list(range(7))
        for column, _, _ in lines:
            history = model.side_history(column)
            np.testing.assert_allclose(table[f"attacker_{column}"], history[:, 0])
            np.testing.assert_allclose(table[f"defender_{column}"], history[:, 1])
        if not lines:
            hit = model.side_history("killed_total") + model.side_history("wounded_total")
            expected = np.where(hit[:, 1] > 0, hit[:, 0] / np.maximum(hit[:, 1], 1), np.nan)
            np.testing.assert_allclose(table["loss_exchange_ratio"], expected)


def test_the_view_export_is_both_pictures():
    from PIL import Image

    model = _stepped(days=2)
    view = Image.open(io.BytesIO(app.view_png(model)))
    caption = int(2.8 * app.TEXT_PX)
    assert view.size == (app.FRONT_PX[0] + app.CHARTS_PX[0], caption + app.FRONT_PX[1])
    front = Image.open(io.BytesIO(app.front_png(model))).convert("RGB")
    shown = view.crop((0, caption, app.FRONT_PX[0], caption + app.FRONT_PX[1]))
    np.testing.assert_array_equal(np.asarray(shown), np.asarray(front))
    # The caption is written (dark pixels in its strip).
    assert (np.asarray(view.convert("L"))[:caption] < 100).sum() > 500


def test_export_names_are_safe_whatever_the_scenario_is_called():
    model = _stepped()
    model.base = model.base.model_copy(update={"name": "../../etc/<b>x</b> y"})
    assert re.fullmatch(r"[A-Za-z0-9_-]+-day0", app.file_stem(model))


def test_a_run_that_ended_says_why_in_words():
    model = _stepped("lanchester_square")
    while model.running:
        model.step()
    assert model.stop_reason in app.STOP_REASONS
    assert app.status(model) == (f"Ended on day {model.day}: "
                                 f"{app.STOP_REASONS[model.stop_reason]}. Reset runs it again.")
    # The days axis ends at the run's last possible day, not past it.
    app.charts_png(model)
    view, _ = app._figures["charts"][model]
    assert view.axes[0].get_xlim()[1] <= model.config.max_days


def test_controls_whose_groups_differ_show_their_range():
    """Bakhmut's convicts train 14 days and its contract fighters 180: the page says so,
    and leaving the control alone keeps each group's own."""
    base = scenarios.load("bakhmut_2022_2023")
    assert app.value_text(base, "attacker_training_days") == "14 to 180 days"
    model = ClassroomModel(base, **app.start_values(base))
    assert model.config == base


def test_a_changed_control_waits_for_reset():
    model = _stepped()
    running = app.running_values(model)
    assert not app.differs(running["fortification_level"], running["fortification_level"])
    assert app.differs(0.1, running["fortification_level"])
    assert not app.differs(0.6000000000000001, 0.6)
    assert app.differs(3, running["seed"])


# -------------------------------------------------------------------- lessons
def test_every_lesson_setting_applies_to_its_own_page():
    """Each lesson names a shipped scenario for its page, and each of its settings
    names controls that page has, with values they allow."""
    found = lessons()
    assert {"lanchester", "human_waves", "recruit_pools"} <= set(found)
    for lesson in found.values():
        if lesson.scenario is None:
            assert not lesson.settings(), lesson.name
            continue
        base = scenarios.load(lesson.scenario)
        available = {*controls_for(base), "seed"}
        assert lesson.settings(), f"{lesson.name} has nothing to try on its page"
        for setting in lesson.settings():
            assert set(setting.values) <= available, (lesson.name, setting)
            ClassroomModel(base, **setting.values)  # the scenario allows the values


def test_a_setting_follows_its_item():
    """The buttons come after the item that asks for them, and the comments are gone."""
    blocks = lessons()["human_waves"].blocks()
    with_settings = [b for b in blocks if b.settings]
    training = next(b for b in with_settings if "attacker_training_days" in
                    b.settings[0].values)
    assert "Attacker training" in training.html and "30 and 365" in training.html
    assert [s.values["attacker_training_days"] for s in training.settings] == [30, 365]
    assert all("<!--" not in b.html for b in blocks)


@pytest.mark.parametrize(("text", "problem"), [
    ("fortification_level=2", "allowed: a number from 0 to 1"),
    ("tactic=charge", "allowed: as in the scenario, human_wave"),
    ("drones=3", "unknown control; allowed: tactic"),
    ("seed=-1", "allowed: a whole number from 0 to 99"),
    ("seed", "allowed: name=value"),
    ("", "an empty page setting"),
    ("defender_drones=lots", "allowed: a number from 0 to 200"),
])
def test_a_bad_setting_in_a_note_is_one_line(text, problem):
    with pytest.raises(ValueError, match=re.escape(problem)) as caught:
        parse_setting(text, "note.md")
    assert str(caught.value).startswith("note.md: ") and "\n" not in str(caught.value)


# -------------------------------------------------------------------- browser
_OVERFLOWING = """() => {
  const W = window.innerWidth, H = window.innerHeight, out = [];
  for (const el of document.querySelectorAll('body *')) {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.left < -0.5 || r.top < -0.5 || r.right > W + 0.5 || r.bottom > H + 0.5)
      out.push(`${el.tagName}.${el.className} ${Math.round(r.left)},${Math.round(r.top)}`
               + `-${Math.round(r.right)},${Math.round(r.bottom)}`);
  }
  const doc = document.documentElement;
  if (doc.scrollWidth > W || doc.scrollHeight > H)
    out.push(`document ${doc.scrollWidth}x${doc.scrollHeight}`);
  return out;
}"""

# (CSS pixels a picture's pixel takes, as drawn: object-fit contain) for each picture.
_PICTURE_SCALES = """() => [...document.querySelectorAll('img.front-panel, img.charts-panel')]
  .map(img => [img.className, Math.min(img.clientWidth / img.naturalWidth,
                                       img.clientHeight / img.naturalHeight)])"""

_CONTROLS_SHOWN = """() => [...document.querySelectorAll('.control')].map(row => {
  const slider = row.querySelector('[role=slider]');
  const select = row.querySelector('.v-select__selection');
  return [row.className, row.querySelector('.head .value').innerText,
          slider ? slider.getAttribute('aria-valuenow') : null,
          select ? select.innerText : null];
})"""


def _text_px(page, selector: str) -> list[float]:
    """Rendered font sizes (CSS px, zoom included) of the elements matched."""
    return page.evaluate(f"""() => [...document.querySelectorAll('{selector}')].map(el =>
        parseFloat(getComputedStyle(el).fontSize) * (el.closest('.attrition-page')
        ? parseFloat(getComputedStyle(el.closest('.attrition-page')).zoom || 1) : 1))""")


def _number(text: str) -> float:
    return float(re.match(r"[-\d.,]+", text.strip()).group(0).replace(",", ""))


@pytest.fixture(scope="module")
def served():
    with demo_server() as (url, _log):
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    chromium = ensure_chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _open(browser, url: str, size: tuple[int, int]):
    """A page of ``size`` on which any request to another host is blocked; returns the
    page and the lists of outside and failed requests."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": size[0], "height": size[1]},
                                  accept_downloads=True)
    outside, failed = [], []

    def only_local(route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_local)
    page = context.new_page()
    page.on("requestfailed", lambda r: failed.append(f"{r.url} {r.failure}"))
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.url} {r.status}"))
    page.goto(url)
    expect(page.locator("img.charts-panel")).to_be_visible(timeout=60_000)
    expect(page.locator(".monitor .value").first).to_have_text("0")
    return page, outside, failed


def _monitor(page, label: str):
    return page.locator(".monitor").filter(has=page.locator(".label", has_text=label)) \
        .locator(".value")


@pytest.mark.slow
@pytest.mark.xdist_group("page-in-chromium")  # one server for them all
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_page_fits_shows_its_values_and_hides_the_framework(served, browser, size):
    """At projector sizes: nothing overflows the window; every control shows its value
    (the slider's own); none of the framework's controls show; at 1080p the charts' and
    monitors' text is at least 18 px as rendered. Screenshots in tests/artifacts/."""
    from playwright.sync_api import expect

    page, outside, failed = _open(browser, served, size)
    try:
        page.get_by_role("button", name="Step").click()
        expect(_monitor(page, "Day")).to_have_text("1")
        page.wait_for_timeout(300)  # the pictures of day 1
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"page-{size[0]}x{size[1]}.png"))
        assert page.evaluate(_OVERFLOWING) == []
        for text in page.get_by_text(FRAMEWORK_TEXT).all():
            assert not text.is_visible(), text.inner_text()
        rows = page.evaluate(_CONTROLS_SHOWN)
        assert len(rows) == len(controls_for(app.base_scenario())) + 2  # speed, seed
        for row, shown, slider, select in rows:
            assert slider is not None or select is not None, row
            if slider is not None:
                assert _number(shown) == pytest.approx(float(slider)), (row, shown, slider)
            else:
                assert shown == select, row
        if size == (1920, 1080):
            for name, scale in page.evaluate(_PICTURE_SCALES):
                assert app.TEXT_PX * scale >= MIN_TEXT_PX, (name, scale)
            assert min(_text_px(page, ".monitor .label, .monitor .value")) >= MIN_TEXT_PX
            assert min(_text_px(page, ".control .head")) >= MIN_TEXT_PX
        page.locator(".tab-info").click()
        expect(page.locator(".lesson h1")).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / f"lesson-{size[0]}x{size[1]}.png"))
        assert page.evaluate(_OVERFLOWING.replace("body *", "body *:not(.lesson *)")) == []
    finally:
        page.context.close()
    assert outside == [], f"requests to outside hosts: {outside}"
    assert failed == [], f"failed requests: {failed}"


@pytest.mark.slow
@pytest.mark.xdist_group("page-in-chromium")  # one server for them all
def test_a_thing_to_try_sets_its_controls_and_reset_runs_them(served, browser):
    """One press on a lesson's setting sets its control, marked as waiting; the running
    model is unchanged until Reset, which runs the setting and clears the mark."""
    from playwright.sync_api import expect

    page, _, _ = _open(browser, served, (1920, 1080))
    try:
        recruits = page.locator(".control-recruits_per_day")
        expect(recruits.locator(".head .value")).to_have_text("120 a day")
        page.locator(".tab-info").click()
        page.get_by_role("button", name="Set Attacker recruits a day (persons) = 60").click()
        expect(recruits.locator(".head .value")).to_have_text("60 a day")
        expect(recruits.get_by_role("slider")).to_have_attribute("aria-valuenow", "60")
        expect(recruits).to_have_class(re.compile(r"\bpending\b"))
        expect(recruits.locator(".now")).to_contain_text("running now: 120 a day")
        expect(page.locator(".waiting")).to_have_text("Changes wait for Reset")
        page.get_by_role("button", name="Reset").click()
        expect(page.locator(".waiting")).to_have_count(0)
        expect(recruits).not_to_have_class(re.compile(r"\bpending\b"))
        expect(recruits.locator(".head .value")).to_have_text("60 a day")
        # Every control changed at once: the exports stay on screen (the controls
        # scroll in their own box), and one press brings back the scenario's values.
        page.get_by_role("button", name="Set Recruits' training length (days) = 180").first \
            .click()
        page.locator(".tab-model").click()
        for name in ("attacker_training_days", "fortification_level", "defender_drones",
                     "seed"):
            slider = page.locator(f".control-{name}").get_by_role("slider")
            slider.focus()
            slider.press("End")
        expect(page.locator(".control.pending")).to_have_count(5)
        expect(page.get_by_role("button", name="The view (PNG)")).to_be_in_viewport(ratio=1)
        assert page.evaluate(_OVERFLOWING) == []
        page.get_by_role("button", name="Back to the scenario's values").click()
        expect(recruits.locator(".head .value")).to_have_text("120 a day")
        expect(page.locator(".control.pending")).to_have_count(1)  # 60 runs now
    finally:
        page.context.close()


@pytest.mark.slow
@pytest.mark.xdist_group("page-in-chromium")  # one server for them all
def test_step_play_and_the_csv_export_is_the_models_records(served, browser, tmp_path):
    """Step and Play advance the day; the Killed CSV downloaded from the page equals the
    same model's records (the demo scenario, seed 0) for as many days."""
    from playwright.sync_api import expect

    page, _, _ = _open(browser, served, (1920, 1080))
    try:
        day = _monitor(page, "Day")
        charts = page.locator("img.charts-panel")
        before = charts.get_attribute("src")
        page.get_by_role("button", name="Step").click()
        expect(day).to_have_text("1")
        expect(charts).not_to_have_attribute("src", before)
        page.get_by_role("button", name="▶").click()
        expect(day).to_have_text(re.compile(r"^([3-9]|\d\d+)$"))
        page.get_by_role("button", name="❚❚").click()
        expect(page.get_by_role("button", name="Step")).to_be_enabled()
        # A day already under way when Pause was pressed still ends: wait until the
        # day holds still.
        days = -1
        while days != int(day.inner_text()):
            days = int(day.inner_text())
            page.wait_for_timeout(1000)
        with page.expect_download() as caught:
            page.get_by_role("button", name="Killed (CSV)").click()
        download = caught.value
        assert download.suggested_filename == f"recruit_pool_exhaustion-day{days}-killed.csv"
        path = tmp_path / "killed.csv"
        download.save_as(path)
        exported = pd.read_csv(path)
        model = _stepped(days=days, **{k: v for k, v in app.start_values(
            scenarios.load("recruit_pool_exhaustion")).items()})
        killed = model.side_history("killed_total")
        assert exported["day"].tolist() == list(range(days + 1))
        np.testing.assert_array_equal(exported["attacker_killed_total"], killed[:, 0])
        np.testing.assert_array_equal(exported["defender_killed_total"], killed[:, 1])
        assert set(LIVE_COLUMNS) >= {"killed_total"}
    finally:
        page.context.close()
