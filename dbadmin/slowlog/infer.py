"""Infer a stderr log's whole ``log_line_prefix`` from its first lines, with no configuration.

The prefix part (the text before ``LOG:  ``) of one session line is cut into tokens: timestamps,
``[pid]``, session ids, ``user@db``, ``key=value`` fields, hosts, backend types, numbers and
words. A probe regex built from the tokens is then matched against every header line of the
sample, background-process lines included (the postmaster, checkpointer and connection lines
whose user, database, host or application are empty, or cut short by ``%q``), and each token's
values over all lines decide what it is: a number that counts up by one within each process is
``%l``, a five-character code that is mostly ``00000`` is ``%e``, a 64-bit value is ``%Q``, a host
with ``(port)`` is ``%r``, a word that differs between sessions is ``%a``, a constant one is a
literal. The result is checked against every line once more; when that fails, the prefixes in
common use are tried (the one capturing most fields wins).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from dbadmin.errors import UsageError
from dbadmin.slowlog.prefix import (
    SEVERITY_RE,
    TS_EPOCH,
    TS_MS,
    TS_S,
    LinePrefix,
    escape_regex,
    prefix_to_regex,
)

_SEVERITY_SEARCH = re.compile(SEVERITY_RE)

# Prefixes people actually use (PostgreSQL's default first): the fallback of the inference.
COMMON_PREFIXES = (
    "%m [%p] ",
    "%m [%p] %q%u@%d ",
    "%m [%p] %q%u@%d %a ",
    "%m [%p] %q%u@%d/%a ",
    "%t [%p] %q%u@%d/%a ",
    "%m [%p] %q%a %u@%d ",
    "%t [%p] ",
    "%t [%p] %q%u@%d ",
    "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
    "%t [%p]: user=%u,db=%d,app=%a,client=%h ",
    "%t [%p]: [%l-1] user=%u,db=%d ",
    "%m %u %d [%p] ",
    "%t:%r:%u@%d:[%p]:",
    "%t-%c-",
    "%m [%c] ",
    "%n [%p] ",
    "%m ",
    "%t ",
    "",  # nothing: syslog setups whose daemon adds the time and pid
)

# backend_type values (%b), longest first so "autovacuum worker" wins over a shorter match
BACKEND_TYPES = sorted(
    (
        "client backend", "autovacuum launcher", "autovacuum worker", "background writer",
        "background worker", "checkpointer", "walwriter", "walsender", "walreceiver",
        "walsummarizer", "archiver", "startup", "postmaster", "logger", "parallel worker",
        "logical replication launcher", "logical replication worker",
        "logical replication apply worker", "logical replication tablesync worker",
        "logical replication parallel worker", "slotsync worker", "io worker",
        "standalone backend", "dead-end client backend", "not initialized",
    ),
    key=len,
    reverse=True,
)  # fmt: skip
_KEYS = {
    "user": "%u", "usr": "%u", "u": "%u", "db": "%d", "database": "%d", "dbname": "%d",
    "d": "%d", "app": "%a", "application": "%a", "application_name": "%a", "appname": "%a",
    "a": "%a", "client": "%h", "host": "%h", "remote": "%h", "h": "%h", "clientaddr": "%h",
    "pid": "%p", "session": "%c", "sid": "%c", "line": "%l", "xid": "%x", "vxid": "%v",
    "sqlstate": "%e", "query_id": "%Q", "queryid": "%Q", "backend": "%b", "backend_type": "%b",
}  # fmt: skip

# token rules, tried in this order at each position
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("ts:%m", re.compile(TS_MS)),
    ("ts:%t", re.compile(TS_S)),
    ("ts:%n", re.compile(TS_EPOCH + r"(?![\d.])")),
    ("word", re.compile(r"\[unknown\]")),  # what an empty user, database or application shows
    ("line", re.compile(r"\[(\d+)-(\d+)\]")),
    ("bnum", re.compile(r"\[(-?\d+)\]")),
    ("esc:%c", re.compile(r"[0-9a-f]{6,}\.[0-9a-f]+(?![\w.])")),
    ("esc:%v", re.compile(r"\d+/\d+(?![\w/])")),
    ("host", re.compile(r"(?:\d{1,3}(?:\.\d{1,3}){3}|\[local\])(?:\(\d+\))?")),
    ("kv", re.compile(r"(\w+)=")),
    ("at", re.compile(r"(?:[^\s@\[\]:,/=]+|\[unknown\])@(?:[^\s@\[\]:,/=]+|\[unknown\])")),
    ("esc:%b", re.compile("(?:" + "|".join(map(re.escape, BACKEND_TYPES)) + r")(?![\w-])")),
    ("code", re.compile(r"(?=[0-9A-Z]*[A-Z])(?=[0-9A-Z]*\d)[0-9A-Z]{5}(?![\w])")),
    ("num", re.compile(r"-?\d+(?![\w.])")),
    ("word", re.compile(r"[A-Za-z_][\w.-]*")),
)
_KV_VALUE = re.compile(r"\[local\]|\[unknown\]|[^,\s\[\]]*")


@dataclass(frozen=True)
class PrefixGuess:
    prefix: LinePrefix | None
    sample: str | None  # the first line that carried a severity word (for messages)


@dataclass
class _Token:
    kind: str  # "lit", "esc" (decided), or a slot to resolve: "ts", "bnum", "num", "host", "word"
    text: str  # the literal, the escape, or (slots) the text seen on the template line


def header_lines(lines: list[str]) -> list[str]:
    return [ln for ln in lines if ln and not ln.startswith("\t") and _SEVERITY_SEARCH.search(ln)]


def infer_prefix(lines: list[str]) -> PrefixGuess:
    """The ``log_line_prefix`` that explains every header line of a sample."""
    headers = header_lines(lines)
    if not headers:
        return PrefixGuess(None, next((ln for ln in lines if ln.strip()), None))
    # each header line has a severity (header_lines kept only those)
    heads = [ln[: m.start()] for ln in headers if (m := _SEVERITY_SEARCH.search(ln))]
    text = _structural(heads, _template(headers, heads))
    if text is not None:
        return PrefixGuess(prefix_to_regex(text), headers[0])
    return PrefixGuess(_best_common(heads), headers[0])


def _matches_all(prefix: LinePrefix, heads: list[str]) -> bool:
    rx = re.compile(prefix.pattern + r"\Z")
    return all(rx.match(h) for h in heads)


def _best_common(heads: list[str]) -> LinePrefix | None:
    best: LinePrefix | None = None
    best_score = (-1, 0)
    for text in COMMON_PREFIXES:
        candidate = prefix_to_regex(text)
        rx = re.compile(candidate.pattern + r"\Z")
        used: set[str] = set()
        for head in heads:
            m = rx.match(head)
            if m is None:
                break
            used.update(name for name, value in m.groupdict().items() if value)
        else:
            score = (len(used), -len(candidate.fields))
            if score > best_score:
                best, best_score = candidate, score
    return best


def _template(headers: list[str], heads: list[str]) -> str:
    """A session line's prefix: a statement's line, the one with fewest spaces (application
    names may have some), then the longest."""

    def rank(k: int) -> tuple[bool, int, int]:
        line, head = headers[k], heads[k]
        session = "duration: " in line or "statement: " in line or "execute " in line
        return session, -head.count(" "), len(head)

    return heads[max(range(len(heads)), key=rank)]


def _tokenize(sample: str) -> list[_Token]:
    out: list[_Token] = []
    i = 0
    have_ts = False
    while i < len(sample):
        for kind, rx in _RULES:
            m = rx.match(sample, i)
            if m is None or (i > 0 and kind in ("num", "word", "at", "code") and _glued(sample, i)):
                continue
            if kind.startswith("ts:"):
                out.append(_Token("ts", "%s" if have_ts else kind[3:]))
                have_ts = True
            elif kind.startswith("esc:"):
                out.append(_Token("esc", kind[4:]))
            elif kind == "line":
                out += [_Token("lit", "["), _Token("esc", "%l"), _Token("lit", f"-{m[2]}]")]
            elif kind == "bnum":
                out += [_Token("lit", "["), _Token("bnum", m[1]), _Token("lit", "]")]
            elif kind == "kv":
                esc = _KEYS.get(m[1].lower())
                if esc is None:
                    continue
                value = _KV_VALUE.match(sample, m.end())
                assert value is not None  # the pattern matches the empty string
                out.append(_Token("lit", m.group(0)))
                out.append(_Token("host", value[0]) if esc == "%h" else _Token("esc", esc))
                i = value.end()
                break
            elif kind == "at":
                out += [_Token("esc", "%u"), _Token("lit", "@"), _Token("esc", "%d")]
            elif kind == "code":
                out.append(_Token("esc", "%e"))
            else:
                out.append(_Token(kind, m.group(0)))
            i = m.end()
            break
        else:
            ch = sample[i]
            out.append(_Token("lit", "%%" if ch == "%" else ch))
            i += 1
    return out


def _glued(sample: str, i: int) -> bool:
    """True inside a word (``abc123``): numbers and words start after a separator."""
    return sample[i - 1].isalnum() or sample[i - 1] == "_"


_SLOT_RX = {
    "bnum": r"-?\d+",
    "num": r"-?[0-9A-Z]+",
    "host": r"[^\s,]*?",
    "word": r"[^\n]*?",
}


def _probe(tokens: list[_Token], q_at: int | None) -> re.Pattern[str]:
    parts: list[str] = []
    for k, tok in enumerate(tokens):
        if k == q_at:
            parts.append("(?:")
        if tok.kind == "lit":
            parts.append(re.escape(tok.text.replace("%%", "%")))
            continue
        if tok.kind in ("ts", "esc"):
            after = tokens[k + 1] if k + 1 < len(tokens) else None
            following = after.text.replace("%%", "%")[:1] if after and after.kind == "lit" else ""
            rx = escape_regex(tok.text[1], following)
        else:
            rx = _SLOT_RX[tok.kind]
        parts.append(f"(?P<g{k}>{rx})")
    if q_at is not None:
        parts.append(")?")
    return re.compile("".join(parts) + r"\Z")


def _structural(heads: list[str], template: str) -> str | None:
    tokens = _tokenize(template)
    if not tokens:
        return None
    # %q: the latest point after a literal from which non-session lines may stop
    for q_at in (None, *range(len(tokens) - 1, 0, -1)):
        if q_at is not None and tokens[q_at - 1].kind != "lit":
            continue
        probe = _probe(tokens, q_at)
        if all(probe.match(h) for h in heads):
            break
    else:
        return None
    matches = [m for h in heads if (m := probe.match(h))]  # all of them (the loop's test)
    values = {
        k: [m.group(f"g{k}") for m in matches] for k, tok in enumerate(tokens) if tok.kind != "lit"
    }
    text = _resolve(tokens, values, q_at)
    if text is None:
        return None
    try:
        candidate = prefix_to_regex(text)
    except UsageError:
        return None
    return text if _matches_all(candidate, heads) else None


def _resolve(
    tokens: list[_Token], values: dict[int, list[str | None]], q_at: int | None
) -> str | None:
    escapes = {tok.text for tok in tokens if tok.kind in ("esc", "ts")}
    pid_slot = next((k for k, t in enumerate(tokens) if t.kind == "bnum"), None)
    if pid_slot is None:
        pid_slot = next(
            (k for k, t in enumerate(tokens) if t.kind == "esc" and t.text == "%c"), None
        )
    if pid_slot is None:
        pid_slot = next((k for k, t in enumerate(tokens) if t.kind == "num"), None)
        if pid_slot is not None:
            tokens[pid_slot] = _Token("esc", "%p")
    words = [k for k, t in enumerate(tokens) if t.kind == "word" and _varies(values[k])]
    names = [e for e in ("%u", "%d", "%a") if e not in escapes]
    if len(words) == 1 and "%a" in names:
        names = ["%a"]
    out: list[str] = []
    for k, tok in enumerate(tokens):
        if k == q_at:
            out.append("%q")
        if tok.kind in ("lit", "esc", "ts"):
            out.append(tok.text)
        elif tok.kind == "bnum" and k == pid_slot:
            out.append("%p")
        elif tok.kind in ("bnum", "num"):
            pids: list[str | None] = (
                values[pid_slot] if pid_slot is not None else [None] * len(values[k])
            )
            out.append(_number(values[k], pids))
        elif tok.kind == "host":
            out.append("%r" if any(v and "(" in v for v in values[k]) else "%h")
        elif k in words:
            if not names:
                return None
            out.append(names.pop(0))
        else:  # a word that never changes: part of the prefix's own text
            out.append(tok.text.replace("%", "%%"))
    return "".join(out)


def _varies(values: list[str | None]) -> bool:
    return len(set(values)) > 1


def _number(values: list[str | None], pids: list[str | None]) -> str:
    """What a bare number is, from its values on every line (and the process of each line)."""
    seen = [v for v in values if v]
    if seen and all(len(v) == 5 for v in seen) and Counter(seen).most_common(1)[0][0] == "00000":
        return "%e"
    numbers = [int(v) for v in seen if v.lstrip("-").isdigit()]
    if any(n < 0 or n >= 2**32 for n in numbers):
        return "%Q"
    last: dict[str | None, int] = {}
    steps = ones = 0
    for value, pid in zip(values, pids, strict=True):
        if value is None or not value.isdigit():
            continue
        if pid in last:
            steps += 1
            ones += int(value) == last[pid] + 1
        last[pid] = int(value)
    if steps and ones >= 0.9 * steps:
        return "%l"
    return "%x"
