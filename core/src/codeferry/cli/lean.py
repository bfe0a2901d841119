"""The commands a worker runs, parsed without a command-line framework.

A worker runs ``codeferry pull`` or ``codeferry run`` before every flow run, as a whole process;
importing typer (and the pydantic it uses) would be much of that process's time. So
:func:`codeferry.cli.main` first offers the command line to :func:`parse`, which knows only
well-formed command lines of these forms::

    codeferry pull SOURCE [--dest DIR] [--replace] [--json]
    codeferry pull [-f FILE] [--deployment NAME] [--dest DIR] [--replace] [--json]
                   [--allow-import-steps]
    codeferry run SOURCE ENTRYPOINT [--dest DIR] [--replace] [-- ARGS...]
    codeferry run [-f FILE] DEPLOYMENT [--allow-import-steps] [-- ARGS...]
    codeferry block type ls [--json]

(the last one for scripts that ask what a machine can hold, whose time is mostly start-up),
each after the root options ``-v``/``-vv``/``--verbose`` or ``-q``/``--quiet``, which set how
much codeferry's loggers say.

(options in any order, as ``--name VALUE``, ``--name=VALUE`` or ``-d VALUE``; the options the
typer commands accept and ignore in a form are accepted and ignored here too). Anything else --
help, another command, an unknown option, a missing or doubtful value -- is left to the typer
application (:mod:`codeferry.cli.root`), which prints help and usage errors: the messages users
see are the same on both paths by construction. What runs is the same function on both paths
(:mod:`codeferry.cli.worker`), with the same output mask, one-line errors and exit statuses as
:class:`codeferry.cli.root.CodeferryGroup` (both report through :func:`report_failure`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from codeferry.cli import worker

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

__all__ = ["QUIET", "main", "parse", "report_failure", "run_command"]

# The environment variable click sets to ask for shell completions: typer answers those.
_COMPLETION_VARIABLE = "_CODEFERRY_COMPLETE"

# Each command's options: the typer parameter each sets, and whether it takes a value.
_PULL_OPTIONS = {
    "--dest": ("dest", True),
    "-d": ("dest", True),
    "--replace": ("replace", False),
    "--json": ("json_output", False),
    "--file": ("file", True),
    "-f": ("file", True),
    "--deployment": ("deployment", True),
    "--allow-import-steps": ("allow_import_steps", False),
}
_RUN_OPTIONS = {
    name: option for name, option in _PULL_OPTIONS.items() if name not in {"--json", "--deployment"}
}


def main(args: Sequence[str]) -> None:
    """Run ``args`` and exit when they are one of the lean forms; else return (typer's turn)."""
    if os.environ.get(_COMPLETION_VARIABLE):
        return
    root = _read_root_options(args)
    if root is None:
        return
    verbosity, rest = root
    command = parse(rest)
    if command is not None:
        raise SystemExit(run_command(command, verbosity=verbosity))


QUIET = -1
"""The verbosity of ``-q``: errors only (:data:`codeferry.terminal.QUIET`)."""


def _read_root_options(args: Sequence[str]) -> tuple[int, list[str]] | None:
    """The verbosity the root options before the command ask for, and the words after them."""
    verbose, quiet, index = 0, False, 0
    while index < len(args) and args[index].startswith("-"):
        word = args[index]
        if word == "--verbose":
            verbose += 1
        elif word in {"-q", "--quiet"}:
            quiet = True
        elif len(word) > 1 and word[1:] == "v" * (len(word) - 1):  # -v, -vv, -vvv
            verbose += len(word) - 1
        else:
            return None  # --version, --help, and what typer refuses
        index += 1
    if verbose and quiet:
        return None  # typer says they do not go together
    return (QUIET if quiet else verbose), list(args[index:])


def parse(args: Sequence[str]) -> Callable[[], None] | None:
    """The call the command line ``args`` (after the root options) stands for.

    ``None`` when typer must read it.
    """
    if list(args[:3]) == ["block", "type", "ls"] and set(args[3:]) <= {"--json"}:
        from codeferry.cli.block_listing import list_block_types

        return functools.partial(list_block_types, json_output=len(args) > 3)
    if not args or args[0] not in {"pull", "run"}:
        return None
    name, words = args[0], list(args[1:])
    passthrough: list[str] = []
    if name == "run" and "--" in words:
        cut = words.index("--")
        words, passthrough = words[:cut], words[cut + 1 :]
    parsed = _read_options(words, _PULL_OPTIONS if name == "pull" else _RUN_OPTIONS)
    if parsed is None:
        return None
    positional, options = parsed
    dest, file = _path(options.get("dest")), _path(options.get("file"))
    if _refused(dest, folder=True) or _refused(file, folder=False):
        return None  # typer refuses these, in its own words
    if name == "pull":
        return _pull(positional, options, dest, file)
    return _run(positional, options, dest, file, passthrough)


def _pull(
    positional: list[str], options: dict[str, str], dest: Path | None, file: Path | None
) -> Callable[[], None] | None:
    replace, json_output = "replace" in options, "json_output" in options
    if len(positional) > 1:
        return None
    if positional:
        return functools.partial(
            worker.pull_source, positional[0], dest=dest, replace=replace, json_output=json_output
        )
    allow_import_steps = "allow_import_steps" in options
    deployment = options.get("deployment")
    return functools.partial(
        worker.pull_deployment,
        file,
        deployment,
        dest,
        json_output,
        allow_import_steps,
        replace=replace,
    )


def _run(
    positional: list[str],
    options: dict[str, str],
    dest: Path | None,
    file: Path | None,
    passthrough: list[str],
) -> Callable[[], None] | None:
    if len(positional) == 2:
        source, entrypoint = positional
        replace = "replace" in options
        return functools.partial(
            worker.run_source, source, entrypoint, passthrough, dest=dest, replace=replace
        )
    if len(positional) == 1 and not worker.names_code(positional[0]):
        allow_import_steps = "allow_import_steps" in options
        return functools.partial(
            worker.run_deployment, file, positional[0], passthrough, allow_import_steps
        )
    return None  # typer says what is missing, or too much


def _read_options(
    words: list[str], known: dict[str, tuple[str, bool]]
) -> tuple[list[str], dict[str, str]] | None:
    """The positional words and the options given (a flag maps to ``""``); ``None``: typer's.

    A repeated option keeps its last value, as click does.
    """
    positional: list[str] = []
    options: dict[str, str] = {}
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith("-"):
            positional.append(word)
            continue
        given, has_value, attached = (
            word.partition("=") if word.startswith("--") else (word, "", "")
        )
        if given not in known:
            return None
        parameter, takes_value = known[given]
        if not takes_value:
            if has_value:
                return None
            options[parameter] = ""
            continue
        if has_value:
            value = attached
        elif index < len(words):
            value, index = words[index], index + 1
        else:
            return None
        if not value or value.startswith("-"):
            return None  # typer decides what an empty or dash-led value means
        options[parameter] = value
    return positional, options


def _path(value: str | None) -> Path | None:
    return Path(value) if value is not None else None


def _refused(path: Path | None, *, folder: bool) -> bool:
    """Whether typer refuses ``path`` for a folder (or a file) option: what its path type checks.

    An existing path must be of the right kind (links followed) and readable; a missing one is
    taken.
    """
    if path is None:
        return False
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError):
        return False
    wrong_kind = stat.S_ISREG(mode) if folder else stat.S_ISDIR(mode)
    return wrong_kind or not os.access(path, os.R_OK)


def run_command(command: Callable[[], None], *, verbosity: int = 0) -> int:
    """Run ``command`` as the root command runs one; its exit status.

    Everything it prints passes the secret mask (the environment's secrets are known from the
    start); a failure is one line on standard error and status 1; an interruption is 130; a
    closed output pipe (``| head``) ends it quietly with status 1. ``verbosity`` is what
    ``-v``/``-vv`` (1, 2) or ``-q`` (:data:`QUIET`) asked for.
    """
    from codeferry.masked_output import masked_stdio
    from codeferry.secrets import remember_named

    remember_named(os.environ)
    try:
        with masked_stdio(), _verbosity(verbosity):
            try:
                command()
            except BrokenPipeError:
                raise
            except Exception as error:
                report_failure(error)
                return 1
    except BrokenPipeError:
        _discard_output()
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


@contextlib.contextmanager
def _verbosity(verbosity: int) -> Iterator[None]:
    """How much the ``codeferry`` loggers say while the command runs, as ``-v``/``-q`` asked."""
    from codeferry.terminal import configure_logging, logging_restored

    with logging_restored():
        configure_logging(verbosity)
        yield


def report_failure(error: Exception) -> None:
    """Report a command's failure as one line on standard error (see ``output.report_error``)."""
    from codeferry.cli import output
    from codeferry.errors import CodeferryError

    # An operating-system failure (disk full, permissions) is the user's to fix, not a bug.
    output.report_error(error, expected=isinstance(error, (CodeferryError, OSError)))


def _discard_output() -> None:
    """Point standard output and error at the null device: their reader has gone.

    Python would otherwise report the broken pipe again when it flushes them at exit.
    """
    import sys

    null = os.open(os.devnull, os.O_WRONLY)
    try:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(AttributeError, OSError, ValueError):  # no file behind it
                os.dup2(null, stream.fileno())
    finally:
        os.close(null)
