"""The classroom wargame in a real browser: `attrition demo --class` on 127.0.0.1, a
teacher and four students (two per staff) in their own Chromium contexts (their own
cookies: their own browser sessions), and strangers with wrong and expired codes.

One test walks a class from the code to the debrief, as it happens in a room: the
steps depend on each other."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from tests.browser_helpers import CHROMIUM_ARGS, demo_server, ensure_chromium

PHONE = {"width": 390, "height": 844}
PROJECTOR = {"width": 1920, "height": 1080}


@pytest.fixture(scope="module")
def served():
    with demo_server("--class", ready="students join at: {url}") as (url, log):
        teacher = re.search(r"teacher's page \(keep this address to yourself\): (\S+)",
                            log.read_text()).group(1)
        yield url, teacher


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=ensure_chromium(),
                                              args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Person:
    """A browser of one person: a context of its own (its cookies), every request to a
    host other than 127.0.0.1 refused and listed (the class needs no internet)."""

    def __init__(self, browser, viewport):
        self.context = browser.new_context(viewport=viewport, accept_downloads=True)
        self.outside: list[str] = []
        self.context.route("**/*", self._only_local)
        self.page = self.context.new_page()

    def _only_local(self, route):
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.outside.append(route.request.url)
            route.abort()

    def reopen(self, url):
        """Close the page (the Wi-Fi drops) and open the address again, in the same
        browser."""
        self.page.close()
        self.page = self.context.new_page()
        self.page.goto(url)
        return self.page


def _join(page, url, code, name, side, pin=None):
    from playwright.sync_api import expect

    page.goto(url)
    page.get_by_label("Code (on the teacher's screen)").fill(code)
    page.get_by_label(re.compile("Your name")).fill(name)
    if pin is not None:
        page.get_by_label(re.compile("PIN")).fill(pin)
    page.get_by_role("button", name=side).click()
    page.locator("button.join").click()
    return expect(page.locator(".staff-title"))


def _refusal(page):
    return page.locator(".refused")


def test_a_class_joins_plays_reconnects_and_debriefs(served, browser, tmp_path):
    from playwright.sync_api import expect

    url, teacher_url = served
    # A student who finds the teacher's page without its key sees nothing to press.
    stranger = Person(browser, PHONE)
    stranger.page.goto(url + "teacher")
    expect(_refusal(stranger.page)).to_contain_text("This is the teacher's page")
    expect(stranger.page.locator("button")).to_have_count(0)

    teacher = Person(browser, PROJECTOR)
    t = teacher.page
    t.goto(teacher_url)
    t.locator("button.open").click()
    expect(t.locator(".code")).to_have_text(re.compile(r"^[A-Z2-9]{5}$"), timeout=30_000)
    code = t.locator(".code").inner_text().strip()

    # A wrong code is refused, in words, and joins no one.
    wrong = "".join(c for c in "ABCDEFGHJK" if c not in code)[:5]
    _join(stranger.page, url, wrong, "Mallory", "attacker").to_have_count(0)
    expect(_refusal(stranger.page)).to_have_text(
        "Refused: code: not this class's code; allowed: the code on the teacher's screen")

    students = {}
    for name, side, viewport in (("Ana", "attacker", PHONE), ("Ben", "attacker", PROJECTOR),
                                 ("Cai", "defender", PHONE), ("Dee", "defender", PHONE)):
        person = Person(browser, viewport)
        _join(person.page, url, code, name, side).to_contain_text(
            "Attacker's staff" if side == "attacker" else "Defender's staff")
        students[name] = person
    expect(t.locator(".board")).to_contain_text("Ana, Ben")
    expect(t.locator(".board")).to_contain_text("Cai, Dee")
    ana, ben, cai, dee = (students[n].page for n in ("Ana", "Ben", "Cai", "Dee"))
    expect(ana.locator(".status")).to_contain_text("Waiting for the teacher to start")

    t.locator("button.start").click()
    expect(ana.locator("button.submit")).to_have_text(re.compile("Submit orders for turn 1",
                                                                 re.I))
    # Ana pulls the conscripts out of the line and submits for her staff; Ben sees it.
    ana.locator(".orders-conscripts").get_by_text("Withdraw it from the line").click()
    ana.locator("button.submit").click()
    expect(ben.locator(".status")).to_contain_text("orders submitted by Ana")
    expect(t.locator(".board")).to_contain_text("submitted")
    # She cannot reach the other staff's orders by its address.
    ana.goto(url + "?game=1&side=defender")
    expect(_refusal(ana)).to_contain_text("Refused: you are on the attacker's staff of game 1")
    expect(ana.locator("button.submit")).to_have_count(0)
    ana.goto(url)

    # The defenders raise their recruits' training; the turn resolves for everyone.
    cai.locator(".orders-volunteers").get_by_text("Withdraw it from the line").click()
    cai.locator("button.submit").click()
    for page in (ana, ben, cai, dee):
        expect(page.locator(".status")).to_contain_text("Turn 2 (7 days): give your orders")
    expect(t.locator(".board")).to_contain_text("thinking")

    # Dee's Wi-Fi drops: she opens the page again and her staff is as it was.
    dee = students["Dee"].reopen(url)
    expect(dee.locator(".staff-title")).to_contain_text("Defender's staff")
    expect(dee.locator(".status")).to_contain_text("Turn 2")
    expect(dee.locator(".orders-volunteers input[type=checkbox]")).to_be_checked()
    # Someone else types Cai's name, on Cai's staff: without Cai's PIN, refused (a name on
    # the board is not enough to act for its student).
    _join(stranger.page, url, code, "Cai", "defender").to_have_count(0)
    expect(_refusal(stranger.page)).to_contain_text("Refused: name: Cai is taken on this "
                                                    "staff")
    # Ben comes back from another device: the same name and staff, with the PIN his page
    # shows, find his seat.
    pin = re.search(r"PIN, to take your seat back from another device: (\d{4})",
                    ben.locator(".you").inner_text()).group(1)
    phone = Person(browser, PHONE)
    _join(phone.page, url, code, "Ben", "attacker", pin).to_contain_text("Attacker's staff")
    expect(t.locator(".board")).to_contain_text("Ben (2 browsers)")
    expect(phone.page.locator(".status")).to_contain_text("Turn 2")
    expect(phone.page.locator(".orders-conscripts input[type=checkbox]")).to_be_checked()

    # A pause keeps what a staff has set and not yet submitted.
    dee.locator(".orders-mobilised").get_by_text("Withdraw it from the line").click()
    t.locator("button.pause").click()
    expect(dee.locator(".status")).to_contain_text("Paused by the teacher")
    expect(dee.locator("button.submit")).to_be_disabled()
    t.locator("button.resume").click()
    expect(dee.locator(".status")).to_contain_text("Turn 2")
    expect(dee.locator(".orders-mobilised input[type=checkbox]")).to_be_checked()

    # Turn 2: only the attackers submit; the teacher ends the turn with the defenders'
    # standing orders.
    ben.locator("button.submit").click()
    expect(t.locator(".board")).to_contain_text("submitted")
    t.locator("button.advance").click()
    for page in (ana, cai, dee):
        expect(page.locator(".status")).to_contain_text("Turn 3")

    # The teacher reveals the true numbers, then ends the game: the debrief.
    t.locator("button.reveal").click()
    expect(cai.locator(".numbers")).to_contain_text("true numbers, revealed")
    t.locator("button.end").click()
    debrief = t.locator(".debrief-game-1")
    expect(debrief.locator(".verdict")).to_contain_text("Game 1:")
    expect(debrief.locator("img")).to_be_visible()
    timeline = debrief.locator(".timeline")
    expect(timeline).to_contain_text("Attacker's staff")
    expect(timeline).to_contain_text("Defender's staff")
    expect(timeline).to_contain_text("conscripts: withdrawn no -> yes")
    expect(timeline).to_contain_text("volunteers: withdrawn no -> yes")
    t.screenshot(path=str(_artifact("wargame_debrief.png")), full_page=True)
    with t.expect_download() as download:
        debrief.get_by_role("button", name=re.compile("Export game 1")).click()
    exported = tmp_path / "game1.toml"
    download.value.save_as(exported)
    _replays(exported)
    expect(ana.locator(".status")).to_contain_text("The teacher has ended the game")

    # The code expired with the game.
    late = Person(browser, PHONE)
    _join(late.page, url, code, "Late", "defender").to_have_count(0)
    expect(_refusal(late.page)).to_contain_text("Refused: code: that game has ended")

    everyone = [stranger, teacher, phone, late, *students.values()]
    assert [u for p in everyone for u in p.outside] == []


def _replays(path):
    """The download is a theatre with the game's two decisions, which attrition run
    replays (number for number: tests/test_wargame.py)."""
    from sim.theatre import files

    scenario = files.load(path)
    assert [sorted(c.assign) for c in scenario.changes] == [
        ["attacker.contingents.conscripts.withdrawn"],
        ["defender.contingents.volunteers.withdrawn"]]
    assert scenario.max_days == 14


def _artifact(name):
    from pathlib import Path

    folder = Path(__file__).parent / "artifacts"
    folder.mkdir(exist_ok=True)
    return folder / name
