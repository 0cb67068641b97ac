"""Termination signals handled like Ctrl-C, and children that never outlive dbadmin.

``timeout``, systemd, Kubernetes and CI runners stop a job with SIGTERM (terminals that close send
SIGHUP). By default Python dies at once on either, skipping every clean-up the code has for
Ctrl-C: temporaries stay, children keep running, and a child fed through a pipe reads end-of-file
as a normal end of input. :func:`install` turns both signals into :class:`Terminated`, a
``KeyboardInterrupt`` subclass, so every ``except KeyboardInterrupt`` / ``finally`` that cleans
up after Ctrl-C runs for them too; the CLI then exits 128 + the signal number (143, 129).

Python runs a signal handler only between bytecodes, never while libpq blocks in C for a
statement: a SIGTERM would wait for a 20-minute CREATE INDEX. So the handlers also wake a watcher
thread (``signal.set_wakeup_fd``, written by the C-level handler at once), which sends a cancel
request for every open connection made by :func:`dbadmin.db.connect_raw` (:func:`track`). The
statement ends with an error, control returns to Python, and the handler's exception unwinds
through the usual clean-up (rollback, temporaries, children).

SIGKILL cannot be caught: for that, :func:`child_preexec` asks Linux to kill each child when
dbadmin dies (``PR_SET_PDEATHSIG``), so no pg_dump/pg_restore/psql keeps working for a dead
parent, and their server sessions end with them.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any

HANDLED = (signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1


class Terminated(KeyboardInterrupt):
    """Raised in the main thread when SIGTERM or SIGHUP arrives."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    # Later signals of the same kind must not interrupt the clean-up this one starts.
    for sig in HANDLED:
        signal.signal(sig, signal.SIG_IGN)
    raise Terminated(signum)


# Connections to cancel when a stop signal arrives. Process-wide by nature (signals are): weak
# references only, so tracking never keeps a connection alive.
_open_connections: weakref.WeakSet[Any] = weakref.WeakSet()
_STOP_SIGNALS = frozenset({int(signal.SIGINT), *(int(s) for s in HANDLED)})


def track(conn: Any) -> None:
    """Cancel ``conn``'s running statement when SIGINT/SIGTERM/SIGHUP arrives (see module doc)."""
    _open_connections.add(conn)


_received: list[int] = []  # stop signals seen by the watcher, in order


def stop_signal() -> int | None:
    """The first stop signal this process received (SIGINT/SIGTERM/SIGHUP), or None. The
    statement it cancelled fails with "canceling statement due to user request": that error
    is the signal's doing, and the run must end as stopped by it (exit 130/143/129), not as a
    timeout."""
    return _received[0] if _received else None


def cancel_open_statements() -> None:
    for conn in list(_open_connections):
        try:
            if not conn.closed:
                conn.cancel()
        except Exception:  # a connection being closed meanwhile: nothing to cancel
            pass


def _watch(read_fd: int) -> None:
    while True:
        try:
            data = os.read(read_fd, 64)
        except OSError:
            return
        if not data:
            return
        stops = [byte for byte in data if byte in _STOP_SIGNALS]
        if stops:
            _received.extend(stops)
            cancel_open_statements()


def install() -> None:
    """SIGTERM/SIGHUP -> :class:`Terminated`, and a watcher that cancels running statements on
    SIGINT/SIGTERM/SIGHUP (main thread only; a no-op elsewhere). A signal that the parent set to
    ignored (``nohup``) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in HANDLED:
        if signal.getsignal(sig) is signal.SIG_IGN:
            continue
        signal.signal(sig, _raise_terminated)
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    try:
        signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    except ValueError:  # not the main thread of the main interpreter
        os.close(read_fd)
        os.close(write_fd)
        return
    threading.Thread(target=_watch, args=(read_fd,), name="dbadmin-signals", daemon=True).start()


def _pdeathsig_setter() -> Callable[[], None] | None:
    """A function for the child (between fork and exec) that sets PR_SET_PDEATHSIG=SIGKILL.

    libc is looked up here, in the parent: the child only makes one system call. Linux only;
    elsewhere None (the SIGTERM/SIGHUP handling still stops children on the graceful path).
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def set_pdeathsig() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: nobody to wait for us
            os._exit(1)

    return set_pdeathsig


def child_preexec(extra: Callable[[], None] | None = None) -> Callable[[], None] | None:
    """``preexec_fn`` for a child that must die with dbadmin, plus ``extra`` (e.g. rlimits).

    PR_SET_PDEATHSIG fires when the *thread* that started the child ends, so start such children
    from a thread that outlives them (the main thread, or one that waits for the child).
    """
    pdeathsig = _pdeathsig_setter()
    if pdeathsig is None:
        return extra
    if extra is None:
        return pdeathsig

    def both() -> None:
        pdeathsig()
        extra()

    return both
