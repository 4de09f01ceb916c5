"""The classroom wargame: student staffs command each side's force generation, a turn at
a time, on the national theatre (:mod:`sim.theatre`), as NetLogo's HubNet lets a class
play inside a model.

A :class:`Classroom` is what the teacher runs: a join code, one or several parallel
:class:`Game` s (one per pair of staffs), the students' seats, and the teacher's controls.
A game is a :class:`sim.theatre.TheatreModel` and two sides' standing :class:`Orders`.
Each turn (a week by default) each staff submits orders within the theatre's
:class:`Limits`; when both have submitted, or the teacher advances, the orders that
changed become one decision per side (:meth:`sim.theatre.TheatreModel.decide`), and the
model runs the turn's days. Each staff then learns what it would know: its own numbers
exactly, the enemy's as estimates with noise (drawn from a stream of their own, never the
model's, salted with a secret the class draws). A game exports as a theatre whose
``changes`` are its decisions, which ``attrition run`` replays number for number for the
same seed.

The page (:mod:`sim.wargame_page`) is a thin layer over this; a notebook or a test
drives a class the same way::

    >>> from sim.theatre import files
    >>> room = Classroom(files.load("classroom_war"), seed=1)
    >>> code = room.open(games=1)
    >>> seat = room.join("s1", code, "Ada", game=1, side="attacker")
    >>> _ = room.join("s2", code, "Bo", game=1, side="defender")
    >>> room.start()
    >>> game = room.games[0]
    >>> room.submit("s1", 1, "attacker", game.orders["attacker"])
    False
    >>> room.submit("s2", 1, "defender", game.orders["defender"])
    True
    >>> game.turn, game.model.day
    (2, 7)
"""

from __future__ import annotations

import dataclasses
import hmac
import secrets
import threading
import unicodedata
from typing import Annotated, Any

import numpy as np
import pandas as pd
import tomli_w
from pydantic import Field, ValidationError

from sim.fields import MAX_ITEMS, Fraction
from sim.fields import StrictModel as _Strict
from sim.model.memory import LIMIT_VARIABLE, limit_bytes
from sim.seeds import run_seed
from sim.sides import SIDES
from sim.tactics import ATTACK_TACTICS, DEFENCE_TACTICS, Tactic
from sim.theatre.config import TheatreChange, TheatreScenario
from sim.theatre.model import TheatreModel
from sim.theatre.records import estimate_memory

#: The theatre a class plays unless the teacher names another.
CLASS_THEATRE = "classroom_war"
#: Bounds of a class: every count is bounded before anything is made.
MAX_GAMES = 20
MAX_STUDENTS = 60
MAX_NAME_CHARS = 30
MAX_TURN_DAYS = 28
DEFAULT_TURN_DAYS = 7
#: A priority sector's target density, as a multiple of the theatre's: its battalions
#: go there first.
PRIORITY_FACTOR = 1.5
#: Relative error of an estimate of the enemy's numbers (the sd of its logarithm).
ESTIMATE_ERROR = 0.25
#: A side whose line stays below this share of its targets for BROKEN_DAYS days running
#: is broken: the first to break has lost (a line thinned for a few days, by a category
#: pulled out to rest, is not).
BROKEN_LINE = 0.5
BROKEN_DAYS = 7
#: Join codes: letters and digits a class cannot misread (no 0/O, 1/I/L).
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 5
MAX_PIN_TRIES = 5
TEAM_NAMES = {"attacker": "Attacker's staff", "defender": "Defender's staff"}
_NAME_REFUSED = set("<>&\"")


class Refused(ValueError):
    """A join, a submission or a control the class does not allow: one line, for the
    person who tried."""


def _whole(value: Any, key: str) -> int:
    """``value`` if it is a whole number (not a bool, a float or a string)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refused(f"{key}: {str(value)[:20]!r} is not a whole number; allowed: a whole "
                      f"number")
    return value


def _text(value: Any, key: str, most: int) -> str:
    """``value`` if it is text of at most ``most`` characters."""
    if not isinstance(value, str):
        raise Refused(f"{key}: not text; allowed: text")
    if len(value) > most:
        raise Refused(f"{key}: {len(value):,} characters; allowed: at most {most}")
    return value


def _check_name(name: str) -> None:
    """A name is shown on the board and the timeline: printable, at most MAX_NAME_CHARS,
    without the characters of markup, and not a stack of accents."""
    marks = [unicodedata.combining(c) > 0 for c in name]
    stacked = any(all(marks[i:i + 3]) for i in range(len(marks) - 2))
    if not (1 <= len(name) <= MAX_NAME_CHARS and name.isprintable()
            and not _NAME_REFUSED & set(name)) or stacked:
        raise Refused(f"name: allowed: 1 to {MAX_NAME_CHARS} printable characters, without "
                      f"< > & or double quotes, and at most two accents on a letter")


# ----------------------------------------------------------------- orders
class ContingentOrders(_Strict):
    """A staff's orders for one of its force categories."""

    recruits_per_day: Annotated[float, Field(ge=0.0, le=1e6)] = Field(
        description="Recruits a day (persons/day), or the rate at the start of depletion.")
    bonus: Annotated[float, Field(gt=0.0, le=1000.0)] = Field(
        default=1.0, description="Signing bonus as a multiple of the usual (-).")
    training_days: Annotated[int, Field(ge=0, le=3650)] = Field(
        description="Training of each recruit (days).")
    shortened_training_days: Annotated[int, Field(ge=0, le=3650)] = Field(
        description="Training while the line is under strength (days).")
    shorten_below_strength: Fraction = Field(
        description="Line strength below which training is shortened (-); 0 never.")
    tactic: Tactic = Field(description="Tactic of its battalions, all of them, from the next "
                                       "day (the category's doctrine).")
    unit_size: Annotated[int, Field(ge=1, le=100_000)] = Field(
        description="Persons in each battalion it forms from now (persons).")
    withdrawn: bool = Field(default=False, description="Pulled out of the line to rest.")


class Orders(_Strict):
    """A staff's standing orders: per force category, and for the side."""

    contingents: dict[str, ContingentOrders] = Field(max_length=50)
    priority: str | None = Field(default=None, max_length=100,
                                 description="Sector whose line is filled first; none: "
                                             "the theatre's allocation.")
    rotate_below_strength: Fraction = Field(
        description="Battalions below this share of their strength leave the line (-).")
    intensity: Annotated[float, Field(ge=0.0, le=100.0)] = Field(
        description="Tempo of operations, a multiple of the side's usual (-).")


@dataclasses.dataclass(frozen=True)
class Range:
    """What an order may be: from ``low`` to ``high``, by ``step``."""

    low: float
    high: float
    step: float = 1.0

    def check(self, key: str, value: float) -> None:
        if not self.low <= value <= self.high:
            raise Refused(f"{key}: {value:g}; allowed: {self.low:g} to {self.high:g}")


@dataclasses.dataclass(frozen=True)
class Limits:
    """What a side's staff may order, drawn from its theatre: recruitment from 0 to three
    times the theatre's rate (none for a category without a pool), a bonus from half to
    four times the usual (only for a category that answers to it), training from a week
    to twice the theatre's (at least 180 days), battalions from 100 to twice the
    theatre's size, the side's tactics, rotation below 20% to 80% strength, and a tempo
    from a quarter to twice the theatre's."""

    side: str
    recruits_per_day: dict[str, Range]
    bonus: dict[str, Range | None]
    training_days: dict[str, Range]
    unit_size: dict[str, Range]
    tactics: tuple[str, ...]
    sectors: tuple[str, ...]
    rotate_below_strength: Range
    intensity: Range
    fixed_bonus: dict[str, float] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, base: TheatreScenario, side: str) -> Limits:
        config = getattr(base, side)
        cats = config.contingents

        def around(own: float, low: float, high: float, step: float = 1.0) -> Range:
            # Always the theatre's own value: its standing orders are orders too.
            return Range(min(low, own), max(high, own), step)

        return cls(
            side=side,
            # A category without a pool recruits no one whatever the rate: it stays.
            recruits_per_day={n: around(c.recruits_per_day, 0.0,
                                        max(3 * c.recruits_per_day, 10), 10.0)
                              if c.pool > 0 else Range(c.recruits_per_day, c.recruits_per_day)
                              for n, c in cats.items()},
            bonus={n: around(_bonus_at_start(base, c), 0.5, 4.0, 0.1)
                   if c.bonus_elasticity > 0 and c.pool > 0 else None for n, c in cats.items()},
            training_days={n: around(round(c.training_days), 7,
                                     max(180, 2 * round(c.training_days)))
                           for n, c in cats.items()},
            unit_size={n: around(c.unit_size, 100, max(200, 2 * c.unit_size), 50)
                       for n, c in cats.items()},
            tactics=ATTACK_TACTICS if side == "attacker" else DEFENCE_TACTICS,
            sectors=tuple(s.name for s in base.sectors),
            rotate_below_strength=around(config.rotate_below_strength, 0.2, 0.8, 0.05),
            intensity=Range(round(config.intensity / 4, 3), round(config.intensity * 2, 3),
                            0.05),
            fixed_bonus={n: _bonus_at_start(base, c) for n, c in cats.items()})

    def check(self, orders: Orders) -> None:
        """Refused (one line naming the order and what is allowed) unless every order is
        within the limits."""
        if set(orders.contingents) != set(self.recruits_per_day):
            raise Refused(f"contingents: {', '.join(sorted(orders.contingents)) or 'none'}; "
                          f"allowed: exactly {', '.join(sorted(self.recruits_per_day))}")
        for name, o in orders.contingents.items():
            self.recruits_per_day[name].check(f"{name}.recruits_per_day", o.recruits_per_day)
            bonus = self.bonus[name]
            if bonus is None and o.bonus != self.fixed_bonus[name]:
                raise Refused(f"{name}.bonus: {o.bonus:g}; allowed: "
                              f"{self.fixed_bonus[name]:g} (this category does not answer "
                              f"to a bonus)")
            if bonus is not None:
                bonus.check(f"{name}.bonus", o.bonus)
            days = self.training_days[name]
            days.check(f"{name}.training_days", o.training_days)
            Range(days.low, o.training_days).check(f"{name}.shortened_training_days",
                                                   o.shortened_training_days)
            self.unit_size[name].check(f"{name}.unit_size", o.unit_size)
            if o.tactic not in self.tactics:
                raise Refused(f"{name}.tactic: {o.tactic}; allowed: {', '.join(self.tactics)}")
        if orders.priority is not None and orders.priority not in self.sectors:
            raise Refused(f"priority: {orders.priority[:40]!r}; allowed: none or one of "
                          f"{', '.join(self.sectors)}")
        self.rotate_below_strength.check("rotate_below_strength",
                                         orders.rotate_below_strength)
        self.intensity.check("intensity", orders.intensity)
        if all(o.withdrawn for o in orders.contingents.values()):
            raise Refused("withdrawn: every category; allowed: at least one left in the line")


def _bonus_at_start(base: TheatreScenario, contingent) -> float:
    """The bonus multiple in force on day 0."""
    steps = [s for s in contingent.bonus if base.day_of(s.day) <= 0]
    return steps[-1].multiple if steps else 1.0


def standing_orders(base: TheatreScenario, side: str) -> Orders:
    """The orders the theatre itself gives ``side`` on day 0."""
    config = getattr(base, side)
    return Orders(
        contingents={name: ContingentOrders(
            recruits_per_day=c.recruits_per_day,
            bonus=_bonus_at_start(base, c),
            training_days=round(c.training_days),
            shortened_training_days=round(c.shortened_training_days
                                          if c.shortened_training_days is not None
                                          else c.training_days),
            shorten_below_strength=(c.shorten_below_strength
                                    if c.shortened_training_days is not None else 0.0),
            tactic=c.tactic, unit_size=c.unit_size, withdrawn=c.withdrawn)
            for name, c in config.contingents.items()},
        rotate_below_strength=config.rotate_below_strength, intensity=config.intensity)


def assignments(base: TheatreScenario, side: str, orders: Orders, day: int) -> dict[str, Any]:
    """Every theatre key ``orders`` set, to its value from ``day`` on."""
    keys: dict[str, Any] = {}
    for name, o in orders.contingents.items():
        at = f"{side}.contingents.{name}"
        keys |= {f"{at}.recruits_per_day": float(o.recruits_per_day),
                 f"{at}.bonus": [{"day": day, "multiple": float(o.bonus)}],
                 f"{at}.training_days": float(o.training_days),
                 f"{at}.shortened_training_days": float(o.shortened_training_days),
                 f"{at}.shorten_below_strength": float(o.shorten_below_strength),
                 f"{at}.tactic": o.tactic, f"{at}.unit_size": int(o.unit_size),
                 f"{at}.withdrawn": bool(o.withdrawn)}
    for i, sector in enumerate(base.sectors):
        target = getattr(sector, side).target_persons_per_km
        keys[f"sectors[{i}].{side}.target_persons_per_km"] = float(
            target * (PRIORITY_FACTOR if sector.name == orders.priority else 1.0))
    keys[f"{side}.rotate_below_strength"] = float(orders.rotate_below_strength)
    keys[f"{side}.intensity"] = float(orders.intensity)
    return keys


def changed_keys(base: TheatreScenario, side: str, before: Orders, after: Orders,
                 day: int) -> dict[str, Any]:
    """The theatre keys that orders ``after`` set otherwise than ``before``, from ``day``.
    A category's training is set whole (length, shortened length, when to shorten) if
    any of it changed: the theatre may hold "never shortened" as no shortened length."""
    old, new = (assignments(base, side, o, day) for o in (before, after))
    keys = {k: v for k, v in new.items() if v != old[k]}
    for name in after.contingents:
        group = [f"{side}.contingents.{name}.{k}" for k in
                 ("training_days", "shortened_training_days", "shorten_below_strength")]
        if any(k in keys for k in group):
            keys |= {k: new[k] for k in group}
    return keys


# ------------------------------------------------------------------ a game
@dataclasses.dataclass(frozen=True)
class Decision:
    """What a staff changed on a turn: the orders in words, the theatre keys set."""

    turn: int
    day: int
    side: str
    by: str
    said: tuple[str, ...]
    assign: dict[str, Any]


def say(before: Orders, after: Orders) -> tuple[str, ...]:
    """The orders that changed, in words: 'volunteers: training 45 -> 30 days'."""
    units = {"recruits_per_day": "a day", "training_days": "days",
             "shortened_training_days": "days", "unit_size": "persons"}
    # The page's words for the orders (the debrief's timeline is read beside it).
    words_for = {"recruits_per_day": "recruits", "training_days": "training",
                 "shortened_training_days": "shortened training",
                 "shorten_below_strength": "shorten when the line is below",
                 "unit_size": "battalion size", "rotate_below_strength": "rotate out below",
                 "intensity": "tempo", "priority": "priority sector"}
    words = []
    for name, o in after.contingents.items():
        old = before.contingents[name]
        for field in ContingentOrders.model_fields:
            a, b = getattr(old, field), getattr(o, field)
            if a != b:
                label = words_for.get(field, field.replace("_", " "))
                unit = f" {units[field]}" if field in units else ""
                words.append(f"{name}: {label} {_word(a, field)} -> {_word(b, field)}{unit}")
    for field in ("priority", "rotate_below_strength", "intensity"):
        a, b = getattr(before, field), getattr(after, field)
        if a != b:
            words.append(f"{words_for[field]} {_word(a, field)} -> {_word(b, field)}")
    return tuple(words)


def _word(value: Any, field: str = "") -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field.endswith("below_strength"):
        return f"{value:.0%}"
    if field == "tactic":
        return value.replace("_", " ").replace("defense", "defence")
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)


#: What a staff is told each turn, per side: the record's columns.
REPORTED = ("in_line", "in_rear", "pool", "in_training", "reserve", "killed", "wounded",
            "recruited")
#: Of these, what it learns of the enemy (estimates).
ESTIMATED = ("in_line", "killed", "wounded")


class Game:
    """One game: a theatre run by two staffs' orders, a turn at a time. Its ``seed`` is
    the one ``attrition run`` (or ``attrition theatre run``) replays it with: the model's
    stream is ``run_seed(seed, 0, 0)``, as theirs is."""

    def __init__(self, number: int, base: TheatreScenario, seed: int,
                 estimate_salt: int = 0):
        self.number = number
        self.base = base
        self.seed = seed
        # The estimates' stream: the seed is public (on the export), so a class draws a
        # secret salt, or a student could recompute the errors and undo them.
        self._salt = estimate_salt
        self.model = TheatreModel(base, rng=run_seed(seed, 0, 0))
        self.limits = {side: Limits.of(base, side) for side in SIDES}
        self.orders = {side: standing_orders(base, side) for side in SIDES}
        self.submitted: dict[str, str | None] = {side: None for side in SIDES}
        self.pending: dict[str, Orders] = {}
        self.turn = 1
        self.decisions: list[Decision] = []
        # Per side, per turn ended: (day, own numbers, the enemy's estimates).
        self.reports: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
        self._targets = np.array([[getattr(s, side).target_persons_per_km * s.frontage_km
                                   for side in SIDES] for s in base.sectors]).sum(axis=0)
        self._report()

    @property
    def over(self) -> bool:
        return not self.model.running

    def submit(self, side: str, by: str, orders: Orders) -> None:
        """``side`` 's orders for this turn (replacing any it submitted before)."""
        if self.over:
            raise Refused(f"game {self.number}: it is over; allowed: nothing more")
        self.limits[side].check(orders)
        # Checked against the theatre as it stands (a change that cannot be made is
        # refused now, not when the turn resolves).
        day = self.model.day + 1
        keys = changed_keys(self.base, side, self.orders[side], orders, day)
        if keys:
            try:
                self.model.config.changed(TheatreChange(day=day, assign=keys), "orders")
            except ValueError as err:
                raise Refused(str(err)) from None
        self.pending[side] = orders
        self.submitted[side] = by

    @property
    def ready(self) -> bool:
        """Both staffs have submitted this turn's orders."""
        return all(self.submitted[side] for side in SIDES)

    def resolve(self, turn_days: int) -> None:
        """Run the turn: each side's changed orders (those not submitted stand) as a
        decision from tomorrow, then ``turn_days`` days (fewer at the theatre's end)."""
        if self.over:
            return
        day = self.model.day + 1
        if len(self.base.changes) + len(self.decisions) + len(SIDES) > MAX_ITEMS:
            # An export holds at most MAX_ITEMS changes: the game ends before it cannot.
            self.model.running = False
            return
        for side in SIDES:
            orders = self.pending.get(side, self.orders[side])
            keys = changed_keys(self.base, side, self.orders[side], orders, day)
            if keys:
                self.model.decide(TheatreChange(day=day, assign=keys))
                self.decisions.append(Decision(self.turn, day, side,
                                               self.submitted[side] or "standing orders",
                                               say(self.orders[side], orders), keys))
            self.orders[side] = orders
        for _ in range(turn_days):
            if not self.model.running:
                break
            self.model.step()
        self.turn += 1
        self.pending.clear()
        self.submitted = {side: None for side in SIDES}
        self._report()

    def _report(self) -> None:
        """What each side learns at the end of a turn: its own numbers, and the enemy's
        estimated (log-normal errors of ESTIMATE_ERROR, seeded by the class's salt, the
        game's seed, the turn and the side: apart from the model's stream, so that a
        replay runs the same without them)."""
        day = self.model.day
        now = np.stack([self.model.records.side_series(name)[-1] for name in REPORTED])
        numbers = {side: {name: int(v) for name, v in zip(REPORTED, now[:, k], strict=True)}
                   for k, side in enumerate(SIDES)}
        for k, side in enumerate(SIDES):
            enemy = SIDES[1 - k]
            rng = np.random.default_rng([self._salt, self.seed, self.turn, k])
            noise = np.exp(rng.normal(0.0, ESTIMATE_ERROR, len(ESTIMATED)))
            estimate = {name: int(round(numbers[enemy][name] * f, -2))
                        for name, f in zip(ESTIMATED, noise, strict=True)}
            self.reports[side].append({"turn": self.turn, "day": day,
                                       "date": self.base.date_of(day), "own": numbers[side],
                                       "enemy_estimate": estimate,
                                       "enemy_true": numbers[enemy]})

    def series(self, column: str) -> pd.DataFrame:
        """Per day (rows) and side (columns): a column of the daily record, both
        sides' categories summed."""
        return pd.DataFrame(self.model.records.side_series(column), columns=list(SIDES))

    def manning(self) -> pd.DataFrame:
        """Per day and side: the line as a share of the side's targets at the start."""
        return self.series("in_line") / np.maximum(self._targets, 1)

    def broken_on(self) -> dict[str, int]:
        """Per side that broke: the first day its line had been below BROKEN_LINE of its
        targets for BROKEN_DAYS days running."""
        out = {}
        for side, share in self.manning().items():
            below = (share < BROKEN_LINE).to_numpy()
            run = 0
            for day, thin in enumerate(below):
                run = run + 1 if thin else 0
                if run == BROKEN_DAYS:
                    out[side] = day
                    break
        return out

    def days_below(self, side: str) -> int:
        """Days running, up to today, that ``side`` 's line has been below BROKEN_LINE of
        its targets."""
        below = (self.manning()[side] < BROKEN_LINE).to_numpy()[::-1]
        return int(np.argmin(below)) if not below.all() else len(below)

    def outcome(self, pools: bool = True) -> str:
        """The game's verdict so far, in words: who broke first (if anyone), and (with
        ``pools``: not for a staff, which knows nothing of the enemy's pool) what each
        side has left of its recruit pools."""
        broken = self.broken_on()
        pool = self.series("pool")
        left = ", ".join(f"{side} {pool[side].iloc[-1] / max(1, pool[side].iloc[0]):.0%}"
                         for side in SIDES)
        tail = f" Recruit pools left: {left}." if pools else ""
        if not broken:
            return (f"Both lines held (neither below {BROKEN_LINE:.0%} of its targets for "
                    f"{BROKEN_DAYS} days running) to day {self.model.day}.{tail}")
        first = min(broken.values())
        sides = [s for s in SIDES if broken.get(s) == first]
        if len(sides) == 2:
            return f"Both lines broke on day {first}.{tail}"
        return (f"The {sides[0]}'s line broke first: below {BROKEN_LINE:.0%} of its targets "
                f"for {BROKEN_DAYS} days running by day {first}.{tail}")

    def scenario(self) -> TheatreScenario:
        """The game as a theatre: its decisions as ``changes``, its days as ``max_days``
        (Refused before its first day: a theatre runs a day at least)."""
        if self.model.day == 0:
            raise Refused(f"export: game {self.number} has not run a day; allowed: after "
                          f"its first turn")
        data = self.base.model_dump()
        # Each decision is a change of the theatre, on its day: the model took them so.
        data["changes"] = list(data["changes"]) + [{"day": d.day, "assign": d.assign}
                                                   for d in self.decisions]
        data["max_days"] = self.model.day
        data["name"] = f"{self.base.name}-game{self.number}"[:100]
        data["description"] = (f"Game {self.number} of a class on {self.base.name}: "
                               f"{len(self.decisions)} decisions over {self.model.day} "
                               f"days; replay: attrition run FILE --seed {self.seed}")[:1000]
        return TheatreScenario.model_validate(data)

    def export_toml(self) -> str:
        """The game as a theatre file that ``attrition run FILE --seed SEED`` replays."""
        header = (f"# Game {self.number} of a class on {self.base.name}, exported on day "
                  f"{self.model.day}.\n# Replay it, number for number: attrition run "
                  f"THIS_FILE --seed {self.seed}\n")
        return header + tomli_w.dumps(self.scenario().model_dump(exclude_none=True))


# ---------------------------------------------------------------- the class
@dataclasses.dataclass(eq=False)
class Seat:
    """A student: their name, game and side (held from one browser session or more), and
    the PIN that lets them take it back from another browser (shown on their own page
    only)."""

    name: str
    game: int
    side: str
    pin: str = dataclasses.field(default_factory=lambda: f"{secrets.randbelow(10_000):04d}")
    #: Wrong PINs tried for this seat: after MAX_PIN_TRIES it takes none (the teacher
    #: removes the seat, and the student joins again).
    wrong_pins: int = 0


class Classroom:
    """One class: the teacher's join code, the games, the students' seats, the controls.
    Thread-safe: every call holds one lock, and each change bumps :attr:`version`, which
    pages watch (:meth:`wait`)."""

    def __init__(self, base: TheatreScenario, seed: int = 0, teacher_key: str | None = None,
                 estimate_salt: int | None = None):
        self.base = base
        self.seed = seed
        # Secret unless given (a test's or a notebook's class that must estimate the same
        # twice): each class's estimates err differently, and cannot be recomputed.
        self._estimate_salt = estimate_salt
        self.teacher_key = teacher_key or secrets.token_urlsafe(16)
        self.code: str | None = None
        self.expired: set[str] = set()
        self.phase = "closed"  # closed -> joining -> running <-> paused -> ended
        self.turn_days = DEFAULT_TURN_DAYS
        self.revealed = False
        self.games: list[Game] = []
        self.seats: dict[str, Seat] = {}
        self.version = 0
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)

    # ------------------------------------------------------------ plumbing
    @property
    def lock(self) -> threading.RLock:
        """Held while the class changes: a page reads the class (a game's records and
        reports included) under it, never half-way through a turn."""
        return self._lock

    def _bump(self) -> None:
        self.version += 1
        self._changed.notify_all()

    def wait(self, version: int, timeout_s: float) -> int:
        """Block until the class changes after ``version`` (or ``timeout_s``); the
        version now."""
        with self._changed:
            self._changed.wait_for(lambda: self.version != version, timeout_s)
            return self.version

    def is_teacher(self, key: str | None) -> bool:
        return bool(key) and hmac.compare_digest(str(key).encode(), self.teacher_key.encode())

    def game(self, number: int) -> Game:
        number = _whole(number, "game")
        if not 1 <= number <= len(self.games):
            raise Refused(f"game: {number}; allowed: 1 to {len(self.games)}")
        return self.games[number - 1]

    # ----------------------------------------------------------- teacher
    def open(self, games: int = 1, turn_days: int = DEFAULT_TURN_DAYS) -> str:
        """A new class of ``games`` parallel games: a new join code (the old one
        expires, with its games); students may join."""
        games = _whole(games, "games")
        if not 1 <= games <= MAX_GAMES:
            raise Refused(f"games: {games}; allowed: 1 to {MAX_GAMES}")
        self._check_turn_days(turn_days)
        size, _ = estimate_memory(self.base)
        if games * size > limit_bytes():
            most = max(1, limit_bytes() // size)
            raise Refused(f"games: {games} games of {self.base.name} would hold about "
                          f"{games * size / 2**30:.1f} GiB; allowed: at most {most} games "
                          f"(the memory limit, {LIMIT_VARIABLE})")
        salt = (self._estimate_salt if self._estimate_salt is not None
                else secrets.randbits(64))
        # Seeds a teacher can read out: the class's seed, then the game's number.
        made = [Game(i + 1, self.base, self.seed * 100 + i + 1, salt) for i in range(games)]
        with self._lock:
            if self.code:
                self.expired.add(self.code)
            code = self.code
            while code is None or code in self.expired:
                code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            self.code, self.games, self.seats = code, made, {}
            self.phase, self.turn_days, self.revealed = "joining", turn_days, False
            self._bump()
            return code

    def start(self) -> None:
        with self._lock:
            if self.phase not in ("joining", "paused"):
                raise Refused(f"start: the class is {self.phase}; allowed: when students "
                              f"are joining or it is paused")
            self.phase = "running"
            self._resolve_ready()
            self._bump()

    def pause(self) -> None:
        with self._lock:
            if self.phase != "running":
                raise Refused(f"pause: the class is {self.phase}; allowed: while running")
            self.phase = "paused"
            self._bump()

    def set_turn_days(self, days: int) -> None:
        """The length of the turns still to resolve (this one too, if it has not)."""
        self._check_turn_days(days)
        with self._lock:
            self.turn_days = days
            self._bump()

    def reveal(self, shown: bool = True) -> None:
        """Show (or hide again) both sides' true numbers to everyone."""
        with self._lock:
            self.revealed = bool(shown)
            self._bump()

    def advance(self, game: int | None = None) -> None:
        """End the turn of ``game``, or of every game at the class's earliest turn (a
        game that has resolved on its own is not pushed on): the orders submitted, and
        the standing orders of a staff that has not submitted."""
        with self._lock:
            if self.phase != "running":
                raise Refused(f"advance: the class is {self.phase}; allowed: while running")
            running = [g for g in self.games if not g.over]
            if game is not None:
                running = [g for g in running if g.number == self.game(game).number]
            elif running:
                earliest = min(g.turn for g in running)
                running = [g for g in running if g.turn == earliest]
            for each in running:
                each.resolve(self.turn_days)
            self._bump()

    def end(self) -> None:
        """End the class: the debrief; the join code expires."""
        with self._lock:
            if self.code:
                self.expired.add(self.code)
            self.phase = "ended"
            self._bump()

    @staticmethod
    def _check_turn_days(days: int) -> None:
        """A turn is 1 to MAX_TURN_DAYS days (a whole number); a change applies to the
        turns not yet resolved, this one included."""
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_TURN_DAYS:
            raise Refused(f"turn length: {days!r}; allowed: 1 to {MAX_TURN_DAYS} days")

    # ---------------------------------------------------------- students
    def join(self, session: str, code: str, name: str, game: int, side: str,
             pin: str | None = None) -> Seat:
        """Seat the student of browser ``session`` on ``side`` 's staff of ``game``. The
        same browser gets its seat back; another browser gets a seat already taken (the
        same name on the same staff) only with that seat's ``pin`` (a student back on
        another device): a name on the board is not enough to act as its student."""
        code = _text(code, "code", 20).strip().upper()
        name = unicodedata.normalize("NFC", " ".join(_text(name, "name", 200).split()))
        game = _whole(game, "game")
        side = _text(side, "side", 20)
        with self._lock:
            if code in self.expired:
                raise Refused("code: that game has ended; allowed: the code on the "
                              "teacher's screen now")
            if self.code is None or self.phase == "ended" or not hmac.compare_digest(
                    code.encode(), self.code.encode()):
                raise Refused("code: not this class's code; allowed: the code on the "
                              "teacher's screen")
            _check_name(name)
            if side not in SIDES:
                raise Refused(f"side: {side[:20]!r}; allowed: attacker or defender")
            self.game(game)
            mine = self.seats.get(session)
            if mine is not None and (mine.game, mine.side) != (game, side):
                raise Refused(f"side: you are on the {mine.side}'s staff of game {mine.game}; "
                              f"allowed: that staff only")
            for seat in self.students():
                if (seat.game, seat.side, seat.name.casefold()) != (game, side,
                                                                     name.casefold()):
                    continue
                if seat is mine:
                    return seat
                if mine is not None:
                    raise Refused(f"name: {name} is another student of your staff; "
                                  f"allowed: your own name, {mine.name}")
                if pin is not None and seat.wrong_pins >= MAX_PIN_TRIES:
                    raise Refused(f"pin: {MAX_PIN_TRIES} wrong PINs for {name}; allowed: "
                                  f"ask the teacher to remove the seat, then join again")
                if pin is None or not hmac.compare_digest(_text(pin, "pin", 20).strip()
                                                          .encode(), seat.pin.encode()):
                    seat.wrong_pins += pin is not None
                    raise Refused(f"name: {name} is taken on this staff; allowed: another "
                                  f"name, or this name with its PIN (on its own page)")
                self.seats[session] = seat  # the same student, on another browser
                self._bump()
                return seat
            if mine is not None:
                return mine
            if len(self.students()) >= MAX_STUDENTS:
                raise Refused(f"class: full; allowed: at most {MAX_STUDENTS} students")
            seat = Seat(name, game, side)
            self.seats[session] = seat
            self._bump()
            return seat

    def remove(self, game: int, side: str, name: str) -> None:
        """The teacher takes a student off a staff (joined on the wrong one, or a name
        that is not a student's): every browser that held the seat must join again."""
        game = _whole(game, "game")
        with self._lock:
            gone = [s for s, seat in self.seats.items()
                    if (seat.game, seat.side, seat.name) == (game, side, name)]
            if not gone:
                raise Refused(f"student: no {str(name)[:40]!r} on the {side}'s staff of "
                              f"game {game}; allowed: a student on the board")
            for session in gone:
                del self.seats[session]
            self._bump()

    def holders(self, seat: Seat) -> int:
        """How many browsers hold ``seat``."""
        with self._lock:
            return sum(held is seat for held in self.seats.values())

    def students(self) -> list[Seat]:
        """Each student once, in the order they joined."""
        with self._lock:
            return list({id(s): s for s in self.seats.values()}.values())

    def seat(self, session: str) -> Seat | None:
        with self._lock:
            return self.seats.get(session)

    def members(self, game: int, side: str) -> list[str]:
        with self._lock:
            return [s.name for s in self.students() if (s.game, s.side) == (game, side)]

    def submit(self, session: str, game: int, side: str, orders: Orders | dict,
               turn: int | None = None) -> bool:
        """The orders of ``side`` in ``game``, from the student of ``session``, who must
        hold a seat on that staff, for ``turn`` (the page's: orders given on a page that
        still showed a turn since resolved are refused); True if the turn resolved with
        them."""
        game = _whole(game, "game")
        with self._lock:
            seat = self.seats.get(session)
            if seat is None:
                raise Refused("seat: you have not joined; allowed: join with the class's code")
            if (seat.game, seat.side) != (game, side):
                raise Refused(f"side: you are on the {seat.side}'s staff of game {seat.game}; "
                              f"allowed: orders for that staff only")
            if self.phase != "running":
                raise Refused(f"orders: the class is {self.phase}; allowed: while it runs")
            if not isinstance(orders, Orders):
                try:
                    orders = Orders.model_validate(orders)
                except ValidationError as err:
                    first = err.errors()[0]
                    where = ".".join(str(p) for p in first["loc"])
                    raise Refused(f"{where}: {first['msg']}") from None
            this = self.game(game)
            if turn is not None and _whole(turn, "turn") != this.turn:
                raise Refused(f"turn: turn {turn} has ended; allowed: orders for turn "
                              f"{this.turn}")
            this.submit(side, seat.name, orders)
            resolved = self._resolve_ready()
            self._bump()
            return this.number in resolved

    def withdraw_submission(self, session: str, game: int, side: str) -> None:
        """Take this turn's submitted orders back (to change them)."""
        game = _whole(game, "game")
        with self._lock:
            seat = self.seats.get(session)
            if seat is None or (seat.game, seat.side) != (game, side):
                raise Refused("side: allowed: your own staff's orders only")
            this = self.game(game)
            this.submitted[side] = None
            this.pending.pop(side, None)
            self._bump()

    def _resolve_ready(self) -> list[int]:
        if self.phase != "running":
            return []
        done = []
        for game in self.games:
            if game.ready and not game.over:
                game.resolve(self.turn_days)
                done.append(game.number)
        return done
