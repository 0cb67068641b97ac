"""Benchmark: `dbadmin slow-queries log` vs pgBadger (-j 1 and -j 2), per log format.

Generates (once, cached) real server logs of one workload, the stderr one at least --size-mb MB,
with csvlog and jsonlog written at the same time: the embedded PostgreSQL 18 with
logging_collector, log_min_duration_statement=0 and log_line_prefix '%m [%p] %q%u@%d ', driven by
pgbench's built-in TPC-B-like script (simple protocol) plus custom scripts: a multi-line report
query, an extended-protocol lookup (execute + DETAIL parameters) and a failing statement (ERROR +
STATEMENT). Then times each tool on the same files and prints MB/s per format, the ratios to
pgBadger, the cost of N+1 detection (the same run with --n-plus-one-min 0), query counts and the
peak RSS of dbadmin. dbadmin's figure is the median of --repeat runs (their spread is printed);
each tool's CPU time (user + system) and the CPU-time ratio are printed too: on a shared machine
the wall-time ratio moves with the other load, the CPU-time ratio much less.

    .venv/bin/python bench/slowlog.py [--size-mb 200] [--log PATH] [--regenerate]

Needs pgBadger (Debian: apt-get install -y pgbadger).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dbadmin.local import Cluster, embedded_bin_dir  # noqa: E402

DEFAULT_LOG = Path(tempfile.gettempdir()) / "dbadmin-bench-slowlog" / "postgresql.log"
PREFIX = "%m [%p] %q%u@%d "

REPORT_SQL = """\
SELECT b.bid,
       count(*) AS accounts,
       sum(a.abalance) AS balance
FROM pgbench_accounts a
JOIN pgbench_branches b ON b.bid = a.bid
WHERE a.aid BETWEEN :lo AND :lo + 50
GROUP BY b.bid
ORDER BY b.bid;
"""
LOOKUP_SQL = "SELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n"
FAILING_SQL = "SELECT * FROM no_such_table WHERE id = :id;\n"


def generate(log_path: Path, size_mb: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="dbadmin-bench-"))
    sock = Path(tempfile.mkdtemp(prefix="dbadmin-bench-sock-"))
    os.chmod(sock, 0o777)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cluster = Cluster(
        bin_dir=embedded_bin_dir(),
        pgdata=work / "pgdata",
        socket_dir=sock,
        port=port,
        conf={
            "listen_addresses": "''",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "logging_collector": "on",
            "log_directory": "'collected'",
            "log_filename": "'postgresql.log'",
            "log_destination": "'stderr,csvlog,jsonlog'",
            "log_rotation_age": "0",
            "log_rotation_size": "0",
            "log_min_duration_statement": "0",
            "log_line_prefix": f"'{PREFIX}'",
            "log_checkpoints": "on",
            "log_connections": "on",
        },
    )
    cluster.ensure_running()
    bench = str(cluster.bin_dir / "pgbench")
    conn = ["-h", str(sock), "-p", str(port), "-U", "postgres"]
    try:
        subprocess.run(
            [bench, "-i", "-s", "2", "-q", *conn, "postgres"], check=True, capture_output=True
        )
        scripts = work / "scripts"
        scripts.mkdir()
        (scripts / "report.sql").write_text("\\set lo random(1, 199000)\n" + REPORT_SQL)
        (scripts / "lookup.sql").write_text("\\set aid random(1, 200000)\n" + LOOKUP_SQL)
        (scripts / "fail.sql").write_text("\\set id random(1, 1000)\n" + FAILING_SQL)
        produced = work / "pgdata" / "collected" / "postgresql.log"
        started = time.monotonic()
        while not produced.exists() or produced.stat().st_size < size_mb * 1_000_000:
            # simple protocol: TPC-B-like + report; extended protocol: lookups
            subprocess.run(
                [bench, "-n", "-c", "4", "-j", "2", "-t", "5000", "-b", "tpcb-like@8",
                 "-f", f"{scripts / 'report.sql'}@1", *conn, "postgres"],
                check=True, capture_output=True,
            )  # fmt: skip
            subprocess.run(
                [bench, "-n", "-c", "2", "-j", "2", "-t", "5000", "-M", "extended",
                 "-f", f"{scripts / 'lookup.sql'}@1", *conn, "postgres"],
                check=True, capture_output=True,
            )  # fmt: skip
            subprocess.run(
                [
                    bench,
                    "-n",
                    "-c",
                    "1",
                    "-t",
                    "20",
                    "-f",
                    str(scripts / "fail.sql"),
                    *conn,
                    "postgres",
                ],
                capture_output=True,
            )  # fmt: skip  (fails on purpose: ERROR + STATEMENT lines)
            size = produced.stat().st_size / 1e6 if produced.exists() else 0
            print(f"  ... {size:.0f} MB after {time.monotonic() - started:.0f} s", flush=True)
        cluster.stop()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in (".log", ".csv", ".json"):  # one workload, three formats
            shutil.move(str(produced.with_suffix(suffix)), log_path.with_suffix(suffix))
    finally:
        try:
            cluster.stop()
        except Exception:
            pass
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(sock, ignore_errors=True)


# dbadmin runs from compiled bytecode, as an installed copy does (pip compiles it at install
# time): a PYTHONDONTWRITEBYTECODE environment (this sandbox sets it) would make every run of an
# editable checkout compile dbadmin's modules from source first (about 60 ms per run)
BYTECODE_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_measured(
    cmd: list[str], env: dict[str, str] | None = None
) -> tuple[float, subprocess.CompletedProcess[str], int, float]:
    """Run a command; return wall time, the result, the child's own peak RSS (KiB) and its CPU
    time (user + system seconds, wait4: on a shared machine less noisy than wall time)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    out_chunks: list[bytes] = []
    err_chunks: list[bytes] = []
    import threading

    def pump(stream, sink):  # type: ignore[no-untyped-def]
        for chunk in iter(lambda: stream.read(65536), b""):
            sink.append(chunk)

    threads = [
        threading.Thread(target=pump, args=(proc.stdout, out_chunks)),
        threading.Thread(target=pump, args=(proc.stderr, err_chunks)),
    ]
    for t in threads:
        t.start()
    _pid, status, usage = os.wait4(proc.pid, 0)
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    result = subprocess.CompletedProcess(
        cmd, code, b"".join(out_chunks).decode(errors="replace"),
        b"".join(err_chunks).decode(errors="replace"),
    )  # fmt: skip
    return elapsed, result, usage.ru_maxrss, usage.ru_utime + usage.ru_stime


def pgbadger_queries(outfile: Path) -> int:
    """pgBadger's own total: overall_stat.queries_number of its JSON output."""
    return int(json.loads(outfile.read_text())["overall_stat"]["queries_number"])


FORMATS = (("stderr", ".log", "stderr"), ("csvlog", ".csv", "csv"), ("jsonlog", ".json", "jsonlog"))


def dbadmin_cmd(path: Path, jobs: int, n_plus_one_min: int = 10) -> list[str]:
    return [sys.executable, "-m", "dbadmin", "slow-queries", "log", str(path), "--json", "--top",
            "5", "--jobs", str(jobs), "--n-plus-one-min", str(n_plus_one_min)]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--log", type=Path, default=DEFAULT_LOG)
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--skip-pgbadger", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs of dbadmin (median kept)")
    args = parser.parse_args()

    log: Path = args.log
    missing = [suffix for _, suffix, _ in FORMATS if not log.with_suffix(suffix).exists()]
    if args.regenerate or missing or log.stat().st_size < args.size_mb * 1_000_000:
        print(f"generating a >= {args.size_mb} MB log with pgbench into {log} ...", flush=True)
        generate(log, args.size_mb)
    out = Path(tempfile.mkdtemp(prefix="dbadmin-bench-out-"))
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "dbadmin")],
                   env=BYTECODE_ENV, check=True)  # fmt: skip
    badger_ok = not args.skip_pgbadger and shutil.which("pgbadger") is not None
    if not args.skip_pgbadger and not badger_ok:
        print("pgbadger is not installed (apt-get install -y pgbadger); skipping it")
    t, res, _, _ = run_measured(["grep", "-c", "duration:", str(log)])
    print(f"grep -c duration: {log.name}: {log.stat().st_size / 1e6 / t:8.1f} MB/s (read floor)")
    summary: list[str] = []
    counts: dict[str, int] = {}
    rss = 0
    for fmt, suffix, badger_fmt in FORMATS:
        path = log.with_suffix(suffix)
        size_mb = path.stat().st_size / 1e6
        print(f"\n{fmt}: {path} ({size_mb:.1f} MB, one workload, prefix {PREFIX!r})")
        times: dict[str, float] = {}
        cpu: dict[str, float] = {}
        for label, cmd in (
            ("dbadmin -j 1", dbadmin_cmd(path, 1)),
            ("dbadmin -j 2", dbadmin_cmd(path, 2)),
            ("dbadmin -j 1, no N+1", dbadmin_cmd(path, 1, n_plus_one_min=0)),
        ):
            runs = sorted(
                (run_measured(cmd, BYTECODE_ENV) for _ in range(args.repeat)), key=lambda r: r[0]
            )
            t, res, rss_j, cpu_s = runs[len(runs) // 2]  # the median run (wall time)
            if res.returncode != 0:
                print(res.stderr)
                return 1
            doc = json.loads(res.stdout)
            counts[f"{fmt} {label}"] = doc["total_queries"]
            rss = max(rss, rss_j)
            times[label] = t
            cpu[label] = cpu_s
            spread = f"runs {runs[0][0]:.2f}-{runs[-1][0]:.2f} s"
            print(f"  {label:22} {t:7.2f} s {size_mb / t:8.1f} MB/s  cpu {cpu_s:6.2f} s  ({spread}; "
                  f"{doc['total_queries']} queries, {doc['distinct_queries']} fingerprints, "
                  f"{len(doc['n_plus_one'])} N+1, peak RSS {rss_j / 1024:.0f} MB)")  # fmt: skip
        if badger_ok:
            for jobs in (1, 2):
                outfile = out / f"pgbadger-{fmt}-j{jobs}.json"
                cmd = ["pgbadger", "-j", str(jobs), "-f", badger_fmt, "-o", str(outfile),
                       "--quiet", str(path)]  # fmt: skip
                if fmt == "stderr":
                    cmd[5:5] = ["-p", PREFIX]
                t, res, _, cpu_s = run_measured(cmd)
                if res.returncode != 0:
                    print(f"  pgbadger -j {jobs} failed: {res.stderr[-300:]}")
                    continue
                times[f"pgbadger -j {jobs}"] = t
                cpu[f"pgbadger -j {jobs}"] = cpu_s
                theirs = pgbadger_queries(outfile)
                print(f"  {'pgbadger -j ' + str(jobs):22} {t:7.2f} s {size_mb / t:8.1f} MB/s  "
                      f"cpu {cpu_s:6.2f} s  ({theirs} queries)")  # fmt: skip
        ours = times["dbadmin -j 1"]
        cost = cpu["dbadmin -j 1"] / cpu["dbadmin -j 1, no N+1"] - 1  # wall time: too noisy here
        line = (f"{fmt}: dbadmin -j 1 {size_mb / ours:.1f} MB/s, N+1 detection cost {cost:+.0%} "
                "(CPU time)")  # fmt: skip
        for jobs in (1, 2):
            if f"pgbadger -j {jobs}" in times:
                ratio = times[f"pgbadger -j {jobs}"] / ours
                verdict = "meets" if jobs == 2 or ratio >= 20 else "MISSES"
                line += f", {ratio:.1f}x pgbadger -j {jobs}" + (
                    f" (goal >= 20x: {verdict}; CPU time "
                    f"{cpu['pgbadger -j 1'] / cpu['dbadmin -j 1']:.1f}x)"
                    if jobs == 1
                    else ""
                )
        if "pgbadger -j 2" in times:
            line += (f"; dbadmin -j 2 {size_mb / times['dbadmin -j 2']:.1f} MB/s, "
                     f"{times['pgbadger -j 2'] / times['dbadmin -j 2']:.1f}x pgbadger -j 2, "
                     f"{times['pgbadger -j 1'] / times['dbadmin -j 2']:.1f}x pgbadger -j 1")  # fmt: skip
        summary.append(line)
    print("\n" + "\n".join(summary))
    print(f"query counts: {counts}")
    print(f"peak RSS dbadmin: {rss / 1024:.0f} MB (target < 300 MB)")
    shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
