"""The classroom wargame's pages (``attrition demo --class``): the students' page, where a
student joins a staff with the class's code and gives its orders each turn, and the
teacher's page, for the projector, with the code, the controls and the debrief.

A thin layer over :class:`sim.wargame.Classroom`, one per server, shared by every
browser: each page watches the class's version (:meth:`Classroom.wait`, in a thread of
its own) and draws again when it changes. A student is known by their browser session
(Solara's session cookie): a page reloaded, or a Wi-Fi connection dropped and made
again, finds its seat and its staff's orders as they were. The teacher's page needs the
key the launcher printed; nothing a student sends is evaluated, and every name is shown
as text.

The theatre, the teacher's key and the seed come in through the environment
(:data:`THEATRE_ENV`, :data:`KEY_ENV`, :data:`SEED_ENV`); the address students use
through :data:`ADDRESS_ENV`.
"""

from __future__ import annotations

import functools
import html
import io
import math
import os
import threading
import urllib.parse

import solara
from matplotlib.figure import Figure

from sim import wargame
from sim.sides import SIDES
from sim.views import SIDE_COLOURS
from sim.wargame import (
    MAX_GAMES,
    MAX_NAME_CHARS,
    MAX_TURN_DAYS,
    TEAM_NAMES,
    Classroom,
    ContingentOrders,
    Orders,
    Refused,
)

THEATRE_ENV = "ATTRITION_CLASS_THEATRE"
KEY_ENV = "ATTRITION_CLASS_KEY"
SEED_ENV = "ATTRITION_CLASS_SEED"
ADDRESS_ENV = "ATTRITION_CLASS_ADDRESS"
#: An estimate of the enemy is within this factor of the truth 95 times in 100.
SPREAD_95 = math.exp(1.96 * wargame.ESTIMATE_ERROR)
#: Seconds a page waits for the class to change before it looks again.
WATCH_S = 1.0

CSS = """
.wg { font-size: 18px; color: #111; padding: 8px; max-width: 760px; margin: 0 auto; }
.wg h1 { font-size: 26px; margin: 4px 0; }
.wg h2 { font-size: 21px; margin: 10px 0 4px; }
.wg table { border-collapse: collapse; width: 100%; }
.wg td, .wg th { padding: 2px 6px; text-align: right; border-bottom: 1px solid #ddd; }
.wg td:first-child, .wg th:first-child { text-align: left; }
.wg .refused { color: #A00; font-weight: 700; }
.wg .verdict { font-weight: 700; margin: 4px 0; }
.wg .status { background: #EEF; padding: 6px 10px; border-radius: 6px; margin: 6px 0;
  position: sticky; top: 0; z-index: 5; }  /* the turn stays in sight while scrolling */
.wg .card { border: 1px solid #bbb; border-radius: 8px; padding: 6px 10px; margin: 6px 0; }
.wg .slider-label { margin-top: 6px; }
.wg .v-btn, .wgt .v-btn { text-transform: none !important; }  /* a command is typed as shown */
.wgt .turn-length { min-width: 420px; }
.wg .attacker { color: #D55E00; }
.wg .defender { color: #0072B2; }
.wgt { font-size: 22px; color: #111; padding: 12px 20px; }
.wgt .code { font-size: 110px; font-weight: 800; letter-spacing: 12px; line-height: 1; }
.wgt .join-at { font-size: 30px; }
.wgt table { border-collapse: collapse; }
.wgt td, .wgt th { padding: 4px 12px; border-bottom: 1px solid #ccc; text-align: left; }
.wgt .verdict { font-size: 24px; font-weight: 700; }
"""

_room: Classroom | None = None
_room_lock = threading.Lock()


def classroom() -> Classroom:
    """The server's class, made on first use from the environment."""
    global _room
    with _room_lock:
        if _room is None:
            from sim.theatre import files

            theatre = files.load(os.environ.get(THEATRE_ENV, wargame.CLASS_THEATRE))
            _room = Classroom(theatre, seed=int(os.environ.get(SEED_ENV, "0")),
                              teacher_key=os.environ.get(KEY_ENV) or None)
        return _room


def use_version(room: Classroom) -> int:
    """The class's version, drawing the component again when it changes."""
    version, set_version = solara.use_state(room.version)

    def watch(cancel: threading.Event) -> None:
        while not cancel.is_set():
            now = room.wait(version, WATCH_S)
            if now != version:
                set_version(now)
                return

    solara.use_thread(watch, dependencies=[version], intrusive_cancel=False)
    return version


def _query() -> dict[str, str]:
    router = solara.use_router()
    return {k: v[0] for k, v in urllib.parse.parse_qs(router.search or "").items()}


def _n(value: float) -> str:
    return f"{value:,.0f}"


# ------------------------------------------------------------------ students
@solara.component
def StudentPage():
    solara.Style(CSS)
    solara.Title("attrition-sim: the class's wargame")
    room = classroom()
    version = use_version(room)
    session = solara.get_session_id()
    seat = room.seat(session)
    query = _query()
    with solara.Column(classes=["wg"]):
        if seat is None:
            JoinForm(room, session, version)
            return
        if "side" in query or "game" in query:
            asked = (query.get("game", str(seat.game)), query.get("side", seat.side))
            if asked != (str(seat.game), seat.side):
                solara.HTML(tag="div", unsafe_innerHTML=(
                    "<p class='refused'>Refused: you are on the "
                    f"{seat.side}'s staff of game {seat.game}; you cannot see or give "
                    "another staff's orders.</p>"), classes=["refused-other"])
                return
        StaffView(room, session, seat, version)


@solara.component
def JoinForm(room: Classroom, session: str, version: int):
    code, set_code = solara.use_state("")
    name, set_name = solara.use_state("")
    game, set_game = solara.use_state(1)
    side, set_side = solara.use_state("attacker")
    pin, set_pin = solara.use_state("")
    error, set_error = solara.use_state("")

    def join():
        try:
            room.join(session, code, name, int(game), side, pin=pin.strip() or None)
            set_error("")
        except Refused as err:
            set_error(str(err))

    solara.HTML(tag="h1", unsafe_innerHTML="Join the class's wargame")
    solara.InputText("Code (on the teacher's screen)", value=code, on_value=set_code,
                     continuous_update=True)
    solara.InputText(f"Your name (up to {MAX_NAME_CHARS} characters)", value=name,
                     on_value=set_name, continuous_update=True)
    if len(room.games) > 1:
        solara.Select("Game", values=list(range(1, len(room.games) + 1)), value=game,
                      on_value=set_game)
    solara.ToggleButtonsSingle(value=side, on_value=set_side,
                               values=list(SIDES))
    solara.InputText("PIN (only to take a seat back)", value=pin,
                     on_value=set_pin, continuous_update=True)
    solara.Button("Join", on_click=join, color="primary", classes=["join"])
    if error:
        solara.Text(f"Refused: {error}", classes=["refused"])


@solara.component
def StaffView(room: Classroom, session: str, seat: wargame.Seat, version: int):
    with room.lock:  # never half-way through a turn
        _staff_view(room, session, seat, version)


def _staff_view(room: Classroom, session: str, seat: wargame.Seat, version: int):
    game = room.games[seat.game - 1]
    side = seat.side
    team = TEAM_NAMES[side]
    others = [m for m in room.members(seat.game, side) if m != seat.name]
    solara.HTML(tag="h1", unsafe_innerHTML=f"<span class='{side}'>{team}</span>, game "
                                           f"{seat.game}", classes=["staff-title"])
    solara.Text(f"You: {seat.name}" + (f"; with {', '.join(others)}" if others else "")
                + f". Your PIN, to take your seat back from another device: {seat.pin}",
                classes=["you"])
    report = game.reports[side][-1]
    date = report["date"].strftime("%d %B %Y")
    if game.over:
        status = (f"The game is over (day {game.model.day}). "
                  f"{game.outcome(pools=room.revealed)}")
    elif room.phase == "joining":
        status = "Waiting for the teacher to start."
    elif room.phase == "paused":
        status = "Paused by the teacher."
    elif room.phase == "ended":
        status = f"The teacher has ended the game. {game.outcome(pools=room.revealed)}"
    elif game.submitted[side]:
        status = (f"Turn {game.turn}: orders submitted by {game.submitted[side]}; waiting "
                  f"for the other staff or the teacher.")
    else:
        status = f"Turn {game.turn} ({room.turn_days} days): give your orders."
    solara.Text(f"Day {report['day']} ({date}). {status}", classes=["status"])
    if game.broken_on() and not game.over:  # a front that breaks is seen by both sides
        solara.Text(game.outcome(pools=room.revealed), classes=["verdict"])
    Numbers(room, game, side, room.revealed, version)
    if room.phase in ("running", "paused") and not game.over:
        # Kept while paused: a staff's unsubmitted changes wait with it.
        OrdersForm(room, session, game, side, version)


@solara.component
def Numbers(room: Classroom, game: wargame.Game, side: str, revealed: bool, version: int):
    """The staff's own numbers, exact, and the enemy's, estimated (or true once the
    teacher reveals them), with the change over the last turn."""
    with room.lock:
        _numbers(game, side, revealed)


def _numbers(game: wargame.Game, side: str, revealed: bool):
    enemy = SIDES[1 - SIDES.index(side)]
    reports = game.reports[side]
    now, before = reports[-1], reports[max(0, len(reports) - 2)]

    def row(label, value, was):
        change = f" ({value - was:+,.0f})" if len(reports) > 1 else ""
        return f"<tr><td>{label}</td><td>{_n(value)}{change}</td></tr>"

    def estimate(label, value, was):
        if revealed:
            return row(label, value, was)
        # Two estimates differ by their errors as much as by the change: no difference
        # is shown, but the range a 95% error spans.
        low, high = (round(value * f, -2) for f in (1 / SPREAD_95, SPREAD_95))
        return (f"<tr><td>{label}</td><td>about {_n(value)}<br><small>(likely {_n(low)} "
                f"to {_n(high)})</small></td></tr>")

    share = float(game.manning()[side].iloc[-1])
    days = game.days_below(side)
    warn = ("" if share >= wargame.BROKEN_LINE else
            f"<br><small class='refused'>broken: below {wargame.BROKEN_LINE:.0%} for {days} "
            f"days running</small>" if days >= wargame.BROKEN_DAYS else
            f"<br><small class='refused'>below {wargame.BROKEN_LINE:.0%} for {days} of the "
            f"{wargame.BROKEN_DAYS} days running that break it</small>")
    manned = f"<tr><td>Your line, of its targets</td><td>{share:.0%}{warn}</td></tr>"
    own = [(label, now["own"][k], before["own"][k]) for k, label in (
        ("in_line", "In the line"), ("killed", "Killed"), ("wounded", "Wounded"),
        ("in_rear", "Resting in the rear"), ("pool", "Recruit pool left"),
        ("in_training", "In training"), ("reserve", "Trained, waiting"))]
    seen = "enemy_true" if revealed else "enemy_estimate"
    theirs = [(label, now[seen][k], before[seen][k]) for k, label in (
        ("in_line", "In the line"), ("killed", "Killed"), ("wounded", "Wounded"))]
    solara.HTML(tag="div", classes=["numbers"], unsafe_innerHTML=(
        f"<div class='card'><h2 class='{side}'>Your side (exact)</h2><table>" + manned
        + "".join(row(*r) for r in own) + "</table></div>"
        f"<div class='card'><h2 class='{enemy}'>The enemy "
        f"({'true numbers, revealed' if revealed else 'estimated'})</h2><table>"
        + "".join(estimate(*r) for r in theirs) + "</table></div>"))


def _label(name: str, value: str) -> str:
    return f"{name}: {value}"


def _slider(kind, label: str, **slider) -> None:
    """A slider the width of the card, its label and value on a line above it (beside
    it, a long label left a phone's slider no width at all)."""
    solara.Text(label, classes=["slider-label"])
    kind(label="", **slider)


#: Tactics as words (a Select shows its values).
TACTIC_WORDS = {t: t.replace("_", " ").replace("defense", "defence") for t in
                ("human_wave", "infiltration", "mine_clearance", "fortified_defense",
                 "elastic_defense")}
_TACTIC_OF = {words: tactic for tactic, words in TACTIC_WORDS.items()}


@solara.component
def OrdersForm(room: Classroom, session: str, game: wargame.Game, side: str, version: int):
    with room.lock:
        shown = game.pending.get(side, game.orders[side])
        submitted_by, turn = game.submitted[side], game.turn
    limits = game.limits[side]
    # The draft starts again from the staff's orders at each turn and each submission
    # (its own or a teammate's).
    key = (turn, submitted_by, shown.model_dump_json())
    draft = solara.use_reactive(shown.model_dump())
    error, set_error = solara.use_state("")
    solara.use_effect(lambda: draft.set(shown.model_dump()), [key])
    data = draft.value
    # Disabled once submitted; while paused, kept as it is but not to be submitted.
    submitted = submitted_by is not None
    paused = room.phase == "paused"

    def setter(*path):
        def set_value(value):
            new = {**data, "contingents": {k: dict(v) for k, v in data["contingents"].items()}}
            node = new
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = value
            if path[-1] == "training_days":  # shortened training is never the longer
                node["shortened_training_days"] = min(node["shortened_training_days"], value)
            draft.set(new)
        return set_value

    def submit():
        try:
            room.submit(session, game.number, side, Orders.model_validate(data), turn)
            set_error("")
        except (Refused, ValueError) as err:
            set_error(str(err).splitlines()[0])

    def change():
        try:
            room.withdraw_submission(session, game.number, side)
        except Refused as err:
            set_error(str(err))

    solara.HTML(tag="h2", unsafe_innerHTML=f"Orders for turn {turn}")
    for name, orders in data["contingents"].items():
        base = getattr(game.base, side).contingents[name]
        with solara.Column(classes=["card", f"orders-{name}"]):
            solara.HTML(tag="b", unsafe_innerHTML=_escape(name))
            r = limits.recruits_per_day[name]
            if r.high > r.low:
                what = ("Recruits a day, at most (drafting what losses leave short)"
                        if base.recruitment == "replacement" else "Recruits a day")
                _slider(solara.SliderFloat, _label(what, _n(orders["recruits_per_day"])),
                                   value=orders["recruits_per_day"], min=r.low, max=r.high,
                                   step=r.step, on_value=setter("contingents", name,
                                                                "recruits_per_day"),
                                   disabled=submitted)
            else:
                solara.Text(f"Recruits a day: {_n(r.low)} (no pool to recruit from: it "
                            f"cannot change)")
            bonus = limits.bonus[name]
            if bonus is not None:
                _slider(solara.SliderFloat, _label("Signing bonus (x usual)",
                                          f"{orders['bonus']:.1f}"),
                                   value=orders["bonus"], min=bonus.low, max=bonus.high,
                                   step=bonus.step, on_value=setter("contingents", name,
                                                                    "bonus"),
                                   disabled=submitted)
            days = limits.training_days[name]
            _slider(solara.SliderInt, _label("Training (days)", str(orders["training_days"])),
                             value=orders["training_days"], min=int(days.low),
                             max=int(days.high), on_value=setter("contingents", name,
                                                                 "training_days"),
                             disabled=submitted)
            shortened = min(orders["shortened_training_days"], orders["training_days"])
            _slider(solara.SliderInt, _label("Shortened training (days)", str(shortened)),
                             value=shortened, min=int(days.low),
                             max=max(int(days.low), orders["training_days"]),
                             on_value=setter("contingents", name, "shortened_training_days"),
                             disabled=submitted)
            below = orders["shorten_below_strength"]
            _slider(solara.SliderFloat, _label("...when the line is below",
                                      "never" if below == 0 else f"{below:.0%}"),
                               value=below, min=0.0, max=1.0, step=0.05,
                               on_value=setter("contingents", name, "shorten_below_strength"),
                               disabled=submitted)
            set_tactic = setter("contingents", name, "tactic")
            solara.Select("Tactic of its battalions",
                          values=[TACTIC_WORDS.get(x, x) for x in limits.tactics],
                          value=TACTIC_WORDS.get(orders["tactic"], orders["tactic"]),
                          on_value=lambda words, set_tactic=set_tactic: set_tactic(
                              _TACTIC_OF.get(words, words)),
                          disabled=submitted)
            size = limits.unit_size[name]
            _slider(solara.SliderInt, _label("Battalion size (persons)", _n(orders["unit_size"])),
                             value=orders["unit_size"], min=int(size.low), max=int(size.high),
                             step=int(size.step),
                             on_value=setter("contingents", name, "unit_size"),
                             disabled=submitted)
            solara.Checkbox(label="Withdraw it from the line (rest and refill)",
                            value=orders["withdrawn"],
                            on_value=setter("contingents", name, "withdrawn"),
                            disabled=submitted)
    with solara.Column(classes=["card", "orders-side"]):
        kinds = {f"{s.name} ({s.kind})": s.name for s in game.base.sectors}
        shown_as = {name: words for words, name in kinds.items()}
        solara.Select("Priority sector (filled first)", values=["none", *kinds],
                      value=shown_as.get(data["priority"], "none"),
                      on_value=lambda v: setter("priority")(kinds.get(v)),
                      disabled=submitted)
        _slider(solara.SliderFloat, _label("Rotate battalions out below",
                                  f"{data['rotate_below_strength']:.0%}"),
                           value=data["rotate_below_strength"],
                           min=limits.rotate_below_strength.low,
                           max=limits.rotate_below_strength.high, step=0.05,
                           on_value=setter("rotate_below_strength"), disabled=submitted)
        _slider(solara.SliderFloat, _label("Tempo of operations (x usual)",
                                  f"{data['intensity']:.2f}"),
                           value=data["intensity"], min=limits.intensity.low,
                           max=limits.intensity.high, step=limits.intensity.step,
                           on_value=setter("intensity"), disabled=submitted)
    if submitted:
        solara.Button("Change the orders", on_click=change, classes=["change"],
                      disabled=paused)
    else:
        solara.Button(f"Submit orders for turn {turn}", on_click=submit,
                      color="primary", classes=["submit"], disabled=paused)
    if error:
        solara.Text(f"Refused: {error}", classes=["refused"])


def _escape(text: str) -> str:
    return html.escape(str(text), quote=True)


# ------------------------------------------------------------------- teacher
@solara.component
def TeacherPage():
    solara.Style(CSS)
    solara.Title("attrition-sim: the class's wargame (teacher)")
    room = classroom()
    version = use_version(room)
    if not room.is_teacher(_query().get("key")):
        with solara.Column(classes=["wgt"]):
            solara.Text("This is the teacher's page: open it at the address the terminal "
                        "printed (it holds the teacher's key).", classes=["refused"])
        return
    with solara.Column(classes=["wgt"]):
        Setup(room, version)
        if room.phase in ("joining", "running", "paused"):
            Board(room, version)
        if room.games and room.phase != "closed":
            Debrief(room, version)


@solara.component
def Setup(room: Classroom, version: int):
    games, set_games = solara.use_state(1)
    error, set_error = solara.use_state("")

    def act(action):
        def run():
            try:
                action()
                set_error("")
            except Refused as err:
                set_error(str(err))
        return run

    confirming, set_confirming = solara.use_state(False)

    def open_class():
        set_confirming(False)
        act(lambda: room.open(games, room.turn_days))()

    with solara.Row(classes=["controls"]):
        if room.phase in ("closed", "ended"):
            solara.SliderInt(f"Games (one per pair of staffs): {games}", value=games,
                             min=1, max=MAX_GAMES, on_value=set_games)
            if room.phase == "closed":
                solara.Button("Open the class", on_click=open_class, color="primary",
                              classes=["open"])
            elif not confirming:
                solara.Button("Open a new class", on_click=lambda: set_confirming(True),
                              color="primary", classes=["open"])
            else:  # the games go with it: a second press, once the exports are saved
                solara.Text("This class's games will be gone: export them first.",
                            classes=["refused"])
                solara.Button("Open a new class now", on_click=open_class, color="error",
                              classes=["open-confirmed"])
                solara.Button("Keep this class", on_click=lambda: set_confirming(False),
                              classes=["keep"])
        if room.phase == "joining":
            solara.Button("Start", on_click=act(room.start), color="primary",
                          classes=["start"])
        if room.phase == "running":
            solara.Button("Pause", on_click=act(room.pause), classes=["pause"])
            solara.Button("End the turn now" if len(room.games) == 1
                          else "End the turn of the games behind",
                          on_click=act(room.advance), classes=["advance"])
        if room.phase == "paused":
            solara.Button("Resume", on_click=act(room.start), color="primary",
                          classes=["resume"])
        if room.phase in ("joining", "running", "paused"):
            with solara.Column(classes=["turn-length"]):
                _slider(solara.SliderInt, f"Turn: {room.turn_days} days",
                        value=room.turn_days, min=1, max=MAX_TURN_DAYS,
                        on_value=act_value(room.set_turn_days, set_error))
        if room.phase != "closed":
            solara.Button("Hide the true numbers" if room.revealed
                          else "Reveal the true numbers",
                          on_click=act(lambda: room.reveal(not room.revealed)),
                          classes=["reveal"])
        if room.phase in ("joining", "running", "paused"):
            solara.Button("End the game: debrief", on_click=act(room.end), color="error",
                          classes=["end"])
    if error:
        solara.Text(f"Refused: {error}", classes=["refused"])


def act_value(action, set_error):
    def run(value):
        try:
            action(value)
            set_error("")
        except Refused as err:
            set_error(str(err))
    return run


@solara.component
def Board(room: Classroom, version: int):
    address = os.environ.get(ADDRESS_ENV, "this page's address, without /teacher")
    with room.lock:  # never half-way through a turn
        code, phase, students = room.code or "", room.phase, room.students()
        rows = [_board_row(room, game) for game in room.games]
    with solara.Row():
        with solara.Column():
            solara.Text("Join code", classes=["join-at"])
            solara.Text(code, classes=["code"])
        with solara.Column():
            solara.Text(f"Join at {address}", classes=["join-at"])
            solara.Text(f"Class: {phase}. {len(students)} "
                        f"student{'' if len(students) == 1 else 's'}.")
    solara.HTML(tag="div", classes=["board"], unsafe_innerHTML=(
        "<table><tr><th>game</th><th>turn</th><th class='attacker'>attacker's staff</th>"
        "<th>orders</th><th>line</th><th class='defender'>defender's staff</th>"
        "<th>orders</th><th>line</th></tr>" + "".join(rows) + "</table>"))
    RemoveStudent(room, students, version)


def _board_row(room: Classroom, game: wargame.Game) -> str:
    broken = game.broken_on()
    # A broken line is public (both staffs' pages say so): the board says it too.
    state = ("over" if game.over else f"{game.turn}") + f" (day {game.model.day})" + "".join(
        f"<br><b class='{side}'>{side} broke</b>" for side in SIDES if side in broken)
    cells = [f"<td>{game.number}</td><td>{state}</td>"]
    manning = game.manning().iloc[-1]
    for side in SIDES:
        seats = [s for s in room.students() if (s.game, s.side) == (game.number, side)]
        # A seat held from more than one browser is marked: a teacher sees a student
        # who took a seat back on another device (with its PIN).
        held = {id(s): room.holders(s) for s in seats}
        members = ", ".join(_escape(s.name) + (f" ({held[id(s)]} browsers)"
                                               if held[id(s)] > 1 else "")
                            for s in seats) or "-"
        state = "submitted" if game.submitted[side] else "thinking"
        # The board is on the projector: each side's true line only once revealed.
        line = f"{manning[side]:.0%}" if room.revealed else "hidden"
        cells.append(f"<td class='{side}'>{members}</td><td>{state}</td><td>{line}</td>")
    return "<tr>" + "".join(cells) + "</tr>"


@solara.component
def RemoveStudent(room: Classroom, students: list, version: int):
    """Take a student off a staff (joined on the wrong one, or not a student)."""
    choice, set_choice = solara.use_state("")
    error, set_error = solara.use_state("")
    labels = {f"game {s.game}, {s.side}: {s.name}": s for s in students}
    if not labels:
        return

    def remove():
        seat = labels.get(choice)
        if seat is None:
            return
        try:
            room.remove(seat.game, seat.side, seat.name)
            set_choice("")
            set_error("")
        except Refused as err:
            set_error(str(err))

    with solara.Row(classes=["remove-student"]):
        solara.Select("Student to take off a staff", values=list(labels),
                      value=choice if choice in labels else None, on_value=set_choice)
        solara.Button("Remove", on_click=remove, disabled=choice not in labels,
                      classes=["remove"])
    if error:
        solara.Text(f"Refused: {error}", classes=["refused"])


@solara.component
def Debrief(room: Classroom, version: int):
    shown, set_shown = solara.use_state(room.phase == "ended")
    which, set_which = solara.use_state(1)
    if not shown and room.phase != "ended":
        solara.Button("Show the debrief (the true curves)", on_click=lambda: set_shown(True),
                      classes=["show-debrief"], style={"align-self": "flex-start"})
        return
    if room.phase != "ended":
        solara.Button("Hide the debrief", on_click=lambda: set_shown(False),
                      classes=["hide-debrief"], style={"align-self": "flex-start"})
    solara.HTML(tag="h2", unsafe_innerHTML="Debrief")
    # One game at a time: a class of 20 games draws one picture a change, not 20.
    numbers = [g.number for g in room.games]
    if len(numbers) > 1:
        solara.ToggleButtonsSingle(value=which if which in numbers else 1,
                                   values=numbers, on_value=set_which,
                                   classes=["debrief-games"])
    game = room.games[(which if which in numbers else 1) - 1]
    with room.lock:  # never half-way through a turn
        verdict = game.outcome()
        day = game.model.day
        picture = debrief_png(game, day, len(game.decisions)) if day > 0 else None
    with solara.Column(classes=[f"debrief-game-{game.number}"]):
        solara.Text(f"Game {game.number}: {verdict}", classes=["verdict"])
        if picture is None:
            solara.Text("No curves before the first turn.")
        else:
            solara.Image(picture, width="1800px")
        Timeline(room, game, version)
        if day > 0:
            solara.FileDownload(lambda: _export(room, game), filename=f"game{game.number}.toml",
                                label=f"Export game {game.number} (replay: attrition run "
                                      f"game{game.number}.toml --seed {game.seed})")


def _export(room: Classroom, game: wargame.Game) -> str:
    """The game's file, made when the teacher asks for it."""
    with room.lock:
        return game.export_toml()


@solara.component
def Timeline(room: Classroom, game: wargame.Game, version: int):
    with room.lock:
        decisions = list(game.decisions)
    rows = []
    for d in decisions:
        said = "; ".join(_escape(s) for s in d.said) or "-"
        rows.append(f"<tr><td>{d.turn}</td><td>{d.day}</td><td class='{d.side}'>"
                    f"{TEAM_NAMES[d.side]}</td><td>{_escape(d.by)}</td><td>{said}</td></tr>")
    if not rows:
        solara.Text("Neither staff changed its orders.", classes=["timeline"])
        return
    solara.HTML(tag="div", classes=["timeline"], unsafe_innerHTML=(
        "<table><tr><th>turn</th><th>from day</th><th>staff</th><th>by</th>"
        "<th>what they changed</th></tr>" + "".join(rows) + "</table>"))


@functools.lru_cache(maxsize=64)
def debrief_png(game: wargame.Game, day: int, decisions: int) -> bytes:
    """Both sides' curves (line, killed, pool) with the days their orders changed, and
    what each staff believed of the enemy's killed beside the truth; drawn once per game,
    day and count of decisions (the arguments after the game are the cache's key), and
    read under the class's lock."""
    figure = Figure(figsize=(18, 4.2), dpi=100)
    panels = figure.subplots(1, 4)
    for ax, (column, title) in zip(panels, (("in_line", "The line, % of its targets"),
                                            ("killed", "Killed (so far)"),
                                            ("pool", "Recruit pool left")), strict=False):
        # The line as the verdict reads it: a share of the targets, half of them marked.
        series = game.manning() * 100 if column == "in_line" else game.series(column)
        ax.set_ylim(0, max(1.0, float(series.to_numpy().max())) * 1.05)
        for side in SIDES:
            ax.plot(series.index, series[side], color=SIDE_COLOURS[side], lw=3, label=side)
            days = sorted({d.day for d in game.decisions if d.side == side and d.day <= day})
            ax.plot(days, series[side].iloc[days], ls="none", marker="v", ms=10,
                    color=SIDE_COLOURS[side])
        ax.set_title(title, fontsize=16)
    panels[0].axhline(wargame.BROKEN_LINE * 100, color="#555", ls="--", lw=1.5)
    panels[0].legend(fontsize=12, title="v: orders changed", title_fontsize=12,
                     loc="lower left")
    believed = panels[3]
    killed = game.series("killed")
    for k, side in enumerate(SIDES):
        enemy = SIDES[1 - k]
        believed.plot(killed.index, killed[enemy], color=SIDE_COLOURS[enemy], lw=3)
        reports = game.reports[side][1:]
        believed.plot([r["day"] for r in reports],
                      [r["enemy_estimate"]["killed"] for r in reports], ls="none",
                      marker="o", ms=7, color=SIDE_COLOURS[enemy], mfc="white", mew=2,
                      label=f"{enemy}, as the {side} saw it")
    believed.set_title("Killed: true, and the enemy's estimate (o)", fontsize=16)
    believed.legend(fontsize=11, loc="upper left")
    for ax in panels:
        ax.set_xlabel("day", fontsize=14)
        ax.tick_params(labelsize=12)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


@solara.component
def Layout(children=()):
    """No navigation bar: a student's page must not offer the teacher's."""
    solara.Column(children=list(children))


routes = [
    solara.Route(path="/", component=StudentPage, label="Students", layout=Layout),
    solara.Route(path="teacher", component=TeacherPage, label="Teacher"),
]

__all__ = ["ContingentOrders", "StudentPage", "TeacherPage", "classroom", "routes"]
