"""A real browser against a real `attrition demo`: Debian's Chromium, installed here on
first use (tests run as root on these machines), driven by Playwright."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
# As root Chromium needs --no-sandbox; the rest keep it from calling home (which a closed
# network refuses, many times over) and from doing work a test does not need.
CHROMIUM_ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def ensure_chromium() -> str:
    """Debian's Chromium, installed with apt-get if missing (one installer at a time
    across test workers). Fails the test with the reason if it cannot be installed."""
    found = shutil.which("chromium") or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    if found:
        return found
    lock_path = Path(tempfile.gettempdir()) / "attrition-chromium-install.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(CHROMIUM):
            return CHROMIUM
        if os.geteuid() != 0:
            pytest.fail("Chromium is missing and the tests are not root; install Debian's "
                        "chromium package (apt-get install chromium)")
        env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update", "-qq"],
                        ["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                         "chromium"]):
            done = subprocess.run(command, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                pytest.fail(f"{' '.join(command)} failed: {done.stderr.strip()[-500:]}")
    return CHROMIUM


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def demo_server(*args: str, timeout_s: float = 120, ready: str = " at {url} "):
    """Start ``attrition demo ARGS`` on a free port of 127.0.0.1; yield its address (once
    the launcher has printed ``ready``, with ``{url}`` the address: the page answers by
    then) and the path of its output; stop it (and anything it started) at the end."""
    port = free_port()
    log = Path(tempfile.mkstemp(prefix="attrition-demo-", suffix=".log")[1])
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, "-m", "sim", "demo", *args, "--port",
                                   str(port)], stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + timeout_s
        while ready.format(url=url) not in log.read_text():
            if server.poll() is not None:
                pytest.fail(f"attrition demo exited with {server.returncode}: "
                            f"{log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"attrition demo did not print its address in {timeout_s} s: "
                            f"{log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield url, log
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.unlink(missing_ok=True)
