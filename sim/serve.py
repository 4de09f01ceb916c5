"""``attrition demo``'s launcher: warm the model up, start the page's server as a child
process, and say where the page is only once it answers.

The server (``python -m solara run sim.app``) takes several seconds to start, and on a
machine where the model has never run, its compiled kernels (numba, cached on disk)
take a while to build on first use. So :func:`warm_up` first steps the model once in
this process (which compiles and caches the kernels, and says so:
:func:`sim.model.kernels.announce_compiling`), then :func:`serve` starts the server
and prints the address when a GET of it returns 200: a teacher who clicks the address
at once gets the page.

The server stops with the launcher, however it ends: Ctrl-C in the terminal reaches
both (the child stays in the launcher's process group), SIGTERM to the launcher is
passed on to the child, and on Linux the kernel kills the child if the launcher dies
(``PR_SET_PDEATHSIG``). Stopped once the page was served, the launcher exits 0 (that is
how a demo ends); stopped before, 130; a server that dies, or never answers, gives one
line with the last line of its output and exit status 1.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import TextIO

from sim.publish import shown

#: Seconds the warm-up may take before the launcher says it is compiling.
NOTICE_AFTER_S = 1.5
COMPILING = "attrition demo: getting the model ready..."
#: Seconds the server may take to answer (far more than it needs, even on a busy
#: machine) before the launcher gives up on it.
READY_TIMEOUT_S = 300.0
#: Seconds a stopping server has to close its connections before it is killed.
STOP_GRACE_S = 5.0
POLL_EVERY_S = 0.1
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>, as in sim.executors


class ServerError(Exception):
    """The server died or never answered: one line."""


def warm_up(work: Callable[[], object], *, notice: Callable[[], None],
            after_s: float = NOTICE_AFTER_S) -> None:
    """Run ``work`` in a background thread; call ``notice`` if it is not done within
    ``after_s`` seconds; wait for it, and raise what it raised. Ctrl-C while waiting
    raises KeyboardInterrupt here (the thread is a daemon: it does not hold the exit).

    >>> warm_up(lambda: None, notice=lambda: print("slow"))
    >>> warm_up(lambda: time.sleep(0.2), notice=lambda: print("slow"), after_s=0.05)
    slow
    """
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as err:  # noqa: BLE001 - raised again in the caller
            failure.append(err)

    thread = threading.Thread(target=run, name="attrition-warm-up", daemon=True)
    thread.start()
    thread.join(after_s)
    kernels = sys.modules.get("sim.model.kernels")
    if thread.is_alive() and not (kernels is not None and kernels.announced()):
        notice()  # unless the model has said that it is compiling
    while thread.is_alive():  # short joins: Ctrl-C is seen between them
        thread.join(0.5)
    if failure:
        raise failure[0]


def local_url(host: str, port: int) -> str:
    """The address at which this machine reaches a server listening on ``host``:
    127.0.0.1 (or ::1) for a server on every address.

    >>> local_url("0.0.0.0", 80), local_url("::", 80), local_url("fe80::1", 80)
    ('http://127.0.0.1:80/', 'http://[::1]:80/', 'http://[fe80::1]:80/')
    """
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def network_url(port: int) -> str:
    """The address at which other machines on this machine's network reach a server on
    every address: the address of the interface that would carry traffic out (found
    without sending anything; none without a network, and then said in words)."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 1))  # UDP: no packet leaves
            host = probe.getsockname()[0]
    except OSError:
        return f"this machine's network address, port {port}"
    return f"http://{host}:{port}/"


def answers(url: str, timeout_s: float = 2.0) -> bool:
    """Whether a GET of ``url`` returns 200 now (directly: never through a proxy that the
    environment names, which could not reach this machine's 127.0.0.1)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout_s) as response:
            return response.status == 200
    except (OSError, urllib.error.HTTPError, ValueError):
        return False


def _die_with_parent() -> Callable[[], None] | None:
    """A function for the child to run before it starts the server: on Linux, the kernel
    sends the child SIGKILL when this process dies (SIGKILL included). Looked up here,
    not in the child, which runs it between fork and exec."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def in_child() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the launcher died before the line above
            os._exit(1)

    return in_child


@contextlib.contextmanager
def _stop_signals_interrupt(first: Callable[[], None]) -> Iterator[None]:
    """SIGINT and SIGTERM call ``first``, then raise KeyboardInterrupt, so that both
    stop the server: SIGINT too, as a shell that starts the launcher in the background
    has it ignored (and the server, which sets its own handlers, would stop alone)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        first()
        raise KeyboardInterrupt

    previous = {signum: signal.signal(signum, interrupt)
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class _Output:
    """The child's output (stdout and stderr together), read by a thread: its last lines
    kept for an error message and, once the page is served and until it is told to
    stop, passed on to ``to`` (Solara's warnings). Before that, only kept: Solara says
    that it is starting, which the launcher's line says better once it has started."""

    def __init__(self, stream, to: TextIO, passing: threading.Event):
        self.lines: collections.deque[str] = collections.deque(maxlen=50)
        self.passing = passing
        self._to = to
        self._thread = threading.Thread(target=self._read, args=(stream,),
                                        name="attrition-server-output", daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        # Ctrl-C and SIGTERM are the main thread's: one delivered to this thread, blocked
        # in a read, would wait for the main thread's next bytecode (after the server,
        # having had the same Ctrl-C, stopped).
        if hasattr(signal, "pthread_sigmask"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.lines.append(line)
            if self.passing.is_set():
                with contextlib.suppress(OSError, ValueError):
                    print(line, file=self._to, flush=True)
        stream.close()

    def last_line(self) -> str:
        """The child's last line of output that is not blank (a traceback's last line
        is its error), once it has all been read."""
        self._thread.join(2.0)
        for line in reversed(self.lines):
            if line.strip():
                return shown(line.strip(), 300)
        return "no output"


def serve(command: list[str], env: dict[str, str], url: str, ready: str, *,
          timeout_s: float = READY_TIMEOUT_S, out: TextIO | None = None,
          err: TextIO | None = None) -> int:
    """Run the server ``command`` with ``env`` as a child process; print ``ready`` on
    ``out`` once a GET of ``url`` returns 200; serve until Ctrl-C or SIGTERM (exit status
    0, or 130 if it comes before ``ready``), stopping the child. If the child dies, or
    does not answer within ``timeout_s``, raise ServerError (one line)."""
    out = out or sys.stdout
    err = err or sys.stderr
    child: subprocess.Popen | None = None
    served = False
    # What the server says once it is told to stop (on Ctrl-C, click's "Aborted." and
    # uvicorn's tracebacks of cancelled tasks) is not the class's business: quiet from
    # the signal on (Popen.wait itself waits a moment for the child on Ctrl-C).
    passing = threading.Event()
    try:
        with _stop_signals_interrupt(passing.clear):
            # Unbuffered: the child's lines arrive in the order written (an error on
            # stderr after, not before, what it printed on stdout).
            child = subprocess.Popen(command, env=env | {"PYTHONUNBUFFERED": "1"},
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=False, preexec_fn=_die_with_parent())
            output = _Output(child.stdout, err, passing)
            deadline = time.monotonic() + timeout_s
            while not answers(url):
                if child.poll() is not None:
                    raise ServerError(f"the server stopped before it answered (exit status "
                                      f"{child.returncode}): {output.last_line()}")
                if time.monotonic() > deadline:
                    raise ServerError(f"the server did not answer on {url} within "
                                      f"{timeout_s:g} s; its last output: "
                                      f"{output.last_line()}")
                time.sleep(POLL_EVERY_S)
            passing.set()
            served = True  # before the line: whoever reads it may stop the demo at once
            print(ready, file=out, flush=True)
            status = child.wait()
            passing.clear()
            raise ServerError(f"the server stopped (exit status {status}): "
                              f"{output.last_line()}")
    except KeyboardInterrupt:
        passing.clear()
        if child is not None:
            _stop(child)
        print("attrition demo: stopped", file=err, flush=True)
        return 0 if served else 130
    finally:
        if child is not None:
            _stop(child)


def _stop(child: subprocess.Popen) -> None:
    """Stop the child (SIGTERM, then SIGKILL after STOP_GRACE_S), not to be interrupted
    by a second Ctrl-C or SIGTERM: the server must not be left running."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, signal.SIG_IGN)
    try:
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.terminate()
            try:
                child.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
