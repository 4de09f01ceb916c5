"""The classroom wargame's core (sim.wargame): a class, its seats and codes, orders within
limits, turns, estimates, the export that `attrition run` replays number for number.
The pages in a real browser are tests/test_wargame_page.py."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim import wargame
from sim.cli import main
from sim.seeds import run_seed
from sim.sides import SIDES
from sim.theatre import TheatreModel, files
from sim.theatre.battalions import LINE
from sim.theatre.config import EXAMPLE, TheatreChange, TheatreScenario
from sim.wargame import Classroom, Orders, Refused


@pytest.fixture(scope="module")
def theatre():
    return files.load(wargame.CLASS_THEATRE)


def _class(theatre, games=1, seed=5, salt=7):
    room = Classroom(theatre, seed=seed, estimate_salt=salt)
    code = room.open(games=games)
    for g in range(1, games + 1):
        room.join(f"a{g}", code, f"Attacker {g}", g, "attacker")
        room.join(f"d{g}", code, f"Defender {g}", g, "defender")
    return room, code


def random_orders(game: wargame.Game, side: str, rng: np.random.Generator) -> Orders:
    """Orders anywhere within the side's limits."""
    limits = game.limits[side]
    orders = game.orders[side].model_copy(deep=True)
    for name, o in orders.contingents.items():
        r = limits.recruits_per_day[name]
        o.recruits_per_day = float(rng.uniform(r.low, r.high))
        if limits.bonus[name] is not None:
            o.bonus = float(np.round(rng.uniform(0.5, 4.0), 1))
        days = limits.training_days[name]
        o.training_days = int(rng.integers(days.low, days.high + 1))
        o.shortened_training_days = int(rng.integers(days.low, o.training_days + 1))
        o.shorten_below_strength = float(rng.uniform(0, 1))
        o.tactic = str(rng.choice(limits.tactics))
        size = limits.unit_size[name]
        o.unit_size = int(rng.integers(size.low // 50, size.high // 50 + 1) * 50)
        o.withdrawn = bool(rng.random() < 0.15)
    if all(o.withdrawn for o in orders.contingents.values()):
        next(iter(orders.contingents.values())).withdrawn = False
    orders.priority = rng.choice([None, *limits.sectors])
    orders.rotate_below_strength = float(rng.uniform(0.2, 0.8))
    orders.intensity = float(rng.uniform(limits.intensity.low, limits.intensity.high))
    return orders


def _play(room: Classroom, turns: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    room.start()
    for _ in range(turns):
        for game in room.games:
            for side in SIDES:
                room.submit(f"{side[0]}{game.number}", game.number, side,
                            random_orders(game, side, rng))


# ------------------------------------------------------------- the theatre's parts
def test_a_withdrawn_category_leaves_the_line_and_stays_out():
    scenario = TheatreScenario.model_validate(EXAMPLE)
    model = TheatreModel(scenario, rng=1)
    for _ in range(5):
        model.step()
    contract = model.contingents.index(("attacker", "contract"))
    mine = model.battalions["contingent"] == contract
    assert (model.battalions["state"][mine] == LINE).any()
    totals = model.conservation_totals()
    model.decide(TheatreChange(day=6, assign={"attacker.contingents.contract.withdrawn": True}))
    for _ in range(10):
        model.step()
        mine = model.battalions["contingent"] == contract
        assert not (model.battalions["state"][mine] == LINE).any(), model.day
    np.testing.assert_array_equal(model.conservation_totals(), totals)
    model.decide(TheatreChange(day=17, assign={"attacker.contingents.contract.withdrawn": False}))
    for _ in range(20):
        model.step()
    mine = model.battalions["contingent"] == contract
    assert (model.battalions["state"][mine] == LINE).any()


def test_a_decision_for_a_day_begun_or_a_bad_value_is_refused():
    model = TheatreModel(TheatreScenario.model_validate(EXAMPLE), rng=1)
    model.step()
    with pytest.raises(ValueError, match="day: 1 has begun; allowed: a day after 1"):
        model.decide(TheatreChange(day=1, assign={"attacker.intensity": 2.0}))
    with pytest.raises(ValueError, match="decision.assign: leaves attacker.intensity invalid"):
        model.decide(TheatreChange(day=2, assign={"attacker.intensity": -1.0}))


def test_decisions_taken_as_the_run_goes_equal_the_same_schedule_read_from_the_start():
    scenario = TheatreScenario.model_validate(EXAMPLE)
    changes = [TheatreChange(day=3, assign={"attacker.contingents.contract.training_days": 7.0}),
               TheatreChange(day=9, assign={"defender.intensity": 1.7,
                                            "sectors[0].attacker.target_persons_per_km": 900.0})]
    live = TheatreModel(scenario, rng=4)
    for change in changes:
        live.decide(change)
    live.run()
    planned = TheatreModel(scenario.model_copy(update={"changes": changes}), rng=4)
    planned.run()
    pd.testing.assert_frame_equal(live.daily_records(), planned.daily_records(),
                                  check_exact=True)


# -------------------------------------------------------------------- the class
def test_codes_names_and_staffs_are_checked(theatre):
    room, code = _class(theatre, games=2)
    wrong = "".join(c for c in wargame.CODE_ALPHABET if c not in code)[:wargame.CODE_LENGTH]
    with pytest.raises(Refused, match="^code: not this class's code"):
        room.join("x", wrong, "Eve", 1, "attacker")
    with pytest.raises(Refused, match="^name: allowed: 1 to 30 printable characters"):
        room.join("x", code, "<script>", 1, "attacker")
    for name in ("   ", "a" * 31, "Eve\u202e", "Eve\x00"):
        with pytest.raises(Refused, match="^name: "):
            room.join("x", code, name, 1, "attacker")
    with pytest.raises(Refused, match="^side: 'umpire'; allowed: attacker or defender"):
        room.join("x", code, "Eve", 1, "umpire")
    with pytest.raises(Refused, match="^game: 3; allowed: 1 to 2"):
        room.join("x", code, "Eve", 3, "attacker")
    # A seated student cannot move to the other staff, nor to another game.
    with pytest.raises(Refused, match="you are on the attacker's staff of game 1"):
        room.join("a1", code, "Attacker 1", 1, "defender")
    with pytest.raises(Refused, match="you are on the attacker's staff of game 1"):
        room.join("a1", code, "Attacker 1", 2, "attacker")
    # The code in lower case, with spaces, is the same code.
    assert room.join("y", f" {code.lower()} ", "Fay", 2, "defender").side == "defender"


def test_a_code_expires_with_its_game(theatre):
    room, code = _class(theatre)
    room.end()
    with pytest.raises(Refused, match="^code: that game has ended"):
        room.join("late", code, "Late", 1, "attacker")
    new = room.open(games=1)
    assert new != code and room.seats == {}
    with pytest.raises(Refused, match="^code: that game has ended"):
        room.join("late", code, "Late", 1, "attacker")
    room.join("late", new, "Late", 1, "attacker")


def test_a_student_cannot_act_for_the_other_staff_or_before_joining(theatre):
    room, _ = _class(theatre)
    room.start()
    game = room.games[0]
    with pytest.raises(Refused, match="^side: you are on the attacker's staff of game 1; "
                                      "allowed: orders for that staff only"):
        room.submit("a1", 1, "defender", game.orders["defender"])
    with pytest.raises(Refused, match="^seat: you have not joined"):
        room.submit("stranger", 1, "attacker", game.orders["attacker"])
    with pytest.raises(Refused, match="^side: allowed: your own staff's orders only"):
        room.withdraw_submission("a1", 1, "defender")
    assert game.submitted == {"attacker": None, "defender": None}


def test_the_teacher_is_known_by_the_key_only(theatre):
    room = Classroom(theatre, teacher_key="sesame")
    assert room.is_teacher("sesame")
    assert not room.is_teacher("sesam") and not room.is_teacher("") and not room.is_teacher(None)


def test_a_student_who_comes_back_finds_the_staff_as_it_was(theatre):
    room, code = _class(theatre)
    room.join("a1-b", code, "Second attacker", 1, "attacker")
    room.start()
    game = room.games[0]
    orders = game.orders["attacker"].model_copy(update={"intensity": 1.5})
    room.submit("a1", 1, "attacker", orders)
    # The same browser: the seat is there.
    assert room.seat("a1").name == "Attacker 1"
    # A new browser, the same name and staff: refused without the seat's PIN (a name on
    # the board is not enough), the same seat with it.
    with pytest.raises(Refused, match="^name: attacker 1 is taken on this staff; allowed: "
                                      "another name, or this name with its PIN"):
        room.join("a1-phone", code, "attacker 1", 1, "attacker")
    with pytest.raises(Refused, match="^name: attacker 1 is taken"):
        room.join("a1-phone", code, "attacker 1", 1, "attacker", pin="not it")
    pin = room.seat("a1").pin
    seat = room.join("a1-phone", code, "attacker 1", 1, "attacker", pin=pin)
    # A PIN is not guessed: after 5 wrong ones, the seat takes no more (1 tried above).
    for _ in range(wargame.MAX_PIN_TRIES - 1):
        with pytest.raises(Refused, match="^name: Attacker 1 is taken"):
            room.join("guesser", code, "Attacker 1", 1, "attacker", pin="0000"
                      if pin != "0000" else "1111")
    with pytest.raises(Refused, match="^pin: 5 wrong PINs for Attacker 1; allowed: ask the "
                                      "teacher"):
        room.join("guesser", code, "Attacker 1", 1, "attacker", pin=pin)
    assert (seat.game, seat.side, seat.name) == (1, "attacker", "Attacker 1")
    assert room.seat("a1") is seat and room.seat("a1-phone") is seat
    assert room.holders(seat) == 2
    # Not as someone else of the staff.
    with pytest.raises(Refused, match="^name: Attacker 1 is another student of your staff"):
        room.join("a1-b", code, "Attacker 1", 1, "attacker")
    assert game.submitted["attacker"] == "Attacker 1"
    assert game.pending["attacker"] == orders
    assert sorted(room.members(1, "attacker")) == ["Attacker 1", "Second attacker"]


def test_orders_outside_the_limits_are_refused_in_one_line(theatre):
    room, _ = _class(theatre)
    room.start()
    game = room.games[0]
    good = game.orders["attacker"].model_dump()

    def refused(change, match):
        data = {**good, **change} if "contingents" not in change else change
        with pytest.raises(Refused, match=match) as err:
            room.submit("a1", 1, "attacker", data)
        assert "\n" not in str(err.value)

    cats = good["contingents"]
    refused({"intensity": 50.0}, r"^intensity: 50; allowed: 0\.25 to 2")
    refused({"priority": "moon"}, r"^priority: 'moon'; allowed: none or one of north, centre")
    refused({"intensity": "1.0"}, r"^intensity: Input should be a valid number")
    refused({"rotate_below_strength": True}, r"^rotate_below_strength: ")
    refused({"orders": 1}, r"^orders: Extra inputs are not permitted")
    over = {**good, "contingents": {**cats, "volunteers": {**cats["volunteers"],
                                                             "recruits_per_day": 1e5}}}
    refused(over, r"^volunteers.recruits_per_day: 100000; allowed: 0 to 750")
    short = {**good, "contingents": {**cats, "volunteers": {**cats["volunteers"],
                                                              "shortened_training_days": 90}}}
    refused(short, r"^volunteers.shortened_training_days: 90; allowed: 7 to 45")
    deaf = {**good, "contingents": {**cats, "conscripts": {**cats["conscripts"], "bonus": 2.0}}}
    refused(deaf, r"^conscripts.bonus: 2; allowed: 1 \(this category does not answer")
    tactic = {**good, "contingents": {**cats, "conscripts": {**cats["conscripts"],
                                                               "tactic": "fortified_defense"}}}
    refused(tactic, r"^conscripts.tactic: fortified_defense; allowed: human_wave")
    gone = {**good, "contingents": {k: {**v, "withdrawn": True} for k, v in cats.items()}}
    refused(gone, r"^withdrawn: every category; allowed: at least one left in the line")
    unknown = {**good, "contingents": {"volunteers": cats["volunteers"]}}
    refused(unknown, r"^contingents: volunteers; allowed: exactly conscripts, volunteers")
    assert game.submitted["attacker"] is None


def test_the_class_is_bounded_before_anything_is_made(theatre):
    room = Classroom(theatre)
    for games in (0, wargame.MAX_GAMES + 1):
        with pytest.raises(Refused, match=f"^games: {games}; allowed: 1 to 20"):
            room.open(games=games)
    for days in (0, 29, True, "7", 7.0):
        with pytest.raises(Refused, match=r"^turn length: .*; allowed: 1 to 28 days"):
            room.open(turn_days=days)
    assert room.games == [] and room.code is None
    code = room.open(games=1)
    for i in range(wargame.MAX_STUDENTS):
        room.join(f"s{i}", code, f"Student {i}", 1, SIDES[i % 2])
    with pytest.raises(Refused, match="^class: full; allowed: at most 60 students"):
        room.join("one-more", code, "One more", 1, "attacker")


# -------------------------------------------------------------------- the turns
def test_a_turn_resolves_when_both_staffs_submit_and_not_before(theatre):
    room, _ = _class(theatre)
    game = room.games[0]
    with pytest.raises(Refused, match="^orders: the class is joining; allowed: while it runs"):
        room.submit("a1", 1, "attacker", game.orders["attacker"])
    room.start()
    assert room.submit("a1", 1, "attacker", game.orders["attacker"]) is False
    assert (game.turn, game.model.day) == (1, 0)
    # A change of mind before the other staff submits: taken back, given again.
    room.withdraw_submission("a1", 1, "attacker")
    assert game.submitted["attacker"] is None
    room.submit("a1", 1, "attacker", game.orders["attacker"])
    assert room.submit("d1", 1, "defender", game.orders["defender"], turn=1) is True
    assert (game.turn, game.model.day) == (2, 7)
    # Orders from a page that still showed turn 1 are not taken for turn 2.
    with pytest.raises(Refused, match="^turn: turn 1 has ended; allowed: orders for turn 2"):
        room.submit("a1", 1, "attacker", game.orders["attacker"], turn=1)
    assert game.submitted == {"attacker": None, "defender": None}


def test_pause_holds_the_turn_and_the_teacher_ends_it_with_standing_orders(theatre):
    room, _ = _class(theatre, games=2)
    room.start()
    first, second = room.games
    orders = first.orders["attacker"].model_copy(update={"intensity": 1.8})
    room.submit("a1", 1, "attacker", orders)
    room.pause()
    with pytest.raises(Refused, match="^orders: the class is paused"):
        room.submit("d1", 1, "defender", first.orders["defender"])
    with pytest.raises(Refused, match="^advance: the class is paused"):
        room.advance()
    room.start()
    room.set_turn_days(3)
    room.advance()
    assert [g.model.day for g in room.games] == [3, 3]
    assert first.orders["attacker"].intensity == 1.8
    assert [d.said for d in first.decisions] == [("tempo 1 -> 1.8",)]
    assert [d.by for d in first.decisions] == ["Attacker 1"]
    assert second.decisions == []


def test_the_game_ends_with_the_theatre_and_refuses_more_orders(theatre):
    short = theatre.model_copy(update={"max_days": 10})
    room, _ = _class(short)
    room.start()
    room.advance()
    room.advance()
    game = room.games[0]
    assert game.over and game.model.day == 10
    with pytest.raises(Refused, match="^game 1: it is over"):
        room.submit("a1", 1, "attacker", game.orders["attacker"])
    assert "to day 10" in game.outcome()


def test_estimates_of_the_enemy_err_as_documented_and_never_touch_the_run(theatre):
    """log(estimate / truth) of the enemy's line is normal with sd ESTIMATE_ERROR: its
    mean within 3 standard errors of 0 and its sd within 3 standard errors of the sd,
    over 4 games x 20 turns x 2 sides (160 draws, those of lines of 5,000 or more)."""
    room, _ = _class(theatre, games=4)
    _play(room, turns=20, seed=3)
    # Lines of 5,000 and more: estimates are rounded to hundreds, which adds at most
    # 1% to the error there.
    ratios = np.array([math.log(r["enemy_estimate"]["in_line"] / r["enemy_true"]["in_line"])
                       for g in room.games for side in SIDES for r in g.reports[side][1:]
                       if r["enemy_true"]["in_line"] >= 5_000])
    n, sigma = len(ratios), wargame.ESTIMATE_ERROR
    assert n >= 100
    assert abs(ratios.mean()) < 3 * sigma / math.sqrt(n)
    assert abs(ratios.std(ddof=1) - sigma) < 3 * sigma / math.sqrt(2 * (n - 1))
    # Own numbers are exact: the record's.
    game = room.games[0]
    daily = game.model.daily_records()
    last = daily[(daily["contingent"] == "all") & (daily["side"] == "attacker")].iloc[-1]
    assert game.reports["attacker"][-1]["own"]["in_line"] == last["in_line"]


def test_a_class_plays_the_same_on_a_second_try(theatre):
    """The same seed and the same estimates' salt: the same numbers, estimates included;
    another salt (each class draws a secret one): the same run, other estimates."""
    first, _ = _class(theatre, games=2, seed=9)
    second, _ = _class(theatre, games=2, seed=9)
    third, _ = _class(theatre, games=2, seed=9, salt=8)
    for room in (first, second, third):
        _play(room, turns=5, seed=1)
    for a, b, c in zip(first.games, second.games, third.games, strict=True):
        assert a.reports == b.reports
        pd.testing.assert_frame_equal(a.model.daily_records(), b.model.daily_records())
        pd.testing.assert_frame_equal(a.model.daily_records(), c.model.daily_records())
        assert ([r["enemy_estimate"] for r in a.reports["attacker"][1:]]
                != [r["enemy_estimate"] for r in c.reports["attacker"][1:]])


def test_each_class_draws_a_secret_salt_for_its_estimates(theatre):
    """The game's seed is public (on its export): without the class's secret salt a
    student cannot recompute the estimates' errors."""
    salts = {Classroom(theatre)._estimate_salt for _ in range(3)}
    assert salts == {None}
    rooms = [Classroom(theatre) for _ in range(2)]
    for room in rooms:
        room.open(games=1)
    assert rooms[0].games[0]._salt != rooms[1].games[0]._salt


# ------------------------------------------------------------------- the export
def test_an_exported_game_replays_bit_for_bit(theatre, tmp_path):
    room, _ = _class(theatre, games=2)
    _play(room, turns=20, seed=11)
    for game in room.games:
        assert game.over and len(game.decisions) > 10
        path = tmp_path / f"game{game.number}.toml"
        path.write_text(game.export_toml())
        replay = TheatreModel(files.load(path), rng=run_seed(game.seed, 0, 0))
        replay.run()
        pd.testing.assert_frame_equal(replay.daily_records(), game.model.daily_records(),
                                      check_exact=True)
        pd.testing.assert_frame_equal(replay.sector_records(), game.model.sector_records(),
                                      check_exact=True)


def test_attrition_run_replays_an_export_to_the_same_daily_records(theatre, tmp_path):
    """The command a teacher is told to use: its daily.csv is the game's records, to the
    last digit."""
    from sim.theatre.outputs import write_frames

    room, _ = _class(theatre)
    _play(room, turns=6, seed=2)
    game = room.games[0]
    path = tmp_path / "game1.toml"
    path.write_text(game.export_toml())
    assert f"--seed {game.seed}" in path.read_text().splitlines()[1]
    assert main(["run", str(path), "--seed", str(game.seed), "--out",
                 str(tmp_path / "replay")]) == 0
    live = tmp_path / "live"
    live.mkdir()
    write_frames(live, {"daily": game.model.daily_records().assign(
        seed=run_seed(game.seed, 0, 0))})
    assert (tmp_path / "replay" / "daily.csv").read_bytes() == (live / "daily.csv").read_bytes()


def test_a_game_whose_turns_changed_length_still_replays(theatre, tmp_path):
    room, _ = _class(theatre)
    room.start()
    rng = np.random.default_rng(4)
    game = room.games[0]
    for days in (7, 1, 14, 3):
        room.set_turn_days(days)
        for side in SIDES:
            room.submit(f"{side[0]}1", 1, side, random_orders(game, side, rng))
    assert game.model.day == 25
    path = tmp_path / "game.toml"
    path.write_text(game.export_toml())
    replay = TheatreModel(files.load(path), rng=run_seed(game.seed, 0, 0))
    replay.run()
    pd.testing.assert_frame_equal(replay.daily_records(), game.model.daily_records(),
                                  check_exact=True)


def test_the_teacher_brings_lagging_games_on_and_never_pushes_one_ahead(theatre):
    room, _ = _class(theatre, games=3)
    room.start()
    first, second, third = room.games
    for side in SIDES:  # game 1 resolves on its own: it is a turn ahead
        room.submit(f"{side[0]}1", 1, side, first.orders[side])
    room.advance()
    assert [g.turn for g in room.games] == [2, 2, 2]
    room.advance(game=3)
    assert [g.turn for g in room.games] == [2, 2, 3]
    room.advance()
    assert [g.turn for g in room.games] == [3, 3, 3]
    with pytest.raises(Refused, match="^game: 4; allowed: 1 to 3"):
        room.advance(game=4)


def _game_with_lines(theatre, attacker, defender):
    """A game whose record of the line (as shares of the targets) is given."""
    game = wargame.Game(1, theatre, 1)
    shares = pd.DataFrame({"attacker": attacker, "defender": defender})
    game.manning = lambda: shares
    return game


def test_a_line_is_broken_after_a_week_below_half_its_target(theatre):
    thin_for_6 = [1.0] + [0.4] * 6 + [0.9] * 10
    thin_for_7 = [1.0] * 3 + [0.4] * 7 + [0.9] * 7
    held = _game_with_lines(theatre, thin_for_6, [1.0] * 17)
    assert held.broken_on() == {}
    assert held.outcome().startswith("Both lines held (neither below 50% of its targets "
                                     "for 7 days running)")
    broke = _game_with_lines(theatre, [1.0] * 17, thin_for_7)
    assert broke.broken_on() == {"defender": 9}
    assert broke.outcome().startswith("The defender's line broke first: below 50% of its "
                                      "targets for 7 days running by day 9.")
    assert "Recruit pools left: attacker 100%, defender 100%." in broke.outcome()
    both = _game_with_lines(theatre, thin_for_7, thin_for_7)
    assert both.outcome().startswith("Both lines broke on day 9.")


def test_a_change_of_tactic_is_the_categorys_doctrine_for_all_its_battalions(theatre):
    model = TheatreModel(theatre, rng=1)
    model.step()
    model.decide(TheatreChange(day=2, assign={
        "attacker.contingents.volunteers.tactic": "human_wave"}))
    model.step()
    from sim.tactics import TACTICS

    volunteers = model.contingents.index(("attacker", "volunteers"))
    mine = model.battalions["contingent"] == volunteers
    assert mine.any()
    assert (model.battalions["tactic"][mine] == TACTICS.index("human_wave")).all()


def test_a_staff_is_told_how_long_its_line_has_been_thin(theatre):
    game = _game_with_lines(theatre, [1.0, 0.4, 0.3, 0.45], [1.0, 0.9, 0.4, 0.8])
    assert game.days_below("attacker") == 3
    assert game.days_below("defender") == 0
    # The staffs' verdict keeps the enemy's pool to the debrief.
    assert "pools" not in game.outcome(pools=False)


def test_the_python_api_takes_no_coerced_types(theatre):
    room, code = _class(theatre)
    room.start()
    orders = room.games[0].orders["attacker"]
    for bad in ("1", 1.0, True):
        with pytest.raises(Refused, match="^game: .* is not a whole number"):
            room.join("x", code, "Eve", bad, "attacker")
        with pytest.raises(Refused, match="^game: .* is not a whole number"):
            room.submit("a1", bad, "attacker", orders)
        with pytest.raises(Refused, match="^turn: .* is not a whole number"):
            room.submit("a1", 1, "attacker", orders, turn=bad)
    for bad in (None, 5, b"Eve"):
        with pytest.raises(Refused, match="^name: not text; allowed: text"):
            room.join("x", code, bad, 1, "attacker")
    with pytest.raises(Refused, match="^code: not text"):
        room.join("x", 12345, "Eve", 1, "attacker")
    with pytest.raises(Refused, match="^name: 1,000,000 characters; allowed: at most 200"):
        room.join("x", code, "a" * 1_000_000, 1, "attacker")
    for bad in (2, True, "2"):
        with pytest.raises(Refused, match="^games: "):
            room.open(games=bad) if bad != 2 else room.open(games=wargame.MAX_GAMES + 1)


def test_names_are_names_not_markup_or_stacks_of_accents(theatre):
    room, code = _class(theatre)
    assert room.join("o", code, "Siobhán O'Brien", 1, "attacker").name == "Siobhán O'Brien"
    # Decomposed accents are the same name composed (NFC).
    assert room.join("n", code, "Nguye\u0302\u0303n", 1, "defender").name == "Nguy\u1ec5n"
    for name in ("Z" + "\u0301" * 25, 'Eve "the spy"', "<b>Eve</b>"):
        with pytest.raises(Refused, match="^name: allowed: 1 to 30 printable characters"):
            room.join("z", code, name, 1, "attacker")


def test_the_teacher_removes_a_student_who_must_join_again(theatre):
    room, code = _class(theatre)
    room.remove(1, "attacker", "Attacker 1")
    assert room.seat("a1") is None and room.members(1, "attacker") == []
    with pytest.raises(Refused, match="^student: no 'Nobody' on the attacker's staff"):
        room.remove(1, "attacker", "Nobody")
    # Removed from the wrong staff, the student joins the right one.
    assert room.join("a1", code, "Attacker 1", 1, "defender").side == "defender"


def test_a_class_too_big_for_memory_is_refused_before_any_game_is_made(theatre,
                                                                       monkeypatch):
    from sim.model.memory import LIMIT_VARIABLE
    from sim.theatre.records import estimate_memory

    one, _ = estimate_memory(theatre)
    monkeypatch.setenv(LIMIT_VARIABLE, str(3.5 * one / 2**30))
    room = Classroom(theatre)
    with pytest.raises(Refused, match=r"^games: 4 games of classroom_war would hold about "
                                      r".* GiB; allowed: at most 3 games"):
        room.open(games=4)
    assert room.games == [] and room.code is None
    room.open(games=3)


def test_limits_always_allow_the_theatres_own_orders():
    """A theatre whose own values lie outside the game's usual ranges can still be
    played: its standing orders are within its limits."""
    data = TheatreScenario.model_validate(EXAMPLE).model_dump()
    contract = data["attacker"]["contingents"]["contract"]
    contract.update(training_days=5.0, unit_size=60, pool=0)
    data["attacker"]["rotate_below_strength"] = 0.9
    theatre = TheatreScenario.model_validate(data)
    for side in SIDES:
        wargame.Limits.of(theatre, side).check(wargame.standing_orders(theatre, side))
    limits = wargame.Limits.of(theatre, "attacker")
    assert limits.recruits_per_day["contract"] == wargame.Range(300.0, 300.0)


def test_a_game_exports_only_once_it_has_run_a_day(theatre):
    room, _ = _class(theatre)
    with pytest.raises(Refused, match="^export: game 1 has not run a day"):
        room.games[0].export_toml()


def test_the_class_and_the_replay_refuse_the_wrong_kind_of_file(tmp_path, capsys):
    """`attrition demo --class` plays a theatre, not a sector scenario; `attrition run` on
    a theatre writes CSV only: each says so in one line, exit 2, nothing written."""
    from pathlib import Path

    sector = Path(__file__).resolve().parents[1] / "scenarios" / "bakhmut_2022_2023.toml"
    assert main(["demo", "--class", str(sector)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("sectors: not a theatre (a sector scenario?); allowed: with --class, "
                        "a theatre: a file whose sectors is a list, or one of classroom_war, "
                        "theatre_2023_2024") and "\n" not in err
    assert main(["run", "classroom_war", "--format", "parquet", "--out",
                 str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == (
        "attrition: error: --format parquet: a theatre's run writes CSV; allowed: --format "
        "csv with a theatre")
    assert not (tmp_path / "out").exists()
