"""Readers: one per log format (stderr with any ``log_line_prefix``, csvlog, jsonlog), each
feeding entries to the accumulator; plus opening files (plain, gzip, stdin) and telling formats.

Lines are read in binary and only the fields that are needed are decoded.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from dbadmin.errors import UsageError
from dbadmin.slowlog.accumulate import ERROR_SEVERITIES, Accumulator
from dbadmin.slowlog.prefix import LinePrefix

HEAD_BYTES = 256 * 1024
READ_BUFFER = 1 << 20  # fewer, larger reads: line iteration costs a third less
CSV_RE = re.compile(rb'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? [^,]*,(?:"|,)')


def open_source(path: str | Path | BinaryIO) -> tuple[str, BinaryIO]:
    if not isinstance(path, str | Path):
        raw: BinaryIO = path
        name = "-"
    else:
        name = str(path)
        try:
            raw = open(path, "rb", buffering=READ_BUFFER)  # noqa: SIM115 - closed by the caller
        except FileNotFoundError:
            raise UsageError(f"log file {name} not found") from None
        except IsADirectoryError:
            raise UsageError(f"{name} is a directory", "pass log files") from None
        except PermissionError:
            raise UsageError(f"cannot read {name}: permission denied") from None
    # GzipFile reads like a BinaryIO, but typeshed declares it a BufferedIOBase only: two ignores
    magic = raw.peek(2)[:2] if hasattr(raw, "peek") else b""
    if magic == b"\x1f\x8b":
        return name, gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if not hasattr(raw, "peek"):
        # a stream without peek (a pipe, BytesIO): typeshed wants a raw stream here, any reader works
        raw = io.BufferedReader(raw)  # type: ignore[type-var]
        if raw.peek(2)[:2] == b"\x1f\x8b":
            return name, gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return name, raw


def read_head(stream: BinaryIO) -> bytes:
    head = stream.read(HEAD_BYTES)
    if head and not head.endswith(b"\n"):
        head += stream.readline()
    return head


def detect_format(head: bytes, name: str = "") -> str:
    from dbadmin.slowlog.syslog import is_syslog

    first = next((ln for ln in head.split(b"\n") if ln.strip()), b"")
    if first.lstrip().startswith(b"{"):
        return "jsonlog"
    if CSV_RE.match(first) or name.endswith((".csv", ".csv.gz")):
        return "csvlog"
    if is_syslog(first):
        return "syslog"
    return "stderr"


def head_and_rest(head: bytes, stream: BinaryIO) -> Iterator[bytes]:
    return itertools.chain(head.splitlines(keepends=True), stream)


@dataclass
class FileState:
    lines: int = 0
    unparsed: int = 0
    first_unparsed: bytes | None = None
    prefix: LinePrefix | None = None
    ends_inside_row: bool = False  # csvlog: the input ended inside a quoted field
    # --jobs: an auto_explain plan at the end of a range waits for a statement in the next one
    plan_pending: bool = False


_END = (b"\0",)  # after the last line: completes the last entry (the same code as the others)


_UNSEEN: tuple[bytes, ...] = ()  # a session not read yet (a known one is 3 groups, or None)


def parse_stderr(acc: Accumulator, lines: Iterable[bytes], prefix: LinePrefix) -> FileState:
    state = FileState(prefix=prefix)
    rx = prefix.compile_line()
    match = rx.match
    gi = rx.groupindex
    i_ms, i_sev, i_msg, i_ts, i_pid, i_user, i_db, i_app = (
        gi[k] - 1 for k in ("ms", "sev", "msg", "ts", "pid", "user", "db", "app")
    )
    entry = acc.entry
    statement = acc.statement
    # the previous entry's groups; Any: bytes, or None for a group that did not take part (only
    # ms: the prefix's absent fields are empty groups, and msg takes part whenever ms does)
    cur: tuple[Any, ...] | None = None
    cont: list[bytes] | None = None
    n = 0
    fast = 0
    unparsed = 0

    for line in itertools.chain(lines, _END):
        n += 1
        if line[0] == 9:  # "\t": continuation of the previous entry
            if cur is not None:
                if cont is None:
                    cont = [line]
                else:
                    cont.append(line)
            continue
        m = match(line)
        if m is None and line is not _END[0]:
            if line.strip():
                unparsed += 1
                if state.first_unparsed is None:
                    state.first_unparsed = line
            continue
        if cur is not None:  # the previous entry is complete
            ms = cur[i_ms]
            if ms is not None:  # fast path: duration + statement/execute
                fast += 1
                sql = cur[i_msg]
                if cont is not None:
                    sql += b"\n" + b"\n".join(c[1:].rstrip(b"\r\n") for c in cont)
                    cont = None
                statement(sql, float(ms), cur[i_ts], cur[i_pid], cur[i_user], cur[i_db], cur[i_app])
            elif cont is None and cur[i_sev] == b"LOG" and _not_a_query(cur[i_msg], 0):
                fast += 1  # a parse or bind duration, a connection...: only counted
                acc.last_group = None
            else:
                sev, msg = cur[i_sev], cur[i_msg]
                rest = (cur[i_ts], cur[i_pid], cur[i_user], cur[i_db], cur[i_app])
                if cont is not None:
                    msg += b"\n" + b"\n".join(c[1:].rstrip(b"\r\n") for c in cont)
                    cont = None
                entry(sev, msg, *rest)
        cur = m.groups() if m is not None else None
    n -= 1  # the end marker
    acc.entries += fast
    state.lines = n
    state.unparsed = unparsed
    return state


def _utf8(text: str) -> bytes:
    """``text`` as bytes; a lone surrogate (a ``\\ud800`` escape in a damaged jsonlog line) too."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _b(value: object) -> bytes:
    if value is None or value == "":
        return b""
    return _utf8(str(value))


_CSV_Q = rb'"([^"]*(?:""[^"]*)*)"'  # a quoted field, captured (quotes doubled inside)
_CSV_F = rb'(?:"[^"]*(?:""[^"]*)*"|[^,"\n]*),'  # any field, skipped
_CSV_S = rb"[^,]*,"  # a field without a comma (a quoted one with a comma makes the row not match)


def _csv_timed(text: bytes) -> re.Pattern[bytes]:
    """The common row, a statement's duration (csvlog's 26 columns, PostgreSQL 14-18), with
    ``text`` the body of a captured quoted field; fields 4-10 (connection, session, line number,
    command tag, session start, vxid, xid) hold no comma."""
    return re.compile(
        rb'([^,"]*),(?:"' + text + rb'")?,(?:"' + text + rb'")?,(\d*),' + _CSV_S * 7
        + rb'LOG,[0-9A-Z]*,"duration: (\d+(?:\.\d+)?) ms  (?:statement|execute [^:"]*): '
        + text + rb'",(?:"' + text + rb'")?,(?:,,,,,,,|' + _CSV_F * 7 + rb')(?:"' + text
        + rb'")?,'
    )  # fmt: skip


_CSV_PLAIN = _csv_timed(rb'([^"]*)')  # no quote inside any captured field: nothing to undo
_CSV_TIMED = _csv_timed(rb'([^"]*(?:""[^"]*)*)')  # quotes doubled inside some
_CSV_LOG = b',LOG,00000,"'  # severity, SQLSTATE and the message's opening quote of a LOG row


def _unquote(field: bytes) -> bytes:
    return field.replace(b'""', b'"') if b'""' in field else field


def _not_a_query(line: bytes, start: int) -> bool:
    """Whether the LOG message starting at ``start`` counts for nothing: a parse or bind
    duration, a connection, a checkpoint (``Accumulator.entry`` would only count it)."""
    if line.startswith(b"duration: ", start):
        end = line.find(b" ms  ", start + 10, start + 40)
        return end > 0 and line.startswith((b"parse ", b"bind "), end + 5)
    return not line.startswith((b"statement: ", b"execute "), start)


def parse_csv(acc: Accumulator, lines: Iterable[bytes]) -> FileState:
    """csvlog rows (a row ends where its quotes balance: multi-line statements); a statement's
    duration row is cut by one regex, other LOG rows that count for nothing are told by their
    message's first words, and any other row goes to ``csv``."""
    state = FileState()
    plain = _CSV_PLAIN.match
    timed = _CSV_TIMED.match
    add_statement = acc.statement
    open_row: list[bytes] | None = None
    n = 0
    quick = 0  # entries counted here
    for line in lines:
        if open_row is not None:
            open_row.append(line)
            if line.count(b'"') % 2 == 0:
                continue  # still inside a quoted field
            line, open_row = b"".join(open_row), None
        else:
            n += 1
        m = plain(line)
        if m is not None:
            ts, user, db, pid, ms, sql, detail, app = m.groups(b"")
            add_statement(sql, float(ms), ts, pid, user, db, app, detail)
            quick += 1
            continue
        m = timed(line) if b'""' in line else None
        if m is not None:
            ts, user, db, pid, ms, sql, detail, app = map(_unquote, m.groups(b""))
            add_statement(sql, float(ms), ts, pid, user, db, app, detail)
            quick += 1
            continue
        if line.count(b'"') % 2:
            open_row = [line]  # a quoted field goes on (never for a joined row: its count is even)
            continue
        at = line.find(_CSV_LOG)
        if at > 0 and line.count(b",", 0, at) == 10 and _not_a_query(line, at + len(_CSV_LOG)):
            quick += 1
            acc.last_group = None
            continue
        _csv_row(acc, state, line)
    if open_row is not None:
        state.ends_inside_row = True
        _csv_row(acc, state, b"".join(open_row))
    acc.entries += quick
    state.lines = n
    return state


def _csv_row(acc: Accumulator, state: FileState, raw: bytes) -> None:
    try:
        row = next(csv.reader([raw.decode("utf-8", "surrogateescape")]), [])
    except csv.Error:  # not csv (a damaged file, or a --jobs range cut inside a quoted field)
        row = [raw.decode("utf-8", "surrogateescape")]
    if len(row) < 14:
        if any(cell.strip() for cell in row):
            state.unparsed += 1
            if state.first_unparsed is None:
                state.first_unparsed = raw
        return
    sev = _b(row[11])
    msg = row[13]
    if sev == b"LOG" and not (
        msg.startswith("duration: ") or msg.startswith("statement: ") or msg.startswith("execute ")
    ):
        acc.entries += 1
        return
    acc.entry(
        sev,
        msg.encode("utf-8", "surrogateescape"),
        _b(row[0]),
        _b(row[3]),
        _b(row[1]),
        _b(row[2]),
        _b(row[22]) if len(row) > 22 else b"",
        _b(row[14]) if len(row) > 14 else b"",
        _b(row[19]) if len(row) > 19 else b"",
    )


_JSTR = rb'"([^"\\]*(?:\\.[^"\\]*)*)"'  # a JSON string's raw body (escapes kept)
# jsonlog's keys come in a fixed order (src/backend/utils/error/jsonlog.c, PostgreSQL 15-18);
# absent keys are left out. Lines this does not match go through json.loads.
_JSON_HEAD = re.compile(
    rb'\{"timestamp":' + _JSTR + rb'(?:,"user":' + _JSTR + rb')?(?:,"dbname":' + _JSTR
    + rb')?,"pid":(\d+)'
)  # fmt: skip
_JSON_BODY = re.compile(
    rb',"error_severity":"([A-Z0-9]+)"(?:,"state_code":"[0-9A-Z]*")?,"message":' + _JSTR
    + rb'(?:,"detail":' + _JSTR + rb')?'
)  # fmt: skip
# The common line, a statement's duration, in two cuts: from the severity on (found by
# bytes.find: that text cannot occur inside a JSON string), and the session's fields (from the
# timestamp's closing quote to "line_num", the first key that changes within a session), cut
# once per session and then looked up. Escapes in the session's fields: the general path.
_JSON_TS = b'{"timestamp":"'
_JSON_SESSION = re.compile(rb'"(?:,"user":"([^"\\]*)")?(?:,"dbname":"([^"\\]*)")?,"pid":(\d+),')
_JSON_LINE_NUM = b',"line_num":'
_JSON_LOG = b',"error_severity":"LOG","message":"'
_JSON_DURATION = _JSON_LOG + b"duration: "


def _json_timed(text: bytes) -> re.Pattern[bytes]:
    """From the duration's value on (after ``_JSON_DURATION``), with ``text`` the body of a
    captured JSON string."""
    return re.compile(
        rb'(\d+(?:\.\d+)?) ms  (?:statement|execute [^:"\\]*): '
        + text + rb'"(?:,"detail":"' + text + rb'")?(?!,"detail":)(?:,"application_name":"'
        + text + rb'")?'
    )  # fmt: skip


_JSON_PLAIN = _json_timed(rb'([^"\\]*)')  # no escapes in any captured string: nothing to undo
_JSON_TIMED = _json_timed(rb'([^"\\]*(?:\\.[^"\\]*)*)')
_JSON_STATEMENT = re.compile(rb',"statement":' + _JSTR)
_JSON_APP = re.compile(rb',"application_name":' + _JSTR)


def _unescape(raw: bytes | None) -> bytes:
    if not raw:
        return b""
    if b"\\" not in raw:
        return raw
    try:
        text: str = json.loads(b'"' + raw + b'"')
    except ValueError:  # bytes that are not UTF-8 (an SQL_ASCII database's), a damaged escape
        try:
            text = json.loads('"' + raw.decode("utf-8", "surrogateescape") + '"')
        except ValueError:
            return raw
    return _utf8(text)


def parse_json(acc: Accumulator, lines: Iterable[bytes]) -> FileState:
    state = FileState()
    entry = acc.entry
    loads = json.loads
    match_head = _JSON_HEAD.match
    match_body = _JSON_BODY.match
    statement_at = _JSON_STATEMENT.search

    def app_at(line: bytes, at: int) -> bytes | None:
        if at < 0:
            return None
        found = _JSON_APP.match(line, at)
        return found[1] if found else None

    session = _JSON_SESSION.match
    sessions: dict[bytes, tuple[bytes, ...] | None] = {}
    plain = _JSON_PLAIN.match
    timed = _JSON_TIMED.match
    after = len(_JSON_DURATION)
    add_statement = acc.statement
    n = 0
    quick = 0  # entries counted here
    for line in lines:
        n += 1
        at = line.find(_JSON_DURATION, 40)  # after the timestamp and pid at least
        if at > 0 and line.startswith(_JSON_TS):
            escaped = False
            m = plain(line, at + after)
            if m is None and b"\\" in line:
                m = timed(line, at + after)
                escaped = True
            who: tuple[bytes, ...] | None = None
            if m is not None:
                ts_end = line.find(b'"', 14)
                key = line[ts_end : line.find(_JSON_LINE_NUM, ts_end, at)]
                who = sessions.get(key, _UNSEEN)
                if who is _UNSEEN:
                    h = session(key)
                    if len(sessions) >= 10_000:
                        sessions.clear()
                    who = sessions[key] = h.groups(b"") if h is not None else None
            if who is not None and m is not None:
                ms, sql, detail, app = m.groups()
                if app is None:  # other keys before it (or none at all)
                    app = app_at(line, line.find(b',"application_name":"', m.end()))
                    escaped = True
                if escaped:
                    sql, detail, app = map(_unescape, (sql, detail, app))
                user, db, pid = who
                add_statement(sql, float(ms), line[14:ts_end], pid, user, db, app or b"",
                              detail or b"")  # fmt: skip
                quick += 1
                continue
        at = line.find(_JSON_LOG)
        if at > 0 and _not_a_query(line, at + len(_JSON_LOG)):
            quick += 1
            acc.last_group = None
            continue
        head = match_head(line)
        body = match_body(line, line.find(b',"error_severity":"', head.end())) if head else None
        if head is not None and body is not None:
            ts, user, db, pid = head.groups()
            sev, msg, detail = body.groups()
            end = body.end()
            application = app_at(line, line.find(b',"application_name":"', end))
            statement = b""
            if sev in ERROR_SEVERITIES:
                found = statement_at(line, end)
                statement = _unescape(found[1]) if found else b""
            entry(sev, _unescape(msg), ts, pid, _unescape(user), _unescape(db),
                  _unescape(application), _unescape(detail), statement)  # fmt: skip
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
            _b(doc.get("message")),
            _b(doc.get("timestamp")),
            _b(doc.get("pid")),
            _b(doc.get("user")),
            _b(doc.get("dbname")),
            _b(doc.get("application_name")),
            _b(doc.get("detail")),
            _b(doc.get("statement")),
        )
    acc.entries += quick
    state.lines = n
    return state
