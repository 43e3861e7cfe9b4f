"""The servers a cluster fixture starts end with the test process that started them.

The fixture's ``finally`` stops them on a normal end. A ``SIGTERM`` or ``SIGHUP`` (a CI job cancelled
or timed out, a closed terminal) would kill the process before any ``finally`` ran, leaving the
daemonized servers behind, holding their ports; :func:`track` stops them first and then lets the
signal do what it did before, and stops them at exit too (an interrupted run). After a ``SIGKILL``
nothing runs: the next run's :func:`reap` ends what a folder of a dead owner still runs.

Servers are found only by the PID files in the fixture's own folder, and a PID is signalled only
while its process's command line still names that server, never by a process name pattern.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType

OWNER = "owner.pid"  # in each fixture folder: the PID of the test process that made it

Pid = tuple[Path, str]  # a PID file and a text the process's command line holds (a port, a data folder)

_stops: dict[object, Callable[[], None]] = {}
_installed = False


def track(home: Path, stop: Callable[[], None]) -> None:
    """Run ``stop`` if this process ends (exit, ``SIGTERM``, ``SIGHUP``) before :func:`untrack`."""
    (home / OWNER).write_text(f"{os.getpid()}\n")
    also(home, stop)


def also(key: object, stop: Callable[[], None]) -> None:
    """Run ``stop`` too if this process ends before ``untrack(key)``, before what was tracked earlier
    (a test run using the servers ends before them)."""
    _stops[key] = stop
    _install()


def untrack(key: object) -> None:
    _stops.pop(key, None)


def _stop_all() -> None:
    for stop in reversed(list(_stops.values())):
        with contextlib.suppress(Exception):  # stop the others even when one fails
            stop()
    _stops.clear()


def _install() -> None:
    global _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    _installed = True
    atexit.register(_stop_all)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        previous = signal.getsignal(sig)

        def handler(signum: int, frame: FrameType | None, previous: object = previous) -> None:
            _stop_all()
            if callable(previous):
                previous(signum, frame)
            elif previous != signal.SIG_IGN:  # the default: die of this signal, as before
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)

        signal.signal(sig, handler)


def running_pid(pid: Pid) -> int | None:
    """The PID in the file, when that process still runs the server the file belongs to."""
    path, mark = pid
    try:
        number = int(path.read_text().split()[0])
        cmdline = Path(f"/proc/{number}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (OSError, ValueError, IndexError):
        return None
    return number if mark in cmdline else None


def end(pids: Iterable[Pid], sig: signal.Signals, timeout: float = 15) -> list[int]:
    """Send ``sig`` to each server of ``pids`` and wait until they are gone; the PIDs still running."""
    running = [p for p in (running_pid(pid) for pid in pids) if p is not None]
    for number in running:
        with contextlib.suppress(ProcessLookupError):
            os.kill(number, sig)
    deadline = time.monotonic() + timeout
    while running and time.monotonic() < deadline:
        running = [n for n in running if alive(n)]
        if running:
            time.sleep(0.02)
    return running


def alive(number: int) -> bool:
    try:
        os.kill(number, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A daemon that exited is reaped by init; one still shown as a zombie has ended too.
    with contextlib.suppress(OSError):
        return Path(f"/proc/{number}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return False


def reap(prefix: str, pids_of: Callable[[Path], list[Pid]], sig: signal.Signals) -> None:
    """End the servers of fixture folders ``<tmp>/<prefix>*`` whose owner is gone, and remove the folders."""
    for home in Path(tempfile.gettempdir()).glob(prefix + "*"):
        try:
            owner = int((home / OWNER).read_text())
        except (OSError, ValueError):
            continue  # not one of ours, or still being made
        if owner == os.getpid() or alive(owner):
            continue
        if not end(pids_of(home), sig):
            shutil.rmtree(home, ignore_errors=True)
