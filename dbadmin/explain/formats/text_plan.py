"""EXPLAIN's text format (PostgreSQL 13-18) read back into the JSON format's shape.

The analysis reads one shape, ``EXPLAIN (FORMAT JSON)``'s; this module rebuilds it from the
text format, with or without ANALYZE, BUFFERS, VERBOSE, SETTINGS, WAL, TIMING OFF or COSTS OFF,
parallel workers and their per-worker blocks, InitPlan/SubPlan/CTE headers, triggers and JIT.

The tree comes from the indentation PostgreSQL prints: a node's text starts at column ``c``
(after ``->  ``), its properties at ``c + 2``, its children's arrows at ``c + 2`` too, and a
sub-plan header (``InitPlan 1``, ``SubPlan 2``, ``CTE busy``) at ``c + 2`` names the plan
below it.
"""

from __future__ import annotations

import re
from typing import Any

from dbadmin.explain.formats.text_nodes import parse_node_name, parse_property
from dbadmin.sqltext import split_top_level

_COST = (
    r"\(cost=(?P<startup>-?[\d.]+)\.\.(?P<total>-?[\d.]+) rows=(?P<rows>\d+) width=(?P<width>\d+)\)"
)
_ACTUAL = (
    r"\((?:actual (?:time=(?P<astart>[\d.]+)\.\.(?P<atotal>[\d.]+) )?"
    r"rows=(?P<arows>[\d.]+) loops=(?P<loops>\d+)|(?P<never>never executed))\)"
)
_NODE = re.compile(rf"^(?P<arrow>->\s+)?(?P<name>\S.*?)(?:\s+{_COST})?(?:\s+{_ACTUAL})?\s*$")
_HAS_FIGURES = re.compile(rf"{_COST}|{_ACTUAL}")
_SUBPLAN = re.compile(r"^(?P<kind>InitPlan|SubPlan|CTE)\s+(?P<name>.+)$")
_WORKER = re.compile(r"^Worker (?P<n>\d+):\s*(?P<rest>.*)$")
SUMMARY_LINE = re.compile(  # the top-level lines after the plan tree
    r"^(Planning Time|Execution Time|Planning|JIT|Settings|Query Identifier|Serialization|"
    r"Trigger [^:]*|Query Text)(:|$)"
)


class TextPlanError(ValueError):
    """The text is not an EXPLAIN plan; the message says which line."""


def looks_like_text_plan(text: str) -> bool:
    """A first line with EXPLAIN's figures, or (COSTS OFF) child lines with ``->`` arrows."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines or lines[0][:1] in "[{":
        return False
    return bool(_HAS_FIGURES.search(lines[0])) or any(line.startswith("->") for line in lines)


def parse_text_plan(text: str) -> dict[str, Any]:
    """The ``{"Plan": ..., "Planning Time": ...}`` object EXPLAIN (FORMAT JSON) would give."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise TextPlanError("no plan lines")
    top: dict[str, Any] = {}
    stack: list[tuple[int, dict[str, Any]]] = []  # (text column, node)
    pending: dict[int, tuple[str, str, int]] = {}  # node id -> (relationship, name, column)
    worker: tuple[int, dict[str, Any]] | None = None
    summary: str | None = None
    for number, line in enumerate(lines, 1):
        indent = len(line) - len(line.lstrip(" "))
        body = line.strip()
        if indent == 0 and stack and SUMMARY_LINE.match(body):
            summary = _summary_line(top, body)
            continue
        if summary is not None and indent > 0:
            _summary_detail(top, summary, body)
            continue
        node_match = _NODE.match(body) if not stack or body.startswith("->") else None
        if node_match is not None:
            worker = None
            node = _node(node_match)
            text_col = indent + (len(node_match.group("arrow")) if node_match.group("arrow") else 0)
            while stack and stack[-1][0] >= indent:
                stack.pop()
            if stack:
                parent = stack[-1][1]
                children = parent.setdefault("Plans", [])
                header = pending.pop(id(parent), None)
                if header is not None and header[2] < indent:
                    node["Parent Relationship"] = header[0]
                    node["Subplan Name"] = header[1]
                else:
                    node["Parent Relationship"] = _relationship(parent, children)
                children.append(node)
            elif "Plan" in top:
                raise TextPlanError(f"line {number}: a second plan root: {body[:60]}")
            else:
                top["Plan"] = node
            stack.append((text_col, node))
            continue
        if not stack:
            raise TextPlanError(f"line {number} is not a plan node: {body[:60]}")
        if worker is not None and indent > worker[0]:
            parse_property(worker[1], body)
            continue
        worker = None
        while len(stack) > 1 and stack[-1][0] >= indent:
            stack.pop()
        owner = stack[-1][1]
        sub = _SUBPLAN.match(body)
        if sub is not None:
            kind = sub.group("kind")
            relationship = "SubPlan" if kind == "SubPlan" else "InitPlan"
            pending[id(owner)] = (relationship, body, indent)
            continue
        worker_line = _WORKER.match(body)
        if worker_line is not None:
            entry: dict[str, Any] = {"Worker Number": int(worker_line.group("n"))}
            rest = worker_line.group("rest")
            if rest.startswith("actual ") or rest.startswith("actual time"):
                _actuals(entry, rest)
            elif rest:
                parse_property(entry, rest)
            owner.setdefault("Workers", []).append(entry)
            worker = (indent, entry)
            continue
        parse_property(owner, body)
    if "Plan" not in top:
        raise TextPlanError("no plan node found")
    _zero_counters(top["Plan"])
    return top


_COUNTERS = {"Filter": "Rows Removed by Filter", "Join Filter": "Rows Removed by Join Filter"}


def _zero_counters(node: dict[str, Any]) -> None:
    """The text format omits a filter's removal count when it is 0; JSON says 0."""
    if node.get("Actual Loops"):
        for condition, counter in _COUNTERS.items():
            if condition in node:
                node.setdefault(counter, 0)
    for child in node.get("Plans", []):
        _zero_counters(child)


def _node(match: re.Match[str]) -> dict[str, Any]:
    node = parse_node_name(match.group("name"))
    if match.group("total") is not None:
        node["Startup Cost"] = float(match.group("startup"))
        node["Total Cost"] = float(match.group("total"))
        node["Plan Rows"] = int(match.group("rows"))
        node["Plan Width"] = int(match.group("width"))
    if match.group("never"):
        node["Actual Loops"] = 0
        node["Actual Rows"] = 0
    elif match.group("loops") is not None:
        if match.group("atotal") is not None:
            node["Actual Startup Time"] = float(match.group("astart"))
            node["Actual Total Time"] = float(match.group("atotal"))
        node["Actual Rows"] = _number(match.group("arows"))
        node["Actual Loops"] = int(match.group("loops"))
    return node


def _actuals(entry: dict[str, Any], text: str) -> None:
    match = re.search(
        r"(?:time=(?P<s>[\d.]+)\.\.(?P<t>[\d.]+) )?rows=(?P<r>[\d.]+) loops=(?P<l>\d+)", text
    )
    if match:
        if match.group("t") is not None:
            entry["Actual Startup Time"] = float(match.group("s"))
            entry["Actual Total Time"] = float(match.group("t"))
        entry["Actual Rows"] = _number(match.group("r"))
        entry["Actual Loops"] = int(match.group("l"))


def _number(text: str) -> float | int:
    return float(text) if "." in text else int(text)


_MEMBERS = {"Append", "Merge Append", "BitmapAnd", "BitmapOr"}


def _relationship(parent: dict[str, Any], siblings: list[dict[str, Any]]) -> str:
    if parent.get("Node Type") in _MEMBERS:
        return "Member"
    if parent.get("Node Type") == "Subquery Scan":
        return "Subquery"
    plain = [c for c in siblings if c.get("Parent Relationship") in {"Outer", "Inner"}]
    return "Outer" if not plain else "Inner"


def _summary_line(top: dict[str, Any], body: str) -> str:
    key, _, value = body.partition(":")
    value = value.strip()
    if key in {"Planning Time", "Execution Time"}:
        top[key] = float(value.split()[0])
    elif key == "Settings":
        top["Settings"] = _settings(value)
    elif key == "Query Identifier":
        top[key] = int(value) if value.lstrip("-").isdigit() else value
    elif key.startswith("Trigger "):
        top.setdefault("Triggers", []).append(_trigger(key, value))
    elif key == "JIT":
        top["JIT"] = {}
    return key


def _summary_detail(top: dict[str, Any], block: str, body: str) -> None:
    if block != "JIT":
        return  # Planning: buffers of the planner; not used by the analysis
    key, _, value = body.partition(":")
    value = value.strip()
    if key == "Functions":
        top["JIT"]["Functions"] = int(value)
    elif key == "Timing":
        timing: dict[str, float] = {}
        for part in split_top_level(value, ","):
            match = re.match(r"^(\w+) ([\d.]+) ms", part)
            if match:
                timing[match.group(1)] = float(match.group(2))
        top["JIT"]["Timing"] = timing


def _settings(value: str) -> dict[str, str]:
    out = {}
    for item in split_top_level(value, ","):
        name, _, setting = item.partition(" = ")
        out[name.strip()] = setting.strip().strip("'").replace("''", "'")
    return out


def _trigger(key: str, value: str) -> dict[str, Any]:
    name = key[len("Trigger ") :]
    relation = None
    if " on " in name:
        name, relation = name.rsplit(" on ", 1)
    entry: dict[str, Any] = {"Trigger Name": name.removeprefix("for constraint ")}
    if relation:
        entry["Relation"] = relation
    time = re.search(r"time=([\d.]+)", value)
    calls = re.search(r"calls=(\d+)", value)
    if time:
        entry["Time"] = float(time.group(1))
    if calls:
        entry["Calls"] = int(calls.group(1))
    return entry
