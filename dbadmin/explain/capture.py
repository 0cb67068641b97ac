"""Run EXPLAIN safely: one statement, bounded in time, inside a transaction that is always
rolled back (so ``EXPLAIN ANALYZE DELETE FROM tasks`` deletes nothing).

Parameters are bound by **literal substitution**: each value is quoted by psycopg2
(``cursor.mogrify``) and, when its type is declared (catalog files), cast to it. The plan is then
the custom plan the application gets for those values. ``PREPARE``/``EXPLAIN EXECUTE`` is not
used: it is not available through Neon's pooler and after five executions it may show a generic
plan instead of the one for these values.

Everything is checked before a connection opens: one statement (PostgreSQL's parser via pglast,
or the lexer when pglast cannot parse it), every placeholder has a value, no unknown parameter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dbadmin.errors import OperationTimeout, SqlError, UsageError
from dbadmin.explain.catalog import CatalogParam
from dbadmin.explain.plan import PlanDocument, parse_plan_text
from dbadmin.explain.safety import (
    StatementEffects,
    check_set_options,
    refuse_side_effects,
    statement_effects,
)
from dbadmin.explain.statement import check_single_statement
from dbadmin.sqltext import (
    find_placeholders,
    named_to_positional,
    strip_semicolons,
    substitute,
)

if TYPE_CHECKING:
    from dbadmin.explain.deadline import StatementDeadline
    from dbadmin.settings import Settings
    from dbadmin.urls import DbUrl

DEFAULT_TIMEOUT_S = 30.0
_TYPE = re.compile(r"^[A-Za-z_][\w .]*(\[\])?$")
_GUC = re.compile(r"^[A-Za-z_][\w.]*$")


@dataclass(frozen=True)
class PreparedQuery:
    """A statement that passed every check that needs no server."""

    sql: str  # one statement, placeholders still in place
    kind: str | None  # SELECT / DELETE / ... when pglast parsed it
    named: dict[str, str]  # given values
    positional: dict[int, str]
    specs: dict[str, CatalogParam] = field(default_factory=dict)
    name: str | None = None  # the catalog name, if any
    generic: bool = False  # no values at all: EXPLAIN (GENERIC_PLAN), PostgreSQL 16+, no ANALYZE
    placeholders: tuple[str, ...] = ()  # the :name placeholders in ``sql``, in order
    effects: StatementEffects = field(default_factory=lambda: StatementEffects(read_only=False))


def parse_param_args(values: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """``-p NAME=VALUE`` (named), ``-p 2=VALUE`` ($2) and ``-p VALUE`` (the next $n)."""
    named: dict[str, str] = {}
    positional: list[str] = []
    for item in values:
        match = re.match(r"^([A-Za-z_]\w*|\d+)=(.*)$", item, re.DOTALL)
        if match:
            named[match.group(1)] = match.group(2)
        else:
            positional.append(item)
    return named, positional


def prepare_query(
    sql: str,
    *,
    params: Sequence[str] = (),
    specs: Sequence[CatalogParam] = (),
    name: str | None = None,
    allow_generic: bool = False,
) -> PreparedQuery:
    """Validate placeholders and the one-statement rule; raises UsageError (exit 2).

    ``allow_generic`` (plan only): a statement with placeholders and no values at all is
    planned with EXPLAIN (GENERIC_PLAN), named placeholders renumbered as ``$n``.
    """
    named_args, positional_args = parse_param_args(params)
    holders = find_placeholders(sql)
    # pglast reads $n but not :name: number the named ones after the positional ones
    numbered = named_to_positional(sql, holders.named, start=max(holders.positional, default=0))
    spec_defaults = any(s.default for s in specs)
    if allow_generic and not params and not spec_defaults and (holders.named or holders.positional):
        check = check_single_statement(numbered)
        return PreparedQuery(
            sql=strip_semicolons(numbered),
            kind=check.kind,
            named={},
            positional={},
            name=name,
            generic=True,
            effects=statement_effects(numbered),
        )
    positional: dict[int, str] = {i + 1: v for i, v in enumerate(positional_args)}
    named: dict[str, str] = {}
    for key, value in named_args.items():
        if key.isdigit():
            positional[int(key)] = value
        else:
            named[key] = value
    spec_map = {s.name: s for s in specs}
    unknown = sorted(set(named) - set(holders.named))
    if unknown:
        raise UsageError(
            "unknown parameter(s) " + ", ".join(f":{u}" for u in unknown),
            "the query uses "
            + (", ".join(f":{n}" for n in holders.named) or "no :name parameters"),
        )
    missing = [
        n for n in holders.named if n not in named and not (n in spec_map and spec_map[n].default)
    ]
    if missing:
        raise UsageError(
            "no value for " + ", ".join(f":{m}" for m in missing),
            "pass -p " + " -p ".join(f"{m}=VALUE" for m in missing),
        )
    extra = sorted(set(positional) - set(holders.positional))
    if extra:
        raise UsageError(
            f"{len(positional)} positional value(s) given but the query uses "
            + (", ".join(f"${p}" for p in holders.positional) or "no $n parameters"),
            "remove the extra -p values",
        )
    missing_pos = [p for p in holders.positional if p not in positional]
    if missing_pos:
        raise UsageError(
            "no value for " + ", ".join(f"${p}" for p in missing_pos),
            "pass one -p VALUE per $n, in order (or -p N=VALUE)",
        )
    for spec in specs:
        if spec.type and not _TYPE.match(spec.type):
            raise UsageError(f"parameter :{spec.name} has an invalid type {spec.type!r}")
    check = check_single_statement(numbered)
    return PreparedQuery(
        sql=strip_semicolons(sql),
        kind=check.kind,
        named=named,
        positional=positional,
        specs=spec_map,
        name=name,
        placeholders=holders.named,
        effects=statement_effects(numbered),
    )


def explain_options(*, analyze: bool, wal: bool, version_num: int, generic: bool = False) -> str:
    options = []
    if generic:
        options.append("GENERIC_PLAN")
    elif analyze:
        options.append("ANALYZE")
    if analyze or version_num >= 130000:
        options.append("BUFFERS")
    options.append("VERBOSE")
    if version_num >= 120000:
        options.append("SETTINGS")
    if wal and analyze and version_num >= 130000:
        options.append("WAL")
    options.append("FORMAT JSON")
    return "EXPLAIN (" + ", ".join(options) + ") "


def capture_plan(
    settings: Settings,
    query: PreparedQuery,
    *,
    analyze: bool = True,
    wal: bool = False,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    set_options: Mapping[str, str] | None = None,
    allow_side_effects: bool = False,
) -> PlanDocument:
    """One EXPLAIN of the query (see :func:`capture_runs`)."""
    return capture_runs(
        settings,
        query,
        analyze=analyze,
        wal=wal,
        timeout_s=timeout_s,
        set_options=set_options,
        allow_side_effects=allow_side_effects,
    )[0]


def capture_runs(
    settings: Settings,
    query: PreparedQuery,
    *,
    runs: int = 1,
    analyze: bool = True,
    wal: bool = False,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    set_options: Mapping[str, str] | None = None,
    allow_side_effects: bool = False,
) -> list[PlanDocument]:
    """EXPLAIN the query ``runs`` times in one session (each run inside a savepoint rolled
    back before the next, so every run sees the same data); the transaction is rolled back
    whatever happens.

    Before connecting: calls whose effects survive a rollback are refused (unless
    ``allow_side_effects``; a plan without ANALYZE runs nothing) and ``--set`` may not lift the
    time limit. Plain SELECTs run READ ONLY. Every statement is bounded twice: by
    ``statement_timeout``/``lock_timeout`` on the server and by a client-side deadline
    (:mod:`dbadmin.explain.deadline`) for a server that stops answering.
    """
    import psycopg2

    from dbadmin.db import fetch_one, raw_connection
    from dbadmin.explain.deadline import StatementDeadline

    for guc in set_options or {}:
        if not _GUC.match(guc):
            raise UsageError(f"--set {guc!r} is not a setting name")
    check_set_options(set_options or {})
    analyze = analyze and not query.generic
    if analyze and not allow_side_effects:
        refuse_side_effects(query.effects)
    read_only = query.effects.read_only and not allow_side_effects
    timeout = f"{max(int(timeout_s * 1000), 1)}ms"
    with raw_connection(settings, url=session_url(settings, timeout_s)) as conn:
        conn.autocommit = False
        session = StatementDeadline(conn, timeout_s)
        try:
            with conn.cursor() as cur:
                if read_only:
                    session.execute(cur, "SET TRANSACTION READ ONLY")
                session.execute(
                    cur,
                    "SELECT set_config('statement_timeout', %s, true), "
                    "set_config('lock_timeout', %s, true), "
                    "current_setting('server_version_num')::int, current_setting('server_version')",
                    (timeout, timeout),
                )
                row = fetch_one(cur)
                version_num, version = int(row[2]), str(row[3]).split()[0]
                for guc, value in (set_options or {}).items():
                    session.execute(cur, "SELECT set_config(%s, %s, true)", (guc, value))
                if query.generic and version_num < 160000:
                    raise UsageError(
                        f"the query has placeholders without values; a generic plan needs "
                        f"PostgreSQL 16+ (this is {version})",
                        "bind them with -p",
                    )
                sql = query.sql if query.generic else _bind(session, cur, query)
                prefix = explain_options(
                    analyze=analyze, wal=wal, version_num=version_num, generic=query.generic
                )
                docs = []
                for _ in range(max(runs, 1)):
                    if runs > 1:  # each run sees the data as it was: EXPLAIN ANALYZE writes
                        session.execute(cur, "SAVEPOINT dbadmin_run")
                    try:
                        session.execute(cur, prefix + sql)
                    except psycopg2.Error as exc:
                        raise _explain_error(
                            exc, sql, len(prefix), timeout_s, bool(query.named or query.positional)
                        ) from None
                    docs.append(_document(fetch_one(cur)[0]))
                    if runs > 1:
                        session.execute(cur, "ROLLBACK TO SAVEPOINT dbadmin_run")
                stats = _relation_stats(session, cur, docs[0])
        finally:
            if not session.severed:
                try:
                    conn.rollback()  # always: EXPLAIN ANALYZE really ran the statement
                except psycopg2.Error:
                    pass  # a broken connection: closing it discards the transaction anyway
    return [
        PlanDocument(
            top=doc.top,
            source="server",
            query_text=sql,
            server_version=version,
            server_version_num=version_num,
            relation_stats=stats,
        )
        for doc in docs
    ]


def session_url(settings: Settings, timeout_s: float) -> DbUrl:
    """The direct endpoint with TCP keepalives sized to the timeout (unless the URL sets them)."""
    from dbadmin.explain.deadline import keepalive_params

    url = settings.direct_url
    extra = {k: v for k, v in keepalive_params(timeout_s).items() if k not in url.params}
    return url.with_query(**extra)


def _bind(session: StatementDeadline, cur: Any, query: PreparedQuery) -> str:
    named: dict[str, str] = {}
    for name in query.placeholders:
        spec = query.specs.get(name)
        if name in query.named:
            value: Any = query.named[name]
        elif spec is not None and spec.default_is_query:
            assert spec.default is not None
            check_single_statement(spec.default)
            session.execute(cur, spec.default)
            row = cur.fetchone()
            if row is None:
                raise UsageError(
                    f"the default for :{name} found no row ({spec.default})",
                    f"seed the database or pass -p {name}=VALUE",
                )
            value = None if row[0] is None else str(row[0])
        else:
            assert spec is not None and spec.default is not None
            value = spec.default
        literal = cur.mogrify("%s", (value,)).decode()
        if spec is not None and spec.type:
            literal = f"{literal}::{spec.type}"
        named[name] = literal
    positional = {k: cur.mogrify("%s", (v,)).decode() for k, v in query.positional.items()}
    return substitute(query.sql, named, positional)


def _document(value: Any) -> PlanDocument:
    import json

    text = value if isinstance(value, str) else json.dumps(value)
    return parse_plan_text(text, source="server")


def _relation_stats(
    session: StatementDeadline, cur: Any, doc: PlanDocument
) -> dict[str, dict[str, Any]]:
    names: set[str] = set()
    stack = [doc.root]
    while stack:
        node = stack.pop()
        if node.get("Relation Name") and node.get("Schema"):
            names.add(f"{node['Schema']}.{node['Relation Name']}")
        stack.extend(node.get("Plans", []) or [])
    if not names:
        return {}
    from dbadmin import sql as sql_files

    session.execute(cur, sql_files.load("explain", "relation_stats", 0), {"names": sorted(names)})
    columns = [d[0] for d in cur.description]
    return {row[0]: dict(zip(columns, row, strict=True)) for row in cur.fetchall()}


def _explain_error(
    exc: Exception, sql: str, prefix_len: int, timeout_s: float, bound: bool
) -> Exception:
    import psycopg2.errors

    diag = getattr(exc, "diag", None)
    message = (getattr(diag, "message_primary", None) or str(exc).strip().splitlines()[0]).strip()
    if isinstance(exc, psycopg2.errors.QueryCanceled):
        return OperationTimeout(
            f"EXPLAIN was cancelled after {timeout_s:g} s ({message}); the transaction was rolled back",
            "raise --timeout, or use --no-analyze to plan without executing",
        )
    if isinstance(exc, psycopg2.errors.LockNotAvailable):
        return OperationTimeout(
            f"EXPLAIN waited {timeout_s:g} s for a lock ({message}); rolled back",
            "another session holds a conflicting lock; retry later",
        )
    if getattr(exc, "pgcode", None) == "25006":  # read_only_sql_transaction
        return SqlError(
            f"{message}: the SELECT tried to write (through a function?) in the READ ONLY "
            "transaction explain uses for SELECTs; nothing was changed",
            "add --allow-side-effects to run it read-write (still rolled back)",
        )
    if getattr(exc, "pgcode", None) is None:
        from dbadmin.db import translate_db_error

        translated = translate_db_error(exc)
        return translated if isinstance(translated, Exception) else exc
    text = message
    position = getattr(diag, "statement_position", None)
    if position:
        where = int(position) - prefix_len
        if 1 <= where <= len(sql) + 1:
            text += f" (at character {where} of the query{' with parameters bound' if bound else ''}: {_excerpt(sql, where)})"
    detail = getattr(diag, "message_detail", None)
    if detail:
        text += f"; {detail}"
    hint = getattr(diag, "message_hint", None)
    return SqlError(
        text, f"PostgreSQL's hint: {hint}" if hint else "fix the query; nothing was changed"
    )


def _excerpt(sql: str, position: int) -> str:
    """The line around a 1-based character position, with the spot marked by ``>>``."""
    index = position - 1
    start = sql.rfind("\n", 0, index) + 1
    end = sql.find("\n", index)
    end = len(sql) if end < 0 else end
    line_no = sql.count("\n", 0, index) + 1
    before = sql[max(start, index - 40) : index]
    after = sql[index : min(end, index + 40)]
    return f"line {line_no}: {before.lstrip()}>>{after.rstrip()}"
