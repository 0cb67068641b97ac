"""What every rule sees: the analysed nodes, their raw JSON, the tree, and the server's
catalog facts about the tables (row counts, statistics freshness, indexes, column types,
partition parents) when the plan was captured by dbadmin."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dbadmin.explain.model import NodeMetrics
from dbadmin.sqltext import quote_ident


@dataclass(frozen=True)
class ExistingIndex:
    """An index of the scanned table, as pg_get_indexdef shows its parts."""

    name: str
    columns: tuple[str, ...]  # key columns or expressions, in order (quoted as needed)
    include: tuple[str, ...]
    predicate: str | None
    method: str
    valid: bool

    def describe(self) -> str:
        text = f"{self.name} ({', '.join(self.columns)})"
        if self.include:
            text += f" INCLUDE ({', '.join(self.include)})"
        if self.method != "btree":
            text += f" USING {self.method}"
        if self.predicate:
            text += f" WHERE {self.predicate}"
        return text


@dataclass
class Context:
    nodes: list[NodeMetrics]
    raws: list[dict[str, Any]]
    child_ids: list[list[int]]
    workers: list[int | None]  # Gather's launched workers for nodes under a Gather
    total_ms: float | None
    planning_ms: float | None
    execution_ms: float | None
    jit_ms: float | None
    settings: dict[str, str]
    stats: dict[str, dict[str, Any]]
    version_num: int | None
    analyzed: bool
    total_cost: float | None

    def raw(self, node: NodeMetrics) -> dict[str, Any]:
        return self.raws[node.id]

    def children(self, node: NodeMetrics) -> list[NodeMetrics]:
        return [self.nodes[c] for c in self.child_ids[node.id]]

    def parent(self, node: NodeMetrics) -> NodeMetrics | None:
        return None if node.parent_id is None else self.nodes[node.parent_id]

    def ancestors(self, node: NodeMetrics) -> list[NodeMetrics]:
        out = []
        current = node.parent_id
        while current is not None:
            out.append(self.nodes[current])
            current = self.nodes[current].parent_id
        return out

    def subtree(self, node: NodeMetrics) -> list[NodeMetrics]:
        out: list[NodeMetrics] = []
        stack = [node.id]
        while stack:
            current = stack.pop()
            out.append(self.nodes[current])
            stack.extend(reversed(self.child_ids[current]))
        return out

    def table_stats(self, node: NodeMetrics) -> dict[str, Any]:
        if node.relation is None:
            return {}
        return (
            self.stats.get(f"{node.schema}.{node.relation}") or self.stats.get(node.relation) or {}
        )

    def table_rows(self, node: NodeMetrics) -> float | None:
        rows = self.table_stats(node).get("reltuples")
        return None if rows is None else float(rows)

    def column_type(self, node: NodeMetrics, column: str) -> str | None:
        types = self.table_stats(node).get("column_types") or {}
        return types.get(column)

    def indexes(self, node: NodeMetrics) -> list[ExistingIndex]:
        out = []
        for item in self.table_stats(node).get("indexes") or []:
            out.append(
                ExistingIndex(
                    name=str(item.get("name")),
                    columns=tuple(item.get("columns") or ()),
                    include=tuple(item.get("include") or ()),
                    predicate=item.get("predicate"),
                    method=str(item.get("method") or "btree"),
                    valid=bool(item.get("valid", True)),
                )
            )
        return out

    def few_values(self, node: NodeMetrics) -> set[str]:
        """Columns with at most 10 distinct values (pg_stats): equality on one of them belongs
        in a partial index's WHERE, not among its key columns."""
        return set(self.table_stats(node).get("few_values") or ())

    def partition_parent(self, node: NodeMetrics) -> str | None:
        """The partitioned table (``schema.table``) this scanned partition belongs to."""
        parent = self.table_stats(node).get("partition_parent")
        return str(parent) if parent else None


def qualified(node: NodeMetrics) -> str:
    """``schema.table`` of the node's relation, each part quoted when it must be."""
    assert node.relation is not None
    name = quote_ident(node.relation)
    return f"{quote_ident(node.schema)}.{name}" if node.schema else name


def qualify_name(dotted: str) -> str:
    """``schema.table`` text (unquoted parts, as the catalog query returns them) -> quoted."""
    schema, _, table = dotted.partition(".")
    return f"{quote_ident(schema)}.{quote_ident(table)}" if table else quote_ident(schema)


def object_name(prefix: str, table: str, columns: list[str]) -> str:
    """A readable, valid identifier for a suggested index/statistics object (63 bytes max)."""
    name = re.sub(r"[^a-z0-9_]", "_", "_".join([prefix, table, *columns]).lower())
    return re.sub(r"_+", "_", name)[:63].rstrip("_")


def fmt_ms(ms: float | None) -> str:
    # not render.human_ms: finding texts (also in --json) keep milliseconds above 1 s
    if ms is None:
        return "-"
    return f"{ms:,.3f} ms" if ms < 1 else f"{ms:,.1f} ms"
