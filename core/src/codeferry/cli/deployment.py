"""``codeferry deployment ...`` and the deployment-file forms of ``pull``, ``run`` and ``push``.

Only typer and the standard library are imported here; the work is imported inside the commands
so that ``codeferry --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["app", "pull_command", "push", "push_command", "run_command"]

app = typer.Typer(
    name="deployment",
    help="The deployments of a deployment file (codeferry.yaml or prefect.yaml).",
    no_args_is_help=True,
)

FileOption = Annotated[
    Path | None,
    typer.Option(
        "--file",
        "-f",
        help="Deployment file (default: codeferry.yaml, else prefect.yaml, in this folder).",
        dir_okay=False,
    ),
]


@app.command("ls")
def list_command(
    file: FileOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the deployments of a deployment file."""
    from codeferry.cli import output
    from codeferry.deployments import list_deployments

    rows = list_deployments(file)
    if json_output:
        output.print_json(rows)
        return
    if not rows:
        output.info("no deployments")
        return
    output.print_table(
        ["NAME", "ENTRYPOINT", "PULL STEPS"],
        [
            [row["name"] or "(unnamed)", row["entrypoint"] or "-", ", ".join(row["pull"]) or "-"]
            for row in rows
        ],
    )


@app.command("check")
def check_command(
    file: FileOption = None,
    deployment: Annotated[
        str | None,
        typer.Option("--deployment", help="Only this deployment's problems (and the file's)."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    allow_import_steps: Annotated[
        bool,
        typer.Option(
            "--allow-import-steps",
            help="Steps named by an import path are allowed (they are not imported to check).",
        ),
    ] = False,
) -> None:
    """Check a deployment file without running it: every problem, with file, line and column.

    Reports YAML errors (merge-conflict markers named as such), malformed steps, step names no
    installed plugin provides, arguments a step does not take, references to step outputs,
    blocks and variables that cannot resolve, and deployments with the same name. Errors are
    printed on standard output, warnings (such as a block not saved on this machine) on
    standard error. Nothing is run and no server is contacted. Exit status 1 when there are
    errors.
    """
    from codeferry.checks import check_deployment_file
    from codeferry.cli import output

    problems = check_deployment_file(
        file,
        deployment=deployment,
        allow_import_steps=True if allow_import_steps else None,
    )
    errors = sum(problem.severity == "error" for problem in problems)
    warnings = len(problems) - errors
    if json_output:
        output.print_json(
            {
                "errors": errors,
                "warnings": warnings,
                "problems": [problem.as_dict() for problem in problems],
            }
        )
    else:
        for problem in problems:
            typer.echo(output.printable(str(problem)), err=problem.severity != "error")
        counts = f"{errors} error{'s' if errors != 1 else ''}, "
        counts += f"{warnings} warning{'s' if warnings != 1 else ''}"
        output.info(counts if problems else "no problems found")
    if errors:
        raise typer.Exit(1)


def _reporter(quiet: bool) -> Any:
    from codeferry.steps.progress import default_reporter

    return default_reporter(quiet=quiet)


def pull_command(
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
    from codeferry.runs import pull_deployment

    result = pull_deployment(
        file,
        deployment,
        dest=dest,
        replace=replace,
        allow_import_steps=True if allow_import_steps else None,
        reporter=_reporter(json_output),
    )
    if json_output:
        output.print_json(result.as_dict())
        return
    count = len(result.steps.records)
    output.info(f"ran {count} pull step{'s' if count != 1 else ''}")
    typer.echo(str(result.link or result.directory))


def run_command(
    file: Path | None,
    deployment: str,
    args: list[str] | None = None,
    allow_import_steps: bool = False,
) -> None:
    """``codeferry run [-f FILE] DEPLOYMENT [-- ARGS]``: pull, then call the entrypoint.

    ``ARGS`` are ``key=value``, ``--key value`` or positional words (JSON values decoded). What
    the entrypoint returns is printed, as JSON when it can be.
    """
    from codeferry.entrypoints import parse_arguments
    from codeferry.errors import UserCodeError
    from codeferry.runs import run_deployment

    positional, keywords = parse_arguments(list(args or []))
    try:
        result = run_deployment(
            file,
            deployment,
            positional,
            keywords,
            allow_import_steps=True if allow_import_steps else None,
            reporter=_reporter(False),
        )
    except UserCodeError as error:
        if error.__cause__ is not None:
            traceback.print_exception(error.__cause__, file=sys.stderr)
        raise UserCodeError(f"running deployment {deployment}: {error}") from error
    if result is not None:
        try:
            typer.echo(json.dumps(result))
        except (TypeError, ValueError):
            typer.echo(repr(result))


def push_command(
    file: Path | None,
    deployment: str | None,
    json_output: bool = False,
    allow_import_steps: bool = False,
) -> None:
    """``codeferry push [-f FILE] [--deployment NAME] [--json]``: build steps, then push steps."""
    from codeferry.cli import output
    from codeferry.runs import push_deployment, steps_as_list

    result = push_deployment(
        file,
        deployment,
        allow_import_steps=True if allow_import_steps else None,
        reporter=_reporter(json_output),
    )
    if json_output:
        output.print_json({"steps": steps_as_list(result), "recorded": result.recorded})
        return
    count = len(result.records)
    recorded = (
        f"; their outputs are recorded for pull steps as block push-outputs/{result.recorded}"
        if result.recorded
        else ""
    )
    output.info(f"ran {count} build and push step{'s' if count != 1 else ''}{recorded}")


def push(
    *,
    file: FileOption = None,
    deployment: Annotated[
        str | None,
        typer.Option("--deployment", help="Whose build and push steps to run."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    allow_import_steps: Annotated[
        bool,
        typer.Option(
            "--allow-import-steps",
            help="Let steps named by an import path run (the file then chooses the code).",
        ),
    ] = False,
) -> None:
    """Run the build steps, then the push steps, of a deployment file."""
    push_command(file, deployment, json_output, allow_import_steps)
