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
