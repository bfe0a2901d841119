"""``codeferry pull`` and ``codeferry run``, from a source or from a deployment file.

``codeferry pull SOURCE`` and ``codeferry run SOURCE ENTRYPOINT [-- ARGS...]`` name the code
directly; ``codeferry pull [-f FILE] [--deployment NAME]`` and ``codeferry run [-f FILE] DEPLOYMENT
[-- ARGS...]`` run a deployment file's pull steps instead (see :mod:`codeferry.cli.deployment`).

These are the typer declarations (help, usage errors); the work is done by
:mod:`codeferry.cli.worker`, which the lean command line (:mod:`codeferry.cli.lean`) calls too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

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
    from codeferry.cli import worker

    if source is None:
        worker.pull_deployment(
            file, deployment, dest, json_output, allow_import_steps, replace=replace
        )
        return
    worker.pull_source(source, dest=dest, replace=replace, json_output=json_output)


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
    from codeferry.cli import worker

    if source is None:
        ctx.fail("Missing argument 'SOURCE' (or a deployment's name).")
    if entrypoint is None:
        if worker.names_code(source):
            ctx.fail("Missing argument 'ENTRYPOINT' (the entrypoint's own arguments go after --).")
        worker.run_deployment(file, source, entrypoint_arguments(ctx), allow_import_steps)
        return
    worker.run_source(source, entrypoint, entrypoint_arguments(ctx), dest=dest, replace=replace)
