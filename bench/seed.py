"""Seeding speed and memory: `dbadmin seed` vs raw COPY (psql \\copy of a CSV) vs ORM add_all.

Run: .venv/bin/python bench/seed.py [--messages 1000000] [--small 100000] [--orm-rows 50000]

On a throwaway embedded PostgreSQL (temp DBADMIN_HOME), migrated to head:
1. `dbadmin seed --profile load --rows messages=<small>` and `=<messages>` (subprocesses; peak
   RSS of each from wait4), rows/s of the messages table and of the whole run;
2. the same messages exported to CSV beforehand, table truncated, loaded with psql `\\copy`
   (psql from the embedded wheel): the practical limit;
3. SQLAlchemy ORM `session.add_all` + commit of <orm-rows> messages: what most projects write.
dbadmin's default drops and re-creates the secondary indexes and foreign keys around a big load
into an empty table (like pg_restore); `--keep-indexes` runs are shown too (same server work as
psql \\copy, so that ratio isolates generation + streaming).
Targets: dbadmin >= 0.6 x raw COPY, >= 20 x ORM, peak RSS < 250 MB and flat from small to large.
4. (first) the generic seeder (`--from-database`) on a 10-table shop schema, --generic-rows
   rows in all: rows/s of the whole run against the 100,000 rows/s target.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dbadmin.local import embedded_bin_dir, embedded_cluster  # noqa: E402
from dbadmin.settings import resolve  # noqa: E402
from dbadmin.urls import DbUrl  # noqa: E402

NOW = "2026-01-15T00:00:00+00:00"


def sql(url: DbUrl, statement: str) -> list[tuple]:
    import psycopg2

    conn = psycopg2.connect(**url.connect_kwargs())
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def new_database(admin: DbUrl, name: str) -> DbUrl:
    from dbadmin import migrate

    sql(admin, f'DROP DATABASE IF EXISTS "{name}"')
    sql(admin, f'CREATE DATABASE "{name}"')
    url = admin.with_database(name)
    migrate.upgrade(resolve(database_url=url.render(), environ={}), "head")
    return url


def run_seed(url: DbUrl, messages: int, *extra: str) -> tuple[dict, float, float]:
    """Seed as a subprocess; returns (json summary, wall seconds, peak RSS in MB)."""
    cmd = [sys.executable, "-m", "dbadmin", "seed", "-d", url.render(), "--profile", "load"]
    cmd += ["--rows", f"messages={messages}", "--seed", "42", "--now", NOW, "--json", *extra]
    out_path = Path(tempfile.mkstemp(suffix=".json")[1])
    started = time.perf_counter()
    with open(out_path, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"dbadmin seed failed ({proc.returncode}): {err}")
    summary = json.loads(out_path.read_text())
    out_path.unlink()
    return summary, wall, usage.ru_maxrss / 1024  # Linux: kilobytes


def messages_seconds(summary: dict) -> float:
    return next(t["seconds"] for t in summary["tables"] if t["table"] == "messages")


def psql(url: DbUrl, command: str) -> float:
    env = {**os.environ, **url.libpq_env()}
    started = time.perf_counter()
    subprocess.run(
        [str(embedded_bin_dir() / "psql"), "-X", "-q", "-c", command], env=env, check=True
    )
    return time.perf_counter() - started


def empty_messages(url: DbUrl) -> None:
    sql(url, "TRUNCATE messages")
    sql(url, "CHECKPOINT")


def orm_add_all(url: DbUrl, rows: int) -> float:
    """The usual ORM loop: build objects, session.add_all, commit."""
    import random

    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from dbadmin.models import Conversation, Message

    engine = create_engine(url.render(driver="psycopg2"))
    rng = random.Random(1)
    now = dt.datetime.fromisoformat(NOW)
    with Session(engine) as session:
        convs = session.execute(select(Conversation.id, Conversation.user_id)).all()
        started = time.perf_counter()
        objects = []
        for i in range(rows):
            conv_id, user_id = convs[rng.randrange(len(convs))]
            assistant = i % 2 == 1
            objects.append(
                Message(
                    conversation_id=conv_id,
                    user_id=None if assistant else user_id,
                    role="assistant" if assistant else "user",
                    content=f"message {i} " + "lorem ipsum " * rng.randint(3, 40),
                    citations=[{"chapter": "intro", "url": "/docs/intro"}] if assistant else [],
                    confidence=rng.random() if assistant else None,
                    tokens_used=rng.randint(10, 400),
                    created_at=now - dt.timedelta(seconds=rng.randrange(90 * 86400)),
                )
            )
        session.add_all(objects)
        session.commit()
        elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


GENERIC_SCHEMA = """
CREATE TABLE category (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE supplier (id serial PRIMARY KEY, company_name text NOT NULL, email text,
                       phone varchar(20), country text);
CREATE TABLE customer (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                       email text NOT NULL UNIQUE, first_name text NOT NULL,
                       last_name text NOT NULL, city text, postal_code varchar(10),
                       is_active int NOT NULL, created_at timestamptz NOT NULL);
CREATE TABLE product (id serial PRIMARY KEY, category_id int NOT NULL REFERENCES category,
                      supplier_id int REFERENCES supplier, name text NOT NULL,
                      price numeric(10,2) NOT NULL CHECK (price >= 0), stock int NOT NULL,
                      tags text[]);
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customer,
                     status text NOT NULL CHECK (status IN ('new', 'paid', 'shipped', 'done')),
                     ordered_at timestamptz NOT NULL, shipped_at timestamptz,
                     total numeric(12,2) NOT NULL);
CREATE TABLE order_item (id bigserial PRIMARY KEY, order_id bigint NOT NULL REFERENCES orders,
                         product_id int NOT NULL REFERENCES product,
                         quantity int NOT NULL CHECK (quantity > 0), amount numeric(10,2) NOT NULL);
CREATE TABLE payment (id bigserial PRIMARY KEY, order_id bigint NOT NULL REFERENCES orders,
                      amount numeric(12,2) NOT NULL, paid_at timestamptz NOT NULL, ref uuid);
CREATE TABLE shipment (id bigserial PRIMARY KEY, order_id bigint NOT NULL REFERENCES orders,
                       sent_at timestamptz NOT NULL, delivered_at timestamptz, carrier text);
CREATE TABLE review (id bigserial PRIMARY KEY, product_id int NOT NULL REFERENCES product,
                     customer_id bigint NOT NULL REFERENCES customer,
                     rating smallint NOT NULL CHECK (rating BETWEEN 1 AND 5), body text,
                     created_at timestamptz NOT NULL);
CREATE TABLE page_view (id bigserial PRIMARY KEY, customer_id bigint REFERENCES customer,
                        url text NOT NULL, ip_address inet, viewed_at timestamptz NOT NULL);
"""


def generic_bench(admin: DbUrl, rows: int) -> None:
    """The generic seeder on a 10-table schema: rows/s of the whole run (target 100,000)."""
    sql(admin, 'DROP DATABASE IF EXISTS "bench_generic"')
    sql(admin, 'CREATE DATABASE "bench_generic"')
    url = admin.with_database("bench_generic")
    sql(url, GENERIC_SCHEMA)
    share = {"order_item": 0.4, "page_view": 0.3, "payment": 0.1, "shipment": 0.1, "review": 0.1}
    cmd = [sys.executable, "-m", "dbadmin", "seed", "-d", url.render(), "--from-database"]
    cmd += ["--seed", "42", "--now", NOW, "--json"]
    for table, part in share.items():
        cmd += ["--rows", f"{table}={int(rows * part)}"]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"dbadmin seed --from-database failed: {proc.stderr}")
    summary = json.loads(proc.stdout)
    speed = summary["total_rows"] / summary["seconds"]
    print(
        f"generic seeder, 10 tables: {summary['total_rows']:,} rows in {summary['seconds']:.1f} s "
        f"(process {wall:.1f} s) -> {speed:,.0f} rows/s"
    )
    for t in summary["tables"]:
        print(f"  {t['table']:<12} {t['rows']:>9,} rows {t['rows_per_second']:>9,} rows/s")
    print(f"ratio generic/100,000 rows/s target = {speed / 100_000:.2f} (target >= 1.0)")
    sql(admin, 'DROP DATABASE "bench_generic"')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--orm-rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--generic-rows", type=int, default=500_000)
    parser.add_argument("--only-generic", action="store_true", help="skip the messages part")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="dbadmin-bench-seed-"))
    os.chmod(home, 0o755)
    cluster = embedded_cluster(home)
    cluster.ensure_running()
    admin = cluster.url()
    try:
        print(f"embedded PostgreSQL in {home}; cores: {os.cpu_count()}")
        generic_bench(admin, args.generic_rows)
        if args.only_generic:
            return
        small_db = new_database(admin, "bench_small")
        _, _, rss_small = run_seed(small_db, args.small)
        sql(admin, 'DROP DATABASE "bench_small"')
        large_db = new_database(admin, "bench_large")
        large, wall, rss_large = run_seed(large_db, args.messages)
        print(
            f"dbadmin seed --profile load --rows messages={args.messages}: "
            f"{large['total_rows']:,} rows in {large['seconds']:.1f} s (process {wall:.1f} s)"
        )
        for t in large["tables"]:
            print(
                f"  {t['table']:<14} {t['rows']:>10,} rows {t['seconds']:7.2f} s "
                f"{t['rows_per_second']:>9,} rows/s"
            )
        csv_path = home / "messages.csv"
        psql(large_db, f"\\copy messages TO '{csv_path}' WITH (FORMAT csv)")
        size_mb = csv_path.stat().st_size / 1e6
        # The machine is shared: alternate the two loads into the same (emptied) table, with
        # the same parents, and compare medians.
        ours_s = [messages_seconds(large)]
        raw_s: list[float] = []
        kept_s: list[float] = []  # --keep-indexes: COPY into the table as it is, like psql
        for _ in range(args.rounds):
            empty_messages(large_db)
            raw_s.append(psql(large_db, f"\\copy messages FROM '{csv_path}' WITH (FORMAT csv)"))
            empty_messages(large_db)
            again, _, _ = run_seed(large_db, args.messages, "--append")
            ours_s.append(messages_seconds(again))
            empty_messages(large_db)
            kept, _, _ = run_seed(large_db, args.messages, "--append", "--keep-indexes")
            kept_s.append(messages_seconds(kept))
        csv_path.unlink()
        ours = args.messages / statistics.median(ours_s)
        raw = args.messages / statistics.median(raw_s)
        print(
            f"dbadmin seed, messages table: {', '.join(f'{x:.1f}' for x in ours_s)} s "
            f"-> median {ours:,.0f} rows/s"
        )
        kept = args.messages / statistics.median(kept_s)
        print(
            f"dbadmin seed --keep-indexes, messages table: "
            f"{', '.join(f'{x:.1f}' for x in kept_s)} s -> median {kept:,.0f} rows/s"
        )
        print(
            f"raw psql \\copy of the same rows ({size_mb:.0f} MB CSV): "
            f"{', '.join(f'{x:.1f}' for x in raw_s)} s -> median {raw:,.0f} rows/s"
        )
        orm_seconds = orm_add_all(large_db, args.orm_rows)
        orm = args.orm_rows / orm_seconds
        print(
            f"ORM session.add_all of {args.orm_rows:,} messages: {orm_seconds:.2f} s, "
            f"{orm:,.0f} rows/s"
        )
        print(f"ratio dbadmin/raw COPY = {ours / raw:.2f} (target >= 0.6)")
        print(f"ratio dbadmin --keep-indexes/raw COPY = {kept / raw:.2f} (same server work)")
        print(f"ratio dbadmin/ORM      = {ours / orm:.1f} (target >= 20)")
        print(
            f"peak RSS of dbadmin seed: {rss_small:.0f} MB at {args.small:,} messages, "
            f"{rss_large:.0f} MB at {args.messages:,} (target < 250 MB, flat)"
        )
    finally:
        cluster.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
