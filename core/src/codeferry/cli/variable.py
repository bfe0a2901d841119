"""``codeferry variable set/get/ls/delete``: what templates read as ``{{ variables.NAME }}``."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

__all__ = ["app"]

app = typer.Typer(
    name="variable",
    help="Variables that deployment files use as {{ variables.NAME }}.",
    no_args_is_help=True,
)


def _store() -> Any:
    from codeferry.store import get_store

    return get_store()


@app.command("set")
def set_command(
    name: Annotated[str, typer.Argument(help="Variable name.")],
    value: Annotated[str, typer.Argument(help="Its value (text, unless --json-value).")],
    json_value: Annotated[
        bool, typer.Option("--json-value", help="Read VALUE as JSON (a number, list, object).")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the variable if it is set.")
    ] = False,
) -> None:
    """Set a variable."""
    from codeferry.errors import StoreError

    decoded: Any = value
    if json_value:
        try:
            decoded = json.loads(value)
        except ValueError as error:
            raise StoreError(f"variable {name!r}: VALUE is not JSON: {error}") from None
    from codeferry.cli import output

    _store().set_variable(name, decoded, overwrite=overwrite)
    output.info(f"set variable {name}")


@app.command("get")
def get_command(
    name: Annotated[str, typer.Argument(help="Variable name.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the value as JSON.")] = False,
) -> None:
    """Print a variable's value (text as it is, other values as JSON)."""
    value = _store().get_variable(name)
    typer.echo(json.dumps(value) if json_output else _text(value))


@app.command("ls")
def list_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the variables and their values."""
    from codeferry.cli import output

    variables = _store().list_variables()
    if json_output:
        output.print_json(variables)
        return
    if not variables:
        output.info("no variables")
        return
    output.print_table(
        ["NAME", "VALUE"],
        [
            [name, value if isinstance(value, str) else json.dumps(value)]
            for name, value in variables.items()
        ],
    )


@app.command("delete")
def delete_command(name: Annotated[str, typer.Argument(help="Variable name.")]) -> None:
    """Delete a variable."""
    from codeferry.cli import output

    _store().delete_variable(name)
    output.info(f"deleted variable {name}")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
