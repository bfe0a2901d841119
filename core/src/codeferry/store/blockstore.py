"""The block store: documents, registered block types and variables in one SQL database."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
from collections.abc import Iterator
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy import exc

from codeferry.errors import (
    BlockError,
    BlockNotFoundError,
    StoreError,
    StoreKeyError,
    VariableNotFoundError,
)
from codeferry.store import schema
from codeferry.store.database import WRITE, create_engine, database_errors, safe_url
from codeferry.store.keys import KEY_ENV, SecretCipher, create_key_file, find_key
from codeferry.store.records import BlockDocument, BlockTypeRecord
from codeferry.store.tables import (
    KEY_CHECK,
    NAME_LENGTH,
    block_documents,
    block_types,
    store_meta,
    variables,
)

__all__ = ["BlockStore"]

# A row that appears between "is it there?" and "insert it" (another process won the race) is
# simply looked at again; a few rounds settle any real contention.
_ATTEMPTS = 5


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _check_key(kind: str, value: str) -> None:
    if not isinstance(value, str) or not value or len(value) > NAME_LENGTH:
        raise StoreError(f"{kind} {value!r} must be a string of 1 to {NAME_LENGTH} characters")


class BlockStore:
    """Saved block documents, registered block types and variables.

    ``url`` is any SQLAlchemy URL (default: :func:`codeferry.settings.database_url`, a SQLite
    file in the home folder). ``key`` is the Fernet key of secret values (default:
    ``CODEFERRY_ENCRYPTION_KEY``, else the home folder's key file). Nothing is opened until the
    first call; the database is then created or upgraded, and the key checked against it.

    :raises StoreError: on every method, when the database cannot be reached or written.
    :raises StoreKeyError: on every method, when the key is not the one the store was made with.
    """

    def __init__(self, url: str | None = None, *, key: bytes | str | None = None) -> None:
        if url is None:
            from codeferry.settings import database_url

            url = database_url()
        self.url = url
        self._key = key
        self._engine: sa.Engine | None = None
        self._cipher: SecretCipher | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"BlockStore({safe_url(self.url)!r})"

    def close(self) -> None:
        """Close the database connections; the store opens again on next use."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
            self._engine = None
            self._cipher = None

    def __enter__(self) -> BlockStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- block types ---------------------------------------------------------------------------

    def save_block_type(self, record: BlockTypeRecord) -> Literal["new", "updated", "unchanged"]:
        """Register a block type; ``"updated"`` when anything about it changed."""
        _check_key("block type slug", record.slug)
        values = {
            "name": record.name,
            "description": record.description,
            "schema": record.schema,
            "checksum": record.checksum,
            "module": record.module,
        }
        return self._save(
            block_types,
            {"slug": record.slug},
            values,
            taken=None,
            contention=f"block type {record.slug} could not be saved: too much contention",
        )

    def _save(
        self,
        table: sa.Table,
        key: dict[str, Any],
        values: dict[str, Any],
        *,
        taken: Exception | None,
        contention: str,
        always_update: bool = False,
    ) -> Literal["new", "updated", "unchanged"]:
        """Insert the row ``key`` names with ``values``, or update the one there.

        ``taken`` is raised when the row is there and may not be replaced. A row whose values are
        the same is left as it is, unless ``always_update``. Another process inserting the row
        first is waited out; ``contention`` says why a save fails after too many of those.
        """
        where = sa.and_(*(table.c[column] == value for column, value in key.items()))
        for _ in range(_ATTEMPTS):
            with self._writing() as connection:
                row = connection.execute(sa.select(table).where(where)).first()
                now = _now()
                if row is None:
                    insert = table.insert().values(**key, **values, created=now, updated=now)
                    if _inserted(connection, insert):
                        return "new"
                    continue
                if taken is not None:
                    raise taken
                if not always_update and all(
                    getattr(row, column) == value for column, value in values.items()
                ):
                    return "unchanged"
                connection.execute(table.update().where(where).values(updated=now, **values))
                return "updated"
        raise StoreError(contention)

    def get_block_type(self, slug: str) -> BlockTypeRecord | None:
        """The registered block type ``slug``, if any."""
        with self._reading() as connection:
            row = connection.execute(
                sa.select(block_types).where(block_types.c.slug == slug)
            ).first()
        return None if row is None else _block_type(row)

    def list_block_types(self) -> list[BlockTypeRecord]:
        """Every registered block type, by slug."""
        with self._reading() as connection:
            rows = connection.execute(sa.select(block_types).order_by(block_types.c.slug)).all()
        return [_block_type(row) for row in rows]

    # -- block documents -----------------------------------------------------------------------

    def save_document(self, document: BlockDocument, *, overwrite: bool = False) -> None:
        """Save ``document``, its secrets encrypted as one token.

        :raises BlockError: a block of that type and name exists and ``overwrite`` is false.
        """
        slug, name = document.block_type_slug, document.name
        _check_key("block type slug", slug)
        _check_key("block name", name)
        cipher = self._open()[1]
        values = {
            "data": document.data,
            "secrets": cipher.encrypt(document.secrets) if document.secrets else None,
            "schema_checksum": document.schema_checksum,
        }
        self._save(
            block_documents,
            {"block_type_slug": slug, "name": name},
            values,
            taken=None
            if overwrite
            else BlockError(f"a block {slug}/{name} is already saved; overwrite it to replace it"),
            contention=f"block {slug}/{name} could not be saved: too much contention",
            always_update=True,
        )

    def get_document(self, block_type_slug: str, name: str) -> BlockDocument:
        """The document saved as ``block_type_slug``/``name``, secrets decrypted.

        :raises BlockNotFoundError: nothing is saved under that type and name.
        """
        with self._reading() as connection:
            row = connection.execute(
                sa.select(block_documents).where(
                    (block_documents.c.block_type_slug == block_type_slug)
                    & (block_documents.c.name == name)
                )
            ).first()
        if row is None:
            raise BlockNotFoundError(f"no block {block_type_slug}/{name} is saved")
        return self._document(row)

    def list_documents(self, block_type_slug: str | None = None) -> list[BlockDocument]:
        """The saved documents (of one type, if given), sorted by type and name."""
        query = sa.select(block_documents).order_by(
            block_documents.c.block_type_slug, block_documents.c.name
        )
        if block_type_slug is not None:
            query = query.where(block_documents.c.block_type_slug == block_type_slug)
        with self._reading() as connection:
            rows = connection.execute(query).all()
        return [self._document(row) for row in rows]

    def delete_document(self, block_type_slug: str, name: str) -> None:
        """Delete a saved document.

        :raises BlockNotFoundError: nothing is saved under that type and name.
        """
        with self._writing() as connection:
            result = connection.execute(
                block_documents.delete().where(
                    (block_documents.c.block_type_slug == block_type_slug)
                    & (block_documents.c.name == name)
                )
            )
            if result.rowcount == 0:
                raise BlockNotFoundError(f"no block {block_type_slug}/{name} is saved")

    # -- variables -----------------------------------------------------------------------------

    def set_variable(self, name: str, value: Any, *, overwrite: bool = True) -> None:
        """Set variable ``name`` to a JSON value.

        :raises StoreError: ``value`` is not JSON, or it exists and ``overwrite`` is false.
        """
        _check_key("variable name", name)
        try:
            value = json.loads(json.dumps(value, allow_nan=False))
        except (TypeError, ValueError) as error:
            raise StoreError(f"variable {name!r} must be a JSON value: {error}") from None
        self._save(
            variables,
            {"name": name},
            {"value": value},
            taken=None
            if overwrite
            else StoreError(f"variable {name!r} is already set; overwrite it to replace it"),
            contention=f"variable {name!r} could not be set: too much contention",
            always_update=True,
        )

    def get_variable(self, name: str) -> Any:
        """The value of variable ``name``.

        :raises VariableNotFoundError: no variable of that name is set.
        """
        with self._reading() as connection:
            row = connection.execute(
                sa.select(variables.c.value).where(variables.c.name == name)
            ).first()
        if row is None:
            raise VariableNotFoundError(f"no variable {name!r} is set")
        return row.value

    def list_variables(self) -> dict[str, Any]:
        """Every variable, by name."""
        with self._reading() as connection:
            rows = connection.execute(
                sa.select(variables.c.name, variables.c.value).order_by(variables.c.name)
            ).all()
        return {row.name: row.value for row in rows}

    def delete_variable(self, name: str) -> None:
        """Delete variable ``name``.

        :raises VariableNotFoundError: no variable of that name is set.
        """
        with self._writing() as connection:
            result = connection.execute(variables.delete().where(variables.c.name == name))
            if result.rowcount == 0:
                raise VariableNotFoundError(f"no variable {name!r} is set")

    # -- opening -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sa.Connection]:
        engine = self._open()[0]
        with database_errors(self.url, "read"), engine.connect() as connection:
            yield connection

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sa.Connection]:
        engine = self._open()[0]
        with (
            database_errors(self.url, "write"),
            engine.connect().execution_options(**{WRITE: True}) as connection,
            connection.begin(),
        ):
            yield connection

    def _open(self) -> tuple[sa.Engine, SecretCipher]:
        """The engine and cipher, once the database is at head and the key proved right."""
        with self._lock:
            if self._engine is not None and self._pid != os.getpid():
                # A forked child must not share its parent's connections.
                self._engine.dispose(close=False)
                self._engine, self._cipher, self._pid = None, None, os.getpid()
            if self._engine is not None and self._cipher is not None:
                return self._engine, self._cipher
            engine = create_engine(self.url)
            try:
                with database_errors(self.url, "open"):
                    cipher = self._prepare(engine)
            except BaseException:
                engine.dispose()
                raise
            self._engine, self._cipher = engine, cipher
            return engine, cipher

    def _prepare(self, engine: sa.Engine) -> SecretCipher:
        # The usual case reads two small values and imports nothing more.
        with engine.connect() as connection:
            revision = schema.current_revision(connection)
            key_check = _key_check(connection) if revision == schema.HEAD_REVISION else None
        if revision == schema.HEAD_REVISION and key_check is not None:
            return self._existing_cipher(key_check)
        # New or older database: one process at a time creates or upgrades it. The key is
        # checked before anything is written, so a wrong key changes nothing.
        with engine.connect().execution_options(**{WRITE: True}) as connection:
            with connection.begin():
                schema.lock_for_migration(connection)
                revision = schema.current_revision(connection)
                has_meta = sa.inspect(connection).has_table(store_meta.name)
                key_check = _key_check(connection) if has_meta else None
                cipher = self._existing_cipher(key_check) if key_check is not None else None
                if revision != schema.HEAD_REVISION:
                    schema.upgrade(connection, url=self.url, revision=revision)
                if cipher is None:
                    source = find_key(self._key)
                    if source.key is None:
                        source = create_key_file(source)
                    cipher = SecretCipher(source)
                    connection.execute(
                        store_meta.insert().values(key=KEY_CHECK, value=cipher.key_check())
                    )
            return cipher

    def _existing_cipher(self, key_check: str) -> SecretCipher:
        source = find_key(self._key)
        where = safe_url(self.url)
        if source.key is None:
            raise StoreKeyError(
                f"the block store at {where} is encrypted, but no key was found: set {KEY_ENV} "
                f"to its key, or put the key in {source.path}"
            )
        cipher = SecretCipher(source)
        if not cipher.matches(key_check):
            raise StoreKeyError(
                f"the block store at {where} was encrypted with another key than the one from "
                f"{source.description}; set {KEY_ENV} to the key it was made with"
            )
        return cipher

    def _document(self, row: sa.Row[Any]) -> BlockDocument:
        secrets: dict[str, Any] = {}
        if row.secrets is not None:
            cipher = self._open()[1]
            decrypted = cipher.decrypt(bytes(row.secrets))
            if decrypted is None:
                raise StoreKeyError(
                    f"the secrets of block {row.block_type_slug}/{row.name} cannot be decrypted "
                    f"with the key from {cipher.source.description}"
                )
            secrets = decrypted
        return BlockDocument(
            block_type_slug=row.block_type_slug,
            name=row.name,
            data=row.data,
            secrets=secrets,
            schema_checksum=row.schema_checksum,
            created=row.created,
            updated=row.updated,
        )


def _key_check(connection: sa.Connection) -> str | None:
    value: str | None = connection.execute(
        sa.select(store_meta.c.value).where(store_meta.c.key == KEY_CHECK)
    ).scalar()
    return value


def _inserted(connection: sa.Connection, insert: sa.Insert) -> bool:
    """Run ``insert``; False when a unique key says another process inserted the row first."""
    try:
        with connection.begin_nested():
            connection.execute(insert)
    except exc.IntegrityError:
        return False
    return True


def _block_type(row: sa.Row[Any]) -> BlockTypeRecord:
    return BlockTypeRecord(
        slug=row.slug,
        name=row.name,
        description=row.description,
        schema=row.schema,
        checksum=row.checksum,
        module=row.module,
        created=row.created,
        updated=row.updated,
    )
