"""Several runs of one statement: median, p95, the run-to-run spread, and the buffers touched.

One EXPLAIN ANALYZE is one sample of a noisy quantity: on a busy 2-core machine the same 20 ms
query takes 15 to 30 ms. The regression gate therefore compares medians of several runs, and
judges a slowdown only beyond both a relative limit and an absolute one derived from the
measured spread (3 robust standard deviations, from the median absolute deviation). Buffers
(pages hit + read) do not depend on the machine's load: they are compared as they are.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

from dbadmin.durations import parse_duration
from dbadmin.explain.model import PlanAnalysis

MAD_TO_SIGMA = 1.4826  # a normal distribution's sigma from its median absolute deviation
NOISE_SIGMAS = 3.0


@dataclass(frozen=True)
class RunStats:
    metric: str  # "execution_ms", or "total_cost" for plans without ANALYZE
    samples: tuple[float, ...]
    p50: float
    p95: float
    spread: float  # robust standard deviation of the samples
    buffers: int | None  # shared pages hit + read by the whole plan (median over the runs)
    representative: int  # index of the run closest to the median (its plan is reported)

    @property
    def runs(self) -> int:
        return len(self.samples)

    def as_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "runs": self.runs,
            "samples": [round(x, 3) for x in self.samples],
            "p50": round(self.p50, 3),
            "p95": round(self.p95, 3),
            "spread": round(self.spread, 3),
            "buffers": self.buffers,
        }


def run_stats(analyses: list[PlanAnalysis]) -> RunStats:
    if not analyses:
        raise ValueError("no runs")
    timed = all(a.execution_ms is not None for a in analyses)
    metric = "execution_ms" if timed else "total_cost"
    samples = tuple(float((a.execution_ms if timed else a.total_cost) or 0.0) for a in analyses)
    p50 = statistics.median(samples)
    deviations = [abs(x - p50) for x in samples]
    spread = MAD_TO_SIGMA * statistics.median(deviations) if len(samples) > 1 else 0.0
    pages = [_buffers(a) for a in analyses]
    known = [p for p in pages if p is not None]
    buffers = int(statistics.median(known)) if known else None
    representative = min(range(len(samples)), key=lambda i: abs(samples[i] - p50))
    return RunStats(
        metric, samples, p50, percentile(samples, 0.95), spread, buffers, representative
    )


def _buffers(analysis: PlanAnalysis) -> int | None:
    if not analysis.nodes or not analysis.analyzed:
        return None
    root = analysis.nodes[0].buffers
    if not root:
        return None
    return int(root.get("shared_hit", 0) + root.get("shared_read", 0))


def percentile(samples: tuple[float, ...] | list[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def noise_floor(baseline_spread: float, current_spread: float, min_delta: float) -> float:
    """The smallest slowdown that is not run-to-run noise."""
    return max(min_delta, NOISE_SIGMAS * math.hypot(baseline_spread, current_spread))


def parse_duration_ms(text: str, *, option: str = "--p95-target") -> float:
    """``50ms``, ``0.5ms``, ``2s``, ``250us`` or a bare number of milliseconds: the shared
    duration grammar (:mod:`dbadmin.durations`) with milliseconds as the bare unit."""
    return parse_duration(text, option, unit="ms")
