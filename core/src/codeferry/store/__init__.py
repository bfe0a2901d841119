"""The block store: saved block documents, registered block types and variables.

One SQL database through SQLAlchemy: SQLite in the home folder by default, or any SQLAlchemy URL
in ``CODEFERRY_DATABASE_URL`` (a team shares ``postgresql+psycopg://...``); give the store a
database of its own. Secret values are encrypted with a Fernet key that never enters the database
(see :mod:`codeferry.store.keys`). Older databases are upgraded on open by the Alembic scripts
shipped in ``migrations/``.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from codeferry.store.records import BlockDocument, BlockTypeRecord

if TYPE_CHECKING:
    from codeferry.store.blockstore import BlockStore

__all__ = ["BlockDocument", "BlockStore", "BlockTypeRecord", "get_store", "set_store"]

_lock = threading.Lock()
_current: BlockStore | None = None
_explicit = False
_made_for: tuple[str | None, ...] = ()


def __getattr__(name: str) -> Any:
    # SQLAlchemy is imported with the store class, not with the records.
    if name == "BlockStore":
        from codeferry.store.blockstore import BlockStore

        return BlockStore
    raise AttributeError(f"module 'codeferry.store' has no attribute {name!r}")


def _environment() -> tuple[str | None, ...]:
    from codeferry.store.keys import KEY_ENV

    return (
        os.environ.get("CODEFERRY_HOME"),
        os.environ.get("CODEFERRY_DATABASE_URL"),
        os.environ.get(KEY_ENV),
        str(os.getpid()),
    )


def get_store() -> BlockStore:
    """The process-wide store: the one given to :func:`set_store`, else one for the settings.

    The settings are read from the environment on each call; when they changed since the store
    was made, a new one is made for them.
    """
    from codeferry.store.blockstore import BlockStore

    global _current, _made_for
    with _lock:
        if _current is not None and _explicit:
            return _current
        environment = _environment()
        if _current is None or environment != _made_for:
            _current, _made_for = BlockStore(), environment
        return _current


def set_store(store: BlockStore | None) -> BlockStore | None:
    """Make ``store`` the process-wide store (None: back to the settings); returns the previous."""
    global _current, _explicit, _made_for
    with _lock:
        previous = _current
        _current, _explicit, _made_for = store, store is not None, ()
        return previous
