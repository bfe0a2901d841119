"""What a commit's tree may put into a checkout, whichever git client fetched it.

Tree entries are untrusted. Both ways of writing a tree (dulwich's objects read in this process,
:mod:`codeferry_git.trees`; git's own ``checkout-index``, :mod:`codeferry_git.git_checkout`) hold
every entry to the rules here: the names a checkout accepts (:func:`is_safe_name`), the folders a
sparse checkout wants (:class:`Cone`), and where each path lands, with folders made one at a time
and symbolic links made last, each checked to resolve inside the checkout (:class:`TreeTarget`).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, NoReturn

from codeferry.errors import PullError, UnsafePathError
from codeferry.paths import safe_join

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

__all__ = ["MAX_NAME", "Cone", "Gitlink", "Scope", "TreeTarget", "WriteStats", "is_safe_name"]

MAX_NAME = 255
"""The longest file name (in bytes) a tree entry may have: most file systems' limit."""

Scope = Literal["all", "cone"]
"""How much of a folder a sparse checkout wants: everything under it, or its own files only."""

# The rules of codeferry.paths.safe_relative_path for one name, without building a path object
# per file: no separators (either kind), NUL, "", ".", "..", or a drive ("C:"). git on Linux
# checks out "a\\b" and "C:x" as they are; a checkout refuses them everywhere. A ".git" entry is
# not refused but left out (codeferry.paths.is_git_name), as git never checks one out.
_UNSAFE_NAME = re.compile(rb"^$|^\.{1,2}$|[/\\\x00]|^[A-Za-z]:")


@dataclass(frozen=True)
class Gitlink:
    """A submodule entry met in a tree: where it goes and the commit it pins."""

    path: str
    commit: str
    previous_commit: str | None


@dataclass
class WriteStats:
    """What writing a tree did: files written and their bytes, files reused, submodules met."""

    files: int = 0
    bytes: int = 0
    reused: int = 0
    gitlinks: list[Gitlink] = field(default_factory=list)


def is_safe_name(name: bytes) -> bool:
    """Whether one tree entry's name may be written into a checkout."""
    return not (_UNSAFE_NAME.search(name) or len(name) > MAX_NAME)


def is_left_out(name: bytes) -> bool:
    """Whether a safe tree entry is not checked out: git's own folder, in any spelling."""
    from codeferry.paths import is_git_name

    return is_git_name(name.decode("utf-8", "surrogateescape"))


class Cone:
    """The folders of a sparse checkout, in the manner of git's cone mode.

    Everything under each folder is wanted, plus the files directly in the root and in each
    folder on the way to one. No folders: everything is wanted.
    """

    def __init__(self, directories: Iterable[str] = ()) -> None:
        self.directories = tuple(sorted({d.strip("/") for d in directories if d.strip("/")}))

    def root(self, prefix: str) -> Scope:
        """The scope of the tree written at ``prefix`` (a submodule is wanted whole)."""
        return "all" if not self.directories or prefix else "cone"

    def scope(self, path: str) -> Scope | None:
        """How much of folder ``path`` (met in a ``"cone"`` folder) is wanted; ``None``: none."""
        for wanted in self.directories:
            if path == wanted or path.startswith(wanted + "/"):
                return "all"
        if any(wanted.startswith(path + "/") for wanted in self.directories):
            return "cone"
        return None


class TreeTarget:
    """The folder trees are written into, for the repository named ``label`` in messages."""

    def __init__(self, root: Path, label: str) -> None:
        self.root = root
        self.label = label
        self._symlinks: list[tuple[str, bytes]] = []

    def file_path(self, path: str) -> Path:
        """Where ``path`` (``/``-separated, from a tree) lands.

        :raises PullError: when it would land outside the folder.
        """
        try:
            return safe_join(self.root, path)
        except UnsafePathError as error:
            raise PullError(f"git repository {self.label} has an unsafe path: {error}") from None

    def directory(self, path: str) -> None:
        """Make folder ``path``; one already there (not a link) is a path twice in its tree."""
        directory = self.file_path(path)
        try:
            directory.mkdir()
        except FileExistsError:
            if directory.is_symlink() or not directory.is_dir():
                self.refuse(path, "appears twice in its tree")

    def symlink(self, path: str, target: bytes) -> None:
        """A symbolic link to make by :meth:`finish`, once every file is in place."""
        self._symlinks.append((path, target))

    def finish(self) -> None:
        """Make the symbolic links met so far, then check each resolves inside the folder.

        Each is checked after all are made: links that each look inside alone may leave the
        folder together (``a -> b/../..``, ``b -> .``).
        """
        root = os.path.realpath(self.root)
        made = []
        for path, raw in self._symlinks:
            destination = self.file_path(path)
            link_target = raw.decode("utf-8", "surrogateescape")
            if not raw or b"\0" in raw or link_target.startswith("/"):
                self.refuse(path, f"is a symbolic link to {link_target!r}, outside the checkout")
            try:
                destination.symlink_to(link_target)
            except OSError as error:
                self.refuse(path, f"cannot be made a symbolic link ({error.strerror})")
            made.append((path, destination, link_target))
        for path, destination, link_target in made:
            resolved = os.path.realpath(destination)
            if resolved != root and not resolved.startswith(root + os.sep):
                self.refuse(path, f"is a symbolic link to {link_target!r}, outside the checkout")
        self._symlinks.clear()

    def refuse(self, path: str, reason: str) -> NoReturn:
        """Refuse the tree for entry ``path``: ``git repository X: path 'p' <reason>; refused``."""
        raise PullError(f"git repository {self.label}: path {path!r} {reason}; refused")
