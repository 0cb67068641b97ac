"""Strings that match a CHECK's regex (``col ~ '...'``) or LIKE pattern.

The regex is read with Python's own regex parser (``re._parser``); the subset shared with
PostgreSQL's POSIX regexes (literals, classes, ``.``, groups, alternation, repeats, anchors,
``\\d \\w \\s``) is enough for the checks real schemas carry (codes, postcodes, slugs). A regex
using anything else is reported as unsupported rather than guessed at.
"""

from __future__ import annotations

import random
import re
import string
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # typeshed types re's private parser under its pre-3.11 names only
    import sre_constants as _c
    import sre_parse as _p
else:  # Python 3.11+ (importing sre_* warns there)
    from re import _constants as _c
    from re import _parser as _p

_ALPHABET = string.ascii_letters + string.digits
_CATEGORIES = {
    _c.CATEGORY_DIGIT: string.digits,
    _c.CATEGORY_WORD: string.ascii_letters + string.digits + "_",
    _c.CATEGORY_SPACE: " ",
    _c.CATEGORY_NOT_DIGIT: string.ascii_letters,
    _c.CATEGORY_NOT_WORD: "-.",
    _c.CATEGORY_NOT_SPACE: string.ascii_letters,
}
MAX_OPEN_REPEAT = 6  # "+" and "*" repeat at most this often


class PatternNotSupported(ValueError):
    pass


def regex_sampler(pattern: str) -> Any:
    """A function ``rng -> str`` returning strings that match ``pattern`` (checked once here)."""
    try:
        parsed = _p.parse(pattern)
        compiled = re.compile(pattern)
    except re.error as exc:
        raise PatternNotSupported(f"regex {pattern!r}: {exc}") from None

    def sample(rng: random.Random) -> str:
        return _emit(parsed, rng)

    probe = random.Random(0)
    for _ in range(20):
        if not compiled.search(sample(probe)):
            raise PatternNotSupported(f"regex {pattern!r} is beyond the generator")
    return sample


def _emit(items: Any, rng: random.Random) -> str:
    out: list[str] = []
    for op, arg in items:
        out.append(_one(op, arg, rng))
    return "".join(out)


def _one(op: Any, arg: Any, rng: random.Random) -> str:
    if op is _c.LITERAL:
        return chr(arg)
    if op is _c.ANY:
        return rng.choice(_ALPHABET)
    if op is _c.NOT_LITERAL:
        return rng.choice([c for c in _ALPHABET if ord(c) != arg])
    if op is _c.AT:
        return ""
    if op is _c.IN:
        return _from_class(arg, rng)
    if op is _c.SUBPATTERN:
        return _emit(arg[-1], rng)
    if op is _c.BRANCH:
        return _emit(rng.choice(arg[1]), rng)
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT):
        low, high, body = arg
        high = min(high, low + MAX_OPEN_REPEAT) if high is _c.MAXREPEAT else high
        return "".join(_emit(body, rng) for _ in range(rng.randint(low, max(low, high))))
    if op is _c.CATEGORY:
        return rng.choice(_CATEGORIES.get(arg, string.ascii_letters))
    raise PatternNotSupported(f"regex construct {op}")


def _from_class(items: Any, rng: random.Random) -> str:
    choices: list[str] = []
    negate = False
    for op, arg in items:
        if op is _c.NEGATE:
            negate = True
        elif op is _c.LITERAL:
            choices.append(chr(arg))
        elif op is _c.RANGE:
            choices.extend(chr(c) for c in range(arg[0], arg[1] + 1))
        elif op is _c.CATEGORY:
            choices.extend(_CATEGORIES.get(arg, string.ascii_letters))
        else:
            raise PatternNotSupported(f"character class item {op}")
    if negate:
        allowed = [c for c in _ALPHABET if c not in choices]
        return rng.choice(allowed)
    return rng.choice(choices)


def like_sampler(pattern: str) -> Any:
    """``LIKE`` pattern -> ``rng -> str``: ``%`` becomes a short word, ``_`` one letter."""
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            parts.append(pattern[i + 1])
            i += 2
            continue
        parts.append({"%": "\0%", "_": "\0_"}.get(ch, ch))
        i += 1

    def sample(rng: random.Random) -> str:
        out = []
        for part in parts:
            if part == "\0%":
                out.append("".join(rng.choices(string.ascii_lowercase, k=rng.randint(1, 6))))
            elif part == "\0_":
                out.append(rng.choice(string.ascii_lowercase))
            else:
                out.append(part)
        return "".join(out)

    return sample
