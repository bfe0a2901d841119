"""What ``codeferry pull`` and ``codeferry run`` do, free of the command-line framework.

Workers run these commands before every flow run, as whole processes, so their start-up is what
users feel: this module imports only the standard library, and each command imports what it
needs when it runs. The typer commands (:mod:`codeferry.cli.code`) and the lean command line
(:mod:`codeferry.cli.lean`) both call these functions, so the two behave alike.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codeferry.steps.progress import StepReporter
    from codeferry.storage import PullResult

__all__ = [
    "names_code",
    "pull_deployment",
    "pull_source",
    "run_deployment",
    "run_source",
]


def names_code(word: str) -> bool:
    """Whether ``run``'s one word names code (a URL, an existing path) rather than a deployment."""
    return "://" in word or Path(word).exists()


def pull_source(
    source: str, *, dest: Path | None = None, replace: bool = False, json_output: bool = False
) -> None:
    """``codeferry pull SOURCE``: pull, then print the folder (or the result as JSON)."""
    from codeferry.checkouts import destination_path
    from codeferry.cli import output
    from codeferry.plugins import get_plugins

    storage = get_plugins().storage_from_source(source)
    result = storage.pull_code(dest, replace=replace)
    link = destination_path(dest) if dest is not None else None
    if json_output:
        output.print_json({**result.as_dict(), "link": str(link) if link else None})
        return
    output.info(_summary(result))
    output.echo(str(link or result.directory))


def run_source(
    source: str,
    entrypoint: str,
    arguments: list[str],
    *,
    dest: Path | None = None,
    replace: bool = False,
) -> None:
    """``codeferry run SOURCE ENTRYPOINT -- ARGS``: pull, call the entrypoint, print its result."""
    from codeferry.checkouts import Checkout
    from codeferry.cli import output
    from codeferry.entrypoints import call, load_entrypoint, parse_arguments, parse_entrypoint
    from codeferry.errors import CodeferryError, UserCodeError
    from codeferry.plugins import get_plugins
    from codeferry.secrets import redact_url

    where = redact_url(source)
    code_dir: Path | None = None
    try:
        # Bad input is found before anything is transferred.
        parsed = parse_entrypoint(entrypoint)
        positional, keywords = parse_arguments(arguments)
        storage = get_plugins().storage_from_source(source)
        where = str(storage)
        checkout = Checkout.for_storage(storage, dest)
        result = checkout.pull(storage, replace=replace)
        output.info(_summary(result))
        code_dir = result.directory
        with checkout.use(code_dir) as directory, contextlib.chdir(directory):
            function = load_entrypoint(parsed, directory)
            value = call(function, positional, keywords)
    except UserCodeError as error:
        if error.__cause__ is not None and code_dir is not None:
            output.echo(_user_traceback(error.__cause__, code_dir), err=True)
        raise UserCodeError(f"running {entrypoint} from {where}: {error}") from error
    except CodeferryError as error:
        raise CodeferryError(f"cannot run {entrypoint} from {where}: {error}") from error
    if value is not None:
        output.echo(_as_text(value))


def pull_deployment(
    file: Path | None,
    deployment: str | None,
    dest: Path | None = None,
    json_output: bool = False,
    allow_import_steps: bool = False,
    *,
    replace: bool = False,
) -> None:
    """``codeferry pull [-f FILE] [--deployment NAME] [--dest DIR] [--replace] [--json]``.

    Prints where the code is (the folder alone, so ``cd "$(codeferry pull)"`` works), or the
    whole result as JSON. Progress goes to standard error.
    """
    from codeferry.cli import output
    from codeferry.runs import pull_deployment as pull

    result = pull(
        file,
        deployment,
        dest=dest,
        replace=replace,
        allow_import_steps=True if allow_import_steps else None,
        reporter=reporter(json_output),
    )
    if json_output:
        output.print_json(result.as_dict())
        return
    count = len(result.steps.records)
    output.info(f"ran {count} pull step{'s' if count != 1 else ''}")
    output.echo(str(result.link or result.directory))


def run_deployment(
    file: Path | None,
    deployment: str,
    args: list[str] | None = None,
    allow_import_steps: bool = False,
) -> None:
    """``codeferry run [-f FILE] DEPLOYMENT [-- ARGS]``: pull, then call the entrypoint.

    ``ARGS`` are ``key=value``, ``--key value`` or positional words (JSON values decoded). What
    the entrypoint returns is printed, as JSON when it can be.
    """
    import sys
    import traceback

    from codeferry.cli import output
    from codeferry.entrypoints import parse_arguments
    from codeferry.errors import UserCodeError
    from codeferry.runs import run_deployment as run

    positional, keywords = parse_arguments(list(args or []))
    try:
        result = run(
            file,
            deployment,
            positional,
            keywords,
            allow_import_steps=True if allow_import_steps else None,
            reporter=reporter(False),
        )
    except UserCodeError as error:
        if error.__cause__ is not None:
            traceback.print_exception(error.__cause__, file=sys.stderr)
        raise UserCodeError(f"running deployment {deployment}: {error}") from error
    if result is not None:
        output.echo(_as_text(result))


def reporter(quiet: bool) -> StepReporter:
    """How a deployment's steps are shown: Rich progress on a terminal unless ``quiet``."""
    from codeferry.steps.progress import default_reporter

    return default_reporter(quiet=quiet)


def _summary(result: PullResult) -> str:
    from codeferry.cli.output import format_bytes

    version = result.version[:12] if len(result.version) > 16 else result.version
    if not result.changed:
        return f"{result.source} is unchanged (version {version})"
    files = f"{result.files} file{'s' if result.files != 1 else ''}"
    return f"pulled {result.source} (version {version}): {files}, {format_bytes(result.bytes)}"


def _user_traceback(error: BaseException, code_dir: Path) -> str:
    """The traceback of ``error`` from the first frame in the user's code on.

    The frames before it are codeferry's (loading and calling the entrypoint, the event loop for
    coroutines): noise to the user. Without any frame of theirs (a syntax error, say) only the
    error itself is shown, which names the file and line.
    """
    import traceback

    root = code_dir.resolve()
    summary = traceback.TracebackException.from_exception(error)
    frames = list(summary.stack)
    first = next((i for i, frame in enumerate(frames) if _is_under(frame.filename, root)), None)
    summary.stack = traceback.StackSummary.from_list(frames[first:] if first is not None else [])
    return "".join(summary.format()).rstrip()


def _is_under(filename: str, root: Path) -> bool:
    try:
        return Path(filename).resolve().is_relative_to(root)
    except (OSError, ValueError):
        return False


def _as_text(value: Any) -> str:
    import json

    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
