"""Alembic environment of the block store: runs on the connection the store hands over.

There is no ``alembic.ini``: :func:`codeferry.store.schema.upgrade` builds the configuration and
passes an open connection, already inside a transaction that holds the migration lock.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from codeferry.store.tables import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, sa.Connection):
    raise RuntimeError("the block store's migrations run through codeferry.store.schema.upgrade")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
