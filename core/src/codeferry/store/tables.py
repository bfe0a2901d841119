"""The store's tables, as SQLAlchemy Core metadata (the migrations build the same shape)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

__all__ = [
    "KEY_CHECK",
    "JSONType",
    "UTCDateTime",
    "block_documents",
    "block_types",
    "metadata",
    "store_meta",
    "variables",
]

#: The ``store_meta`` key whose value is a token encrypted with the store's key.
KEY_CHECK = "key_check"

NAME_LENGTH = 255


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite keeps no zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, _dialect: sa.Dialect) -> Any:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value

    def process_result_value(self, value: Any, _dialect: sa.Dialect) -> dt.datetime | None:
        if value is None:
            return None
        result: dt.datetime = value
        if result.tzinfo is None:
            return result.replace(tzinfo=dt.UTC)
        return result.astimezone(dt.UTC)


class JSONType(sa.TypeDecorator[Any]):
    """JSON: JSONB on PostgreSQL, JSON text elsewhere.

    The PostgreSQL dialect is imported only when it is used (it costs SQLite users ~15 ms).
    """

    impl = sa.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import JSONB

            return dialect.type_descriptor(JSONB())
        return dialect.type_descriptor(sa.JSON())


metadata = sa.MetaData()

block_types = sa.Table(
    "block_types",
    metadata,
    sa.Column("slug", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("schema", JSONType, nullable=False),
    sa.Column("checksum", sa.String(100), nullable=False),
    sa.Column("module", sa.Text, nullable=True),
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("updated", UTCDateTime, nullable=False),
)

block_documents = sa.Table(
    "block_documents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("block_type_slug", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("data", JSONType, nullable=False),
    # One Fernet token holding the JSON of {dotted path: value}; NULL when there are no secrets.
    sa.Column("secrets", sa.LargeBinary, nullable=True),
    sa.Column("schema_checksum", sa.String(100), nullable=True),
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("updated", UTCDateTime, nullable=False),
    sa.UniqueConstraint("block_type_slug", "name", name="uq_block_documents_slug_name"),
)

variables = sa.Table(
    "variables",
    metadata,
    sa.Column("name", sa.String(NAME_LENGTH), primary_key=True),
    sa.Column("value", JSONType, nullable=True),
    sa.Column("created", UTCDateTime, nullable=False),
    sa.Column("updated", UTCDateTime, nullable=False),
)

store_meta = sa.Table(
    "store_meta",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
