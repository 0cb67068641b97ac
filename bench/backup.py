"""Backup/restore overhead: dbadmin vs the same pg_dump/pg_restore run directly.

Seeds a throwaway embedded PostgreSQL 18 with >= --size-mb of data, then measures (median of
--runs). `--data app` (the default): the application schema migrated to head and filled with
`dbadmin seed --profile load` (appended until the size is reached: JSONB, secondary indexes,
foreign keys, 11 tables); `--data synthetic`: four generate_series tables with only a primary key
(the cheapest possible restore, so dbadmin's fixed work weighs most):
  1. `dbadmin backup --format custom`  vs  the same pg_dump binary, same options     (<= 1.05)
  2. `dbadmin restore`                 vs  pg_restore with the same options           (<= 1.05)
     and vs pg_restore followed by `vacuumdb --analyze-only` (what pg_restore's docs advise);
     also `dbadmin restore --thorough` (count(*) and ANALYZE of every table)
  3. `dbadmin backup --format directory --jobs 2`  vs  `--jobs 1`
  4. peak RSS of the dbadmin process itself (RUSAGE_SELF at exit, not pg_dump's)   (< 100 MB)
dbadmin's extra work is included on purpose: snapshot export + exact row counts (in parallel
with pg_dump), fsync, sha256 of the output, manifest; for restore: checksum verification,
target checks, the row counts confirmed (server insert counters, count(*) where they cannot
confirm) and ANALYZE of what lacks current statistics. pg_dump 18 runs with --statistics on
both sides, as dbadmin runs it, so both restores load the same planner statistics.

With --s3: a backup streamed to a local S3-compatible server vs into a directory, peak RSS and
peak local disk use (bench/backup_s3.py).

Run: .venv/bin/python bench/backup.py [--size-mb 500] [--runs 2] [--data app|synthetic] [--s3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dbadmin.backup.binaries import choose
from dbadmin.local import Cluster, embedded_bin_dir

WRAPPER = (
    "import atexit, resource, sys\n"
    "atexit.register(lambda: sys.stderr.write("
    "f'BENCH_MAXRSS_KB={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\\n'))\n"
    "from dbadmin.cli import main\n"
    "sys.argv = ['dbadmin', *sys.argv[1:]]\n"
    "main()\n"
)
TABLE_SQL = """
CREATE TABLE IF NOT EXISTS {t} (
    id bigint PRIMARY KEY, account int NOT NULL, kind text NOT NULL,
    payload text NOT NULL, created timestamptz NOT NULL
)
"""
CHUNK_SQL = """
INSERT INTO {t}
SELECT g, g % 10007, 'kind-' || (g % 17),
       md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text),
       '2024-01-01'::timestamptz + g * interval '1 second'
FROM generate_series({lo}, {hi}) g
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def psql(cluster: Cluster, sql: str, db: str = "postgres") -> str:
    out = subprocess.run(
        [str(cluster.bin_dir / "psql"), "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql],
        env={**os.environ, **cluster.url(db).libpq_env()},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def seed_app(cluster: Cluster, db: str, size_mb: int) -> int:
    """The app schema at head, then `dbadmin seed --profile load` until size_mb is reached."""
    psql(cluster, f"CREATE DATABASE {db}")
    url = cluster.url(db).render()
    run = [sys.executable, "-m", "dbadmin", "-d", url]
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    subprocess.run([*run, "migrate", "up"], env=env, check=True, capture_output=True)
    extra: list[str] = []
    for seed_value in range(1, 100):
        subprocess.run(
            [*run, "seed", "--profile", "load", "--seed", str(seed_value), *extra],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        extra = ["--append"]
        size = int(psql(cluster, "SELECT pg_database_size(current_database())", db))
        if size >= size_mb * 1024 * 1024:
            psql(cluster, "VACUUM ANALYZE", db)
            return size
    raise SystemExit("could not reach the requested size")


def seed(cluster: Cluster, db: str, size_mb: int) -> int:
    psql(cluster, f"CREATE DATABASE {db}")
    tables = [f"events_{i}" for i in range(4)]
    for t in tables:
        psql(cluster, TABLE_SQL.format(t=t), db)
    rows_per_chunk, next_id = 250_000, 1
    while True:
        size = int(psql(cluster, "SELECT pg_database_size(current_database())", db))
        if size >= size_mb * 1024 * 1024:
            psql(cluster, "VACUUM ANALYZE", db)
            return size
        for t in tables:
            psql(cluster, CHUNK_SQL.format(t=t, lo=next_id, hi=next_id + rows_per_chunk - 1), db)
        next_id += rows_per_chunk


def timed(
    argv: list[str], env: dict[str, str], stdout: Path | None = None
) -> tuple[float, int | None]:
    """Wall seconds and (for dbadmin runs) the dbadmin process's own peak RSS in kB."""
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if stdout is not None:
        stdout.write_text(proc.stdout)
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(argv)}\n{proc.stderr[-2000:]}")
    rss = None
    for line in proc.stderr.splitlines():
        if line.startswith("BENCH_MAXRSS_KB="):
            rss = int(line.split("=", 1)[1])
    return elapsed, rss


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--data", choices=("app", "synthetic"), default="app")
    parser.add_argument(
        "--s3", action="store_true", help="backup to a local S3 server vs a directory instead"
    )
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="dbadmin-bench-backup-"))
    os.chmod(root, 0o755)
    sock = Path(tempfile.mkdtemp(prefix="dbadmin-bench-sock-"))
    os.chmod(sock, 0o777)
    cluster = Cluster(
        bin_dir=embedded_bin_dir(),
        pgdata=root / "pgdata",
        socket_dir=sock,
        port=free_port(),
        conf={
            "listen_addresses": "''",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_wal_size": "'2GB'",
            "maintenance_work_mem": "'256MB'",
            "logging_collector": "off",
        },
    )
    cluster.ensure_running()
    try:
        t0 = time.perf_counter()
        size = (seed_app if args.data == "app" else seed)(cluster, "bench", args.size_mb)
        print(f"seeded {size / 1024**2:.0f} MB ({args.data}) in {time.perf_counter() - t0:.0f} s")
        # seeding ran with fsync off; the measurements use production durability settings
        psql(cluster, "ALTER SYSTEM SET fsync = on")
        psql(cluster, "ALTER SYSTEM SET synchronous_commit = on")
        psql(cluster, "ALTER SYSTEM SET full_page_writes = on")
        psql(cluster, "SELECT pg_reload_conf()")
        psql(cluster, "CHECKPOINT")
        url = cluster.url("bench")
        pg_dump = choose(18, False, "pg_dump").binary
        pg_restore = choose(18, False, "pg_restore").binary
        assert pg_dump and pg_restore
        print(f"pg_dump {pg_dump.describe()}")
        out = root / "out"
        out.mkdir()
        restore_json = root / "restore.json"
        # dbadmin runs from compiled bytecode, as an installed copy does (pip compiles it at
        # install time); a PYTHONDONTWRITEBYTECODE environment (this sandbox sets it) would make
        # every run compile dbadmin's modules from source (~30 ms) in an editable checkout
        env = {
            **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
            "DBADMIN_HOME": str(root / "home"),
        }
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(Path(__file__).parents[1] / "dbadmin")],
            env=env, check=True,
        )  # fmt: skip
        libpq = {
            **{k: v for k, v in os.environ.items() if not k.startswith("PG")},
            **url.libpq_env(),
        }
        dbadmin = [sys.executable, "-c", WRAPPER]
        if args.s3:
            from backup_s3 import s3_bench

            s3_bench(url, env, dbadmin, root, args.runs)
            return
        results: dict[str, list[float]] = {}
        peak_rss: list[int] = []

        def record(key: str, seconds: float, rss: int | None) -> None:
            results.setdefault(key, []).append(seconds)
            if rss:
                peak_rss.append(rss)

        def clear() -> None:
            for item in out.iterdir():
                shutil.rmtree(item) if item.is_dir() else item.unlink()

        for run in range(args.runs):
            # 1. custom format: dbadmin vs pg_dump directly (the order alternates per run)
            clear()
            direct_dump = [
                str(pg_dump.path), "--format=custom", f"--file={out / 'direct.dump'}", "-w",
                *(["--statistics"] if pg_dump.major >= 18 else []),  # as dbadmin runs it
            ]  # fmt: skip
            ours_dump = [
                *dbadmin, "backup", "-d", url.render(), "--dir", str(out), "--name", f"c{run}",
            ]  # fmt: skip
            for key in ("pg_dump custom", "dbadmin backup custom")[:: 1 if run % 2 == 0 else -1]:
                psql(cluster, "CHECKPOINT")
                if key == "pg_dump custom":
                    seconds, rss = timed(direct_dump, libpq)
                else:
                    seconds, rss = timed(ours_dump, env)
                    timings = json.loads((out / f"c{run}.manifest.json").read_text())["timings"]
                    for name, value in timings.items():
                        results.setdefault(f"  inside dbadmin backup: {name}", []).append(value)
                record(key, seconds, rss)
            dump_size = (out / f"c{run}.dump").stat().st_size
            # 2. restore: dbadmin vs pg_restore into fresh empty databases
            keys = (
                "pg_restore",
                "pg_restore + vacuumdb --analyze-only",
                "dbadmin restore",
                "dbadmin restore --thorough",
            )
            for key in keys[:: 1 if run % 2 == 0 else -1]:
                psql(cluster, "DROP DATABASE IF EXISTS target")
                psql(cluster, "CREATE DATABASE target")
                psql(cluster, "CHECKPOINT")  # no run pays for the previous one's dirty pages
                if key.startswith("pg_restore"):
                    argv = [
                        str(pg_restore.path), "--dbname=target", "--no-owner", "--no-privileges",
                        "--no-password", "--single-transaction", "--exit-on-error",
                        str(out / "direct.dump"),
                    ]  # fmt: skip
                    seconds, rss = timed(argv, libpq)
                    if key != "pg_restore":  # what the pg_restore docs advise after a restore
                        analyze = [
                            str(pg_restore.path.parent / "vacuumdb"), "--analyze-only",
                            "--jobs=2", "--dbname=target", "--no-password", "--quiet",
                        ]  # fmt: skip
                        extra, _ = timed(analyze, libpq)
                        seconds += extra
                else:
                    argv = [
                        *dbadmin, "restore", f"c{run}", "--dir", str(out), "-d", url.render(),
                        "--target-url", cluster.url("target").render(), "--yes", "--json",
                        *(["--thorough"] if key.endswith("--thorough") else []),
                    ]  # fmt: skip
                    seconds, rss = timed(argv, env, stdout=restore_json)
                    inner = json.loads(restore_json.read_text())
                    for name, label in (
                        ("restore_seconds", "pg_restore"),
                        ("checksum_seconds", "checksum"),
                        ("analyze_seconds", "ANALYZE (parallel)"),
                        ("count_seconds", "count(*)"),
                    ):
                        results.setdefault(f"  inside {key}: {label}", []).append(inner[name])
                    if run == 0:
                        print(
                            f"{key}: {len(inner['analyzed'])} of {len(inner['row_counts'])} "
                            f"tables analyzed, {len(inner['counted_by_scan'])} counted by scan"
                        )
                record(key, seconds, rss)
            psql(cluster, "DROP DATABASE IF EXISTS target")
            # 3. directory format, --jobs 1 vs --jobs 2
            clear()
            for jobs in (1, 2):
                seconds, rss = timed(
                    [*dbadmin, "backup", "-F", "directory", "-j", str(jobs), "-d", url.render(),
                     "--dir", str(out), "--name", f"d{jobs}-{run}"],
                    env,
                )  # fmt: skip
                record(f"dbadmin backup directory --jobs {jobs}", seconds, rss)

        med = {key: statistics.median(values) for key, values in results.items()}
        print(f"custom dump size {dump_size / 1024**2:.0f} MB; median of {args.runs} run(s):")
        for key, value in med.items():
            runs = ", ".join(f"{v:.2f}" for v in results[key])
            print(f"  {key:38} {value:7.2f} s   (runs: {runs})")
        backup_ratio = med["dbadmin backup custom"] / med["pg_dump custom"]
        restore_ratio = med["dbadmin restore"] / med["pg_restore"]
        jobs_ratio = (
            med["dbadmin backup directory --jobs 2"] / med["dbadmin backup directory --jobs 1"]
        )
        # This box is shared: the tool's own run time varies far more than dbadmin's work around
        # it. So also: dbadmin's overhead (its wall time minus its own pg_dump/pg_restore time,
        # measured in the same run) added to the direct tool's median.
        dump_extra = statistics.median(
            a - b
            for a, b in zip(
                results["dbadmin backup custom"],
                results["  inside dbadmin backup: pg_dump_seconds"],
                strict=True,
            )
        )
        restore_extra = statistics.median(
            a - b
            for a, b in zip(
                results["dbadmin restore"],
                results["  inside dbadmin restore: pg_restore"],
                strict=True,
            )
        )
        print(f"ratio dbadmin backup / pg_dump      = {backup_ratio:.3f} (target <= 1.05)")
        print(
            f"  dbadmin's own work around pg_dump   = {dump_extra:.2f} s -> ratio "
            f"{(med['pg_dump custom'] + dump_extra) / med['pg_dump custom']:.3f}"
        )
        print(f"ratio dbadmin restore / pg_restore  = {restore_ratio:.3f} (target <= 1.05)")
        print(
            f"  dbadmin's own work around pg_restore = {restore_extra:.2f} s -> ratio "
            f"{(med['pg_restore'] + restore_extra) / med['pg_restore']:.3f}"
        )
        analyzed = med["pg_restore + vacuumdb --analyze-only"]
        print(
            f"ratio dbadmin restore / (pg_restore + vacuumdb --analyze-only) = "
            f"{med['dbadmin restore'] / analyzed:.3f} (dbadmin also checks sha256 and counts rows)"
        )
        print(
            f"ratio dbadmin restore --thorough / pg_restore = "
            f"{med['dbadmin restore --thorough'] / med['pg_restore']:.3f} "
            "(count(*) and ANALYZE of every table)"
        )
        print(f"ratio directory --jobs 2 / --jobs 1 = {jobs_ratio:.3f} (lower is better)")
        print(
            f"peak RSS of the dbadmin process     = {max(peak_rss) / 1024:.1f} MB "
            f"(target < 100 MB; database {size / 1024**2:.0f} MB)"
        )
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(sock, ignore_errors=True)


if __name__ == "__main__":
    main()
