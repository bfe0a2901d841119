"""What commands print: results on standard output, messages and errors on standard error.

``--json`` output is the only thing a command writes to standard output when it is given, so it
can be piped. Secrets are masked in all of it (the root command masks standard output and error;
see :mod:`codeferry.masked_output`); ``reveal=True`` is the one way past the mask.
Tables are plain aligned text: Rich is not imported to print them, which keeps the
listing commands' start-up short. Text that comes from users or storage is printed with control
characters escaped, so a block name cannot move the cursor or recolour the terminal. Colour is
used only where :func:`codeferry.terminal.colour_enabled` allows it (``NO_COLOR``, a pipe).

How much is said is set once per command by :func:`configure_logging` (``-v``, ``-q``; it lives in
:mod:`codeferry.terminal`, which imports no typer, and is re-exported here): library code logs
through ``logging.getLogger("codeferry.<area>")`` and never prints.
"""

from __future__ import annotations

import json
import re
import sys
import traceback
from typing import IO, TYPE_CHECKING, Any

from codeferry.progress import format_bytes
from codeferry.terminal import QUIET, configure_logging, logging_restored

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = [
    "QUIET",
    "configure_logging",
    "debug_enabled",
    "echo",
    "format_bytes",
    "info",
    "logging_restored",
    "print_json",
    "print_table",
    "printable",
    "report_error",
    "stdin_is_terminal",
]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_RED = "\x1b[31m"
_RESET = "\x1b[0m"
_ANSI_STYLE = re.compile(r"\x1b\[[;?0-9]*[a-zA-Z]")


def echo(
    text: str, *, err: bool = False, file: IO[str] | None = None, nl: bool = True, red: bool = False
) -> None:
    """Write ``text`` and a newline to standard output (``err``: error; or ``file``), flushed.

    What ``typer.echo`` does, without importing typer (the commands a worker runs must start
    fast): ``red`` colours the text on a terminal; elsewhere, colour codes are removed.
    """
    from codeferry.terminal import colour_enabled

    stream = file if file is not None else sys.stderr if err else sys.stdout
    if stream is None:  # no console (pythonw): nothing to write to
        return
    if not colour_enabled(stream):  # NO_COLOR, TERM=dumb, or not a terminal
        text = _ANSI_STYLE.sub("", text)
    elif red:
        text = f"{_RED}{text}{_RESET}"
    stream.write(f"{text}\n" if nl else text)
    stream.flush()


def printable(text: str) -> str:
    """``text`` with control characters (newlines and escape sequences included) escaped."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def print_json(data: Any, *, reveal: bool = False) -> None:
    """``data`` as indented JSON on standard output (dates and paths as text).

    :param reveal: write past the secret mask (only for secrets the user asked to see).
    """
    text = json.dumps(data, indent=2, default=str, ensure_ascii=False)
    echo(text, file=_unmasked() if reveal else None)


def info(message: str) -> None:
    """A message for people, on standard error; none when the command is quiet (``-q``)."""
    from codeferry.terminal import is_quiet

    if not is_quiet():
        echo(message, err=True)


def print_table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], *, reveal: bool = False
) -> None:
    """Aligned columns with a header line on standard output; cells are escaped.

    :param reveal: write past the secret mask (only for secrets the user asked to see).
    """
    cells = [[printable(str(cell)) for cell in row] for row in rows]
    widths = [
        max([len(header), *(len(row[index]) for row in cells)])
        for index, header in enumerate(headers)
    ]
    for row in [list(headers), *cells]:
        echo(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip(),
            file=_unmasked() if reveal else None,
        )


def _unmasked() -> Any:
    from codeferry.masked_output import unmasked_stdout

    return unmasked_stdout()


def stdin_is_terminal() -> bool:
    """Whether there is a person to ask (prompts and confirmations happen only then)."""
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except ValueError:  # a closed stream
        return False


def debug_enabled() -> bool:
    """``CODEFERRY_DEBUG=1``: errors are printed with their traceback."""
    from codeferry.errors import SettingError
    from codeferry.settings import flag

    try:
        return flag("CODEFERRY_DEBUG")
    except SettingError:  # asked while reporting an error: the error matters more
        return False


def report_error(error: BaseException, *, expected: bool) -> None:
    """Print ``error`` as one line ``Error: ...`` on standard error, secrets masked.

    ``expected`` errors (a :class:`~codeferry.errors.CodeferryError`) say what to fix; others are
    bugs, reported with their type and a hint to get the traceback.
    """
    from codeferry.secrets import mask

    if debug_enabled():
        echo(mask("".join(traceback.format_exception(error))).rstrip(), err=True)
    from codeferry.errors import describe_os_error

    described = describe_os_error(error) if isinstance(error, OSError) else str(error)
    text = " ".join(line.strip() for line in described.splitlines() if line.strip())
    if not expected:
        name = type(error).__name__
        text = f"unexpected {name}: {text}" if text else f"unexpected {name}"
        if not debug_enabled():
            text += " (set CODEFERRY_DEBUG=1 to see the traceback)"
    echo("Error: ", err=True, nl=False, red=True)
    echo(printable(mask(text)), err=True)
