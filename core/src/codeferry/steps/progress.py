"""Showing steps as they run: nothing by default, a Rich spinner and a line per step on a TTY."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["RichStepReporter", "StepReporter", "default_reporter"]


class StepReporter:
    """Receives the events of a run of steps; this base shows nothing but notes.

    Every text the engine passes has the run's secrets masked already.
    """

    def step_note(self, label: str, text: str) -> None:
        """Something the user should know about a step (a deprecated name, a warning it raised).

        Shown on standard error by every reporter, this one included.
        """
        sys.stderr.write(f"note: {label}: {text}\n")
        sys.stderr.flush()

    def step_started(self, label: str) -> None:
        """A step is about to run."""

    def step_retrying(self, label: str, attempt: int, error: str, delay: float) -> None:
        """Attempt ``attempt`` failed with ``error``; the next starts in ``delay`` seconds."""

    def step_finished(self, label: str, seconds: float) -> None:
        """A step returned."""

    def step_failed(self, label: str, error: str) -> None:
        """A step failed for good; the run stops."""

    def close(self) -> None:
        """The run is over (whether it succeeded or not)."""

    def __enter__(self) -> StepReporter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class RichStepReporter(StepReporter):
    """A spinner while a step runs and a line when it ends, on standard error, secrets masked."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        self.console = console if console is not None else Console(stderr=True)
        self._status: Any = None

    def step_started(self, label: str) -> None:
        self._stop()
        self._status = self.console.status(f"{_escape(label)} ...")
        self._status.start()

    def step_note(self, label: str, text: str) -> None:
        self.console.print(f"[yellow]![/] {_escape(label)}: {_escape(text)}", highlight=False)

    def step_retrying(self, label: str, attempt: int, error: str, delay: float) -> None:
        self.console.print(
            f"[yellow]↻[/] {_escape(label)}: attempt {attempt} failed ({_escape(error)}); "
            f"retrying in {delay:g} s",
            highlight=False,
        )

    def step_finished(self, label: str, seconds: float) -> None:
        self._stop()
        self.console.print(f"[green]✓[/] {_escape(label)} [dim]{seconds:.1f} s[/]", highlight=False)

    def step_failed(self, label: str, error: str) -> None:
        self._stop()
        self.console.print(f"[red]✗[/] {_escape(label)}", highlight=False)

    def close(self) -> None:
        self._stop()

    def _stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None


def _escape(text: str) -> str:
    from rich.markup import escape

    from codeferry.secrets import mask

    return escape(mask(text))


def default_reporter(quiet: bool = False) -> StepReporter:
    """Rich progress when standard error is a terminal (and not ``quiet``), else nothing."""
    if not quiet and sys.stderr.isatty():
        return RichStepReporter()
    return StepReporter()
