"""``log_line_prefix``: turn the escape string into a regex (inference is in ``infer.py``).

The compiled regex matches the prefix at the start of a line and captures the fields the report
uses (``ts``, ``pid``, ``user``, ``db``, ``app``, ``host``). Everything after ``%q`` is optional,
as PostgreSQL omits it for lines written by non-session processes (checkpointer, postmaster).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dbadmin.errors import UsageError

# PostgreSQL's severity words as they appear after the prefix ("LOG:  ", two spaces).
SEVERITY_RE = (
    r"(?:DEBUG[1-5]?|LOG|INFO|NOTICE|WARNING|ERROR|FATAL|PANIC|DETAIL|HINT|STATEMENT|CONTEXT|"
    r"QUERY|LOCATION):  "
)
_SEVERITY_SEARCH = re.compile(SEVERITY_RE)

# log_timezone as PostgreSQL prints it: an abbreviation (UTC, CET) or an offset (+03, -0930)
TZ = r"(?: (?:[A-Za-z]+|[+-]\d\d(?::?\d\d)?))?"
TS_MS = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}" + TZ
TS_S = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d" + TZ
TS_EPOCH = r"\d+\.\d{3}"

# escape -> (field name or None, regex). Field regexes for free text are built per position.
_FIXED: dict[str, tuple[str | None, str]] = {
    "m": ("ts", TS_MS),
    "t": ("ts", TS_S),
    "n": ("ts", TS_EPOCH),
    "s": (None, TS_S),
    "p": ("pid", r"\d+"),
    "P": (None, r"\d*"),
    "c": ("pid", r"[0-9a-f]+\.[0-9a-f]+"),
    "l": (None, r"\d+"),
    "x": (None, r"\d+"),
    "v": (None, r"(?:\d+/\d+)?"),  # empty for the postmaster
    "e": (None, r"[0-9A-Z]{5}"),
    "Q": (None, r"-?\d+"),
}
_FREE = {"u": "user", "d": "db", "h": "host", "r": "host", "i": None, "L": None}
# free text that may contain spaces ("PostgreSQL JDBC Driver", "client backend"): the shortest
# text after which the rest of the prefix and a severity word match
_SPACED = {"a": "app", "b": None}

LINE_FIELDS = ("ts", "pid", "user", "db", "app")


@dataclass(frozen=True)
class LinePrefix:
    """A ``log_line_prefix`` and the regex that matches it (captures named fields)."""

    text: str
    pattern: str
    fields: tuple[str, ...]

    def compile_line(self) -> re.Pattern[bytes]:
        """Prefix + severity + message, for the byte-oriented parser.

        Fields the prefix lacks become empty groups, so every match has all of ``ts``, ``pid``,
        ``user``, ``db``, ``app``, ``sev`` and ``msg`` (one ``group()`` call per line). ``ms`` is
        set for the common ``duration: X ms  statement|execute <name>: SQL`` entry (``msg`` is
        then the SQL), so the parser's fast path needs no string handling of its own.
        """
        missing = "".join(f"(?P<{name}>)" for name in LINE_FIELDS if name not in self.fields)
        pattern = self.pattern[1:] if self.pattern.startswith("^") else self.pattern
        return re.compile(
            (
                "^"
                + missing
                + pattern
                + r"(?P<sev>[A-Z]+[0-9]?):  "
                + r"(?:duration: (?P<ms>\d+(?:\.\d+)?) ms  (?:statement|execute [^:\r\n]*): )?"
                + r"(?P<msg>.*)"  # "." stops at "\n"; a CRLF log keeps its "\r" (whitespace)
            ).encode(),
        )


def _free_field(following: str, also: str = "") -> str:
    """A field of free text: stop at the next literal character (fast, no backtracking)."""
    if following and following not in "%":
        return "[^" + re.escape(following + also) + r"\n]*"
    return "[^\\s" + re.escape(also) + "]*"


def _field(esc: str, following: str) -> tuple[str | None, str]:
    """The captured field name (or None) and the regex of one escape, given the next character."""
    if esc in _FIXED:
        return _FIXED[esc]
    if esc == "r":  # host(port): the port in parentheses
        return "host", _free_field(following, "(") + r"(?:\(\d+\))?"
    if esc in _FREE:
        return _FREE[esc], _free_field(following)
    if esc in _SPACED:
        return _SPACED[esc], r"[^\n]*?"
    raise UsageError(
        f"log_line_prefix escape %{esc} is not supported",
        "pass a prefix using %m %t %n %s %p %P %c %l %u %d %a %h %r %e %x %v %i %b %L %q %Q",
    )


def escape_regex(esc: str, following: str) -> str:
    """The regex of one escape letter (``m`` for ``%m``) followed by the character ``following``."""
    return _field(esc, following)[1]


def prefix_to_regex(prefix: str) -> LinePrefix:
    """Translate a ``log_line_prefix`` escape string (``%m [%p] %q%u@%d ``) into a regex."""
    parts: list[str] = []
    fields: list[str] = []
    optional_from: int | None = None
    i = 0
    n = len(prefix)
    while i < n:
        ch = prefix[i]
        if ch != "%":
            parts.append(re.escape(ch))
            i += 1
            continue
        j = i + 1
        padded = False
        while j < n and (prefix[j].isdigit() or prefix[j] == "-"):
            padded = True
            j += 1
        if j >= n:
            parts.append(re.escape("%"))
            break
        esc = prefix[j]
        following = prefix[j + 1] if j + 1 < n else ""
        i = j + 1
        if esc == "%":
            parts.append("%")
            continue
        if esc == "q":
            optional_from = len(parts)
            continue
        name, rx = _field(esc, following)
        if padded:
            rx = r"\s*" + rx + r"\s*"
        if name and name not in fields:
            parts.append(f"(?P<{name}>{rx})")
            fields.append(name)
        else:
            parts.append(f"(?:{rx})")
    if optional_from is not None:
        head, tail = parts[:optional_from], parts[optional_from:]
        parts = [*head, "(?:" + "".join(tail) + ")?"] if tail else head
    return LinePrefix(text=prefix, pattern="^" + "".join(parts), fields=tuple(fields))
