"""Shared CLI plumbing: settings per invocation, group options, errors -> exit codes.

stdout carries results only (tables, or one JSON document with ``--json``); notices, progress and
errors go to stderr. Nothing here is imported by core code.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from typer._click import Context as ClickContext

from dbadmin.errors import DbadminError, ExitCode, UsageError

if TYPE_CHECKING:
    from rich.console import Console

    from dbadmin.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
_MOVED_OPTIONS = frozenset({"DatabaseUrlOpt", "JsonOpt", "WideOpt", "YesOpt"})


def __getattr__(name: str) -> Any:
    """The shared options moved to dbadmin.cli.options (imported only when a command module
    needs them, so `dbadmin --help` stays light); old ``common`` imports still resolve."""
    if name in _MOVED_OPTIONS:
        from dbadmin.cli import options

        return getattr(options, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass
class AppState:
    database_url: str | None = None
    direct_url: str | None = None
    debug: bool = False
    settings: Settings | None = None


def state(ctx: ClickContext) -> AppState:
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState(debug=_env_debug())
    return root.obj


def _env_debug() -> bool:
    return os.environ.get("DBADMIN_DEBUG", "").lower() in {"1", "true", "yes"}


# --- consoles ----------------------------------------------------------------------------------
def out_console() -> Console:
    from rich.console import Console

    return Console(file=sys.stdout, soft_wrap=False)


def err_console() -> Console:
    from rich.console import Console

    return Console(file=sys.stderr, soft_wrap=False)


def print_table(renderable: Any) -> None:
    """Print a table (:func:`dbadmin.render.fit_table`) on stdout. Never cropped: a table fits
    the terminal by its own layout, and a ``--wide`` one is meant to be wider."""
    out_console().print(renderable, crop=False)


def print_json(document: Any) -> None:
    from dbadmin.render import to_json

    sys.stdout.write(to_json(document) + "\n")


def notice(message: str) -> None:
    """A one-line notice on stderr."""
    sys.stderr.write(f"dbadmin: {message}\n")
    sys.stderr.flush()


class _StderrHandler(logging.Handler):
    """dbadmin's log records as notices on stderr. A connect wait (records marked with
    ``dbadmin.db.WAIT_STATUS``) is one live status line on a terminal, rewritten in place with
    the budget left and cleared when the wait ends; elsewhere (cron, CI) only its first line."""

    def __init__(self) -> None:
        super().__init__()
        self.live = False  # a status line is on the terminal, without its newline

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from dbadmin.urls import scrub

            text = scrub(record.getMessage())
            status = getattr(record, "dbadmin_wait", None)  # dbadmin.db.WAIT_STATUS
            if status is None:
                self._clear()
                notice(text)
            elif sys.stderr.isatty():
                self._clear()
                if status != "end":
                    sys.stderr.write(f"dbadmin: {text}")
                    sys.stderr.flush()
                    self.live = True
            elif status == "start":
                notice(text)
        except Exception:  # a closed stderr must not break the command
            pass

    def _clear(self) -> None:
        if self.live:
            sys.stderr.write("\r\x1b[2K")
            sys.stderr.flush()
            self.live = False


def configure_logging(debug: bool) -> None:
    logger = logging.getLogger("dbadmin")
    for handler in list(logger.handlers):
        if isinstance(handler, _StderrHandler):
            logger.removeHandler(handler)
    logger.addHandler(_StderrHandler())
    logger.setLevel(logging.DEBUG if debug else logging.INFO)
    logger.propagate = False


@contextmanager
def progress_status(show: bool) -> Iterator[Callable[[int, float], None] | None]:
    """pg_dump's progress as a live line on stderr (a terminal only, see
    :func:`dbadmin.cli.progress.working`): yields the ``on_progress(bytes_written, seconds)``
    callback to pass to ``api.backup``, or None."""
    if not show:
        yield None
        return
    from dbadmin.cli.progress import working
    from dbadmin.render import human_bytes

    with working("pg_dump starting…") as update:

        def progress(written: int, elapsed: float) -> None:
            update(f"pg_dump: {human_bytes(written)} written")

        yield progress


# --- settings ----------------------------------------------------------------------------------
def get_settings(
    ctx: typer.Context, database_url: str | None = None, *, need_server: bool = False
) -> Settings:
    """Resolve settings once per invocation. The API function a command calls starts the
    embedded server when it is the target (and says so through the ``dbadmin`` logger, which
    :func:`configure_logging` routes to stderr), after checking its options: usage errors come
    before a server is started. ``need_server=True`` starts it here, for code that reaches the
    database without going through :mod:`dbadmin.api`."""
    from dbadmin import settings as settings_mod

    app_state = state(ctx)
    url = database_url if database_url is not None else app_state.database_url
    if app_state.settings is not None and url == app_state.database_url:
        resolved = app_state.settings
    else:
        resolved = settings_mod.resolve(
            database_url=url, direct_url=app_state.direct_url, debug=app_state.debug
        )
        app_state.settings = resolved
    if resolved.embedded and need_server:
        from dbadmin.local import embedded_cluster

        started = embedded_cluster(resolved.home).ensure_running()
        how = "started" if started else "using"
        notice(
            f"{how} the embedded PostgreSQL in {resolved.home} (no DATABASE_URL set; "
            "`dbadmin local --help`)"
        )
    return resolved


# --- group options ------------------------------------------------------------------------------
def carry_group_options(
    ctx: typer.Context,
    *,
    name: str | None = None,
    default_command: str | None = None,
    ignored: frozenset[str] = frozenset(),
) -> None:
    """Hand the options given to a group before its subcommand (``dbadmin backup --dir X list``)
    on to that subcommand ``name`` (default: the invoked one), through Click's ``default_map``:
    the subcommand's own value still wins. An option the subcommand does not declare the same
    way (same flags) is a usage error instead of being dropped; ``ignored`` ones are accepted
    and dropped (e.g. ``--yes`` where nothing asks). ``default_command``: the command the group
    runs when none is named, whose options the group's are (named in the error's hint)."""
    name = name if name is not None else ctx.invoked_subcommand
    if name is None:
        return
    group: Any = ctx.command
    sub = group.get_command(ctx, name)
    declared = {param.name: list(param.opts) for param in sub.params} if sub is not None else {}
    carried: dict[str, Any] = {}
    for param in group.params:
        key = param.name
        if (
            key is None
            or not param.expose_value  # --debug: already applied by its callback
            or getattr(ctx.get_parameter_source(key), "name", None) != "COMMANDLINE"
        ):
            continue
        if declared.get(key) == list(param.opts):
            carried[key] = ctx.params[key]
        elif key not in ignored:
            owner = (
                f"; it is an option of `{ctx.info_name} {default_command}`"
                if default_command and name != default_command
                else ""
            )
            raise UsageError(
                f"{'/'.join(param.opts)} given before `{name}` does not apply to "
                f"`dbadmin {ctx.info_name} {name}`",
                f"see `dbadmin {ctx.info_name} {name} --help`{owner}",
            )
    if carried:
        defaults = dict(ctx.default_map or {})
        defaults[name] = {**defaults.get(name, {}), **carried}
        ctx.default_map = defaults


def parse_error_exit(ctx: Any, exc: DbadminError, code: int | None = None) -> typer.Exit:
    """A DbadminError raised while Click parsed the command line (a bad duration or choice,
    a group option its subcommand lacks): one error line (and --debug's traceback), the exit
    code ``code`` or the error's own. Nothing has connected or started yet."""
    app_state = state(ctx)
    if app_state.debug:
        print_traceback(exc, (ctx,))
    from dbadmin.urls import scrub

    return fail(
        scrub(exc.one_line(), *known_secrets(app_state)), exc.exit_code if code is None else code
    )


# --- --debug after the command ----------------------------------------------------------------
def add_debug_option(command: Any) -> None:
    """Give ``command`` (and each of its subcommands) a ``--debug`` flag that sets the same
    switch as ``dbadmin --debug``: one option object added by the root group when it loads a
    command, so ``dbadmin CMD ... --debug`` works everywhere without a copy per command."""
    from typer.core import TyperOption

    if not any(param.name == "debug" for param in command.params):
        command.params.append(
            TyperOption(
                param_decls=["--debug"],
                is_flag=True,
                expose_value=False,
                is_eager=True,
                callback=_set_debug,
                help="Show tracebacks on errors (same as `dbadmin --debug ...`).",
            )
        )
    for sub in getattr(command, "commands", {}).values():
        add_debug_option(sub)


def _set_debug(ctx: typer.Context, param: Any, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        state(ctx).debug = True


# --- confirmation ------------------------------------------------------------------------------
def confirm(action: str, *, yes: bool, typed: str | None = None) -> None:
    """Ask before a destructive action: on a terminal ask; otherwise require --yes."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError(f"refusing to {action} without confirmation", "pass --yes to confirm")
    try:
        if typed is not None:
            answer = typer.prompt(
                f"This will {action}. Type {typed!r} to confirm", default="", show_default=False
            )
            if answer.strip() != typed:
                raise UsageError("confirmation did not match; nothing was changed")
        elif not typer.confirm(f"This will {action}. Continue?", default=False):
            raise UsageError("cancelled; nothing was changed")
    except typer.Abort as exc:
        raise _cancelled(exc) from None


def _cancelled(exc: typer.Abort) -> BaseException:
    """Ctrl-D (EOF) at a prompt is a 'no'; Ctrl-C is an interrupt (130). Click turns both into
    Abort and keeps the original as its context."""
    sys.stdout.write("\n")  # end the prompt's line
    sys.stdout.flush()
    if isinstance(exc.__context__, KeyboardInterrupt):
        return KeyboardInterrupt()
    return UsageError("cancelled; nothing was changed")


# --- errors ------------------------------------------------------------------------------------
def fail(message: str, code: int) -> typer.Exit:
    sys.stderr.write(f"dbadmin: error: {message}\n")
    sys.stderr.flush()
    return typer.Exit(code)


def handle_errors(func: F) -> F:
    """Run a command: DbadminError -> one stderr line + its exit code; Ctrl-C -> 130, SIGTERM ->
    143, SIGHUP -> 129 (see dbadmin.signals)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = _current_debug(args, kwargs)
        configure_logging(debug)
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except (Exception, KeyboardInterrupt) as exc:
            message, code = _describe(exc)
            if debug:
                print_traceback(exc, args, kwargs)
            raise fail(scrub_known(message, args, kwargs), code) from None

    # functools.wraps gives wrapper func's signature (Typer reads it); mypy cannot see that
    return wrapper  # type: ignore[return-value]


def _describe(exc: BaseException) -> tuple[str, int]:
    """The one error line and exit code for an exception that ended a command."""
    from dbadmin.signals import Terminated, stop_signal

    stopped_by = stop_signal()
    if stopped_by is not None and not isinstance(exc, KeyboardInterrupt):
        # a statement cancelled because of the signal, seen before the signal's own exception
        exc = KeyboardInterrupt() if stopped_by == signal.SIGINT else Terminated(stopped_by)
    if isinstance(exc, Terminated):
        return f"stopped by {exc.name}; nothing half-written was left behind", exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted; nothing half-written was left behind", ExitCode.INTERRUPTED
    translated = exc if isinstance(exc, DbadminError) else _translate(exc)
    if isinstance(translated, DbadminError):
        return translated.one_line(), int(translated.exit_code)
    from dbadmin.urls import masked_line

    text = masked_line(str(exc), limit=300)
    return (
        f"unexpected {type(exc).__name__}: {text} — rerun with --debug and report it",
        ExitCode.PROBLEM,
    )


def _translate(exc: BaseException) -> BaseException:
    if "psycopg2" in sys.modules or "sqlalchemy" in sys.modules:
        from dbadmin.db import translate_db_error

        return translate_db_error(exc)
    return exc


# --- secrets in errors and tracebacks ----------------------------------------------------------
def known_secrets(app_state: AppState | None) -> tuple[str, ...]:
    """The passwords this invocation knows: of the URLs in use, and of the URLs given on the
    command line or in the environment (which may not have parsed: the error may be about them).
    Masked wherever an error's text is printed."""
    from dbadmin.urls import DbUrl

    found: list[str | None] = [os.environ.get("PGPASSWORD")]
    raws = [os.environ.get("DATABASE_URL"), os.environ.get("DATABASE_DIRECT_URL")]
    if app_state is not None:
        raws += [app_state.database_url, app_state.direct_url]
    if app_state is not None and app_state.settings is not None:
        found += [app_state.settings.url.password, app_state.settings.direct_url.password]
    for raw in raws:
        if raw:
            try:
                found.append(DbUrl.parse(raw).password)
            except Exception:  # scrub()'s patterns still mask it
                pass
    return tuple(dict.fromkeys(secret for secret in found if secret))


def _state_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> AppState | None:
    """The invocation's state from a command's arguments. Commands loaded by the root group get
    Click's own Context (typer._click's), the base class of ``typer.Context``: look for that."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, ClickContext):
            return state(value)
    return None


def scrub_known(text: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    from dbadmin.urls import scrub

    return scrub(text, *known_secrets(_state_of(args, kwargs)))


def print_traceback(
    exc: BaseException, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None
) -> None:
    """``--debug``'s traceback on stderr, through the scrubber: exception messages (libpq's
    texts, a URL that did not parse) and the chained exceptions can carry a password."""
    text = "".join(traceback.format_exception(exc))
    sys.stderr.write(scrub_known(text, args, kwargs or {}))
    sys.stderr.flush()


def _current_debug(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    app_state = _state_of(args, kwargs)
    return app_state.debug if app_state is not None else _env_debug()
