"""Query fingerprints: libpg_query's (via pglast) with a normalizer fallback, cached.

pglast's fingerprint ignores literals, whitespace and IN-list length, the field's standard. It
costs microseconds per call, so a log parser would spend most of its time there; instead each
statement is first reduced by a cheap literal-stripping regex and the fingerprint is computed once
per distinct reduced text. Statements whose text could confuse that regex (comments, quoted
identifiers, backslashes) are cached by their full text, which is always correct, just less
effective. Statements pglast cannot parse (truncated, non-SQL) fall back to :func:`normalize`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# Literal strings and numbers (not digits inside identifiers or $n parameters).
_FAST_LITERALS = re.compile(rb"'(?:[^']|'')*'|(?<![\w$.])\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
# Text the literal-stripping regex could misread: comments, quoted identifiers, backslash
# escapes and dollar quoting ($$...$$, $tag$...$tag$; $1 parameters are fine).
_UNSAFE = re.compile(rb'--|/\*|"|\\|\$(?!\d)')
DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
# A "shape" of the text: letters/_ -> a, digits -> 0, the characters that matter kept as is.
_SHAPE = bytes(
    ord("a")
    if (65 <= c <= 90 or 97 <= c <= 122 or c == 95 or c >= 128)
    else ord("0")
    if 48 <= c <= 57
    else c
    if c in b'-/*"\\$'
    else 32
    for c in range(256)
)

_STR_LITERAL = re.compile(r"(?:[eEbBxXnN]|[uU]&)?'(?:[^']|'')*'")
_NUM_LITERAL = re.compile(r"(?<![\w$.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?\b")
_IN_LIST = re.compile(r"\(\s*\?(?:\s*,\s*\?)*\s*\)")
_VALUES_LIST = re.compile(r"(values\s*\(\?\))(?:\s*,\s*\(\?\))+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.DOTALL)

CACHE_LIMIT = 200_000  # reduced texts kept; cleared when exceeded (unique-comment workloads)


def normalize(sql: str) -> str:
    """A fallback normal form: no comments, literals as ``?``, IN-lists collapsed, one space."""
    text = _COMMENT.sub(" ", sql)
    text = _STR_LITERAL.sub("?", text)
    text = _NUM_LITERAL.sub("?", text)
    text = _SPACE.sub(" ", text).strip().rstrip(";").strip()
    text = _IN_LIST.sub("(?)", text)
    text = _VALUES_LIST.sub(r"\1", text)
    return text.lower()


def fallback_fingerprint(sql: str) -> str:
    return hashlib.blake2b(normalize(sql).encode(), digest_size=8).hexdigest()


@dataclass(frozen=True)
class Fingerprint:
    id: str  # 16 hex digits
    query: str  # the normalized text shown in reports ($1 placeholders, or ? in the fallback)
    parsed: bool  # False when pglast could not parse it and the fallback was used


def fingerprint_sql(sql: str) -> Fingerprint:
    """Fingerprint one statement (uncached)."""
    text = sql.strip()
    try:
        from pglast import parser

        fp = parser.fingerprint(text)
        try:
            shown = parser.normalize(text)
        except Exception:
            shown = text
        return Fingerprint(fp, _SPACE.sub(" ", shown).strip(), True)
    except Exception:  # pglast.parser.ParseError and friends
        pass
    return Fingerprint(fallback_fingerprint(text), normalize(text), False)


class FingerprintCache:
    """Maps statement bytes to a :class:`Fingerprint`, computing each distinct shape once.

    Three keys, fastest first: when the text has no digit touching a letter (``t1``, ``int4``,
    ``1e5``), no ``$`` other than ``$n`` parameters, no comment, double quote or backslash, every
    digit is part of a numeric literal or a parameter number, so turning all digits into 0 gives
    a key that only merges statements differing in numeric values or parameter numbers (which
    the fingerprint ignores anyway);
    otherwise literals are replaced by a regex; texts with comments, quoted identifiers or
    backslashes are keyed by their full text.
    """

    def __init__(self) -> None:
        self._fast: dict[bytes, Fingerprint] = {}
        self._regex: dict[bytes, Fingerprint] = {}
        self._full: dict[bytes, Fingerprint] = {}
        self.calls = 0  # fingerprints computed (for diagnostics)

    def get(self, sql: bytes) -> Fingerprint:
        # Zeroing digits keeps every character class in place, so whether the fast key is safe
        # is a property of the key itself: check it once per key, not once per statement.
        key = sql.translate(DIGITS_TO_ZERO)
        found = self._fast.get(key)
        if found is not None and found is not _UNSAFE_KEY:
            return found
        if found is None:
            shape = key.translate(_SHAPE)
            safe = not (
                b"a0" in shape
                or b"0a" in shape
                or b"a$" in shape  # "$" inside an identifier (foo$1)
                or b"$a" in shape  # dollar quoting ($tag$)
                or b"$$" in shape
                or b"0$" in shape
                or b"--" in shape
                or b"/*" in shape
                or b'"' in shape
                or b"\\" in shape
            )
            if len(self._fast) >= CACHE_LIMIT:
                self._fast.clear()
            if safe:
                found = self._compute(sql)
                self._fast[key] = found
                return found
            self._fast[key] = _UNSAFE_KEY
        if _UNSAFE.search(sql) is None:
            table, key = self._regex, _FAST_LITERALS.sub(b"?", sql)
        else:
            table, key = self._full, sql
        found = table.get(key)
        if found is None:
            found = self._compute(sql)
            if len(table) >= CACHE_LIMIT:
                table.clear()
            table[key] = found
        return found

    def fast_key_is_safe(self, key: bytes) -> bool:
        """Whether ``sql.translate(DIGITS_TO_ZERO)`` keys statements of one fingerprint (after get())."""
        found = self._fast.get(key)
        return found is not None and found is not _UNSAFE_KEY

    def _compute(self, sql: bytes) -> Fingerprint:
        self.calls += 1
        return fingerprint_sql(sql.decode("utf-8", "replace"))


_UNSAFE_KEY = Fingerprint("", "", False)  # marks fast keys that need the slower keys
