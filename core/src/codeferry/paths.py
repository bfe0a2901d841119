"""Turning paths that come from storage (object keys, archive members, tree entries) into files.

Storage is not trusted: a key like ``../../etc/cron.d/x`` or ``/root/.ssh/authorized_keys`` must
never write outside the destination. Every plugin joins storage paths with :func:`safe_join`.

A pulled tree never holds git's own folder. Git never writes a ``.git`` entry from a tree (it is
where hooks and configuration live: an object ``.git/hooks/post-checkout`` landing as a hook would
run the next time anyone uses git there). Every storage leaves such paths out of a pull, as every
push leaves them out: a folder that is a git working copy, a bucket synced from one, an image
built with ``COPY . .`` all hold a ``.git`` that is not code, so refusing it would refuse them.
:func:`is_git_path` is that rule; :func:`safe_relative_path` refuses what slips past it.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from codeferry.errors import UnsafePathError

__all__ = ["MAX_NAME_BYTES", "is_git_name", "is_git_path", "safe_join", "safe_relative_path"]

MAX_NAME_BYTES = 255
# Git's own test for a name it never checks out (read-cache.c, verify_path): ".git" in any case,
# with the trailing dots and spaces Windows drops, and its 8.3 short name.
_GIT_NAMES = frozenset({".git", "git~1"})


def is_git_name(name: str) -> bool:
    """Whether one path component names git's folder (``.git``, ``.GIT``, ``.git.``, ``git~1``)."""
    return name.rstrip(". ").lower() in _GIT_NAMES


def is_git_path(path: str) -> bool:
    """Whether a ``/``-separated path from storage is git's folder or inside one.

    Such paths are left out of every pull (see the module's docstring), never written.
    """
    return any(is_git_name(part) for part in path.split("/"))


def safe_relative_path(path: str) -> PurePosixPath:
    """Check a ``/``-separated path from storage and return it normalised.

    Empty and ``.`` components are dropped (``a//./b`` is ``a/b``).

    :raises UnsafePathError: for absolute paths, drive letters, ``..`` components, backslashes,
        NUL bytes, ``.git`` components (leave them out first: :func:`is_git_path`), names longer
        than 255 bytes, or nothing left at all.
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
        if is_git_name(part):
            raise UnsafePathError(f"path {path!r} writes into a {part} folder")
        if len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
            raise UnsafePathError(f"path {path!r} has a name longer than {MAX_NAME_BYTES} bytes")
    return PurePosixPath(*parts)


def safe_join(root: str | Path, path: str) -> Path:
    """``root / path`` for a path from storage, guaranteed to stay inside ``root``.

    :raises UnsafePathError: when ``path`` is unsafe (see :func:`safe_relative_path`).
    """
    return Path(root).joinpath(*safe_relative_path(path).parts)
