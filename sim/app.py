"""The classroom page: Mesa's SolaraViz over :class:`sim.classroom.ClassroomModel`.

``attrition demo [SCENARIO]`` serves it (``solara run sim.app``); the scenario comes in
through the ``ATTRITION_DEMO_SCENARIO`` environment variable. The page shows the front,
four live charts (personnel, killed, recruit pool and pipeline, loss exchange ratio), the
running model's parameters, and the class's controls; Step, Play and Reset are Mesa's.
Figures are drawn with matplotlib into PNG on the server, so the page needs no
JavaScript charting library from outside; Solara's own assets come from the
``solara-assets`` package.
"""

from __future__ import annotations

import html
import os
import warnings
import weakref

import solara
from matplotlib.figure import Figure

from sim import scenarios
from sim.classroom import DEMO_SCENARIO, ClassroomModel, control_values, controls_for
from sim.config import Scenario
from sim.views import LIVE_COLUMNS, BlitFigure, ChartsView, FrontView, loss_exchange_series

# Mesa 3.3's ComponentsView trips Solara's hook checker when Mesa is imported (a hook
# after an early return that never happens here); a teacher can do nothing about it.
warnings.filterwarnings("ignore", message=r".*ComponentsView: `use_state` found despite",
                        category=UserWarning)

from mesa.visualization import SolaraViz  # noqa: E402
from mesa.visualization.utils import update_counter  # noqa: E402

SCENARIO_ENV = "ATTRITION_DEMO_SCENARIO"
# Pixels per inch of the page's figures: small PNGs keep a redraw cheap.
FIGURE_DPI = 72
MAX_SEED = 99

# One figure per model and panel, updated in place from step to step; a reset makes a
# new model, and its figures go with the old one.
_figures: dict[str, weakref.WeakKeyDictionary] = {
    "front": weakref.WeakKeyDictionary(), "charts": weakref.WeakKeyDictionary()}


def base_scenario() -> Scenario:
    """The scenario the page starts from: ``$ATTRITION_DEMO_SCENARIO`` or the demo's."""
    return scenarios.load(os.environ.get(SCENARIO_ENV) or DEMO_SCENARIO)


def model_params(base: Scenario) -> dict:
    """SolaraViz's controls for ``base``: each starts at the scenario's own value."""
    values = control_values(base)
    params: dict = {"base": base}
    for name, control in controls_for(base).items():
        value = values[name]
        if control.choices:
            params[name] = {"type": "Select", "value": value, "values": list(control.choices),
                            "label": control.label}
            continue
        whole = float(control.step).is_integer()
        params[name] = {"type": "SliderInt" if whole else "SliderFloat",
                        "value": int(value) if whole else float(value),
                        "min": control.low, "max": max(control.high, value),
                        "step": control.step, "label": control.label}
    params["seed"] = {"type": "SliderInt", "value": 0, "min": 0, "max": MAX_SEED, "step": 1,
                      "label": "Seed"}
    return params


def history(model: ClassroomModel) -> dict:
    """The live charts' columns for the two sides, day by day so far."""
    return {column: model.side_history(column) for column in LIVE_COLUMNS}


def _frames(panel: str, model: ClassroomModel, make) -> tuple:
    """The (view, BlitFigure) of ``panel`` for ``model``, made on first use by ``make``
    (which returns the figure and its view)."""
    if model not in _figures[panel]:
        fig, view = make()
        fig.tight_layout()
        _figures[panel][model] = (view, BlitFigure(fig, view.changing))
    return _figures[panel][model]


def front_png(model: ClassroomModel) -> bytes:
    """The front of ``model`` now, as PNG."""
    def make():
        fig = Figure(figsize=(5.2, 5.6), dpi=FIGURE_DPI)
        return fig, FrontView(fig.add_subplot(), model.front_map())

    view, frames = _frames("front", model, make)
    view.update(model.front_map())
    return frames.png()


def charts_png(model: ClassroomModel) -> bytes:
    """The live charts of ``model`` so far, as PNG."""
    def make():
        fig = Figure(figsize=(6.4, 5.6), dpi=FIGURE_DPI)
        return fig, ChartsView(fig.subplots(2, 2))

    view, frames = _frames("charts", model, make)
    limits_changed = view.update(history(model))
    return frames.png(redraw_all=limits_changed)


def _image(render, model: ClassroomModel, name: str) -> None:
    # Drawn once per model and day, not on every re-render of the page.
    png = solara.use_memo(lambda: render(model), dependencies=[id(model), model.day])
    solara.Image(png, format="png", classes=[name])


@solara.component
def FrontPanel(model: ClassroomModel):
    """Who holds each cell, fortification, mines and the units (by side and contingent)."""
    update_counter.get()
    _image(front_png, model, "front-panel")


@solara.component
def ChartsPanel(model: ClassroomModel):
    """Personnel, killed, recruit pool and pipeline, and the loss exchange ratio."""
    update_counter.get()
    _image(charts_png, model, "charts-panel")


def describe(model: ClassroomModel) -> list[tuple[str, str]]:
    """The running model in words, as (label, value) rows: day and state, losses so far,
    the scenario, and each control's value."""
    status = "running" if model.running else f"stopped: {model.stop_reason}"
    hist = history(model)
    killed = hist["killed_total"][-1]
    ratio = loss_exchange_series(hist)[-1]
    rows = [("Day", f"{model.day} of at most {model.config.max_days} ({status})"),
            ("Killed so far", f"attacker {killed[0]:,.0f}, defender {killed[1]:,.0f}"),
            ("Loss exchange ratio", "n/a" if ratio != ratio else f"{ratio:.1f}"),
            ("Scenario", f"{model.base.name}: {model.base.description}")]
    values = control_values(model.config)
    rows += [(control.label, str(values[name]))
             for name, control in controls_for(model.config).items()]
    rows.append(("Seed", str(model.seed)))
    return rows


@solara.component
def ScenarioPanel(model: ClassroomModel):
    """What the running model was built with: changed controls show after Reset."""
    update_counter.get()
    # Plain HTML, not solara.Markdown: Markdown loads KaTeX from a CDN, which
    # solara-assets does not carry, and the page must work offline.
    rows = "".join(f"<tr><td>{html.escape(label)}</td><td><b>{html.escape(value)}</b></td></tr>"
                   for label, value in describe(model))
    solara.HTML(tag="table", unsafe_innerHTML=rows, classes=["scenario-now"])


@solara.component
def Page():
    base = solara.use_memo(base_scenario, [])
    model = solara.use_memo(lambda: ClassroomModel(base), [])
    SolaraViz(model, components=[FrontPanel, ChartsPanel, ScenarioPanel],
              model_params=model_params(base), name=f"attrition-sim: {base.name}",
              play_interval=150)
