"""The fast path: rows streamed into ``COPY ... FROM STDIN`` (text format) with psycopg2.

Generators hand over ready-made COPY text in batches (``"\\t"`` between fields, ``"\\n"`` after
each row, ``\\N`` for NULL). :class:`CopyStream` turns an iterator of such batches into the
file-like object ``copy_expert`` reads, so no batch is held longer than it takes to send it.
All batches of one table go through one COPY inside one transaction: an interrupted table is
rolled back whole, tables committed before stay whole.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg2.extensions

NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def escape(value: str) -> str:
    """Escape one text value for COPY's text format (backslash, tab, newline, carriage return)."""
    return value.translate(_ESCAPES)


def field(value: object) -> str:
    """A Python value as one COPY text field (None -> NULL, bool -> t/f, str escaped)."""
    if value is None:
        return NULL
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        return escape(value)
    return escape(str(value))


def rows_to_text(rows: Iterable[Sequence[object]]) -> str:
    """Python rows -> COPY text (the slow, general path; generators build text directly)."""
    return "".join("\t".join(map(field, row)) + "\n" for row in rows)


def columns_to_text(columns: Sequence[Sequence[str]]) -> str:
    """Column lists of ready COPY fields -> COPY text for those rows."""
    if not columns or not columns[0]:
        return ""
    return "\n".join(map("\t".join, zip(*columns, strict=True))) + "\n"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def qualified(table: str, schema: str | None = None) -> str:
    return f"{quote_ident(schema)}.{quote_ident(table)}" if schema else quote_ident(table)


class CopyStream:
    """File-like object over an iterator of ``(row_count, text)`` batches for ``copy_expert``.

    With ``prefetch`` (the default) a helper thread generates and encodes the next batches while
    the driver sends the current one: libpq releases the GIL while it blocks on the socket, so
    Python generation and the server's COPY work overlap on two cores instead of taking turns.
    Batches keep their order, so the data is the same either way. ``on_batch(row_count)`` runs
    in the calling thread when a batch has been handed to the driver (progress, counting).
    """

    def __init__(
        self,
        batches: Iterator[tuple[int, str]],
        on_batch: Callable[[int], None] | None = None,
        *,
        prefetch: int = 2,
    ) -> None:
        self._batches = batches
        self._on_batch = on_batch
        self._pending = 0
        self.rows = 0
        self.bytes = 0
        self.error: BaseException | None = None  # psycopg2 replaces it with QueryCanceled
        self._queue: queue.Queue[tuple[int, bytes] | BaseException | None] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if prefetch > 0:
            self._queue = queue.Queue(maxsize=prefetch)
            self._thread = threading.Thread(target=self._produce, name="seed-copy", daemon=True)
            self._thread.start()

    def _produce(self) -> None:
        assert self._queue is not None
        try:
            for count, text in self._batches:
                if self._stop.is_set():
                    return
                if text:
                    self._put((count, text.encode()))
            self._put(None)
        except BaseException as exc:  # handed to the reading thread
            self._put(exc)

    def _put(self, item: tuple[int, bytes] | BaseException | None) -> None:
        assert self._queue is not None
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _next(self) -> tuple[int, bytes] | None:
        if self._queue is None:
            for count, text in self._batches:
                if text:
                    return count, text.encode()
            return None
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        """Stop the helper thread (after an error or interruption)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _flush_count(self) -> None:
        if self._pending:
            self.rows += self._pending
            if self._on_batch is not None:
                self._on_batch(self._pending)
            self._pending = 0

    def read(self, size: int = -1) -> bytes:
        try:
            self._flush_count()  # the previous batch has been sent by now
            item = self._next()
            if item is None:
                return b""
            self._pending, data = item
            self.bytes += len(data)
            return data
        except BaseException as exc:
            self.error = exc
            raise

    def readline(self, size: int = -1) -> bytes:  # pragma: no cover - copy_expert uses read()
        return self.read(size)


def copy_batches(
    conn: psycopg2.extensions.connection,
    table: str,
    columns: Sequence[str],
    batches: Iterator[tuple[int, str]],
    *,
    schema: str | None = None,
    on_batch: Callable[[int], None] | None = None,
    commit: bool = True,
    prefetch: int = 2,
) -> int:
    """Stream the batches into ``table`` with one COPY; returns rows loaded.

    Any exception (including KeyboardInterrupt raised while generating a batch) aborts the COPY.
    With ``commit`` the COPY is its own transaction (committed, or rolled back on any error), so
    the table is either fully loaded or untouched; without it the caller owns the transaction
    and rolls back (to a savepoint, or entirely) when this raises.
    """
    column_list = ", ".join(quote_ident(c) for c in columns)
    sql = f"COPY {qualified(table, schema)} ({column_list}) FROM STDIN"
    stream = CopyStream(batches, on_batch, prefetch=prefetch)
    try:
        with conn.cursor() as cur:
            cur.copy_expert(sql, stream, size=1 << 20)
        if commit:
            conn.commit()
    except BaseException as exc:
        stream.close()
        if commit:
            try:
                conn.rollback()
            except Exception:
                pass
        if stream.error is not None and stream.error is not exc:
            raise stream.error from None  # the generator's own error, e.g. KeyboardInterrupt
        if stream.error is None and "error in .read() call" in str(exc):
            # read() records every exception it raises, except one delivered by a signal as
            # read() is entered (before its try): that is Ctrl-C
            raise KeyboardInterrupt from None
        raise
    stream._flush_count()
    return stream.rows
