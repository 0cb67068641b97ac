"""Cost of dbadmin's safety: `dbadmin migrate up` vs plain `alembic upgrade head`.

Both run the same revisions against fresh databases on a throwaway embedded PostgreSQL; dbadmin
adds the advisory lock on a second connection, the blocker watch, per-revision SET LOCAL
timeouts and the checksum table. Measured for a fresh database (apply everything) and for a
database already at head (the common deploy case: nothing to do).

Run: .venv/bin/python bench/migrate.py [--runs 5]
Target: ratio dbadmin/alembic <= 1.5 for both.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO))


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True, env=env, cwd=tempfile.gettempdir())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    import psycopg2

    from dbadmin.local import embedded_cluster

    home = Path(tempfile.mkdtemp(prefix="dbadmin-bench-migrate-"))
    cluster = embedded_cluster(home)
    cluster.ensure_running()
    admin = cluster.url()
    base_env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PG", "DATABASE_", "DBADMIN_"))
    }

    def new_database() -> str:
        name = f"bench_{uuid.uuid4().hex[:10]}"
        conn = psycopg2.connect(**admin.connect_kwargs())
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        conn.close()
        return admin.with_database(name).render()

    results: dict[str, dict[str, list[float]]] = {
        "fresh": {"dbadmin": [], "alembic": []},
        "at head": {"dbadmin": [], "alembic": []},
    }
    try:
        for _ in range(args.runs):
            for tool in ("dbadmin", "alembic"):
                url = new_database()
                env = {**base_env, "DATABASE_URL": url, "DBADMIN_HOME": str(home)}
                cmd = (
                    [str(BIN / "dbadmin"), "migrate", "up", "-d", url]
                    if tool == "dbadmin"
                    else [str(BIN / "alembic"), "-c", str(REPO / "alembic.ini"), "upgrade", "head"]
                )
                results["fresh"][tool].append(timed(cmd, env))
                results["at head"][tool].append(timed(cmd, env))
    finally:
        cluster.stop()
        import shutil

        shutil.rmtree(home, ignore_errors=True)

    for case, by_tool in results.items():
        ours = statistics.median(by_tool["dbadmin"])
        theirs = statistics.median(by_tool["alembic"])
        print(f"{case:8}  dbadmin migrate up   median {ours * 1000:7.1f} ms over {args.runs} runs")
        print(
            f"{case:8}  alembic upgrade head median {theirs * 1000:7.1f} ms over {args.runs} runs"
        )
        print(f"{case:8}  ratio dbadmin/alembic = {ours / theirs:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
