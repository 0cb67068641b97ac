"""Load order for a set of tables: parents before children, cycles broken at a nullable FK.

A cycle whose every edge is NOT NULL cannot be filled; its tables are reported as unfillable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import ForeignKeyConstraint, Table


@dataclass(frozen=True)
class TableOrder:
    tables: list[Table]  # parents before children
    null_fks: dict[str, frozenset[str]]  # table -> FK names filled with NULL to break cycles
    unfillable: dict[str, str]


def fk_name(fk: ForeignKeyConstraint) -> str:
    if isinstance(fk.name, str) and fk.name:  # not None nor SQLAlchemy's "no name" sentinel
        return fk.name
    return f"{'_'.join(e.parent.name for e in fk.elements)}_fkey"


def order_tables(
    tables: Sequence[Table], soft_parents: Mapping[str, Sequence[str]] | None = None
) -> TableOrder:
    """Parents first (Kahn); a cycle is broken at a nullable FK, else its tables are unfillable.

    ``soft_parents`` adds ordering without a foreign key (table name -> names it reads, e.g.
    analytics events mention users): followed when it does not create a cycle.
    """
    from sqlalchemy import ForeignKeyConstraint

    chosen = {t.fullname: t for t in tables}
    edges: dict[str, list[tuple[str, ForeignKeyConstraint]]] = {name: [] for name in chosen}
    soft: dict[str, set[str]] = {name: set() for name in chosen}
    by_name = {t.name: t.fullname for t in tables}
    for t in tables:
        for fk in t.constraints:
            if isinstance(fk, ForeignKeyConstraint):
                parent = fk.referred_table.fullname
                if parent in chosen and parent != t.fullname:
                    edges[t.fullname].append((parent, fk))
        for name in (soft_parents or {}).get(t.name, ()):
            if name in by_name and by_name[name] != t.fullname:
                soft[t.fullname].add(by_name[name])
    nulls: dict[str, set[str]] = {name: set() for name in chosen}
    done: list[str] = []
    unfillable: dict[str, str] = {}
    remaining = dict(sorted(chosen.items()))
    while remaining:
        ready = [
            n for n in remaining if all(p in done or fk_name(fk) in nulls[n] for p, fk in edges[n])
        ]
        polite = [n for n in ready if all(p in done or p not in remaining for p in soft[n])]
        ready = polite or ready
        if ready:
            for name in ready:
                done.append(name)
                del remaining[name]
            continue
        broken = False
        for name in remaining:
            for parent, fk in edges[name]:
                if (
                    parent in remaining
                    and fk_name(fk) not in nulls[name]
                    and all(e.parent.nullable for e in fk.elements)
                ):
                    nulls[name].add(fk_name(fk))
                    broken = True
                    break
            if broken:
                break
        if not broken:
            cycle = ", ".join(remaining)
            for name in remaining:
                unfillable[name] = f"foreign keys form a NOT NULL cycle ({cycle})"
            break
    return TableOrder(
        tables=[chosen[n] for n in done],
        null_fks={n: frozenset(v) for n, v in nulls.items() if v},
        unfillable=unfillable,
    )
