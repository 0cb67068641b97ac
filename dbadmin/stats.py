"""Small statistics shared by health (latency, pool load) and slowlog (server-log groups)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def nearest_rank(ordered: Sequence[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (a fraction, 0.95 for p95) of ``ordered`` (sorted).

    The smallest value with at least ``q`` of the values at or below it, like pgBadger and most
    dashboards; 0.0 for no values.
    """
    if not ordered:
        return 0.0
    rank = max(math.ceil(q * len(ordered)), 1)
    return ordered[min(rank, len(ordered)) - 1]


def median(values: Sequence[float]) -> float:
    """The median (the mean of the two middle values for an even count), as
    ``statistics.median`` without importing it (it pulls in ``random`` and ``fractions``, a few
    ms on every ``slow-queries log``); 0.0 for no values."""
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return 0.0
    middle = n // 2
    return float(ordered[middle]) if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2
