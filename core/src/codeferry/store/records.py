"""What the block store holds, as plain values: registered block types and saved documents."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BlockDocument", "BlockTypeRecord"]


@dataclass
class BlockTypeRecord:
    """A block type registered from a module (``codeferry block register``)."""

    slug: str
    name: str
    description: str
    schema: dict[str, Any]
    checksum: str
    module: str | None  # "package.module:Class" or "/abs/path/file.py:Class"
    created: dt.datetime | None = None
    updated: dt.datetime | None = None


@dataclass(repr=False)
class BlockDocument:
    """A saved block: public data, secret values by dotted path (decrypted), schema checksum."""

    block_type_slug: str
    name: str
    data: dict[str, Any]
    secrets: dict[str, Any] = field(default_factory=dict)
    schema_checksum: str | None = None
    created: dt.datetime | None = None
    updated: dt.datetime | None = None

    def __repr__(self) -> str:
        # Secret values stay out of logs and tracebacks: only their paths are shown.
        return (
            f"BlockDocument(block_type_slug={self.block_type_slug!r}, name={self.name!r}, "
            f"data={self.data!r}, secrets={_masked(self.secrets)}, "
            f"schema_checksum={self.schema_checksum!r}, created={self.created!r}, "
            f"updated={self.updated!r})"
        )


def _masked(secrets: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{path!r}: '********'" for path in sorted(secrets)) + "}"
