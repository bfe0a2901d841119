"""Showing steps as they run: log records by default, a spinner and a line per step on a terminal.

Whether the terminal version is used is decided by :func:`codeferry.terminal.animation_enabled`
(a terminal, not ``TERM=dumb``, not ``-q``). Notes are warnings of the ``codeferry.steps``
logger, so ``-q`` silences them and a host's logging configuration receives them; the rest of a
run is logged at ``INFO`` (shown with ``-v``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import TaskID

__all__ = ["RichStepReporter", "StepReporter", "default_reporter"]

log = logging.getLogger("codeferry.steps")


class StepReporter:
    """Receives the events of a run of steps; this base logs them (``codeferry.steps``).

    Every text the engine passes has the run's secrets masked already.
    """

    def step_note(self, label: str, text: str) -> None:
        """Something the user should know about a step (a deprecated name, a warning it raised).

        A warning record ``note: LABEL: TEXT``, shown on standard error by the command line.
        """
        log.warning("note: %s: %s", label, text)

    def step_started(self, label: str) -> None:
        """A step is about to run."""
        log.info("running %s", label)

    def step_retrying(self, label: str, attempt: int, error: str, delay: float) -> None:
        """Attempt ``attempt`` failed with ``error``; the next starts in ``delay`` seconds."""
        log.info("%s: attempt %d failed (%s); retrying in %g s", label, attempt, error, delay)

    def step_finished(self, label: str, seconds: float) -> None:
        """A step returned."""
        log.info("%s finished in %.1f s", label, seconds)

    def step_failed(self, label: str, error: str) -> None:
        """A step failed for good; the run stops."""
        log.info("%s failed: %s", label, error)

    def close(self) -> None:
        """The run is over (whether it succeeded or not)."""

    def __enter__(self) -> StepReporter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class RichStepReporter(StepReporter):
    """A spinner while a step runs and a line when it ends, on standard error, secrets masked.

    The spinner shares the one live display (:mod:`codeferry.progress_board`) with the bars of the
    transfers the step makes.
    """

    def __init__(self) -> None:
        from codeferry.progress_board import BOARD

        self._board = BOARD
        self._status: TaskID | None = None

    def step_started(self, label: str) -> None:
        self._stop()
        self._status = self._board.add_status(f"{_masked(label)} ...")

    def step_note(self, label: str, text: str) -> None:
        self._line("! ", "yellow", f"{_masked(label)}: {_masked(text)}")

    def step_retrying(self, label: str, attempt: int, error: str, delay: float) -> None:
        self._line(
            "↻ ",
            "yellow",
            f"{_masked(label)}: attempt {attempt} failed ({_masked(error)}); "
            f"retrying in {delay:g} s",
        )

    def step_finished(self, label: str, seconds: float) -> None:
        from rich.text import Text

        self._stop()
        line = Text.assemble(("✓ ", "green"), _masked(label), (f" {seconds:.1f} s", "dim"))
        self._board.print(line)

    def step_failed(self, label: str, error: str) -> None:  # noqa: ARG002 - the CLI prints the error
        self._stop()
        self._line("✗ ", "red", _masked(label))

    def close(self) -> None:
        self._stop()

    def _line(self, mark: str, style: str, text: str) -> None:
        from rich.text import Text

        self._board.print(Text.assemble((mark, style), text))

    def _stop(self) -> None:
        if self._status is not None:
            self._board.remove(self._status)
            self._status = None


def _masked(text: str) -> str:
    from codeferry.secrets import mask

    return mask(text)


def default_reporter(quiet: bool = False) -> StepReporter:
    """The terminal reporter where codeferry may animate standard error (and not ``quiet``)."""
    from codeferry.terminal import animation_enabled

    if not quiet and animation_enabled():
        return RichStepReporter()
    return StepReporter()
