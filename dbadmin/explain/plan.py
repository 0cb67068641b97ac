"""Reading JSON plans as PostgreSQL 13-18 emit them, from the server or from a file.

Accepted shapes: ``EXPLAIN (FORMAT JSON)`` output (a one-element list, or the object alone),
auto_explain's ``log_format = json`` object (with ``"Query Text"``, also with the log line prefix
still in front), psql's aligned output of such a plan (header, ``+`` continuation marks,
``(1 row)``), a result-set export ``[{"QUERY PLAN": [...]}]``, and a bare plan node.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbadmin.errors import UsageError


@dataclass(frozen=True)
class PlanDocument:
    """One plan: ``top`` is the object holding ``Plan``, ``Planning Time``, ``Settings``..."""

    top: dict[str, Any]
    source: str  # "server" or the file name
    query_text: str | None = None
    server_version: str | None = None
    server_version_num: int | None = None
    relation_stats: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def root(self) -> dict[str, Any]:
        return self.top["Plan"]

    @property
    def analyzed(self) -> bool:
        return _has_actuals(self.root)


def _has_actuals(node: dict[str, Any]) -> bool:
    if "Actual Loops" in node:
        return True
    return any(_has_actuals(child) for child in node.get("Plans", []) or [])


def load_plan_file(path: Path) -> PlanDocument:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UsageError(f"plan file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read plan file {path}: {exc}") from None
    return parse_plan_text(text, source=path.name)


def parse_plan_text(text: str, *, source: str) -> PlanDocument:
    """Parse and validate; a malformed plan raises UsageError (exit 2) saying what is wrong.

    The text may be JSON or EXPLAIN's text format, bare or inside psql's frames, a CSV/TSV
    export or an auto_explain log entry (:mod:`dbadmin.explain.formats`).
    """
    from dbadmin.explain.formats import read_container

    stripped = text.strip().lstrip("\ufeff")
    if not stripped:
        raise UsageError(f"{source} is empty", "give a file with an EXPLAIN plan")
    container = read_container(stripped, source)
    if container.top is not None:
        top = container.top
    else:
        top = _find_top(_decode(container.text, stripped, source), source)
    _validate_node(top["Plan"], "Plan", source)
    query = top.get("Query Text", container.query_text)
    return PlanDocument(
        top=top, source=source, query_text=query if isinstance(query, str) else None
    )


def _decode(inner: str, original: str, source: str) -> Any:
    """JSON from the unwrapped text, else from the original (psql framing, a log prefix)."""
    if inner != original:
        try:
            return json.loads(inner)
        except json.JSONDecodeError:
            pass
    try:
        return json.loads(original)
    except json.JSONDecodeError as first_error:
        cleaned = _strip_psql_framing(original)
        start = _first_json_start(cleaned)
        if start is not None:
            try:
                value, _ = json.JSONDecoder().raw_decode(cleaned, start)
                return value
            except json.JSONDecodeError:
                pass
        raise UsageError(
            f"{source} is not a JSON plan (nor a text plan): {first_error.msg} at line "
            f"{first_error.lineno} column {first_error.colno}",
            "capture it with EXPLAIN (ANALYZE, BUFFERS) in any format, or auto_explain",
        ) from None


def _strip_psql_framing(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if re.match(r"^\s*QUERY PLAN\s*$", line) or re.match(r"^\s*[-+─═]+\s*$", line):
            continue
        if re.match(r"^\s*\(\d+ rows?\)\s*$", line):
            continue
        line = re.sub(r"\s*\+\s*$", "", line)
        lines.append(line)
    return "\n".join(lines)


def _first_json_start(text: str) -> int | None:
    positions = [p for p in (text.find("["), text.find("{")) if p >= 0]
    return min(positions) if positions else None


def _find_top(data: Any, source: str) -> dict[str, Any]:
    for _ in range(4):  # unwrap [ {...} ] and [{"QUERY PLAN": [...]}]
        if isinstance(data, list):
            if not data:
                raise UsageError(f"{source} holds an empty list, not a plan")
            data = data[0]
        elif isinstance(data, dict) and "QUERY PLAN" in data and "Plan" not in data:
            data = data["QUERY PLAN"]
            if isinstance(data, str):
                data = _decode(data, data, source)
        else:
            break
    if isinstance(data, dict) and "Plan" in data:
        if not isinstance(data["Plan"], dict):
            raise UsageError(f'{source}: "Plan" is not an object', "is this an EXPLAIN JSON plan?")
        return data
    if isinstance(data, dict) and "Node Type" in data:
        return {"Plan": data}
    raise UsageError(
        f'{source} is JSON but not a PostgreSQL plan (no "Plan" or "Node Type" key)',
        "capture it with EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) or auto_explain.log_format = json",
    )


_NUMERIC_KEYS = (
    "Startup Cost",
    "Total Cost",
    "Plan Rows",
    "Actual Startup Time",
    "Actual Total Time",
    "Actual Rows",
    "Actual Loops",
)


def _validate_node(node: Any, where: str, source: str) -> None:
    if not isinstance(node, dict):
        raise UsageError(f"{source}: {where} is not an object")
    if not isinstance(node.get("Node Type"), str):
        raise UsageError(
            f'{source}: {where} has no "Node Type"', "the plan file is truncated or not a plan"
        )
    for key in _NUMERIC_KEYS:
        value = node.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise UsageError(f'{source}: {where} ({node["Node Type"]}) has a non-numeric "{key}"')
    children = node.get("Plans", [])
    if not isinstance(children, list):
        raise UsageError(f'{source}: {where} ({node["Node Type"]}) has "Plans" that is not a list')
    for i, child in enumerate(children):
        _validate_node(child, f"{where}.Plans[{i}]", source)
