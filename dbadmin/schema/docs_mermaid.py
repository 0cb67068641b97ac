"""Mermaid ``erDiagram`` text for `schema docs`: the whole schema and one table's neighbourhood.

Written against Mermaid's ER grammar (``erDiagram.jison``, the same rules in the vendored
``mermaid.tiny.js``); the rules relied on, each enforced by ``tests/test_schema_docs.py``:

- Every entity name and relationship label is a quoted string, ``"[^"%\\r\\n\\v\\b\\\\]+"``: so no
  table name can collide with a keyword (``one``, ``many``, ``to``, ``end``, ``style``...) or
  with the cardinality tokens. The characters a quoted name cannot hold (``"``, ``%``, ``\\``,
  control characters), ``#`` itself, backticks (they would end the Markdown code fence) and
  other white space than the plain space are written as Mermaid entity codes
  ``#NN;`` (decimal), which Mermaid turns back into the character when it draws.
- The lexer tries ``.*direction\\s+(TB|BT|RL|LR)`` (any case) at every token of a line before
  anything else: the space after "direction" in a name is written ``#32;``. Mermaid also
  rewrites text matching ``style...:...#...;`` and ``classDef...``: those words get an entity
  code in their middle.
- Attribute types and names are bare words, ``[*A-Za-z_\\u00C0-\\uFFFF][A-Za-z0-9_\\-\\[\\]()*
  \\u00C0-\\uFFFF]*`` (the intersection of Mermaid 10-12's rules: no ``.`` or ``,``): other
  characters become ``_``, a leading digit gets a ``_``, and a word that would lex as the key
  token ``PK``/``FK``/``UK`` gets a leading ``_``. When a column name had to change, its real
  name is the attribute's quoted comment.
- Relationships: ``"child" <child side>--<parent side> "parent" : "fk name"``; child side ``}o``
  (zero or more children) or ``|o`` (unique FK columns: zero or one), parent side ``||``
  (NOT NULL FK columns: exactly one) or ``o|`` (nullable: zero or one); ``--`` when the FK
  columns are part of the child's primary key (identifying), ``..`` otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dbadmin.schema.docs_model import AsDict, Catalog, ForeignKey, RelName, Table

MAX_ENTITIES = 40  # more tables than this: one diagram per connected component
_NOT_IN_QUOTES = re.compile(r'["%\\#`\ufeff]|[^\S ]|[\x00-\x1f\x7f]')
_DIRECTION = re.compile(r"(?i)(direction)( )")
_STYLE_WORDS = re.compile(r"(sty)(l)(e)|(classDe)(f)")
_WORD_OTHER = re.compile(r"[^A-Za-z0-9_\-\[\]()*\u00c0-\uffff]")
_KEY_WORD = re.compile(r"(?i)(pk|fk|uk)(?![A-Za-z0-9_])")


def quoted(text: str) -> str:
    """``text`` as a quoted Mermaid ER name or label (see the module docstring)."""
    body = _NOT_IN_QUOTES.sub(lambda m: f"#{ord(m.group(0))};", text)
    body = _DIRECTION.sub(r"\1#32;", body)
    body = _STYLE_WORDS.sub(
        lambda m: (
            f"{m.group(1)}#{ord(m.group(2))};{m.group(3)}"
            if m.group(1)
            else f"{m.group(4)}#{ord(m.group(5))};"
        ),
        body,
    )
    return f'"{body}"'


def word(text: str) -> str:
    """``text`` as an attribute type or name word."""
    out = re.sub(r"\s+", "_", text.strip())
    out = _WORD_OTHER.sub("_", out) or "_"
    if not re.match(r"[*A-Za-z_\u00c0-\uffff]", out) or _KEY_WORD.match(out):
        out = "_" + out
    return out


def relationship(fk: ForeignKey, label: str, ref_label: str) -> str:
    child = "|o" if fk.unique else "}o"
    parent = "o|" if fk.nullable else "||"
    line = "--" if fk.identifying else ".."
    return f"    {label} {child}{line}{parent} {ref_label} : {quoted(fk.name)}"


def _keys(table: Table) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    pk = next((c for c in table.constraints if c.kind == "primary key"), None)
    for col in pk.columns if pk else ():
        keys.setdefault(col, []).append("PK")
    for fk in table.foreign_keys:
        for col in fk.columns:
            if "FK" not in keys.setdefault(col, []):
                keys[col].append("FK")
    for con in table.constraints:
        if con.kind == "unique":
            for col in con.columns:
                if "UK" not in keys.setdefault(col, []):
                    keys[col].append("UK")
    return keys


def entity(table: Table, label: str, *, all_columns: bool) -> list[str]:
    """One entity: all columns, or only its key columns (PK/FK/UK); bare when it has none."""
    keys = _keys(table)
    lines = []
    for col in table.columns:
        marks = keys.get(col.name, [])
        if not all_columns and not marks:
            continue
        name = word(col.name)
        line = f"        {word(col.type)} {name}"
        if marks:
            line += " " + ", ".join(marks)
        if name != col.name:
            line += " " + quoted(col.name)
        lines.append(line)
    if not lines:
        return [f"    {label}"]
    return [f"    {label} {{", *lines, "    }"]


@dataclass(frozen=True)
class Diagram(AsDict):
    title: str
    tables: tuple[RelName, ...]
    relationships: int
    source: str  # the erDiagram text, without a code fence


def labeller(catalog: Catalog) -> dict[RelName, str]:
    """Entity names: ``table`` when one schema is documented, ``schema.table`` otherwise."""
    single = len({t.ref.schema for t in catalog.tables}) <= 1
    return {t.ref: quoted(t.ref.name if single else str(t.ref)) for t in catalog.tables}


def er_diagram(
    title: str,
    tables: Sequence[Table],
    fks: Iterable[ForeignKey],
    labels: dict[RelName, str],
    *,
    full: frozenset[RelName] = frozenset(),
) -> Diagram:
    """A diagram of ``tables`` (columns in full for those in ``full``, keys only for the rest)
    and the ``fks`` between them."""
    present = {t.ref for t in tables}
    lines = ["erDiagram"]
    for table in sorted(tables, key=lambda t: t.ref):
        lines.extend(entity(table, labels[table.ref], all_columns=table.ref in full))
    edges = sorted(
        (fk for fk in fks if fk.table in present and fk.ref_table in present),
        key=lambda fk: (fk.table, fk.name),
    )
    lines.extend(relationship(fk, labels[fk.table], labels[fk.ref_table]) for fk in edges)
    return Diagram(title, tuple(sorted(present)), len(edges), "\n".join(lines) + "\n")


def overview_diagrams(catalog: Catalog) -> tuple[Diagram, ...]:
    """The whole schema in one diagram; beyond MAX_ENTITIES tables, one per connected component
    (FKs in either direction), tables without any FK together in groups of MAX_ENTITIES."""
    labels = labeller(catalog)
    fks = catalog.foreign_keys
    if len(catalog.tables) <= MAX_ENTITIES:
        return (er_diagram("All tables", catalog.tables, fks, labels),) if catalog.tables else ()
    by_ref = {t.ref: t for t in catalog.tables}
    groups = _components(by_ref, fks)
    diagrams = []
    loners = [g[0] for g in groups if len(g) == 1]
    for group in (g for g in groups if len(g) > 1):
        title = f"Tables connected to {group[0]} ({len(group)} tables)"
        diagrams.append(er_diagram(title, [by_ref[r] for r in group], fks, labels))
    for start in range(0, len(loners), MAX_ENTITIES):
        chunk = loners[start : start + MAX_ENTITIES]
        title = f"Tables without foreign keys ({chunk[0]} to {chunk[-1]})"
        diagrams.append(er_diagram(title, [by_ref[r] for r in chunk], (), labels))
    return tuple(diagrams)


def _components(by_ref: dict[RelName, Table], fks: Sequence[ForeignKey]) -> list[list[RelName]]:
    parent = {ref: ref for ref in by_ref}

    def find(ref: RelName) -> RelName:
        while parent[ref] != ref:
            parent[ref] = parent[parent[ref]]
            ref = parent[ref]
        return ref

    for fk in fks:
        a, b = find(fk.table), find(fk.ref_table)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[RelName, list[RelName]] = {}
    for ref in sorted(by_ref):
        groups.setdefault(find(ref), []).append(ref)
    return sorted(groups.values(), key=lambda g: (-len(g), g[0]))


def neighbourhood(catalog: Catalog, table: Table) -> Diagram:
    """``table`` with all its columns, the tables one FK away (keys only) and those FKs."""
    labels = labeller(catalog)
    by_ref = {t.ref: t for t in catalog.tables}
    fks = [
        fk
        for fk in (*table.foreign_keys, *table.referenced_by)
        if fk.table in by_ref and fk.ref_table in by_ref
    ]
    unique_fks = {(fk.table, fk.name): fk for fk in fks}.values()
    near = {table.ref} | {fk.table for fk in fks} | {fk.ref_table for fk in fks}
    return er_diagram(
        f"{table.ref} and its neighbours",
        [by_ref[r] for r in near],
        unique_fks,
        labels,
        full=frozenset({table.ref}),
    )
