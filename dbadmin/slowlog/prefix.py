"""``log_line_prefix``: turn the escape string into a regex, or infer it from a log's first lines.

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

TS_MS = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}(?: [A-Za-z0-9+:-]+)?"
TS_S = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?: [A-Za-z0-9+:-]+)?"
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
    "e": (None, r"[0-9A-Z]{5}"),
    "Q": (None, r"-?\d+"),
}
_FREE = {"u": "user", "d": "db", "a": "app", "h": "host", "r": "host", "v": None, "i": None,
         "b": None, "L": None}  # fmt: skip

# Prefixes people actually use (PostgreSQL's default first), tried before generic inference.
COMMON_PREFIXES = (
    "%m [%p] ",
    "%m [%p] %q%u@%d ",
    "%m [%p] %q%u@%d %a ",
    "%m [%p] %q%u@%d/%a ",
    "%t [%p] %q%u@%d/%a ",
    "%m [%p] %q%a %u@%d ",
    "%m [%p] %q%a@%d ",
    "%t [%p] ",
    "%t [%p] %q%u@%d ",
    "%m [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
    "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
    "%m [%p]: user=%u,db=%d,app=%a,client=%h ",
    "%t [%p]: user=%u,db=%d,app=%a,client=%h ",
    "%t [%p]: [%l-1] user=%u,db=%d ",
    "%m [%p]: [%l-1] user=%u,db=%d ",
    "%t [%p]: [%l-1] ",
    "%m [%p] %q[user=%u,db=%d,app=%a] ",
    "%m %u %d [%p] ",
    "%t:%r:%u@%d:[%p]: ",
    "%m:%r:%u@%d:[%p]: ",
    "%m [%c] ",
    "%n [%p] ",
    "%m ",
    "%t ",
)


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


def _free_field(following: str) -> str:
    """A field of free text: stop at the next literal character (fast, no backtracking)."""
    if following and following not in "%":
        return "[^" + re.escape(following) + r"\n]*"
    return r"\S*"


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
        if esc in _FIXED:
            name, rx = _FIXED[esc]
        elif esc in _FREE:
            name, rx = _FREE[esc], _free_field(following)
        else:
            raise UsageError(
                f"log_line_prefix escape %{esc} is not supported",
                "pass a prefix using %m %t %n %p %c %l %u %d %a %h %r %e %x %v %i %b %q %Q",
            )
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


@dataclass(frozen=True)
class PrefixGuess:
    prefix: LinePrefix | None
    sample: str | None  # the first line that carried a severity word (for messages)


def _header_lines(lines: list[str]) -> list[str]:
    return [ln for ln in lines if ln and not ln.startswith("\t") and _SEVERITY_SEARCH.search(ln)]


def _fields_used(prefix: LinePrefix, lines: list[str]) -> set[str] | None:
    """The fields that captured text on some line, or None when a line does not match."""
    rx = re.compile(prefix.pattern + SEVERITY_RE)
    used: set[str] = set()
    for line in lines:
        m = rx.match(line)
        if m is None:
            return None
        used.update(name for name, value in m.groupdict().items() if value)
    return used


def _matches_all(prefix: LinePrefix, lines: list[str]) -> bool:
    rx = re.compile(prefix.pattern + SEVERITY_RE)
    return all(rx.match(ln) for ln in lines)


def infer_prefix(lines: list[str]) -> PrefixGuess:
    """Find the ``log_line_prefix`` that explains every header line of a sample.

    Tries the common prefixes first (the one capturing most fields wins), then builds one from a
    session line's prefix (timestamps %t/%m/%n, [pid], user@db, key=value fields) and inserts
    %q where non-session lines end early.
    """
    headers = _header_lines(lines)
    if not headers:
        return PrefixGuess(None, next((ln for ln in lines if ln.strip()), None))
    best: LinePrefix | None = None
    best_score = (-1, 0)
    for text in COMMON_PREFIXES:
        candidate = prefix_to_regex(text)
        used = _fields_used(candidate, headers)
        if used is None:
            continue
        # most fields that really captured something; then the simpler prefix
        score = (len(used), -len(candidate.fields))
        if score > best_score:
            best, best_score = candidate, score
    if best is not None:
        return PrefixGuess(best, headers[0])
    generic = _generic_guess(headers)
    if generic is not None:
        return PrefixGuess(generic, headers[0])
    return PrefixGuess(best, headers[0])


_TOKEN_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(TS_MS), "%m"),
    (re.compile(TS_S), "%t"),
    (re.compile(TS_EPOCH + r"(?=\D)"), "%n"),
    (re.compile(r"\[\d+-\d+\]"), "[%l-1]"),
    (re.compile(r"\[\d+\]"), "[%p]"),
    (re.compile(r"[0-9a-f]{6,}\.[0-9a-f]+"), "%c"),
)
_KEYS = {
    "user": "%u", "usr": "%u", "u": "%u", "db": "%d", "database": "%d", "dbname": "%d",
    "d": "%d", "app": "%a", "application": "%a", "application_name": "%a", "appname": "%a",
    "a": "%a", "client": "%h", "host": "%h", "remote": "%h", "h": "%h", "clientaddr": "%h",
    "pid": "%p", "session": "%c", "sid": "%c", "line": "%l",
}  # fmt: skip
_KV = re.compile(r"(\w+)=([^,\s\]\[]*)")
_AT = re.compile(r"([^\s@\[\]]*)@([^\s@\[\]:,]*)")


def _tokenize(sample: str) -> str | None:
    """Turn one line's prefix text into a log_line_prefix escape string."""
    out: list[str] = []
    i = 0
    have_pid = False
    while i < len(sample):
        for rx, esc in _TOKEN_RULES:
            m = rx.match(sample, i)
            if m:
                if esc in ("%m", "%t", "%n") and i != 0 and any(e in out for e in ("%m", "%t")):
                    continue
                out.append(esc)
                have_pid = have_pid or esc in ("[%p]", "%c")
                i = m.end()
                break
        else:
            m = _KV.match(sample, i)
            if m and m.group(1).lower() in _KEYS:
                esc = _KEYS[m.group(1).lower()]
                value = m.group(2)
                if esc == "%h" and value.endswith(")"):
                    esc = "%r"
                out.append(f"{m.group(1)}={esc}")
                i = m.end()
                continue
            m = _AT.match(sample, i)
            if m and (i == 0 or not sample[i - 1].isalnum()):
                out.append("%u@%d")
                i = m.end()
                continue
            m = re.compile(r"\d+").match(sample, i)
            if m and not have_pid and (i == 0 or not sample[i - 1].isalnum()):
                out.append("%p")
                have_pid = True
                i = m.end()
                continue
            ch = sample[i]
            out.append("%%" if ch == "%" else ch)
            i += 1
    return "".join(out) if out else None


def _generic_guess(headers: list[str]) -> LinePrefix | None:
    session = [ln for ln in headers if "duration: " in ln or "statement: " in ln] or headers
    m = _SEVERITY_SEARCH.search(session[0])
    if m is None:
        return None
    text = _tokenize(session[0][: m.start()])
    if text is None:
        return None
    try:
        candidate = prefix_to_regex(text)
    except UsageError:
        return None
    if _matches_all(candidate, headers):
        return candidate
    # insert %q at each escape boundary until non-session lines match too
    for k in range(len(text)):
        if text[k] in " [:" or (k > 0 and text[k - 1] in " ]:"):
            with_q = text[:k] + "%q" + text[k:]
            try:
                candidate = prefix_to_regex(with_q)
            except UsageError:
                continue
            if _matches_all(candidate, headers):
                return candidate
    return None
