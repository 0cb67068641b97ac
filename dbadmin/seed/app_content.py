"""App generators: course content (modules, chapters, metadata), progress, analytics."""

from __future__ import annotations

import itertools
import math
from array import array
from typing import TYPE_CHECKING, ClassVar

from dbadmin.seed.app_base import (
    HOUR_MS,
    AppTable,
    existing_users,
    has_table,
    pick_weighted,
    recent_ms,
    zipf_cum_weights,
)
from dbadmin.seed.copy import NULL, escape
from dbadmin.seed.text import DAY_MS, WORDS, phrase
from dbadmin.seed.values import Unfillable

if TYPE_CHECKING:
    from dbadmin.seed.load import DbReader


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
        user_ids, user_created = existing_users(reader, self.table)
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
        cum = zipf_cum_weights(rng, len(user_ids))
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
        if has_table(reader, self.table, "chapters"):
            slugs = [r[0] for r in reader.rows(f"SELECT slug FROM {schema}chapters ORDER BY id")]
        self.slugs = slugs or [f"{w}-{i}" for i, w in enumerate(WORDS[:40])]
        self.first_id = self.next_id(reader)

    def produce(self, start: int, n: int) -> dict[str, list[str]]:
        rng = self.rng("rows", start)
        ids = list(range(self.first_id + start, self.first_id + start + n))
        chapters = [rng.choice(self.slugs) for _ in range(n)]
        sections = [f"{rng.choice(WORDS)}-{rng.choice(WORDS)}" for _ in range(n)]
        created = recent_ms(rng, self.now_ms, 365, n, 1.0)
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


class Embeddings(AppTable):
    """Chunks of the chapters' text, a few hundred words each, most of them embedded with the
    current model and some still with older ones (what a re-embedding leaves behind)."""

    name = "embeddings"
    MODELS: ClassVar[list[str]] = ["text-embedding-3-small"] * 16 + [
        "text-embedding-3-large",
        "text-embedding-3-large",
        "text-embedding-ada-002",
        "bge-m3",
    ]

    def known(self) -> set[str]:
        return {"id", "chapter", "chunk_text", "embedding_model", "created_at"}

    def setup(self, reader: DbReader) -> None:
        schema = f'"{self.table.schema}".' if self.table.schema else ""
        slugs: list[str] = []
        if has_table(reader, self.table, "chapters"):
            slugs = [r[0] for r in reader.rows(f"SELECT slug FROM {schema}chapters ORDER BY id")]
        self.slugs = slugs or [f"{w}-{i}" for i, w in enumerate(WORDS[:40])]
        rng = self.rng("chunks")
        self.chunks = [
            escape(" ".join(phrase(rng, 8, 24) + "." for _ in range(rng.randint(3, 12))))
            for _ in range(512)
        ]
        self.first_id = self.next_id(reader)

    def produce(self, start: int, n: int) -> dict[str, list[str]]:
        rng = self.rng("rows", start)
        created = recent_ms(rng, self.now_ms, 180, n, 1.5)
        return {
            "id": [str(i) for i in range(self.first_id + start, self.first_id + start + n)],
            "chapter": [escape(rng.choice(self.slugs)[:200]) for _ in range(n)],
            "chunk_text": rng.choices(self.chunks, k=n),
            "embedding_model": rng.choices(self.MODELS, k=n),
            "created_at": self.ts(created),
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
        if has_table(reader, self.table, "users"):
            self.user_ids = existing_users(reader, self.table)[0]
        self.cum = (
            zipf_cum_weights(self.rng("weights"), len(self.user_ids)) if self.user_ids else []
        )
        self.conv_ids = array("q")
        if has_table(reader, self.table, "conversations"):
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
        users = pick_weighted(rng, self.cum, n) if self.cum else [-1] * n
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
