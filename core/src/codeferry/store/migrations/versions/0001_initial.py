"""Initial schema: block types, block documents, variables and the store's meta values.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision: str | None = None
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

# Spelled out here, not imported from tables.py: a migration must keep building the shape it
# built when it was written, whatever the tables module says later.
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "block_types",
        sa.Column("slug", sa.String(255), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("schema", _JSON, nullable=False),
        sa.Column("checksum", sa.String(100), nullable=False),
        sa.Column("module", sa.Text, nullable=True),
        sa.Column("created", _TIMESTAMP, nullable=False),
        sa.Column("updated", _TIMESTAMP, nullable=False),
    )
    op.create_table(
        "block_documents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("block_type_slug", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("secrets", sa.LargeBinary, nullable=True),
        sa.Column("schema_checksum", sa.String(100), nullable=True),
        sa.Column("created", _TIMESTAMP, nullable=False),
        sa.Column("updated", _TIMESTAMP, nullable=False),
        sa.UniqueConstraint("block_type_slug", "name", name="uq_block_documents_slug_name"),
    )
    op.create_table(
        "variables",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("value", _JSON, nullable=True),
        sa.Column("created", _TIMESTAMP, nullable=False),
        sa.Column("updated", _TIMESTAMP, nullable=False),
    )
    op.create_table(
        "store_meta",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("store_meta", "variables", "block_documents", "block_types"):
        op.drop_table(table)
