"""`bench/backup.py --s3`: a backup streamed to a local S3-compatible server vs into a directory.

Both runs are `dbadmin backup --format custom` of the same database, alternating order: one to
`--dir DIR`, one to `--dir s3://bench/nightly` on moto's server (in this process, on a loopback
port; objects kept in memory). Reports the ratio (directory seconds / S3 seconds: goal >= 0.9,
i.e. S3 at most ~11% slower), the dbadmin process's peak RSS, and the peak local disk use during
the S3 backup (sampled every 50 ms, with the dbadmin process's VmHWM, over the dbadmin process's TMPDIR and DBADMIN_HOME: the FIFO
holds no data, so this should stay ~0).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
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


def _hwm_kb(pid: int) -> int:
    """The process's own peak RSS (VmHWM: per address space, so not inflated by the parent's
    size the way ``ru_maxrss`` is, which survives exec)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _timed_with_disk(
    argv: list[str], env: dict[str, str], watch: list[Path]
) -> tuple[float, int, int]:
    """Wall seconds, peak RSS of the dbadmin process (kB), peak bytes under ``watch``."""
    peak = rss = 0
    done = threading.Event()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def sample() -> None:
        nonlocal peak, rss
        while not done.wait(0.05):
            peak = max(peak, _tree_bytes(*watch))
            rss = max(rss, _hwm_kb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _out, err = proc.communicate()
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {err.decode()[-2000:]}")
    return elapsed, rss, peak


def s3_bench(url: Any, env: dict[str, str], dbadmin: list[str], root: Path, runs: int) -> None:
    import boto3
    from backup import free_port

    # moto in its own process, as a real store would be: not competing with this one
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
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
    for _ in range(100):
        try:
            client.create_bucket(Bucket="bench")
            break
        except Exception:  # not listening yet
            time.sleep(0.1)
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
            client.delete_object(Bucket="bench", Key=f"nightly/r{run}.dump")  # moto keeps it in RAM
            shutil.rmtree(out, ignore_errors=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
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
