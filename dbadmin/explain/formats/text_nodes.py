"""The two halves of a text-format plan line: the node's name (``Parallel Index Scan Backward
using ix on public.t x``) and a property (``Buckets: 1024  Batches: 4 (originally 1)  Memory
Usage: 9kB``), each turned into the keys EXPLAIN (FORMAT JSON) uses for the same facts."""

from __future__ import annotations

import re
from typing import Any

from dbadmin.sqltext import split_top_level, unquote_ident

# Text names, longest first where one is a prefix of another.
_SIMPLE = (
    "Index Only Scan", "Index Scan", "Bitmap Index Scan", "Bitmap Heap Scan", "Seq Scan",
    "Sample Scan", "Tid Range Scan", "Tid Scan", "Subquery Scan", "Function Scan",
    "Table Function Scan", "Values Scan", "CTE Scan", "Named Tuplestore Scan", "WorkTable Scan",
    "Foreign Scan", "Custom Scan", "Gather Merge", "Gather", "Merge Append", "Append",
    "Recursive Union", "BitmapAnd", "BitmapOr", "ProjectSet", "Result", "Materialize", "Memoize",
    "Incremental Sort", "Sort", "Group", "WindowAgg", "Unique", "LockRows", "Limit", "Hash",
)  # fmt: skip
_JOINS = {"Nested Loop": "Nested Loop", "Merge": "Merge Join", "Hash": "Hash Join"}
_JOIN_TYPES = ("Right Semi", "Right Anti", "Left", "Full", "Right", "Semi", "Anti")
_AGGREGATES = {"Aggregate": "Plain", "GroupAggregate": "Sorted", "HashAggregate": "Hashed",
               "MixedAggregate": "Mixed"}  # fmt: skip
_MODIFY = ("Insert", "Update", "Delete", "Merge")
_IDENT = r'(?:"(?:[^"]|"")+"|[^\s".]+)'
_TARGET = re.compile(rf"^(?:(?P<schema>{_IDENT})\.)?(?P<name>{_IDENT})(?:\s+(?P<alias>{_IDENT}))?$")


def parse_node_name(text: str) -> dict[str, Any]:
    node: dict[str, Any] = {"Parallel Aware": False}
    rest = text.strip()
    for prefix, key in (("Parallel ", "Parallel Aware"), ("Async ", "Async Capable")):
        if rest.startswith(prefix):
            node[key] = True
            rest = rest[len(prefix) :]
    for partial in ("Partial ", "Finalize "):
        if rest.startswith(partial):
            node["Partial Mode"] = partial.strip()
            rest = rest[len(partial) :]
    head, _, target = rest.partition(" on ")
    if head in _AGGREGATES:
        node.update({"Node Type": "Aggregate", "Strategy": _AGGREGATES[head]})
        return node
    if head.startswith(("SetOp", "HashSetOp")):
        strategy = "Hashed" if head.startswith("Hash") else "Sorted"
        node.update({"Node Type": "SetOp", "Strategy": strategy, "Command": head.split(" ", 1)[-1]})
        return node
    if head in _MODIFY and target:
        node.update({"Node Type": "ModifyTable", "Operation": head})
        _target(node, target, "Relation Name")
        return node
    for text_name, node_type in _JOINS.items():
        join = _join_type(head, text_name)
        if join is not None:
            node.update({"Node Type": node_type, "Join Type": join})
            return node
    for name in _SIMPLE:
        if head == name or head.startswith(name + " "):
            node["Node Type"] = name
            _scan_details(node, head[len(name) :].strip(), target)
            return node
    node["Node Type"] = head  # a node this version does not know: keep its name
    return node


def _join_type(head: str, text_name: str) -> str | None:
    if head == "Nested Loop" and text_name == "Nested Loop":
        return "Inner"
    if not head.startswith(text_name + " ") or not head.endswith(" Join"):
        return None
    middle = head[len(text_name) : -len(" Join")].strip()
    if not middle:
        return "Inner"
    return middle if middle in _JOIN_TYPES else None


def _scan_details(node: dict[str, Any], modifier: str, target: str) -> None:
    if modifier.startswith("Backward"):
        node["Scan Direction"] = "Backward"
        modifier = modifier[len("Backward") :].strip()
    if modifier.startswith("using "):
        node["Index Name"] = unquote_ident(modifier[len("using ") :].strip())
    if modifier.startswith("(") and node["Node Type"] == "Custom Scan":
        node["Custom Plan Provider"] = modifier.strip("()")
    if not target:
        return
    kind = node["Node Type"]
    if kind == "Bitmap Index Scan":
        node["Index Name"] = unquote_ident(target.strip())
    elif kind == "CTE Scan":
        _target(node, target, "CTE Name")
    elif kind in {"Function Scan", "Table Function Scan"}:
        _target(node, target, "Function Name")
    elif kind in {"Subquery Scan", "Values Scan"}:
        node["Alias"] = unquote_ident(target.strip())
    elif kind in {"WorkTable Scan", "Named Tuplestore Scan"}:
        _target(node, target, "CTE Name" if kind == "WorkTable Scan" else "Tuplestore Name")
    else:
        _target(node, target, "Relation Name")


def _target(node: dict[str, Any], target: str, key: str) -> None:
    match = _TARGET.match(target.strip())
    if match is None:
        node[key] = target.strip()
        return
    node[key] = unquote_ident(match.group("name"))
    if match.group("schema"):
        node["Schema"] = unquote_ident(match.group("schema"))
    alias = match.group("alias")
    node["Alias"] = unquote_ident(alias) if alias else node[key]


# --- properties --------------------------------------------------------------------------------
_LISTS = {"Output", "Sort Key", "Group Key", "Presorted Key", "Hash Key", "Relations"}
_INTS = {"Rows Removed by Filter", "Rows Removed by Join Filter", "Rows Removed by Index Recheck",
         "Heap Fetches", "Workers Planned", "Workers Launched", "Index Searches",
         "Tuples Inserted", "Conflicting Tuples", "Planned Partitions"}  # fmt: skip
_BUFFERS = {"shared": "Shared", "local": "Local", "temp": "Temp"}
_BUFFER_KINDS = {"hit": "Hit", "read": "Read", "dirtied": "Dirtied", "written": "Written"}
_KB = re.compile(r"(-?[\d.]+)kB")


def parse_property(node: dict[str, Any], body: str) -> None:
    key, sep, value = body.partition(": ")
    if not sep:
        key, value = body.rstrip(":"), ""
    value = value.strip()
    if key in _INTS:
        node[key] = _int(value)
    elif key in _LISTS:
        node[key] = split_top_level(value, ",")
    elif key == "Sort Method":
        _sort_method(node, value)
    elif key == "Buckets":
        _hash(node, body)
    elif key in {"Batches", "Planned Partitions"} or body.startswith("Planned Partitions:"):
        _hash_agg(node, body)
    elif key == "Buffers":
        _buffers(node, value)
    elif key == "Storage":
        _storage(node, body)
    elif (
        key == "Hits"
    ):  # Memoize: Hits: 1  Misses: 2  Evictions: 0  Overflows: 0  Memory Usage: 1kB
        pairs = _pairs(body)
        for name in ("Hits", "Misses", "Evictions", "Overflows"):
            if name in pairs:
                node[f"Cache {name}"] = _int(pairs[name])
        if "Memory Usage" in pairs:
            node["Peak Memory Usage"] = _kb(pairs["Memory Usage"])
    elif key == "Heap Blocks":
        for part in value.split():
            name, _, count = part.partition("=")
            node[f"{name.capitalize()} Heap Blocks"] = _int(count)
    else:
        node[key] = value


def _int(text: str) -> int | float:
    number = text.split()[0] if text else "0"
    return float(number) if "." in number else int(number)


def _kb(text: str) -> int | float:
    match = _KB.search(text)
    return _int(match.group(1)) if match else 0


def _sort_method(node: dict[str, Any], value: str) -> None:
    method, _, space = value.partition("  ")
    node["Sort Method"] = method.strip()
    if space:
        kind, _, amount = space.strip().partition(":")
        node["Sort Space Type"] = kind.strip()
        node["Sort Space Used"] = _kb(amount)


def _pairs(body: str) -> dict[str, str]:
    """``A: 1  B: 2 (originally 1)  C: 9kB`` -> {"A": "1", "B": "2 (originally 1)", ...}."""
    out = {}
    for part in re.split(r"\s{2,}", body.strip()):
        name, _, value = part.partition(":")
        out[name.strip()] = value.strip()
    return out


def _hash(node: dict[str, Any], body: str) -> None:
    pairs = _pairs(body)
    for text_key, key in (("Buckets", "Hash Buckets"), ("Batches", "Hash Batches")):
        value = pairs.get(text_key, "")
        number, _, original = value.partition(" (originally ")
        if number:
            node[key] = _int(number)
            node[f"Original {key}"] = _int(original.rstrip(")")) if original else _int(number)
    if "Memory Usage" in pairs:
        node["Peak Memory Usage"] = _kb(pairs["Memory Usage"])


def _hash_agg(node: dict[str, Any], body: str) -> None:
    pairs = _pairs(body)
    if "Planned Partitions" in pairs:
        node["Planned Partitions"] = _int(pairs["Planned Partitions"])
    if "Batches" in pairs:
        node["HashAgg Batches"] = _int(pairs["Batches"])
    if "Memory Usage" in pairs:
        node["Peak Memory Usage"] = _kb(pairs["Memory Usage"])
    if "Disk Usage" in pairs:
        node["Disk Usage"] = _kb(pairs["Disk Usage"])


def _storage(node: dict[str, Any], body: str) -> None:
    pairs = _pairs(body)
    node["Storage"] = pairs.get("Storage", "")
    if "Maximum Storage" in pairs:
        node["Maximum Storage"] = _kb(pairs["Maximum Storage"])


def _buffers(node: dict[str, Any], value: str) -> None:
    for group in value.split(", "):
        words = group.split()
        if not words or words[0] not in _BUFFERS:
            continue
        scope = _BUFFERS[words[0]]
        for item in words[1:]:
            kind, _, count = item.partition("=")
            if kind in _BUFFER_KINDS and count.isdigit():
                node[f"{scope} {_BUFFER_KINDS[kind]} Blocks"] = int(count)
