"""Where codeferry keeps its state, read from the environment at the moment it is needed.

``CODEFERRY_HOME``
    The home folder (default ``~/.codeferry``): the block store, the encryption key, checkouts.
``CODEFERRY_DATABASE_URL``
    Any SQLAlchemy URL for the block store (default: SQLite in the home folder).
``CODEFERRY_ENCRYPTION_KEY``
    The Fernet key that encrypts secret fields at rest (default: a 0600 key file in the home
    folder).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["checkouts_dir", "database_url", "home"]


def home() -> Path:
    """The codeferry home folder; created on first use."""
    raw = os.environ.get("CODEFERRY_HOME")
    path = Path(raw).expanduser() if raw else Path.home() / ".codeferry"
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url() -> str:
    """The SQLAlchemy URL of the block store."""
    url = os.environ.get("CODEFERRY_DATABASE_URL")
    return url or f"sqlite:///{home() / 'codeferry.db'}"


def checkouts_dir() -> Path:
    """Where per-source checkouts live unless a destination is given."""
    path = home() / "checkouts"
    path.mkdir(parents=True, exist_ok=True)
    return path
