"""``codeferry deployment ...`` and the deployment-file forms of ``pull``, ``run`` and ``push``.

Only typer and the standard library are imported here; the work is imported inside the commands
so that ``codeferry --help`` stays fast. The deployment forms of ``pull`` and ``run`` live in
:mod:`codeferry.cli.worker` (``pull_command`` and ``run_command`` here are the same functions).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from codeferry.cli.worker import pull_deployment as pull_command
from codeferry.cli.worker import run_deployment as run_command

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

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]

_CHECK_IMPORT_STEPS = "Steps named by an import path are allowed (they are not imported to check)."
_RUN_IMPORT_STEPS = "Let steps named by an import path run (the file then chooses the code)."


def _deployment(help_text: str) -> Any:
    return typer.Option("--deployment", help=help_text)


def _allow_import_steps(help_text: str) -> Any:
    return typer.Option("--allow-import-steps", help=help_text)


@app.command("ls")
def list_command(
    file: FileOption = None,
    json_output: JsonOption = False,
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
        str | None, _deployment("Only this deployment's problems (and the file's).")
    ] = None,
    json_output: JsonOption = False,
    allow_import_steps: Annotated[bool, _allow_import_steps(_CHECK_IMPORT_STEPS)] = False,
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
    from codeferry.cli.worker import reporter

    return reporter(quiet)


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
    deployment: Annotated[str | None, _deployment("Whose build and push steps to run.")] = None,
    json_output: JsonOption = False,
    allow_import_steps: Annotated[bool, _allow_import_steps(_RUN_IMPORT_STEPS)] = False,
) -> None:
    """Run the build steps, then the push steps, of a deployment file."""
    push_command(file, deployment, json_output, allow_import_steps)
