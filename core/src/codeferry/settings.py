"""Settings read from the environment at the moment they are needed, each parsed one way.

Every ``CODEFERRY_*`` variable is read through this module: :func:`flag` for switches,
:func:`seconds` for durations, :func:`names` for comma-separated lists. A value that cannot be
parsed is a :class:`~codeferry.errors.SettingError` naming the variable and what it accepts,
never a silent default.

``CODEFERRY_HOME``
    The home folder (default ``~/.codeferry``): the block store, the encryption key, checkouts.
    It is private to its owner (``0700``) and never pulled, pushed or copied as code, wherever it
    is (see :mod:`codeferry.home`).
``CODEFERRY_DATABASE_URL``
    Any SQLAlchemy URL for the block store (default: SQLite in the home folder).
``CODEFERRY_COPY_FILES``
    A switch: a new version copies the files it reuses from the previous one rather than
    hard-linking them (see :mod:`codeferry.reuse`).
``CODEFERRY_ENCRYPTION_KEY``
    The Fernet key that encrypts secret fields at rest (default: a 0600 key file in the home
    folder).
``CODEFERRY_CONNECT_TIMEOUT``
    Seconds to wait for a server (git, a blob store, a registry) to accept a connection
    (default 10; ``0`` or ``off``: no limit).
``CODEFERRY_READ_TIMEOUT``
    Seconds a server may send nothing before the wait is given up (default 30; a request that
    timed out is tried once more at most).
``CODEFERRY_LOCK_TIMEOUT``
    Seconds a pull waits for another pull into the same checkout (default 300).
``CODEFERRY_GIT_BINARY``
    Which client codeferry-git fetches with: ``auto`` (default: git's own program when git 2.32 or
    later is on ``PATH``, else dulwich), ``always`` (git's program; an error without it) or
    ``never`` (dulwich only). See :mod:`codeferry_git.clients`.

The three limits are read through :mod:`codeferry.timeouts`, which every transport uses.
"""

from __future__ import annotations

import os
from pathlib import Path

from codeferry.errors import SettingError

__all__ = [
    "checkouts_dir",
    "choice",
    "database_url",
    "flag",
    "home",
    "home_path",
    "names",
    "seconds",
]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def flag(variable: str, default: bool = False) -> bool:
    """The switch ``variable``: ``1/true/yes/on`` or ``0/false/no/off`` (any case); unset: default.

    :raises SettingError: for any other value.
    """
    raw = os.environ.get(variable)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingError(f"{variable}={raw!r} is not a switch; use 1 or 0 (true/false, yes/no)")


def seconds(variable: str, default: float | None) -> float | None:
    """The duration ``variable`` in seconds (a number > 0; ``0``, ``none`` or ``off``: no limit).

    :raises SettingError: for a value that is not such a number.
    """
    raw = os.environ.get(variable)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value in {"0", "none", "off"}:
        return None
    try:
        number = float(value.removesuffix("s"))
    except ValueError:
        number = -1.0
    if not number > 0 or number == float("inf"):
        raise SettingError(f"{variable}={raw!r} is not a number of seconds (or 0 for no limit)")
    return number


def choice(variable: str, choices: tuple[str, ...], default: str) -> str:
    """The one of ``choices`` that ``variable`` names (any case); unset or empty: ``default``.

    :raises SettingError: for any other value, listing the choices.
    """
    raw = os.environ.get(variable)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value not in choices:
        raise SettingError(f"{variable}={raw!r} is not one of {', '.join(choices)}")
    return value


def names(variable: str) -> set[str] | None:
    """The comma-separated names in ``variable``, stripped; ``None`` when it is unset."""
    raw = os.environ.get(variable)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def home_path() -> Path:
    """Where the codeferry home folder is (absolute), whether or not it exists yet."""
    raw = os.environ.get("CODEFERRY_HOME")
    return Path(raw).expanduser().absolute() if raw else Path.home() / ".codeferry"


def home() -> Path:
    """The codeferry home folder; created on first use, private to its owner."""
    from codeferry.home import open_home

    return open_home(home_path())


def database_url() -> str:
    """The SQLAlchemy URL of the block store."""
    url = os.environ.get("CODEFERRY_DATABASE_URL")
    return url or f"sqlite:///{home() / 'codeferry.db'}"


def checkouts_dir() -> Path:
    """Where per-source checkouts live unless a destination is given."""
    path = home() / "checkouts"
    path.mkdir(parents=True, exist_ok=True)
    return path
