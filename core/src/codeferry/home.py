"""The codeferry home on disk: private to its owner, and never part of the code codeferry moves.

The home holds the block store, the encryption key and the checkouts. It is made ``0700`` and its
database and key files ``0600``, whatever the umask; a home made looser (by an older version, or
by hand) is tightened when codeferry opens it.

The home and every checkout folder hold a marker file, :data:`MARKER`. Every walk over a user's
folder (a local pull, a push, a code layer, a build context) asks :class:`OwnFolders` and leaves out
codeferry's own folders, wherever the user put them: a home inside the project being pulled would
otherwise be copied into each new version, and pushed with its key.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

__all__ = ["MARKER", "OwnFolders", "mark", "open_home", "private_file", "refuse_own_folder"]

MARKER = ".codeferry-store"
"""The file that marks a folder as codeferry's own (its home, a checkout)."""

_MARKER_TEXT = (
    "This folder belongs to codeferry (its home, or a checkout). codeferry never pulls, pushes or\n"
    "copies it as code.\n"
)


def open_home(path: Path) -> Path:
    """Make ``path`` the home: created ``0700`` (or tightened to it), and marked."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(path, 0o700)
    mark(path)
    return path


def private_file(path: Path) -> None:
    """Take away what group and others may do with the file ``path``, if it exists."""
    _tighten(path, 0o600)


def mark(folder: Path) -> None:
    """Put :data:`MARKER` into ``folder`` (once; a folder that cannot be written stays unmarked)."""
    marker = folder / MARKER
    if marker.exists():
        return
    with contextlib.suppress(OSError):  # a read-only home still works; OwnFolders knows it
        descriptor = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(descriptor, _MARKER_TEXT.encode())
        finally:
            os.close(descriptor)


def refuse_own_folder(folder: str | Path) -> None:
    """Refuse to take ``folder`` as code when it is codeferry's home or a checkout folder.

    :raises CodeferryError: naming the folder.
    """
    if Path(folder).is_dir() and OwnFolders(folder).excludes(str(folder)):
        from codeferry.errors import CodeferryError

        raise CodeferryError(
            f"folder {folder} is codeferry's own (its home or a checkout), not code"
        )


def _tighten(path: Path, mode: int) -> None:
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    wanted = (current & 0o700) | (mode & 0o700)
    if current != wanted:
        with contextlib.suppress(OSError):  # not ours to change (another owner, read-only disk)
            path.chmod(wanted)


class OwnFolders:
    """Recognises codeferry's own folders during one walk over the user's folder ``root``.

    A folder is codeferry's when it holds :data:`MARKER`, or is the current home (which may
    predate the marker, or sit on a read-only disk). A symbolic link is judged by where it leads:
    a ``--dest`` link into the home, made inside the project, is left out too.
    """

    def __init__(self, root: str | Path) -> None:
        from codeferry.settings import home_path

        self._root_real = Path(os.path.realpath(root))
        home = home_path()
        self._home_real = Path(os.path.realpath(home))
        try:
            info = home.stat()
        except OSError:
            self._home: tuple[int, int] | None = None
        else:
            self._home = (info.st_dev, info.st_ino)

    def excludes(self, folder: str | os.DirEntry[str]) -> bool:
        """Whether the folder ``folder`` (a path or a scandir entry) is codeferry's own."""
        if isinstance(folder, str):
            path, is_link, inode = Path(folder), Path(folder).is_symlink(), None
        else:
            path, is_link, inode = Path(folder.path), folder.is_symlink(), folder.inode()
        if is_link:
            return self._leads_into_own(Path(os.path.realpath(path)))
        if self._home is not None and (inode is None or inode == self._home[1]):
            with contextlib.suppress(OSError):
                info = path.lstat()
                if (info.st_dev, info.st_ino) == self._home:
                    return True
        return (path / MARKER).exists()

    def _leads_into_own(self, real: Path) -> bool:
        """Whether ``real`` is in a folder of codeferry's below the root (not the root's own)."""
        for candidate in (real, *real.parents):
            if candidate == self._root_real or not candidate.is_relative_to(self._root_real):
                return False
            if candidate == self._home_real or (candidate / MARKER).exists():
                return True
        return False
