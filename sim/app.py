"""The classroom page: a Solara page over :class:`sim.classroom.ClassroomModel`, laid out
for a projector.

``attrition demo [SCENARIO]`` serves it (``solara run sim.app``); the scenario comes in
through the ``ATTRITION_DEMO_SCENARIO`` environment variable. The page is designed at
1920x1080 and zoomed whole to smaller windows (1280x720 is two thirds of it), so that
nothing overflows and the charts' text is :data:`TEXT_PX` pixels at 1080p.

* **Header:** the scenario, big monitors (day, killed per side, loss exchange ratio,
  recruit pool left), and the two tabs: the model and the lesson notes.
* **Controls** (always on the left): Mesa's Reset, Play and Step
  (:func:`mesa.visualization.solara_viz.ModelController`), a speed from slower to
  faster, each control with its value and unit at all times, a control changed since
  the last Reset marked until Reset runs it, and the exports: each chart's data as
  CSV and the view as PNG.
* **Model tab:** the front and the four live charts, drawn with matplotlib to PNG on
  the server (no charting library from outside: the page works offline; Solara's own
  assets come from ``solara-assets``).
* **Info tab:** the lesson note of the scenario (:mod:`sim.lessons`), whose "things to
  try" set the controls with one press.

Mesa's SolaraViz shell is not used: its sidebar shows the framework's own controls
(play interval in ms, render interval, threads, a step counter) to the class.
"""

from __future__ import annotations

import html
import io
import os
import re
import warnings
import weakref

import solara
from matplotlib.figure import Figure

from sim import scenarios
from sim.classroom import (
    CONTROLS,
    DEMO_SCENARIO,
    MIXED,
    ClassroomModel,
    control_spreads,
    control_values,
    controls_for,
)
from sim.config import Scenario
from sim.lessons import Lesson, Setting, lesson_for, lessons
from sim.publish import printable
from sim.views import (
    LIVE_COLUMNS,
    BlitFigure,
    ChartsView,
    FrontView,
    live_chart_table,
    loss_exchange_series,
)

# Mesa 3.3's ComponentsView (in the module of the ModelController used here) trips
# Solara's hook checker when it is imported; a teacher can do nothing about it.
warnings.filterwarnings("ignore", message=r".*ComponentsView: `use_state` found despite",
                        category=UserWarning)
# A scenario's name may hold characters (emoji) that matplotlib's font lacks: it draws a
# box, and the teacher's terminal need not hear of it on every frame.
warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from", category=UserWarning)

SCENARIO_ENV = "ATTRITION_DEMO_SCENARIO"
#: The page's design size (CSS pixels); smaller windows zoom it whole.
DESIGN_PX = (1920, 1080)
#: Text of the charts and the front, in pixels of their pictures, which are drawn at
#: the size they take at 1080p.
TEXT_PX = 20
FIGURE_DPI = 100
#: The pictures' sizes in pixels at 1080p (see CSS): the front and the charts.
FRONT_PX = (560, 930)
CHARTS_PX = (896, 930)
MAX_SEED = 99
#: Milliseconds between days when playing, from slower (1) to faster (5).
SPEEDS_MS = {1: 1000, 2: 500, 3: 250, 4: 100, 5: 20}
DEFAULT_SPEED = 3
# Windows smaller than the design zoom the page whole: each level applies below the
# size of the one before (1280x720 gets two thirds).
_ZOOMS = (1.0, 0.9, 0.8, 0.711, 0.6667, 0.6, 0.5333, 0.5, 0.4)

CSS = """
.attrition-page { width: 1920px; height: 1080px; overflow: hidden; font-size: 20px;
  box-sizing: border-box; padding: 0 16px; background: white; color: #111; }
.attrition-page * { box-sizing: border-box; }
.attrition-page .v-ripple__container { display: none !important; }  /* no splash on a click */
.page-header { display: flex; align-items: center; gap: 16px; height: 118px; }
.page-title { width: 380px; line-height: 1.2; }
.page-title .name { font-size: 30px; font-weight: 700; white-space: nowrap; overflow: hidden;
  text-overflow: ellipsis; }
.page-title .what { font-size: 18px; color: #333; overflow: hidden; display: -webkit-box;
  -webkit-line-clamp: 2; -webkit-box-orient: vertical; }
.monitors { display: flex; gap: 12px; flex: 1; }
.monitor { flex: 1; border: 2px solid #999; border-radius: 8px; padding: 4px 12px;
  min-width: 0; }
.monitor .label { font-size: 18px; color: #333; white-space: nowrap; }
.monitor .value { font-size: 40px; font-weight: 700; line-height: 1.1; white-space: nowrap; }
.monitor.attacker .value { color: #D55E00; }
.monitor.defender .value { color: #0072B2; }
.tab-buttons { display: flex; flex-direction: column; gap: 8px; width: 230px; }
.tab-buttons .v-btn { font-size: 18px !important; height: 44px !important; }
.page-body { display: flex; gap: 16px; height: 950px; padding-bottom: 12px; }
.controls { width: 400px; flex: none; display: flex; flex-direction: column; gap: 6px;
  overflow: hidden; }
.control-list { flex: 1; min-height: 0; overflow-y: auto; display: flex;
  flex-direction: column; gap: 6px; }
.controls .v-btn { font-size: 20px !important; min-width: 110px !important;
  height: 48px !important; }
.control { border-left: 6px solid transparent; padding: 0 0 0 8px; }
.control.pending { border-left-color: #E69F00; background: #FFF4DC; }
.control .head { display: flex; justify-content: space-between; gap: 10px; font-size: 20px;
  line-height: 1.2; }
.control .head .value { font-weight: 700; }
.control .now { font-size: 18px; color: #7a4a00; }
.control .v-input { margin-top: 0 !important; padding-top: 0 !important; }
.control .v-input__slot { margin-bottom: 0 !important; }
.control .v-messages, .control .v-text-field__details { display: none !important; }
.control .v-label { display: none !important; }
.control .v-select__selection { font-size: 20px; }
.speed .ends { display: flex; justify-content: space-between; font-size: 18px; color: #333; }
.waiting { font-size: 20px; font-weight: 700; background: #E69F00; color: black;
  padding: 4px 8px; border-radius: 6px; }
.status { font-size: 18px; color: #333; }
.status.ended { font-size: 20px; font-weight: 700; background: #0072B2; color: white;
  padding: 4px 8px; border-radius: 6px; }
.controls .v-btn.back { font-size: 16px !important; height: 36px !important;
  text-transform: none; }
.exports { display: grid; grid-template-columns: 1fr 1fr; gap: 6px; flex: none; }
.exports > * { min-width: 0; }
.exports .v-btn { font-size: 16px !important; min-width: 0 !important; height: 40px !important;
  width: 100%; max-width: 100%; text-transform: none; letter-spacing: 0;
  padding: 0 6px !important; }
.picture { flex: none; height: 100%; display: flex; align-items: flex-start;
  justify-content: center; }
.picture img { max-width: 100%; max-height: 100%; object-fit: contain; }
.front-box { width: 560px; }
.charts-box { width: 896px; }
.lesson { flex: 1; height: 100%; overflow-y: auto; font-size: 20px; line-height: 1.45;
  padding-right: 12px; }
.lesson h1 { font-size: 32px; } .lesson h2 { font-size: 24px; margin-top: 18px; }
.lesson table { border-collapse: collapse; } .lesson td, .lesson th { border: 1px solid #bbb;
  padding: 2px 6px; }
.lesson code { font-size: 18px; }
.lesson .try { display: flex; flex-wrap: wrap; gap: 8px; margin: 0 0 10px 24px; }
.lesson .try .v-btn { font-size: 18px !important; text-transform: none;
  height: 40px !important; }
.lesson .elsewhere { font-size: 18px; background: #eef; padding: 6px 10px; }
.lesson-picker { display: flex; gap: 8px; flex-wrap: wrap; margin-bottom: 8px; }
.lesson-picker .v-btn { font-size: 16px !important; text-transform: none; }
""" + "".join(
    f"@media (max-width: {DESIGN_PX[0] * before - 0.5:.1f}px), "
    f"(max-height: {DESIGN_PX[1] * before - 0.5:.1f}px) "
    f"{{ .attrition-page {{ zoom: {zoom}; }} }}\n"
    for before, zoom in zip(_ZOOMS, _ZOOMS[1:], strict=False))

# One figure per model and panel, updated in place from step to step; a reset makes a
# new model, and its figures go with the old one.
_figures: dict[str, weakref.WeakKeyDictionary] = {
    "front": weakref.WeakKeyDictionary(), "charts": weakref.WeakKeyDictionary()}


def base_scenario() -> Scenario:
    """The scenario the page starts from: ``$ATTRITION_DEMO_SCENARIO`` or the demo's."""
    return scenarios.load(os.environ.get(SCENARIO_ENV) or DEMO_SCENARIO)


def start_values(base: Scenario) -> dict:
    """The controls' values the page starts with (the scenario's own) and the seed."""
    values = control_values(base)
    for name, control in controls_for(base).items():
        if not control.choices:
            whole = float(control.step).is_integer()
            values[name] = int(values[name]) if whole else float(values[name])
    return values | {"seed": 0}


def slider_range(base: Scenario, name: str) -> tuple[float, float, float]:
    """(low, high, step) of a control's slider: its range, stretched to the scenario's
    own value where that lies outside, and a step that lands on that value (a slider
    snaps to its steps: 14 days on steps of 5 would show 15 and count as a change).

    >>> from sim import scenarios
    >>> slider_range(scenarios.load("bakhmut_2022_2023"), "attacker_training_days")
    (0, 730, 1)
    >>> slider_range(scenarios.load("recruit_pool_exhaustion"), "attacker_training_days")
    (0, 730, 5)
    """
    control = CONTROLS[name]
    value = control_values(base)[name]
    step = control.step
    for finer in (step, 1, 0.01, 0.001):
        if finer <= step and abs((value - control.low) / finer
                                 - round((value - control.low) / finer)) < 1e-6:
            step = finer
            break
    else:
        step = 0.0001
    return control.low, max(control.high, value), step


def value_text(scenario: Scenario, name: str) -> str:
    """A control's value in ``scenario`` as the page shows it: with its unit, or the
    lowest and highest where its groups differ ("14 to 180 days")."""
    control = CONTROLS[name]
    spread = control_spreads(scenario).get(name)
    if spread is not None:
        return control.shown_range(*spread)
    return control.shown(control_values(scenario)[name])


def running_values(model: ClassroomModel) -> dict:
    """The running model's control values and seed (what Reset last ran)."""
    return control_values(model.config) | {"seed": model.seed}


def differs(set_value, running) -> bool:
    """Whether a control's set value differs from the running model's."""
    if isinstance(set_value, str) or isinstance(running, str):
        return set_value != running and set_value != MIXED
    return abs(float(set_value) - float(running)) > 1e-9


def history(model: ClassroomModel) -> dict:
    """The live charts' columns for the two sides, day by day so far."""
    return {column: model.side_history(column) for column in LIVE_COLUMNS}


def monitors(model: ClassroomModel) -> list[tuple[str, str, str]]:
    """The big monitors as (label, value, side class): day, killed per side, loss
    exchange ratio, and the attacker's recruit pool left."""
    hist = history(model)
    killed = hist["killed_total"][-1]
    ratio = loss_exchange_series(hist)[-1]
    pool = hist["pool"][-1][0]
    recruits = any(c.pool > 0 or c.tranches
                   for c in model.config.attacker.contingents.values())
    return [("Day", f"{model.day}", ""),
            ("Attacker killed", f"{killed[0]:,.0f}", "attacker"),
            ("Defender killed", f"{killed[1]:,.0f}", "defender"),
            ("Attackers hit per defender", "–" if ratio != ratio else f"{ratio:.1f}", ""),
            ("Recruit pool left", f"{pool:,.0f}" if recruits else "none", "attacker")]


#: Why a run stopped, in words.
STOP_REASONS = {"max_days": "it reached its last day", "attacker_broken": "the attacker broke",
                "defender_broken": "the defender broke", "both_broken": "both sides broke",
                "breakthrough": "the attacker broke through",
                "objective_taken": "the attacker took its objective"}


def status(model: ClassroomModel) -> str:
    """Where the run is: its day of at most how many, or that it has ended and why."""
    if model.running:
        return f"Day {model.day} of at most {model.config.max_days}: running"
    why = STOP_REASONS.get(model.stop_reason, str(model.stop_reason))
    return f"Ended on day {model.day}: {why}. Reset runs it again."


def _frames(panel: str, model: ClassroomModel, make) -> tuple:
    """The (view, BlitFigure) of ``panel`` for ``model``, made on first use by ``make``
    (which returns the figure and its view)."""
    if model not in _figures[panel]:
        fig, view = make()
        _figures[panel][model] = (view, BlitFigure(fig, view.changing,
                                                   getattr(view, "ground", ())))
    return _figures[panel][model]


def _figure(size_px: tuple[int, int]) -> Figure:
    return Figure(figsize=(size_px[0] / FIGURE_DPI, size_px[1] / FIGURE_DPI),
                  dpi=FIGURE_DPI)


def _margins(fig: Figure, left: float, right: float, bottom: float, top: float,
             across: float = 0.0, down: float = 0.0, grid: tuple[int, int] = (1, 1)) -> None:
    """Fixed margins and gaps between axes, in pixels: the layout never moves (a
    layout engine would move the axes as tick labels grow, under the saved
    background of the blitted frames), and it is sized for :data:`TEXT_PX` text."""
    width, height = fig.bbox.width, fig.bbox.height
    rows, cols = grid
    axes_w = (width - left - right - across * (cols - 1)) / cols
    axes_h = (height - top - bottom - down * (rows - 1)) / rows
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height,
                        top=1 - top / height, wspace=across / axes_w, hspace=down / axes_h)


def front_png(model: ClassroomModel) -> bytes:
    """The front of ``model`` now, as PNG (:data:`FRONT_PX`)."""
    def make():
        fig = _figure(FRONT_PX)
        front = model.front_map()
        # Below the map: the axis label and a legend of two columns (band, mines and
        # each contingent).
        legend_rows = -(-(2 + len(front.contingents)) // 2)
        _margins(fig, left=100, right=36, top=70,
                 bottom=(4.0 + 1.5 * legend_rows) * TEXT_PX)
        return fig, FrontView(fig.add_subplot(), front, text_px=TEXT_PX)

    view, frames = _frames("front", model, make)
    ground_changed = view.update(model.front_map())
    return frames.png(ground_changed=ground_changed)


def charts_png(model: ClassroomModel) -> bytes:
    """The live charts of ``model`` so far, as PNG (:data:`CHARTS_PX`)."""
    def make():
        fig = _figure(CHARTS_PX)
        # Above each chart its title and a legend of up to two rows; left of it the
        # tick labels (at most five characters) and the axis label.
        _margins(fig, left=105, right=30, bottom=75, top=110, across=120, down=185,
                 grid=(2, 2))
        return fig, ChartsView(fig.subplots(2, 2), text_px=TEXT_PX,
                               max_days=model.config.max_days)

    view, frames = _frames("charts", model, make)
    limits_changed = view.update(history(model))
    return frames.png(redraw_all=limits_changed)


def view_png(model: ClassroomModel) -> bytes:
    """The front and the charts side by side under a caption (the scenario, day, seed,
    how the run stands and the controls' values), as one PNG: the page's "view"
    export, which says on its face what it shows."""
    from matplotlib import font_manager
    from PIL import Image, ImageDraw, ImageFont

    front = Image.open(io.BytesIO(front_png(model))).convert("RGB")
    charts = Image.open(io.BytesIO(charts_png(model))).convert("RGB")
    width = front.width + charts.width
    font = ImageFont.truetype(font_manager.findfont("DejaVu Sans"), TEXT_PX)
    lines = [f"{model.base.name}, seed {model.seed}. {status(model)}",
             "; ".join(f"{control.label.split(' (')[0]}: {value_text(model.config, name)}"
                       for name, control in controls_for(model.config).items())]
    lines = [_fit(printable(line), font, width - 2 * TEXT_PX) for line in lines]
    caption = int(2.8 * TEXT_PX)
    view = Image.new("RGB", (width, caption + max(front.height, charts.height)), "white")
    draw = ImageDraw.Draw(view)
    for i, line in enumerate(lines):
        draw.text((TEXT_PX, int(0.2 * TEXT_PX) + i * int(1.3 * TEXT_PX)), line, fill="black",
                  font=font)
    view.paste(front, (0, caption))
    view.paste(charts, (front.width, caption))
    out = io.BytesIO()
    view.save(out, format="png")
    return out.getvalue()


def _fit(text: str, font, width: float) -> str:
    """``text`` cut (with an ellipsis) to ``width`` pixels in ``font``."""
    # No glyph is narrower than a quarter of the font's size: longer text cannot fit,
    # and is cut before it is measured (a hostile name may be long).
    text = text[:int(width / (0.25 * font.size)) + 1]
    if font.getlength(text) <= width:
        return text
    while text and font.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


def chart_csv(model: ClassroomModel, chart: int) -> str:
    """The data of live chart ``chart`` so far, as CSV."""
    return live_chart_table(history(model), chart).to_csv(index=False)


def file_stem(model: ClassroomModel) -> str:
    """A safe start for export file names: the scenario's name and the day."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "_", model.base.name)[:60].strip("_") or "scenario"
    return f"{name}-day{model.day}"


#: Each live chart's export: (file name, button label).
CHART_FILES = (("in_the_line", "In the line"), ("killed", "Killed"),
               ("recruits", "Recruits left"), ("loss_exchange_ratio", "Exchange ratio"))


# ------------------------------------------------------------------ components
@solara.component
def Monitors(model: ClassroomModel):
    """Day, killed per side, loss exchange ratio and recruit pool left, in big type."""
    from mesa.visualization.utils import update_counter

    update_counter.get()
    with solara.Div(classes=["monitors"]):
        for label, value, side in monitors(model):
            with solara.Div(classes=["monitor", side] if side else ["monitor"]):
                solara.Div(children=[label], classes=["label"])
                solara.Div(children=[value], classes=["value"])


@solara.component
def Header(model: ClassroomModel, base: Scenario, tab: solara.Reactive[str]):
    with solara.Div(classes=["page-header"]):
        with solara.Div(classes=["page-title"]):
            solara.Div(children=[base.name], classes=["name"])
            solara.Div(children=[base.description], classes=["what"])
        Monitors(model)
        with solara.Div(classes=["tab-buttons"]):
            for key, label in (("model", "Model"), ("info", "Lesson notes")):
                solara.Button(label, on_click=lambda key=key: tab.set(key),
                              color="primary" if tab.value == key else None,
                              outlined=tab.value != key, classes=[f"tab-{key}"])


@solara.component
def ControlRow(name: str, label: str, shown: str, pending_from: str | None, field):
    """One control: its label and value (with unit) always shown above its slider or
    select; marked while its value waits for Reset."""
    classes = ["control", "pending"] if pending_from is not None else ["control"]
    with solara.Div(classes=[*classes, f"control-{name}"]):
        with solara.Div(classes=["head"]):
            solara.Div(children=[label], classes=["label"])
            solara.Div(children=[shown], classes=["value"])
        field()
        if pending_from is not None:
            solara.Div(children=[f"running now: {pending_from}; applies on Reset"],
                       classes=["now"])


@solara.component
def Status(model: ClassroomModel):
    """The run's day of at most how many, running or why it stopped."""
    from mesa.visualization.utils import update_counter

    update_counter.get()
    solara.Div(children=[status(model)],
               classes=["status"] if model.running else ["status", "ended"])


@solara.component
def Controls(base: Scenario, params: solara.Reactive[dict], model: ClassroomModel):
    """Each control with its value and unit; changes wait for Reset, marked. (Drawn
    again when a control moves or Reset makes a model, not on every day.)"""
    running = running_values(model)

    def setter(name):
        return lambda value: params.set({**params.value, name: value})

    waiting = [name for name in [*controls_for(base), "seed"]
               if differs(params.value[name], running[name])]
    if waiting:
        solara.Div(children=["Changes wait for Reset"], classes=["waiting"])
    else:
        Status(model)
    start = start_values(base)
    spreads = control_spreads(base)
    moved = any(differs(params.value[name], start[name]) for name in start)
    solara.Button("Back to the scenario's values", disabled=not moved, outlined=True,
                  classes=["back"],
                  on_click=lambda: params.set({**params.value, **start}))
    for name, control in controls_for(base).items():
        value = params.value[name]
        title = control.label.split(" (")[0]
        pending = value_text(model.config, name) if name in waiting else None
        shown = control.shown(value)
        if name in spreads and not differs(value, start[name]):
            # The groups differ and the control is untouched: say so, not the first's.
            shown = value_text(base, name)
        if control.choices:
            def field(control=control, value=value, name=name):
                solara.Select(control.label, values=list(control.choices), value=value,
                              on_value=setter(name), dense=True)
        else:
            low, high, step = slider_range(base, name)
            whole = float(step).is_integer()
            slider = solara.SliderInt if whole else solara.SliderFloat

            def field(slider=slider, control=control, value=value, name=name, low=low,
                      high=high, step=step, whole=whole):
                slider(control.label, value=int(value) if whole else float(value),
                       min=int(low) if whole else low, max=int(high) if whole else high,
                       step=int(step) if whole else step, on_value=setter(name),
                       thumb_label=False)
        ControlRow(name, title, shown, pending, field)
    seed_pending = str(running["seed"]) if "seed" in waiting else None

    def seed_field():
        solara.SliderInt("Seed", value=int(params.value["seed"]), min=0, max=MAX_SEED,
                         step=1, on_value=setter("seed"), thumb_label=False)
    ControlRow("seed", "Seed (another run of chance)", str(params.value["seed"]),
               seed_pending, seed_field)


@solara.component
def Speed(speed: solara.Reactive[int], interval: solara.Reactive[int]):
    """How fast Play runs, from slower to faster (not milliseconds)."""
    def set_speed(level: int):
        speed.set(level)
        interval.set(SPEEDS_MS[level])

    with solara.Div(classes=["control", "speed"]):
        with solara.Div(classes=["head"]):
            solara.Div(children=["Speed of Play"], classes=["label"])
            solara.Div(children=[f"{speed.value} of {len(SPEEDS_MS)}"], classes=["value"])
        solara.SliderInt("Speed of Play", value=speed.value, min=1, max=len(SPEEDS_MS),
                         step=1, on_value=set_speed, thumb_label=False)
        with solara.Div(classes=["ends"]):
            solara.Div(children=["◀ slower"])
            solara.Div(children=["faster ▶"])


@solara.component
def Exports(model: solara.Reactive[ClassroomModel]):
    """Each chart's data as CSV and the view as PNG, as they are when pressed."""
    from mesa.visualization.utils import update_counter

    update_counter.get()
    stem = file_stem(model.value)
    with solara.Div(classes=["exports"]):
        for chart, (name, label) in enumerate(CHART_FILES):
            solara.FileDownload(lambda chart=chart: chart_csv(model.value, chart),
                                filename=f"{stem}-{name}.csv", label=f"{label} (CSV)",
                                mime_type="text/csv")
        solara.FileDownload(lambda: view_png(model.value), filename=f"{stem}.png",
                            label="The view (PNG)", mime_type="image/png")


def _image(render, model: ClassroomModel, name: str) -> None:
    # Drawn once per model and day, not on every re-render of the page.
    png = solara.use_memo(lambda: render(model), dependencies=[id(model), model.day])
    solara.Image(png, format="png", classes=[name])


@solara.component
def FrontPanel(model: ClassroomModel):
    """Who holds each cell, fortification, mines and the units (by side and contingent)."""
    from mesa.visualization.utils import update_counter

    update_counter.get()
    _image(front_png, model, "front-panel")


@solara.component
def ChartsPanel(model: ClassroomModel):
    """Personnel, killed, recruit pool and pipeline, and the loss exchange ratio."""
    from mesa.visualization.utils import update_counter

    update_counter.get()
    _image(charts_png, model, "charts-panel")


@solara.component
def LessonNotes(base: Scenario, params: solara.Reactive[dict]):
    """The lesson notes, the running scenario's first; its settings are buttons."""
    every = lessons()
    first = lesson_for(base.name) or next(iter(every))
    chosen = solara.use_reactive(first)
    lesson: Lesson = every[chosen.value]
    available = {*controls_for(base), "seed"}

    def apply(setting: Setting):
        params.set({**params.value, **setting.values})

    with solara.Div(classes=["lesson"]):
        with solara.Div(classes=["lesson-picker"]):
            for name, other in every.items():
                solara.Button(other.title, on_click=lambda name=name: chosen.set(name),
                              color="primary" if name == chosen.value else None,
                              outlined=name != chosen.value, small=True)
        if lesson.scenario and lesson.scenario != base.name:
            solara.HTML(tag="div", classes=["elsewhere"], unsafe_innerHTML=(
                f"This lesson's page is <code>attrition demo {html.escape(lesson.scenario)}"
                f"</code>; this page runs <code>{html.escape(base.name)}</code>, so some "
                f"of its settings may not apply here."))
        for block in lesson.blocks():
            solara.HTML(tag="div", unsafe_innerHTML=block.html)
            if block.settings:
                with solara.Div(classes=["try"]):
                    for setting in block.settings:
                        missing = sorted(set(setting.values) - available)
                        solara.Button(
                            setting.label() if not missing else
                            f"{setting.label()} (not on this page: {', '.join(missing)})",
                            on_click=lambda setting=setting: apply(setting),
                            disabled=bool(missing), color="primary", outlined=True,
                            classes=["try-setting"])


@solara.component
def Page():
    from mesa.visualization.solara_viz import ModelController

    base = solara.use_memo(base_scenario, [])
    start = solara.use_memo(lambda: start_values(base), [])
    params = solara.use_reactive({"base": base, **start})
    first = solara.use_memo(lambda: ClassroomModel(base, **start), [])
    model = solara.use_reactive(first)
    speed = solara.use_reactive(DEFAULT_SPEED)
    interval = solara.use_reactive(SPEEDS_MS[DEFAULT_SPEED])
    tab = solara.use_reactive("model")
    # Mesa's controller reads these as reactive values: a day per Play tick, drawn in
    # the tick's own thread.
    every_day = solara.use_reactive(1)
    no_threads = solara.use_reactive(False)
    solara.Title(f"attrition-sim: {base.name}")
    solara.Style(CSS)
    with solara.Div(classes=["attrition-page"]):
        Header(model.value, base, tab)
        with solara.Div(classes=["page-body"]):
            with solara.Div(classes=["controls"]):
                ModelController(model, model_parameters=params, play_interval=interval,
                                render_interval=every_day, use_threads=no_threads)
                Speed(speed, interval)
                with solara.Div(classes=["control-list"]):
                    Controls(base, params, model.value)
                Exports(model)
            if tab.value == "model":
                with solara.Div(classes=["picture", "front-box"]):
                    FrontPanel(model.value)
                with solara.Div(classes=["picture", "charts-box"]):
                    ChartsPanel(model.value)
            else:
                LessonNotes(base, params)


def warm_up() -> None:
    """Step and draw a throwaway model once, so that the class's first Step finds the
    compiled kernels and matplotlib's fonts loaded: called when the server loads the
    page's module."""
    model = ClassroomModel(base_scenario())
    front_png(model)
    charts_png(model)
    model.step()
    front_png(model)
    charts_png(model)


if os.environ.get(SCENARIO_ENV):  # under `attrition demo`, not on a plain import
    warm_up()
