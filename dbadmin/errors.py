"""One error hierarchy; the CLI maps each class to its exit code (see README, "Exit codes").

Core code raises these and never prints or exits. ``what`` says what is wrong, ``hint`` what to
do about it; both must already be free of secrets (use :func:`dbadmin.urls.scrub`).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    PROBLEM = 1  # the command ran and found a problem
    USAGE = 2  # bad flag, bad URL, unknown revision/profile/table
    CONNECT = 3  # cannot connect / authenticate
    TIMEOUT = 4  # lock_timeout, statement_timeout, overall deadline
    EXTERNAL = 5  # pg_dump / pg_restore / squawk failed
    HANGUP = 129  # SIGHUP (128 + 1), handled like Ctrl-C
    INTERRUPTED = 130  # Ctrl-C (SIGINT)
    TERMINATED = 143  # SIGTERM (128 + 15), handled like Ctrl-C


class DbadminError(Exception):
    exit_code: ExitCode = ExitCode.PROBLEM

    def __init__(self, what: str, hint: str | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.hint = hint

    def one_line(self) -> str:
        text = " ".join(self.what.split())
        if self.hint:
            text += " — " + " ".join(self.hint.split())
        return text


class ProblemFound(DbadminError):
    """The command ran and found a problem (drift, failed check, regression, corrupt backup)."""

    exit_code = ExitCode.PROBLEM


class SqlError(DbadminError):
    """A statement failed on the server; the message carries PostgreSQL's text."""

    exit_code = ExitCode.PROBLEM


class UsageError(DbadminError):
    exit_code = ExitCode.USAGE


class ConfigError(DbadminError):
    exit_code = ExitCode.USAGE


class ConnectError(DbadminError):
    exit_code = ExitCode.CONNECT


class OperationTimeout(DbadminError):
    exit_code = ExitCode.TIMEOUT


class ExternalToolError(DbadminError):
    exit_code = ExitCode.EXTERNAL
