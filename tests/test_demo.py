"""The classroom page: its controls, its drawing, `attrition demo`, and the page itself in
a real Chromium with nothing reachable but 127.0.0.1."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import pytest
from browser_helpers import CHROMIUM_ARGS, demo_server, ensure_chromium

from sim import scenarios
from sim.classroom import (
    CONTROLS,
    MIXED,
    ClassroomModel,
    apply_controls,
    control_values,
    controls_for,
)


# ------------------------------------------------------------------ controls
def test_controls_left_alone_keep_the_scenario_exactly():
    base = scenarios.load("recruit_pool_exhaustion")
    assert apply_controls(base, **control_values(base)) == base
    assert apply_controls(base) == base


def test_each_control_sets_its_keys_for_every_group_and_contingent():
    base = scenarios.load("recruit_pool_exhaustion")
    changed = apply_controls(base, tactic="infiltration", attacker_training_days=200,
                             fortification_level=0.1, defender_drones=80,
                             recruits_per_day=40, recruit_training_days=150)
    assert {g.tactic for g in changed.attacker.units} == {"infiltration"}
    assert {g.training_days for g in changed.attacker.units} == {200}
    assert changed.sector.fortification_level == 0.1
    assert changed.defender.drones == 80
    mobilised = changed.attacker.contingents["mobilised"]
    assert (mobilised.recruits_per_day, mobilised.training_days) == (40, 150)
    # The defender's own pipeline is not the class's recruitment control.
    assert changed.defender.contingents == base.defender.contingents
    assert control_values(changed) == {
        "tactic": "infiltration", "attacker_training_days": 200, "fortification_level": 0.1,
        "defender_drones": 80, "recruits_per_day": 40, "recruit_training_days": 150}


def test_mixed_groups_stay_mixed_until_the_tactic_is_chosen():
    base = scenarios.load("human_wave_foreign_contingent")
    assert control_values(base)["tactic"] == MIXED
    assert apply_controls(base, tactic=MIXED, fortification_level=0.3).attacker.units == \
        base.attacker.units
    assert {g.tactic for g in apply_controls(base, tactic="human_wave").attacker.units} == \
        {"human_wave"}


def test_recruitment_controls_only_where_the_attacker_recruits():
    assert "recruits_per_day" in controls_for(scenarios.load("recruit_pool_exhaustion"))
    no_pool = scenarios.load("fortified_defense")
    assert set(controls_for(no_pool)) == set(CONTROLS) - {"recruits_per_day",
                                                           "recruit_training_days"}
    # Set anyway (a notebook can), it changes nothing rather than inventing a pool.
    assert apply_controls(no_pool, recruits_per_day=50) == no_pool


def test_bad_control_values_are_one_line_errors():
    base = scenarios.load("recruit_pool_exhaustion")
    with pytest.raises(ValueError, match=r"unknown control tactics; allowed: tactic"):
        apply_controls(base, tactics="human_wave")
    with pytest.raises(ValueError, match=r"fortification_level.*less than or equal to 1"):
        apply_controls(base, fortification_level=1.5)


def test_classroom_model_is_the_scenario_with_controls_and_seed():
    base = scenarios.load("recruit_pool_exhaustion")
    model = ClassroomModel(base, defender_drones=0, seed=4)
    model.step()
    twin = ClassroomModel(base, defender_drones=0, seed=4)
    twin.step()
    other = ClassroomModel(base, defender_drones=0, seed=5)
    other.step()
    assert model.config.defender.drones == 0
    assert model.config.sector == base.sector
    pd.testing.assert_frame_equal(model.daily_records(), twin.daily_records())
    assert not model.daily_records().equals(other.daily_records())


# ------------------------------------------------------------------- drawing
def test_page_parts_draw_and_follow_the_model():
    from sim import app

    model = ClassroomModel(scenarios.load("recruit_pool_exhaustion"))
    params = app.model_params(model.base)
    assert params["base"] is model.base
    assert params["tactic"]["values"][1:] == ["human_wave", "infiltration", "mine_clearance"]
    assert params["fortification_level"]["type"] == "SliderFloat"
    assert params["defender_drones"] == {"type": "SliderInt", "value": 25, "min": 0,
                                         "max": 200, "step": 5,
                                         "label": "Defender drones over the sector"}
    first_front, first_charts = app.front_png(model), app.charts_png(model)
    assert first_front[:4] == b"\x89PNG" and first_charts[:4] == b"\x89PNG"
    for _ in range(3):
        model.step()
    assert app.charts_png(model) != first_charts
    assert app.front_png(model) != first_front
    rows = dict(app.describe(model))
    assert rows["Day"].startswith("3 of at most 730")
    assert rows["Attacker tactic"] == "human_wave" and rows["Seed"] == "0"


@pytest.mark.parametrize("name", sorted(scenarios.available()))
def test_every_shipped_scenario_opens_on_the_page(name):
    """The page's controls start at each scenario's own values (so that Reset without a
    change rebuilds the same scenario), and its panels draw."""
    from sim import app

    base = scenarios.load(name)
    params = app.model_params(base)
    values = {k: v["value"] for k, v in params.items() if isinstance(v, dict)}
    model = ClassroomModel(base, **values)
    assert model.config == base
    for control in params.values():
        if isinstance(control, dict) and "min" in control:
            assert control["min"] <= control["value"] <= control["max"]
    model.step()
    assert app.front_png(model)[:4] == app.charts_png(model)[:4] == b"\x89PNG"


@pytest.mark.parametrize("panel", ["front_png", "charts_png"])
def test_blitted_frame_equals_a_full_drawing(panel):
    """Drawing only what changes over the saved background (a model drawn on day 0,
    then stepped) gives the same pixels as drawing the whole figure afresh for a twin
    model that was never drawn before day 5; and they differ from day 0's picture."""
    import io

    from PIL import Image

    from sim import app

    def pixels(png):
        return np.asarray(Image.open(io.BytesIO(png)))

    draw = getattr(app, panel)
    base = scenarios.load("recruit_pool_exhaustion")
    model, twin = ClassroomModel(base), ClassroomModel(base)
    first = draw(model)
    for _ in range(5):
        model.step()
        twin.step()
    blitted, full = draw(model), draw(twin)
    np.testing.assert_array_equal(pixels(blitted), pixels(full))
    assert not np.array_equal(pixels(blitted), pixels(first))


# ---------------------------------------------------------------------- CLI
def _demo_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", "demo", *args], capture_output=True,
                          text=True, timeout=60)


def test_demo_with_unknown_scenario_is_one_line():
    done = _demo_cli("no_such_scenario")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "no_such_scenario" in done.stderr and "allowed" in done.stderr


def test_demo_port_out_of_range_is_one_line():
    done = _demo_cli("--port", "70000")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1
    assert "--port: 70000 is too large; allowed: 0 to 65535" in done.stderr


def test_demo_on_a_port_in_use_is_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _demo_cli("--port", str(port))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"--port {port}: cannot listen on 127.0.0.1:{port}" in done.stderr


# ------------------------------------------------------------------ browser
@pytest.mark.slow
def test_page_in_chromium_offline_step_and_reset():
    """The page served by `attrition demo` loads with every request on 127.0.0.1 (any
    other is blocked and recorded) and none failing; Step advances the counters and
    changes the charts; Play runs on until paused; changed controls take effect on
    Reset, not before."""
    from playwright.sync_api import expect, sync_playwright

    chromium = ensure_chromium()
    with demo_server() as (url, _log), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
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
            page.on("response", lambda r: r.status >= 400 and failed.append(
                f"{r.url} {r.status}"))
            page.goto(url)

            def row(label: str):
                first_cell = page.locator("td:first-child",
                                          has_text=re.compile(f"^{re.escape(label)}$"))
                return page.locator("table.scenario-now tr").filter(has=first_cell)

            day = row("Day")
            expect(day).to_contain_text("0 of at most 730", timeout=60_000)
            charts = page.locator("img.charts-panel")
            before = charts.get_attribute("src")

            page.get_by_role("button", name="Step").click()
            expect(day).to_contain_text("1 of at most 730")
            # Mesa's own counter: "Step: 1" in Mesa 3.3, "Time: 1.0" in Mesa 3.5.
            expect(page.get_by_text(re.compile(r"^(Step|Time): 1(\.0)?$"))).to_be_visible()
            expect(charts).not_to_have_attribute("src", before)

            # Play runs on by itself (days 2, 3, ...) until paused.
            page.get_by_role("button", name="▶").click()
            expect(day).to_contain_text(re.compile(r"^Day\s*([3-9]|\d\d+) of at most 730"))
            page.get_by_role("button", name="❚❚").click()
            expect(page.get_by_role("button", name="Step")).to_be_enabled()

            page.locator(".v-select").filter(has_text="Attacker tactic").click()
            page.get_by_role("option", name="infiltration").click()
            slider = page.get_by_role("slider", name="Fortification level (0-1)")
            slider.focus()
            slider.press("Home")
            expect(slider).to_have_attribute("aria-valuenow", "0")
            # Controls are read on Reset: the running model has not changed.
            expect(row("Attacker tactic")).to_contain_text("human_wave")
            expect(row("Fortification level (0-1)")).to_contain_text("0.6")

            page.get_by_role("button", name="Reset").click()
            expect(row("Attacker tactic")).to_contain_text("infiltration")
            expect(row("Fortification level (0-1)")).to_contain_text("0.0")
            expect(day).to_contain_text("0 of at most 730")
            page.get_by_role("button", name="Step").click()
            expect(day).to_contain_text("1 of at most 730")
        finally:
            browser.close()
    assert outside == [], f"requests to outside hosts: {outside}"
    assert failed == [], f"failed requests: {failed}"
