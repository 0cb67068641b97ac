"""A client-side deadline for each statement of the explain session: nothing waits forever.

``statement_timeout`` only helps while the server still runs: a backend that stops answering
(stopped process, frozen VM, network partition without a reset) never sends the cancellation,
and libpq then waits in ``recv()`` for ever. TCP keepalives do not help against a stopped
process either (its kernel still answers the probes). So each statement runs in a helper thread
and the main thread waits at most ``timeout + GRACE_S``; then it sends a cancel request (itself
bounded: the postmaster may be silent too) and, when that brings no answer, shuts the socket
down, which makes libpq return at once with "server closed the connection". The server ends the
session when it next reads from the socket; nothing is left running.

The same path serves Ctrl-C: libpq blocks in C, so waiting in the main thread is what lets
KeyboardInterrupt arrive and cancel the statement on the server.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Any

from dbadmin.errors import OperationTimeout

GRACE_S = 2.0  # beyond --timeout: the server's own statement_timeout should have answered
ABORT_WAIT_S = 1.0  # for the cancel request, then again after the socket is shut down


class StatementDeadline:
    """Runs the statements of one connection, each bounded by ``timeout_s + grace_s``."""

    def __init__(self, conn: Any, timeout_s: float, *, grace_s: float = GRACE_S) -> None:
        self._conn = conn
        self.timeout_s = timeout_s
        self.grace_s = grace_s
        self.severed = False  # True once the socket was shut down

    def execute(self, cur: Any, sql: str, params: Any = None) -> None:
        failure: list[BaseException] = []

        def run() -> None:
            try:
                cur.execute(sql, params)
            except BaseException as exc:
                failure.append(exc)

        worker = threading.Thread(target=run, name="dbadmin-explain", daemon=True)
        expires = time.monotonic() + self.timeout_s + self.grace_s
        worker.start()
        try:
            while worker.is_alive() and time.monotonic() < expires:
                worker.join(min(0.1, max(expires - time.monotonic(), 0.0)))
        except KeyboardInterrupt:
            self._abort(worker)
            raise
        if worker.is_alive():
            self._abort(worker)
            raise OperationTimeout(
                f"the server did not answer within --timeout {self.timeout_s:g} s "
                f"(+{self.grace_s:g} s grace); "
                + (
                    "the connection was closed and the transaction discarded"
                    if self.severed
                    else "the statement was cancelled and rolled back"
                ),
                "check that the server is alive (pg_stat_activity); raise --timeout if it is "
                "just slow",
            )
        if failure:
            raise failure[0]

    def _abort(self, worker: threading.Thread) -> None:
        """Cancel on the server; if nothing answers, cut the connection."""
        canceller = threading.Thread(target=self._cancel, name="dbadmin-cancel", daemon=True)
        canceller.start()
        worker.join(ABORT_WAIT_S)
        if worker.is_alive():
            self._sever()
            worker.join(ABORT_WAIT_S)

    def _cancel(self) -> None:
        try:
            self._conn.cancel()
        except Exception:
            pass  # the postmaster is unreachable too: _sever still ends the wait

    def _sever(self) -> None:
        """shutdown() on a duplicate of libpq's socket: the blocked recv() returns at once."""
        try:
            sock = socket.socket(fileno=os.dup(self._conn.fileno()))
        except (OSError, ValueError):
            return
        with sock:
            try:
                sock.shutdown(socket.SHUT_RDWR)
                self.severed = True
            except OSError:
                pass


def keepalive_params(timeout_s: float) -> dict[str, str]:
    """libpq keepalive/user-timeout settings for TCP connections (ignored on Unix sockets):
    a peer that vanishes without a reset is noticed within about ``timeout_s``."""
    idle = max(int(timeout_s), 1)
    return {
        "keepalives": "1",
        "keepalives_idle": str(idle),
        "keepalives_interval": "1",
        "keepalives_count": "3",
        "tcp_user_timeout": str(int((timeout_s + GRACE_S) * 1000)),
    }
