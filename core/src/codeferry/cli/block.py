"""``codeferry block ...``: block types, and the blocks saved in the store.

Secret values are shown as ``********`` everywhere; ``block inspect --show-secrets`` is the only
command that reveals them, and no command takes one from the command line.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from codeferry.blocks import Block
    from codeferry.store import BlockDocument

__all__ = ["app", "type_app"]

app = typer.Typer(name="block", help="Block types, and the blocks saved in the store.")
type_app = typer.Typer(name="type", help="The block types known here.", no_args_is_help=True)
app.add_typer(type_app)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON on standard output.")]
Reference = Annotated[str, typer.Argument(metavar="SLUG/NAME", help="The block, as SLUG/NAME.")]


@app.callback(no_args_is_help=True)
def _block() -> None:
    """Block types, and the blocks saved in the store."""


# -- block types -------------------------------------------------------------------------------


@app.command("register")
def register(
    module: Annotated[
        list[str] | None,
        typer.Option("--module", "-m", help="A module to import: package.module (repeatable)."),
    ] = None,
    file: Annotated[
        list[Path] | None,
        typer.Option("--file", "-f", help="A Python file (repeatable).", dir_okay=False),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Register the block types a module or file defines, so blocks of them can be saved.

    Installed plugins' block types are known without registering.
    """
    sources: list[str | Path] = [*(module or []), *(file or [])]
    if not sources:
        raise typer.BadParameter("give a --module or a --file", param_hint="'--module' / '--file'")
    from codeferry.blocks import register_block_types_from
    from codeferry.cli import output
    from codeferry.plugins import get_plugins

    installed = get_plugins().block_types
    results: list[dict[str, Any]] = []
    for source in sources:
        for block_type, status in register_block_types_from(source):
            slug = block_type.block_type_slug
            shadowed = slug in installed and installed[slug].block_type is not block_type
            results.append(
                {
                    "slug": slug,
                    "name": block_type.block_type_name,
                    "status": status,
                    "source": str(source),
                    "shadowed_by": installed[slug].distribution if shadowed else None,
                }
            )
    if json_output:
        output.print_json(results)
        return
    wording = {"new": "registered", "updated": "updated the schema of", "unchanged": "unchanged:"}
    for entry in results:
        typer.echo(output.printable(f"{wording[entry['status']]} {entry['slug']}"))
        if entry["shadowed_by"]:
            output.info(
                f"note: the installed {entry['shadowed_by']} provides {entry['slug']} too, "
                "and is used in its place"
            )


@type_app.command("ls")
def list_types(json_output: JsonOption = False) -> None:
    """List the block types: installed plugins' and registered ones."""
    from codeferry.cli.block_listing import list_block_types

    list_block_types(json_output=json_output)


@type_app.command("inspect")
def inspect_type(
    slug: Annotated[str, typer.Argument(metavar="SLUG", help="The block type's slug (s3-bucket).")],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the block type's JSON schema.")
    ] = False,
) -> None:
    """Show a block type's fields: type, secret or not, required or default, description."""
    from codeferry.blocks import get_block_type
    from codeferry.cli import output
    from codeferry.cli.fields import describe_fields

    block_type = get_block_type(slug)
    if json_output:
        output.print_json(block_type.block_schema())
        return
    typer.echo(output.printable(f"{block_type.block_type_slug} ({block_type.block_type_name})"))
    if description := block_type.description():
        typer.echo(output.printable(description))
    typer.echo("")
    output.print_table(
        ["FIELD", "TYPE", "SECRET", "REQUIRED/DEFAULT", "DESCRIPTION"],
        [
            [
                field.path,
                field.type,
                "secret" if field.secret else "",
                field.default,
                field.description,
            ]
            for field in describe_fields(block_type)
        ],
    )


# -- saved blocks ------------------------------------------------------------------------------


@app.command("create")
def create(
    slug: Annotated[
        str, typer.Argument(metavar="SLUG", help="The block type's slug (github-credentials).")
    ],
    name: Annotated[str, typer.Argument(metavar="NAME", help="The name to save the block under.")],
    assignments: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            "-s",
            metavar="FIELD=VALUE",
            help="A field value (repeatable). Dotted paths set nested fields. "
            "VALUE may be @env:VARIABLE, @file:PATH or @block:SLUG/NAME; secrets must be.",
        ),
    ] = None,
    json_file: Annotated[
        str | None,
        typer.Option(
            "--json",
            metavar="FILE",
            help="A JSON object of field values ('-': standard input); --set applies on top.",
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a block saved under this name.")
    ] = False,
) -> None:
    """Save a block of type SLUG under NAME, from --set values and a --json document.

    Secret fields never take a value written on the command line (other users can read process
    arguments): give them as @env:VARIABLE or @file:PATH, in the --json document, or leave them
    out to be asked on a terminal. JSON objects and arrays are decoded; other values are text,
    converted to the field's type (numbers, true/false). Any problem with the values, --set
    included, exits with status 1 and saves nothing.
    """
    from codeferry.blocks import get_block_type
    from codeferry.cli import output
    from codeferry.cli.assignments import parse_assignment
    from codeferry.cli.block_input import BlockInput, read_json_document
    from codeferry.errors import BlockError

    parsed = [parse_assignment(text) for text in assignments or []]
    block_type = get_block_type(slug)
    document = read_json_document(json_file) if json_file is not None else None
    values = BlockInput(block_type)
    try:
        values.gather(document, parsed)
        missing = values.missing_secrets()
        if missing:
            if json_file == "-" or not output.stdin_is_terminal():
                first = missing[0]
                raise BlockError(
                    f"the secret field {first} of {slug} needs a value: give --set "
                    f"{first}=@env:VARIABLE or --set {first}=@file:PATH "
                    "(there is no terminal to ask on)"
                )
            values.prompt_for(missing, _ask_secret)
        block = values.build()
        block.save(name, overwrite=overwrite)
    finally:
        from codeferry.secrets import remember

        remember(values.secret_values)
    output.info(f"saved block {output.printable(f'{block.block_type_slug}/{name}')}")


def _ask_secret(path: str) -> str:
    answer: str = typer.prompt(f"{path} (secret, not shown)", hide_input=True)
    return answer


@app.command("ls")
def list_blocks(
    slug: Annotated[
        str | None, typer.Option("--type", "-t", metavar="SLUG", help="Only blocks of this type.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List the saved blocks."""
    from codeferry.cli import output
    from codeferry.store import get_store

    documents = get_store().list_documents(slug)
    listed: list[dict[str, Any]] = [
        {
            "block_type_slug": document.block_type_slug,
            "name": document.name,
            "created": _timestamp(document.created),
            "updated": _timestamp(document.updated),
        }
        for document in documents
    ]
    if json_output:
        output.print_json(listed)
        return
    if not listed:
        output.info("no blocks saved" + (f" of type {slug}" if slug else ""))
        return
    output.print_table(
        ["TYPE", "NAME", "UPDATED"],
        [[row["block_type_slug"], row["name"], row["updated"] or ""] for row in listed],
    )


@app.command("inspect")
def inspect_block(
    reference: Reference,
    show_secrets: Annotated[
        bool, typer.Option("--show-secrets", help="Show secret values instead of ********.")
    ] = False,
    json_output: JsonOption = False,
) -> None:
    """Show a saved block's field values (secrets as ******** unless --show-secrets)."""
    from codeferry.blocks import load_block, parse_block_reference
    from codeferry.cli import output
    from codeferry.errors import BlockError, BlockNotFoundError

    slug, name = parse_block_reference(reference)
    try:
        values = _shown_values(load_block(reference), show_secrets)
    except BlockNotFoundError:
        raise
    except BlockError as error:  # its type is gone or changed
        # The block is still in the store: show it as saved, so it can be looked at and fixed.
        from codeferry.store import get_store

        document = get_store().get_document(slug, name)
        output.info(f"warning: {error}; showing the block as it was saved")
        values = _document_values(document, show_secrets)
    if json_output:
        data = {"block_type_slug": slug, "name": name, "data": values}
        output.print_json(data, reveal=show_secrets)
        return
    typer.echo(output.printable(f"{slug}/{name}"))
    rows = [[path, _as_text(value)] for path, value in _flatten(values, "")]
    output.print_table(["FIELD", "VALUE"], rows, reveal=show_secrets)


@app.command("delete")
def delete_block(
    reference: Reference,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask to confirm.")] = False,
) -> None:
    """Delete a saved block (asks to confirm unless --yes)."""
    from codeferry.blocks import parse_block_reference
    from codeferry.cli import output
    from codeferry.errors import BlockError
    from codeferry.store import get_store

    slug, name = parse_block_reference(reference)
    store = get_store()
    store.get_document(slug, name)  # a missing block is an error before any question
    shown = output.printable(f"{slug}/{name}")
    if not yes:
        if not output.stdin_is_terminal():
            raise BlockError(f"give --yes to delete {shown} (there is no terminal to ask on)")
        typer.confirm(f"Delete the block {shown}?", abort=True)
    store.delete_document(slug, name)
    output.info(f"deleted block {shown}")


# -- showing values ----------------------------------------------------------------------------


def _shown_values(block: Block, show_secrets: bool) -> dict[str, Any]:
    from codeferry.secrets import MASK

    if show_secrets:
        return block.public_dict(show_secrets=True)
    values = block.public_dict()
    for path in type(block).secret_fields():
        _mask_at(values, path.split("."), MASK)
    return values


def _document_values(document: BlockDocument, show_secrets: bool) -> dict[str, Any]:
    from codeferry.secrets import MASK

    values = dict(document.data)
    for path, secret in document.secrets.items():
        parts = path.split(".")
        target = values
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = secret if show_secrets else MASK
    return values


def _mask_at(values: dict[str, Any], parts: list[str], mask: str) -> None:
    node: Any = values
    for part in parts[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict) and node.get(parts[-1]) is not None:
        node[parts[-1]] = mask


def _flatten(values: dict[str, Any], prefix: str) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = []
    for key, value in values.items():
        if isinstance(value, dict) and value:
            rows.extend(_flatten(value, f"{prefix}{key}."))
        else:
            rows.append((prefix + key, value))
    return rows


def _as_text(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value)


def _timestamp(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None
