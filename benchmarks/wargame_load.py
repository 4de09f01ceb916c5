"""Benchmark: a full class of the wargame under load.

``--students`` simulated students (40 by default: ``--games`` games of two staffs of two)
each run in a thread of their own against one :class:`sim.wargame.Classroom`, as the
pages' sessions do in the server: each waits for its game to change
(:meth:`Classroom.wait`), thinks for a moment (0 to ``--think-ms``), and submits orders
drawn anywhere within its staff's limits, for the week its page shows, for ``--turns``
turns. A staff's two students both submit (the later one's orders stand); a submission
that arrives after its week resolved is refused as stale, as on the page, and counted
(not an error). Every other refusal or exception is an error.

It reports, per turn resolved: the time the resolving submission took (the turn's days
for that game, the estimates, the records read) and the time until every student of the
game had seen the new week; the time the teacher's "End the turn now" takes for all the
games at once; and the errors (target: each turn under one second, no error). At the
end every game is exported and replayed, and its replay must equal it.

    python3 benchmarks/wargame_load.py                  # 40 students, 20 turns, ~10 s
    python3 benchmarks/wargame_load.py --games 15 --turns 20   # 60 students, the most
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def student(room, session: str, game_number: int, side: str, turns: int, think_s: float,
            seed: int, log: dict, lock: threading.Lock) -> None:
    """One student's loop: see the week, think, submit; until the game has had
    ``turns`` turns or is over."""
    from test_wargame import random_orders

    from sim.wargame import Refused

    rng = np.random.default_rng(seed)
    game = room.game(game_number)
    version = -1
    while True:
        with room._lock:
            turn, over = game.turn, game.over
        if over or turn > turns:
            return
        time.sleep(rng.uniform(0, think_s))
        try:
            with room._lock:
                orders = random_orders(game, side, rng)
            start = time.perf_counter()
            resolved = room.submit(session, game_number, side, orders, turn=turn)
            took = time.perf_counter() - start
            if resolved:
                with lock:
                    log["resolve_s"].append(took)
                    log["resolved_at"][(game_number, turn)] = time.perf_counter()
        except Refused as err:
            if str(err).startswith("turn: "):
                with lock:
                    log["stale"] += 1
            else:
                with lock:
                    log["errors"].append(f"{session}: {err}")
                return
        except Exception as err:  # noqa: BLE001 - counted, reported, fails the benchmark
            with lock:
                log["errors"].append(f"{session}: {type(err).__name__}: {err}")
            return
        # Wait for this week to end, then note when this student saw the next one.
        while True:
            version = room.wait(version, 1.0)
            with room._lock:
                if game.turn != turn or game.over:
                    seen = time.perf_counter()
                    break
        with lock:
            log["seen"].setdefault((game_number, turn), []).append(seen)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--games", type=int, default=10, help="games (4 students each)")
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--think-ms", type=float, default=50.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from sim.seeds import run_seed
    from sim.theatre import TheatreModel, files
    from sim.wargame import CLASS_THEATRE, Classroom

    theatre = files.load(CLASS_THEATRE)
    room = Classroom(theatre, seed=args.seed)
    code = room.open(games=args.games)
    people = []
    for g in range(1, args.games + 1):
        for side in ("attacker", "defender"):
            for member in (1, 2):
                session = f"g{g}-{side}-{member}"
                room.join(session, code, session, g, side)
                people.append((session, g, side))
    room.start()
    log = {"resolve_s": [], "resolved_at": {}, "seen": {}, "stale": 0, "errors": []}
    lock = threading.Lock()
    threads = [threading.Thread(target=student, args=(
        room, session, g, side, args.turns, args.think_ms / 1e3, run_seed(args.seed, i, 0),
        log, lock), daemon=True) for i, (session, g, side) in enumerate(people)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(600)
    wall = time.perf_counter() - start
    resolve_ms = np.array(log["resolve_s"]) * 1e3
    seen_ms = np.array([(max(log["seen"].get(key, [at])) - at) * 1e3
                        for key, at in log["resolved_at"].items()])
    turns = [g.turn - 1 for g in room.games]

    # The teacher's "End the turn now": every game's turn at once, on standing orders.
    advance = Classroom(theatre, seed=args.seed + 1)
    advance.open(games=args.games)
    advance.start()
    advance_ms = []
    for _ in range(args.turns):
        begin = time.perf_counter()
        advance.advance()
        advance_ms.append((time.perf_counter() - begin) * 1e3)

    mismatches = 0
    for game in room.games:
        replay = TheatreModel(game.scenario(), rng=run_seed(game.seed, 0, 0))
        replay.run()
        mismatches += not replay.daily_records().equals(game.model.daily_records())

    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    print(f"{len(people)} students in {args.games} games, {args.turns} turns each, think "
          f"time up to {args.think_ms:g} ms: {wall:.1f} s in all")
    print(f"turns resolved: {len(resolve_ms)} (per game: {min(turns)} to {max(turns)})")
    print(f"turn resolution: median {np.median(resolve_ms):.0f} ms, 95th percentile "
          f"{np.percentile(resolve_ms, 95):.0f} ms, max {resolve_ms.max():.0f} ms "
          f"(target: under 1,000 ms)")
    print(f"the teacher ending the turn of all {args.games} games at once: median "
          f"{np.median(advance_ms):.0f} ms, max {max(advance_ms):.0f} ms (target: under "
          f"1,000 ms)")
    print(f"until every student of the game saw the new turn: median "
          f"{np.median(seen_ms):.0f} ms, max {seen_ms.max():.0f} ms")
    print(f"stale submissions refused (a turn resolved while a student was submitting): "
          f"{log['stale']}")
    print(f"errors: {len(log['errors'])}" + "".join(f"\n  {e}" for e in log["errors"][:10]))
    print(f"replays equal to their games: {args.games - mismatches} of {args.games}")
    ok = (not log["errors"] and resolve_ms.max() < 1000 and max(advance_ms) < 1000
          and not mismatches
          and min(turns) == args.turns)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
