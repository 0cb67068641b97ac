"""Realistic generators for the application schema (dbadmin/models).

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
import json
import math
import random
from abc import ABC, abstractmethod
from array import array
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, ClassVar

from dbadmin.models.tasks import PRIORITIES
from dbadmin.seed.copy import NULL, columns_to_text, escape
from dbadmin.seed.generic import (
    MakerContext,
    Unfillable,
    Values,
    classify,
    make_values,
)
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
    from sqlalchemy import Table

    from dbadmin.seed.load import DbReader

HOUR_MS = 3_600_000
BLOCK = 1000  # rows per generation block (one random stream each)
ROLES = ("user", "assistant")
ZIPF_S = 1.1


def _zipf_cum_weights(rng: random.Random, n: int) -> list[float]:
    """Cumulative power-law weights over ``n`` items in a seeded random rank order."""
    ranks = list(range(1, n + 1))
    rng.shuffle(ranks)
    return list(itertools.accumulate(1.0 / r**ZIPF_S for r in ranks))


def _pick(rng: random.Random, cum: list[float], n: int) -> list[int]:
    total = cum[-1]
    rand = rng.random
    return [bisect.bisect_left(cum, rand() * total) for _ in range(n)]


def _recent_ms(
    rng: random.Random, now_ms: int, days: float, n: int, skew: float = 2.0
) -> list[int]:
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
        for column in self.table.columns:
            if column.computed is not None or column.name in self.known():
                continue
            spec = classify(column, None)
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


def _users(reader: DbReader, table: Table) -> tuple[list[str], list[int]]:
    """Existing users (id text, created_at ms), ordered by id."""
    schema = f'"{table.schema}".' if table.schema else ""
    rows = reader.rows(
        f"SELECT id::text, (extract(epoch FROM created_at) * 1000)::bigint "
        f"FROM {schema}users ORDER BY id"
    )
    return [r[0] for r in rows], [int(r[1]) for r in rows]


def _has_table(reader: DbReader, table: Table, name: str) -> bool:
    schema = table.schema or "public"
    return bool(reader.rows("SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}"."{name}"',))[0][0])


class Users(AppTable):
    name = "users"
    LANGS: ClassVar[list[str]] = ["EN"] * 14 + ["DE", "DE", "FR", "FR", "ES", "ES", "JA", "PT"]

    def known(self) -> set[str]:
        return {
            "id",
            "email",
            "name",
            "password_hash",
            "language_preference",
            "theme_preference",
            "created_at",
            "last_login",
        }

    def setup(self, reader: DbReader) -> None:
        rng = self.rng("hashes")
        alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        self.hashes = ["$2b$12$" + "".join(rng.choices(alphabet, k=53)) for _ in range(256)]

    def produce(self, start: int, n: int) -> dict[str, list[str]]:
        off = self.existing
        rng = self.rng("rows", start)
        ch, rand, bits = rng.choice, rng.random, rng.getrandbits
        firsts = [ch(FIRST_NAMES) for _ in range(n)]
        lasts = [ch(LAST_NAMES) for _ in range(n)]
        # sign-ups over two years, growing: more recent ones are denser
        created = _recent_ms(rng, self.now_ms, 730, n, skew=1.6)
        last_login = [
            NULL if rand() < 0.1 else c + int((self.now_ms - c) * (1 - rand() ** 3))
            for c in created
        ]
        return {
            "id": [uuid_text(bits(128)) for _ in range(n)],
            "email": [
                f"{f.lower()}.{last.lower()}{off + i}@example.com"
                for i, (f, last) in enumerate(zip(firsts, lasts, strict=True), start)
            ],
            "name": [
                NULL if rand() < 0.03 else f"{f} {last}"
                for f, last in zip(firsts, lasts, strict=True)
            ],
            "password_hash": rng.choices(self.hashes, k=n),
            "language_preference": rng.choices(self.LANGS, k=n),
            "theme_preference": ["dark" if rand() < 0.4 else "light" for _ in range(n)],
            "created_at": self.ts(created),
            "last_login": [v if v is NULL else self.ts([v])[0] for v in last_login],
        }


class Tasks(AppTable):
    name = "tasks"
    VERBS: ClassVar[list[str]] = [
        "Review",
        "Finish",
        "Read",
        "Practise",
        "Summarise",
        "Revisit",
        "Write notes on",
        "Ask about",
        "Prepare",
        "Complete",
    ]

    def known(self) -> set[str]:
        return {
            "id",
            "user_id",
            "title",
            "description",
            "completed",
            "priority",
            "due_date",
            "created_at",
            "updated_at",
        }

    def setup(self, reader: DbReader) -> None:
        self.user_ids, self.user_created = _users(reader, self.table)
        if not self.user_ids:
            raise Unfillable("tasks need users, and users has no rows")
        self.cum = _zipf_cum_weights(self.rng("weights"), len(self.user_ids))
        self.first_id = self.next_id(reader)
        rng = self.rng("pools")
        self.titles = [
            escape(f"{rng.choice(self.VERBS)} {phrase(rng, 1, 5, capital=False)}"[:200])
            for _ in range(1024)
        ]
        self.descriptions = [escape(phrase(rng, 6, 40)[:1000]) for _ in range(1024)]

    def produce(self, start: int, n: int) -> dict[str, list[str]]:
        rng = self.rng("rows", start)
        rand, rr = rng.random, rng.randrange
        users = _pick(rng, self.cum, n)
        now = self.now_ms
        created = [
            max(self.user_created[u] + 1, c)
            for u, c in zip(users, _recent_ms(rng, now, 180, n, 1.5), strict=True)
        ]
        # older tasks are more often done
        completed = [rand() < 0.15 + 0.6 * min(1.0, (now - c) / (120 * DAY_MS)) for c in created]
        due = [NULL if rand() < 0.15 else now + rr(-30 * DAY_MS, 45 * DAY_MS) for _ in range(n)]
        updated = [c + int((now - c) * rand() ** 2) for c in created]
        return {
            "id": [str(self.first_id + i) for i in range(start, start + n)],
            "user_id": [self.user_ids[u] for u in users],
            "title": rng.choices(self.titles, k=n),
            "description": [
                NULL if rand() < 0.4 else d for d in rng.choices(self.descriptions, k=n)
            ],
            "completed": ["t" if c else "f" for c in completed],
            "priority": rng.choices(PRIORITIES, cum_weights=(20, 70, 100), k=n),  # 20/50/30 %
            "due_date": [NULL if d is NULL else self.ts([d])[0] for d in due],
            "created_at": self.ts(created),
            "updated_at": self.ts(updated),
        }


class Conversations(AppTable):
    name = "conversations"
    SOURCES: ClassVar[list[str]] = ["web"] * 6 + ["mobile"] * 3 + ["api"]

    def known(self) -> set[str]:
        return {
            "id",
            "session_id",
            "user_id",
            "metadata",
            "created_at",
            "updated_at",
            "last_activity",
        }

    def setup(self, reader: DbReader) -> None:
        self.user_ids, self.user_created = _users(reader, self.table)
        self.cum = (
            _zipf_cum_weights(self.rng("weights"), len(self.user_ids)) if self.user_ids else []
        )
        self.first_id = self.next_id(reader)

    def produce(self, start: int, n: int) -> dict[str, list[str]]:
        rng = self.rng("rows", start)
        rand, ch, bits = rng.random, rng.choice, rng.getrandbits
        now = self.now_ms
        users = _pick(rng, self.cum, n) if self.cum else [-1] * n
        anonymous = [u < 0 or rand() < 0.15 for u in users]
        created = _recent_ms(rng, now, 90, n, 1.8)
        created = [
            c if anon else max(c, self.user_created[u] + 1)
            for c, u, anon in zip(created, users, anonymous, strict=True)
        ]
        # most chats are minutes long, a few last hours
        last = [min(now - 1, c + int(HOUR_MS * 6 * rand() ** 4) + 1000) for c in created]
        last = [max(c, t) for c, t in zip(created, last, strict=True)]
        meta = [
            escape(json.dumps({"source": ch(self.SOURCES), "locale": ch(("en", "en", "de", "fr"))}))
            for _ in range(n)
        ]
        last_text = self.ts(last)
        return {
            "id": [str(self.first_id + i) for i in range(start, start + n)],
            "session_id": [uuid_text(bits(128)) for _ in range(n)],
            "user_id": [
                NULL if anon else self.user_ids[u] for u, anon in zip(users, anonymous, strict=True)
            ],
            "metadata": meta,
            "created_at": self.ts(created),
            "updated_at": last_text,
            "last_activity": last_text,
        }


class Messages(AppTable):
    name = "messages"
    OPENERS: ClassVar[list[str]] = [
        "How does",
        "Why does",
        "Can you explain how",
        "What is the difference between",
        "Where does",
        "When should",
        "Is it true that",
        "Could you give an example of how",
    ]

    def known(self) -> set[str]:
        return {
            "id",
            "conversation_id",
            "user_id",
            "role",
            "content",
            "citations",
            "confidence",
            "tokens_used",
            "selected_text",
            "page_context",
            "created_at",
        }

    def setup(self, reader: DbReader) -> None:
        schema = f'"{self.table.schema}".' if self.table.schema else ""
        # compact per-conversation arrays, streamed: memory ~ 30 bytes per conversation
        self.conv_ids, self.conv_start, self.conv_span = array("q"), array("q"), array("q")
        self.conv_users: list[str] = []
        shared: dict[str, str] = {"": NULL}  # one string object per user
        for conv_id, user_id, created, last in reader.stream(
            "SELECT id, coalesce(user_id::text, ''), "
            "(extract(epoch FROM created_at) * 1000)::bigint, "
            "(extract(epoch FROM last_activity) * 1000)::bigint "
            f"FROM {schema}conversations ORDER BY id"
        ):
            self.conv_ids.append(conv_id)
            self.conv_users.append(shared.setdefault(user_id, user_id))
            self.conv_start.append(created)
            self.conv_span.append(max(1000, last - created))
        if not self.conv_ids:
            raise Unfillable("messages need conversations, and conversations has no rows")
        self.lengths = self._lengths(len(self.conv_ids))
        self.first_id = self.next_id(reader)
        slugs: list[str] = []
        if _has_table(reader, self.table, "chapters"):
            slugs = [r[0] for r in reader.rows(f"SELECT slug FROM {schema}chapters ORDER BY id")]
        self._pools(slugs or [f"{w}-{i}" for i, w in enumerate(WORDS[:40])])
        self.offsets = array("q", itertools.accumulate(self.lengths, initial=0))  # first rows

    def _lengths(self, conversations: int) -> array[int]:
        """Log-normal conversation lengths (median ~5), scaled to sum to exactly ``rows``."""
        rng = self.rng("lengths")
        raw = array("d", (rng.lognormvariate(1.6, 0.9) for _ in range(conversations)))
        factor = self.rows / sum(raw)
        lengths = array("q", (int(r * factor) for r in raw))
        del raw
        short = self.rows - sum(lengths)  # < conversations: each int() lost less than 1
        for index in rng.sample(range(conversations), short):
            lengths[index] += 1
        return lengths

    def _pools(self, slugs: list[str]) -> None:
        rng = self.rng("pools")
        self.questions = [
            escape(f"{rng.choice(self.OPENERS)} {phrase(rng, 2, 9, capital=False)}?")
            for _ in range(2048)
        ]
        answers = []
        for _ in range(4096):
            sentences = [phrase(rng, 5, 22) + "." for _ in range(rng.randint(1, 7))]
            if rng.random() < 0.3:
                sentences.append("\n\n- " + "\n- ".join(phrase(rng, 2, 6) for _ in range(3)))
            answers.append(" ".join(sentences))
        self.answers = [escape(a) for a in answers]
        self.answer_tokens = [str(len(a) // 4 + rng.randint(20, 120)) for a in answers]
        self.question_tokens = [str(len(q) // 4 + 1) for q in self.questions]
        citations = []
        for _ in range(512):
            k = rng.choice((0, 1, 1, 2, 2, 3))
            items = []
            for _ in range(k):
                slug = rng.choice(slugs)
                items.append(
                    {
                        "chapter": slug,
                        "section": phrase(rng, 1, 3, capital=False),
                        "url": f"/docs/{slug}#{rng.choice(WORDS)}",
                        "score": round(rng.uniform(0.5, 0.99), 3),
                    }
                )
            citations.append(escape(json.dumps(items)))
        self.citations = citations
        self.selections = [escape(phrase(rng, 3, 15)) for _ in range(256)]
        self.confidences = [f"{0.35 + 0.64 * rng.random():.3f}" for _ in range(512)]
        self.pages = [f"/docs/{s}" for s in slugs]

    def produce(self, start: int, n: int) -> dict[str, list[str]]:
        # The hot path (millions of rows): list comprehensions over precomputed pools, one
        # 30-bit random number per row split into independent choices, no per-row branching
        # beyond "user or assistant".
        rng = self.rng("rows", start)
        bits = rng.getrandbits
        offsets, lengths = self.offsets, self.lengths
        convs: list[int] = []
        poss: list[int] = []
        c = bisect.bisect_right(offsets, start) - 1
        end = start + n
        while c < len(lengths) and offsets[c] < end:
            first = max(start, offsets[c]) - offsets[c]
            last = min(end, offsets[c] + lengths[c]) - offsets[c]
            if last > first:
                convs.extend(itertools.repeat(c, last - first))
                poss.extend(range(first, last))
            c += 1
        r = [bits(30) for _ in range(n)]
        starts, spans, conv_ids, conv_users = (
            self.conv_start,
            self.conv_span,
            self.conv_ids,
            self.conv_users,
        )
        questions, answers = self.questions, self.answers
        q_tok, a_tok, cites, conf = (
            self.question_tokens,
            self.answer_tokens,
            self.citations,
            self.confidences,
        )
        sels, pages = self.selections, self.pages
        n_pages = len(pages)
        # assistant turns are the odd positions of a conversation
        roles = [p & 1 for p in poss]
        moments = [
            starts[c] + spans[c] * p // lengths[c] + p for c, p in zip(convs, poss, strict=True)
        ]
        return {
            "id": [str(i) for i in range(self.first_id + start, self.first_id + end)],
            "conversation_id": [str(conv_ids[c]) for c in convs],
            "user_id": [NULL if a else conv_users[c] for c, a in zip(convs, roles, strict=True)],
            "role": [ROLES[a] for a in roles],
            "content": [
                answers[x & 4095] if a else questions[x & 2047]
                for x, a in zip(r, roles, strict=True)
            ],
            "citations": [
                cites[(x >> 12) & 511] if a else "[]" for x, a in zip(r, roles, strict=True)
            ],
            "confidence": [
                conf[(x >> 21) & 511] if a else NULL for x, a in zip(r, roles, strict=True)
            ],
            "tokens_used": [
                a_tok[x & 4095] if a else q_tok[x & 2047] for x, a in zip(r, roles, strict=True)
            ],
            # users select text in 1 of 8 questions and ask from a docs page in 3 of 8
            "selected_text": [
                sels[(x >> 12) & 255] if not a and (x >> 21) & 7 == 0 else NULL
                for x, a in zip(r, roles, strict=True)
            ],
            "page_context": [
                pages[((x >> 12) & 511) % n_pages] if not a and (x >> 24) & 7 < 3 else NULL
                for x, a in zip(r, roles, strict=True)
            ],
            "created_at": self.ts(moments),
        }


class Modules(AppTable):
    name = "modules"

    def known(self) -> set[str]:
        return {"id", "slug", "title", "description", "order_index", "created_at", "updated_at"}

    def setup(self, reader: DbReader) -> None:
        self.first_id = self.next_id(reader)

    def produce(self, start: int, n: int) -> dict[str, list[str]]:
        rng = self.rng("rows", start)
        ids = list(range(self.first_id + start, self.first_id + start + n))
        titles = [phrase(rng, 2, 5) for _ in range(n)]
        created = [self.now_ms - 400 * DAY_MS + i * DAY_MS for i in ids]
        return {
            "id": [str(i) for i in ids],
            "slug": [
                f"{i:02d}-{t.lower().replace(' ', '-')}"[:200]
                for i, t in zip(ids, titles, strict=True)
            ],
            "title": [escape(f"Module {i}: {t}") for i, t in zip(ids, titles, strict=True)],
            "description": [escape(phrase(rng, 10, 30) + ".") for _ in range(n)],
            "order_index": [str(i) for i in ids],
            "created_at": self.ts(created),
            "updated_at": self.ts([c + rng.randrange(60 * DAY_MS) for c in created]),
        }


class Chapters(AppTable):
    name = "chapters"

    def known(self) -> set[str]:
        return {
            "id",
            "module_id",
            "slug",
            "title",
            "content_markdown",
            "order_index",
            "created_at",
            "updated_at",
        }

    def setup(self, reader: DbReader) -> None:
        schema = f'"{self.table.schema}".' if self.table.schema else ""
        self.modules = [
            str(r[0]) for r in reader.rows(f"SELECT id FROM {schema}modules ORDER BY id")
        ]
        if not self.modules:
            raise Unfillable("chapters need modules, and modules has no rows")
        self.first_id = self.next_id(reader)

    def produce(self, start: int, n: int) -> dict[str, list[str]]:
        rng = self.rng("rows", start)
        ids = list(range(self.first_id + start, self.first_id + start + n))
        per_module = max(1, math.ceil((self.rows + self.existing) / len(self.modules)))
        positions = [(i - 1) // per_module for i in ids]
        titles = [phrase(rng, 2, 6) for _ in range(n)]
        bodies = []
        for t in titles:
            parts = [f"# {t}"]
            for _ in range(rng.randint(2, 6)):
                parts.append(f"## {phrase(rng, 2, 4)}")
                parts.append(" ".join(phrase(rng, 6, 20) + "." for _ in range(rng.randint(2, 6))))
                if rng.random() < 0.3:
                    parts.append("```python\nprint(" + repr(rng.choice(WORDS)) + ")\n```")
            bodies.append(escape("\n\n".join(parts)))
        created = [self.now_ms - 390 * DAY_MS + i * HOUR_MS for i in ids]
        return {
            "id": [str(i) for i in ids],
            "module_id": [self.modules[min(p, len(self.modules) - 1)] for p in positions],
            "slug": [
                f"ch{i}-{t.lower().replace(' ', '-')}"[:200]
                for i, t in zip(ids, titles, strict=True)
            ],
            "title": [escape(t) for t in titles],
            "content_markdown": bodies,
            "order_index": [str((i - 1) % per_module) for i in ids],
            "created_at": self.ts(created),
            "updated_at": self.ts([c + rng.randrange(90 * DAY_MS) for c in created]),
        }


class ChapterProgress(AppTable):
    """Heavy users are far into the course; everybody starts at chapter one."""

    name = "chapter_progress"

    def known(self) -> set[str]:
        return {
            "user_id",
            "chapter_id",
            "completed_at",
            "quiz_score",
            "exercises_completed",
            "created_at",
            "updated_at",
        }

    def setup(self, reader: DbReader) -> None:
        schema = f'"{self.table.schema}".' if self.table.schema else ""
        user_ids, user_created = _users(reader, self.table)
        chapters = [
            str(r[0])
            for r in reader.rows(
                f"SELECT id FROM {schema}chapters ORDER BY module_id, order_index, id"
            )
        ]
        if not user_ids or not chapters:
            raise Unfillable("chapter_progress needs users and chapters with rows")
        existing = {
            (r[0], str(r[1]))
            for r in reader.rows(f"SELECT user_id::text, chapter_id FROM {schema}chapter_progress")
        }
        rng = self.rng("plan")
        cum = _zipf_cum_weights(rng, len(user_ids))
        weights = [b - a for a, b in zip([0.0, *cum[:-1]], cum, strict=True)]
        total_w = sum(weights)
        room = len(user_ids) * len(chapters) - len(existing)
        want = min(self.rows, room)
        if want < self.rows:
            self.notes.append(f"only {room} (user, chapter) pairs are free; capped")
        # chapters reached per user ~ activity weight, scaled so the total is `want`
        reach = [min(len(chapters), int(want * w / total_w)) for w in weights]
        order = list(range(len(user_ids)))
        rng.shuffle(order)
        total = sum(reach)
        while total < want:
            for u in order:
                if total >= want:
                    break
                if reach[u] < len(chapters):
                    reach[u] += 1
                    total += 1
        pairs = []
        for u in range(len(user_ids)):
            for c in range(len(chapters)):
                if c >= reach[u]:
                    break
                if (user_ids[u], chapters[c]) not in existing:
                    pairs.append((u, c))
        # --append: pairs that already exist were skipped; continue into later chapters
        for c in range(len(chapters)):
            if len(pairs) >= want:
                break
            for u in order:
                if len(pairs) >= want:
                    break
                if c >= reach[u] and (user_ids[u], chapters[c]) not in existing:
                    pairs.append((u, c))
                    reach[u] = max(reach[u], c + 1)
        self.pairs = pairs[:want]
        self.rows = len(self.pairs)
        self.user_ids, self.user_created, self.chapters = user_ids, user_created, chapters
        self.reach = reach

    def produce(self, start: int, n: int) -> dict[str, list[str]]:
        rng = self.rng("rows", start)
        rand, rr = rng.random, rng.randrange
        pairs = self.pairs[start : start + n]
        now = self.now_ms
        started = [
            self.user_created[u] + int((now - self.user_created[u]) * rand()) for u, _ in pairs
        ]
        done = [c < self.reach[u] - 1 or rand() < 0.5 for u, c in pairs]
        finished = [
            s + rr(HOUR_MS, 20 * DAY_MS) if d else None for s, d in zip(started, done, strict=True)
        ]
        finished = [None if f is None else min(f, now - 1) for f in finished]
        return {
            "user_id": [self.user_ids[u] for u, _ in pairs],
            "chapter_id": [self.chapters[c] for _, c in pairs],
            "completed_at": [NULL if f is None else self.ts([f])[0] for f in finished],
            "quiz_score": [
                str(min(100, 40 + int(60 * rand() ** 0.7))) if d and rand() < 0.8 else NULL
                for d in done
            ],
            "exercises_completed": [str(rr(0, 11) if d else rr(0, 4)) for d in done],
            "created_at": self.ts([min(s, now - 1) for s in started]),
            "updated_at": self.ts(
                [
                    min(now - 1, f if f is not None else s)
                    for s, f in zip(started, finished, strict=True)
                ]
            ),
        }


class ContentMetadata(AppTable):
    name = "content_metadata"

    def known(self) -> set[str]:
        return {
            "id",
            "chapter",
            "section",
            "title",
            "page_url",
            "description",
            "keywords",
            "created_at",
            "updated_at",
        }

    def setup(self, reader: DbReader) -> None:
        schema = f'"{self.table.schema}".' if self.table.schema else ""
        slugs: list[str] = []
        if _has_table(reader, self.table, "chapters"):
            slugs = [r[0] for r in reader.rows(f"SELECT slug FROM {schema}chapters ORDER BY id")]
        self.slugs = slugs or [f"{w}-{i}" for i, w in enumerate(WORDS[:40])]
        self.first_id = self.next_id(reader)

    def produce(self, start: int, n: int) -> dict[str, list[str]]:
        rng = self.rng("rows", start)
        ids = list(range(self.first_id + start, self.first_id + start + n))
        chapters = [rng.choice(self.slugs) for _ in range(n)]
        sections = [f"{rng.choice(WORDS)}-{rng.choice(WORDS)}" for _ in range(n)]
        created = _recent_ms(rng, self.now_ms, 365, n, 1.0)
        return {
            "id": [str(i) for i in ids],
            "chapter": [escape(c[:200]) for c in chapters],
            "section": [NULL if rng.random() < 0.1 else s for s in sections],
            "title": [escape(phrase(rng, 2, 7)) for _ in range(n)],
            "page_url": [
                escape(f"https://docs.example.com/{c}/{s}-{i}"[:2048])
                for c, s, i in zip(chapters, sections, ids, strict=True)
            ],
            "description": [escape(phrase(rng, 8, 30) + ".") for _ in range(n)],
            "keywords": [
                "{" + ",".join(rng.sample(WORDS, rng.randint(1, 6))) + "}" for _ in range(n)
            ],
            "created_at": self.ts(created),
            "updated_at": self.ts([c + rng.randrange(max(1, self.now_ms - c)) for c in created]),
        }


class Analytics(AppTable):
    """Events over the last 90 days: weekdays busier than weekends, afternoons busiest."""

    name = "analytics"
    EVENTS: ClassVar[tuple[str, ...]] = (
        "page_view",
        "message_sent",
        "chat_opened",
        "task_created",
        "task_completed",
        "login",
        "quiz_submitted",
    )
    CUM: ClassVar[tuple[int, ...]] = (50, 70, 80, 88, 94, 99, 100)
    HOURS: ClassVar[list[int]] = [
        1,
        1,
        1,
        1,
        1,
        2,
        3,
        5,
        7,
        8,
        9,
        9,
        8,
        9,
        10,
        10,
        9,
        8,
        7,
        6,
        5,
        4,
        3,
        2,
    ]

    def known(self) -> set[str]:
        return {"id", "event_type", "user_id", "conversation_id", "metadata", "timestamp"}

    def setup(self, reader: DbReader) -> None:
        schema = f'"{self.table.schema}".' if self.table.schema else ""
        self.user_ids: list[str] = []
        if _has_table(reader, self.table, "users"):
            self.user_ids = _users(reader, self.table)[0]
        self.cum = (
            _zipf_cum_weights(self.rng("weights"), len(self.user_ids)) if self.user_ids else []
        )
        self.conv_ids = array("q")
        if _has_table(reader, self.table, "conversations"):
            for (conv_id,) in reader.stream(f"SELECT id FROM {schema}conversations ORDER BY id"):
                self.conv_ids.append(conv_id)
        self.first_id = self.next_id(reader)
        today = self.now_ms - self.now_ms % DAY_MS
        days = [today - d * DAY_MS for d in range(1, 91)]
        # weekday weight 1.0, weekend 0.55 (1970-01-01 was a Thursday)
        day_w = [0.55 if ((d // DAY_MS) + 3) % 7 >= 5 else 1.0 for d in days]
        self.days = days
        self.day_cum = list(itertools.accumulate(day_w))
        self.hour_cum = list(itertools.accumulate(self.HOURS))
        rng = self.rng("pools")
        self.paths = [f"/docs/{rng.choice(WORDS)}/{rng.choice(WORDS)}" for _ in range(512)]

    def produce(self, start: int, n: int) -> dict[str, list[str]]:
        rng = self.rng("rows", start)
        rand, rr = rng.random, rng.randrange
        events = rng.choices(self.EVENTS, cum_weights=self.CUM, k=n)
        days = rng.choices(self.days, cum_weights=self.day_cum, k=n)
        hours = rng.choices(range(24), cum_weights=self.hour_cum, k=n)
        moments = [d + h * HOUR_MS + rr(HOUR_MS) for d, h in zip(days, hours, strict=True)]
        users = _pick(rng, self.cum, n) if self.cum else [-1] * n
        chat = ("message_sent", "chat_opened")
        convs = self.conv_ids
        meta = []
        for e in events:
            if e == "page_view":
                meta.append(f'{{"path": "{self.paths[rr(512)]}", "ms": {rr(20, 3000)}}}')
            elif e == "quiz_submitted":
                meta.append(f'{{"score": {rr(0, 101)}}}')
            else:
                meta.append("{}")
        return {
            "id": [str(i) for i in range(self.first_id + start, self.first_id + start + n)],
            "event_type": events,
            "user_id": [NULL if u < 0 or rand() < 0.2 else self.user_ids[u] for u in users],
            "conversation_id": [
                str(convs[rr(len(convs))]) if convs and e in chat else NULL for e in events
            ],
            "metadata": meta,
            "timestamp": self.ts(moments),
        }


GENERATORS: dict[str, type[AppTable]] = {
    cls.name: cls
    for cls in (
        Users,
        Tasks,
        Conversations,
        Messages,
        Modules,
        Chapters,
        ChapterProgress,
        ContentMetadata,
        Analytics,
    )
}
