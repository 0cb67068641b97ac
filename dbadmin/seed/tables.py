"""Valid rows for any table, worked out from its catalog types and constraints.

A table is split into *groups*: a plain column, the columns of one foreign key, the key
columns of a partitioned table, or the columns of an ordered pair (``ends_at > starts_at``,
``rental_date``/``return_date``). Values are generated column-wise (one list of ready COPY
fields per column per batch), each group drawing from its own random stream, so the data does
not depend on the batch size.

Constraints honoured: NOT NULL (columns and domains); PRIMARY KEY/UNIQUE (one column of the key
is numbered from the row number, or, when every column of the key has a finite domain such as
foreign keys, enums or booleans, distinct combinations are sampled without replacement); CHECKs
(:mod:`dbadmin.seed.checks`); exclusion constraints (``=`` as a unique key, ``&&`` on ranges and
shapes: disjoint values); foreign keys (values drawn from the parent's keys with a skewed
fan-out; self-references point at earlier rows); partition bounds. Whatever cannot be honoured
makes the table *unfillable*, reported with the reason, never silently capped or half-loaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from dbadmin.seed import names
from dbadmin.seed.catalog import Catalog, TableInfo
from dbadmin.seed.checks import CheckNotUnderstood, ColumnCheck, OrderedPair, parse_check
from dbadmin.seed.columns import TIME_KINDS, ColumnSpec, capacity, classify
from dbadmin.seed.copy import NULL, columns_to_text, escape
from dbadmin.seed.groups import (
    FkGroup,
    Group,
    PairGroup,
    PartitionGroup,
    ValueGroup,
    component,
    fill_fk,
    fill_self,
    pair_values,
    skewed,
    topological,
)
from dbadmin.seed.like import ColumnStats, fk_picker, stats_values
from dbadmin.seed.partitions import Leaf, PartitionValues, leaves
from dbadmin.seed.rng import stream
from dbadmin.seed.text import TimeFormatter
from dbadmin.seed.values import (
    MakerContext,
    Unfillable,
    make_values,
)

if TYPE_CHECKING:
    from sqlalchemy import Table

PAIR_KINDS = {"int", "numeric", "money", "float"} | TIME_KINDS
_EXCLUDE_ITEM = re.compile(r'("(?:[^"]|"")+"|[\w$]+)\s+WITH\s+(\S+?)\s*(?:,|\))')


class KeyReader(Protocol):
    """What a table generator needs from the database before it starts."""

    def keys(self, table: Table, columns: Sequence[str]) -> list[tuple[str, ...]]: ...

    def max_int(self, table: Table, column: str) -> int | None: ...

    def count(self, table: Table) -> int: ...


class GenericTable:
    """A plan for one table; ``prepare`` reads parent keys, ``batches`` yields COPY text."""

    def __init__(
        self,
        table: Table,
        rows: int,
        *,
        seed: int,
        now_ms: int,
        info: TableInfo,
        catalog: Catalog | None = None,
        null_fks: frozenset[str] = frozenset(),
        times: TimeFormatter | None = None,
        stats: Mapping[str, ColumnStats] | None = None,
        no_values: bool = False,
        dependencies: Sequence[tuple[tuple[str, ...], str]] = (),
    ) -> None:
        self.table = table
        self.name = table.name
        self.info = info
        self.catalog = catalog
        self.requested = rows
        self.rows = rows
        self.seed = seed
        self.now_ms = now_ms
        self.times = times or TimeFormatter()
        self.notes: list[str] = []
        self.stats = stats or {}
        self.no_values = no_values
        self.groups: list[Group] = []
        self.combo: list[Group] = []
        self.unique_sets: list[tuple[list[str], Group | None]] = []
        self.columns: list[str] = []
        self._extra_unique: list[list[str]] = []  # exclusion constraints over = only
        self._leaves: list[Leaf] = []
        self._analyse(null_fks)
        self._dependencies = self._usable(dependencies)

    def ctx(self, offset: int = 0) -> MakerContext:
        return MakerContext(now_ms=self.now_ms, times=self.times, offset=offset, table=self.name)

    # -- analysis (no database) --
    def _analyse(self, null_fks: frozenset[str]) -> None:
        from sqlalchemy import ForeignKeyConstraint

        table, info = self.table, self.info
        names_ = set(info.columns)
        checks: dict[str, ColumnCheck] = {}
        pairs: list[OrderedPair] = []
        for constraint in info.checks:
            try:
                parse_check(constraint.definition, names_, checks, pairs)
            except CheckNotUnderstood as exc:
                raise Unfillable(
                    f"CHECK constraint {constraint.name} has an unsupported form: {exc}"
                ) from None
        in_fk: dict[str, FkGroup] = {}
        fks = [c for c in table.constraints if isinstance(c, ForeignKeyConstraint)]
        for fk in sorted(fks, key=lambda c: (c.name or "", [e.parent.name for e in c.elements])):
            columns = [e.parent.name for e in fk.elements]
            group = FkGroup(
                fk=fk,
                columns=columns,
                parent=fk.referred_table,
                parent_columns=[e.column.name for e in fk.elements],
                nullable=all(not info.columns[c].not_null for c in columns),
                self_ref=fk.referred_table is table,
            )
            if group.name in null_fks:
                if not group.nullable:
                    raise Unfillable(f"foreign key {group.name} closes a NOT NULL cycle")
                group.null_only = True
            if any(c in in_fk for c in columns):
                raise Unfillable(f"a column of {group.name} belongs to several foreign keys")
            for name in columns:
                in_fk[name] = group
            self.groups.append(group)
        specs: dict[str, ColumnSpec] = {}
        for column in info.columns.values():
            if column.generated or column.name in in_fk:
                continue
            spec = classify(column, checks.get(column.name))
            if not isinstance(spec, str) and spec.kind == "xml" and not self._xml_ok():
                spec = "the server cannot take xml values (built without libxml)"
            if isinstance(spec, str):
                if not column.not_null or column.has_default:
                    self.notes.append(f"{column.name} left to its default ({spec})")
                    continue
                raise Unfillable(f"column {column.name}: {spec}")
            specs[column.name] = spec
        self._specs = specs
        self._exclusions(specs)
        taken = self._partition_group(specs)
        taken |= self._pair_groups(specs, pairs, in_fk, taken)
        for name, spec in specs.items():
            if name not in taken:
                self.groups.append(ValueGroup(spec))
        by_column: dict[str, Group] = {}
        for g in self.groups:
            for name in g.columns:
                by_column[name] = g
        self.columns = [c.name for c in table.columns if c.name in by_column]
        for g in self.groups:
            if isinstance(g, FkGroup) and g.self_ref and set(g.columns) & set(g.parent_columns):
                raise Unfillable(f"foreign key {g.name} references its own columns")
        self._unique_sets(by_column)

    def _usable(
        self, dependencies: Sequence[tuple[tuple[str, ...], str]]
    ) -> list[tuple[tuple[str, ...], str, dict[tuple[str, ...], str]]]:
        """--like: functional dependencies whose dependent column is a plain generated one
        (not a key): it becomes a function of the determining columns."""
        plain = {
            g.spec.name
            for g in self.groups
            if isinstance(g, ValueGroup) and not g.spec.unique and g not in self.combo
        }
        return [
            (deps, target, {})
            for deps, target in dependencies
            if target in plain and all(d in self.columns and d != target for d in deps)
        ]

    def _xml_ok(self) -> bool:
        return self.catalog is None or self.catalog.xml

    def _exclusions(self, specs: dict[str, ColumnSpec]) -> None:
        for constraint in self.info.constraints:
            if constraint.kind != "x":
                continue
            items = [
                (name.strip('"').replace('""', '"'), op)
                for name, op in _EXCLUDE_ITEM.findall(constraint.definition)
            ]
            if not items or any(op not in ("=", "&&") for _, op in items):
                raise Unfillable(
                    f"exclusion constraint {constraint.name} uses operators other than = and &&"
                )
            overlaps = [name for name, op in items if op == "&&"]
            if not overlaps:
                self._extra_unique.append([name for name, _ in items])
                continue
            for name in overlaps:
                spec = specs.get(name)
                if spec is None or spec.kind not in (
                    "range", "multirange", "box", "circle", "polygon", "path", "lseg", "point"
                ):  # fmt: skip
                    raise Unfillable(
                        f"exclusion constraint {constraint.name}: cannot keep {name} disjoint"
                    )
                spec.disjoint = True

    def _partition_group(self, specs: dict[str, ColumnSpec]) -> set[str]:
        if self.catalog is None or self.name not in self.catalog.partitions:
            return set()
        found = leaves(self.catalog, self.name, specs, self.ctx())
        if not found:
            raise Unfillable("a partitioned table without partitions cannot hold rows")
        columns = sorted({c for leaf in found for c in leaf.rules})
        group = PartitionGroup(columns)
        self._leaves = found
        self.groups.append(group)
        return set(columns)

    def _pair_groups(
        self,
        specs: dict[str, ColumnSpec],
        pairs: list[OrderedPair],
        in_fk: Mapping[str, FkGroup],
        taken: set[str],
    ) -> set[str]:
        declared = {frozenset((p.low, p.high)) for p in pairs}
        for low, high in names.name_pairs(list(specs)):
            a, b = specs[low], specs[high]
            if (
                frozenset((low, high)) not in declared
                and a.kind in PAIR_KINDS
                and b.kind in PAIR_KINDS
                and a.domain is None
                and b.domain is None
                and (a.kind in TIME_KINDS) == (b.kind in TIME_KINDS)
            ):
                pairs.append(OrderedPair(low, high, strict=False))
        edges: dict[str, list[tuple[str, bool]]] = {}
        for pair in pairs:
            for column in (pair.low, pair.high):
                if column in in_fk or column not in specs:
                    raise Unfillable(
                        f"ordered columns {pair.low} < {pair.high}: {column} is a key column"
                    )
                if specs[column].kind not in PAIR_KINDS or specs[column].domain is not None:
                    raise Unfillable(f"cannot order {pair.low} before {pair.high}")
            if (pair.low, pair.strict) not in edges.setdefault(pair.high, []):
                edges[pair.high].append((pair.low, pair.strict))
        members = {c for p in pairs for c in (p.low, p.high)}
        done: set[str] = set()
        for start in sorted(members):
            if start in done:
                continue
            component_cols = component(start, pairs)
            order = topological(component_cols, edges)
            if order is None:
                raise Unfillable(
                    f"CHECK constraints order {', '.join(sorted(component_cols))} in a cycle"
                )
            anchors = [c for c in order if c in taken]
            if anchors and (len(anchors) > 1 or anchors[0] != order[0]):
                raise Unfillable(
                    f"ordered columns {', '.join(order)}: only the first may be a partition key"
                )
            group = PairGroup(
                [specs[c] for c in order],
                {c: edges.get(c, []) for c in order},
                anchors[0] if anchors else None,
            )
            self.groups.append(group)
            done |= component_cols - set(anchors)
        return done

    def _unique_sets(self, by_column: dict[str, Group]) -> None:
        from sqlalchemy import UniqueConstraint

        sets: list[list[str]] = []
        if self.table.primary_key.columns:
            sets.append([c.name for c in self.table.primary_key.columns])
        for constraint in self.table.constraints:
            if isinstance(constraint, UniqueConstraint):
                sets.append([c.name for c in constraint.columns])
        for index in self.table.indexes:
            if index.unique and len(index.expressions) == len(index.columns) > 0:
                sets.append([c.name for c in index.columns])
        for column in self.table.columns:
            if column.unique:
                sets.append([column.name])
        sets += self._extra_unique
        for group in self.groups:
            if isinstance(group, FkGroup) and group.self_ref:
                sets.append(list(group.parent_columns))
        for key in sets:
            missing = [n for n in key if n not in by_column]
            if missing:
                raise Unfillable(f"unique key ({', '.join(key)}) includes unfilled {missing}")
            groups = [by_column[name] for name in key]
            free = [
                g
                for g in groups
                if isinstance(g, ValueGroup)
                and g.spec.domain is None
                and not (g.spec.kind == "array" and g.spec.item and g.spec.item.kind != "int")
            ]
            if free:
                prefer = [g for g in free if g.spec.unique] or [
                    g for g in free if g.spec.kind == "int"
                ]
                chosen = (prefer or free)[0]
                chosen.spec.unique = True
                self.unique_sets.append((key, chosen))
                continue
            # distinct combinations of the finite members (foreign keys, enums...) make the
            # whole key distinct, whatever its ordered or partition-key members hold
            finite: list[Group] = []
            for g in groups:
                if g not in finite and not isinstance(g, PairGroup | PartitionGroup):
                    finite.append(g)
            if not finite:
                raise Unfillable(
                    f"unique key ({', '.join(key)}) has no column that can be numbered"
                )
            for g in finite:
                if isinstance(g, FkGroup) and (g.self_ref or g.null_only):
                    raise Unfillable(f"unique key ({', '.join(key)}) includes foreign key {g.name}")
            if self.combo and set(map(id, self.combo)) != set(map(id, finite)):
                if set(map(id, finite)) <= set(map(id, self.combo)):
                    raise Unfillable(
                        f"overlapping unique keys over finite domains ({', '.join(key)})"
                    )
                raise Unfillable(f"several unique keys over finite domains ({', '.join(key)})")
            self.combo = finite
            self.unique_sets.append((key, None))

    # -- limits: "never a silent cap" --
    def limit(self, parent_rows: Mapping[str, int], existing: int = 0) -> tuple[int, str] | None:
        """The most rows this table can take (and why), from types, CHECKs and, for unique keys
        made of foreign keys, the parents' row counts; None when there is no such limit."""
        best: tuple[int, str] | None = None
        for key, chosen in self.unique_sets:
            if isinstance(chosen, ValueGroup):
                room = capacity(chosen.spec, existing)
                why = f"unique column {chosen.spec.name} ({_type_text(chosen.spec)}) has room for"
            else:
                room = 1
                for g in self.combo:
                    size = (
                        parent_rows.get(g.parent.fullname, 0)
                        if isinstance(g, FkGroup)
                        else len(self._domain(g))
                    )
                    room *= size
                room = max(0, room - existing)
                why = f"unique key ({', '.join(key)}) has room for"
            if room is not None and (best is None or room < best[0]):
                best = (room, f"{why} {room:,} more rows")
        return best

    # -- database-dependent preparation --
    def prepare(self, reader: KeyReader) -> int:
        existing = reader.count(self.table)
        for group in self.groups:
            if isinstance(group, FkGroup) and not group.self_ref and not group.null_only:
                group.keys = reader.keys(group.parent, group.parent_columns)
                if not group.keys and not group.nullable:
                    raise Unfillable(
                        f"parent table {group.parent.name} has no rows for foreign key {group.name}"
                    )
                rng = stream(self.seed, self.table.fullname, group.name, "fan-out")
                source = self.stats.get(group.columns[0]) if len(group.columns) == 1 else None
                if source is not None and group.keys:
                    group.pick = fk_picker(source, group.keys, self.requested, rng, group.nullable)
                else:
                    group.weights = skewed(rng, len(group.keys))
        rows = self.requested
        for group in self.groups:
            if isinstance(group, ValueGroup):
                spec = group.spec
                ctx = self.ctx(existing)
                if spec.unique and spec.kind == "int":
                    ctx.int_after = reader.max_int(self.table, spec.name)
                if spec.unique:
                    room = capacity(spec, existing, ctx.int_after)
                    if room is not None and room < rows:
                        raise Unfillable(
                            f"unique column {spec.name} has room for {room:,} more values, "
                            f"{rows:,} asked"
                        )
                rng = stream(self.seed, self.table.fullname, spec.name, existing)
                source = self.stats.get(spec.name)
                if source is not None and not spec.unique:
                    group.values = stats_values(spec, source, rng, ctx, rows, self.no_values)
                else:
                    group.values = make_values(spec, rng, ctx)
            elif isinstance(group, PartitionGroup):
                specs = {c: self._specs[c] for c in group.key_columns}
                rng = stream(self.seed, self.table.fullname, "(partitions)", existing)
                group.values = PartitionValues(self._leaves, specs, rng, self.ctx(existing))
        self._existing_combos: set[tuple[str, ...]] = set()
        if self.combo:
            total = 1
            for g in self.combo:
                total *= len(self._domain(g))
            if existing:
                cols = [c for g in self.combo for c in g.columns]
                self._existing_combos = set(reader.keys(self.table, cols))
            room = max(0, total - len(self._existing_combos))
            if room < rows:
                raise Unfillable(
                    f"only {room:,} distinct combinations left for the unique key, {rows:,} asked"
                )
            self._combo_total = total
        self.rows = rows
        self._existing = existing
        return rows

    def _domain(self, group: Group) -> Sequence[object]:
        if isinstance(group, FkGroup):
            return group.keys
        assert isinstance(group, ValueGroup) and group.spec.domain is not None
        return group.spec.domain

    def _combo_codes(self) -> Iterator[int]:
        rng = stream(self.seed, self.table.fullname, "(unique combinations)", self._existing)
        want = self.rows + len(self._existing_combos)
        codes = rng.sample(range(self._combo_total), min(self._combo_total, want))
        produced = 0
        for code in codes:
            if self._existing_combos and self._decode_key(code) in self._existing_combos:
                continue
            yield code
            produced += 1
            if produced == self.rows:
                return

    def _decode(self, code: int) -> list[int]:
        out = []
        for g in self.combo:
            code, index = divmod(code, len(self._domain(g)))
            out.append(index)
        return out

    def _decode_key(self, code: int) -> tuple[str, ...]:
        values: list[str] = []
        for g, index in zip(self.combo, self._decode(code), strict=True):
            item = self._domain(g)[index]
            values.extend(item if isinstance(item, tuple) else (escape(str(item)),))
        return tuple(values)

    def batches(self, batch_size: int) -> Iterator[tuple[int, str]]:
        codes = self._combo_codes() if self.combo else None
        rngs = {
            id(g): stream(self.seed, self.table.fullname, "/".join(g.columns), self._existing)
            for g in self.groups
            if isinstance(g, FkGroup | PairGroup)
        }
        self_keys: list[tuple[str, ...]] = []
        selfs = [g for g in self.groups if isinstance(g, FkGroup) and g.self_ref]
        combo_ids = {id(g) for g in self.combo}
        for start in range(0, self.rows, batch_size):
            n = min(batch_size, self.rows - start)
            cols: dict[str, list[str]] = {}
            if codes is not None:
                picks = [self._decode(next(codes)) for _ in range(n)]
                for position, g in enumerate(self.combo):
                    if isinstance(g, FkGroup):
                        parent_keys = [g.keys[p[position]] for p in picks]
                        for k, name in enumerate(g.columns):
                            cols[name] = [key[k] for key in parent_keys]
                    else:
                        domain = self._domain(g)
                        cols[g.columns[0]] = [escape(str(domain[p[position]])) for p in picks]
            for g in self.groups:
                if id(g) in combo_ids:
                    continue
                if isinstance(g, ValueGroup):
                    assert g.values is not None
                    cols[g.spec.name] = g.values(start, n)
                elif isinstance(g, PartitionGroup):
                    assert g.values is not None
                    cols.update(g.values.batch(n))
                elif isinstance(g, PairGroup):
                    cols.update(pair_values(g, rngs[id(g)], n, cols, self.ctx(self._existing)))
                elif not g.self_ref:
                    fill_fk(g, rngs[id(g)], n, cols)
            for g in selfs:
                if g is selfs[0]:
                    # keys of this batch's rows, appended first so row 0 may point at itself
                    self_keys.extend(zip(*[cols[c] for c in g.parent_columns], strict=True))
                fill_self(g, rngs[id(g)], start, n, self_keys, cols)
            for deps, target, chosen in self._dependencies:
                keys = zip(*[cols[d] for d in deps], strict=True)
                cols[target] = [
                    v if NULL in key else chosen.setdefault(key, v)
                    for key, v in zip(keys, cols[target], strict=True)
                ]
            yield n, columns_to_text([cols[c] for c in self.columns])


def _type_text(spec: ColumnSpec) -> str:
    if spec.kind == "int":
        return {16: "smallint", 32: "integer", 64: "bigint"}[spec.bits] + (
            " with a CHECK" if spec.check.lo is not None or spec.check.hi is not None else ""
        )
    if spec.domain is not None:
        return f"{len(spec.domain)} allowed values"
    return spec.kind
