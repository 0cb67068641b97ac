"""PostgreSQL server-log parser: stderr (any ``log_line_prefix``), csvlog and jsonlog; plain or gz.

Streaming: files are read line by line in binary (no decoding of lines that are not needed),
memory grows with the number of distinct fingerprints, not with the number of lines.

What counts as a query (the same rules as pgBadger):
- ``duration: X ms  statement: ...`` and ``duration: X ms  execute <name>: ...`` (the following
  ``DETAIL:  parameters: ...`` is kept with the group's example);
- a bare ``duration: X ms`` (``log_duration`` / ``log_statement`` style) paired with the same
  backend's preceding ``statement:`` / ``execute`` line (needs %p or %c in the prefix);
- auto_explain ``duration: X ms  plan:`` entries, unless the same backend then logs a
  ``duration: ... statement:`` line for it (the statement is then counted once, not twice);
- ``parse`` and ``bind`` durations are not queries (pgBadger skips them too).
``ERROR``/``FATAL``/``PANIC`` entries are counted separately, with their ``STATEMENT``.

Percentiles use bounded memory: the first 512 durations of a group are kept exactly; past that
the group switches to a log-scale histogram with 1 % wide buckets (p50/p95 within about 1 %).
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import math
import os
import re
import stat
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from dbadmin.errors import ProblemFound, UsageError
from dbadmin.slowlog.fingerprint import _ZEROS, Fingerprint, FingerprintCache
from dbadmin.slowlog.infer import infer_prefix
from dbadmin.slowlog.prefix import LinePrefix, prefix_to_regex
from dbadmin.stats import nearest_rank

FORMATS = ("auto", "stderr", "csvlog", "jsonlog")
EXACT_SAMPLES = 512
_LOG_BASE = math.log(1.01)
_INV_LOG_BASE = 1 / _LOG_BASE
_OFFSET = 1000  # log(0.0001 ms) / log(1.01) is about -926
MAX_LABELS = 50  # distinct users/databases/applications kept per group
MAX_ERROR_KINDS = 1000
HEAD_BYTES = 256 * 1024
SPLIT_BYTES = 32 * 1024 * 1024  # plain files from this size are split across --jobs processes
CSV_RE = re.compile(rb'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? [^,]*,(?:"|,)')
_PLAN_NODE = re.compile(rb"\((?:cost|actual)[= ]|^\s*(?:->|[A-Z][A-Za-z ]+ on )")
_EPOCH = re.compile(rb"^\d{9,11}(?:\.\d+)?$")
_PARAMETERS = frozenset((b"parameters: ", b"Parameters: "))
ERROR_SEVERITIES = frozenset((b"ERROR", b"FATAL", b"PANIC"))


# --- results -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueryGroup:
    fingerprint: str
    query: str
    count: int
    total_ms: float
    mean_ms: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    first_seen: str | None
    last_seen: str | None
    example: str
    example_parameters: str | None
    example_ms: float
    users: dict[str, int] = field(default_factory=dict)
    databases: dict[str, int] = field(default_factory=dict)
    applications: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorGroup:
    severity: str
    message: str
    count: int
    first_seen: str | None
    last_seen: str | None
    statement: str | None


@dataclass(frozen=True)
class TimeBucket:
    minute: str
    count: int
    total_ms: float


@dataclass(frozen=True)
class LogReport:
    files: tuple[str, ...]
    formats: tuple[str, ...]
    prefixes: tuple[str, ...]
    total_queries: int
    total_duration_ms: float
    errors: int
    groups: tuple[QueryGroup, ...]
    error_groups: tuple[ErrorGroup, ...]
    timeline: tuple[TimeBucket, ...]
    lines: int
    bytes_read: int
    unparsed_lines: int
    durations_without_statement: int
    percentiles: str = f"exact up to {EXACT_SAMPLES} samples per group, then a 1% log histogram"

    def as_dict(self, top: int | None = None) -> dict[str, object]:
        groups = self.groups if top is None else self.groups[:top]
        return {
            "files": list(self.files),
            "formats": list(self.formats),
            "prefixes": list(self.prefixes),
            "total_queries": self.total_queries,
            "total_duration_ms": round(self.total_duration_ms, 3),
            "errors": self.errors,
            "distinct_queries": len(self.groups),
            "groups": [_group_dict(g) for g in groups],
            "error_groups": [
                {
                    "severity": e.severity,
                    "message": e.message,
                    "count": e.count,
                    "first_seen": e.first_seen,
                    "last_seen": e.last_seen,
                    "statement": e.statement,
                }
                for e in self.error_groups
            ],
            "timeline": [
                {"minute": b.minute, "count": b.count, "total_ms": round(b.total_ms, 3)}
                for b in self.timeline
            ],
            "lines": self.lines,
            "bytes_read": self.bytes_read,
            "unparsed_lines": self.unparsed_lines,
            "durations_without_statement": self.durations_without_statement,
            "percentiles": self.percentiles,
        }


def _group_dict(g: QueryGroup) -> dict[str, object]:
    return {
        "fingerprint": g.fingerprint,
        "query": g.query,
        "count": g.count,
        "total_ms": round(g.total_ms, 3),
        "mean_ms": round(g.mean_ms, 3),
        "p50_ms": round(g.p50_ms, 3),
        "p95_ms": round(g.p95_ms, 3),
        "max_ms": round(g.max_ms, 3),
        "first_seen": g.first_seen,
        "last_seen": g.last_seen,
        "example": g.example,
        "example_parameters": g.example_parameters,
        "example_ms": round(g.example_ms, 3),
        "users": g.users,
        "databases": g.databases,
        "applications": g.applications,
    }


# --- accumulation --------------------------------------------------------------------------------
class _Group:
    __slots__ = (
        "count",
        "example",
        "example_ms",
        "example_params",
        "first",
        "fp",
        "hist",
        "labels",
        "last",
        "max",
        "samples",
        "total",
    )

    def __init__(self, fp: Fingerprint) -> None:
        self.fp = fp
        self.count = 0
        self.total = 0.0
        self.max = -1.0
        self.samples: array[float] | None = array("d")
        self.hist: dict[int, int] | None = None
        self.first = b"\xff"  # any timestamp sorts before this
        self.last = b""
        self.example = b""
        self.example_ms = -1.0
        self.example_params: bytes | None = None
        self.labels: dict[tuple[bytes, bytes, bytes], int] = {}

    def to_hist(self) -> None:
        hist: dict[int, int] = {}
        for value in self.samples or ():
            k = _bucket(value)
            hist[k] = hist.get(k, 0) + 1
        self.hist = hist
        self.samples = None

    def percentile(self, q: float) -> float:
        if self.samples is not None:
            return nearest_rank(sorted(self.samples), q)
        assert self.hist is not None
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
            if key[index]:
                counts[key[index]] = counts.get(key[index], 0) + n
        return {
            k.decode("utf-8", "replace"): v
            for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_LABELS]
        }


def _bucket(ms: float) -> int:
    # offset so that int() (truncation) is floor() for every duration >= 0.0001 ms
    return int(math.log(ms if ms > 0.0001 else 0.0001) * _INV_LOG_BASE + _OFFSET)


def _text(value: bytes | None) -> str | None:
    if not value:
        return None
    if _EPOCH.match(value):  # %n: show ISO 8601 like the other formats
        import datetime as dt

        stamp = dt.datetime.fromtimestamp(float(value), tz=dt.UTC)
        return stamp.isoformat(sep=" ", timespec="milliseconds")
    return value.decode("utf-8", "replace")


class _Accumulator:
    """All mutable state of one parse run; the per-entry code is kept flat for speed.

    Absent fields are ``b""`` (the stderr regex has empty groups for fields the prefix lacks).
    """

    def __init__(self, min_duration_ms: float) -> None:
        self.min_ms = min_duration_ms
        self.epoch = False  # %n timestamps (seconds since 1970)
        self.cache = FingerprintCache()
        self.by_key: dict[bytes, _Group] = {}  # safe digit-zeroed text -> group
        self.by_text: dict[bytes, _Group] = {}  # exact text -> group (other texts)
        self.groups: dict[str, _Group] = {}
        self.errors = 0
        self.error_kinds: dict[tuple[bytes, bytes], list] = {}
        self.timeline: dict[bytes, list[float]] = {}
        self.minute = b"\0"  # the current minute's bucket, flushed into timeline on change
        self.minute_count = 0
        self.minute_ms = 0.0
        self.pending_stmt: dict[bytes, bytes] = {}
        self.pending_plan: dict[bytes, tuple] = {}
        self.last_by_pid: dict[bytes, bytes] = {}  # the last statement each backend logged
        self.no_statement = 0
        self.last_group: _Group | None = None
        self.last_error: list | None = None
        self.entries = 0

    # -- the hot path --
    def record(self, sql: bytes, ms: float, ts: bytes, user: bytes, db: bytes, app: bytes) -> None:
        if ms < self.min_ms:
            return
        key = sql.translate(_ZEROS)
        group = self.by_key.get(key)
        if group is None:
            group = self.by_text.get(sql)
            if group is None:
                fp = self.cache.get(sql)
                group = self.groups.get(fp.id)
                if group is None:
                    group = self.groups[fp.id] = _Group(fp)
                    if ts:
                        group.first = ts
                if self.cache.fast_key_is_safe(key):
                    if len(self.by_key) < 50_000:
                        self.by_key[key] = group
                elif len(self.by_text) < 20_000:
                    self.by_text[sql] = group
        group.count += 1
        group.total += ms
        samples = group.samples
        if samples is not None:
            samples.append(ms)
            if len(samples) > EXACT_SAMPLES:
                group.to_hist()
        else:
            hist = group.hist
            k = int(math.log(ms if ms > 0.0001 else 0.0001) * _INV_LOG_BASE + _OFFSET)
            hist[k] = hist.get(k, 0) + 1  # type: ignore[union-attr]
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
        key = (user, db, app)
        n = labels.get(key)
        if n is not None:
            labels[key] = n + 1
        elif len(labels) < MAX_LABELS * 4:
            labels[key] = 1

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
            if self.last_group is not None and msg[:12] in _PARAMETERS:
                self.last_group.example_params = msg[12:]
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
                        return
                    sql = found
                elif rest.startswith(b"plan:"):
                    text = _plan_query(rest[5:])
                    if text is None:
                        return
                    if not pid:
                        self.record(text, ms, ts, user, db, app)
                    elif _squash(self.last_by_pid.get(pid, b"")) != _squash(text):
                        # logged before its statement's duration line (simple protocol) or a
                        # nested statement: decided when the backend's next statement arrives
                        previous = self.pending_plan.pop(pid, None)
                        if previous is not None:
                            self.record(*previous)
                        self.pending_plan[pid] = (text, ms, ts, user, db, app)
                    # else: the plan of the statement just counted (extended protocol logs
                    # the plan when the portal closes, after the execute line)
                    self.last_group = None
                    return
                else:  # parse / bind: not queries (as in pgBadger)
                    return
                if pid:
                    if self.pending_plan:
                        self.resolve_plan(pid, sql)
                    self.last_by_pid[pid] = sql
                self.record(sql, ms, ts, user, db, app)
                if detail and self.last_group is not None and detail[:12] in _PARAMETERS:
                    self.last_group.example_params = detail[12:]
            elif pid and (msg.startswith(b"statement: ") or msg.startswith(b"execute ")):
                if msg.startswith(b"statement: "):
                    self.pending_stmt[pid] = msg[11:]
                else:
                    colon = msg.find(b": ", 8)
                    if colon >= 0:
                        self.pending_stmt[pid] = msg[colon + 2 :]
            return
        if sev == b"STATEMENT":
            if self.last_error is not None and self.last_error[5] is None:
                self.last_error[5] = msg
            self.last_error = None
            return
        if sev in ERROR_SEVERITIES:
            self.errors += 1
            key = (sev, msg[:300])
            kind = self.error_kinds.get(key)
            if kind is None:
                if len(self.error_kinds) >= MAX_ERROR_KINDS:
                    key = (sev, b"(other errors)")
                    kind = self.error_kinds.get(key)
                if kind is None:
                    kind = self.error_kinds[key] = [sev, key[1], 0, ts, ts, None]
            kind[2] += 1
            if ts:
                if not kind[3] or ts < kind[3]:
                    kind[3] = ts
                if not kind[4] or ts > kind[4]:
                    kind[4] = ts
            if statement and kind[5] is None:
                kind[5] = statement
            self.last_error = kind

    def resolve_plan(self, pid: bytes, sql: bytes) -> None:
        """A statement's duration line arrived: a pending plan of the same text was its plan."""
        pending = self.pending_plan.pop(pid, None)
        if pending is not None and _squash(pending[0]) != _squash(sql):
            self.record(*pending)

    def finish(self) -> None:
        for pending in self.pending_plan.values():
            self.record(*pending)
        self.pending_plan.clear()
        self.flush_minute()


def _squash(text: bytes) -> bytes:
    return b" ".join(text.split()).rstrip(b";")


def _plan_query(plan: bytes) -> bytes | None:
    """The statement text of an auto_explain entry (text or JSON format)."""
    body = plan.strip()
    if body.startswith(b"{"):
        try:
            doc = json.loads(body)
            text = doc.get("Query Text")
            return text.encode() if text else None
        except ValueError:
            return None
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


# --- input ---------------------------------------------------------------------------------------
@dataclass
class _Source:
    name: str
    stream: BinaryIO
    head: bytes


def _open(path: str | Path | BinaryIO) -> tuple[str, BinaryIO]:
    if not isinstance(path, str | Path):
        raw: BinaryIO = path
        name = "-"
    else:
        name = str(path)
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed by the caller
        except FileNotFoundError:
            raise UsageError(f"log file {name} not found") from None
        except IsADirectoryError:
            raise UsageError(f"{name} is a directory", "pass log files") from None
        except PermissionError:
            raise UsageError(f"cannot read {name}: permission denied") from None
    magic = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    if magic == b"\x1f\x8b":
        return name, gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if not hasattr(raw, "peek"):
        raw = io.BufferedReader(raw)  # type: ignore[arg-type]
        if raw.peek(2)[:2] == b"\x1f\x8b":
            return name, gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return name, raw


def _read_head(stream: BinaryIO) -> bytes:
    head = stream.read(HEAD_BYTES)
    if head and not head.endswith(b"\n"):
        head += stream.readline()
    return head


def detect_format(head: bytes, name: str = "") -> str:
    first = next((ln for ln in head.split(b"\n") if ln.strip()), b"")
    if first.lstrip().startswith(b"{"):
        return "jsonlog"
    if CSV_RE.match(first) or name.endswith((".csv", ".csv.gz")):
        return "csvlog"
    return "stderr"


def _lines(head: bytes, stream: BinaryIO) -> Iterator[bytes]:
    return itertools.chain(head.splitlines(keepends=True), stream)


@dataclass
class _FileState:
    lines: int = 0
    unparsed: int = 0
    first_unparsed: bytes | None = None
    prefix: LinePrefix | None = None


def _parse_stderr(acc: _Accumulator, lines: Iterable[bytes], prefix: LinePrefix) -> _FileState:
    state = _FileState(prefix=prefix)
    rx = prefix.compile_line()
    match = rx.match
    gi = rx.groupindex
    order = (
        gi["ms"], gi["sev"], gi["msg"], gi["ts"], gi["pid"], gi["user"], gi["db"], gi["app"]
    )  # fmt: skip
    entry = acc.entry
    record = acc.record
    pending_plan = acc.pending_plan
    last_by_pid = acc.last_by_pid
    cur: tuple[bytes | None, ...] | None = None
    cont: list[bytes] | None = None
    n = 0
    fast = 0
    unparsed = 0

    for line in lines:
        n += 1
        if line[0] == 9:  # "\t": continuation of the previous entry
            if cur is not None:
                if cont is None:
                    cont = [line]
                else:
                    cont.append(line)
            continue
        m = match(line)
        if m is None:
            if line.strip():
                unparsed += 1
                if state.first_unparsed is None:
                    state.first_unparsed = line
            continue
        if cur is not None:
            ms = cur[0]
            if ms is not None:  # fast path: duration + statement/execute
                fast += 1
                acc.last_group = None
                sql = cur[2]
                if cont is not None:
                    sql += b"\n" + b"\n".join(c[1:].rstrip(b"\r\n") for c in cont)
                    cont = None
                pid = cur[4]
                if pid:
                    if pending_plan:
                        acc.resolve_plan(pid, sql)  # type: ignore[arg-type]
                    last_by_pid[pid] = sql
                record(sql, float(ms), cur[3], cur[5], cur[6], cur[7])  # type: ignore[arg-type]
            else:
                _ms, sev, msg, *rest = cur
                if cont is not None:
                    msg += b"\n" + b"\n".join(c[1:].rstrip(b"\r\n") for c in cont)  # type: ignore[operator]
                    cont = None
                entry(sev, msg, *rest)  # type: ignore[arg-type]
        cur = m.group(*order)
    if cur is not None:
        ms = cur[0]
        if ms is not None:
            fast += 1
            acc.last_group = None
            sql = cur[2]
            if cont is not None:
                sql += b"\n" + b"\n".join(c[1:].rstrip(b"\r\n") for c in cont)
            pid = cur[4]
            if pid:
                if pending_plan:
                    acc.resolve_plan(pid, sql)  # type: ignore[arg-type]
                last_by_pid[pid] = sql
            record(sql, float(ms), cur[3], cur[5], cur[6], cur[7])  # type: ignore[arg-type]
        else:
            _ms, sev, msg, *rest = cur
            if cont is not None:
                msg += b"\n" + b"\n".join(c[1:].rstrip(b"\r\n") for c in cont)  # type: ignore[operator]
            entry(sev, msg, *rest)  # type: ignore[arg-type]
    acc.entries += fast
    state.lines = n
    state.unparsed = unparsed
    return state


def _b(value: object) -> bytes:
    if value is None or value == "":
        return b""
    return str(value).encode("utf-8", "surrogateescape")


def _parse_csv(acc: _Accumulator, head: bytes, stream: BinaryIO) -> _FileState:
    state = _FileState()
    text = io.TextIOWrapper(_Chain(head, stream), encoding="utf-8", errors="replace", newline="")  # type: ignore[arg-type]
    reader = csv.reader(text)
    entry = acc.entry
    n = 0
    for row in reader:
        n += 1
        if len(row) < 14:
            if any(cell.strip() for cell in row):
                state.unparsed += 1
                if state.first_unparsed is None:
                    state.first_unparsed = ",".join(row).encode()
            continue
        sev = row[11].encode()
        msg = row[13]
        if sev == b"LOG" and not (
            msg.startswith("duration: ")
            or msg.startswith("statement: ")
            or msg.startswith("execute ")
        ):
            acc.entries += 1
            continue
        entry(
            sev,
            msg.encode("utf-8", "surrogateescape"),
            _b(row[0]),
            _b(row[3]),
            _b(row[1]),
            _b(row[2]),
            _b(row[22]) if len(row) > 22 else b"",
            _b(row[14]),
            _b(row[19]) if len(row) > 19 else b"",
        )
    state.lines = n
    return state


class _Chain(io.RawIOBase):
    """head bytes, then the rest of the stream, as one readable raw stream."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = memoryview(head)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._head.nbytes:
            size = min(len(buffer), self._head.nbytes)
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _parse_json(acc: _Accumulator, lines: Iterable[bytes]) -> _FileState:
    state = _FileState()
    entry = acc.entry
    loads = json.loads
    n = 0
    for line in lines:
        n += 1
        if (
            b'"error_severity":"LOG"' in line
            and b"duration: " not in line
            and b'"message":"statement: ' not in line
            and b'"message":"execute ' not in line
        ):
            acc.entries += 1
            continue
        try:
            doc = loads(line)
        except ValueError:
            if line.strip():
                state.unparsed += 1
                if state.first_unparsed is None:
                    state.first_unparsed = line
            continue
        if not isinstance(doc, dict) or "error_severity" not in doc:
            state.unparsed += 1
            if state.first_unparsed is None:
                state.first_unparsed = line
            continue
        entry(
            str(doc["error_severity"]).encode(),
            str(doc.get("message", "")).encode("utf-8", "surrogateescape"),
            _b(doc.get("timestamp")),
            _b(doc.get("pid")),
            _b(doc.get("user")),
            _b(doc.get("dbname")),
            _b(doc.get("application_name")),
            _b(doc.get("detail")),
            _b(doc.get("statement")),
        )
    state.lines = n
    return state


# --- the entry point -----------------------------------------------------------------------------
def parse_logs(
    sources: Iterable[str | Path | BinaryIO],
    *,
    log_format: str = "auto",
    prefix: str | None = None,
    min_duration_ms: float = 0.0,
    jobs: int = 1,
    split_bytes: int = SPLIT_BYTES,
) -> LogReport:
    """Parse server logs into per-fingerprint statistics.

    ``jobs`` > 1 parses plain (not compressed, not stdin) stderr files of at least
    ``split_bytes`` in that many processes, each taking a byte range that starts at an entry
    boundary, and merges the results (the same counts; a ``log_statement``/auto_explain pair cut
    by a range boundary is the only thing that can differ). ``jobs=0`` means one per CPU, up to 4.

    Raises :class:`ProblemFound` when non-empty input yields no queries (the message names the
    first line that did not parse and the prefix that was expected); returns a report with
    ``total_queries == 0`` for empty input.
    """
    if jobs < 0:
        raise UsageError(f"--jobs {jobs} is negative", "use 0 (one per CPU, up to 4) or more")
    if min_duration_ms < 0:
        raise UsageError(f"--min-duration {min_duration_ms:g} is negative", "use 0 or more (ms)")
    if jobs == 0:
        jobs = max(1, min(os.cpu_count() or 1, 4))
    if log_format not in FORMATS:
        raise UsageError(f"unknown log format {log_format!r}", "use " + ", ".join(FORMATS))
    given = prefix_to_regex(prefix) if prefix is not None else None
    acc = _Accumulator(min_duration_ms)
    names: list[str] = []
    formats: list[str] = []
    prefixes: list[str] = []
    total_lines = 0
    total_bytes = 0
    unparsed = 0
    first_unparsed: tuple[str, bytes, str | None] | None = None
    no_header: str | None = None
    for source in sources:
        name, stream = _open(source)
        names.append(name)
        try:
            head = _read_head(stream)
            if not head.strip():
                total_bytes += len(head)
                continue
            fmt = detect_format(head, name) if log_format == "auto" else log_format
            formats.append(fmt)
            if fmt == "stderr":
                chosen = given
                if chosen is None:
                    guess = infer_prefix(
                        head[:65536].decode("utf-8", "replace").splitlines()[:2000]
                    )
                    chosen = guess.prefix
                    if chosen is None:
                        no_header = no_header or name
                        first = next(ln for ln in head.splitlines() if ln.strip())
                        unparsed += 1
                        if first_unparsed is None:
                            first_unparsed = (name, first, None)
                        total_lines += head.count(b"\n")
                        total_bytes += len(head) + _drain(stream)
                        continue
                prefixes.append(chosen.text)
                acc.epoch = "%n" in chosen.text
                size = _plain_size(source, stream)
                if jobs > 1 and size >= split_bytes:
                    from dbadmin.slowlog.parallel import parse_stderr_parallel

                    state = parse_stderr_parallel(acc, Path(source), size, chosen, jobs)  # type: ignore[arg-type]
                    stream.seek(size)
                else:
                    state = _parse_stderr(acc, _lines(head, stream), chosen)
            elif fmt == "csvlog":
                acc.epoch = False
                state = _parse_csv(acc, head, stream)
            else:
                acc.epoch = False
                state = _parse_json(acc, _lines(head, stream))
            total_lines += state.lines
            unparsed += state.unparsed
            if state.first_unparsed is not None and first_unparsed is None:
                first_unparsed = (
                    name,
                    state.first_unparsed,
                    state.prefix.text if state.prefix else None,
                )
            total_bytes += _position(stream)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise UsageError(f"cannot read {name}: {exc}") from None
        finally:
            if isinstance(source, str | Path):
                stream.close()
    acc.finish()
    report = _report(acc, names, formats, prefixes, total_lines, total_bytes, unparsed)
    if report.total_queries == 0 and total_lines > 0:
        raise _zero_queries(report, acc, first_unparsed, prefixes, given)
    return report


def _plain_size(source: object, stream: BinaryIO) -> int:
    """The size of an uncompressed regular file, else 0 (gzip and pipes are read serially)."""
    if not isinstance(source, str | Path) or isinstance(stream, gzip.GzipFile):
        return 0
    try:
        st = os.stat(source)
    except OSError:
        return 0
    return st.st_size if stat.S_ISREG(st.st_mode) else 0


def _drain(stream: BinaryIO) -> int:
    size = 0
    while chunk := stream.read(1 << 20):
        size += len(chunk)
    return size


def _position(stream: BinaryIO) -> int:
    try:
        if isinstance(stream, gzip.GzipFile):
            return stream.tell()
        return stream.tell()
    except (OSError, ValueError):
        return 0


def _zero_queries(
    report: LogReport,
    acc: _Accumulator,
    first_unparsed: tuple[str, bytes, str | None] | None,
    prefixes: list[str],
    given: LinePrefix | None,
) -> ProblemFound:
    files = ", ".join(report.files)
    if first_unparsed is not None and (acc.entries == 0 or report.unparsed_lines > 0):
        name, line, expected = first_unparsed
        shown = line.decode("utf-8", "replace").rstrip("\r\n")[:300]
        if expected is None and given is not None:
            expected = given.text
        if expected is None:
            return ProblemFound(
                f"0 queries in {files}: could not recognise the log_line_prefix; first line: "
                f"{shown!r}",
                "pass --prefix with the server's log_line_prefix (SHOW log_line_prefix), "
                "or --format csvlog/jsonlog",
            )
        return ProblemFound(
            f"0 queries in {files}: {report.unparsed_lines} of {report.lines} lines do not "
            f"match the expected log_line_prefix {expected!r}; first unparsed line ({name}): "
            f"{shown!r}",
            "pass --prefix with the server's log_line_prefix (SHOW log_line_prefix) or drop "
            "--prefix to infer it",
        )
    return ProblemFound(
        f"0 queries in {files}: {acc.entries} log entries parsed (log_line_prefix "
        f"{', '.join(repr(p) for p in prefixes) or 'n/a'}) but none has a statement duration",
        "log durations with log_min_duration_statement (dbadmin slow-queries enable "
        "--threshold 250ms) or lower --min-duration",
    )


def _report(
    acc: _Accumulator,
    names: list[str],
    formats: list[str],
    prefixes: list[str],
    lines: int,
    size: int,
    unparsed: int,
) -> LogReport:
    groups = []
    for g in acc.groups.values():
        groups.append(
            QueryGroup(
                fingerprint=g.fp.id,
                query=g.fp.query,
                count=g.count,
                total_ms=g.total,
                mean_ms=g.total / g.count if g.count else 0.0,
                p50_ms=g.percentile(0.50),
                p95_ms=g.percentile(0.95),
                max_ms=max(g.max, 0.0),
                first_seen=_text(g.first if g.first != b"\xff" else g.last),
                last_seen=_text(g.last),
                example=g.example.decode("utf-8", "replace"),
                example_parameters=_text(g.example_params),
                example_ms=max(g.example_ms, 0.0),
                users=g.label_counts(0),
                databases=g.label_counts(1),
                applications=g.label_counts(2),
            )
        )
    groups.sort(key=lambda g: (-g.total_ms, -g.count, g.fingerprint))
    errors = sorted(
        (
            ErrorGroup(
                severity=k[0].decode(),
                message=k[1].decode("utf-8", "replace"),
                count=k[2],
                first_seen=_text(k[3]),
                last_seen=_text(k[4]),
                statement=_text(k[5]),
            )
            for k in acc.error_kinds.values()
        ),
        key=lambda e: (-e.count, e.message),
    )
    timeline = tuple(
        TimeBucket(minute=(_text(k) or "")[:16], count=int(v[0]), total_ms=v[1])
        for k, v in sorted(acc.timeline.items())
    )
    return LogReport(
        files=tuple(names),
        formats=tuple(dict.fromkeys(formats)),
        prefixes=tuple(dict.fromkeys(prefixes)),
        total_queries=sum(g.count for g in groups),
        total_duration_ms=math.fsum(g.total_ms for g in groups),
        errors=acc.errors,
        groups=tuple(groups),
        error_groups=tuple(errors),
        timeline=timeline,
        lines=lines,
        bytes_read=size,
        unparsed_lines=unparsed,
        durations_without_statement=acc.no_statement,
    )
