"""``codeferry init``: write a starter ``codeferry.yaml``, from flags or by asking."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["init"]


def init(
    *,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            "-s",
            help="Where the code is: a path, a URL (s3://..., https://...git) or block:SLUG/NAME.",
        ),
    ] = None,
    entrypoint: Annotated[
        str | None,
        typer.Option(
            "--entrypoint", "-e", help="What to run: path/file.py:function or package.module.func."
        ),
    ] = None,
    storage: Annotated[
        str | None,
        typer.Option(
            "--storage", help="Kind of storage, for the examples shown when asking (local, s3...)."
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", "-n", help="Deployment name (default: this folder's name)."),
    ] = None,
    file: Annotated[
        Path, typer.Option("--file", "-f", help="File to write.", dir_okay=False)
    ] = Path("codeferry.yaml"),
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the file if it exists.")
    ] = False,
) -> None:
    """Write a starter codeferry.yaml whose pull step fetches your code.

    Missing answers are asked for on a terminal; elsewhere give --source and --entrypoint.
    """
    from codeferry.cli import output
    from codeferry.deployments import init_deployment_file
    from codeferry.errors import CodeferryError
    from codeferry.plugins import get_plugins

    plugins = get_plugins()
    kinds = _source_kinds(plugins)
    if storage is not None and storage not in kinds:
        known = ", ".join(sorted(kinds)) or "none"
        raise CodeferryError(f"no installed plugin offers the storage {storage!r}; known: {known}")
    interactive = output.stdin_is_terminal()
    if (source is None or entrypoint is None) and not interactive:
        raise CodeferryError("give --source and --entrypoint (there is no terminal to ask on)")
    if source is None:
        if storage is None:
            storage = _ask_kind(kinds)
        examples = kinds.get(storage, ("", ()))[1]
        hint = f" (e.g. {', '.join(examples[:2])})" if examples else ""
        source = typer.prompt(f"Where is the code{hint}")
    if entrypoint is None:
        entrypoint = typer.prompt("What to run (path/file.py:function or package.module.func)")
    if file.exists() and not overwrite and interactive:
        overwrite = typer.confirm(f"{file} exists; replace it?", default=False)
    written = init_deployment_file(
        file, source=source, entrypoint=entrypoint, name=name, overwrite=overwrite, plugins=plugins
    )
    output.info(f"wrote {written}; try: codeferry deployment ls -f {written}")


def _source_kinds(plugins: Any) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {
        kind.name: (kind.description, tuple(kind.examples))
        for info in plugins.plugins.values()
        for kind in info.source_kinds
    }


def _ask_kind(kinds: dict[str, tuple[str, tuple[str, ...]]]) -> str:
    for kind, (description, _) in sorted(kinds.items()):
        typer.echo(f"  {kind:<10} {description}", err=True)
    default = "local" if "local" in kinds else next(iter(sorted(kinds)), "local")
    answer: str = typer.prompt("Kind of storage", default=default)
    return answer
