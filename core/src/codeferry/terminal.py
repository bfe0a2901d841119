"""What standard error shows: colour, animation and how much is said, decided here only.

Colour follows the conventions CPython's own ``can_colorize`` follows, in this order:

- ``NO_COLOR`` set to any non-empty value: no colour (https://no-color.org);
- ``FORCE_COLOR`` set to any non-empty value: colour, even into a pipe or a file;
- ``TERM=dumb``: no colour;
- otherwise colour exactly when standard error is a terminal.

Animation (progress bars, spinners) needs more than colour: standard error must be a terminal
that is not ``TERM=dumb``, and the command must not be quiet (``-q``, see
:func:`codeferry.cli.output.configure_logging`). ``FORCE_COLOR`` never turns it on: a bar drawn
into a log file is noise. ``NO_COLOR`` does not turn it off: a bar without colour is still a bar.

Everything codeferry colours or animates asks here: the ``Error:`` prefix, the step reporter, the
transfer progress (:mod:`codeferry.progress`).

How much is said: :func:`configure_logging` (``-v``, ``-vv``, ``-q``) shows the ``codeferry``
loggers' records on standard error. Library code logs and never prints; a command line (the typer
one, or any faster front end) calls :func:`configure_logging` once, before the command runs. This
module imports neither typer nor Rich.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import IO

__all__ = [
    "QUIET",
    "animation_enabled",
    "colour_enabled",
    "configure_logging",
    "is_quiet",
    "logging_restored",
    "make_console",
    "set_quiet",
    "write_line",
]

_quiet = False


def set_quiet(quiet: bool) -> None:
    """Say whether the command is quiet (``-q``): no progress, however long a transfer is."""
    global _quiet
    _quiet = quiet


def is_quiet() -> bool:
    """Whether :func:`set_quiet` was told the command is quiet."""
    return _quiet


def colour_enabled(stream: IO[str] | None = None) -> bool:
    """Whether text written to ``stream`` (default: standard error) may be coloured."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    return _is_terminal(sys.stderr if stream is None else stream)


def animation_enabled(stream: IO[str] | None = None) -> bool:
    """Whether ``stream`` (default: standard error) may show progress bars and spinners."""
    if _quiet or os.environ.get("TERM") == "dumb":
        return False
    return _is_terminal(sys.stderr if stream is None else stream)


def make_console() -> Any:
    """A Rich console on standard error that colours and animates as decided here.

    Rich's own reading of the environment is overridden, so the rules above hold whichever
    version of Rich is installed. Without colour no style is written at all (bold neither).
    """
    from rich.console import Console

    animated = animation_enabled()
    return Console(
        stderr=True,
        force_terminal=animated,
        force_interactive=animated,
        color_system="auto" if colour_enabled() else None,
        no_color=not colour_enabled(),
        highlight=False,
    )


def _is_terminal(stream: Any) -> bool:
    try:
        return stream is not None and bool(stream.isatty())
    except (ValueError, AttributeError):  # a closed stream, or a stand-in without isatty
        return False


# -- verbosity ---------------------------------------------------------------------------------

QUIET = -1
"""The verbosity of ``-q``: errors only, no progress, notices or summaries."""

_LOGGER = "codeferry"


def configure_logging(verbosity: int = 0) -> None:
    """Show the ``codeferry`` loggers' records on standard error, as much as ``verbosity`` says.

    ``0`` (the default): warnings and errors, as their message alone (the notices a command
    gives, such as a pull waiting on another's lock); ``1`` (``-v``): ``INFO`` too, what
    codeferry does; ``2`` or more (``-vv``): ``DEBUG`` too, each record with its level and logger;
    :data:`QUIET` (``-q``): errors only, and no progress display
    (:func:`codeferry.terminal.set_quiet`). Records are masked and go to whatever ``sys.stderr``
    is when they are written. They do not propagate to the root logger, so user code that
    configures logging (a flow run by ``codeferry run``) does not print them twice.

    The root command calls it once per command line; any other front end that parses
    ``-v``/``-q`` itself calls it the same way, before running the command. Calling it again
    replaces what the previous call set. See :func:`logging_restored` to undo it.
    """
    logger = logging.getLogger(_LOGGER)
    for handler in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(handler)
    handler = _StderrHandler()
    if verbosity >= 2:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    if verbosity <= QUIET:
        logger.setLevel(logging.ERROR)
    elif verbosity == 0:
        logger.setLevel(logging.WARNING)
    else:
        logger.setLevel(logging.INFO if verbosity == 1 else logging.DEBUG)
    logger.propagate = False
    set_quiet(verbosity <= QUIET)


@contextlib.contextmanager
def logging_restored() -> Iterator[None]:
    """Undo, when the block ends, what :func:`configure_logging` did in it.

    For callers that run commands inside their own process (the root command does, so tests
    running it keep their logging as it was).
    """
    logger = logging.getLogger(_LOGGER)
    saved = logger.level, list(logger.handlers), logger.propagate, is_quiet()
    try:
        yield
    finally:
        logger.setLevel(saved[0])
        logger.handlers[:] = saved[1]
        logger.propagate = saved[2]
        set_quiet(saved[3])


class _StderrHandler(logging.Handler):
    """Writes records, masked, to the ``sys.stderr`` of the moment (a test may replace it)."""

    def emit(self, record: logging.LogRecord) -> None:
        from codeferry.secrets import mask

        try:
            write_line(mask(self.format(record)))
        except Exception:  # logging's own policy: a failing handler reports, never raises
            self.handleError(record)


def write_line(text: str) -> None:
    """Write ``text`` and a newline on standard error, above the progress display if one is up.

    A line written under a live display would be drawn over; this one is printed above it.
    ``text`` is written as it is: mask it first.
    """
    board = sys.modules.get("codeferry.progress_board")
    if board is not None and board.BOARD.print_if_live(text):
        return
    sys.stderr.write(text + "\n")
    sys.stderr.flush()
