"""`bench/backup.py --s3`: a backup streamed to a local S3-compatible server vs into a directory.

Both runs are `dbadmin backup --format custom` of the same database, alternating order: one to
`--dir DIR`, one to `--dir s3://bench/nightly` on moto's server (in this process, on a loopback
port; objects kept in memory). Reports the ratio (directory seconds / S3 seconds: goal >= 0.9,
i.e. S3 at most ~11% slower), the dbadmin process's peak RSS, and the peak local disk use during
the S3 backup (sampled every 50 ms over the dbadmin process's TMPDIR and DBADMIN_HOME: the FIFO
holds no data, so this should stay ~0).
"""

from __future__ import annotations

import logging
import os
import shutil
import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Any


def _tree_bytes(*roots: Path) -> int:
    total = 0
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            for name in files:
                try:
                    total += os.lstat(os.path.join(dirpath, name)).st_size
                except OSError:
                    pass
    return total


def _timed_with_disk(
    argv: list[str], env: dict[str, str], watch: list[Path]
) -> tuple[float, int, int]:
    """Wall seconds, peak RSS (kB, from the wrapper), peak bytes under ``watch``."""
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.05):
            peak = max(peak, _tree_bytes(*watch))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {proc.stderr[-2000:]}")
    rss = next(
        (
            int(x.split("=", 1)[1])
            for x in proc.stderr.splitlines()
            if x.startswith("BENCH_MAXRSS_KB=")
        ),
        0,
    )
    return elapsed, rss, peak


def s3_bench(url: Any, env: dict[str, str], dbadmin: list[str], root: Path, runs: int) -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    aws = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }
    client = boto3.client("s3", endpoint_url=endpoint, **{
        "aws_access_key_id": "bench", "aws_secret_access_key": "bench-secret",
        "region_name": "us-east-1",
    })  # fmt: skip
    client.create_bucket(Bucket="bench")
    tmp = root / "tmp"
    tmp.mkdir()
    out = root / "out-s3"
    env = {**env, **aws, "TMPDIR": str(tmp)}
    results: dict[str, list[float]] = {"directory": [], "s3": []}
    rss: dict[str, list[int]] = {"directory": [], "s3": []}
    disk: dict[str, list[int]] = {"directory": [], "s3": []}
    size = 0
    try:
        for run in range(runs):
            order = ("directory", "s3") if run % 2 == 0 else ("s3", "directory")
            for kind in order:
                where = str(out) if kind == "directory" else "s3://bench/nightly"
                watch = [tmp, Path(env["DBADMIN_HOME"])] + ([out] if kind == "directory" else [])
                argv = [*dbadmin, "backup", "-d", url.render(), "--dir", where, "--name", f"r{run}"]
                seconds, peak_rss, peak_disk = _timed_with_disk(argv, env, watch)
                results[kind].append(seconds)
                rss[kind].append(peak_rss)
                disk[kind].append(peak_disk)
            size = client.head_object(Bucket="bench", Key=f"nightly/r{run}.dump")["ContentLength"]
            client.delete_object(Bucket="bench", Key=f"nightly/r{run}.dump")  # moto keeps RAM
            shutil.rmtree(out, ignore_errors=True)
    finally:
        server.stop()
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"custom dump size {size / 1024**2:.0f} MB; median of {runs} run(s):")
    for kind in ("directory", "s3"):
        runs_text = ", ".join(f"{v:.2f}" for v in results[kind])
        print(
            f"  dbadmin backup to {kind:9} {med[kind]:7.2f} s (runs: {runs_text}); peak RSS "
            f"{max(rss[kind]) / 1024:.0f} MB; peak local disk {max(disk[kind]) / 1024**2:.1f} MB"
        )
    print(
        f"ratio directory / s3 = {med['directory'] / med['s3']:.3f} (goal >= 0.9: S3 at most "
        "~11% slower than the local directory)"
    )
