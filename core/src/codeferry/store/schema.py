"""The database schema's revision, and bringing an older database up to it with Alembic.

Alembic is imported only when a database is not at :data:`HEAD_REVISION` (new or older), so
opening an up-to-date store costs one small query. New revisions go in ``migrations/versions``,
written by hand (alembic's autogenerate can draft them against :mod:`codeferry.store.tables`);
bump :data:`HEAD_REVISION` with each one (a test compares it with the scripts' head).
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from codeferry.errors import StoreError

__all__ = [
    "HEAD_REVISION",
    "MIGRATIONS_DIR",
    "VERSION_TABLE",
    "current_revision",
    "lock_for_migration",
    "script_head",
    "upgrade",
]

HEAD_REVISION = "0001"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSION_TABLE = "alembic_version"
# Any constant will do: it only has to be the same in every codeferry process.
_PG_MIGRATION_LOCK = 0x636F_6465_6665


def current_revision(connection: sa.Connection) -> str | None:
    """The revision the database is at; None for a database the store never touched."""
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return None
    version = sa.table(VERSION_TABLE, sa.column("version_num", sa.String))
    rows = connection.execute(sa.select(version.c.version_num)).scalars().all()
    if len(rows) > 1:
        raise StoreError(f"the database has several schema revisions ({', '.join(rows)})")
    return rows[0] if rows else None


def lock_for_migration(connection: sa.Connection) -> None:
    """Make concurrent first opens take turns (SQLite's BEGIN IMMEDIATE already does)."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))


def script_head(migrations_dir: Path | None = None) -> str | None:
    """The head revision of the shipped migration scripts (imports Alembic)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(migrations_dir or MIGRATIONS_DIR)).get_current_head()


def upgrade(
    connection: sa.Connection,
    *,
    url: str,
    revision: str | None,
    migrations_dir: Path | None = None,
) -> None:
    """Upgrade the database behind ``connection`` (in its transaction) from ``revision`` to head.

    :raises StoreError: the database was made by a newer codeferry, whose revision is unknown.
    """
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    from codeferry.store.database import safe_url

    location = str(migrations_dir or MIGRATIONS_DIR)
    if revision is not None:
        try:
            ScriptDirectory(location).get_revision(revision)
        except CommandError:
            raise StoreError(
                f"the block store at {safe_url(url)} was made by a newer codeferry (schema "
                f"revision {revision!r}, this one knows up to {HEAD_REVISION!r}); upgrade codeferry"
            ) from None
    config = Config()
    # configparser interpolation would read a "%" in the path as a placeholder.
    config.set_main_option("script_location", location.replace("%", "%%"))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
