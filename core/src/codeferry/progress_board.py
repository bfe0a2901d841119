"""The one live display on standard error: transfer bars and step spinners, drawn by Rich.

Rich draws one live display per console at a time; a step spinner and the bar of the pull that
step makes must therefore share it. :data:`BOARD` is that display: it starts when its first line
is added, and stops (and is erased) when its last is removed. Lines printed meanwhile
(:meth:`Board.print`) appear above it. Only :mod:`codeferry.progress` and the step reporter use
it; plugins report through :class:`codeferry.progress.TransferProgress`.

This module imports Rich, so it is imported only when something is to be drawn.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, Progress, ProgressColumn, SpinnerColumn, TextColumn
from rich.progress import TimeRemainingColumn as _TimeRemainingColumn
from rich.text import Text

from codeferry.progress import format_bytes
from codeferry.terminal import animation_enabled, make_console

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.progress import Task, TaskID

    from codeferry.progress import TransferProgress

__all__ = ["BOARD", "Board"]

_TRANSFER = "transfer"
_STATUS = "status"


class Board:
    """Lines that change in place on standard error: one Rich ``Progress``, made on demand."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._progress: Progress | None = None
        self._console: Console | None = None
        self._lines = 0

    def console(self) -> Console:
        """The console the display draws on (a fresh one, following the rules, when idle)."""
        with self._lock:
            if self._progress is not None:
                return self._progress.console
            self._console = make_console()
            return self._console

    def print(self, line: RenderableType) -> None:
        """Print ``line`` on standard error, above the display if one is up."""
        self.console().print(line, highlight=False)

    def print_if_live(self, text: str) -> bool:
        """Print ``text`` above the display if one is up; whether it was."""
        with self._lock:
            if self._progress is None:
                return False
            self._progress.console.print(Text(text), highlight=False, soft_wrap=True)
            return True

    def add_status(self, description: str) -> TaskID | None:
        """A spinner line (a step that runs); ``None`` when nothing can be drawn."""
        return self._add(description=description, total=None, kind=_STATUS)

    def add_transfer(self, progress: TransferProgress) -> TaskID | None:
        """A bar for ``progress``; ``None`` when nothing can be drawn."""
        return self._add(kind=_TRANSFER, **_transfer_fields(progress))

    def update_transfer(self, task: TaskID, progress: TransferProgress) -> None:
        """Show what ``progress`` counts now on its bar."""
        with self._lock:
            if self._progress is not None:
                self._progress.update(task, **_transfer_fields(progress))

    def remove(self, task: TaskID) -> None:
        """Take a line away; the last one taken away ends the display and erases it."""
        with self._lock:
            if self._progress is None:
                return
            self._progress.refresh()  # its last counts are drawn, however short it was
            self._progress.remove_task(task)
            self._lines -= 1
            if self._lines == 0:
                self._progress.stop()
                self._progress = None

    def _add(self, *, description: str, kind: str, **fields: Any) -> TaskID | None:
        with self._lock:
            started = self._progress is not None
            if self._progress is None:
                if not animation_enabled():
                    return None
                self._progress = _new_progress(make_console())
            self._lines += 1
            fields.setdefault("counts_bytes", False)
            fields.setdefault("files", "")
            task = self._progress.add_task(description, kind=kind, **fields)
            if not started:  # its first frame shows the line as it is, counts included
                self._progress.start()
            return task


def _transfer_fields(progress: TransferProgress) -> dict[str, Any]:
    """What the bar of ``progress`` shows; ``completed`` and ``total`` in bytes when it has any."""
    counts_bytes = progress.bytes_total is not None or progress.bytes_done > 0
    done, total, unit = progress.files_done, progress.files_total, progress.unit
    files = f"{done}/{total} {unit}" if total is not None else f"{done} {unit}" if done else ""
    return {
        "description": progress.description,
        "completed": progress.bytes_done if counts_bytes else progress.files_done,
        "total": progress.bytes_total if counts_bytes else progress.files_total,
        "counts_bytes": counts_bytes,
        "files": files,
    }


class _Bar(BarColumn):
    """The bar, for transfers only (a moving one while the total is unknown)."""

    def render(self, task: Task) -> Any:
        if task.fields.get("kind") != _TRANSFER:
            return Text("")
        return super().render(task)


class _Amounts(ProgressColumn):
    """``3.0 MiB/12.0 MiB  5.1 MiB/s  40/120 files``: what moved, how fast, how many."""

    def render(self, task: Task) -> Text:
        if task.fields.get("kind") != _TRANSFER:
            return Text("")
        parts = []
        if task.fields.get("counts_bytes"):
            done = format_bytes(max(int(task.completed), 0))
            parts.append(f"{done}/{format_bytes(int(task.total))}" if task.total else done)
            if task.speed:
                parts.append(f"{format_bytes(int(task.speed))}/s")
        if task.fields.get("files"):
            parts.append(str(task.fields["files"]))
        return Text("  ".join(parts), style="progress.download")


class _Remaining(_TimeRemainingColumn):
    """Time left, for transfers with a known total only."""

    def render(self, task: Task) -> Text:
        if task.fields.get("kind") != _TRANSFER or task.total is None:
            return Text("")
        return super().render(task)


def _new_progress(console: Console) -> Progress:
    from rich.table import Column

    # On a narrow terminal the description gives way (cut short with "..."), not the counts.
    return Progress(
        SpinnerColumn(),
        TextColumn(
            "{task.description}",
            markup=False,
            table_column=Column(no_wrap=True, overflow="ellipsis", min_width=12),
        ),
        _Bar(bar_width=24),
        _Amounts(table_column=Column(no_wrap=True)),
        _Remaining(table_column=Column(no_wrap=True)),
        console=console,
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    )


BOARD = Board()
"""The display of this process."""
