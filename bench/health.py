"""`dbadmin health` speed on the embedded server.

1. Median wall time of `dbadmin health --json` as a subprocess (interpreter start included).
   Target: < 1.0 s.
2. `dbadmin health pool --duration 5 --concurrency 8` with `SELECT 1` and the default pool
   (10 + 20 overflow, pre_ping on): checkouts per second. Target: >= 2,000/s on 2 cores.

The embedded server is started first with `dbadmin local start` in a temporary DBADMIN_HOME
and destroyed afterwards.

Run: .venv/bin/python bench/health.py [--runs 7] [--duration 5] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
DBADMIN = str(BIN / "dbadmin")
HEALTH_TARGET_S = 1.0
POOL_TARGET = 2000.0


def run(args: list[str], env: dict[str, str], cwd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DBADMIN, *args], capture_output=True, text=True, env=env, cwd=cwd)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    home = tempfile.mkdtemp(prefix="dbadmin-bench-health-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "DATABASE_"))}
    env.update(DBADMIN_HOME=home, NO_COLOR="1")
    try:
        started = run(["local", "start"], env, home)
        if started.returncode != 0:
            sys.exit(f"dbadmin local start failed: {started.stderr}")
        warm = run(["health", "--json"], env, home)  # warm caches and the server's stats
        json.loads(warm.stdout)
        times = []
        for _ in range(args.runs):
            began = time.perf_counter()
            proc = run(["health", "--json"], env, home)
            times.append(time.perf_counter() - began)
            doc = json.loads(proc.stdout)
        median = statistics.median(times)
        print(
            f"dbadmin health --json   median {median * 1000:7.1f} ms over {args.runs} runs "
            f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}; checks themselves "
            f"{doc['elapsed_ms']:.0f} ms; status {doc['status']})"
        )
        print(
            f"  ratio to target {HEALTH_TARGET_S:.1f} s = {median / HEALTH_TARGET_S:.2f} (<= 1.00 passes)"
        )

        pool = run(
            [
                "health",
                "pool",
                "--duration",
                f"{args.duration:g}",
                "--concurrency",
                str(args.concurrency),
                "--json",
            ],
            env,
            home,
        )
        result = json.loads(pool.stdout)
        load = result["load"]
        rate = load["checkouts_per_s"]
        print(
            f"dbadmin health pool     {rate:9,.0f} checkouts/s at K={args.concurrency} for "
            f"{load['duration_s']:.1f} s ({load['checkouts']:,} checkouts; wait p50 "
            f"{load['wait_ms']['p50']:.2f} ms p95 {load['wait_ms']['p95']:.2f} ms; query p50 "
            f"{load['query_ms']['p50']:.2f} ms; status {result['status']})"
        )
        print(f"  ratio to target {POOL_TARGET:,.0f}/s = {rate / POOL_TARGET:.2f} (>= 1.00 passes)")
    finally:
        run(["local", "destroy", "--yes"], env, home)
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
