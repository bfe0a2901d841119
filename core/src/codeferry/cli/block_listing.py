"""``codeferry block type ls``: the block types known here, free of the command-line framework.

Listing block types is how people and scripts find what a machine can hold, and its start-up is
most of its time; so the lean command line (:mod:`codeferry.cli.lean`) runs it without typer, as
the typer command does (:mod:`codeferry.cli.block`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codeferry.blocks import Block

__all__ = ["list_block_types"]


def list_block_types(*, json_output: bool = False) -> None:
    """Print the block types (installed plugins' and registered ones) as a table or JSON."""
    from codeferry.cli import output

    rows: dict[int, dict[str, Any]] = {}
    for slug, (block_type, source) in _known_block_types().items():
        row = rows.setdefault(
            id(block_type),
            {
                "slug": block_type.block_type_slug,
                "name": block_type.block_type_name,
                "description": block_type.description(),
                "source": source,
                "aliases": [],
                "secret_fields": block_type.secret_fields(),
            },
        )
        if slug != row["slug"]:
            row["aliases"].append(slug)
    listed = sorted(rows.values(), key=lambda row: str(row["slug"]))
    if json_output:
        output.print_json(listed)
        return
    output.print_table(
        ["SLUG", "NAME", "FROM", "DESCRIPTION"],
        [[row["slug"], row["name"], row["source"], row["description"]] for row in listed],
    )


def _known_block_types() -> dict[str, tuple[type[Block], str]]:
    """Installed plugins' block types, and registered ones when there is a store to hold them.

    Without a store database there is nothing registered: listing neither creates one nor
    imports SQLAlchemy (a tenth of a second) to find that out.
    """
    if _store_database_exists():
        from codeferry.blocks import block_types

        return {slug: (entry.block_type, entry.source) for slug, entry in block_types().items()}
    from codeferry.plugins import get_plugins

    return {
        slug: (entry.block_type, entry.distribution)
        for slug, entry in get_plugins().block_types.items()
    }


def _store_database_exists() -> bool:
    """False only for the default SQLite file when it was never created."""
    from codeferry import settings

    url = settings.database_url()
    if "CODEFERRY_DATABASE_URL" in os.environ or not url.startswith("sqlite:///"):
        return True
    return Path(url.removeprefix("sqlite:///")).exists()
