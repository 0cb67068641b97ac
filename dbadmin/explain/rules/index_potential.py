"""Sequential scans whose filter throws most rows away: the index an expert would write, or the
rewrite that makes one usable.

Judged on totals across loops (a correlated sub-query or the inner side of a nested loop scans
the table once per outer row: 2,334 rows x 584 loops is 1.4 million rows read). Before proposing
an index the table's own indexes are read: one that already has the columns means the planner
chose not to use it, and that is what the finding says. Terms no B-tree can serve as written
(a cast or function on the column, a leading wildcard, an OR across columns) get a rewrite.
"""

from __future__ import annotations

import re

from dbadmin.explain.model import Finding, NodeMetrics, Severity
from dbadmin.explain.rules import node_rule
from dbadmin.explain.rules.context import Context, object_name, qualified
from dbadmin.explain.rules.indexes import IndexProposal, indexes_on, key_columns, propose_index
from dbadmin.explain.rules.predicates import (
    IMMUTABLE_FUNCTIONS,
    Term,
    classify_filter,
    range_rewrite,
)
from dbadmin.render import human_rows
from dbadmin.sqltext import quote_ident

LARGE_TABLE_ROWS = 10_000  # one scan reading fewer rows than this is not worth an index
LOOPED_ROWS = 100_000  # rows read across all loops of a repeated scan
SELECTIVE_FRACTION = 0.10  # the filter keeps at most this share of the rows it reads
_NOT_SARGABLE = {"cast", "function", "wildcard", "or"}


@node_rule
def index_potential(ctx: Context, node: NodeMetrics) -> list[Finding]:
    if node.node_type != "Seq Scan" or not node.filter or node.relation is None:
        return []
    measured = _measure(ctx, node)
    if measured is None:
        return []
    rows_read, kept_fraction, removed, loops = measured
    minimum = LOOPED_ROWS if loops > 1 else LARGE_TABLE_ROWS
    if rows_read < minimum or kept_fraction > SELECTIVE_FRACTION:
        return []
    names = {node.relation, *([node.alias] if node.alias else [])}
    terms = classify_filter(node.filter, names)
    keys, predicate = key_columns([t for t in terms if t.sargable], ctx.few_values(node))
    blockers = [t for t in terms if t.kind in _NOT_SARGABLE]
    kept = f"{kept_fraction:.2%}" if kept_fraction >= 0.0001 else "<0.01%"
    across = f" in {human_rows(loops)} loops" if loops > 1 else ""
    detail = (
        f"reads {human_rows(rows_read)} rows of {qualified(node)}{across} and keeps {kept} "
        f"(filter {node.filter}; {human_rows(removed)} rows removed)"
    )
    joins = [t for t in terms if t.kind == "join"]
    if joins:
        detail += "; " + ", ".join(
            f"{t.column} is compared with {t.other} of the outer query on every loop" for t in joins
        )
    severity = (
        Severity.CRITICAL
        if (node.share or 0) >= 0.5 and (ctx.total_ms or 0) >= 100
        else Severity.WARNING
    )
    proposal = propose_index(ctx, node, keys, predicate) if keys else None
    if proposal is None and not blockers:
        return []
    if proposal is None:
        return [_rewrite_finding(ctx, node, blockers[0], detail, severity)]
    if blockers:
        detail += "; also " + "; ".join(_rewrite_text(ctx, node, t) for t in blockers)
    return [_index_finding(node, proposal, detail, severity)]


def _measure(ctx: Context, node: NodeMetrics) -> tuple[float, float, float, float] | None:
    """(rows read across loops, kept fraction, rows removed, loops) measured or planned."""
    processes = (ctx.workers[node.id] or 0) + 1 if node.under_gather else 1
    if ctx.analyzed:
        if node.never_executed or node.actual_rows_total is None:
            return None
        removed = node.rows_removed_by_filter or 0.0
        scanned = node.actual_rows_total + removed
        loops = max((node.loops or 1.0) / processes, 1.0)  # a parallel scan is one scan
        table_rows = max(ctx.table_rows(node) or 0.0, scanned / loops)
        return max(scanned, table_rows), node.actual_rows_total / max(scanned, 1.0), removed, loops
    planned_rows = ctx.table_rows(node)
    if not planned_rows or node.plan_rows is None:
        return None
    kept_rows = node.plan_rows * processes  # a parallel node's estimate is per process
    return planned_rows, kept_rows / max(planned_rows, 1.0), max(planned_rows - kept_rows, 0.0), 1.0


def _index_finding(
    node: NodeMetrics, proposal: IndexProposal, detail: str, severity: Severity
) -> Finding:
    table = proposal.table
    if proposal.existing is not None:
        return Finding(
            kind="seq_scan",
            severity=severity,
            node_id=node.id,
            title=f"Sequential scan on {qualified(node)} although index "
            f"{proposal.existing.name} matches the filter",
            detail=detail + f"; {proposal.existing.describe()} could serve it, but the planner "
            "estimated the sequential scan cheaper",
            action=(
                f"no new index: ANALYZE {table}; then compare the planned and actual rows of "
                "this scan; if the estimate is right, lower random_page_cost (1.1 on SSD "
                "storage such as Neon's) so index scans are costed realistically"
            ),
        )
    if proposal.leading is not None:
        detail += (
            f"; {proposal.leading.describe()} starts with {proposal.columns[0]} but lacks "
            "the other filter columns"
        )
    return Finding(
        kind="seq_scan",
        severity=severity,
        node_id=node.id,
        title=f"Sequential scan on {qualified(node)} with a selective filter",
        detail=detail,
        action=proposal.statement + f" -- then ANALYZE {table};",
        index_sql=proposal.hypothetical,
    )


def _rewrite_finding(
    ctx: Context, node: NodeMetrics, term: Term, detail: str, severity: Severity
) -> Finding:
    return Finding(
        kind="non_sargable",
        severity=severity,
        node_id=node.id,
        title=f"The filter on {qualified(node)} cannot use an index as written",
        detail=detail,
        action=_rewrite_text(ctx, node, term),
        index_sql=_expression_index(ctx, node, term),
    )


def _expression_index(ctx: Context, node: NodeMetrics, term: Term) -> str | None:
    if term.kind != "function" or term.other not in IMMUTABLE_FUNCTIONS:
        return None
    expression = _unqualified(term.text.split(f" {term.operator} ")[0], node)
    if any(i.columns and _same(i.columns[0], expression) for i in ctx.indexes(node)):
        return None  # it exists already: the finding names it
    return f"CREATE INDEX ON {qualified(node)} (({expression}))"


def _rewrite_text(ctx: Context, node: NodeMetrics, term: Term) -> str:
    table = qualified(node)
    column = term.column or "?"
    usable = indexes_on(ctx, node, column)
    existing = (
        f" so that {usable[0].describe()} can be used" if usable else f", then index {column}"
    )
    if term.kind == "cast":
        rewrite = range_rewrite(term)
        if rewrite:
            return (
                f"rewrite {term.text} as the range {rewrite}{existing}: the cast on the column "
                "hides it from any index on it"
            )
        declared = ctx.column_type(node, column)
        own = f" ({declared})" if declared else ""
        return (
            f"compare {column} with a value of its own type{own} instead of casting it to "
            f"{term.other} ({term.text}): a parameter or literal of another type makes PostgreSQL "
            f"cast the column, so no index on {column} can be used"
        )
    if term.kind == "function":
        expression = _unqualified(term.text.split(f" {term.operator} ")[0], node)
        same = [i for i in ctx.indexes(node) if i.columns and _same(i.columns[0], expression)]
        if same:
            return (
                f"no new index: {same[0].describe()} matches {expression}, but the planner "
                f"chose not to use it: ANALYZE {table}; (an expression index gets its own "
                "statistics only from ANALYZE) and keep the query's expression exactly as indexed"
            )
        if term.other in IMMUTABLE_FUNCTIONS:  # the same index as _expression_index, named
            name = quote_ident(object_name("ix", node.relation or "t", [term.other or "", column]))
            return (
                f"{term.other}() of {column} cannot use a plain index on {column}: "
                f"CREATE INDEX CONCURRENTLY {name} ON {table} (({expression})); and keep the "
                "query's expression exactly as indexed"
            )
        return (
            f"rewrite {term.text} as a condition on the bare column {column} (e.g. a range)"
            f"{existing}: {term.other}() of the column hides it from any index"
        )
    if term.kind == "wildcard":
        name = quote_ident(object_name("ix", node.relation or "t", [column, "trgm"]))
        return (
            f"a LIKE with a leading wildcard ({term.text}) cannot use a B-tree: CREATE EXTENSION "
            f"IF NOT EXISTS pg_trgm; CREATE INDEX CONCURRENTLY {name} ON {table} USING gin "
            f"({quote_ident(column)} gin_trgm_ops);"
        )
    return (
        f"an OR across columns ({term.other}) cannot use one index: rewrite it as a UNION of one "
        "query per branch (each served by an index on its column), or index each column so the "
        "planner can combine them with a BitmapOr"
    )


def _same(indexed: str, expression: str) -> bool:
    """An index expression (pg_get_indexdef) and a filter's (EXPLAIN) name the same thing."""

    def norm(text: str) -> str:
        return re.sub(r"::[\w ]+|[()\s\"]", "", text.lower())

    return norm(indexed) == norm(expression)


def _unqualified(expression: str, node: NodeMetrics) -> str:
    for name in {node.relation, node.alias} - {None}:
        expression = re.sub(rf"(?<![\w.]){re.escape(str(name))}\.", "", expression)
    return expression
