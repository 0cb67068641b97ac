"""Column classification: a catalog type (domains resolved) plus CHECK rules -> a ColumnSpec
the value makers understand, or the reason the column cannot be generated.

Also the capacity arithmetic behind "never a silent cap": how many distinct values a unique
column can take given its type and CHECK.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from dbadmin.seed.catalog import ColumnInfo, TypeInfo
from dbadmin.seed.checks import CheckNotUnderstood, ColumnCheck, parse_check

INT_RANGES = {16: (-32768, 32767), 32: (-(2**31), 2**31 - 1), 64: (-(2**63), 2**63 - 1)}

# base type name -> kind (and, for ints, bits)
SIMPLE = {
    "bool": "bool", "float4": "float", "float8": "float", "money": "money", "text": "text",
    "varchar": "text", "citext": "text", "name": "text", "bpchar": "char", "date": "date",
    "timestamp": "timestamp", "timestamptz": "timestamptz", "time": "time", "timetz": "timetz",
    "interval": "interval", "uuid": "uuid", "json": "json", "jsonb": "json", "bytea": "bytea",
    "inet": "inet", "cidr": "cidr", "macaddr": "macaddr", "macaddr8": "macaddr8", "xml": "xml",
    "bit": "bit", "varbit": "varbit", "tsvector": "tsvector", "tsquery": "tsquery",
    "point": "point", "line": "line", "lseg": "lseg", "box": "box", "path": "path",
    "polygon": "polygon", "circle": "circle", "vector": "vector", "numeric": "numeric",
}  # fmt: skip
INTS = {"int2": 16, "int4": 32, "int8": 64}
ORDERED_KINDS = {"int", "numeric", "float", "money", "date", "timestamp", "timestamptz"}
TIME_KINDS = {"date", "timestamp", "timestamptz"}


@dataclass
class ColumnSpec:
    name: str
    kind: str
    nullable: bool
    length: int | None = None  # varchar/char/bit length, vector dimensions
    precision: int | None = None
    scale: int | None = None
    bits: int = 32
    domain: list[str] | None = None  # finite set of allowed values (enum, IN, boolean)
    check: ColumnCheck = field(default_factory=ColumnCheck)
    item: ColumnSpec | None = None  # arrays, and the subtype of ranges/multiranges
    unique: bool = False
    disjoint: bool = False  # ranges/shapes under an exclusion constraint: never overlap


def classify(column: ColumnInfo, check: ColumnCheck | None) -> ColumnSpec | str:
    """A ColumnSpec for a column, or the reason its type is not supported."""
    spec = kind_of(column.type)
    if isinstance(spec, str):
        return spec
    spec.name = column.name
    spec.nullable = not column.not_null
    merged = check or ColumnCheck()
    if column.type.checks:
        rules: dict[str, ColumnCheck] = {"value": merged}
        try:
            for text in column.type.checks:
                parse_check(text, {"value"}, rules)
        except CheckNotUnderstood as exc:
            return f"the CHECK of domain {column.type.domain} has an unsupported form: {exc}"
        merged = rules["value"]
    if merged.not_null:
        spec.nullable = False
    spec.check = merged
    if merged.values is not None:
        allowed = [v for v in merged.values if v not in merged.excluded]
        if spec.domain is not None:
            allowed = [v for v in allowed if v in spec.domain]
        if not allowed:
            return f"CHECK constraints leave no allowed value for {column.name}"
        spec.domain = allowed
    elif spec.domain is not None and merged.excluded:
        spec.domain = [v for v in spec.domain if v not in merged.excluded]
    if spec.domain is None and spec.kind == "bool":
        spec.domain = ["t", "f"]
    if spec.kind == "array":  # the length rules count elements
        pass
    elif spec.kind in ("text", "char") and spec.length is not None:
        top = merged.max_length
        merged.max_length = spec.length if top is None else min(top, spec.length)
    if merged.max_length is not None and merged.min_length > merged.max_length:
        return (
            f"{column.name}: CHECK needs {merged.min_length} characters but at most "
            f"{merged.max_length} fit"
        )
    return spec


def kind_of(t: TypeInfo) -> ColumnSpec | str:
    def make(
        kind: str,
        *,
        item: ColumnSpec | None = None,
        domain: list[str] | None = None,
        bits: int = ColumnSpec.bits,
    ) -> ColumnSpec:
        return ColumnSpec(name="", kind=kind, nullable=True, item=item, domain=domain, bits=bits)

    if t.element is not None:
        item = kind_of(t.element)
        if isinstance(item, str):
            return f"array of unsupported items ({item})"
        if item.kind in ("array", "bytea"):
            return f"array of {item.kind} is not supported"
        return make("array", item=item)
    if t.kind == "e":
        return make("enum", domain=list(t.labels)) if t.labels else "an enum without values"
    if t.kind in ("r", "m"):
        assert t.subtype is not None
        sub = kind_of(t.subtype)
        if isinstance(sub, str) or sub.kind not in ORDERED_KINDS - {"money"}:
            return f"range type {t.name} over {t.subtype.name} is not supported"
        return make("range" if t.kind == "r" else "multirange", item=sub)
    if t.name in INTS:
        return make("int", bits=INTS[t.name])
    kind = SIMPLE.get(t.name)
    if kind is None:
        return f"type {t.name} is not supported by the generic generator"
    spec = make(kind)
    mod = t.typmod
    if kind in ("text", "char") and mod >= 4:
        spec.length = mod - 4
    elif kind == "char":
        spec.length = 1
    elif kind == "numeric" and mod >= 4:
        spec.precision, spec.scale = ((mod - 4) >> 16) & 0xFFFF, (mod - 4) & 0xFFFF
    elif kind in ("bit", "varbit", "vector"):
        spec.length = mod if mod > 0 else (1 if kind == "bit" else 3 if kind == "vector" else 8)
    return spec


def int_bounds(spec: ColumnSpec) -> tuple[int, int]:
    """The integers a column's type and CHECK allow (inclusive)."""
    t_lo, t_hi = INT_RANGES[spec.bits]
    c = spec.check
    lo, hi = t_lo, t_hi
    if isinstance(c.lo, float):
        lo = max(lo, math.floor(c.lo) + 1 if c.lo_strict else math.ceil(c.lo))
    if isinstance(c.hi, float):
        hi = min(hi, math.ceil(c.hi) - 1 if c.hi_strict else math.floor(c.hi))
    return lo, hi


def unique_int_start(spec: ColumnSpec, after: int | None) -> int:
    """Where numbering starts: after the existing maximum, else at 1 (or the CHECK's floor)."""
    lo, _ = int_bounds(spec)
    if after is not None:
        return max(lo, after + 1)
    return max(lo, 1) if lo <= 1 else lo


def numeric_units(spec: ColumnSpec) -> tuple[int, int, int]:
    """(scale, lowest, highest) of a numeric column in units of 10^-scale."""
    scale = spec.scale if spec.scale is not None else 2
    step = 10**scale
    top = 10 ** ((spec.precision or 14) - scale) * step - 1
    lo_u, hi_u = -top, top
    c = spec.check
    if isinstance(c.lo, float):
        lo_u = max(lo_u, math.ceil(c.lo * step) + (1 if c.lo_strict else 0))
    if isinstance(c.hi, float):
        hi_u = min(hi_u, math.floor(c.hi * step) - (1 if c.hi_strict else 0))
    return scale, lo_u, hi_u


def capacity(spec: ColumnSpec, existing: int = 0, after: int | None = None) -> int | None:
    """How many distinct values a unique column can still take (None: more than enough)."""
    if spec.domain is not None:
        return max(0, len(spec.domain) - existing)
    if spec.kind == "int":
        _, hi = int_bounds(spec)
        return max(0, hi - unique_int_start(spec, after) + 1)
    if spec.kind == "numeric":
        _, lo_u, hi_u = numeric_units(spec)
        scale = spec.scale if spec.scale is not None else 2
        return max(0, (hi_u - max(lo_u, 0)) // 10**scale + 1 - existing)
    if spec.kind in ("text", "char"):
        top = spec.check.max_length
        if top is None:
            return None
        return max(0, min(10 ** max(top - 1, 0), 36**top) - existing) if top > 0 else 0
    if spec.kind == "bit":
        return max(0, 2 ** (spec.length or 1) - existing)
    if spec.kind == "time":
        return max(0, 86_400 - existing)
    if spec.kind == "timetz":
        return max(0, 86_400 - existing)
    return None
