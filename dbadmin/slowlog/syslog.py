"""Logs written through syslog (``log_destination = 'syslog'``), as rsyslog or syslog-ng store
them: ``Dec  6 07:30:45 host postgres[6841]: [3-1] <log_line_prefix>LOG:  ...``.

PostgreSQL sends each line of an entry as its own syslog message numbered ``[entry-chunk]``
(``syslog_sequence_numbers``), and cuts lines longer than about 900 bytes into several chunks
(``syslog_split_messages``). The daemon writes a tab as ``#011``. This module turns such lines back
into what the stderr log would hold, so the stderr reader (and prefix inference) parse them:
chunk 1 and the DETAIL/STATEMENT lines that follow start an entry line, a chunk starting with a
tab is a continuation line, any other chunk is the rest of a line that was cut.

When the ``log_line_prefix`` has no process id (syslog carries it already, so many setups leave
``%p`` out), the pid from the syslog header is put in front of each line and ``%p `` in front of
the prefix used for parsing; the prefix reported is the server's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator

SYSLOG_RE = re.compile(
    rb"(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?"
    rb"(?:Z|[+-]\d\d:?\d\d)?) \S+ [^\s\[\]]+\[(\d+)\]: (?:\[\d+-(\d+)\] )?"
)
TAB = b"#011"


def is_syslog(line: bytes) -> bool:
    return SYSLOG_RE.match(line) is not None


def entry_lines(lines: Iterable[bytes]) -> list[str]:
    """The text after the syslog header of lines that start an entry (for prefix inference)."""
    out = []
    for line in lines:
        m = SYSLOG_RE.match(line)
        if m is not None and (m[2] is None or m[2] == b"1"):
            out.append(line[m.end() :].rstrip(b"\r\n").decode("utf-8", "replace"))
    return out


def unwrap(
    lines: Iterable[bytes], is_header: Callable[[bytes], object], add_pid: bool
) -> Iterator[bytes]:
    """Syslog lines in, the stderr log's lines out (other programs' lines are passed on as they
    are, so they count as lines that did not parse)."""
    pending: bytes | None = None
    for line in lines:
        m = SYSLOG_RE.match(line)
        if m is None:
            if pending is not None:
                yield pending + b"\n"
                pending = None
            yield line
            continue
        text = line[m.end() :].rstrip(b"\r\n")
        if TAB in text:
            text = text.replace(TAB, b"\t")
        candidate = m[1] + b" " + text if add_pid and not text.startswith(b"\t") else text
        chunk = m[2]
        if chunk is None or chunk == b"1" or text.startswith(b"\t") or is_header(candidate):
            if pending is not None:
                yield pending + b"\n"
            pending = candidate
        elif pending is not None:  # the rest of a line cut at syslog_split_messages' limit
            pending += text
        else:
            pending = candidate
    if pending is not None:
        yield pending + b"\n"
