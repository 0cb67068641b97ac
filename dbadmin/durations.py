"""One duration syntax for every option that takes one: ``250ms``, ``2s``, ``5m``, ``1h``; a bare
number is seconds."""

from __future__ import annotations

import re

from dbadmin.errors import UsageError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str, flag: str) -> float:
    """Seconds in ``text``; a UsageError (exit 2) naming ``flag`` when it is not a duration."""
    match = _DURATION.match(text)
    if not match:
        raise UsageError(f"{flag} {text!r} is not a duration", "use e.g. 500ms, 10s, 2m, 1h or 10")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2) or "s"]
    if seconds <= 0:
        raise UsageError(f"{flag} must be positive")
    return seconds
