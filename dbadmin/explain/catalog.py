"""The catalog of the app's hot queries: one ``.sql`` file per query in ``explain/queries/``.

File format (the name is the file name without ``.sql``)::

    -- One or more comment lines: what the query serves (shown by --list).
    -- param user_id: uuid = SELECT user_id FROM tasks GROUP BY 1 ORDER BY count(*) DESC LIMIT 1
    -- param completed: boolean = false
    -- param limit: integer = 50
    SELECT ... WHERE user_id = :user_id AND completed = :completed LIMIT :limit

``-- param NAME: TYPE = DEFAULT`` declares ``:NAME``. The value (from ``-p NAME=VALUE`` or the
default) is bound as a quoted literal cast to TYPE. A default that starts with SELECT or WITH is
a query run first, in the same rolled-back transaction, so ``--all`` works on any seeded database
without knowing its ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from dbadmin.errors import UsageError

CATALOG_DIR = Path(__file__).resolve().parent / "queries"
_PARAM = re.compile(
    r"^--\s*param\s+(?P<name>[A-Za-z_]\w*)\s*(?::\s*(?P<type>[A-Za-z_][\w .]*?(?:\[\])?))?"
    r"\s*(?:=\s*(?P<default>.*?))?\s*$"
)


@dataclass(frozen=True)
class CatalogParam:
    name: str
    type: str | None
    default: str | None
    default_is_query: bool


@dataclass(frozen=True)
class CatalogQuery:
    name: str
    description: str
    sql: str
    params: tuple[CatalogParam, ...]
    path: Path


def parse_query_file(path: Path) -> CatalogQuery:
    text = path.read_text(encoding="utf-8")
    description: list[str] = []
    params: list[CatalogParam] = []
    body_start = 0
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith("--"):
            if stripped:
                break
            body_start = i + 1
            continue
        body_start = i + 1
        match = _PARAM.match(stripped)
        if match:
            default = match.group("default") or None
            params.append(
                CatalogParam(
                    name=match.group("name"),
                    type=(match.group("type") or "").strip() or None,
                    default=default,
                    default_is_query=bool(
                        default and re.match(r"(?i)^(select|with)\b", default.strip())
                    ),
                )
            )
        else:
            description.append(stripped.lstrip("-").strip())
    sql = "".join(lines[body_start:]).strip()
    if not sql:
        raise UsageError(f"catalog query {path} has no SQL")
    return CatalogQuery(
        name=path.stem,
        description=" ".join(d for d in description if d),
        sql=sql,
        params=tuple(params),
        path=path,
    )


def list_queries(folder: Path | None = None) -> list[CatalogQuery]:
    root = folder or CATALOG_DIR
    if not root.is_dir():
        raise UsageError(f"query catalog {root} is not a directory")
    return [parse_query_file(p) for p in sorted(root.glob("*.sql"))]


def get_query(name: str, folder: Path | None = None) -> CatalogQuery:
    queries = {q.name: q for q in list_queries(folder)}
    if name.endswith(".sql"):
        name = name[:-4]
    if name not in queries:
        raise UsageError(
            f"no catalog query named {name!r}",
            "known: " + ", ".join(sorted(queries)) + " (dbadmin explain --list)",
        )
    return queries[name]
