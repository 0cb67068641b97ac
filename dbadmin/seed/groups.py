"""Column groups of a generated table and how each fills a batch.

A *group* is a plain column (``ValueGroup``), the columns of one foreign key (``FkGroup``:
parent keys drawn with a skewed fan-out, or earlier rows for a self-reference), the key
columns of a partitioned table (``PartitionGroup``), or columns ordered by CHECKs or by their
names (``PairGroup``: drawn in topological order, each after those it must follow).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dbadmin.seed.columns import TIME_KINDS, ColumnSpec
from dbadmin.seed.copy import NULL
from dbadmin.seed.partitions import PartitionValues
from dbadmin.seed.text import DAY_MS
from dbadmin.seed.values import (
    MakerContext,
    Values,
    draw_raw,
    format_raw,
    parse_raw,
    raw_bounds,
    raw_unit,
)

if TYPE_CHECKING:
    from sqlalchemy import ForeignKeyConstraint, Table

    from dbadmin.seed.checks import OrderedPair

ZIPF_S = 1.1  # foreign keys: a few parents get many children


@dataclass
class ValueGroup:
    spec: ColumnSpec
    values: Values | None = None

    @property
    def columns(self) -> list[str]:
        return [self.spec.name]


@dataclass
class FkGroup:
    fk: ForeignKeyConstraint
    columns: list[str]
    parent: Table
    parent_columns: list[str]
    nullable: bool
    self_ref: bool
    null_only: bool = False  # the FK closes a cycle: filled with NULL
    keys: list[tuple[str, ...]] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)  # cumulative, skewed
    null_share: float = 0.1  # nullable keys: NULL this often
    pick: Callable[[int], list[tuple[str, ...] | None]] | None = None  # --like: source's fan-out

    @property
    def name(self) -> str:
        if isinstance(self.fk.name, str) and self.fk.name:  # not SQLAlchemy's "no name" sentinel
            return self.fk.name
        return f"{'_'.join(self.columns)}_fkey"


@dataclass
class PairGroup:
    """Columns ordered by CHECKs or by their names, generated together (topological order)."""

    specs: list[ColumnSpec]  # in order: each after those it must follow
    after: dict[str, list[tuple[str, bool]]]  # column -> (earlier column, strict)
    anchor: str | None = None  # a partition key: its values come from the partition group

    @property
    def columns(self) -> list[str]:
        return [s.name for s in self.specs if s.name != self.anchor]


@dataclass
class PartitionGroup:
    key_columns: list[str]
    values: PartitionValues | None = None

    @property
    def columns(self) -> list[str]:
        return self.key_columns


Group = ValueGroup | FkGroup | PairGroup | PartitionGroup


def pair_values(
    g: PairGroup, rng: random.Random, n: int, cols: Mapping[str, list[str]], ctx: MakerContext
) -> dict[str, list[str]]:
    """The first column drawn in its window (or taken from the partition key), each later
    one after all those it must follow."""
    raws: dict[str, Sequence[float]] = {}
    first = g.specs[0]
    if g.anchor is not None:
        parsed = [parse_raw(first, v) for v in cols[g.anchor]]
        raws[first.name] = [0.0 if v is None else float(v) for v in parsed]
    else:
        lo, hi = raw_bounds(first, ctx)
        span = max(hi - lo, raw_unit(first))
        anchor_hi = lo + span * 0.75 if first.kind in TIME_KINDS else hi
        raws[first.name] = draw_raw(first, rng, lo, anchor_hi, n)
    for spec in g.specs[1:]:
        unit = raw_unit(spec)
        s_lo, s_hi = raw_bounds(spec, ctx)
        out: list[float] = []
        for row in range(n):
            floor = (
                max(raws[e][row] + (unit if strict else 0) for e, strict in g.after[spec.name])
                if g.after[spec.name]
                else s_lo
            )
            room = max(s_hi - floor, 0)
            step = min(room, 30 * DAY_MS if spec.kind in TIME_KINDS else room)
            value = floor + rng.random() * step
            if spec.kind == "date":
                value = -(-value // DAY_MS) * DAY_MS
            elif spec.kind != "float":
                value = -(-value // 1)
            out.append(value)
        raws[spec.name] = out
    result: dict[str, list[str]] = {}
    rand = rng.random
    for spec in g.specs:
        if spec.name == g.anchor:
            continue
        texts = format_raw(spec, ctx, raws[spec.name])
        if spec.nullable and spec is not first:
            texts = [NULL if rand() < 0.1 else t for t in texts]
        result[spec.name] = texts
    return result


def fill_fk(g: FkGroup, rng: random.Random, n: int, cols: dict[str, list[str]]) -> None:
    if g.null_only or not g.keys:
        for name in g.columns:
            cols[name] = [NULL] * n
        return
    if g.pick is not None:  # --like
        chosen = g.pick(n)
    else:
        rand = rng.random
        drawn = rng.choices(g.keys, cum_weights=g.weights, k=n)
        chosen = [None if g.nullable and rand() < g.null_share else key for key in drawn]
    for k, name in enumerate(g.columns):
        cols[name] = [NULL if key is None else key[k] for key in chosen]


def fill_self(
    g: FkGroup,
    rng: random.Random,
    start: int,
    n: int,
    keys: list[tuple[str, ...]],
    cols: dict[str, list[str]],
) -> None:
    if g.null_only:
        for name in g.columns:
            cols[name] = [NULL] * n
        return
    rr, rand = rng.randrange, rng.random
    chosen: list[tuple[str, ...] | None] = []
    for row in range(start, start + n):
        if g.nullable and (row == 0 or rand() < 0.2):
            chosen.append(None)  # a root
        elif g.nullable:
            chosen.append(keys[rr(row)])  # an earlier row
        else:
            chosen.append(keys[rr(row + 1)])  # an earlier row, or itself
    for k, name in enumerate(g.columns):
        cols[name] = [NULL if key is None else key[k] for key in chosen]


def skewed(rng: random.Random, n: int) -> list[float]:
    """Cumulative power-law weights over ``n`` parents in a seeded random rank order."""
    if n == 0:
        return [0.0]
    # a seeded permutation of the ranks without a shuffle (a million parents take a moment):
    # rank(i) = (i * step + offset) mod n with step coprime to n
    step = rng.randrange(1, n) if n > 1 else 1
    while math.gcd(step, n) != 1:
        step += 1
    offset = rng.randrange(n)
    weights = [1.0 / ((i * step + offset) % n + 1) ** ZIPF_S for i in range(n)]
    return list(itertools.accumulate(weights))


def component(start: str, pairs: list[OrderedPair]) -> set[str]:
    found, todo = {start}, [start]
    while todo:
        column = todo.pop()
        for p in pairs:
            for a, b in ((p.low, p.high), (p.high, p.low)):
                if a == column and b not in found:
                    found.add(b)
                    todo.append(b)
    return found


def topological(
    component: set[str], edges: Mapping[str, list[tuple[str, bool]]]
) -> list[str] | None:
    order: list[str] = []
    remaining = sorted(component)
    while remaining:
        ready = [c for c in remaining if all(e in order for e, _ in edges.get(c, []))]
        if not ready:
            return None
        order.append(ready[0])
        remaining.remove(ready[0])
    return order
