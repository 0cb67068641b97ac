"""The one-statement rule: exactly one statement EXPLAIN accepts, refused before any connection.

Statement counting uses pglast (PostgreSQL's own parser) when the text parses, and the lexer in
dbadmin.sqltext when it does not (a syntax error the server will report, or syntax newer than
pglast's grammar), so ``SELECT 1; DROP TABLE users`` is refused before any connection opens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dbadmin.errors import UsageError
from dbadmin.sqltext import lexer_split

# Statements EXPLAIN accepts (PostgreSQL 14-18 grammar: ExplainableStmt).
EXPLAINABLE = {
    "SelectStmt": "SELECT",
    "InsertStmt": "INSERT",
    "UpdateStmt": "UPDATE",
    "DeleteStmt": "DELETE",
    "MergeStmt": "MERGE",
    "ExecuteStmt": "EXECUTE",
    "CreateTableAsStmt": "CREATE TABLE AS",
    "DeclareCursorStmt": "DECLARE",
    "RefreshMatViewStmt": "REFRESH MATERIALIZED VIEW",
}


@dataclass(frozen=True)
class StatementCheck:
    statement: str  # the one statement, without a trailing semicolon
    kind: str | None  # "SELECT", "DELETE", ... (None when pglast could not parse it)
    parser: str  # "pglast" or "lexer"


def check_single_statement(sql: str) -> StatementCheck:
    """Refuse (UsageError, exit 2) anything but exactly one explainable statement.

    Runs without a connection: the refusal happens before anything reaches the server.
    Placeholders must already be ``$n`` (see :func:`named_to_positional`).
    """
    pieces = lexer_split(sql)
    kind: str | None = None
    parser = "lexer"
    try:
        import pglast
        from pglast.parser import ParseError
    except ImportError:  # pragma: no cover - pglast is a dependency; keep the lexer as a net
        pglast = None  # type: ignore[assignment]
        ParseError = Exception  # type: ignore[assignment,misc]
    if pglast is not None:
        try:
            parsed = pglast.parse_sql(sql)
        except ParseError:
            parsed = None  # a syntax error (the server will say where) or newer syntax
        if parsed is not None:
            parser = "pglast"
            pieces = [p.strip() for p in pglast.split(sql)]
            if len(parsed) == 1:
                node = type(parsed[0].stmt).__name__
                if node == "ExplainStmt":
                    raise UsageError(
                        "the query already starts with EXPLAIN",
                        "give the statement alone; dbadmin adds EXPLAIN (ANALYZE, ...) itself",
                    )
                if node not in EXPLAINABLE:
                    from dbadmin.explain.safety import no_transaction_reason

                    outside = no_transaction_reason(parsed[0].stmt)
                    if outside:
                        raise UsageError(
                            f"{outside} cannot run inside a transaction block, and explain runs "
                            "everything in a transaction it rolls back; nothing was run",
                            f"run {outside} with psql; dbadmin explain only takes "
                            "SELECT/INSERT/UPDATE/DELETE/MERGE/VALUES/CREATE TABLE AS",
                        )
                    raise UsageError(
                        f"EXPLAIN cannot run this kind of statement ({_describe(node)})",
                        "give one SELECT, INSERT, UPDATE, DELETE, MERGE, VALUES, EXECUTE or "
                        "CREATE TABLE AS statement",
                    )
                kind = EXPLAINABLE[node]
    if not pieces:
        raise UsageError("no SQL statement given", 'pass a query: dbadmin explain "SELECT ..."')
    if len(pieces) > 1:
        shown = "; ".join(" ".join(p.split())[:40] for p in pieces[:3])
        raise UsageError(
            f"refusing {len(pieces)} statements ({shown}); nothing was run",
            "explain one statement at a time",
        )
    return StatementCheck(
        statement=pieces[0].rstrip().rstrip(";").rstrip(), kind=kind, parser=parser
    )


def _describe(node: str) -> str:
    words = re.sub(r"Stmt$", "", node)
    return re.sub(r"(?<!^)(?=[A-Z])", " ", words).upper()


# -- expressions as PostgreSQL deparses them (EXPLAIN filters, pg_get_constraintdef) ----------
# These scanners know single-quoted literals only: deparsed text needs no more.
