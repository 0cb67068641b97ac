"""Progress on stderr for work that can take more than a couple of seconds (a pool load test, a
restore, a restore test, a big log, a seed, a backup).

Drawn only when stderr is a terminal: in cron logs and pipes nothing is added, so a run's log
stays the command's own one-line notices. stdout is never touched (tables and --json).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from dbadmin.cli.common import err_console


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def _unchanged(_text: str) -> None:
    return None


@contextmanager
def working(message: str, *, enabled: bool = True) -> Iterator[Callable[[str], None]]:
    """A live line on stderr, ``⠋ MESSAGE 0:00:07``, while the block runs; yields a function
    that replaces the message (e.g. bytes written so far). Without a terminal (or with
    ``enabled`` false) nothing is drawn and the function does nothing. The line goes away at the
    end: the result that follows says what happened."""
    if not (enabled and stderr_is_terminal()):
        yield _unchanged
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console(),
        transient=True,
    )
    with progress:
        task = progress.add_task(message, total=None)

        def update(text: str) -> None:
            progress.update(task, description=text)

        yield update


class RowBars:
    """A progress bar per table with rows/s (``seed``), drawn on stderr; the caller draws it only
    when :func:`stderr_is_terminal`."""

    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            ProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.text import Text

        class RowsPerSecond(ProgressColumn):
            def render(self, task: Any) -> Text:
                speed = task.finished_speed or task.speed
                if not speed and task.completed and task.elapsed:
                    # Rich has no speed until several samples; a table done in one or two
                    # batches still gets its average
                    speed = task.completed / task.elapsed
                return Text(f"{speed:,.0f} rows/s" if speed else "")

        self.progress = Progress(
            TextColumn("{task.description:<18}"),
            BarColumn(),
            MofNCompleteColumn(),
            RowsPerSecond(),
            TimeElapsedColumn(),
            console=err_console(),
            transient=False,
        )
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> RowBars:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def start(self, table: str, total: int) -> None:
        self.tasks[table] = self.progress.add_task(table, total=total)

    def advance(self, table: str, rows: int) -> None:
        self.progress.advance(self.tasks[table], rows)

    def finish(self, table: str) -> None:
        task = self.tasks.get(table)
        if task is not None:
            self.progress.stop_task(task)
