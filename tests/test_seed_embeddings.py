"""Issue 14, item 6: the `embeddings` table (revision 0003, model, app generator)."""

from __future__ import annotations

import datetime as dt

from conftest import Cli
from conftest import execute as rows

from dbadmin.urls import DbUrl

NOW = dt.datetime(2026, 1, 15, tzinfo=dt.UTC)


def test_the_model_matches_the_migrated_table(cli: Cli, app_db: DbUrl) -> None:
    res = cli("migrate", "check", "-d", app_db.render(), "--json")
    assert res.exit_code == 0, res.stdout + res.stderr
    assert res.json()["drift"] == []  # type: ignore[index]
    columns = rows(
        app_db,
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name = 'embeddings' ORDER BY ordinal_position",
    )
    assert columns == [
        ("id", "bigint", "NO"),
        ("chapter", "character varying", "NO"),
        ("chunk_text", "text", "NO"),
        ("embedding_model", "character varying", "NO"),
        ("created_at", "timestamp with time zone", "NO"),
    ]


def test_embeddings_are_seeded_for_existing_chapters(cli: Cli, app_db: DbUrl) -> None:
    res = cli(
        "seed", "-d", app_db.render(), "--now", NOW.isoformat(),
        "--rows", "chapters=30", "--rows", "embeddings=3000", "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.stderr
    seeded = {t["table"]: t["rows"] for t in res.json()["tables"]}  # type: ignore[index]
    assert seeded["embeddings"] == 3000 and seeded["chapters"] == 30
    ((count, orphans, empty, newest, oldest),) = rows(
        app_db,
        "SELECT count(*), count(*) FILTER (WHERE chapter NOT IN (SELECT slug FROM chapters)), "
        "count(*) FILTER (WHERE chunk_text = ''), max(created_at), min(created_at) "
        "FROM embeddings",
    )
    assert (count, orphans, empty) == (3000, 0, 0)
    assert NOW - dt.timedelta(days=181) <= oldest and newest <= NOW
    models = dict(
        rows(app_db, "SELECT embedding_model, count(*) FROM embeddings GROUP BY 1 ORDER BY 2 DESC")
    )
    assert max(models, key=models.__getitem__) == "text-embedding-3-small"
    assert models["text-embedding-3-small"] > 0.7 * 3000 and len(models) == 4
    # every chapter has chunks, a few words to a few paragraphs each
    assert rows(app_db, "SELECT count(DISTINCT chapter) FROM embeddings")[0][0] == 30
    low, high = rows(
        app_db, "SELECT min(length(chunk_text)), max(length(chunk_text)) FROM embeddings"
    )[0]
    assert low > 100 and high < 5000
    # ids continue from the sequence: the application can insert next
    rows(
        app_db,
        "INSERT INTO embeddings (chapter, chunk_text, embedding_model) VALUES ('x', 'y', 'z') RETURNING id",
    )
