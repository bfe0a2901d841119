"""Which client fetches a git repository into a checkout's cache and writes its trees.

Two clients do the same work into the same cache (a bare repository per remote, in the checkout's
cache folder, kept between pulls so a re-pull fetches only new objects) and write the same
checkout: a plain tree, files unchanged since the previous version reused from it.

- git's own program (:mod:`codeferry_git.git_client`), when git 2.32 or later is on ``PATH``:
  it receives and indexes the pack and writes files in one pass each, in C;
- dulwich (:mod:`codeferry_git.dulwich_client`), in this process, so a machine needs no git.

``CODEFERRY_GIT_BINARY`` chooses: ``auto`` (the default: git's program when it is there),
``always`` (git's program; without it a pull fails saying why) or ``never`` (dulwich). Two kinds
of remote always go through dulwich: SSH with a deploy key from a block (git's ``ssh`` reads keys
only from files, and the key must never touch the disk) and ``git://`` (git waits on a silent
daemon without a limit).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from codeferry import settings
from codeferry.digests import sha256
from codeferry.errors import PullError
from codeferry_git.tree_rules import Cone, TreeTarget

if TYPE_CHECKING:
    from collections.abc import Iterable

    from codeferry.storage import PullContext
    from codeferry_git.credentials import SshKey
    from codeferry_git.git_program import GitProgram
    from codeferry_git.http_auth import HttpAuth
    from codeferry_git.progress import ProgressCallback
    from codeferry_git.tree_rules import WriteStats

__all__ = [
    "GIT_BINARY",
    "CachedRepository",
    "PullTrees",
    "Wanted",
    "cache_folder",
    "cache_of",
    "clear_stale_locks",
    "open_repository",
]

GIT_BINARY = "CODEFERRY_GIT_BINARY"
"""The setting that chooses the client: ``auto``, ``always`` or ``never`` (git's program)."""

_CHOICES = ("auto", "always", "never")
_LEFT_OVER_IN = ("", "objects", "objects/pack", "objects/info")
"""The folders of a cached repository where git and dulwich write lock and temporary files."""
FULL_HISTORY = 2**31 - 1
"""The depth asked for when all of a branch's history is wanted (git's ``--unshallow``)."""
MAX_PACKS = 16
"""Packs a cache may hold before the small ones are rolled into one (by either client)."""
REFUSED_WANT = ("not our ref", "invalid object", "unadvertised object")
"""What servers say when they will not send a commit that is no branch tip."""


class CachedRepository(Protocol):
    """One remote's objects in the checkout's cache, and the client that fetches and writes them.

    ``client`` names the client (``"git"`` or ``"dulwich"``).
    """

    client: str

    def fetch_commit(self, wanted: Wanted) -> str | None:
        """Fetch the commit ``wanted`` names (a branch or tag tip, ``HEAD``, or a pinned commit).

        Returns its id, or ``None`` when the remote's tip is ``wanted.unchanged_if`` (nothing
        fetched).

        :raises PullError: naming the repository, never showing a secret.
        """

    def tree_of(self, commit: str) -> str:
        """The id of ``commit``'s tree."""

    def submodule_urls(self, tree: str) -> dict[str, str]:
        """``{path: url}`` from the ``.gitmodules`` file at the root of ``tree``."""

    def write(self, tree: str, previous_tree: str | None, prefix: str = "") -> WriteStats:
        """Write ``tree`` at ``prefix`` of the pull's folder (see :class:`PullTrees`).

        Files with the same blob and mode as in ``previous_tree`` are reused from the previous
        version. Submodules met are returned, not written.
        """

    def close(self) -> None:
        """Release what the repository holds open."""


@dataclass(frozen=True)
class Wanted:
    """What one fetch asks a remote for, and what it sends to be let in.

    ``branch`` is a branch or tag (``None``: the remote's ``HEAD``); ``commit_sha`` pins a
    commit instead; ``depth`` is the history fetched (``None``: all of it); ``unchanged_if`` is
    the commit checked out already (a tip still there fetches nothing); ``secrets`` are the
    credentials sent, masked in every message.
    """

    auth: HttpAuth | None
    key: SshKey | None
    branch: str | None
    commit_sha: str | None
    depth: int | None
    unchanged_if: str | None
    secrets: list[str]


@dataclass
class PullTrees:
    """What every repository of one pull (the main one and its submodules) writes into."""

    context: PullContext
    target: TreeTarget
    cone: Cone
    progress: ProgressCallback | None = None

    @classmethod
    def for_pull(
        cls,
        context: PullContext,
        label: str,
        directories: Iterable[str] = (),
        progress: ProgressCallback | None = None,
    ) -> PullTrees:
        return cls(context, TreeTarget(context.target, label), Cone(directories), progress)

    def finish(self) -> None:
        """Make the symbolic links of every tree written, each checked to stay inside."""
        self.target.finish()


def cache_folder(cache_dir: Path, url: str) -> Path:
    """The bare repository caching ``url``'s objects in a checkout's cache folder."""
    return cache_dir / "git" / sha256(url.encode()).hexdigest()[:20]


def cache_of(trees: PullTrees, url: str) -> tuple[Path, bool]:
    """The bare repository caching ``url``'s objects for this pull, and whether it exists.

    An existing one is cleared of what a killed pull left in it (:func:`clear_stale_locks`); a
    new one's folder is made, for the client to make the repository in.
    """
    folder = cache_folder(trees.context.cache_dir, url)
    if (folder / "objects").is_dir():
        clear_stale_locks(folder)
        return folder, True
    folder.mkdir(parents=True, exist_ok=True)
    return folder, False


def clear_stale_locks(folder: Path) -> None:
    """Remove the lock and temporary files a killed pull left in the cached repository ``folder``.

    git and dulwich lock what they update (``shallow``, refs, a pack's index) with
    ``<name>.lock`` files and refuse to update it while one exists; they receive packs into
    ``tmp*`` files. The checkout's lock is held while this runs, so no other pull is working
    here: each such file is a killed pull's, and would fail (or only fill) every pull after it.
    No name git gives its own data ends in ``.lock`` or starts with ``tmp``.
    """
    for place in _LEFT_OVER_IN:
        try:
            entries = list(os.scandir(folder / place))
        except FileNotFoundError:
            continue
        for entry in entries:
            left_over = entry.name.endswith(".lock") or entry.name.startswith("tmp")
            if left_over and entry.is_file(follow_symlinks=False):
                Path(entry.path).unlink(missing_ok=True)
    refs = folder / "refs"
    if refs.is_dir():
        for lock in refs.glob("**/*.lock"):
            lock.unlink(missing_ok=True)


def open_repository(url: str, trees: PullTrees, *, ssh_key: bool) -> CachedRepository:
    """The cached repository of ``url`` with the client the settings choose for it.

    ``ssh_key``: the remote is reached with a deploy key held in memory.

    :raises PullError: ``CODEFERRY_GIT_BINARY=always`` and no suitable git is found.
    """
    program = git_program_for(url, ssh_key=ssh_key)
    if program is None:
        from codeferry_git.dulwich_client import DulwichRepository

        return DulwichRepository(url, trees)
    from codeferry_git.git_client import GitProgramRepository

    return GitProgramRepository(url, trees, program)


def git_program_for(url: str, *, ssh_key: bool) -> GitProgram | None:
    """The git program to fetch ``url`` with, or ``None`` for dulwich."""
    choice = settings.choice(GIT_BINARY, _CHOICES, "auto")
    if choice == "never" or url.startswith("git://") or ssh_key:
        return None
    from codeferry_git.git_program import find_git

    found = find_git()
    if isinstance(found, str):
        if choice == "always":
            raise PullError(f"{GIT_BINARY}=always, but {found}")
        return None
    return found
