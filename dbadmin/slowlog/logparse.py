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

The pieces: ``readers`` (formats, input), ``accumulate`` (statistics), ``report`` (the result),
``parallel`` (``--jobs``), ``infer`` (the prefix when none is given).
"""

from __future__ import annotations

import gzip
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from dbadmin.errors import ProblemFound, UsageError
from dbadmin.slowlog.accumulate import Accumulator
from dbadmin.slowlog.infer import infer_prefix
from dbadmin.slowlog.nplusone import MIN_RUN
from dbadmin.slowlog.prefix import LinePrefix, prefix_to_regex
from dbadmin.slowlog.readers import (
    FileState,
    detect_format,
    head_and_rest,
    open_source,
    parse_csv,
    parse_json,
    parse_stderr,
    read_head,
)
from dbadmin.slowlog.report import ErrorGroup, LogReport, QueryGroup, TimeBucket, build_report
from dbadmin.slowlog.syslog import entry_lines, unwrap

__all__ = ["FORMATS", "ErrorGroup", "LogReport", "QueryGroup", "TimeBucket", "parse_logs"]

FORMATS = ("auto", "stderr", "csvlog", "jsonlog", "syslog")
SPLIT_BYTES = 32 * 1024 * 1024  # plain files from this size are split across --jobs processes
MAX_JOBS = 64


def parse_logs(
    sources: Iterable[str | Path | BinaryIO],
    *,
    log_format: str = "auto",
    prefix: str | None = None,
    min_duration_ms: float = 0.0,
    jobs: int = 1,
    split_bytes: int = SPLIT_BYTES,
    n_plus_one_min: int = MIN_RUN,
) -> LogReport:
    """Parse server logs into per-fingerprint statistics.

    ``jobs`` > 1 parses plain (not compressed, not stdin) stderr, csvlog and jsonlog files of at
    least ``split_bytes`` in that many processes, each taking a byte range that starts at an entry
    boundary, and merges the results (the same report; an N+1 run cut by a range boundary counts
    as two shorter runs). ``jobs=0`` means one per CPU, up to 4.

    Raises :class:`ProblemFound` when non-empty input yields no queries (the message names the
    first line that did not parse and the prefix that was expected); returns a report with
    ``total_queries == 0`` for empty input.
    """
    if jobs < 0:
        raise UsageError(f"--jobs {jobs} is negative", "use 0 (one per CPU, up to 4) or more")
    if jobs > MAX_JOBS:  # each a Python process: thousands would exhaust memory, not speed up
        raise UsageError(f"--jobs {jobs} is too many", f"use at most {MAX_JOBS} processes")
    if min_duration_ms < 0:
        raise UsageError(f"--min-duration {min_duration_ms:g} is negative", "use 0 or more (ms)")
    if n_plus_one_min < 0 or n_plus_one_min == 1:
        raise UsageError(
            f"--n-plus-one-min {n_plus_one_min} is not a run length",
            "use 2 or more statements per run, or 0 to skip N+1 detection",
        )
    if jobs == 0:
        jobs = max(1, min(os.cpu_count() or 1, 4))
    if log_format not in FORMATS:
        raise UsageError(f"unknown log format {log_format!r}", "use " + ", ".join(FORMATS))
    given = prefix_to_regex(prefix) if prefix is not None else None
    acc = Accumulator(min_duration_ms, n_plus_one_min)
    names: list[str] = []
    formats: list[str] = []
    prefixes: list[str] = []
    total_lines = 0
    total_bytes = 0
    unparsed = 0
    first_unparsed: tuple[str, bytes, str | None, str] | None = None  # name, line, prefix, format
    no_header: str | None = None
    for source in sources:
        name, stream = open_source(source)
        names.append(name)
        try:
            head = read_head(stream)
            if not head.strip():
                total_bytes += len(head)
                continue
            fmt = detect_format(head, name) if log_format == "auto" else log_format
            formats.append(fmt)
            if fmt in ("stderr", "syslog"):
                chosen = given
                if chosen is None:
                    sample = head[:65536].splitlines()[:2000]
                    guess = infer_prefix(
                        entry_lines(sample)
                        if fmt == "syslog"
                        else [ln.decode("utf-8", "replace") for ln in sample]
                    )
                    chosen = guess.prefix
                    if chosen is None:
                        no_header = no_header or name
                        first = next(ln for ln in head.splitlines() if ln.strip())
                        unparsed += 1
                        if first_unparsed is None:
                            first_unparsed = (name, first, None, fmt)
                        total_lines += head.count(b"\n")
                        total_bytes += len(head) + _drain(stream)
                        continue
                prefixes.append(chosen.text)
                acc.epoch = "%n" in chosen.text
                if fmt == "syslog":
                    add_pid = "pid" not in chosen.fields
                    parsing = prefix_to_regex("%p " + chosen.text) if add_pid else chosen
                    lines = unwrap(
                        head_and_rest(head, stream), parsing.compile_line().match, add_pid
                    )
                    state = parse_stderr(acc, lines, parsing)
                else:
                    split = _split(acc, source, stream, fmt, chosen, jobs, split_bytes)
                    state = split or parse_stderr(acc, head_and_rest(head, stream), chosen)
            else:
                acc.epoch = False
                split = _split(acc, source, stream, fmt, None, jobs, split_bytes)
                read = parse_csv if fmt == "csvlog" else parse_json
                state = split or read(acc, head_and_rest(head, stream))
            total_lines += state.lines
            unparsed += state.unparsed
            if state.first_unparsed is not None and first_unparsed is None:
                first_unparsed = (
                    name,
                    state.first_unparsed,
                    state.prefix.text if state.prefix else None,
                    fmt,
                )
            total_bytes += _position(stream)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise UsageError(f"cannot read {name}: {exc}") from None
        finally:
            if isinstance(source, str | Path):
                stream.close()
    acc.finish()
    report = build_report(acc, names, formats, prefixes, total_lines, total_bytes, unparsed)
    if report.total_queries == 0 and total_lines > 0:
        raise _zero_queries(report, acc, first_unparsed, prefixes, given)
    return report


def _split(
    acc: Accumulator,
    source: str | Path | BinaryIO,
    stream: BinaryIO,
    fmt: str,
    prefix: LinePrefix | None,
    jobs: int,
    split_bytes: int,
) -> FileState | None:
    """A plain file of at least ``split_bytes`` parsed in ``jobs`` processes (the stream is
    then at its end), or None: read it in this process."""
    size = _plain_size(source, stream)
    if jobs < 2 or size < split_bytes or not isinstance(source, str | Path):
        return None
    from dbadmin.slowlog.parallel import parse_parallel

    state = parse_parallel(acc, Path(source), size, fmt, prefix, jobs)
    if state is not None:
        stream.seek(size)
    return state


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
    acc: Accumulator,
    first_unparsed: tuple[str, bytes, str | None, str] | None,
    prefixes: list[str],
    given: LinePrefix | None,
) -> ProblemFound:
    files = ", ".join(report.files)
    if first_unparsed is not None and (acc.entries == 0 or report.unparsed_lines > 0):
        name, line, expected, fmt = first_unparsed
        shown = line.decode("utf-8", "replace").rstrip("\r\n")[:300]
        if fmt in ("csvlog", "jsonlog"):
            return ProblemFound(
                f"0 queries in {files}: {report.unparsed_lines} of {report.lines} lines are not "
                f"{fmt} entries; first unparsed line ({name}): {shown!r}",
                f"check that the file is the server's {fmt} output, or pass --format with its "
                "format (stderr, csvlog, jsonlog, syslog)",
            )
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
