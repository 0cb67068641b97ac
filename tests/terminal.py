"""Run ``dbadmin`` with a pseudo-terminal (the ``pty`` module), for what only a terminal gets:
progress lines, prompts. Every wait is bounded."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class TerminalRun:
    exit_code: int
    stdout: str  # empty when stdout was the terminal too
    terminal: str  # everything written to the terminal


def run_in_terminal(
    *args: str,
    env: dict[str, str] | None = None,
    stdin: Path | None = None,
    everything: bool = False,
    answer: tuple[bytes, bytes] | None = None,
    timeout: float = 60,
) -> TerminalRun:
    """``python -m dbadmin ARGS`` with stderr on a terminal (stdin from ``stdin`` or
    /dev/null, stdout a pipe); with ``everything``, stdin and stdout on it too. ``answer``
    (PROMPT, REPLY) types REPLY once PROMPT was written."""
    master, slave = pty.openpty()
    full_env = {**os.environ, "TERM": "xterm", "COLUMNS": "100", **(env or {})}
    full_env.pop("NO_COLOR", None)
    with open(stdin or os.devnull, "rb") as source:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dbadmin", *args],
            stdin=slave if everything else source,
            stdout=slave if everything else subprocess.PIPE,
            stderr=slave,
            env=full_env,
        )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if answer is not None and answer[0] in seen:
                os.write(master, answer[1])
                answer = None
            if select.select([master], [], [], 0.2)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
        out = proc.stdout.read().decode() if proc.stdout is not None else ""
        code = proc.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return TerminalRun(code, out, seen.decode(errors="replace"))
