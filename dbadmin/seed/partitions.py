"""Rows for a partitioned table go through the parent, spread over its partitions.

Each leaf partition (any depth: range, list, hash, default) becomes a set of per-column rules
(a range of the key, a list of values, "none of the siblings' values" for a DEFAULT partition)
and a weight: a range partition weighs its width, a list partition its number of values, hash
partitions weigh the same, a default partition the average of its siblings. Each row picks a
leaf by weight and takes its key values from that leaf's rules.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from dbadmin.seed.catalog import Catalog
from dbadmin.seed.columns import ColumnSpec
from dbadmin.seed.copy import NULL, escape
from dbadmin.seed.values import (
    MakerContext,
    Unfillable,
    draw_raw,
    format_raw,
    parse_raw,
    raw_bounds,
    raw_unit,
)
from dbadmin.sqltext import split_top_level

ORDERED = {"int", "numeric", "money", "float", "date", "timestamp", "timestamptz"}
_RANGE = re.compile(r"^FOR VALUES FROM \((.*)\) TO \((.*)\)$", re.S)
_LIST = re.compile(r"^FOR VALUES IN \((.*)\)$", re.S)
_HASH = re.compile(r"^FOR VALUES WITH \(", re.S)


@dataclass
class Rule:
    kind: str  # "range", "list", "not-list", "not-range", "any"
    lo: float | None = None
    hi: float | None = None  # exclusive
    lo_strict: bool = False
    values: list[str | None] = field(default_factory=list)
    ranges: list[tuple[float | None, float | None]] = field(default_factory=list)


@dataclass
class Leaf:
    name: str
    weight: float
    rules: dict[str, Rule]


def _literal(raw: str) -> str | None:
    raw = raw.strip()
    if raw.upper() == "NULL":
        return None
    if raw.startswith("'"):
        return raw[1:-1].replace("''", "'")
    return raw


def _items(text: str) -> list[str | None]:
    return [_literal(v) for v in split_top_level(text, ",")]


def leaves(
    catalog: Catalog, table: str, specs: Mapping[str, ColumnSpec], ctx: MakerContext
) -> list[Leaf]:
    """Every leaf partition under ``table`` with its rules and its share of the rows."""
    info = catalog.partitions.get(table)
    if info is None:
        return []
    if any(k is None for k in info.key):
        raise Unfillable(f"partitioned by an expression ({table}); not supported")
    key = [k for k in info.key if k is not None]
    for k in key:
        if k not in specs:
            raise Unfillable(f"partition key column {k} of {table} is not generated")
    own: list[tuple[str, float, dict[str, Rule]]] = []
    defaults: list[str] = []
    ranges: list[tuple[float | None, float | None]] = []
    listed: list[str | None] = []
    first = specs[key[0]]
    for child, bound in info.bounds:
        if bound.strip().upper() == "DEFAULT":
            defaults.append(child)
            continue
        if info.strategy == "h" or _HASH.match(bound):
            own.append((child, 1.0, {}))
        elif match := _LIST.match(bound):
            values = _items(match.group(1))
            listed += values
            own.append((child, float(len(values)), {key[0]: Rule("list", values=values)}))
        elif match := _RANGE.match(bound):
            lo_text, hi_text = _items(match.group(1))[0], _items(match.group(2))[0]
            if first.kind not in ORDERED:
                value = lo_text if lo_text is not None and lo_text.upper() != "MINVALUE" else "a"
                own.append((child, 1.0, {key[0]: Rule("list", values=[value])}))
                continue
            lo = parse_raw(first, lo_text) if lo_text is not None else None
            hi = parse_raw(first, hi_text) if hi_text is not None else None
            ranges.append((lo, hi))
            width = (hi - lo) if lo is not None and hi is not None else -1.0
            own.append((child, width, {key[0]: Rule("range", lo, hi, lo_strict=len(key) > 1)}))
        else:
            raise Unfillable(f"partition bound of {child} not understood: {bound}")
    finite = [w for _, w, _ in own if w > 0]
    average = sum(finite) / len(finite) if finite else 1.0
    shares = [(c, w if w > 0 else average, r) for c, w, r in own]
    for child in defaults:
        if info.strategy == "l":
            rule = Rule("not-list", values=listed)
        elif info.strategy == "r":
            rule = Rule("not-range", ranges=ranges)
        else:
            rule = Rule("any")
        shares.append((child, average, {key[0]: rule}))
    total = sum(w for _, w, _ in shares) or 1.0
    found: list[Leaf] = []
    for child, weight, rules in shares:
        below = leaves(catalog, child, specs, ctx)
        if not below:
            found.append(Leaf(child, weight / total, rules))
            continue
        for leaf in below:
            clash = set(leaf.rules) & set(rules)
            if clash:
                raise Unfillable(f"{child} is sub-partitioned by its own key {sorted(clash)}")
            found.append(Leaf(leaf.name, weight / total * leaf.weight, {**rules, **leaf.rules}))
    return found


class PartitionValues:
    """Key columns of a partitioned table: each row's leaf is drawn by weight."""

    def __init__(
        self,
        leaves: list[Leaf],
        specs: Mapping[str, ColumnSpec],
        rng: random.Random,
        ctx: MakerContext,
    ) -> None:
        self.leaves = leaves
        self.specs = specs
        self.rng = rng
        self.ctx = ctx
        self.columns = sorted({c for leaf in leaves for c in leaf.rules})
        self.weights = [leaf.weight for leaf in leaves]
        self.makers: dict[tuple[int, str], Callable[[int], list[str]]] = {}
        for index, leaf in enumerate(leaves):
            for column, rule in leaf.rules.items():
                self.makers[(index, column)] = self._maker(specs[column], rule)
        for column in self.columns:
            for index, leaf in enumerate(leaves):
                if column not in leaf.rules:
                    self.makers[(index, column)] = self._maker(specs[column], Rule("any"))

    def _maker(self, spec: ColumnSpec, rule: Rule) -> Callable[[int], list[str]]:
        rng, ctx = self.rng, self.ctx
        if rule.kind == "list":
            texts = [NULL if v is None else escape(v) for v in rule.values]
            return lambda n: rng.choices(texts, k=n)
        if rule.kind == "not-list":
            return self._outside_list(spec, rule)
        if spec.kind not in ORDERED:
            if spec.domain:
                domain = [escape(v) for v in spec.domain]
                return lambda n: rng.choices(domain, k=n)
            return lambda n: [f"p{rng.randrange(1_000_000)}" for _ in range(n)]
        lo, hi = raw_bounds(spec, ctx)
        unit = raw_unit(spec)
        if rule.kind == "range":
            span = hi - lo
            r_lo = rule.lo if rule.lo is not None else (rule.hi or hi) - span
            r_hi = rule.hi if rule.hi is not None else r_lo + span
            r_lo += unit if rule.lo_strict else 0
            lo, hi = r_lo, r_hi - unit
        elif rule.kind == "not-range":
            tops = [h for _, h in rule.ranges]
            bottoms = [lo_ for lo_, _ in rule.ranges]
            if tops and all(t is not None for t in tops):
                top = max(t for t in tops if t is not None)
                lo, hi = top, top + max(hi - lo, unit * 10)
            elif bottoms and all(b is not None for b in bottoms):
                bottom = min(b for b in bottoms if b is not None)
                lo, hi = bottom - max(hi - lo, unit * 10), bottom - unit
            else:
                raise Unfillable(f"no room for the DEFAULT partition's values of {spec.name}")
        if hi < lo:
            raise Unfillable(f"partition bounds of {spec.name} leave no value")
        return lambda n: format_raw(spec, ctx, draw_raw(spec, rng, lo, hi, n))

    def _outside_list(self, spec: ColumnSpec, rule: Rule) -> Callable[[int], list[str]]:
        rng = self.rng
        taken = {v for v in rule.values if v is not None}
        if spec.domain is not None:
            free = [escape(v) for v in spec.domain if v not in taken]
            if not free:
                raise Unfillable(f"every value of {spec.name} is listed by a partition")
            return lambda n: rng.choices(free, k=n)
        if spec.kind in ORDERED:
            numbers = [parse_raw(spec, v) for v in taken]
            top = max((v for v in numbers if v is not None), default=0)
            return lambda n: format_raw(
                spec, self.ctx, [top + (1 + rng.randrange(100)) * raw_unit(spec) for _ in range(n)]
            )
        pool = [w for w in (f"other-{k}" for k in range(50)) if w not in taken]
        return lambda n: rng.choices(pool, k=n)

    def batch(self, n: int) -> dict[str, list[str]]:
        picks = self.rng.choices(range(len(self.leaves)), weights=self.weights, k=n)
        out: dict[str, list[str]] = {c: [""] * n for c in self.columns}
        by_leaf: dict[int, list[int]] = {}
        for row, leaf in enumerate(picks):
            by_leaf.setdefault(leaf, []).append(row)
        for leaf, rows in by_leaf.items():
            for column in self.columns:
                values = self.makers[(leaf, column)](len(rows))
                target = out[column]
                for row, value in zip(rows, values, strict=True):
                    target[row] = value
        return out
