"""Where independent runs go: this process, a pool of local processes, or a Dask
distributed cluster. A sweep's runs and a calibration's evaluations both go through
:func:`executor_for`; the numbers do not depend on which (each run carries its seed).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context

from sim.scenarios import ScenarioError


class _SerialExecutor(Executor):
    """Runs each task when submitted, in this process (workers = 1)."""

    def submit(self, fn, /, *args, **kwargs):
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:  # noqa: BLE001
            future.set_exception(err)
        return future


@contextmanager
def executor_for(workers: int = 1, scheduler: str | None = None
                 ) -> Iterator[tuple[Executor, int]]:
    """An executor for independent runs and how many it runs at once: a Dask
    distributed cluster at ``scheduler``, else ``workers`` local processes (spawned,
    ignoring Ctrl-C, which is the driver's, and ending with the driver however it
    ends), else this process. On a cluster, the scheduler drops the tasks of a driver
    that is gone as soon as its connection closes. What it runs must
    pickle. Closed (pending work cancelled) on leaving the block.

    >>> with executor_for(1) as (executor, slots):
    ...     executor.submit(pow, 2, 10).result(), slots
    (1024, 1)
    """
    if scheduler:
        client = _connect(scheduler)
        try:
            yield client.get_executor(), max(1, sum(client.nthreads().values()))
        finally:
            client.close()
        return
    if workers <= 1:
        yield _SerialExecutor(), 1
        return
    with _workers_ignore_interrupts():
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"),
                                   initializer=end_with_parent, initargs=(os.getpid(),))
        # A pool spawns a worker per submission until it has them all: start them all
        # now, while they inherit the ignored SIGINT.
        for _ in range(workers):
            pool.submit(int)
    try:
        yield pool, workers
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _connect(scheduler: str):
    """A client of the Dask scheduler at ``scheduler``, before anything is written."""
    from distributed import Client

    try:
        return Client(scheduler, timeout="10s")
    except (OSError, ValueError) as err:
        raise ScenarioError(scheduler, "--scheduler", f"cannot reach it ({err}); allowed: "
                            f"the address of a running Dask scheduler, e.g. "
                            f"tcp://10.0.0.5:8786") from None


def end_with_parent(parent: int) -> None:
    """Make this worker process end when ``parent`` (its driver) does, however the driver
    ends: SIGKILL included, which leaves the driver no chance to stop its pool.

    A pool's worker blocks on a queue whose writing end it holds itself, so it never
    sees its driver go. On Linux the kernel sends it SIGKILL when the driver dies
    (``PR_SET_PDEATHSIG``); everywhere, a watchdog thread checks once a second that the
    driver is still its parent."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watchdog below still ends the worker
    if os.getppid() != parent:  # the driver died before the line above
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="end-with-driver", daemon=True).start()


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


@contextmanager
def _workers_ignore_interrupts():
    """Ctrl-C is the driver's to handle: it stores what finished and stops the workers.

    An ignored SIGINT is inherited across ``exec``, so a worker started in this block
    ignores it from its first instruction (an initializer would leave the worker's
    start-up exposed). A Ctrl-C during the block itself is lost."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
