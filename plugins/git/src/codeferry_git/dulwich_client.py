"""The dulwich client: fetching into the cached bare repository and writing trees, in this process.

Used where git's own program is not (see :mod:`codeferry_git.clients`): no git on the machine,
``CODEFERRY_GIT_BINARY=never``, SSH with a deploy key held in memory, ``git://``.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from codeferry.errors import CodeferryError, PullError
from codeferry.secrets import redact_url
from codeferry_git.clients import FULL_HISTORY, MAX_PACKS, REFUSED_WANT, cache_of
from codeferry_git.object_ids import object_id, ref_name
from codeferry_git.progress import TransferProgress

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from dulwich.object_store import BaseObjectStore
    from dulwich.objects import ObjectID, ShaFile
    from dulwich.refs import Ref
    from dulwich.repo import Repo

    from codeferry_git.clients import PullTrees, Wanted
    from codeferry_git.tree_rules import WriteStats

__all__ = ["DulwichRepository", "consolidate_small_packs"]


class DulwichRepository:
    """A remote's objects in the checkout's cache, fetched and written by dulwich."""

    client = "dulwich"

    def __init__(self, url: str, trees: PullTrees) -> None:
        from dulwich.repo import Repo

        from codeferry_git.trees import TreeWriter

        self._url = url
        self._label = redact_url(url)
        self._trees = trees
        folder, exists = cache_of(trees, url)
        self._repo = Repo(str(folder)) if exists else Repo.init_bare(str(folder))
        self._writer = TreeWriter(trees)

    def fetch_commit(self, wanted: Wanted) -> str | None:
        from dulwich.errors import GitProtocolError, HangupException

        from codeferry_git.transport import describe_failure, open_remote

        repo, label = self._repo, self._label
        branch, commit_sha, unchanged_if = wanted.branch, wanted.commit_sha, wanted.unchanged_if
        auth, key = wanted.auth, wanted.key
        store = repo.object_store
        if commit_sha is not None and object_id(commit_sha) in store:
            return commit_sha
        resolved: dict[str, str] = {}

        def wants(
            refs: Mapping[Ref, ObjectID],
            depth: int | None = None,  # noqa: ARG001 - dulwich's DetermineWantsFunc
        ) -> list[ObjectID]:
            if commit_sha is not None:
                return [object_id(commit_sha)]
            sha = resolve_ref(refs, branch, label)
            resolved["sha"] = sha
            if sha == unchanged_if or object_id(sha) in store:
                return []
            return [object_id(sha)]

        def every_head(
            refs: Mapping[Ref, ObjectID],
            depth: int | None = None,  # noqa: ARG001 - dulwich's DetermineWantsFunc
        ) -> list[ObjectID]:
            return _all_heads(refs)

        activity = self._activity()
        try:
            remote = open_remote(self._url, auth, key, activity)
            try:
                remote.client.fetch(
                    remote.path,
                    repo,
                    determine_wants=wants,
                    depth=wanted.depth,
                    ref_prefix=ref_candidates(branch),
                )
            except GitProtocolError as error:
                # git http-backend hangs up on an unknown want; others answer "not our ref".
                text = str(error).lower()
                refused = isinstance(error, HangupException) or any(w in text for w in REFUSED_WANT)
                if commit_sha is None or not refused:
                    raise
                # The server only serves advertised tips: fetch all branches' history and look.
                remote = open_remote(self._url, auth, key, activity)
                remote.client.fetch(
                    remote.path, repo, determine_wants=every_head, depth=FULL_HISTORY
                )
        except (CodeferryError, KeyboardInterrupt):
            raise
        except Exception as error:
            raise describe_failure(error, self._url, wanted.secrets) from None
        if commit_sha is not None:
            if object_id(commit_sha) not in store:
                raise PullError(f"commit {commit_sha} was not found in git repository {label}")
            sha = commit_sha
        else:
            sha = resolved["sha"]
            if sha == unchanged_if:
                return None
        commit = _peel_to_commit(repo, sha, label)
        repo.refs[ref_name("refs/heads/codeferry")] = object_id(commit)  # a "have" for next time
        consolidate_small_packs(store)
        return commit

    def tree_of(self, commit: str) -> str:
        from dulwich.objects import Commit

        obj = _object(self._repo, commit, self._label)
        if not isinstance(obj, Commit):
            raise PullError(f"git repository {self._label}: {commit} is not a commit")
        tree: bytes = obj.tree  # an untyped property in dulwich
        return tree.decode("ascii")

    def submodule_urls(self, tree: str) -> dict[str, str]:
        from dulwich.config import ConfigFile, parse_submodules
        from dulwich.objects import Tree

        store = self._repo.object_store
        root = store[object_id(tree)]
        assert isinstance(root, Tree)
        if b".gitmodules" not in root:
            return {}
        _, sha = root[b".gitmodules"]
        raw = store[sha].as_raw_string()
        config = ConfigFile.from_file(io.BytesIO(raw))
        return {
            path.decode("utf-8", "replace"): url.decode("utf-8", "replace")
            for path, url, _ in parse_submodules(config)
        }

    def write(self, tree: str, previous_tree: str | None, prefix: str = "") -> WriteStats:
        stats = self._writer.write(self._repo.object_store, tree, previous_tree, prefix)
        if self._trees.progress is not None:
            self._trees.progress(
                TransferProgress(self._label, "writing", stats.files, stats.files, 0)
            )
        return stats

    def close(self) -> None:
        self._repo.close()

    def _activity(self) -> Callable[[int, str], None] | None:
        """dulwich's ``report_activity``, counting bytes read for the progress callback."""
        progress = self._trees.progress
        if progress is None:
            return None
        received = [0]
        label = self._label

        def activity(count: int, kind: str) -> None:
            if kind == "read":
                received[0] += count
                progress(TransferProgress(label, "receiving", 0, None, received[0]))

        return activity


def consolidate_small_packs(store: BaseObjectStore) -> int:
    """When ``store`` holds more than :data:`MAX_PACKS` packs, roll the small ones into one.

    Each re-pull adds a small pack; rewriting every object once there are too many (dulwich's
    ``repack``) made one re-pull in seventeen inflate the whole repository again. Only packs
    under half the size of the largest are rolled up (all but the largest, if none is), so the
    work is that of the recent pulls. Returns how many packs were rolled up.
    """
    packs = sorted(getattr(store, "packs", ()), key=len)
    if len(packs) <= MAX_PACKS:
        return 0
    largest = len(packs[-1])
    small = [pack for pack in packs[:-1] if 2 * len(pack) <= largest] or packs[:-1]
    if len(small) < 2:
        return 0
    objects = {obj.id: obj for pack in small for obj in pack.iterobjects()}
    store.add_objects([(obj, None) for obj in objects.values()])
    for pack in small:
        store._remove_pack(pack)  # type: ignore[attr-defined]  # noqa: SLF001 - repack()'s own step
    return len(small)


def ref_candidates(branch: str | None) -> list[Ref]:
    """The refs ``branch`` may name, in the order git looks them up (``HEAD`` for none)."""
    if branch is None:
        return [ref_name("HEAD")]
    return [ref_name(f"refs/heads/{branch}"), ref_name(f"refs/tags/{branch}")]


def resolve_ref(refs: Mapping[Ref, ObjectID], branch: str | None, label: str) -> str:
    """The commit ``branch`` (or ``HEAD``) names among a remote's ``refs``.

    :raises PullError: when it names none.
    """
    for name in ref_candidates(branch):
        # An annotated tag is advertised twice: the tag, and "^{}" with the commit it points to.
        sha = refs.get(ref_name(name.decode() + "^{}")) or refs.get(name)
        if sha:
            return sha.decode("ascii")
    if branch is None:
        raise PullError(f"git repository {label} has no default branch (HEAD)")
    raise PullError(f"branch or tag {branch!r} was not found in git repository {label}")


def _all_heads(refs: Mapping[Ref, ObjectID]) -> list[ObjectID]:
    return sorted(
        {sha for name, sha in refs.items() if sha and name.startswith((b"refs/heads/", b"HEAD"))}
    )


def _peel_to_commit(repo: Repo, sha: str, label: str) -> str:
    from dulwich.objects import Commit, Tag

    obj = _object(repo, sha, label)
    while isinstance(obj, Tag):
        obj = _object(repo, obj.object[1].decode("ascii"), label)
    if not isinstance(obj, Commit):
        raise PullError(f"git repository {label}: {sha} is not a commit")
    return obj.id.decode("ascii")


def _object(repo: Repo, sha: str, label: str) -> ShaFile:
    try:
        return repo.object_store[object_id(sha)]
    except KeyError:
        raise PullError(
            f"git repository {label}: object {sha} is missing (the server did not send it)"
        ) from None
