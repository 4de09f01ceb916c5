"""The classroom page's controls and `attrition demo` (the page itself, drawn and in a
real Chromium, is tests/test_page.py)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pandas as pd
import pytest

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


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    from pathlib import Path

    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _gone(pid: int, timeout_s: float = 10.0) -> bool:
    """Whether process ``pid`` has ended (or is a zombie) within ``timeout_s``."""
    import time
    from pathlib import Path

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


def _refused(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


class _Launcher:
    """`attrition demo ARGS --port P` in its own process group (as a terminal would run
    it), read line by line from its stdout until its address."""

    def __init__(self, *args: str, env: dict[str, str] | None = None):
        from browser_helpers import free_port

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "sim", "demo", *args, "--port", str(self.port)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
            start_new_session=True)
        self.lines: list[str] = []

    def address_line(self, timeout_s: float = 180.0) -> str:
        import selectors
        import time

        deadline = time.monotonic() + timeout_s
        with selectors.DefaultSelector() as waiting:
            waiting.register(self.process.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not waiting.select(timeout=deadline - time.monotonic()):
                    break
                line = self.process.stdout.readline()
                if not line:
                    break
                self.lines.append(line)
                if " at http://" in line:
                    return line
        self.stop()
        pytest.fail(f"no address from attrition demo: {self.lines} {self.process.stderr.read()}")

    def stop(self) -> None:
        import os
        import signal

        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def _get(url: str) -> tuple[int, str]:
    """The status and text of a GET of ``url``, once, at once (no proxy)."""
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as response:
        return response.status, response.read().decode()


def test_demo_prints_its_address_once_the_page_answers_and_sigterm_stops_it():
    """The address line comes when the page answers (a GET at once, not retried, gives
    200, with Solara's banner off); SIGTERM to the launcher alone stops the server it
    started, and the launcher exits 0 with one line."""
    import os
    import signal

    demo = _Launcher()
    try:
        line = demo.address_line()
        assert line == (f"attrition demo: recruit_pool_exhaustion at {demo.url} "
                        f"(Ctrl-C stops it)\n")
        status, page = _get(demo.url)
        assert status == 200
        assert '"show_banner": false' in page and "<title>attrition-sim</title>" in page
        (server,) = _children(demo.process.pid)
        os.kill(demo.process.pid, signal.SIGTERM)
        assert demo.process.wait(timeout=30) == 0
        assert demo.process.stderr.read() == "attrition demo: stopped\n"
        assert _gone(server) and _refused(demo.port)
    finally:
        demo.stop()


def test_ctrl_c_stops_the_demo_and_its_server_without_a_traceback():
    """Ctrl-C in a terminal: SIGINT to the whole process group, launcher and server."""
    import os
    import signal

    demo = _Launcher("lanchester_square")
    try:
        demo.address_line()
        (server,) = _children(demo.process.pid)
        os.killpg(demo.process.pid, signal.SIGINT)
        assert demo.process.wait(timeout=30) == 0
        said = demo.process.stderr.read()
        assert said == "attrition demo: stopped\n", said
        assert _gone(server) and _refused(demo.port)
    finally:
        demo.stop()


def _fake_solara(folder, main: str) -> dict[str, str]:
    """An environment in which `python -m solara` runs ``main`` instead of Solara (the
    launcher itself does not import Solara)."""
    import os

    package = folder / "solara"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(main)
    return os.environ | {"PYTHONPATH": os.pathsep.join(
        filter(None, [str(folder), os.environ.get("PYTHONPATH")]))}


def test_a_server_that_dies_before_answering_is_one_line_and_exit_1(tmp_path):
    env = _fake_solara(tmp_path, "import sys\n"
                                 "print('Solara server is starting at http://...')\n"
                                 "sys.exit('OSError: [Errno 98] Address already in use')\n")
    demo = _Launcher(env=env)
    try:
        assert demo.process.wait(timeout=120) == 1
        assert demo.process.stdout.read() == ""
        said = demo.process.stderr.read()
        assert said == ("attrition demo: error: the server stopped before it answered "
                        "(exit status 1): OSError: [Errno 98] Address already in use\n")
    finally:
        demo.stop()


def test_the_server_ends_when_its_launcher_is_killed(tmp_path):
    """SIGKILL gives the launcher no chance to stop its server: the kernel does
    (PR_SET_PDEATHSIG)."""
    import os
    import signal

    env = _fake_solara(tmp_path, (
        "import http.server, sys\n"
        "host, port = sys.argv[sys.argv.index('--host') + 1], "
        "int(sys.argv[sys.argv.index('--port') + 1])\n"
        "http.server.HTTPServer((host, port), http.server.SimpleHTTPRequestHandler)"
        ".serve_forever()\n"))
    demo = _Launcher(env=env)
    try:
        demo.address_line()
        (server,) = _children(demo.process.pid)
        os.kill(demo.process.pid, signal.SIGKILL)
        demo.process.wait(timeout=10)
        assert _gone(server) and _refused(demo.port)
    finally:
        demo.stop()


def test_serve_reports_a_server_that_fails_or_never_answers():
    from sim.serve import ServerError, serve

    with pytest.raises(ServerError, match=r"^the server stopped before it answered \(exit "
                                          r"status 1\): boom: no such thing$"):
        serve([sys.executable, "-c", "import sys; print('starting'); "
                                     "sys.exit('boom: no such thing')"],
              {}, "http://127.0.0.1:9/", "never printed")
    with pytest.raises(ServerError, match=r"did not answer on http://127\.0\.0\.1:9/ "
                                          r"within 1 s; its last output: waiting"):
        serve([sys.executable, "-c", "import time; print('waiting', flush=True); "
                                     "time.sleep(60)"],
              {}, "http://127.0.0.1:9/", "never printed", timeout_s=1.0)


def test_warm_up_says_it_is_compiling_only_when_it_takes_a_while():
    import time

    from sim.serve import warm_up

    said = []
    warm_up(lambda: None, notice=lambda: said.append("compiling"), after_s=1.0)
    assert said == []
    warm_up(lambda: time.sleep(0.5), notice=lambda: said.append("compiling"), after_s=0.1)
    assert said == ["compiling"]
    with pytest.raises(MemoryError, match="too big"):
        warm_up(lambda: (_ for _ in ()).throw(MemoryError("too big")), notice=lambda: None)


def test_warm_up_waits_for_its_work_when_the_model_has_said_it_compiles(monkeypatch):
    """The model's own notice replaces the launcher's, not the wait: the page is served
    only once the warm-up is done."""
    import time

    from sim.model import kernels
    from sim.serve import warm_up

    monkeypatch.setattr(kernels, "_announced", True)
    said, done = [], []
    warm_up(lambda: (time.sleep(0.4), done.append(True)),
            notice=lambda: said.append("compiling"), after_s=0.05)
    assert done == [True] and said == []
