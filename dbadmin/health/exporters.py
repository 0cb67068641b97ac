"""Machine formats for a health report: the Nagios plugin line and the Prometheus textfile.

The Prometheus file is written for node_exporter's textfile collector, which may read it at any
moment: :func:`dbadmin.files.write_atomically` (temporary file, fsync, rename) means a reader sees
the old file or the new one, never a half-written one.
"""

from __future__ import annotations

import re
import time

from dbadmin.files import OutputWriteError, write_atomically
from dbadmin.health.model import HealthReport

__all__ = ["OutputWriteError", "nagios_line", "prometheus_text", "write_atomically"]

NAGIOS_UOM = {"%": "%", "s": "s", "ms": "ms", "MB": "MB", "count": "", "xids": ""}
PROM_PREFIX = "dbadmin_health"


def _perf_label(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_.]+", name) else f"'{name}'"


def _num(value: float | None) -> str:
    if value is None:
        return ""
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0").rstrip(".")


def nagios_line(report: HealthReport, prefix: str = "DBADMIN") -> str:
    """``DBADMIN OK|WARNING|CRITICAL|UNKNOWN: summary | perfdata`` on one line."""
    summary = " ".join(report.summary().split()).replace("|", "/")
    perf = []
    for check in report.checks:
        if check.value is None:
            continue
        uom = NAGIOS_UOM.get(check.unit, "")
        perf.append(
            f"{_perf_label(check.name)}={_num(check.value)}{uom};{_num(check.warn)};"
            f"{_num(check.crit)}"
        )
    line = f"{prefix} {report.status.value}: {summary}"
    if perf:
        line += " | " + " ".join(perf)
    return line


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _metric_name(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", text)


def prometheus_text(report: HealthReport, now: float | None = None) -> str:
    """The text exposition format (HELP and TYPE for each family), ending with a newline."""
    stamp = time.time() if now is None else now
    families: list[tuple[str, str, list[tuple[dict[str, str], float]]]] = []

    def family(name: str, help_text: str, samples: list[tuple[dict[str, str], float]]) -> None:
        if samples:
            families.append((f"{PROM_PREFIX}_{name}", help_text, samples))

    family(
        "up",
        "1 when dbadmin could connect and query the database.",
        [({}, 1.0 if report.up else 0.0)],
    )
    family(
        "status",
        "Overall status: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (Nagios codes).",
        [({}, float(report.exit_code))],
    )
    family(
        "check_status",
        "Status per check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
        [({"check": c.name}, float(c.status.exit_code)) for c in report.checks],
    )
    family(
        "check_value",
        "Measured value per check, in the unit of its label (%, s, ms, count, xids, MB).",
        [
            ({"check": c.name, "unit": c.unit}, float(c.value))
            for c in report.checks
            if c.value is not None
        ],
    )
    family(
        "check_warning_threshold",
        "WARNING threshold per check (same unit as dbadmin_health_check_value).",
        [({"check": c.name}, float(c.warn)) for c in report.checks if c.warn is not None],
    )
    family(
        "check_critical_threshold",
        "CRITICAL threshold per check (same unit as dbadmin_health_check_value).",
        [({"check": c.name}, float(c.crit)) for c in report.checks if c.crit is not None],
    )
    family(
        "check_metric",
        "Extra numbers reported by a check (latency percentiles, connection counts...).",
        [
            ({"check": c.name, "metric": _metric_name(k)}, float(v))
            for c in report.checks
            for k, v in sorted(c.metrics.items())
            if isinstance(v, int | float)
        ],
    )
    family(
        "check_duration_seconds",
        "Time spent in each check.",
        [({"check": c.name}, round(c.elapsed_ms / 1000, 6)) for c in report.checks],
    )
    family(
        "duration_seconds",
        "Wall time of the whole health run.",
        [({}, round(report.elapsed_ms / 1000, 6))],
    )
    family(
        "last_run_timestamp_seconds",
        "Unix time when this file was written.",
        [({}, round(stamp, 3))],
    )

    lines: list[str] = []
    for name, help_text, samples in families:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        for labels, value in samples:
            label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
            lines.append(
                f"{name}{{{label_text}}} {_num(value) or '0'}"
                if labels
                else f"{name} {_num(value) or '0'}"
            )
    return "\n".join(lines) + "\n"
