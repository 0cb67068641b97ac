"""Realistic generators for the application schema (dbadmin/models): the base class.

Shapes that make EXPLAIN on seeded data look like production:
- activity per user follows a power law (Zipf, s=1.1): a few heavy users own most conversations,
  tasks, progress and events; most users are light; some conversations are anonymous;
- conversation lengths are log-normal; messages alternate user/assistant inside a conversation,
  at increasing times between its ``created_at`` and ``last_activity``; assistant messages carry
  JSONB citations, a confidence and a token count;
- tasks mix priorities (20% high, 50% medium, 30% low), due dates spread around ``now``, older
  tasks more often completed;
- analytics events cover the last 90 days with a weekly and daily rhythm.

Every column is generated (ids, UUIDs, timestamps relative to ``now``), so the same seed gives
byte-identical tables. Parents are read back from the database in ``prepare`` (ordered by key),
which also makes ``--append`` onto existing parents work. Columns of a table that these
generators do not know (a user's own variant of the schema) are filled by the generic generator.
"""

from __future__ import annotations

import bisect
import itertools
import random
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, ClassVar

from dbadmin.seed.columns import classify
from dbadmin.seed.copy import columns_to_text
from dbadmin.seed.rng import stream
from dbadmin.seed.text import (
    DAY_MS,
    TimeFormatter,
)
from dbadmin.seed.values import MakerContext, Unfillable, Values, make_values

if TYPE_CHECKING:
    from sqlalchemy import Table

    from dbadmin.seed.load import DbReader

HOUR_MS = 3_600_000
BLOCK = 1000  # rows per generation block (one random stream each)
ROLES = ("user", "assistant")
ZIPF_S = 1.1


def zipf_cum_weights(rng: random.Random, n: int) -> list[float]:
    """Cumulative power-law weights over ``n`` items in a seeded random rank order."""
    ranks = list(range(1, n + 1))
    rng.shuffle(ranks)
    return list(itertools.accumulate(1.0 / r**ZIPF_S for r in ranks))


def pick_weighted(rng: random.Random, cum: list[float], n: int) -> list[int]:
    total = cum[-1]
    rand = rng.random
    return [bisect.bisect_left(cum, rand() * total) for _ in range(n)]


def recent_ms(rng: random.Random, now_ms: int, days: float, n: int, skew: float = 2.0) -> list[int]:
    """Moments in the last ``days`` days, denser near now (skew > 1)."""
    span = int(days * DAY_MS)
    rand = rng.random
    return [now_ms - int(span * rand() ** skew) - 1 for _ in range(n)]


class AppTable(ABC):
    """Base: fixed columns from ``produce``, unknown columns from the generic generator."""

    name: ClassVar[str]

    def __init__(
        self, table: Table, rows: int, *, seed: int, now_ms: int, times: TimeFormatter
    ) -> None:
        self.table = table
        self.requested = rows
        self.rows = rows
        self.seed = seed
        self.now_ms = now_ms
        self.times = times
        self.notes: list[str] = []
        self.columns = [c.name for c in table.columns if c.computed is None]
        self._fallback: dict[str, Values] = {}
        self.existing = 0

    def rng(self, *names: object) -> random.Random:
        return stream(self.seed, "app", self.table.fullname, self.existing, *names)

    @abstractmethod
    def known(self) -> set[str]:
        """The columns ``produce`` fills; the generic generator fills the others."""

    def prepare(self, reader: DbReader) -> int:
        self.existing = reader.count(self.table)
        info = reader.table_info(self.table)
        for column in self.table.columns:
            if column.computed is not None or column.name in self.known():
                continue
            found = info.columns.get(column.name)
            if found is None:
                raise Unfillable(f"column {column.name} of the models is not in the database")
            spec = classify(found, None)
            if isinstance(spec, str):
                if column.nullable or column.server_default is not None:
                    self.columns.remove(column.name)
                    self.notes.append(f"{column.name} left to its default ({spec})")
                    continue
                raise Unfillable(f"column {column.name}: {spec}")
            if column.unique:
                spec.unique = True
            if column.foreign_keys and not column.nullable:
                raise Unfillable(f"column {column.name} is an unknown NOT NULL foreign key")
            if column.foreign_keys:
                self.columns.remove(column.name)  # left NULL: no generic guess at a parent
                self.notes.append(
                    f"{column.name} left NULL (a foreign key these generators do not know)"
                )
                continue
            ctx = MakerContext(now_ms=self.now_ms, times=self.times, offset=self.existing)
            self._fallback[column.name] = make_values(spec, self.rng("column", column.name), ctx)
            self.notes.append(f"{column.name} filled by the generic generator")
        self.setup(reader)
        return self.rows

    def setup(self, reader: DbReader) -> None:  # noqa: B027 (optional hook, not abstract)
        """Read parents and build pools (subclasses that need them)."""

    @abstractmethod
    def produce(self, start: int, n: int) -> dict[str, list[str]]:
        """COPY fields of rows ``start .. start + n - 1``, one list per known column."""

    def batches(self, batch_size: int) -> Iterator[tuple[int, str]]:
        """Rows are made in fixed blocks (each with its own random stream), so the data does not
        depend on the batch size; a batch is the next whole blocks up to ``batch_size`` rows."""
        texts: list[str] = []
        pending = 0
        for start in range(0, self.rows, BLOCK):
            n = min(BLOCK, self.rows - start)
            cols = self.produce(start, n)
            for name, values in self._fallback.items():
                cols[name] = values(start, n)
            texts.append(columns_to_text([cols[c] for c in self.columns]))
            pending += n
            if pending >= batch_size:
                yield pending, "".join(texts)
                texts, pending = [], 0
        if pending:
            yield pending, "".join(texts)

    # helpers
    def next_id(self, reader: DbReader, column: str = "id") -> int:
        top = reader.max_int(self.table, column)
        return 1 if top is None else top + 1

    def ts(self, millis: Sequence[int]) -> list[str]:
        return self.times.timestamptz(millis)


def existing_users(reader: DbReader, table: Table) -> tuple[list[str], list[int]]:
    """Existing users (id text, created_at ms), ordered by id."""
    schema = f'"{table.schema}".' if table.schema else ""
    rows = reader.rows(
        f"SELECT id::text, (extract(epoch FROM created_at) * 1000)::bigint "
        f"FROM {schema}users ORDER BY id"
    )
    return [r[0] for r in rows], [int(r[1]) for r in rows]


def has_table(reader: DbReader, table: Table, name: str) -> bool:
    schema = table.schema or "public"
    return bool(reader.rows("SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}"."{name}"',))[0][0])
