"""The embedded default server: first use starts it, later commands reuse it, concurrent starts
are safe, and it runs although the tests run as root."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from dbadmin.errors import ExitCode


def _dbadmin(home: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DBADMIN_HOME"] = str(home)
    return subprocess.Popen(
        [sys.executable, "-m", "dbadmin", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=home.parent,
    )


def _postmasters(pgdata: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline", "ppid"]):
        cmd = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and str(pgdata) in cmd:
            found.append(proc)
    return found


@pytest.fixture
def home(tmp_path: Path):
    home = tmp_path / "home"
    yield home
    subprocess.run(
        [sys.executable, "-m", "dbadmin", "local", "destroy", "--yes"],
        env={**os.environ, "DBADMIN_HOME": str(home)},
        capture_output=True,
        timeout=60,
    )


def test_two_processes_start_it_at_once(home: Path) -> None:
    procs = [_dbadmin(home, "doctor", "--json") for _ in range(2)]
    results = [p.communicate(timeout=180) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err
        assert "embedded PostgreSQL" in err
        assert '"server"' in out
    assert len(_postmasters(home / "pgdata")) == 1


def test_reused_then_stopped_then_destroyed(home: Path) -> None:
    out, err = _dbadmin(home, "local", "start").communicate(timeout=120)
    assert "started" in err
    proc = _dbadmin(home, "local", "status", "--json")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and '"running": true' in out
    pid = int(out.split('"pid":')[1].split(",")[0])
    # a later command reuses the same server (not re-initialised, not restarted)
    proc = _dbadmin(home, "doctor")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "using the embedded PostgreSQL" in err
    out, _ = _dbadmin(home, "local", "status", "--json").communicate(timeout=60)
    assert f'"pid": {pid}' in out
    proc = _dbadmin(home, "local", "url")
    out, _ = proc.communicate(timeout=60)
    assert out.startswith("postgresql://postgres@")
    out, err = _dbadmin(home, "local", "stop").communicate(timeout=60)
    assert "stopped" in err
    assert _postmasters(home / "pgdata") == []
    proc = _dbadmin(home, "local", "status")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 3  # LSB: not running
    assert "running      no" in out and "None" not in out and "False" not in out
    proc = _dbadmin(home, "local", "destroy")
    proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.USAGE  # no terminal, no --yes
    assert (home / "pgdata").exists()
    proc = _dbadmin(home, "local", "destroy", "--yes")
    proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert not (home / "pgdata").exists()


def test_dbadmin_home_from_dotenv_is_the_one_local_manages(tmp_path: Path) -> None:
    """DBADMIN_HOME in .env: `doctor` (any command) and `local status/stop/destroy` agree."""
    home = tmp_path / "home-from-dotenv"
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text(f"DBADMIN_HOME={home}\n")
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DBADMIN_HOME"}}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dbadmin", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=project,
            timeout=180,
        )

    try:
        proc = run("doctor", "--json")
        assert proc.returncode == 0, proc.stderr
        assert str(home) in proc.stderr  # "started the embedded PostgreSQL in <home>"
        proc = run("local", "status", "--json")
        assert proc.returncode == 0, proc.stderr
        assert f'"pgdata": "{home / "pgdata"}"' in proc.stdout
        assert '"running": true' in proc.stdout
        proc = run("local", "stop")
        assert "stopped" in proc.stderr, proc.stderr
        assert _postmasters(home / "pgdata") == []
        assert not (project / ".dbadmin").exists()
    finally:
        run("local", "destroy", "--yes")
    assert not (home / "pgdata").exists()
