"""``codeferry pull`` and ``codeferry run``, from a source or from a deployment file.

``codeferry pull SOURCE`` and ``codeferry run SOURCE ENTRYPOINT [-- ARGS...]`` name the code
directly; ``codeferry pull [-f FILE] [--deployment NAME]`` and ``codeferry run [-f FILE] DEPLOYMENT
[-- ARGS...]`` run a deployment file's pull steps instead (see :mod:`codeferry.cli.deployment`).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand

if TYPE_CHECKING:
    from collections.abc import Iterator

    from codeferry.storage import PullResult

__all__ = ["RunCommand", "entrypoint_arguments", "pull", "run"]

# Where RunCommand keeps the words after "--" for the command body.
_PASSTHROUGH_KEY = "codeferry.passthrough"

SourceArgument = Annotated[
    str | None,
    typer.Argument(
        metavar="SOURCE",
        help="Where the code is: a folder, a URL (s3://..., https://...git) or block:SLUG/NAME.",
        show_default=False,
    ),
]
DestOption = Annotated[
    Path | None,
    typer.Option(
        "--dest",
        "-d",
        help="Also make this folder point at the pulled code (default: only the codeferry home).",
        file_okay=False,
    ),
]
ReplaceOption = Annotated[
    bool,
    typer.Option(
        "--replace",
        help="Let --dest replace the checkout of another source it holds (else refused).",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on standard output.")]
FileOption = Annotated[
    Path | None,
    typer.Option(
        "--file",
        "-f",
        help="Deployment file, for a deployment's pull steps "
        "(default: codeferry.yaml, else prefect.yaml).",
        dir_okay=False,
    ),
]
AllowImportStepsOption = Annotated[
    bool,
    typer.Option(
        "--allow-import-steps",
        help="Let a deployment file's steps named by an import path run.",
    ),
]


class RunCommand(TyperCommand):
    """A command whose words after ``--`` are kept for the program it runs, not parsed."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta[_PASSTHROUGH_KEY] = args[cut + 1 :]
            args = args[:cut]
        return list(super().parse_args(ctx, args))


def entrypoint_arguments(ctx: typer.Context) -> list[str]:
    """The words given after ``--`` to a :class:`RunCommand`."""
    return list(ctx.meta.get(_PASSTHROUGH_KEY, []))


def pull(
    ctx: typer.Context,
    source: SourceArgument = None,
    *,
    dest: DestOption = None,
    replace: ReplaceOption = False,
    json_output: JsonOption = False,
    file: FileOption = None,
    deployment: Annotated[
        str | None,
        typer.Option("--deployment", help="Whose pull steps to run, when no SOURCE is given."),
    ] = None,
    allow_import_steps: AllowImportStepsOption = False,
) -> None:
    """Pull the code from SOURCE, or by a deployment file's pull steps, and print its folder.

    Only what changed since the last pull is transferred; the new version replaces the old one
    atomically. The folder alone is printed, so `cd "$(codeferry pull SOURCE)"` works; what was
    transferred is reported on standard error. Without SOURCE, the pull steps of the deployment
    file (codeferry.yaml, else prefect.yaml) run.
    """
    if source is None:
        from codeferry.cli.deployment import pull_command

        pull_command(file, deployment, dest, json_output, allow_import_steps, replace=replace)
        return
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
    typer.echo(str(link or result.directory))


def run(
    ctx: typer.Context,
    source: SourceArgument = None,
    entrypoint: Annotated[
        str | None,
        typer.Argument(
            metavar="ENTRYPOINT",
            help="What to call: path/to/file.py:function or package.module.function.",
            show_default=False,
        ),
    ] = None,
    *,
    dest: DestOption = None,
    replace: ReplaceOption = False,
    file: FileOption = None,
    allow_import_steps: AllowImportStepsOption = False,
) -> None:
    """Pull the code from SOURCE, then call ENTRYPOINT in it with the ARGS given after --.

    ARGS are key=value, --key value or positional words; values that are JSON (3, true, [1, 2])
    are decoded. The entrypoint runs with the pulled folder as working folder; what it returns
    is printed, as JSON when it can be. Example:

        codeferry run ./flows flows/etl.py:main -- day=2024-01-31 --retries 3

    With one word only, it names a deployment of the deployment file: its pull steps run, then
    its entrypoint is called (codeferry run my-flow -- day=2024-01-31).
    """
    if source is None:
        ctx.fail("Missing argument 'SOURCE' (or a deployment's name).")
    if entrypoint is None:
        if "://" in source or Path(source).exists():
            ctx.fail("Missing argument 'ENTRYPOINT' (the entrypoint's own arguments go after --).")
        from codeferry.cli.deployment import run_command

        run_command(file, source, entrypoint_arguments(ctx), allow_import_steps)
        return
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
        positional, keywords = parse_arguments(entrypoint_arguments(ctx))
        storage = get_plugins().storage_from_source(source)
        where = str(storage)
        checkout = Checkout.for_storage(storage, dest)
        result = checkout.pull(storage, replace=replace)
        output.info(_summary(result))
        code_dir = result.directory
        with checkout.use(code_dir) as directory, _working_folder(directory):
            function = load_entrypoint(parsed, directory)
            value = call(function, positional, keywords)
    except UserCodeError as error:
        if error.__cause__ is not None and code_dir is not None:
            typer.echo(_user_traceback(error.__cause__, code_dir), err=True)
        raise UserCodeError(f"running {entrypoint} from {where}: {error}") from error
    except CodeferryError as error:
        raise CodeferryError(f"cannot run {entrypoint} from {where}: {error}") from error
    if value is not None:
        typer.echo(_as_text(value))


def _summary(result: PullResult) -> str:
    from codeferry.cli.output import format_bytes

    version = result.version[:12] if len(result.version) > 16 else result.version
    if not result.changed:
        return f"{result.source} is unchanged (version {version})"
    files = f"{result.files} file{'s' if result.files != 1 else ''}"
    return f"pulled {result.source} (version {version}): {files}, {format_bytes(result.bytes)}"


@contextlib.contextmanager
def _working_folder(folder: Path) -> Iterator[None]:
    """Run the block with ``folder`` as working folder, and come back whatever the code did."""
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


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
