"""One duration syntax for every option that takes one: ``250ms``, ``2s``, ``5m``, ``1h``; a bare
number is seconds (or the unit an option names, e.g. ``--p95-target`` in milliseconds).

Also accepted: ``us``/``µs`` (explain's microsecond targets), ``min`` (PostgreSQL's spelling of
minutes) and ``d``. The CLI declares every duration option through one parameter type built on
:func:`parse_duration` (``dbadmin.cli.options.Duration``); a test walks the command tree for it.
"""

from __future__ import annotations

import math
import re

from dbadmin.errors import UsageError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*(us|µs|ms|s|m|min|h|d)?\s*$", re.IGNORECASE)
UNIT_MICROSECONDS = {  # integers, so 250us in ms is exactly 0.25
    "us": 1,
    "µs": 1,
    "ms": 1_000,
    "s": 1_000_000,
    "m": 60_000_000,
    "min": 60_000_000,
    "h": 3_600_000_000,
    "d": 86_400_000_000,
}


def parse_duration(text: str, flag: str, *, unit: str = "s", allow_zero: bool = False) -> float:
    """``text`` in ``unit`` (a bare number is already in ``unit``); a UsageError (exit 2) naming
    ``flag`` when it is not a duration, or is zero and ``allow_zero`` is not set."""
    match = _DURATION.match(text)
    if not match:
        bare = "milliseconds" if unit == "ms" else "seconds"
        raise UsageError(
            f"{flag} {text!r} is not a duration",
            f"use e.g. 250ms, 2s, 5m, 1h or a bare number of {bare}",
        )
    given = (match.group(2) or unit).lower()
    value = float(match.group(1)) * UNIT_MICROSECONDS[given] / UNIT_MICROSECONDS[unit]
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise UsageError(f"{flag} must be positive" + (" or 0" if allow_zero else ""))
    return value
