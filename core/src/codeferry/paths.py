"""Turning paths that come from storage (object keys, archive members, tree entries) into files.

Storage is not trusted: a key like ``../../etc/cron.d/x`` or ``/root/.ssh/authorized_keys`` must
never write outside the destination. Every plugin joins storage paths with :func:`safe_join`.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from codeferry.errors import UnsafePathError

__all__ = ["MAX_NAME_BYTES", "safe_join", "safe_relative_path"]

MAX_NAME_BYTES = 255
_FORBIDDEN_NAMES = {".git"}


def safe_relative_path(path: str) -> PurePosixPath:
    """Check a ``/``-separated path from storage and return it normalised.

    Empty and ``.`` components are dropped (``a//./b`` is ``a/b``).

    :raises UnsafePathError: for absolute paths, drive letters, ``..`` components, backslashes,
        NUL bytes, ``.git`` components, names longer than 255 bytes, or nothing left at all.
    """
    if "\x00" in path:
        raise UnsafePathError(f"path {path!r} contains a NUL byte")
    if "\\" in path:
        raise UnsafePathError(f"path {path!r} contains a backslash")
    if path.startswith("/"):
        raise UnsafePathError(f"path {path!r} is absolute")
    parts = [part for part in path.split("/") if part not in {"", "."}]
    if not parts:
        raise UnsafePathError(f"path {path!r} names no file")
    if len(parts[0]) == 2 and parts[0][1] == ":" and parts[0][0].isalpha():
        raise UnsafePathError(f"path {path!r} starts with a drive letter")
    for part in parts:
        if part == "..":
            raise UnsafePathError(f"path {path!r} leaves the destination ('..')")
        if part.lower() in _FORBIDDEN_NAMES:
            raise UnsafePathError(f"path {path!r} writes into a {part} folder")
        if len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            raise UnsafePathError(f"path {path!r} has a name longer than {MAX_NAME_BYTES} bytes")
    return PurePosixPath(*parts)


def safe_join(root: str | Path, path: str) -> Path:
    """``root / path`` for a path from storage, guaranteed to stay inside ``root``.

    :raises UnsafePathError: when ``path`` is unsafe (see :func:`safe_relative_path`).
    """
    return Path(root).joinpath(*safe_relative_path(path).parts)
