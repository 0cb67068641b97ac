"""SQL text handling before anything reaches the server: placeholders and the one-statement rule.

A small lexer that knows PostgreSQL's quoting (strings, E'' strings, quoted identifiers,
dollar quotes, nested comments, ``::`` casts) finds ``:name`` and ``$1`` placeholders outside
quotes and comments. Statement counting uses pglast (PostgreSQL's own parser) when the text
parses, and this lexer when it does not (a syntax error the server will report, or syntax newer
than pglast's grammar), so ``SELECT 1; DROP TABLE users`` is refused before any connection opens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dbadmin.errors import UsageError

_IDENT_START = re.compile(r"[A-Za-z_\u0080-\uffff]")
_IDENT_CHAR = re.compile(r"[A-Za-z0-9_$\u0080-\uffff]")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$")

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
class Token:
    kind: str  # space comment string ident qident named positional semicolon cast other
    text: str
    start: int


def tokenize(sql: str) -> list[Token]:
    """Split SQL into tokens; unterminated quotes/comments run to the end (the server reports)."""
    tokens: list[Token] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        start = i
        if c.isspace():
            while i < n and sql[i].isspace():
                i += 1
            tokens.append(Token("space", sql[start:i], start))
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
            tokens.append(Token("comment", sql[start:i], start))
        elif sql.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if sql.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif sql.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            tokens.append(Token("comment", sql[start:i], start))
        elif c == "'":
            i = _string_end(sql, i, backslash=False)
            tokens.append(Token("string", sql[start:i], start))
        elif c in "eE" and i + 1 < n and sql[i + 1] == "'":
            i = _string_end(sql, i + 1, backslash=True)
            tokens.append(Token("string", sql[start:i], start))
        elif c == '"':
            i += 1
            while i < n:
                if sql[i] == '"':
                    if i + 1 < n and sql[i + 1] == '"':
                        i += 2
                        continue
                    i += 1
                    break
                i += 1
            else:
                i = n
            tokens.append(Token("qident", sql[start:i], start))
        elif c == "$":
            digits = re.match(r"\$(\d+)", sql[i:])
            tag = _DOLLAR_TAG.match(sql, i)
            if digits:
                i += len(digits.group(0))
                tokens.append(Token("positional", sql[start:i], start))
            elif tag:
                close = sql.find(tag.group(0), tag.end())
                i = n if close < 0 else close + len(tag.group(0))
                tokens.append(Token("string", sql[start:i], start))
            else:
                i += 1
                tokens.append(Token("other", c, start))
        elif c == ":":
            if sql.startswith("::", i):
                i += 2
                tokens.append(Token("cast", "::", start))
            elif i + 1 < n and _IDENT_START.match(sql[i + 1]):
                i += 2
                while i < n and re.match(r"[A-Za-z0-9_]", sql[i]):
                    i += 1
                tokens.append(Token("named", sql[start:i], start))
            else:
                i += 1
                tokens.append(Token("other", c, start))
        elif c == ";":
            i += 1
            tokens.append(Token("semicolon", c, start))
        elif _IDENT_START.match(c):
            while i < n and _IDENT_CHAR.match(sql[i]):
                i += 1
            tokens.append(Token("ident", sql[start:i], start))
        else:
            i += 1
            tokens.append(Token("other", c, start))
    return tokens


def _string_end(sql: str, i: int, *, backslash: bool) -> int:
    """Index after the string literal starting at the quote at ``i``."""
    i += 1
    n = len(sql)
    while i < n:
        ch = sql[i]
        if backslash and ch == "\\":
            i += 2
            continue
        if ch == "'":
            if i + 1 < n and sql[i + 1] == "'":
                i += 2
                continue
            return i + 1
        i += 1
    return n


@dataclass(frozen=True)
class Placeholders:
    named: tuple[str, ...]  # in order of first appearance
    positional: tuple[int, ...]  # sorted, distinct


def find_placeholders(sql: str) -> Placeholders:
    named: list[str] = []
    positional: set[int] = set()
    for token in tokenize(sql):
        if token.kind == "named" and token.text[1:] not in named:
            named.append(token.text[1:])
        elif token.kind == "positional":
            positional.add(int(token.text[1:]))
    return Placeholders(tuple(named), tuple(sorted(positional)))


def substitute(sql: str, named: dict[str, str], positional: dict[int, str]) -> str:
    """Replace placeholders by the given SQL text (already-quoted literals); others are kept."""
    out: list[str] = []
    for token in tokenize(sql):
        if token.kind == "named" and token.text[1:] in named:
            out.append(named[token.text[1:]])
        elif token.kind == "positional" and int(token.text[1:]) in positional:
            out.append(positional[int(token.text[1:])])
        else:
            out.append(token.text)
    return "".join(out)


def named_to_positional(sql: str, names: tuple[str, ...], *, start: int = 0) -> str:
    """``:name`` -> ``$n`` so PostgreSQL's parser (pglast) can read the statement.

    The names are numbered ``$start+1``, ``$start+2``, ... in order (``start`` is the highest
    ``$n`` the statement already uses, so the two kinds never collide).
    """
    return substitute(sql, {name: f"${start + i + 1}" for i, name in enumerate(names)}, {})


def strip_semicolons(sql: str) -> str:
    """The text without statement-separating semicolons (only one statement is allowed)."""
    return "".join(t.text for t in tokenize(sql) if t.kind != "semicolon").strip()


def lexer_split(sql: str) -> list[str]:
    """Statements separated by top-level semicolons; empty and comment-only pieces dropped."""
    pieces: list[list[Token]] = [[]]
    for token in tokenize(sql):
        if token.kind == "semicolon":
            pieces.append([])
        else:
            pieces[-1].append(token)
    statements = []
    for piece in pieces:
        if any(t.kind not in {"space", "comment"} for t in piece):
            statements.append("".join(t.text for t in piece).strip())
    return statements


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


def strip_parens(text: str) -> str:
    """Drop redundant outer parentheses: ``((a = 1))`` -> ``a = 1``, ``(a) AND (b)`` kept."""
    text = text.strip()
    while text.startswith("(") and text.endswith(")") and _outer_pair(text):
        text = text[1:-1].strip()
    return text


def _outer_pair(text: str) -> bool:
    """True when the first "(" closes at the very end (so the outer pair can be dropped)."""
    depth = 0
    quoted = False
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
            if depth == 0 and i != len(text) - 1:
                return False
    return depth == 0


def split_top_level(text: str, sep: str) -> list[str]:
    """Split on ``sep`` (a keyword like AND, or ",") outside parentheses, brackets and quotes.

    A keyword matches case-insensitively with whitespace around it; empty pieces are dropped.
    """
    parts: list[str] = []
    depth = 0
    quoted = False
    start = 0
    i = 0
    pattern = re.compile(rf"\s+{sep}\s+", re.I) if sep.isalpha() else None
    while i < len(text):
        ch = text[i]
        if ch == "'":
            quoted = not quoted
        elif not quoted:
            if ch in "([":
                depth += 1
            elif ch in ")]":
                depth -= 1
            elif depth == 0:
                if pattern is not None:
                    match = pattern.match(text, i)
                    if match and ch.isspace():
                        parts.append(text[start:i])
                        start = i = match.end()
                        continue
                elif ch == sep:
                    parts.append(text[start:i])
                    start = i + 1
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def unquote_ident(name: str) -> str:
    """A quoted identifier without its quotes (``""`` becomes ``"``); a bare one as it is."""
    return name[1:-1].replace('""', '"') if name.startswith('"') else name


_PLAIN_IDENT = re.compile(r"^[a-z_][a-z0-9_$]*$")
_RESERVED = {
    "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "both",
    "case", "cast", "check", "collate", "column", "constraint", "create", "current_date",
    "current_role", "current_time", "current_timestamp", "current_user", "default",
    "deferrable", "desc", "distinct", "do", "else", "end", "except", "false", "fetch", "for",
    "foreign", "from", "grant", "group", "having", "in", "initially", "intersect", "into",
    "lateral", "leading", "limit", "localtime", "localtimestamp", "not", "null", "offset", "on",
    "only", "or", "order", "placing", "primary", "references", "returning", "select",
    "session_user", "some", "symmetric", "table", "then", "to", "trailing", "true", "union",
    "unique", "user", "using", "variadic", "when", "where", "window", "with",
}  # fmt: skip


def quote_ident(name: str) -> str:
    """PostgreSQL's quote_ident: bare when it is a plain lower-case non-reserved name."""
    if _PLAIN_IDENT.match(name) and name not in _RESERVED:
        return name
    return '"' + name.replace('"', '""') + '"'
