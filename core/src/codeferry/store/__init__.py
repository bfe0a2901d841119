"""The block store: saved block documents, registered block types and variables.

INTERFACE DRAFT - implemented in this package (engine, tables, encryption, migrations).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["BlockDocument", "BlockStore", "BlockTypeRecord", "get_store", "set_store"]


@dataclass
class BlockTypeRecord:
    """A block type registered from a module (``codeferry block register``)."""

    slug: str
    name: str
    description: str
    schema: dict[str, Any]
    checksum: str
    module: str | None  # "package.module:Class" or "/abs/path/file.py:Class"


@dataclass
class BlockDocument:
    """A saved block: public data, secret values by dotted path (decrypted), schema checksum."""

    block_type_slug: str
    name: str
    data: dict[str, Any]
    secrets: dict[str, Any] = field(default_factory=dict)
    schema_checksum: str | None = None
    created: dt.datetime | None = None
    updated: dt.datetime | None = None


class BlockStore:
    def save_block_type(self, record: BlockTypeRecord) -> Literal["new", "updated", "unchanged"]:
        raise NotImplementedError

    def get_block_type(self, slug: str) -> BlockTypeRecord | None:
        raise NotImplementedError

    def list_block_types(self) -> list[BlockTypeRecord]:
        raise NotImplementedError

    def save_document(self, document: BlockDocument, *, overwrite: bool = False) -> None:
        raise NotImplementedError

    def get_document(self, block_type_slug: str, name: str) -> BlockDocument:
        raise NotImplementedError

    def list_documents(self, block_type_slug: str | None = None) -> list[BlockDocument]:
        raise NotImplementedError

    def delete_document(self, block_type_slug: str, name: str) -> None:
        raise NotImplementedError


def get_store() -> BlockStore:
    raise NotImplementedError


def set_store(store: BlockStore | None) -> BlockStore | None:
    raise NotImplementedError
