"""The git-program client: ``git fetch`` into the cached bare repository, ``checkout-index`` out.

The cached repository is the same bare repository dulwich uses (either client can take over the
other's cache). A fresh pull fetches the branch (``--depth``) straight into a ref of the cache; a
re-pull first asks the server where the branch is (``ls-remote``) and stops there when it has not
moved. A tree is listed (``ls-tree``) and every entry held to :mod:`codeferry_git.tree_rules`
before anything is written; files unchanged since the previous pull (``diff-tree``) are reused from
the previous version; the rest go into a throw-away index (``update-index``) that git checks out
(``checkout-index``) with every attribute and filter off, so files are the blobs byte for byte.
Symbolic links are never made by git: they are made last, each checked to stay inside the folder.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from codeferry.errors import PullError
from codeferry.secrets import redact_url
from codeferry.timeouts import ConnectTimeoutError
from codeferry_git.clients import FULL_HISTORY, MAX_PACKS, REFUSED_WANT, cache_of
from codeferry_git.git_program import GitCommandError, Remote, describe_failure
from codeferry_git.progress import Phase, TransferProgress
from codeferry_git.tree_rules import Gitlink, WriteStats, is_left_out, is_safe_name

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from codeferry_git.clients import PullTrees, Wanted
    from codeferry_git.git_program import GitProgram
    from codeferry_git.tree_rules import Scope, TreeTarget

__all__ = ["GitProgramRepository"]

_HAVE = "refs/heads/codeferry"  # the commit checked out last: a "have" for the next fetch
_FETCHED = "refs/codeferry/fetched"  # a tag or pinned commit, before it is peeled
# Every attribute that changes a file on its way out of git, unset for every path. info/attributes
# comes before any .gitattributes of the tree.
_NO_ATTRIBUTES = b"* -text -eol -crlf -ident -filter -working-tree-encoding\n"
_FETCH = ("--no-tags", "--no-recurse-submodules")
_MISSING_REF = "couldn't find remote ref"
_GITLINK = b"160000"
_EXECUTABLE = b"100755"
_REGULAR = b"100644"
_SYMLINK = b"120000"
_PROGRESS = re.compile(
    rb"^(Receiving objects|Resolving deltas):\s+\d+% \((\d+)/(\d+)\)(?:, ([\d.]+) (\w+))?"
)
_UNITS = {b"bytes": 1, b"KiB": 1 << 10, b"MiB": 1 << 20, b"GiB": 1 << 30}


@dataclass
class _Listing:
    """What a tree holds for the checkout: files (index line and size by path), files that may
    be reused from the previous version (path, destination), symbolic links, submodules."""

    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    reusable: list[tuple[str, str]] = field(default_factory=list)
    links: list[tuple[str, bytes]] = field(default_factory=list)
    gitlinks: list[Gitlink] = field(default_factory=list)


class GitProgramRepository:
    """A remote's objects in the checkout's cache, fetched and written by git's own program."""

    client = "git"

    def __init__(self, url: str, trees: PullTrees, program: GitProgram) -> None:
        self._url = url
        self._label = redact_url(url)
        self._trees = trees
        self._program = program
        self._folder, exists = cache_of(trees, url)
        self._git_dir = str(self._folder)
        self._trees_of: dict[str, str] = {}
        self._prepare(exists)

    # -- fetching ------------------------------------------------------------------------------

    def fetch_commit(self, wanted: Wanted) -> str | None:
        branch, unchanged_if, secrets = wanted.branch, wanted.unchanged_if, wanted.secrets
        remote = Remote(self._url, wanted.auth)
        deepen = ["--depth", str(wanted.depth)] if wanted.depth else []
        if wanted.commit_sha is not None:
            return self._fetch_pinned(remote, wanted.commit_sha, deepen, secrets)
        candidates = ["HEAD"] if branch is None else [f"refs/heads/{branch}", f"refs/tags/{branch}"]
        if unchanged_if is not None:
            # A re-pull: asking where the branch is costs less than a fetch, and is all a pull
            # with nothing new does.
            name, peeled = self._resolve(remote, candidates, branch, secrets)
            if peeled == unchanged_if:
                return None
            candidates = [name]
        for name in candidates:
            try:
                tip = self._fetch(remote, name, deepen, secrets)
            except GitCommandError as failure:
                if _MISSING_REF in failure.stderr:
                    continue
                raise self._failure(failure, secrets) from None
            commit = self._peel(tip, keep=not name.startswith("refs/heads/") and name != "HEAD")
            self._consolidate_packs()
            return None if commit == unchanged_if else commit
        if branch is None:
            raise PullError(f"git repository {self._label} has no default branch (HEAD)")
        raise PullError(f"branch or tag {branch!r} was not found in git repository {self._label}")

    def _fetch_pinned(
        self, remote: Remote, commit: str, deepen: list[str], secrets: list[str]
    ) -> str:
        if not self._has_commit(commit):
            try:
                self._fetch(remote, commit, deepen, secrets)
            except GitCommandError as failure:
                if not any(sign in failure.stderr.lower() for sign in REFUSED_WANT):
                    raise self._failure(failure, secrets) from None
                # The server only serves advertised tips: fetch all branches' history and look.
                refspec = "+refs/heads/*:refs/codeferry/heads/*"
                deepen = [f"--depth={FULL_HISTORY}"]
                self._network(remote, ["fetch", *_FETCH, *deepen], refspec, secrets)
            if not self._has_commit(commit):
                raise PullError(f"commit {commit} was not found in git repository {self._label}")
            self._consolidate_packs()
        return self._peel(commit, keep=True)

    def _fetch(self, remote: Remote, name: str, deepen: list[str], secrets: list[str]) -> str:
        """Fetch ref (or commit) ``name``; returns the object it is at."""
        into = _HAVE if name.startswith("refs/heads/") or name == "HEAD" else _FETCHED
        self._network(remote, ["fetch", *_FETCH, *deepen], f"+{name}:{into}", secrets, raw=True)
        # "<id>\t\tbranch 'main' of <url>": the object fetched, whatever the ref moved to since.
        return (self._folder / "FETCH_HEAD").read_bytes().split(b"\t", 1)[0].decode("ascii")

    def _resolve(
        self, remote: Remote, candidates: list[str], branch: str | None, secrets: list[str]
    ) -> tuple[str, str]:
        """``(ref, commit)`` of the first of ``candidates`` the remote has (tags peeled)."""
        listed = self._network(remote, ["ls-remote"], candidates, secrets)
        refs: dict[str, str] = {}
        for line in listed.decode("utf-8", "replace").splitlines():
            sha, _, name = line.partition("\t")
            refs[name] = sha
        for name in candidates:
            found = refs.get(f"{name}^{{}}") or refs.get(name)
            if found:
                return name, found
        if branch is None:
            raise PullError(f"git repository {self._label} has no default branch (HEAD)")
        raise PullError(f"branch or tag {branch!r} was not found in git repository {self._label}")

    def _peel(self, sha: str, *, keep: bool) -> str:
        """The commit ``sha`` is or points to (its tree remembered).

        ``keep``: record it as the commit checked out, a "have" for the next fetch (a branch
        fetched records itself).
        """
        try:
            commit, tree = self._run(["rev-parse", f"{sha}^{{commit}}", f"{sha}^{{tree}}"]).split()
        except (GitCommandError, ValueError):
            raise PullError(f"git repository {self._label}: {sha} is not a commit") from None
        commit_id = commit.decode("ascii")
        self._trees_of[commit_id] = tree.decode("ascii")
        if keep:
            self._run(["update-ref", _HAVE, commit_id])
        return commit_id

    def _has_commit(self, sha: str) -> bool:
        try:
            self._run(["cat-file", "-e", f"{sha}^{{commit}}"])
        except GitCommandError:
            return False
        return True

    def _network(
        self,
        remote: Remote,
        args: list[str],
        what: str | Sequence[str],
        secrets: list[str],
        *,
        raw: bool = False,
    ) -> bytes:
        """Run a command that talks to ``remote``: ``ARGS --end-of-options URL WHAT``.

        :raises GitCommandError: when ``raw`` (for the caller to look at); else a PullError.
        """
        words = [what] if isinstance(what, str) else list(what)
        command = [*args, "--end-of-options", self._url, *words]
        on_stderr = self._progress_reader() if args[0] == "fetch" else None
        if on_stderr is not None:
            command.insert(1, "--progress")
        try:
            return self._program.run(self._git_dir, command, remote=remote, on_stderr=on_stderr)
        except ConnectTimeoutError as error:
            raise describe_failure(error, self._url, secrets) from None
        except GitCommandError as failure:
            if raw:
                raise
            raise self._failure(failure, secrets) from None

    def _failure(self, failure: GitCommandError, secrets: list[str]) -> PullError:
        return describe_failure(failure, self._url, secrets)

    def tree_of(self, commit: str) -> str:
        tree = self._trees_of.get(commit)
        if tree is None:
            self._peel(commit, keep=False)
            tree = self._trees_of[commit]
        return tree

    def submodule_urls(self, tree: str) -> dict[str, str]:
        try:
            # No includes: a .gitmodules naming a file of this machine would have git read it.
            where = f"{tree}:.gitmodules"
            listed = self._run(["config", "--no-includes", "-z", "--blob", where, "--list"])
        except GitCommandError as failure:
            if "unable to resolve config blob" in failure.stderr:
                return {}
            raise PullError(
                f"git repository {self._label}: its .gitmodules cannot be read: {failure.message}"
            ) from None
        paths: dict[str, str] = {}
        urls: dict[str, str] = {}
        for item in listed.split(b"\0"):
            key, _, value = item.decode("utf-8", "replace").partition("\n")
            section, _, rest = key.partition(".")
            name, _, variable = rest.rpartition(".")
            if section == "submodule" and variable in {"path", "url"}:
                (paths if variable == "path" else urls)[name] = value
        return {path: urls[name] for name, path in paths.items() if name in urls}

    # -- writing -------------------------------------------------------------------------------

    def write(self, tree: str, previous_tree: str | None, prefix: str = "") -> WriteStats:
        trees = self._trees
        changed = self._changed_since(previous_tree, tree)
        listing = self._list(tree, prefix, changed)
        stats = WriteStats(gitlinks=listing.gitlinks)
        self._symlinks(listing.links)
        files = listing.files
        if listing.reusable:
            try:
                left = trees.context.reuse_many(listing.reusable)
            except FileExistsError as error:
                trees.target.refuse(str(error.filename), "appears twice in its tree")
            stats.reused = len(listing.reusable) - len(left)
            for path in {path for path, _ in listing.reusable} - {path for path, _ in left}:
                del files[path]
        self._check_out(files, prefix)
        stats.files = len(files)
        stats.bytes = sum(size for _, size in files.values())
        if trees.progress is not None:
            trees.progress(TransferProgress(self._label, "writing", stats.files, stats.files, 0))
        return stats

    def _list(self, tree: str, prefix: str, changed: dict[bytes, str] | None) -> _Listing:
        """Every entry of ``tree`` the checkout wants, each checked; its folders made.

        ``ls-tree -t`` lists a folder before what it holds, so a folder left out (by the sparse
        checkout) is known before its entries are met.
        """
        trees, target = self._trees, self._trees.target
        root = str(target.file_path(prefix)) if prefix else str(target.root)
        folders: dict[bytes, tuple[Scope, str]] = {b"": (trees.cone.root(prefix), root)}
        listing = _Listing()
        seen: set[bytes] = set()
        base = f"{prefix}/" if prefix else ""
        listing_args = ["ls-tree", "-r", "-t", "-z", "--long", "--full-tree", tree]
        for entry in self._program.records(self._git_dir, listing_args):
            meta, _, relative = entry.partition(b"\t")
            parent, _, name = relative.rpartition(b"/")
            folder = folders.get(parent)
            if folder is None:
                continue  # in a folder the checkout leaves out
            scope, where = folder
            path = base + relative.decode("utf-8", "surrogateescape")
            if not _checked_entry(target, name, path, relative, seen):
                continue  # git's own folder: never checked out, nor anything under it
            mode, kind, sha, size = meta.split()
            if kind == b"tree":
                inner = trees.cone.scope(path) if scope == "cone" else scope
                if inner is not None:
                    target.directory(path)
                    # A name checked safe joins by hand: safe_join for every file costs more.
                    folders[relative] = (
                        inner,
                        f"{where}/{name.decode('utf-8', 'surrogateescape')}",
                    )
            elif mode == _GITLINK:
                if scope == "cone" and trees.cone.scope(path) is None:
                    continue
                target.directory(path)
                commit = sha.decode("ascii")
                was = (changed.get(relative, commit) or None) if changed is not None else None
                listing.gitlinks.append(Gitlink(path, commit, was))
            elif mode == _SYMLINK:
                listing.links.append((path, sha))
            elif kind != b"blob":
                target.refuse(path, f"is not a file (object {sha.decode()} is not a blob)")
            else:
                if changed is not None and relative not in changed:
                    place = f"{where}/{name.decode('utf-8', 'surrogateescape')}"
                    listing.reusable.append((path, place))
                # Old trees may say 100664 or 100775: git writes a file, executable or not.
                mode = _EXECUTABLE if int(mode, 8) & 0o111 else _REGULAR
                listing.files[path] = (mode + b" " + sha + b"\t" + relative, int(size))
        return listing

    def _changed_since(self, previous_tree: str | None, tree: str) -> dict[bytes, str] | None:
        """``{path: previous gitlink commit or ""}`` of what differs from ``previous_tree``;
        ``None`` when there is no previous version to reuse files from."""
        if previous_tree is None or self._trees.context.previous is None:
            return None
        try:
            raw = self._run(["diff-tree", "-r", "-z", "--no-renames", previous_tree, tree])
        except GitCommandError:
            return None  # the previous tree is not in this cache (made afresh): write it all
        changed: dict[bytes, str] = {}
        fields = raw.split(b"\0")
        for status, path in zip(fields[0::2], fields[1::2], strict=False):
            old_mode, _, old_sha, *_ = status.lstrip(b":").split()
            changed[path] = old_sha.decode("ascii") if old_mode == _GITLINK else ""
        return changed

    def _symlinks(self, links: list[tuple[str, bytes]]) -> None:
        """Read the targets of the symbolic links met, for :meth:`TreeTarget.finish` to make."""
        if not links:
            return
        target = self._trees.target
        shas = b"".join(sha + b"\n" for _, sha in links)
        output = self._run(["cat-file", "--batch"], stdin=shas)
        position = 0
        for path, sha in links:
            end = output.index(b"\n", position)
            header = output[position:end].split()
            if len(header) != 3:
                missing = f"is missing from the repository (object {sha.decode()} was not sent)"
                target.refuse(path, missing)
            if header[1] != b"blob":
                target.refuse(path, f"is not a file (object {sha.decode()} is not a blob)")
            size = int(header[2])
            target.symlink(path, output[end + 1 : end + 1 + size])
            position = end + 1 + size + 1

    def _check_out(self, index: dict[str, tuple[bytes, int]], prefix: str) -> None:
        """Write the files of ``index`` under ``prefix``, through an index of their own."""
        if not index:
            return
        # One join, the last NUL with it: a second copy of every line would add to the peak.
        lines = b"\0".join([*(line for line, _ in index.values()), b""])
        work_tree = self._trees.target.file_path(prefix) if prefix else self._trees.context.target
        index_file = self._folder / f"codeferry-{os.getpid()}.index"
        env = {"GIT_INDEX_FILE": str(index_file), "GIT_WORK_TREE": str(work_tree)}
        try:
            self._run(["update-index", "-z", "--index-info"], stdin=lines, env=env)
            self._run(["checkout-index", "--all"], env=env)
        except GitCommandError as failure:
            raise PullError(
                f"git repository {self._label}: the files cannot be written: {failure.message}"
            ) from None
        finally:
            index_file.unlink(missing_ok=True)

    # -- pieces --------------------------------------------------------------------------------

    def _prepare(self, exists: bool) -> None:
        """Make the cache repository if new; clear what a killed git left behind.

        The checkout's lock is held: a lock file in the repository is a killed run's, and would
        make every later fetch fail.
        """
        folder = self._folder
        if not exists:
            self._run(["init", "--bare", "--quiet", "--template="])
        else:
            for index in folder.glob("codeferry-*.index*"):
                index.unlink(missing_ok=True)
        attributes = folder / "info" / "attributes"
        with contextlib.suppress(FileNotFoundError):
            if attributes.read_bytes() == _NO_ATTRIBUTES:
                return
        attributes.parent.mkdir(exist_ok=True)
        attributes.write_bytes(_NO_ATTRIBUTES)

    def close(self) -> None:
        """Nothing is held open between runs of git."""

    def _consolidate_packs(self) -> None:
        """Past :data:`MAX_PACKS` packs, roll the small ones (and loose objects) into one.

        ``--geometric=2`` rewrites only packs smaller than twice the next: the recent pulls'.
        """
        packs = list((self._folder / "objects" / "pack").glob("*.pack"))
        if len(packs) > MAX_PACKS:
            self._run(["repack", "-d", "-q", "--geometric=2"])

    def _run(
        self, args: list[str], *, stdin: bytes | None = None, env: dict[str, str] | None = None
    ) -> bytes:
        return self._program.run(self._git_dir, args, stdin=stdin, env=env)

    def _progress_reader(self) -> Callable[[bytes], None] | None:
        progress = self._trees.progress
        if progress is None:
            return None
        label = self._label

        def read(line: bytes) -> None:
            found = _PROGRESS.match(line)
            if found is None:
                return
            phase: Phase = "receiving" if found[1] == b"Receiving objects" else "resolving"
            received = 0
            if found[4] is not None:
                received = int(float(found[4]) * _UNITS.get(found[5], 1))
            progress(TransferProgress(label, phase, int(found[2]), int(found[3]), received))

        return read


def _checked_entry(
    target: TreeTarget, name: bytes, path: str, relative: bytes, seen: set[bytes]
) -> bool:
    """Hold one listed entry to the tree rules: refuse it, or say whether it is checked out."""
    if not is_safe_name(name):
        target.refuse(path, "is not a safe file name")
    if is_left_out(name):
        return False
    if relative in seen:
        target.refuse(path, "appears twice in its tree")
    seen.add(relative)
    return True
