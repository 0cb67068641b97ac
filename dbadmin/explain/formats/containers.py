"""What people paste a plan inside: psql's table frames (every border, ascii/old-ascii/unicode
line styles, aligned or wrapped), CSV/TSV exports (quoted cells with doubled quotes), and
auto_explain log entries (log line prefix, ``duration: ... plan:``, ``Query Text:``, the
continuation lines the server log indents with a tab). Each unwrapper returns the plan text
inside, or None when the text is not in its container; they run in ``UNWRAPPERS`` order.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass

from dbadmin.explain.formats.text_plan import SUMMARY_LINE, looks_like_text_plan


@dataclass(frozen=True)
class Unwrapped:
    text: str  # the plan inside: text format or JSON
    container: str  # "csv", "tsv", "psql", "auto_explain" or "plain"
    query_text: str | None = None
    duration_ms: float | None = None


_HEADER = "QUERY PLAN"
_RULE = re.compile(r"^[\s+\-=|─━═┼┬┴├┤┌┐└┘│╋╬╪╫]+$")
_ROWS = re.compile(r"^\(\d+ rows?\)$")
_VERTICALS = "|│║"
# psql's right-edge markers: newline continuation (+ ↵ :) and wrapping (. … ;)
_NEWLINE_MARKS = "+↵:"
_WRAP_MARKS = ".…;"


def unwrap_csv(text: str) -> Unwrapped | None:
    head = text.lstrip("\n").split("\n", 2)
    first = head[0].rstrip()
    if len(head) > 1 and _RULE.match(head[1]):
        return None  # psql's aligned output (border 0), not an export
    for delimiter, name in ((",", "csv"), ("\t", "tsv")):
        cells = first.split(delimiter)
        if cells and cells[0].strip('"') == _HEADER:
            rows = list(csv.reader(io.StringIO(text.strip()), delimiter=delimiter))
            lines = [row[0] for row in rows[1:] if row]
            return Unwrapped("\n".join(lines), name)
    return None


def unwrap_auto_explain(text: str) -> Unwrapped | None:
    match = re.search(r"duration: ([\d.]+) ms\s+plan:\s*\n", text)
    if match is None:
        return None
    body = text[match.end() :]
    lines = body.split("\n")
    # the server log indents continuation lines with one tab; a notice does not
    if all(line.startswith("\t") or not line.strip() for line in lines):
        lines = [line[1:] for line in lines]
    else:
        lines = _until_next_entry(lines)
    query: list[str] = []
    plan: list[str] = []
    in_query = False
    for line in lines:
        if not plan and line.startswith("Query Text:"):
            in_query = True
            query.append(line[len("Query Text:") :].strip())
        elif (
            in_query
            and not plan
            and not (line.startswith(("{", "[")) or looks_like_text_plan(line))
        ):
            query.append(line)
        else:
            in_query = False
            plan.append(line)
    plan_text = "\n".join(plan).strip()
    return Unwrapped(
        plan_text, "auto_explain", "\n".join(query).strip() or None, float(match.group(1))
    )


def _until_next_entry(lines: list[str]) -> list[str]:
    """Stop at the next log entry (a line that starts with a date or a log prefix)."""
    out: list[str] = []
    for line in lines:
        if out and re.match(r"^\d{4}-\d{2}-\d{2}[ T]", line):
            break
        out.append(line)
    return out


def unwrap_psql(text: str) -> Unwrapped | None:
    lines = text.strip("\n").split("\n")
    header = next((i for i, line in enumerate(lines) if _cell(line) == _HEADER), None)
    if header is None:
        return None
    body = [
        line.rstrip("\r")
        for line in lines[header + 1 :]
        if line.strip() and not _RULE.match(line) and not _ROWS.match(line.strip())
    ]
    if not body:
        return Unwrapped("", "psql")
    framed = body[0][:1] in _VERTICALS
    margin = 1 if framed or body[0].startswith(" ") else 0  # border 2 / border 1 / border 0
    widest = max(len(line) for line in body)
    out: list[str] = []
    wrapped = False
    for line in body:
        cell = line.rstrip()[1:-1] if framed else line
        full = len(line) == widest and not framed
        mark = cell[-1:] if (framed or full) else ""
        content = cell[margin:]
        if mark and mark in _WRAP_MARKS + _NEWLINE_MARKS + " ":
            content = content[:-1]  # the marker column (old-ascii marks a wrap with a space)
        elif framed:
            content = content[:-1]  # the space before the right border
        # trailing spaces stay until the next line is known: at a wrap they are content
        if out and (wrapped or _continues(content.rstrip())):
            out[-1] += content
        else:
            out.append(content)
        wrapped = bool(mark) and mark in _WRAP_MARKS
    return Unwrapped("\n".join(line.rstrip() for line in out), "psql")


def _continues(content: str) -> bool:
    """A line psql wrapped without a visible mark (old-ascii): text-plan lines are indented by
    an even number of spaces and only the first one starts at column 0."""
    if not content or content.lstrip()[:1] in '[{]}"':
        return False
    indent = len(content) - len(content.lstrip(" "))
    if indent % 2 == 1:
        return True
    return indent == 0 and not SUMMARY_LINE.match(content)


def _cell(line: str) -> str:
    return line.strip().strip(_VERTICALS).strip()


def unwrap_plain(text: str) -> Unwrapped | None:
    return Unwrapped(text, "plain")


UNWRAPPERS: tuple[Callable[[str], Unwrapped | None], ...] = (
    unwrap_csv,
    unwrap_auto_explain,
    unwrap_psql,
    unwrap_plain,
)


def unwrap(text: str) -> Unwrapped:
    for unwrapper in UNWRAPPERS:
        found = unwrapper(text)
        if found is not None:
            if found.container not in {"plain", "psql"} and _HEADER in found.text[:200]:
                inner = unwrap(found.text)  # e.g. psql output saved inside a CSV
                return Unwrapped(inner.text, found.container, found.query_text, found.duration_ms)
            return found
    return Unwrapped(text, "plain")
