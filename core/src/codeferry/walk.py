"""Walking a user's folder for the files to pull or push from it.

One walk for every local source and every push: symbolic links are followed only while they stay
inside the folder, a link that leads back into a folder being walked is a loop (``ELOOP``),
codeferry's own folders (its home, checkouts: :class:`~codeferry.home.OwnFolders`) and tooling
folders (:data:`TOOLING_FOLDERS`) are never entered, wherever they are, and git's own folder
(``.git``, or the ``.git`` file of a submodule) is never pulled or pushed
(:func:`codeferry.paths.is_git_name`).
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import TYPE_CHECKING

from codeferry.home import OwnFolders, refuse_own_folder
from codeferry.paths import is_git_name

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["TOOLING_FOLDERS", "is_tooling_folder", "walk_files"]

TOOLING_FOLDERS = frozenset(
    {
        ".git",  # version control state: never code to run
        "__pycache__",
        ".venv",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        ".ipynb_checkpoints",
    }
)
"""Names of folders that hold tools' state, never code to ship: left out of every pull from a
local folder and every push (to any store, into a code layer or a build context), at any depth."""


def is_tooling_folder(path: str) -> bool:
    """Whether the folder at the ``/``-separated ``path`` is one of :data:`TOOLING_FOLDERS`."""
    return path.rpartition("/")[2] in TOOLING_FOLDERS


def walk_files(
    root: str | Path, leave_out: Callable[[str, bool], bool] | None = None
) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Every regular file under ``root``: its ``/``-separated relative path, and its entry.

    Folders named in :data:`TOOLING_FOLDERS` are not entered; ``.git`` entries, at any depth,
    are left out.

    :param leave_out: called with a relative path and whether it is a folder; ``True`` leaves
        the file, or the folder and all it holds, out.
    :raises CodeferryError: when ``root`` itself is codeferry's home or a checkout folder.
    :raises OSError: ``ELOOP`` for a symbolic link loop, and whatever reading a folder raises.
    """
    refuse_own_folder(root)
    top = str(root)
    real_top = os.path.realpath(top)
    own = OwnFolders(top)
    stack = [(top, "", frozenset({_identity(top)}))]
    while stack:
        folder, prefix, above = stack.pop()
        with os.scandir(folder) as entries:
            for entry in entries:
                if is_git_name(entry.name):
                    continue
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if target != real_top and not target.startswith(real_top + os.sep):
                        continue
                relative = prefix + entry.name
                if entry.is_dir():
                    if (
                        entry.name in TOOLING_FOLDERS
                        or (leave_out and leave_out(relative, True))
                        or own.excludes(entry)
                    ):
                        continue
                    identity = _identity(entry.path)
                    if identity in above:
                        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), entry.path)
                    stack.append((entry.path, relative + "/", above | {identity}))
                elif entry.is_file():
                    if not (leave_out and leave_out(relative, False)):
                        yield relative, entry
                elif entry.is_symlink():
                    with contextlib.suppress(FileNotFoundError):  # a link to nowhere is skipped
                        Path(entry.path).stat()  # one in a loop raises ELOOP


def _identity(path: str) -> tuple[int, int]:
    info = Path(path).stat()
    return info.st_dev, info.st_ino
