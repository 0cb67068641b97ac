"""App generators: users and their activity (tasks, conversations, messages)."""

from __future__ import annotations

import bisect
import itertools
import json
from array import array
from typing import TYPE_CHECKING, ClassVar

from dbadmin.models.tasks import PRIORITIES
from dbadmin.seed.app_base import (
    HOUR_MS,
    ROLES,
    AppTable,
    existing_users,
    has_table,
    pick_weighted,
    recent_ms,
    zipf_cum_weights,
)
from dbadmin.seed.copy import NULL, escape
from dbadmin.seed.text import DAY_MS, FIRST_NAMES, LAST_NAMES, WORDS, phrase, uuid_text
from dbadmin.seed.values import Unfillable

if TYPE_CHECKING:
    from dbadmin.seed.load import DbReader


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
        created = recent_ms(rng, self.now_ms, 730, n, skew=1.6)
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
            "last_login": [self.ts([v])[0] if isinstance(v, int) else NULL for v in last_login],
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
        self.user_ids, self.user_created = existing_users(reader, self.table)
        if not self.user_ids:
            raise Unfillable("tasks need users, and users has no rows")
        self.cum = zipf_cum_weights(self.rng("weights"), len(self.user_ids))
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
        users = pick_weighted(rng, self.cum, n)
        now = self.now_ms
        created = [
            max(self.user_created[u] + 1, c)
            for u, c in zip(users, recent_ms(rng, now, 180, n, 1.5), strict=True)
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
            "due_date": [self.ts([d])[0] if isinstance(d, int) else NULL for d in due],
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
        self.user_ids, self.user_created = existing_users(reader, self.table)
        self.cum = (
            zipf_cum_weights(self.rng("weights"), len(self.user_ids)) if self.user_ids else []
        )
        self.first_id = self.next_id(reader)

    def produce(self, start: int, n: int) -> dict[str, list[str]]:
        rng = self.rng("rows", start)
        rand, ch, bits = rng.random, rng.choice, rng.getrandbits
        now = self.now_ms
        users = pick_weighted(rng, self.cum, n) if self.cum else [-1] * n
        anonymous = [u < 0 or rand() < 0.15 for u in users]
        created = recent_ms(rng, now, 90, n, 1.8)
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
        if has_table(reader, self.table, "chapters"):
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
