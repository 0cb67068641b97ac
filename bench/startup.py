"""Start-up time: `dbadmin --help` vs `alembic --help` (lazy imports keep dbadmin's CLI light).

Run: .venv/bin/python bench/startup.py [--runs 15]
Target: ratio dbadmin/alembic <= 0.35.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def median_wall(cmd: list[str], runs: int) -> float:
    subprocess.run(cmd, capture_output=True, check=True)  # warm the page cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    ours = median_wall([str(BIN / "dbadmin"), "--help"], args.runs)
    theirs = median_wall([str(BIN / "alembic"), "--help"], args.runs)
    print(f"dbadmin --help   median {ours * 1000:7.1f} ms over {args.runs} runs")
    print(f"alembic --help   median {theirs * 1000:7.1f} ms over {args.runs} runs")
    print(f"ratio dbadmin/alembic = {ours / theirs:.2f} (target <= 0.35)")


if __name__ == "__main__":
    main()
