"""The result of a log parse: typed, frozen, with ``as_dict()`` for ``--json``."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dbadmin.slowlog.accumulate import EXACT_SAMPLES
from dbadmin.slowlog.nplusone import MIN_RUN, NPlusOneGroup, build_groups
from dbadmin.urls import scrub_sql

if TYPE_CHECKING:
    from dbadmin.slowlog.accumulate import Accumulator

_EPOCH = re.compile(rb"^\d{9,11}(?:\.\d+)?$")


@dataclass(frozen=True)
class QueryGroup:
    fingerprint: str
    query: str
    count: int
    total_ms: float
    mean_ms: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    first_seen: str | None
    last_seen: str | None
    example: str
    example_parameters: str | None
    example_ms: float
    users: dict[str, int] = field(default_factory=dict)
    databases: dict[str, int] = field(default_factory=dict)
    applications: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorGroup:
    severity: str
    message: str
    count: int
    first_seen: str | None
    last_seen: str | None
    statement: str | None


@dataclass(frozen=True)
class TimeBucket:
    minute: str
    count: int
    total_ms: float


@dataclass(frozen=True)
class LogReport:
    files: tuple[str, ...]
    formats: tuple[str, ...]
    prefixes: tuple[str, ...]
    total_queries: int
    total_duration_ms: float
    errors: int
    groups: tuple[QueryGroup, ...]
    error_groups: tuple[ErrorGroup, ...]
    timeline: tuple[TimeBucket, ...]
    lines: int
    bytes_read: int
    unparsed_lines: int
    durations_without_statement: int
    n_plus_one: tuple[NPlusOneGroup, ...] = ()
    n_plus_one_min: int = MIN_RUN
    percentiles: str = f"exact up to {EXACT_SAMPLES} samples per group, then a 1% log histogram"

    def as_dict(self, top: int | None = None) -> dict[str, object]:
        groups = self.groups if top is None else self.groups[:top]
        return {
            "files": list(self.files),
            "formats": list(self.formats),
            "prefixes": list(self.prefixes),
            "total_queries": self.total_queries,
            "total_duration_ms": round(self.total_duration_ms, 3),
            "errors": self.errors,
            "distinct_queries": len(self.groups),
            "groups": [_group_dict(g) for g in groups],
            "error_groups": [
                {
                    "severity": e.severity,
                    "message": e.message,
                    "count": e.count,
                    "first_seen": e.first_seen,
                    "last_seen": e.last_seen,
                    "statement": e.statement,
                }
                for e in self.error_groups
            ],
            "timeline": [
                {"minute": b.minute, "count": b.count, "total_ms": round(b.total_ms, 3)}
                for b in self.timeline
            ],
            "lines": self.lines,
            "bytes_read": self.bytes_read,
            "unparsed_lines": self.unparsed_lines,
            "durations_without_statement": self.durations_without_statement,
            "n_plus_one": [g.as_dict() for g in self.n_plus_one],
            "n_plus_one_min": self.n_plus_one_min,
            "percentiles": self.percentiles,
        }


def _group_dict(g: QueryGroup) -> dict[str, object]:
    return {
        "fingerprint": g.fingerprint,
        "query": g.query,
        "count": g.count,
        "total_ms": round(g.total_ms, 3),
        "mean_ms": round(g.mean_ms, 3),
        "p50_ms": round(g.p50_ms, 3),
        "p95_ms": round(g.p95_ms, 3),
        "max_ms": round(g.max_ms, 3),
        "first_seen": g.first_seen,
        "last_seen": g.last_seen,
        "example": g.example,
        "example_parameters": g.example_parameters,
        "example_ms": round(g.example_ms, 3),
        "users": g.users,
        "databases": g.databases,
        "applications": g.applications,
    }


def _text(value: bytes | None) -> str | None:
    if not value:
        return None
    if _EPOCH.match(value):  # %n: show ISO 8601 like the other formats
        import datetime as dt

        stamp = dt.datetime.fromtimestamp(float(value), tz=dt.UTC)
        return stamp.isoformat(sep=" ", timespec="milliseconds")
    return value.decode("utf-8", "replace")


def build_report(
    acc: Accumulator,
    names: list[str],
    formats: list[str],
    prefixes: list[str],
    lines: int,
    size: int,
    unparsed: int,
) -> LogReport:
    groups = []
    for g in acc.groups.values():
        groups.append(
            QueryGroup(
                fingerprint=g.fp.id,
                query=scrub_sql(g.fp.query),
                count=g.count,
                total_ms=g.total,
                mean_ms=g.total / g.count if g.count else 0.0,
                p50_ms=g.percentile(0.50),
                p95_ms=g.percentile(0.95),
                max_ms=max(g.max, 0.0),
                first_seen=_text(g.first if g.first != b"\xff" else g.last),
                last_seen=_text(g.last),
                example=scrub_sql(g.example.decode("utf-8", "replace")),
                example_parameters=_text(g.example_params),
                example_ms=max(g.example_ms, 0.0),
                users=g.label_counts(0),
                databases=g.label_counts(1),
                applications=g.label_counts(2),
            )
        )
    groups.sort(key=lambda g: (-g.total_ms, -g.count, g.fingerprint))
    errors = sorted(
        (
            ErrorGroup(
                severity=k.severity.decode(),
                message=k.message.decode("utf-8", "replace"),
                count=k.count,
                first_seen=_text(k.first),
                last_seen=_text(k.last),
                statement=scrub_sql(_text(k.statement) or "") or None,
            )
            for k in acc.error_kinds.values()
        ),
        key=lambda e: (-e.count, e.message),
    )
    timeline = tuple(
        TimeBucket(minute=(_text(k) or "")[:16], count=int(v[0]), total_ms=v[1])
        for k, v in sorted(acc.timeline.items())
    )
    return LogReport(
        files=tuple(names),
        formats=tuple(dict.fromkeys(formats)),
        prefixes=tuple(dict.fromkeys(prefixes)),
        total_queries=sum(g.count for g in groups),
        total_duration_ms=math.fsum(g.total_ms for g in groups),
        errors=acc.errors,
        groups=tuple(groups),
        error_groups=tuple(errors),
        timeline=timeline,
        lines=lines,
        bytes_read=size,
        unparsed_lines=unparsed,
        durations_without_statement=acc.no_statement,
        n_plus_one=build_groups(acc.n1.found),
        n_plus_one_min=acc.n1.min_run,
    )
