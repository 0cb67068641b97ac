"""What a statement could do outside the transaction that ``explain`` always rolls back.

EXPLAIN ANALYZE runs the statement, and the rollback undoes its writes, but not everything a
statement can do is transactional: ending another session, reloading the configuration, writing
a server file, running SQL on a remote server through dblink, setting a sequence. Such calls are
found here, before any connection opens, by walking PostgreSQL's own parse tree (pglast's
``FuncCall`` nodes, wherever they sit: select list, FROM, WHERE, CTEs, sub-queries), and refused
unless the user says ``--allow-side-effects``. Plain SELECTs additionally run in a READ ONLY
transaction, so a function that writes is stopped by the server itself.

Limits (documented in docs/explain.md): a user-defined function may call any of these
internally; only the server's READ ONLY mode (SELECTs) and the rollback protect against it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

from dbadmin.errors import UsageError

if TYPE_CHECKING:  # pglast is imported only when a statement is checked
    from pglast.ast import FuncCall, RawStmt

# Functions whose effect survives ROLLBACK, with what survives (shown in the refusal).
SURVIVES_ROLLBACK: dict[str, str] = {
    "pg_terminate_backend": "ends another session",
    "pg_cancel_backend": "cancels another session's query",
    "pg_reload_conf": "reloads the server configuration",
    "pg_rotate_logfile": "rotates the server log",
    "pg_rotate_logfile_old": "rotates the server log",
    "pg_switch_wal": "switches the WAL file",
    "pg_create_restore_point": "writes a WAL restore point",
    "pg_promote": "promotes a standby",
    "pg_wal_replay_pause": "pauses WAL replay",
    "pg_wal_replay_resume": "resumes WAL replay",
    "pg_backup_start": "starts a base backup",
    "pg_backup_stop": "stops a base backup",
    "pg_start_backup": "starts a base backup",
    "pg_stop_backup": "stops a base backup",
    "pg_create_physical_replication_slot": "creates a replication slot",
    "pg_create_logical_replication_slot": "creates a replication slot",
    "pg_drop_replication_slot": "drops a replication slot",
    "pg_copy_physical_replication_slot": "creates a replication slot",
    "pg_copy_logical_replication_slot": "creates a replication slot",
    "pg_replication_slot_advance": "advances a replication slot",
    "pg_replication_origin_create": "creates a replication origin",
    "pg_replication_origin_drop": "drops a replication origin",
    "pg_logical_emit_message": "writes a logical decoding message",
    "pg_stat_reset": "resets statistics counters",
    "pg_stat_reset_shared": "resets statistics counters",
    "pg_stat_reset_single_table_counters": "resets statistics counters",
    "pg_stat_reset_single_function_counters": "resets statistics counters",
    "pg_stat_reset_slru": "resets statistics counters",
    "pg_stat_reset_replication_slot": "resets statistics counters",
    "pg_stat_reset_subscription_stats": "resets statistics counters",
    "pg_stat_statements_reset": "resets pg_stat_statements",
    "pg_file_write": "writes a server file",
    "pg_file_rename": "renames a server file",
    "pg_file_unlink": "deletes a server file",
    "lo_import": "reads a server file into a large object",
    "lo_export": "writes a server file",
    "lo_unlink": "deletes a large object",
    "setval": "sets a sequence",
    "nextval": "advances a sequence",
    "pg_advisory_lock": "takes a session-level advisory lock",
    "pg_advisory_lock_shared": "takes a session-level advisory lock",
    "pg_try_advisory_lock": "takes a session-level advisory lock",
    "pg_try_advisory_lock_shared": "takes a session-level advisory lock",
}
_REMOTE_PREFIX = "dblink"  # dblink, dblink_exec, dblink_connect...: SQL on another server

# --set names that would lift --timeout or the READ ONLY transaction.
GUARDED_SETTINGS = frozenset(
    {
        "statement_timeout",
        "lock_timeout",
        "idle_in_transaction_session_timeout",
        "idle_session_timeout",
        "transaction_timeout",
        "transaction_read_only",
        "default_transaction_read_only",
    }
)

# Statements that cannot run inside a transaction block (so never inside dbadmin's).
_NO_TRANSACTION = {
    "CreatedbStmt": "CREATE DATABASE",
    "DropdbStmt": "DROP DATABASE",
    "AlterSystemStmt": "ALTER SYSTEM",
    "CreateTableSpaceStmt": "CREATE TABLESPACE",
    "DropTableSpaceStmt": "DROP TABLESPACE",
    "CreateSubscriptionStmt": "CREATE SUBSCRIPTION",
    "DropSubscriptionStmt": "DROP SUBSCRIPTION",
}


@dataclass(frozen=True)
class StatementEffects:
    """What the statement can do besides reading and writing rows of this database."""

    read_only: bool  # a plain SELECT/VALUES/TABLE: run in a READ ONLY transaction
    side_effects: tuple[str, ...] = ()  # called functions whose effect survives a rollback

    def describe(self) -> str:
        return ", ".join(f"{name}() ({_why(name)})" for name in self.side_effects)


def _why(name: str) -> str:
    if name.startswith(_REMOTE_PREFIX):
        return "runs SQL on another server"
    return SURVIVES_ROLLBACK[name]


def _survives(name: str) -> bool:
    return name in SURVIVES_ROLLBACK or name.startswith(_REMOTE_PREFIX)


def statement_effects(sql: str) -> StatementEffects:
    """Effects of one statement (placeholders already ``$n``); the lexer when pglast fails."""
    import pglast
    from pglast.parser import ParseError

    try:
        parsed = pglast.parse_sql(sql)
    except ParseError:
        return _lexer_effects(sql)
    if len(parsed) != 1:
        return _lexer_effects(sql)
    stmt = parsed[0].stmt
    return StatementEffects(read_only=_plain_select(stmt), side_effects=_called(parsed))


def _called(tree: tuple[RawStmt, ...]) -> tuple[str, ...]:
    from pglast.visitors import Ancestor, Visitor

    found: list[str] = []

    class Calls(Visitor):
        def visit_FuncCall(self, ancestors: Ancestor, node: FuncCall) -> None:
            if not node.funcname:
                return
            name = node.funcname[-1].sval.lower()
            if _survives(name) and name not in found:
                found.append(name)

    Calls()(tree)
    return tuple(found)


def _plain_select(stmt: object) -> bool:
    """A SELECT that neither writes (data-modifying CTE, SELECT INTO) nor locks rows."""
    from pglast import ast

    if not isinstance(stmt, ast.SelectStmt):
        return False
    if stmt.intoClause is not None:
        return False
    pending: list[object] = [stmt]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.SelectStmt):
            if node.lockingClause:
                return False
            if node.withClause is not None:
                for cte in node.withClause.ctes or ():
                    if not isinstance(cte.ctequery, ast.SelectStmt):
                        return False  # WITH d AS (DELETE ... RETURNING ...) SELECT ...
                    pending.append(cte.ctequery)
            pending.extend(x for x in (node.larg, node.rarg) if x is not None)
    return True


def _lexer_effects(sql: str) -> StatementEffects:
    """Statements pglast cannot read (newer syntax, or a syntax error the server will report):
    the same checks on the token stream (a name followed by ``(``)."""
    from dbadmin.sqltext import tokenize

    tokens = [t for t in tokenize(sql) if t.kind not in {"space", "comment"}]
    words = [t.text.lower() for t in tokens if t.kind == "ident"]
    found: list[str] = []
    for token, following in pairwise(tokens):
        if token.kind in {"ident", "qident"} and following.text == "(":
            name = token.text.strip('"').lower()
            if _survives(name) and name not in found:
                found.append(name)
    writes = {"insert", "update", "delete", "merge", "into", "for"}
    read_only = bool(words) and words[0] in {"select", "values", "table"}
    return StatementEffects(
        read_only=read_only and not writes.intersection(words), side_effects=tuple(found)
    )


def refuse_side_effects(effects: StatementEffects) -> None:
    """UsageError (exit 2) when running the statement would act outside the transaction."""
    if effects.side_effects:
        raise UsageError(
            f"the statement calls {effects.describe()}, which a rollback does not undo; "
            "nothing was run",
            "add --allow-side-effects if you really mean to run it, or --no-analyze to plan it "
            "without running it",
        )


def check_set_options(names: Iterable[str]) -> None:
    """``--set statement_timeout=0`` must not lift ``--timeout`` (nor READ ONLY): exit 2."""
    for name in names:
        if name.lower() in GUARDED_SETTINGS:
            raise UsageError(
                f"--set {name} is not allowed: explain sets it itself (--timeout, READ ONLY "
                "for SELECTs)",
                "use --timeout SECONDS to change the time limit",
            )


def no_transaction_reason(stmt: object) -> str | None:
    """The statement's name when it cannot run inside a transaction block, else None."""
    name = type(stmt).__name__
    if name == "VacuumStmt" and getattr(stmt, "is_vacuumcmd", False):
        return "VACUUM"  # ANALYZE alone may run in a transaction (EXPLAIN still cannot run it)
    if name in _NO_TRANSACTION:
        return _NO_TRANSACTION[name]
    if getattr(stmt, "concurrent", False):
        return "DROP INDEX CONCURRENTLY" if name == "DropStmt" else "CREATE INDEX CONCURRENTLY"
    if name == "ReindexStmt" and any(
        getattr(p, "defname", "") == "concurrently" for p in (getattr(stmt, "params", None) or ())
    ):
        return "REINDEX CONCURRENTLY"
    return None
