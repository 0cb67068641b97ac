"""Valid rows for any schema, worked out from column types and constraints.

Input is a SQLAlchemy ``MetaData`` (the user's models, or reflected from the live database).
Each table is split into *groups*: a plain column, or the columns of one foreign key. Values are
generated column-wise (one list of ready COPY fields per column per batch), each column drawing
from its own random stream, so the data does not depend on the batch size.

Constraints honoured: NOT NULL; PRIMARY KEY/UNIQUE (one column of the key is made unique from the
row number, or, when every column of the key has a finite domain such as foreign keys, enums or
booleans, distinct combinations are sampled without replacement); simple CHECKs (see
:mod:`dbadmin.seed.checks`); foreign keys (values drawn from the parent's existing keys;
self-references point at earlier rows of the same table). Whatever cannot be honoured makes the
table *unfillable*, reported with the reason, never silently skipped or half-loaded.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from dbadmin.seed.checks import CheckNotUnderstood, ColumnCheck, parse_check
from dbadmin.seed.copy import NULL, columns_to_text, escape
from dbadmin.seed.rng import stream
from dbadmin.seed.text import (
    DAY_MS,
    FIRST_NAMES,
    LAST_NAMES,
    WORDS,
    TimeFormatter,
    phrase,
    uuid_text,
)

if TYPE_CHECKING:
    from sqlalchemy import Column, ForeignKeyConstraint, Table

Values = Callable[[int, int], list[str]]  # (first row number, count) -> COPY fields
NULL_SHARE = 0.1  # nullable, non-key columns are NULL this often

INT_RANGES = {16: (-32768, 32767), 32: (-(2**31), 2**31 - 1), 64: (-(2**63), 2**63 - 1)}


class KeyReader(Protocol):
    """What a table generator needs from the database before it starts."""

    def keys(self, table: Table, columns: Sequence[str]) -> list[tuple[str, ...]]:
        """The non-NULL values of ``columns`` in ``table``, as COPY text, in a stable order."""
        ...

    def max_int(self, table: Table, column: str) -> int | None: ...

    def count(self, table: Table) -> int: ...


class Unfillable(Exception):
    """This table cannot be filled validly; the message says why."""


@dataclass
class ColumnSpec:
    name: str
    kind: str
    nullable: bool
    length: int | None = None
    precision: int | None = None
    scale: int | None = None
    bits: int = 32
    domain: list[str] | None = None  # finite set of allowed values (enum, IN, boolean)
    check: ColumnCheck = field(default_factory=ColumnCheck)
    item: ColumnSpec | None = None  # arrays
    unique: bool = False


def classify(column: Column, check: ColumnCheck | None) -> ColumnSpec | str:
    """A ColumnSpec for a column, or the reason its type is not supported."""
    spec = _kind(column.type)
    if isinstance(spec, str):
        return spec
    spec.name = column.name
    spec.nullable = bool(column.nullable)
    if check is not None:
        spec.check = check
        if check.values is not None:
            allowed = [v for v in check.values if v not in check.excluded]
            if spec.domain is not None:
                allowed = [v for v in allowed if v in spec.domain]
            if not allowed:
                return f"CHECK constraints leave no allowed value for {column.name}"
            spec.domain = allowed
    if spec.domain is None and spec.kind == "bool":
        spec.domain = ["t", "f"]
    return spec


def _kind(t: object) -> ColumnSpec | str:
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql as pg

    def make(kind: str, **kw: object) -> ColumnSpec:
        return ColumnSpec(name="", kind=kind, nullable=True, **kw)  # type: ignore[arg-type]

    domain_type = getattr(pg, "DOMAIN", None)
    if domain_type is not None and isinstance(t, domain_type):
        return _kind(t.data_type)
    if isinstance(t, sa.Enum):
        values = list(t.enums)
        return make("enum", domain=values) if values else "an enum without values"
    if isinstance(t, sa.Boolean):
        return make("bool")
    if isinstance(t, sa.Integer):
        bits = 16 if isinstance(t, sa.SmallInteger) else 64 if isinstance(t, sa.BigInteger) else 32
        return make("int", bits=bits)
    if isinstance(t, sa.Float):
        return make("float")
    if isinstance(t, sa.Numeric):
        return make("numeric", precision=t.precision, scale=t.scale)
    if isinstance(t, pg.TSVECTOR):
        return make("tsvector")
    if isinstance(t, pg.INET):
        return make("inet")
    if isinstance(t, pg.CIDR):
        return make("cidr")
    if isinstance(t, pg.MACADDR):
        return make("macaddr")
    if isinstance(t, sa.Uuid):
        return make("uuid")
    if isinstance(t, sa.String):
        kind = "char" if isinstance(t, sa.CHAR) else "text"
        return make(kind, length=t.length)
    if isinstance(t, sa.DateTime):
        return make("timestamptz" if t.timezone else "timestamp")
    if isinstance(t, sa.Date):
        return make("date")
    if isinstance(t, sa.Time):
        return make("time")
    if isinstance(t, sa.Interval | pg.INTERVAL):
        return make("interval")
    if isinstance(t, sa.JSON):
        return make("json")
    if isinstance(t, sa.LargeBinary):
        return make("bytea")
    if isinstance(t, sa.ARRAY):
        item = _kind(t.item_type)
        if isinstance(item, str):
            return f"array of unsupported items ({item})"
        if item.kind in ("json", "bytea", "tsvector", "enum"):
            return f"array of {item.kind} is not supported"
        return make("array", item=item)
    if isinstance(t, sa.types.NullType):
        return "its type was not recognised when reflecting (e.g. point, xml, a custom type)"
    return f"type {t} is not supported by the generic generator"


# --- value makers ------------------------------------------------------------------------------
@dataclass
class MakerContext:
    now_ms: int
    times: TimeFormatter
    offset: int = 0  # existing rows (append): unique values continue after them
    int_base: int | None = None  # next free integer for a unique integer column


def _int_range(spec: ColumnSpec) -> tuple[int, int]:
    t_lo, t_hi = INT_RANGES[spec.bits]
    c = spec.check
    lo = None if c.lo is None else math.floor(c.lo) + 1 if c.lo_strict else math.ceil(c.lo)
    hi = None if c.hi is None else math.ceil(c.hi) - 1 if c.hi_strict else math.floor(c.hi)
    if lo is None and hi is None:
        lo, hi = 0, 1000
    elif lo is None:
        lo = max(t_lo, hi - 1000)  # type: ignore[operator]
    elif hi is None:
        hi = lo + 1000
    return max(lo, t_lo), min(hi, t_hi)  # type: ignore[type-var]


def _decimal_text(units: int, scale: int) -> str:
    if scale == 0:
        return str(units)
    sign = "-" if units < 0 else ""
    q, r = divmod(abs(units), 10**scale)
    return f"{sign}{q}.{r:0{scale}d}"


def row_capacity(spec: ColumnSpec, ctx: MakerContext) -> int | None:
    """How many distinct values a unique column can take from here (None: plenty)."""
    if spec.kind == "int":
        lo, hi = _int_range(spec)
        base = max(lo, ctx.int_base if ctx.int_base is not None else max(lo, 1))
        return max(0, hi - base + 1)
    if spec.kind in ("text", "char") and spec.length is not None:
        # unique text is "<word>-<n>": room for the number decides
        room = spec.length - 1
        return 0 if room < 1 else max(0, 10**room - 1 - ctx.offset)
    if spec.kind == "time":
        return max(0, 86_400 - ctx.offset)
    if spec.kind == "numeric" and spec.precision is not None:
        digits = spec.precision - (spec.scale or 0)
        return max(0, 10**digits - 1 - ctx.offset) if digits > 0 else 0
    return None


def make_values(spec: ColumnSpec, rng: random.Random, ctx: MakerContext) -> Values:
    """A function producing COPY fields for rows ``start .. start+n`` of this column."""
    if spec.domain is not None:
        domain = [escape(v) for v in spec.domain]
        return _nullable(spec, rng, lambda s, n: rng.choices(domain, k=n))
    kind, unique, check = spec.kind, spec.unique, spec.check
    off = ctx.offset
    if kind == "int":
        lo, hi = _int_range(spec)
        if unique:
            base = max(lo, ctx.int_base if ctx.int_base is not None else max(lo, 1))
            return lambda s, n: [str(base + i) for i in range(s, s + n)]
        ri = rng.randint
        return _nullable(spec, rng, lambda s, n: [str(ri(lo, hi)) for _ in range(n)])
    if kind == "numeric":
        scale = spec.scale if spec.scale is not None else 2
        top = 10 ** ((spec.precision or 12) - scale) - 10.0**-scale
        step = 10**scale
        lo_v = check.lo if check.lo is not None else (0.0 if check.hi is None else check.hi - 1000)
        hi_v = check.hi if check.hi is not None else lo_v + 1000
        lo_u = max(math.ceil(lo_v * step) + (1 if check.lo_strict else 0), -int(top * step))
        hi_u = min(math.floor(hi_v * step) - (1 if check.hi_strict else 0), int(top * step))
        if unique:
            start_u = max(lo_u, step)
            return lambda s, n: [
                _decimal_text(start_u + (off + i) * step, scale) for i in range(s, s + n)
            ]
        ri = rng.randint
        return _nullable(
            spec, rng, lambda s, n: [_decimal_text(ri(lo_u, hi_u), scale) for _ in range(n)]
        )
    if kind == "float":
        lo_f = check.lo if check.lo is not None else (0.0 if check.hi is None else check.hi - 1000)
        hi_f = check.hi if check.hi is not None else lo_f + 1000
        lo_f += 1e-4 if check.lo_strict else 0
        hi_f -= 1e-4 if check.hi_strict else 0
        if unique:
            return lambda s, n: [f"{lo_f + off + i + 0.5:.4f}" for i in range(s, s + n)]
        un = rng.uniform
        return _nullable(spec, rng, lambda s, n: [f"{un(lo_f, hi_f):.4f}" for _ in range(n)])
    if kind in ("text", "char"):
        return _text_values(spec, rng, ctx)
    if kind in ("timestamptz", "timestamp", "date", "time"):
        now = ctx.now_ms
        fmt = {
            "timestamptz": ctx.times.timestamptz,
            "timestamp": ctx.times.timestamp,
            "date": ctx.times.dates,
            "time": ctx.times.times,
        }[kind]
        if unique:
            unit = DAY_MS if kind == "date" else 1000
            return lambda s, n: fmt([now - (off + i) * unit for i in range(s, s + n)])
        rr = rng.randrange
        span = 365 * DAY_MS
        return _nullable(spec, rng, lambda s, n: fmt([now - rr(span) for _ in range(n)]))
    if kind == "interval":
        if unique:
            return lambda s, n: [f"{off + i + 1} seconds" for i in range(s, s + n)]
        rr = rng.randrange
        return _nullable(spec, rng, lambda s, n: [f"{rr(1, 86_400)} seconds" for _ in range(n)])
    if kind == "uuid":
        bits = rng.getrandbits
        return _nullable(spec, rng, lambda s, n: [uuid_text(bits(128)) for _ in range(n)])
    if kind == "json":
        rr, ch = rng.randrange, rng.choice
        return _nullable(
            spec,
            rng,
            lambda s, n: [
                f'{{"n": {off + i if unique else rr(1000)}, "tag": "{ch(WORDS)}"}}'
                for i in range(s, s + n)
            ],
        )
    if kind == "bytea":
        bits = rng.getrandbits
        return _nullable(
            spec,
            rng,
            lambda s, n: [
                f"\\\\x{off + i:08x}{bits(32):08x}" if unique else f"\\\\x{bits(64):016x}"
                for i in range(s, s + n)
            ],
        )
    if kind in ("inet", "cidr"):
        rr = rng.randrange
        suffix = ".0/24" if kind == "cidr" else ""

        def addresses(s: int, n: int) -> list[str]:
            out = []
            for i in range(s, s + n):
                v = (off + i) if unique else rr(1 << 24)
                if kind == "cidr":
                    out.append(f"10.{(v >> 8) & 255}.{v & 255}{suffix}")
                else:
                    out.append(f"10.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}")
            return out

        return _nullable(spec, rng, addresses)
    if kind == "macaddr":
        bits = rng.getrandbits

        def macs(s: int, n: int) -> list[str]:
            out = []
            for i in range(s, s + n):
                v = (off + i) if unique else bits(24)
                out.append(f"08:00:2b:{(v >> 16) & 255:02x}:{(v >> 8) & 255:02x}:{v & 255:02x}")
            return out

        return _nullable(spec, rng, macs)
    if kind == "tsvector":
        ch = rng.choices
        return _nullable(
            spec,
            rng,
            lambda s, n: [
                " ".join(ch(WORDS, k=4)) + (f" w{off + i}" if unique else "")
                for i in range(s, s + n)
            ],
        )
    if kind == "array":
        assert spec.item is not None
        item = ColumnSpec(**{**spec.item.__dict__, "nullable": False, "unique": False})
        item.name = spec.name
        items = make_values(item, rng, ctx)
        quote = item.kind in ("text", "char", "timestamptz", "timestamp", "date", "time")
        rr = rng.randrange

        def arrays(s: int, n: int) -> list[str]:
            sizes = [rr(4) for _ in range(n)]
            pool = items(0, sum(sizes) + n)
            if quote:
                pool = ['"' + v + '"' for v in pool]
            out, at = [], 0
            for i, k in enumerate(sizes):
                if unique:  # the first element makes the array unique
                    k += 1
                    pool[at] = str(off + s + i) if item.kind == "int" else pool[at]
                out.append("{" + ",".join(pool[at : at + k]) + "}")
                at += k
            return out

        if unique and item.kind != "int":
            raise Unfillable(f"unique array column {spec.name} of {item.kind} is not supported")
        return _nullable(spec, rng, arrays)
    raise Unfillable(f"column {spec.name}: no generator for {kind}")


def _text_values(spec: ColumnSpec, rng: random.Random, ctx: MakerContext) -> Values:
    """Phrases from a pool, with a few name-based shapes (email, name, url, slug).

    Unique values end in ``-<n>`` (n counts on from the existing rows), cut to fit the length.
    """
    length, min_len, off = spec.length, spec.check.min_length, ctx.offset
    name = spec.name.lower()
    if length is not None and min_len > length:
        raise Unfillable(
            f"{spec.name}: CHECK needs {min_len} characters but the type allows {length}"
        )
    ch = rng.choice

    def fit(text: str, suffix: str = "") -> str:
        while len(text) + len(suffix) < min_len:
            text += " " + text
        if length is not None and len(text) + len(suffix) > length:
            text = text[: max(0, length - len(suffix))]
            if len(text.rstrip()) + len(suffix) >= min_len:
                text = text.rstrip()
        return text + suffix

    shape: Callable[[int], str]
    if "email" in name:

        def shape(i: int) -> str:
            return f"{ch(FIRST_NAMES).lower()}.{ch(LAST_NAMES).lower()}{off + i}@example.com"

    elif name.endswith(("url", "uri")):

        def shape(i: int) -> str:
            return f"https://example.com/{ch(WORDS)}/{off + i}"

    elif "slug" in name:

        def shape(i: int) -> str:
            return f"{ch(WORDS)}-{ch(WORDS)}-{off + i}"

    else:
        words = (1, 4) if (length or 1000) <= 40 else (3, 14)
        if name in ("name", "full_name", "display_name", "username"):
            pool = [f"{ch(FIRST_NAMES)} {ch(LAST_NAMES)}" for _ in range(512)]
        else:
            pool = [phrase(rng, *words) for _ in range(512)]
        if not spec.unique:
            fitted = [escape(fit(p)) for p in pool]
            choices = rng.choices
            return _nullable(spec, rng, lambda s, n: choices(fitted, k=n))

        def shape(i: int) -> str:
            return fit(ch(pool), f"-{off + i}")

    def shaped(s: int, n: int) -> list[str]:
        out = [fit(shape(i)) if not spec.unique else shape(i) for i in range(s, s + n)]
        if length is not None and any(len(v) > length for v in out):
            raise Unfillable(f"{spec.name}: unique values do not fit varchar({length})")
        return [escape(v) for v in out]

    return shaped if spec.unique else _nullable(spec, rng, shaped)


def _nullable(spec: ColumnSpec, rng: random.Random, values: Values) -> Values:
    if not spec.nullable or spec.unique:
        return values
    nulls = random.Random(rng.getrandbits(64))
    rand = nulls.random

    def with_nulls(s: int, n: int) -> list[str]:
        out = values(s, n)
        return [NULL if rand() < NULL_SHARE else v for v in out]

    return with_nulls


# --- groups ------------------------------------------------------------------------------------
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

    @property
    def name(self) -> str:
        return self.fk.name or f"{'_'.join(self.columns)}_fkey"


Group = ValueGroup | FkGroup


class GenericTable:
    """A plan for one table; ``prepare`` reads parent keys, ``batches`` yields COPY text."""

    def __init__(
        self,
        table: Table,
        rows: int,
        *,
        seed: int,
        now_ms: int,
        null_fks: frozenset[str] = frozenset(),
        times: TimeFormatter | None = None,
    ) -> None:
        self.table = table
        self.name = table.name
        self.requested = rows
        self.rows = rows
        self.seed = seed
        self.now_ms = now_ms
        self.times = times or TimeFormatter()
        self.notes: list[str] = []
        self.groups: list[Group] = []
        self.combo: list[Group] = []
        self.columns: list[str] = []
        self._analyse(null_fks)

    # -- analysis (no database) --
    def _analyse(self, null_fks: frozenset[str]) -> None:
        table = self.table
        names = {c.name for c in table.columns}
        checks: dict[str, ColumnCheck] = {}
        from sqlalchemy import CheckConstraint, ForeignKeyConstraint

        for constraint in table.constraints:
            if isinstance(constraint, CheckConstraint):
                try:
                    parse_check(str(constraint.sqltext), names, checks)
                except CheckNotUnderstood as exc:
                    label = constraint.name or "unnamed"
                    raise Unfillable(
                        f"CHECK constraint {label} has an unsupported form: {exc}"
                    ) from None
        in_fk: dict[str, FkGroup] = {}
        fks = [c for c in table.constraints if isinstance(c, ForeignKeyConstraint)]
        for fk in sorted(fks, key=lambda c: (c.name or "", [e.parent.name for e in c.elements])):
            columns = [e.parent.name for e in fk.elements]
            parent = fk.referred_table
            group = FkGroup(
                fk=fk,
                columns=columns,
                parent=parent,
                parent_columns=[e.column.name for e in fk.elements],
                nullable=all(e.parent.nullable for e in fk.elements),
                self_ref=parent is table,
            )
            if group.name in null_fks:
                if not group.nullable:
                    raise Unfillable(f"foreign key {group.name} closes a NOT NULL cycle")
                group.null_only = True
            for column in columns:
                if column in in_fk:
                    raise Unfillable(f"column {column} belongs to several foreign keys")
                in_fk[column] = group
            self.groups.append(group)
        for column in table.columns:
            if column.computed is not None or column.name in in_fk:
                continue
            spec = classify(column, checks.get(column.name))
            if isinstance(spec, str):
                if column.nullable or column.server_default is not None:
                    self.notes.append(f"{column.name} left to its default ({spec})")
                    continue
                raise Unfillable(f"column {column.name}: {spec}")
            self.groups.append(ValueGroup(spec))
        by_column: dict[str, Group] = {}
        for group in self.groups:
            for name in group.columns:
                by_column[name] = group
        emitted = set(by_column)
        self.columns = [c.name for c in table.columns if c.name in emitted]
        for group in self.groups:
            if isinstance(group, FkGroup) and group.self_ref:
                overlap = set(group.columns) & set(group.parent_columns)
                if overlap:
                    raise Unfillable(f"foreign key {group.name} references its own columns")
        self._unique_sets(by_column)

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
        # referenced columns of self-references must be unique and filled
        for group in self.groups:
            if isinstance(group, FkGroup) and group.self_ref:
                sets.append(list(group.parent_columns))
        for key in sets:
            if any(name not in by_column for name in key):
                missing = [n for n in key if n not in by_column]
                raise Unfillable(f"unique key ({', '.join(key)}) includes unfilled {missing}")
            groups = [by_column[name] for name in key]
            free = [
                g
                for g in groups
                if isinstance(g, ValueGroup) and g.spec.domain is None and g.spec.kind != "bool"
            ]
            free = [g for g in free if not (g.spec.kind == "array" and g.spec.item.kind != "int")]  # type: ignore[union-attr]
            if free:
                prefer = [g for g in free if g.spec.unique] or [
                    g for g in free if g.spec.kind == "int"
                ]
                chosen = (prefer or free)[0]
                chosen.spec.unique = True
                continue
            finite: list[Group] = []
            for g in groups:
                if g not in finite:
                    finite.append(g)
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
        rows = self.requested
        ctxs: dict[str, MakerContext] = {}
        for group in self.groups:
            if isinstance(group, ValueGroup):
                spec = group.spec
                ctx = MakerContext(now_ms=self.now_ms, times=self.times, offset=existing)
                if spec.unique and spec.kind == "int":
                    top = reader.max_int(self.table, spec.name)
                    ctx.int_base = None if top is None else top + 1
                if spec.unique:
                    capacity = row_capacity(spec, ctx)
                    if capacity is not None and capacity < rows:
                        self.notes.append(
                            f"{spec.name} has room for {capacity} unique values; rows capped"
                        )
                        rows = capacity
                ctxs[spec.name] = ctx
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
                self.notes.append(f"only {room} distinct combinations for the unique key; capped")
                rows = room
            self._combo_total = total
        for group in self.groups:
            if isinstance(group, ValueGroup):
                rng = stream(self.seed, self.table.fullname, group.spec.name, existing)
                group.values = make_values(group.spec, rng, ctxs[group.spec.name])
        self.rows = rows
        self._existing = existing
        return rows

    def _domain(self, group: Group) -> Sequence[object]:
        if isinstance(group, FkGroup):
            return group.keys
        assert group.spec.domain is not None
        return group.spec.domain

    def _combo_codes(self) -> Iterator[int]:
        rng = stream(self.seed, self.table.fullname, "(unique combinations)", self._existing)
        want = self.rows + len(self._existing_combos)
        codes = rng.sample(range(self._combo_total), min(self._combo_total, want))
        if not self._existing_combos:
            yield from codes[: self.rows]
            return
        produced = 0
        for code in codes:
            if self._decode_key(code) in self._existing_combos:
                continue
            yield code
            produced += 1
            if produced == self.rows:
                return

    def _decode(self, code: int) -> list[int]:
        out = []
        for g in self.combo:
            size = len(self._domain(g))
            code, index = divmod(code, size)
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
        fk_rngs = {
            id(g): stream(self.seed, self.table.fullname, g.name, self._existing)
            for g in self.groups
            if isinstance(g, FkGroup)
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
                    domain = self._domain(g)
                    chosen = [domain[p[position]] for p in picks]
                    if isinstance(g, FkGroup):
                        for k, name in enumerate(g.columns):
                            cols[name] = [key[k] for key in chosen]  # type: ignore[index]
                    else:
                        cols[g.spec.name] = [escape(str(v)) for v in chosen]
            for g in self.groups:
                if id(g) in combo_ids:
                    continue
                if isinstance(g, ValueGroup):
                    assert g.values is not None
                    cols[g.spec.name] = g.values(start, n)
                elif not g.self_ref:
                    self._fill_fk(g, fk_rngs[id(g)], n, cols)
            if selfs:
                for g in selfs:
                    self_keys_for = [cols[c] for c in g.parent_columns]
                    # keys of this batch's rows, appended before picking so row 0 may point at itself
                    if g is selfs[0]:
                        self_keys.extend(zip(*self_keys_for, strict=True))
                    self._fill_self(g, fk_rngs[id(g)], start, n, self_keys, cols)
            yield n, columns_to_text([cols[c] for c in self.columns])

    @staticmethod
    def _fill_fk(g: FkGroup, rng: random.Random, n: int, cols: dict[str, list[str]]) -> None:
        if g.null_only or not g.keys:
            for name in g.columns:
                cols[name] = [NULL] * n
            return
        chosen = rng.choices(g.keys, k=n)
        if g.nullable:
            rand = rng.random
            chosen = [None if rand() < NULL_SHARE else key for key in chosen]  # type: ignore[misc]
        for k, name in enumerate(g.columns):
            cols[name] = [NULL if key is None else key[k] for key in chosen]

    @staticmethod
    def _fill_self(
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


# --- ordering ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TableOrder:
    tables: list[Table]  # parents before children
    null_fks: dict[str, frozenset[str]]  # table -> FK names filled with NULL to break cycles
    unfillable: dict[str, str]


def fk_name(fk: ForeignKeyConstraint) -> str:
    return fk.name or f"{'_'.join(e.parent.name for e in fk.elements)}_fkey"


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
