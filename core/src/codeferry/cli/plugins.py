"""``codeferry plugins ls`` lists the installed plugins; ``codeferry plugins new`` starts one."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["app"]

app = typer.Typer(name="plugins", help="The installed plugins, and new ones.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on standard output.")]


@app.command("ls")
def list_plugins(json_output: JsonOption = False) -> None:
    """List the plugins: distribution, version, block types, steps, sources, and status."""
    from codeferry.cli import output
    from codeferry.plugins import get_plugins

    described = get_plugins().describe()
    if json_output:
        output.print_json(described)
        return
    for index, plugin in enumerate(described):
        if index:
            typer.echo("")
        _print_plugin(plugin)


def _print_plugin(plugin: dict[str, Any]) -> None:
    from codeferry.cli.output import printable

    version = plugin["version"] or "unknown version"
    typer.echo(
        printable(f"{plugin['name']}  {plugin['distribution']} {version}  [{plugin['status']}]")
    )
    sources = [f"{kind['name']} ({kind['description']})" for kind in plugin["source_kinds"]]
    for label, items in (
        ("block types", plugin["block_types"]),
        ("steps", plugin["steps"]),
        ("sources", sources),
    ):
        if items:
            typer.echo(printable(f"  {label + ':':<13}{', '.join(items)}"))
    for error in plugin["errors"]:
        typer.echo(printable(f"  error:       {error}"))


@app.command("new")
def new(
    name: Annotated[
        str, typer.Argument(help="The plugin's name, lowercase with dashes (my-store).")
    ],
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to create the codeferry-NAME folder.")
    ] = Path(),
) -> None:
    """Create the plugin distribution codeferry-NAME, ready to install and test."""
    from codeferry.scaffold import create_plugin

    root = create_plugin(name, directory)
    typer.echo(f"Created {root}")
    typer.echo("Next:")
    typer.echo(f"  cd {root}")
    typer.echo('  pip install -e ".[test]"')
    typer.echo("  pytest")
