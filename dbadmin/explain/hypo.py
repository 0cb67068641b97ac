"""Index proposals checked by the planner itself, with hypothetical indexes (hypopg).

For each finding that proposes an index, the statement is planned (EXPLAIN without ANALYZE:
nothing runs) before and after ``hypopg_create_index()``: the finding then shows the planner's
estimated cost before -> after, and is dropped when the planner would not use the index, as
Dexter and PgHero do. Hypothetical indexes live in the backend's memory only; when the extension
is available but not installed, ``CREATE EXTENSION hypopg`` runs inside the transaction that is
rolled back at the end, so the database is left as it was. Without hypopg (or without the right
to create it) the findings are marked "unverified".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dbadmin.explain.model import Finding, PlanAnalysis

if TYPE_CHECKING:
    from dbadmin.explain.deadline import StatementDeadline
    from dbadmin.settings import Settings

UNAVAILABLE = "the hypopg extension is not available on this server"


def verify_index_proposals(
    settings: Settings,
    analysis: PlanAnalysis,
    *,
    timeout_s: float,
    set_options: Mapping[str, str] | None = None,
) -> PlanAnalysis:
    """The analysis with each index proposal verified, dropped, or marked unverified."""
    proposals = [f for f in analysis.findings if f.index_sql]
    if not proposals or not analysis.query_text:
        return analysis
    import psycopg2

    from dbadmin.db import raw_connection
    from dbadmin.explain.capture import session_url
    from dbadmin.explain.deadline import StatementDeadline

    verdicts: dict[int, Finding | None] = {}
    with raw_connection(settings, url=session_url(settings, timeout_s)) as conn:
        conn.autocommit = False
        session = StatementDeadline(conn, timeout_s)
        try:
            with conn.cursor() as cur:
                timeout = f"{max(int(timeout_s * 1000), 1)}ms"
                session.execute(
                    cur,
                    "SELECT set_config('statement_timeout', %s, true), "
                    "set_config('lock_timeout', %s, true)",
                    (timeout, timeout),
                )
                for guc, value in (set_options or {}).items():
                    session.execute(cur, "SELECT set_config(%s, %s, true)", (guc, value))
                missing = _prepare_extension(session, cur)
                before = None if missing else _plan_cost(session, cur, analysis.query_text)[0]
                for finding in proposals:
                    if missing or before is None:
                        verdicts[id(finding)] = _mark(finding, "unverified", missing or "")
                        continue
                    verdicts[id(finding)] = _try(session, cur, analysis.query_text, finding, before)
        finally:
            if not session.severed:
                try:
                    conn.rollback()  # also undoes a CREATE EXTENSION made here
                except psycopg2.Error:
                    pass
    findings = []
    for finding in analysis.findings:
        if id(finding) not in verdicts:
            findings.append(finding)
        elif (verdict := verdicts[id(finding)]) is not None:
            findings.append(verdict)
    return dataclasses.replace(analysis, findings=tuple(findings))


def _prepare_extension(session: StatementDeadline, cur: Any) -> str | None:
    """None when hypopg can be used in this transaction, else why not."""
    import psycopg2

    session.execute(
        cur,
        "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'hypopg'), "
        "EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg')",
    )
    installed, available = cur.fetchone()
    if installed:
        return None
    if not available:
        return UNAVAILABLE
    session.execute(cur, "SAVEPOINT dbadmin_hypopg")
    try:
        session.execute(cur, "CREATE EXTENSION hypopg")
    except psycopg2.Error as exc:
        session.execute(cur, "ROLLBACK TO SAVEPOINT dbadmin_hypopg")
        reason = (getattr(exc.diag, "message_primary", None) or str(exc)).strip()
        return f"hypopg cannot be created here ({reason})"
    return None


def _plan_cost(session: StatementDeadline, cur: Any, sql: str) -> tuple[float, set[str]]:
    """(estimated total cost, index names used) of the statement, planned only."""
    session.execute(cur, "EXPLAIN (FORMAT JSON) " + sql)
    value = cur.fetchone()[0]
    import json

    top = (json.loads(value) if isinstance(value, str) else value)[0]
    names: set[str] = set()
    stack = [top["Plan"]]
    while stack:
        node = stack.pop()
        if node.get("Index Name"):
            names.add(str(node["Index Name"]))
        stack.extend(node.get("Plans", []) or [])
    return float(top["Plan"]["Total Cost"]), names


def _try(
    session: StatementDeadline, cur: Any, sql: str, finding: Finding, before: float
) -> Finding | None:
    import psycopg2

    session.execute(cur, "SAVEPOINT dbadmin_hypo")
    try:
        session.execute(cur, "SELECT indexname FROM hypopg_create_index(%s)", (finding.index_sql,))
        name = str(cur.fetchone()[0])
        after, used = _plan_cost(session, cur, sql)
    except psycopg2.Error as exc:
        session.execute(cur, "ROLLBACK TO SAVEPOINT dbadmin_hypo")
        reason = (getattr(exc.diag, "message_primary", None) or str(exc)).strip()
        return _mark(finding, "unverified", f"hypopg could not simulate it: {reason}")
    finally:
        try:
            session.execute(cur, "SELECT hypopg_reset()")
        except psycopg2.Error:
            pass
    if name not in used:
        return None  # the planner would not use it: an expert would strike the proposal
    return _mark(
        finding,
        "verified",
        f"verified with hypopg: the planner uses it, estimated cost {before:,.0f} -> {after:,.0f}",
    )


def _mark(finding: Finding, verification: str, why: str) -> Finding:
    detail = finding.detail
    if verification == "unverified":
        detail += f"; unverified ({why})" if why else "; unverified"
    else:
        detail += f"; {why}"
    return dataclasses.replace(finding, detail=detail, verification=verification)
