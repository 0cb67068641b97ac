"""Output files (`--html`, `--save`, `--prometheus`) are replaced whole or not at all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Cli

from dbadmin.errors import ExitCode
from dbadmin.files import OutputWriteError, write_atomically

PLAN = Path(__file__).resolve().parent / "data" / "explain" / "pg18_hash_spill.json"

FILL = """
import resource, signal, sys
from pathlib import Path
from dbadmin.files import OutputWriteError, write_atomically
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    write_atomically(Path(sys.argv[1]), "x" * 100_000)
except OutputWriteError as exc:
    print(exc.one_line())
    sys.exit(1)
"""


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "report.html"
    target.write_text("previous report")
    proc = subprocess.run(
        [sys.executable, "-c", FILL, str(target)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1, proc.stderr
    assert "cannot write" in proc.stdout and "previous file was left" in proc.stdout
    assert target.read_text() == "previous report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_replaces_whole_files_with_the_given_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.prom"
    write_atomically(target, "first\n")
    write_atomically(target, "second\n", mode=0o600)
    assert target.read_text() == "second\n" and target.stat().st_mode & 0o777 == 0o600
    with pytest.raises(OutputWriteError, match="does not exist"):
        write_atomically(tmp_path / "missing" / "x.html", "x")


@pytest.mark.parametrize("flag", ["--html", "--save"])
def test_explain_outputs_into_a_missing_directory_fail_in_one_line(
    cli: Cli, tmp_path: Path, flag: str
) -> None:
    res = cli("explain", "--from-json", str(PLAN), flag, str(tmp_path / "nope" / "out"))
    assert res.exit_code == ExitCode.PROBLEM, res.stderr
    assert res.stderr.startswith("dbadmin: error: cannot write") and res.stderr.count("\n") == 1
    assert not (tmp_path / "nope").exists()
