"""Thresholds: defaults (PgHero / check_postgres conventions), overridden by pyproject, env, flags.

Highest wins: ``--warn/--crit NAME=VALUE`` flags, ``DBADMIN_HEALTH_WARN_<NAME>`` /
``DBADMIN_HEALTH_CRIT_<NAME>`` environment variables (``.env`` included), the
``[tool.dbadmin.health.warn]`` / ``[tool.dbadmin.health.crit]`` tables of the nearest
pyproject.toml, then the defaults below. A value of ``off`` (or ``none``) disables that level.
Times are in seconds, ratios in percent, latencies in milliseconds, sizes in MB.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbadmin.errors import ConfigError, UsageError
from dbadmin.health.model import Status


@dataclass(frozen=True)
class ThresholdSpec:
    warn: float | None
    crit: float | None
    unit: str
    below: bool = False  # True: lower is worse (cache hit ratio)
    meaning: str = ""


SPECS: dict[str, ThresholdSpec] = {
    "connections": ThresholdSpec(
        90, 95, "%", meaning="connections in use vs max_connections - reserved"
    ),
    "idle_in_transaction": ThresholdSpec(
        60, 300, "s", meaning="longest idle-in-transaction session"
    ),
    "long_queries": ThresholdSpec(60, 300, "s", meaning="longest running query"),
    "lock_waits": ThresholdSpec(60, 120, "s", meaning="longest lock wait"),
    "cache_hit": ThresholdSpec(99, 95, "%", below=True, meaning="table+index cache hit ratio"),
    "wraparound": ThresholdSpec(1.3e9, 1.4e9, "xids", meaning="oldest datfrozenxid age"),
    "wraparound_freeze_pct": ThresholdSpec(
        90, 95, "%", meaning="oldest xid age as % of autovacuum_freeze_max_age"
    ),
    "sequences": ThresholdSpec(85, 95, "%", meaning="most used sequence / integer identity"),
    "invalid_indexes": ThresholdSpec(1, None, "count", meaning="invalid indexes"),
    "duplicate_indexes": ThresholdSpec(1, None, "count", meaning="redundant indexes"),
    "unused_indexes": ThresholdSpec(1, None, "count", meaning="unused indexes >= min size"),
    "fk_without_index": ThresholdSpec(1, None, "count", meaning="foreign keys without index"),
    "vacuum": ThresholdSpec(20, 50, "%", meaning="dead tuples of a table not vacuumed lately"),
    "replication_slots": ThresholdSpec(1, None, "count", meaning="inactive replication slots"),
    "database_size": ThresholdSpec(None, None, "MB", meaning="database size (informational)"),
    "latency": ThresholdSpec(250, 1000, "ms", meaning="SELECT 1 round trip p95"),
    "latency_connect": ThresholdSpec(2000, 10000, "ms", meaning="first connect time"),
    "pool_wait": ThresholdSpec(100, 1000, "ms", meaning="`health pool`: checkout wait p95"),
    "pool_headroom": ThresholdSpec(
        90, 100, "%", meaning="`health pool`: pools' demand vs available connections"
    ),
}

# Knobs that are not thresholds: [tool.dbadmin.health] keys or DBADMIN_HEALTH_<NAME>.
PARAM_DEFAULTS: dict[str, float] = {
    "pings": 10,  # SELECT 1 round trips for the latency check
    "unused_index_min_mb": 10,
    "cache_hit_min_blocks": 1000,  # fewer block accesses than this: too few to judge
    "vacuum_min_dead": 1000,
    "vacuum_age_hours": 24,
}

OFF = {"off", "none", ""}


@dataclass(frozen=True)
class Thresholds:
    warn: Mapping[str, float | None]
    crit: Mapping[str, float | None]
    params: Mapping[str, float] = field(default_factory=lambda: dict(PARAM_DEFAULTS))
    sources: Mapping[str, str] = field(default_factory=dict)  # "NAME.warn" -> where it came from

    def pair(self, name: str) -> tuple[float | None, float | None]:
        return self.warn.get(name), self.crit.get(name)

    def param(self, name: str) -> float:
        return self.params[name]


def _number(raw: Any, where: str) -> float | None:
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise ConfigError(f"{where}: expected a number, got {raw!r}")
    if isinstance(raw, int | float):
        return float(raw)
    text = str(raw).strip().lower()
    if text in OFF:
        return None
    try:
        return float(text)
    except ValueError:
        raise UsageError(
            f"{where}: {raw!r} is not a number", "use NAME=VALUE with a number, or NAME=off"
        ) from None


def _check_name(name: str, where: str) -> str:
    key = name.strip().lower()
    if key not in SPECS:
        raise UsageError(
            f"{where}: unknown threshold {name!r}", "valid names: " + ", ".join(sorted(SPECS))
        )
    return key


def find_pyproject(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def pyproject_health_table(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    import tomllib

    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", "fix the TOML syntax") from None
    table = data.get("tool", {}).get("dbadmin", {}).get("health", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.dbadmin.health] must be a table")
    return table


def parse_assignments(values: Iterable[str], flag: str) -> dict[str, float | None]:
    """``--warn NAME=VALUE`` (repeatable; also comma-separated) -> {name: value}."""
    out: dict[str, float | None] = {}
    for value in values:
        for item in value.split(","):
            if not item.strip():
                continue
            if "=" not in item:
                raise UsageError(
                    f"{flag} {item!r}: expected NAME=VALUE", f"e.g. {flag} connections=80"
                )
            name, raw = item.split("=", 1)
            key = _check_name(name, flag)
            out[key] = _number(raw, f"{flag} {key}")
    return out


def parse_flags(
    warn_flags: Iterable[str], crit_flags: Iterable[str]
) -> dict[str, dict[str, float | None]]:
    """``--warn`` and ``--crit`` -> {"warn": {name: value}, "crit": {name: value}}."""
    return {
        "warn": parse_assignments(warn_flags, "--warn"),
        "crit": parse_assignments(crit_flags, "--crit"),
    }


def resolve_thresholds(
    *,
    env: Mapping[str, str],
    cwd: Path,
    warn_flags: Iterable[str] = (),
    crit_flags: Iterable[str] = (),
    flags: Mapping[str, Mapping[str, float | None]] | None = None,
) -> Thresholds:
    """The thresholds in force; ``flags`` is :func:`parse_flags`'s result when the caller has
    already parsed (and so validated) ``--warn``/``--crit``, else they are parsed here."""
    warn: dict[str, float | None] = {n: s.warn for n, s in SPECS.items()}
    crit: dict[str, float | None] = {n: s.crit for n, s in SPECS.items()}
    params: dict[str, float] = dict(PARAM_DEFAULTS)
    sources: dict[str, str] = {}

    pyproject = find_pyproject(cwd)
    table = pyproject_health_table(pyproject)
    where = f"{pyproject} [tool.dbadmin.health]"
    for key, value in table.items():
        if key in ("warn", "crit"):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}.{key} must be a table of NAME = VALUE")
            target = warn if key == "warn" else crit
            for name, raw in value.items():
                name = _check_name(name, f"{where}.{key}")
                target[name] = _number(raw, f"{where}.{key}.{name}")
                sources[f"{name}.{key}"] = str(pyproject)
        elif key in PARAM_DEFAULTS:
            number = _number(value, f"{where}.{key}")
            if number is None or number < 0:
                raise ConfigError(f"{where}.{key} must be a non-negative number")
            params[key] = number
        else:
            raise ConfigError(
                f"{where}: unknown key {key!r}",
                "use [tool.dbadmin.health.warn], [tool.dbadmin.health.crit] or one of "
                + ", ".join(PARAM_DEFAULTS),
            )

    for name in SPECS:
        for level, target in (("WARN", warn), ("CRIT", crit)):
            var = f"DBADMIN_HEALTH_{level}_{name.upper()}"
            if var in env:
                target[name] = _number(env[var], var)
                sources[f"{name}.{level.lower()}"] = var
    for name in PARAM_DEFAULTS:
        var = f"DBADMIN_HEALTH_{name.upper()}"
        if var in env:
            number = _number(env[var], var)
            if number is None or number < 0:
                raise ConfigError(f"{var} must be a non-negative number")
            params[name] = number

    parsed = flags if flags is not None else parse_flags(warn_flags, crit_flags)
    for level, target in (("warn", warn), ("crit", crit)):
        for name, number in parsed[level].items():
            target[name] = number
            sources[f"{name}.{level}"] = f"--{level}"
    return Thresholds(warn=warn, crit=crit, params=params, sources=sources)


def judge(
    value: float | None, warn: float | None, crit: float | None, *, below: bool = False
) -> Status:
    """The status of ``value`` against its thresholds (``below``: lower is worse)."""
    if value is None:
        return Status.OK

    def hit(limit: float | None) -> bool:
        if limit is None:
            return False
        return value < limit if below else value >= limit

    if hit(crit):
        return Status.CRITICAL
    if hit(warn):
        return Status.WARNING
    return Status.OK
