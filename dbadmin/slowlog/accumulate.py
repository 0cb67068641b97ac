"""Accumulation of parsed log entries: per-fingerprint statistics, errors, the timeline.

The per-entry code is kept flat for speed (it runs once per log line). Percentiles use bounded
memory: the first 512 durations of a group are kept exactly; past that the group switches to a
log-scale histogram with 1 % wide buckets (p50/p95 within about 1 %).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from array import array
from collections import Counter
from dataclasses import dataclass

from dbadmin.slowlog.fingerprint import DIGITS_TO_ZERO, Fingerprint, FingerprintCache
from dbadmin.slowlog.nplusone import MIN_RUN, NPlusOneTracker, control_kind
from dbadmin.stats import nearest_rank

EXACT_SAMPLES = 512
HIST_BATCH = 4096  # durations folded into a histogram at once
_LOG_BASE = math.log(1.01)
_INV_LOG_BASE = 1 / _LOG_BASE
_OFFSET = 1000  # log(0.0001 ms) / log(1.01) is about -926
MAX_LABELS = 50  # distinct users/databases/applications kept per group
MAX_ERROR_KINDS = 1000
_PLAN_NODE = re.compile(rb"\((?:cost|actual)[= ]|^\s*(?:->|[A-Z][A-Za-z ]+ on )")
_PARAMETERS = frozenset((b"parameters: ", b"Parameters: "))
ERROR_SEVERITIES = frozenset((b"ERROR", b"FATAL", b"PANIC"))

MAX_PAIRED = 200_000
MAX_HEAD_PLANS = 10_000
# a bare duration line with no statement line before it: ms, ts, user, db, app, detail
Orphan = tuple[float, bytes, bytes, bytes, bytes, bytes]
# a plan logged before its statement's duration line: record()'s arguments, pid aside
PendingPlan = tuple[bytes, float, bytes, bytes, bytes, bytes]


@dataclass(slots=True)
class ErrorKind:
    """Errors of one severity and message (its first 300 bytes); mutable while the log is read."""

    severity: bytes
    message: bytes
    count: int = 0
    first: bytes = b""  # timestamps as logged; b"" when the prefix has none
    last: bytes = b""
    statement: bytes | None = None  # the first STATEMENT line that followed one

    def merge(self, other: ErrorKind) -> None:
        """Fold in the same kind counted in another part of the log (parallel parsing)."""
        self.count += other.count
        if other.first and (not self.first or other.first < self.first):
            self.first = other.first
        if other.last and (not self.last or other.last > self.last):
            self.last = other.last
        if self.statement is None:
            self.statement = other.statement


class GroupStats:
    __slots__ = (
        "control",
        "count",
        "example",
        "example_ms",
        "example_params",
        "first",
        "fp",
        "hist",
        "labels",
        "last",
        "limit",
        "max",
        "samples",
        "total",
    )

    def __init__(self, fp: Fingerprint) -> None:
        self.fp = fp
        self.control = control_kind(fp.query)  # nplusone.NOT_CONTROL etc.
        self.count = 0
        self.total = 0.0
        self.max = -1.0
        # durations not yet in ``hist``: all of them while the group is exact (hist is None),
        # then a batch folded in when it reaches ``limit`` (one log() per distinct value)
        self.samples: array[float] = array("d")
        self.limit = EXACT_SAMPLES
        self.hist: dict[int, int] | None = None
        self.first = b"\xff"  # any timestamp sorts before this
        self.last = b""
        self.example = b""
        self.example_ms = -1.0
        self.example_params: bytes | None = None
        self.labels: dict[tuple[bytes, bytes, bytes], int] = {}

    def to_hist(self) -> None:
        """Fold the pending durations into the histogram (the group is no longer exact)."""
        hist = self.hist if self.hist is not None else {}
        for value, n in Counter(self.samples).items():
            k = _bucket(value)
            hist[k] = hist.get(k, 0) + n
        self.hist = hist
        self.samples = array("d")
        self.limit = HIST_BATCH

    def percentile(self, q: float) -> float:
        if self.hist is None:
            return nearest_rank(sorted(self.samples), q)
        self.to_hist()
        target = max(1, math.ceil(q * self.count))
        seen = 0
        for k in sorted(self.hist):
            seen += self.hist[k]
            if seen >= target:
                return min(math.exp((k - _OFFSET + 0.5) * _LOG_BASE), self.max)
        return self.max

    def label_counts(self, index: int) -> dict[str, int]:
        counts: dict[bytes, int] = {}
        for key, n in self.labels.items():
            if key[index] and key[index] != b"[unknown]":  # what stderr shows for empty
                counts[key[index]] = counts.get(key[index], 0) + n
        return {
            k.decode("utf-8", "replace"): v
            for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_LABELS]
        }


def _bucket(ms: float) -> int:
    # offset so that int() (truncation) is floor() for every duration >= 0.0001 ms
    return int(math.log(ms if ms > 0.0001 else 0.0001) * _INV_LOG_BASE + _OFFSET)


class Accumulator:
    """All mutable state of one parse run; the per-entry code is kept flat for speed.

    Absent fields are ``b""`` (the stderr regex has empty groups for fields the prefix lacks).
    """

    def __init__(self, min_duration_ms: float, n_plus_one_min: int = MIN_RUN) -> None:
        self.min_ms = min_duration_ms
        self.n1 = NPlusOneTracker(n_plus_one_min)
        self.track = self.n1.statement if n_plus_one_min else None
        self._epoch = False
        self.cache = FingerprintCache()
        self.by_key: dict[bytes, GroupStats] = {}  # safe digit-zeroed text -> group
        self.by_text: dict[bytes, GroupStats] = {}  # exact text -> group (other texts)
        self.groups: dict[str, GroupStats] = {}
        self.errors = 0
        self.error_kinds: dict[tuple[bytes, bytes], ErrorKind] = {}
        self.timeline: dict[bytes, list[float]] = {}
        self.minute = b"\0"  # the current minute's bucket, flushed into timeline on change
        self.minute_count = 0
        self.minute_ms = 0.0
        self.pending_stmt: dict[bytes, bytes] = {}
        self.pending_plan: dict[bytes, PendingPlan] = {}
        self.last_by_pid: dict[bytes, bytes] = {}  # the last statement each backend logged
        self.no_statement = 0
        # log_statement + log_duration pairs cut by a --jobs range boundary (parallel.py pairs
        # them again): each session's first bare duration when no statement line came before
        # it, and the sessions that logged a statement line
        self.orphans: dict[bytes, Orphan] = {}
        self.paired: set[bytes] | None = set()  # None: too many sessions, none is paired
        self.carried_plans: dict[bytes, PendingPlan] = {}  # a --jobs worker's, for the next range
        # plans logged before any statement of their session was counted (pid, digest of the text;
        # None past MAX_HEAD_PLANS): in a --jobs range other than the first, a plan of the
        # statement the session logged last in the range before is not a query of its own
        self.head_plans: list[tuple[bytes, bytes]] | None = []
        self.last_group: GroupStats | None = None
        self.last_error: ErrorKind | None = None
        self.entries = 0

    @property
    def epoch(self) -> bool:
        """%n timestamps (seconds since 1970)."""
        return self._epoch

    @epoch.setter
    def epoch(self, value: bool) -> None:
        self._epoch = self.n1.epoch = value

    # -- the hot path --
    def statement(
        self,
        sql: bytes,
        ms: float,
        ts: bytes,
        pid: bytes,
        user: bytes,
        db: bytes,
        app: bytes,
        detail: bytes = b"",
    ) -> None:
        """One statement that completed (``duration: X ms  statement|execute ...:``, its SQL cut
        out by the reader); ``pid`` (the session) when known, for N+1 runs and plan pairing;
        ``detail`` when the format carries it on the same line (csvlog, jsonlog).

        The readers count the entry (``entries``). One flat function: it runs per statement.
        """
        self.last_group = None
        if pid:
            if self.pending_plan:
                self.resolve_plan(pid, sql)
            self.last_by_pid[pid] = sql
        if ms >= self.min_ms:
            key = sql.translate(DIGITS_TO_ZERO)
            group = self.by_key.get(key)
            if group is None:
                group = self._group(sql, key, ts)
            group.count += 1
            group.total += ms
            samples = group.samples
            samples.append(ms)
            if len(samples) > group.limit:
                group.to_hist()
            if ms > group.max:
                group.max = ms
                if ms > group.example_ms:
                    group.example_ms = ms
                    group.example = sql
                    group.example_params = None
                    self.last_group = group
            if ts:
                if ts > group.last:
                    group.last = ts
                elif ts < group.first:
                    group.first = ts
                if ts.startswith(self.minute):
                    self.minute_count += 1
                    self.minute_ms += ms
                else:
                    self._new_minute(ts, ms)
            labels = group.labels
            label = (user, db, app)
            n = labels.get(label)
            if n is not None:
                labels[label] = n + 1
            elif len(labels) < MAX_LABELS * 4:
                labels[label] = 1
            if pid and self.track is not None:
                self.track(pid, group, sql, ms, ts)
        if detail and detail[:12] in _PARAMETERS:
            if self.last_group is not None:
                self.last_group.example_params = detail[12:]
            if pid:
                self.n1.parameters(pid, detail[12:])

    def record(self, sql: bytes, ms: float, ts: bytes, user: bytes, db: bytes, app: bytes) -> None:
        """A statement with no session to pair it with (auto_explain plans)."""
        self.statement(sql, ms, ts, b"", user, db, app)

    def _group(self, sql: bytes, key: bytes, ts: bytes) -> GroupStats:
        """The group of a statement whose digit-zeroed text is not (yet) a known key."""
        group = self.by_text.get(sql)
        if group is None:
            fp = self.cache.get(sql)
            group = self.groups.get(fp.id)
            if group is None:
                group = self.groups[fp.id] = GroupStats(fp)
                if ts:
                    group.first = ts
            if self.cache.fast_key_is_safe(key):
                if len(self.by_key) < 50_000:
                    self.by_key[key] = group
            elif len(self.by_text) < 20_000:
                self.by_text[sql] = group
        return group

    def _new_minute(self, ts: bytes, ms: float) -> None:
        self.flush_minute()
        if len(self.last_by_pid) > 20_000:  # pids are reused; keep this bounded
            self.last_by_pid.clear()
        if self.epoch:
            key = b"%d" % (int(float(ts)) // 60 * 60)
            bucket = self.timeline.setdefault(key, [0, 0.0])
            bucket[0] += 1
            bucket[1] += ms
            self.minute = b"\0"
            return
        self.minute = ts[:16]
        self.minute_count = 1
        self.minute_ms = ms

    def flush_minute(self) -> None:
        if self.minute_count:
            bucket = self.timeline.setdefault(self.minute, [0, 0.0])
            bucket[0] += self.minute_count
            bucket[1] += self.minute_ms
        self.minute_count = 0
        self.minute_ms = 0.0

    def entry(
        self,
        sev: bytes,
        msg: bytes,
        ts: bytes,
        pid: bytes,
        user: bytes,
        db: bytes,
        app: bytes,
        detail: bytes = b"",
        statement: bytes = b"",
    ) -> None:
        """One log entry (message already joined with its continuation lines)."""
        self.entries += 1
        if sev == b"DETAIL":
            if msg[:12] in _PARAMETERS:
                if self.last_group is not None:
                    self.last_group.example_params = msg[12:]
                if pid:
                    self.n1.parameters(pid, msg[12:])
            return
        self.last_group = None
        if sev == b"LOG":
            if msg.startswith(b"duration: "):
                end = msg.find(b" ms", 10)
                if end < 0:
                    return
                try:
                    ms = float(msg[10:end])
                except ValueError:
                    return
                rest = msg[end + 5 :]
                if rest.startswith(b"statement: "):
                    sql = rest[11:]
                elif rest.startswith(b"execute "):
                    colon = rest.find(b": ", 8)
                    if colon < 0 or rest.startswith(b"execute from fetch"):
                        return
                    sql = rest[colon + 2 :]
                elif not rest:
                    found = self.pending_stmt.pop(pid, None) if pid else None
                    if found is None:
                        self.no_statement += 1
                        if pid:
                            self._orphan(pid, (ms, ts, user, db, app, detail))
                        return
                    sql = found
                elif rest.startswith(b"plan:"):
                    text = _plan_query(rest[5:])
                    if text is None:
                        return
                    if not pid:
                        self.record(text, ms, ts, user, db, app)
                    elif squash(self.last_by_pid.get(pid, b"")) != squash(text):
                        # logged before its statement's duration line (simple protocol) or a
                        # nested statement: decided when the backend's next statement arrives
                        previous = self.pending_plan.pop(pid, None)
                        if previous is not None:
                            self.record(*previous)
                        if pid not in self.last_by_pid and self.head_plans is not None:
                            if len(self.head_plans) < MAX_HEAD_PLANS:
                                self.head_plans.append((pid, digest(squash(text))))
                            else:
                                self.head_plans = None
                        self.pending_plan[pid] = (text, ms, ts, user, db, app)
                    # else: the plan of the statement just counted (extended protocol logs
                    # the plan when the portal closes, after the execute line)
                    self.last_group = None
                    return
                else:  # parse / bind: not queries (as in pgBadger)
                    return
                self.statement(sql, ms, ts, pid, user, db, app, detail)
            elif pid and (msg.startswith(b"statement: ") or msg.startswith(b"execute ")):
                if self.paired is not None:
                    if len(self.paired) < MAX_PAIRED:
                        self.paired.add(pid)
                    else:  # too many sessions to know which duration came first: pair none
                        self.paired, self.orphans = None, {}
                if msg.startswith(b"statement: "):
                    self.pending_stmt[pid] = msg[11:]
                else:
                    colon = msg.find(b": ", 8)
                    if colon >= 0:
                        self.pending_stmt[pid] = msg[colon + 2 :]
            return
        if sev == b"STATEMENT":
            if self.last_error is not None and self.last_error.statement is None:
                self.last_error.statement = msg
            self.last_error = None
            return
        if sev in ERROR_SEVERITIES:
            self.errors += 1
            kind = self.error_kind(sev, msg)
            kind.count += 1
            if ts:
                if not kind.first or ts < kind.first:
                    kind.first = ts
                if not kind.last or ts > kind.last:
                    kind.last = ts
            if statement and kind.statement is None:
                kind.statement = statement
            self.last_error = kind

    def error_kind(self, severity: bytes, message: bytes) -> ErrorKind:
        """The kind that errors of ``severity`` and ``message`` (its first 300 bytes) count in;
        past ``MAX_ERROR_KINDS`` kinds, a new message goes to its severity's "(other errors)"."""
        key = (severity, message[:300])
        kind = self.error_kinds.get(key)
        if kind is None:
            if len(self.error_kinds) >= MAX_ERROR_KINDS:
                key = (severity, b"(other errors)")
                kind = self.error_kinds.get(key)
            if kind is None:
                kind = self.error_kinds[key] = ErrorKind(severity, key[1])
        return kind

    def _orphan(self, pid: bytes, duration: Orphan) -> None:
        """A bare duration with no statement line waiting: kept when it is the session's first
        (a --jobs range's statement line may be waiting for it in the range before)."""
        seen = self.paired
        if seen is not None and (pid in seen or pid in self.orphans):
            return
        if pid in self.pending_plan and pid not in self.last_by_pid:
            self.head_plans = None  # its statement is in the range before: one process decides
        if seen is None:
            return
        if len(self.orphans) < MAX_PAIRED:
            self.orphans[pid] = duration
        else:  # too many sessions to know which duration came first: pair none
            self.paired, self.orphans = None, {}

    def resolve_plan(self, pid: bytes, sql: bytes) -> None:
        """A statement's duration line arrived: a pending plan of the same text was its plan."""
        pending = self.pending_plan.pop(pid, None)
        if pending is not None and squash(pending[0]) != squash(sql):
            self.record(*pending)

    def finish(self) -> None:
        for pending in self.pending_plan.values():
            self.record(*pending)
        self.pending_plan.clear()
        self.n1.finish()
        self.flush_minute()


def digest(text: bytes) -> bytes:
    """A short stand-in for a statement's text, the same in every process (not ``hash``)."""
    return hashlib.blake2b(text, digest_size=12).digest()


def squash(text: bytes) -> bytes:
    return b" ".join(text.split()).rstrip(b";")


def _plan_query(plan: bytes) -> bytes | None:
    """The statement text of an auto_explain entry (text or JSON format)."""
    body = plan.strip()
    if body.startswith(b"{"):
        try:
            doc = json.loads(body)
        except ValueError:
            return None
        text = doc.get("Query Text") if isinstance(doc, dict) else None
        return text.encode("utf-8", "surrogatepass") if isinstance(text, str) and text else None
    lines = body.split(b"\n")
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(b"Query Text: "):
            out = [stripped[12:]]
            for nxt in lines[i + 1 :]:
                if _PLAN_NODE.search(nxt) or nxt.strip().startswith(b"Query Parameters:"):
                    break
                out.append(nxt.strip())
            return b"\n".join(out).strip() or None
    return None
