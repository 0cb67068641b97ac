"""Value makers: a ColumnSpec -> a function producing COPY fields for rows ``s .. s+n``.

Each column draws from its own random stream, so data does not depend on the batch size.
Ordered kinds (integers, numerics, money, floats, dates, timestamps) also have a *raw* form
(int, units of 10^-scale, cents, float, epoch milliseconds) used where values are computed
rather than drawn: partition bounds, ordered column pairs, ranges.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from dbadmin.seed import names
from dbadmin.seed.checks import ColumnCheck
from dbadmin.seed.columns import ColumnSpec, int_bounds, numeric_units, unique_int_start
from dbadmin.seed.copy import NULL, escape
from dbadmin.seed.patterns import PatternNotSupported, like_sampler, regex_sampler
from dbadmin.seed.text import DAY_MS, WORDS, TimeFormatter, phrase, to_ms, uuid_text

Values = Callable[[int, int], list[str]]  # (first row number, count) -> COPY fields
NULL_SHARE = 0.1  # nullable, non-key columns are NULL this often
YEAR_MS = 365 * DAY_MS
WINDOW_MS = YEAR_MS  # timestamps fall in the year before --now


class Unfillable(Exception):
    """This table cannot be filled validly; the message says why."""


@dataclass
class MakerContext:
    now_ms: int
    times: TimeFormatter
    offset: int = 0  # existing rows (append): unique values continue after them
    int_after: int | None = None  # existing maximum of a unique integer column
    table: str = ""  # the table's name: "name" in a table of countries is a country


# --- raw values of ordered kinds ---------------------------------------------------------------
def parse_raw(spec: ColumnSpec, literal: str | float) -> float | int | None:
    """A bound (CHECK or partition literal) in the column's raw unit; None when unbounded."""
    kind = spec.kind
    if isinstance(literal, float) and kind not in ("date", "timestamp", "timestamptz"):
        text = repr(literal)
    else:
        text = str(literal).strip()
    if text.lower() in ("infinity", "-infinity", "minvalue", "maxvalue"):
        return None
    try:
        if kind == "int":
            return int(Decimal(text))
        if kind in ("numeric", "money"):
            scale = 2 if kind == "money" else (spec.scale if spec.scale is not None else 2)
            return int(Decimal(text.replace("$", "").replace(",", "")) * 10**scale)
        if kind == "float":
            return float(text)
        if kind in ("date", "timestamp", "timestamptz"):
            if text.endswith(("+00", "-00")) or (text[-3:-2] in "+-" and text[-2:].isdigit()):
                text += ":00"
            return to_ms(dt.datetime.fromisoformat(text))
    except (ValueError, InvalidOperation):
        return None
    return None


def raw_bounds(spec: ColumnSpec, ctx: MakerContext) -> tuple[float, float]:
    """The raw interval values are drawn from: the CHECK's bounds, else a realistic default."""
    c, kind = spec.check, spec.kind
    name_range = (
        names.int_range(spec.name, _year(ctx.now_ms))
        if kind == "int" and spec.domain is None
        else None
    )
    if kind == "int":
        t_lo, t_hi = int_bounds(spec)
        if name_range and t_lo <= name_range[0] and name_range[1] <= t_hi:
            return name_range  # realistic and inside the CHECK (a year domain of 1901-2155)
        d_lo, d_hi = name_range or (0, 1000)
        lo_f: float = t_lo if c.lo is not None else max(t_lo, min(d_lo, t_hi))
        hi_f: float = t_hi if c.hi is not None else min(t_hi, max(d_hi, lo_f))
        if c.lo is not None and c.hi is None:
            hi_f = min(t_hi, lo_f + (d_hi - d_lo))
        if c.hi is not None and c.lo is None:
            lo_f = max(t_lo, hi_f - (d_hi - d_lo))
        return lo_f, hi_f
    if kind in ("numeric", "money"):
        if kind == "money":
            lo_u, hi_u, scale = -(10**15), 10**15, 2
            step = 100
            if isinstance(c.lo, float):
                lo_u = math.ceil(c.lo * step) + c.lo_strict
            if isinstance(c.hi, float):
                hi_u = math.floor(c.hi * step) - c.hi_strict
        else:
            scale, lo_u, hi_u = numeric_units(spec)
            step = 10**scale
        span = 1000 * step
        lo = max(lo_u, 0) if c.lo is None else lo_u
        if c.hi is None:
            return lo, min(hi_u, lo + span)
        return (max(lo_u, hi_u - span) if c.lo is None else lo), hi_u
    if kind == "float":
        lo_v = c.lo if isinstance(c.lo, float) else None
        hi_v = c.hi if isinstance(c.hi, float) else None
        lo_f = lo_v if lo_v is not None else (0.0 if hi_v is None else hi_v - 1000)
        hi_f = hi_v if hi_v is not None else lo_f + 1000
        return lo_f + (1e-4 if c.lo_strict else 0), hi_f - (1e-4 if c.hi_strict else 0)
    # dates and timestamps: a recent window ending at --now (births: 18 to 90 years back)
    lo_t: float  # ms since 1970; a CHECK's bound may be any number
    hi_t: float
    if names.is_birth(spec.name):
        lo_t, hi_t = ctx.now_ms - 90 * YEAR_MS, ctx.now_ms - 18 * YEAR_MS
    else:
        lo_t, hi_t = ctx.now_ms - WINDOW_MS, ctx.now_ms - 1000
    unit = DAY_MS if kind == "date" else 1
    lo_c = parse_raw(spec, c.lo) if c.lo is not None else None
    hi_c = parse_raw(spec, c.hi) if c.hi is not None else None
    if lo_c is not None:
        lo_c += unit if c.lo_strict else 0
        lo_t = max(lo_t, lo_c) if lo_c < hi_t else lo_c
        hi_t = max(hi_t, lo_t + WINDOW_MS // 12)
    if hi_c is not None:
        hi_c -= unit if c.hi_strict else 0
        hi_t = min(hi_t, hi_c) if hi_c > lo_t else hi_c
        lo_t = min(lo_t, hi_t - WINDOW_MS // 12) if lo_c is None else lo_t
    return lo_t, hi_t


def draw_raw(
    spec: ColumnSpec, rng: random.Random, lo: float, hi: float, n: int
) -> list[int] | list[float]:
    if spec.kind == "float":
        un = rng.uniform
        return [un(lo, hi) for _ in range(n)]
    lo_i, hi_i = math.ceil(lo), math.floor(hi)
    if spec.kind == "date":  # whole days
        lo_d, hi_d = -(-lo_i // DAY_MS), hi_i // DAY_MS
        if hi_d < lo_d:
            raise Unfillable(f"{spec.name}: no whole day between its bounds")
        return [d * DAY_MS for d in _uniform_ints(rng, lo_d, hi_d, n)]
    if hi_i < lo_i:
        raise Unfillable(f"{spec.name}: its bounds leave no value")
    return _uniform_ints(rng, lo_i, hi_i, n)


def _uniform_ints(rng: random.Random, lo: int, hi: int, n: int) -> list[int]:
    """``n`` integers in [lo, hi]: from random() where a double resolves every value (several
    times faster than randint per value), else randint."""
    width = hi - lo + 1
    if width < 1 << 52:
        rand = rng.random
        return [lo + int(rand() * width) for _ in range(n)]
    ri = rng.randint
    return [ri(lo, hi) for _ in range(n)]


def format_raw(spec: ColumnSpec, ctx: MakerContext, raws: Sequence[float]) -> list[str]:
    kind = spec.kind
    if kind == "int":
        return [str(int(v)) for v in raws]
    if kind in ("numeric", "money"):
        scale = 2 if kind == "money" else (spec.scale if spec.scale is not None else 2)
        return [decimal_text(int(v), scale) for v in raws]
    if kind == "float":
        return [f"{v:.4f}" for v in raws]
    fmt = {
        "timestamptz": ctx.times.timestamptz,
        "timestamp": ctx.times.timestamp,
        "date": ctx.times.dates,
    }[kind]
    return fmt([int(v) for v in raws])


def raw_unit(spec: ColumnSpec) -> float:
    """The smallest step between two distinct raw values of the column."""
    if spec.kind == "float":
        return 1e-3
    if spec.kind == "date":
        return DAY_MS
    if spec.kind == "timestamptz" or spec.kind == "timestamp":
        return 1
    return 1


def decimal_text(units: int, scale: int) -> str:
    if scale == 0:
        return str(units)
    sign = "-" if units < 0 else ""
    q, r = divmod(abs(units), 10**scale)
    return f"{sign}{q}.{r:0{scale}d}"


def _year(now_ms: int) -> int:
    return (dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=now_ms)).year


# --- the makers ------------------------------------------------------------------------------
def make_values(spec: ColumnSpec, rng: random.Random, ctx: MakerContext) -> Values:
    """COPY fields for rows ``start .. start+n`` of this column (NULLs mixed in if nullable)."""
    if spec.domain is not None:
        domain = [escape(v) for v in spec.domain]
        if spec.unique:
            off = ctx.offset
            return lambda s, n: [domain[off + i] for i in range(s, s + n)]
        return nullable(spec, rng, lambda s, n: rng.choices(domain, k=n))
    raw = _raw_maker(spec, rng, ctx)
    return raw if spec.unique else nullable(spec, rng, raw)


def nullable(spec: ColumnSpec, rng: random.Random, values: Values) -> Values:
    if not spec.nullable or spec.unique:
        return values
    nulls = random.Random(rng.getrandbits(64))
    rand = nulls.random

    def with_nulls(s: int, n: int) -> list[str]:
        out = values(s, n)
        return [NULL if rand() < NULL_SHARE else v for v in out]

    return with_nulls


def _raw_maker(spec: ColumnSpec, rng: random.Random, ctx: MakerContext) -> Values:
    kind, unique, off = spec.kind, spec.unique, ctx.offset
    if kind == "int" and unique:
        base = unique_int_start(spec, ctx.int_after)
        return lambda s, n: [str(base + i) for i in range(s, s + n)]
    if kind in ("numeric", "money") and unique:
        scale = 2 if kind == "money" else (spec.scale if spec.scale is not None else 2)
        lo, _ = raw_bounds(spec, ctx)
        step = 10**scale
        start = max(int(lo), step)
        return lambda s, n: [decimal_text(start + (off + i) * step, scale) for i in range(s, s + n)]
    if kind == "float" and unique:
        lo_f, _ = raw_bounds(spec, ctx)
        return lambda s, n: [f"{lo_f + off + i + 0.5:.4f}" for i in range(s, s + n)]
    if kind in ("date", "timestamp", "timestamptz") and unique:
        _, hi = raw_bounds(spec, ctx)
        unit = DAY_MS if kind == "date" else 1000
        return lambda s, n: format_raw(spec, ctx, [hi - (off + i) * unit for i in range(s, s + n)])
    if kind in ("int", "numeric", "money", "float", "date", "timestamp", "timestamptz"):
        lo, hi = raw_bounds(spec, ctx)
        return lambda s, n: format_raw(spec, ctx, draw_raw(spec, rng, lo, hi, n))
    if kind in ("text", "char"):
        return _text_values(spec, rng, ctx)
    maker = SIMPLE_MAKERS.get(kind)
    if maker is not None:
        return maker(spec, rng, ctx)
    if kind in ("range", "multirange"):
        return _ranges(spec, rng, ctx)
    if kind == "array":
        return _arrays(spec, rng, ctx)
    raise Unfillable(f"column {spec.name}: no generator for {kind}")


def _text_values(spec: ColumnSpec, rng: random.Random, ctx: MakerContext) -> Values:
    """Realistic shapes by name (email, phone, city...), CHECK regex/LIKE samples, else phrases.
    Unique values end in ``-<n>`` (n counts on from the existing rows), cut to fit."""
    c, off = spec.check, ctx.offset
    min_len, max_len = c.min_length, c.max_length
    if spec.length is not None:  # varchar(n) items of an array carry no CHECK of their own
        max_len = spec.length if max_len is None else min(max_len, spec.length)
    try:
        samplers = [regex_sampler(p) for p in c.patterns] + [like_sampler(p) for p in c.likes]
    except PatternNotSupported as exc:
        raise Unfillable(f"{spec.name}: {exc}") from None
    if len(samplers) > 1:
        raise Unfillable(f"{spec.name}: several patterns in its CHECKs")
    shape = names.text_shape(spec.name, ctx.table)
    words = (1, 4) if (max_len or 1000) <= 40 else (3, 14)

    def fit(text: str, suffix: str = "") -> str:
        while len(text) + len(suffix) < min_len:
            text += " " + text if text else "x"
        if max_len is not None and len(text) + len(suffix) > max_len:
            text = text[: max(0, max_len - len(suffix))]
            if len(text.rstrip()) + len(suffix) >= min_len:
                text = text.rstrip()
        return text + suffix

    if samplers and shape is not None:  # a realistic shape that satisfies the pattern wins
        probe = [shape(rng) for _ in range(50)]
        if all(_matches(c, v) for v in probe):
            samplers = []
    if samplers:
        sample = samplers[0]
        if spec.unique:
            raise Unfillable(f"{spec.name}: unique values under a regex CHECK are not supported")
        pool = [escape(sample(rng)) for _ in range(512)]
        bad = [v for v in pool if len(v) < min_len or (max_len is not None and len(v) > max_len)]
        if bad:
            raise Unfillable(f"{spec.name}: its pattern and its length limits disagree")
        return lambda s, n: rng.choices(pool, k=n)
    if shape is not None:
        pool = [shape(rng) for _ in range(1024)]
    else:
        pool = [phrase(rng, *words) for _ in range(1024)]
    if not spec.unique:
        fitted = [escape(fit(p)) for p in pool]
        return lambda s, n: rng.choices(fitted, k=n)
    ch = rng.choice
    if "email" in spec.name.lower():

        def make(i: int) -> str:
            local, _, host = ch(pool).partition("@")
            return f"{local}{off + i}@{host}"
    else:

        def make(i: int) -> str:
            return fit(ch(pool), f"-{off + i}")

    def shaped(s: int, n: int) -> list[str]:
        out = [make(i) for i in range(s, s + n)]
        if max_len is not None and any(len(v) > max_len for v in out):
            raise Unfillable(f"{spec.name}: unique values do not fit in {max_len} characters")
        return [escape(v) for v in out]

    return shaped


def _matches(check: ColumnCheck, value: str) -> bool:
    return all(re.search(p, value) for p in check.patterns) and not check.likes


def _each(fn: Callable[[int], str]) -> Values:
    return lambda s, n: [fn(i) for i in range(s, s + n)]


def _simple(kind: str) -> Callable[[ColumnSpec, random.Random, MakerContext], Values]:
    """Makers for the kinds whose values are small formatted strings."""

    def maker(spec: ColumnSpec, rng: random.Random, ctx: MakerContext) -> Values:
        rr, bits, off, u = rng.randrange, rng.getrandbits, ctx.offset, spec.unique

        def key(i: int, span: int) -> int:
            return (off + i) % span if u else rr(span)

        if kind == "bool":
            return _each(lambda i: "t" if bits(1) else "f")
        if kind in ("time", "timetz"):
            tod, tz = ctx.times.times, "+00" if kind == "timetz" else ""
            return lambda s, n: [
                v + tz for v in tod([key(i, 86_400) * 1000 for i in range(s, s + n)])
            ]
        if kind == "interval":
            return _each(lambda i: f"{(off + i + 1) if u else rr(1, 86_400)} seconds")
        if kind == "uuid":
            return _each(lambda i: uuid_text(bits(128)))
        if kind == "json":
            return _each(
                lambda i: f'{{"n": {off + i if u else rr(1000)}, "tag": "{rng.choice(WORDS)}"}}'
            )
        if kind == "bytea":
            return _each(
                lambda i: f"\\\\x{off + i:08x}{bits(32):08x}" if u else f"\\\\x{bits(64):016x}"
            )
        if kind in ("inet", "cidr"):
            if kind == "cidr":
                return _each(lambda i: f"10.{(v := key(i, 1 << 16)) >> 8}.{v & 255}.0/24")
            return _each(lambda i: f"10.{(v := key(i, 1 << 24)) >> 16}.{(v >> 8) & 255}.{v & 255}")
        if kind in ("macaddr", "macaddr8"):
            extra = ":ff:fe" if kind == "macaddr8" else ""
            return _each(
                lambda i: (
                    f"08:00:2b{extra}:{(v := key(i, 1 << 24)) >> 16:02x}:{(v >> 8) & 255:02x}:{v & 255:02x}"
                )
            )
        if kind == "xml":
            return _each(
                lambda i: f'<item n="{off + i if u else rr(1000)}">{rng.choice(WORDS)}</item>'
            )
        if kind in ("bit", "varbit"):
            size = spec.length or 8
            if kind == "bit":
                return _each(lambda i: format(key(i, 1 << size), f"0{size}b"))
            return _each(lambda i: format(bits(size), f"0{size}b")[: rr(1, size + 1)])
        if kind == "tsvector":
            return _each(
                lambda i: " ".join(rng.choices(WORDS, k=4)) + (f" w{off + i}" if u else "")
            )
        if kind == "tsquery":
            return _each(lambda i: " & ".join(rng.choices(WORDS, k=2)))
        if kind == "vector":
            dims = spec.length or 3
            return _each(lambda i: "[" + ",".join(f"{rng.random():.4f}" for _ in range(dims)) + "]")
        if kind in ("point", "line", "lseg", "box", "path", "polygon", "circle"):
            return _shapes(kind, rng, off, u or spec.disjoint)
        raise Unfillable(f"column {spec.name}: no generator for {kind}")

    return maker


def _shapes(kind: str, rng: random.Random, off: int, apart: bool) -> Values:
    """Geometric values; ``apart``: each row's shape in its own cell of a grid (no overlap)."""
    un = rng.uniform

    def origin(i: int) -> tuple[float, float]:
        if apart:
            cell = off + i
            return float((cell % 1000) * 10), float((cell // 1000) * 10)
        return round(un(-500, 500), 2), round(un(-500, 500), 2)

    def shape(i: int) -> str:
        x, y = origin(i)
        if kind == "point":
            return f"({x},{y})"
        if kind == "line":
            return f"{{1,-1,{round(un(-100, 100), 2)}}}"
        if kind == "circle":
            return f"<({x + 4},{y + 4}),{round(un(0.5, 4), 2)}>"
        a = (round(x + 1, 2), round(y + 1, 2))
        b = (round(a[0] + un(0.5, 7), 2), round(a[1] + un(0.5, 7), 2))
        if kind == "lseg":
            return f"[({a[0]},{a[1]}),({b[0]},{b[1]})]"
        if kind == "box":
            return f"({b[0]},{b[1]}),({a[0]},{a[1]})"
        third = f"({a[0]},{b[1]})"
        if kind == "path":
            return f"[({a[0]},{a[1]}),({b[0]},{b[1]}),{third}]"
        return f"(({a[0]},{a[1]}),({b[0]},{b[1]}),{third})"

    return _each(shape)


SIMPLE_MAKERS = {
    kind: _simple(kind)
    for kind in (
        "bool", "time", "timetz", "interval", "uuid", "json", "bytea", "inet", "cidr",
        "macaddr", "macaddr8", "xml", "bit", "varbit", "tsvector", "tsquery", "vector",
        "point", "line", "lseg", "box", "path", "polygon", "circle",
    )
}  # fmt: skip


def _ranges(spec: ColumnSpec, rng: random.Random, ctx: MakerContext) -> Values:
    """``[lo,hi)`` of the subtype; ``disjoint`` (exclusion constraint) or unique: row i owns
    its own stretch, so no two rows' ranges overlap; multiranges hold two such pieces."""
    assert spec.item is not None
    sub = ColumnSpec(**{**spec.item.__dict__, "name": spec.name, "nullable": False})
    lo, hi = raw_bounds(sub, ctx)
    unit = raw_unit(sub)
    pieces = 2 if spec.kind == "multirange" else 1
    apart = spec.disjoint or spec.unique
    stretch = max(unit * 4, (hi - lo) / 50_000) if apart else 0

    def one(i: int) -> str:
        if apart:
            start = lo + (ctx.offset + i) * stretch * pieces
            bounds = [
                (start + k * stretch, start + k * stretch + stretch * 0.75) for k in range(pieces)
            ]
        else:
            points = sorted(draw_raw(sub, rng, lo, hi, 2 * pieces))
            bounds = [(points[2 * k], points[2 * k + 1] + unit) for k in range(pieces)]
        out = []
        for a, b in bounds:
            if sub.kind in ("int", "date", "timestamp", "timestamptz", "numeric"):
                a, b = int(a), int(b)
                if sub.kind == "date":
                    a, b = a - a % DAY_MS, b - b % DAY_MS + DAY_MS
            texts = format_raw(sub, ctx, [a, b])
            out.append(f'["{texts[0]}","{texts[1]}")')
        return out[0] if pieces == 1 else "{" + ",".join(out) + "}"

    return _each(one)


def _arrays(spec: ColumnSpec, rng: random.Random, ctx: MakerContext) -> Values:
    """0-3 elements (one more, the row number, first, when the array must be unique)."""
    assert spec.item is not None
    item = ColumnSpec(**{**spec.item.__dict__, "name": spec.name, "nullable": False})
    item.unique = False
    items = make_values(item, rng, ctx)
    rr = rng.randrange
    if spec.unique and item.kind != "int":
        raise Unfillable(f"unique array column {spec.name} of {item.kind} is not supported")
    off = ctx.offset

    def quote(v: str) -> str:
        return '"' + v.replace("\\\\", "\\\\\\\\").replace('"', '\\\\"') + '"'

    low = spec.check.min_length
    high = max(low, min(3, spec.check.max_length if spec.check.max_length is not None else 3))
    if spec.unique and high < 1:
        raise Unfillable(f"unique array column {spec.name} may hold no element")

    first = max(low, 1) if spec.unique else low

    def arrays(s: int, n: int) -> list[str]:
        sizes = [rr(first, high + 1) for _ in range(n)]
        pool = [quote(v) for v in items(0, sum(sizes))]
        out, at = [], 0
        for i, k in enumerate(sizes):
            if spec.unique:  # the first element, the row number, makes the array unique
                pool[at] = str(off + s + i)
            out.append("{" + ",".join(pool[at : at + k]) + "}")
            at += k
        return out

    return arrays
