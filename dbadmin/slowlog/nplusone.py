"""N+1 detection from the database side: what an ORM's lazy loading looks like in a server log.

Per session (the backend's pid; csvlog/jsonlog carry it too), a *run* is consecutive statements
of one fingerprint whose parameters differ (literal values, or ``$n`` values in ``DETAIL:
parameters``), right after another statement: the *parent* (transaction control such as
``BEGIN`` is neither). A run of ``min_run`` or more is an N+1: one query for the parent rows,
then one query per row (the pattern Sentry's N+1 detector and Prosopite find inside the
application), within one unit of work:

- inside an explicit transaction (``BEGIN`` ... ``COMMIT``, what SQLAlchemy and most drivers
  send), the transaction is the unit of work: a run never crosses its end, and pauses inside it
  do not matter (a slow client, a loaded machine);
- in autocommit (no ``BEGIN`` logged: Django's default, pgbench), each statement must start less
  than ``MAX_GAP_S`` after the previous one ended.

A batch job that commits each item, or pauses between items in autocommit, is not an N+1;
neither is a session that only ever runs one statement (pgbench, a connection-pool health check).

A log line's timestamp is when the statement ended; it started ``duration`` earlier. With ``%t``
(whole seconds) a gap is only known to within a second, so the allowed gap grows by one second.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dbadmin.stats import median
from dbadmin.urls import scrub_sql

if TYPE_CHECKING:
    from dbadmin.slowlog.accumulate import GroupStats

MIN_RUN = 10
MAX_GAP_S = 0.100
EXAMPLE_STATEMENTS = 3
MAX_SESSIONS = 50_000
CONTROL = (b"BEGIN", b"COMMIT", b"ROLLBACK", b"START", b"SAVEPOINT", b"RELEASE", b"END", b"SET ",
           b"SHOW ", b"DISCARD", b"DEALLOCATE", b"RESET", b"PREPARE TRANSACTION", b"ABORT")  # fmt: skip
_BEGIN = (b"BEGIN", b"START")
_END = (b"COMMIT", b"ROLLBACK", b"END", b"ABORT", b"PREPARE TRANSACTION")
# GroupStats.control: what a statement does to the unit of work
NOT_CONTROL, SESSION_CONTROL, TX_BEGIN, TX_END = 0, 1, 2, 3


POSSIBLE_MIN_CALLS = 1000
_VALUE = r"\$1(?:::[\w ]+)?"
_COLUMN = r"(?:\w+\.)?\w+"
# one row by one key: SELECT ... FROM t [alias] WHERE col = $1 [LIMIT $2]
_KEY_LOOKUP = re.compile(
    rf"^SELECT\b.+?\bFROM\s+[\w.\"]+(?:\s+(?:AS\s+)?\w+)?\s+WHERE\s+"
    rf"(?:{_COLUMN}\s*=\s*{_VALUE}|{_VALUE}\s*=\s*{_COLUMN})(?:\s+LIMIT\s+\$2)?\s*;?$",
    re.IGNORECASE | re.DOTALL,
)


def possible_n_plus_one(query: str, calls: int, rows: int) -> bool:
    """From pg_stat_statements, where no order of statements exists: a very frequent lookup of
    one row by one key is what an N+1 leaves behind (lower confidence than a log's runs)."""
    return calls >= POSSIBLE_MIN_CALLS and rows <= calls and bool(_KEY_LOOKUP.match(query))


def control_kind(query: str) -> int:
    """Transaction control and session settings are never a parent, never an N+1: ``TX_BEGIN``, ``TX_END`` (``ROLLBACK TO SAVEPOINT`` is neither), ``SESSION_CONTROL`` or
    ``NOT_CONTROL``."""
    head = query.lstrip().upper().encode()
    if not head.startswith(CONTROL):
        return NOT_CONTROL
    if head.startswith(_BEGIN):
        return TX_BEGIN
    if head.startswith(_END) and not head.startswith(b"ROLLBACK TO"):
        return TX_END
    return SESSION_CONTROL


class _Session:
    __slots__ = ("end", "end_ts", "group", "in_tx", "ms", "n", "params0", "parent", "parent_sql",
                 "same", "sql0", "statements")  # fmt: skip

    def __init__(self) -> None:
        self.group: GroupStats | None = None
        self.parent: GroupStats | None = None
        self.parent_sql = b""
        self.n = 0
        self.ms = 0.0
        self.end_ts = b""
        self.end: float | None = None
        self.sql0 = b""
        self.params0: bytes | None = None
        self.same = True
        self.statements: list[tuple[bytes, bytes | None]] = []
        self.in_tx = False  # inside BEGIN ... COMMIT: the transaction bounds the run, not time


class Found:
    """The runs of one (statement, parent) pair, merged across sessions and worker processes."""

    __slots__ = ("child", "example", "example_pid", "parent", "runs", "total_ms")

    def __init__(self, child: GroupStats, parent: GroupStats, pid: bytes) -> None:
        self.child = child
        self.parent = parent
        self.runs: list[int] = []
        self.total_ms = 0.0
        self.example_pid = pid
        self.example: tuple[bytes, list[tuple[bytes, bytes | None]], int] = (b"", [], 0)

    def merge(self, other: Found) -> None:
        self.runs += other.runs
        self.total_ms += other.total_ms


class NPlusOneTracker:
    """Fed every statement with its session; keeps one small state per session."""

    def __init__(self, min_run: int = MIN_RUN, epoch: bool = False) -> None:
        self.min_run = min_run
        self.epoch = epoch
        self.sessions: dict[bytes, _Session] = {}
        self.found: dict[tuple[str, str], Found] = {}

    def statement(self, pid: bytes, group: GroupStats, sql: bytes, ms: float, ts: bytes) -> None:
        """One completed statement of session ``pid``. Kept cheap when the fingerprint changes
        (most statements): a run's bookkeeping starts at its first repetition."""
        control = group.control
        if control:
            if control >= TX_BEGIN:
                self._transaction(pid, control == TX_BEGIN)
            return
        s = self.sessions.get(pid)
        if s is None:
            if len(self.sessions) >= MAX_SESSIONS:  # pids are reused; keep this bounded
                self.finish()
            s = self.sessions[pid] = _Session()
        elif s.group is group:
            if s.n == 1:
                s.same = True
                s.statements = [(s.sql0, s.params0)]
                s.end = self._seconds(s.end_ts)
            start = self._seconds(ts)
            if start is not None:
                start -= ms / 1000
            end = s.end
            if s.in_tx or start is None or end is None or start - end < self._max_gap(ts):
                s.n += 1
                s.ms += ms
                s.end_ts, s.end = ts, start + ms / 1000 if start is not None else None
                if sql != s.sql0:
                    s.same = False
                if len(s.statements) < EXAMPLE_STATEMENTS:
                    s.statements.append((sql, None))
                return
            if s.n >= self.min_run:
                self._close(pid, s)  # a pause: what follows is not part of the same unit of work
            s.group = None  # the new run has no parent
        if s.n >= self.min_run:
            self._close(pid, s)
        s.parent = s.group  # None: the new run has no parent (parent_sql then goes unused)
        s.parent_sql = s.sql0
        s.group = group
        s.n = 1
        s.ms = ms
        s.end_ts = ts
        s.sql0 = sql
        s.params0 = None

    def _transaction(self, pid: bytes, begins: bool) -> None:
        """A transaction begins or ends: a run in progress ends here, and the next statement is
        no child of anything before it."""
        s = self.sessions.get(pid)
        if s is None:
            if not begins:
                return
            s = self.sessions[pid] = _Session()
        elif s.group is not None:
            if s.n >= self.min_run:
                self._close(pid, s)
            s.group = None
            s.n = 0
        s.in_tx = begins

    def parameters(self, pid: bytes, params: bytes) -> None:
        """``DETAIL:  parameters: $1 = '7'`` of the statement the session just logged."""
        s = self.sessions.get(pid)
        if s is None or s.group is None:
            return
        if s.params0 is None:
            s.params0 = params
        elif params != s.params0:
            s.same = False
        if s.n > 1 and s.statements[-1][1] is None:
            s.statements[-1] = (s.statements[-1][0], params)

    def finish(self) -> None:
        for pid, s in self.sessions.items():
            self._close(pid, s)
        self.sessions.clear()

    def _close(self, pid: bytes, s: _Session) -> None:
        if s.n < self.min_run or s.parent is None or s.group is None:
            return
        if s.same and not (s.params0 is None and b"$1" in s.sql0):
            return  # the very same statement again: a repeat, not one query per parent row
        key = (s.group.fp.id, s.parent.fp.id)
        found = self.found.get(key)
        if found is None:
            found = self.found[key] = Found(s.group, s.parent, pid)
            found.example = (s.parent_sql, list(s.statements), s.n)
        found.runs.append(s.n)
        found.total_ms += s.ms
        s.n = 0  # closed once

    def _max_gap(self, ts: bytes) -> float:
        whole_seconds = not self.epoch and ts[19:20] != b"."
        return MAX_GAP_S + (1.0 if whole_seconds else 0.0)

    def _seconds(self, ts: bytes) -> float | None:
        """Seconds since the start of the month (enough to measure gaps), or None."""
        try:
            if self.epoch:
                return float(ts)
            if len(ts) < 19:
                return None
            seconds = float(ts[17:23]) if ts[19:20] == b"." else float(ts[17:19])
            return int(ts[8:10]) * 86400 + int(ts[11:13]) * 3600 + int(ts[14:16]) * 60 + seconds
        except ValueError:
            return None


@dataclass(frozen=True)
class NPlusOneGroup:
    """One statement run once per row of a parent statement's result, as found in a log."""

    query: str
    fingerprint: str
    parent_query: str
    parent_fingerprint: str
    occurrences: int  # runs found
    total_repetitions: int  # statements in those runs
    median_run_length: float
    total_ms: float
    example_pid: str
    example_parent: str
    example_statements: tuple[tuple[str, str | None], ...]  # the first statements of one run
    example_run_length: int
    fix: str

    def as_dict(self) -> dict[str, object]:
        return {
            "query": self.query,
            "fingerprint": self.fingerprint,
            "parent_query": self.parent_query,
            "parent_fingerprint": self.parent_fingerprint,
            "occurrences": self.occurrences,
            "total_repetitions": self.total_repetitions,
            "median_run_length": self.median_run_length,
            "total_ms": round(self.total_ms, 3),
            "example_pid": self.example_pid,
            "example": {
                "parent": self.example_parent,
                "statements": [
                    {"statement": sql, "parameters": params}
                    for sql, params in self.example_statements
                ],
                "run_length": self.example_run_length,
            },
            "fix": self.fix,
        }


_KEY_EQUALS = re.compile(
    r"(?P<col>(?:\w+\.)?\w+)\s*=\s*\$1(?P<t1>(?:::\w+)*)(?!\w)"
    r"|\$1(?P<t2>(?:::\w+)*)\s*=\s*(?P<col2>(?:\w+\.)?\w+)",
    re.IGNORECASE,
)


def fix_for(query: str) -> str:
    """The fix, in the terms of the statement itself where it has one key parameter."""
    batch = ""
    m = _KEY_EQUALS.search(query) if query.count("$1") == 1 and "$2" not in query else None
    if m is not None:
        column = m["col"] or m["col2"]
        casts = m["t1"] or m["t2"]  # a literal's casts: '...'::uuid::UUID
        keys = f"$1::{casts.rsplit('::', 1)[1]}[]" if casts else "$1"
        rewritten = query[: m.start()] + f"{column} = ANY({keys})" + query[m.end() :]
        batch = f" (`{rewritten}` with all the keys as one array)"
    return (
        "load the rows in one query: JOIN this table in the parent query, or run one batch query"
        f"{batch}; in an ORM, eager-load the relationship (SQLAlchemy selectinload()/"
        "joinedload(), Django prefetch_related()/select_related(), Rails includes())"
    )


def build_groups(found: dict[tuple[str, str], Found]) -> tuple[NPlusOneGroup, ...]:
    def text(value: bytes | None) -> str | None:
        return None if value is None else value.decode("utf-8", "replace")

    groups = []
    for f in found.values():
        parent_sql, statements, run_length = f.example
        groups.append(
            NPlusOneGroup(
                query=f.child.fp.query,
                fingerprint=f.child.fp.id,
                parent_query=scrub_sql(f.parent.fp.query),
                parent_fingerprint=f.parent.fp.id,
                occurrences=len(f.runs),
                total_repetitions=sum(f.runs),
                median_run_length=median(f.runs),
                total_ms=f.total_ms,
                example_pid=f.example_pid.decode("utf-8", "replace"),
                example_parent=scrub_sql(parent_sql.decode("utf-8", "replace")),
                example_statements=tuple(
                    (scrub_sql(sql.decode("utf-8", "replace")), text(p)) for sql, p in statements
                ),
                example_run_length=run_length,
                fix=fix_for(f.child.fp.query),
            )
        )
    groups.sort(key=lambda g: (-g.total_repetitions, -g.total_ms, g.fingerprint))
    return tuple(groups)
