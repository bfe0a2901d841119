"""Git repositories as code storage: shallow, incremental fetches into a plain, versioned tree.

The git objects live in a bare repository in the checkout's cache folder, kept between pulls, so a
re-pull fetches only new objects. The commit's tree is then written straight into the new version's
folder, with no index and no ``.git`` folder: files unchanged since the previous pull are
hard-linked from it. When the remote still points at the commit checked out, nothing is written.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import SecretStr, field_validator, model_validator

from codeferry.blocks import Block
from codeferry.errors import CodeferryError, PullError, UnsafePathError
from codeferry.paths import safe_relative_path
from codeferry.progress import TransferProgress
from codeferry.secrets import redact_url
from codeferry.storage import CodeStorage, FetchResult, PullContext
from codeferry_git.credentials import (
    GitCredentials,
    HttpAuth,
    SshKey,
    credentials_from_value,
    http_auth_for,
    ssh_key_for,
)
from codeferry_git.object_ids import object_id, ref_name
from codeferry_git.urls import (
    InvalidGitInputError,
    parse_git_url,
    same_origin,
    validate_commit_sha,
    validate_ref_name,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dulwich.objects import ObjectID, ShaFile
    from dulwich.refs import Ref
    from dulwich.repo import Repo

    from codeferry_git.progress import PackProgress
    from codeferry_git.trees import Gitlink, TreeWriter

__all__ = ["GitRepository"]

_FULL_HISTORY = 2**31 - 1
_MAX_SUBMODULE_NESTING = 8
_MAX_PACKS = 16
_REFUSED_WANT = ("not our ref", "invalid object", "unadvertised object")


class GitRepository(CodeStorage, Block):
    """A git repository reached over HTTPS or SSH: a branch, tag or pinned commit of it.

    ``credentials`` is a credentials block (any block with ``git_credentials(url)``, or an
    :class:`~codeferry_git.credentials.SshKey`), a :class:`~codeferry.Secret` or a token. A URL
    with embedded credentials is accepted; they are moved into ``credentials`` at once.
    ``directories`` limits the checkout to those folders (cone-mode sparse checkout). ``depth``
    is the history fetched (``None`` for all of it); only the tree is ever written.
    """

    block_type_slug: ClassVar[str] = "git-repository"
    block_type_name: ClassVar[str] = "Git Repository"

    url: str
    branch: str | None = None
    commit_sha: str | None = None
    credentials: GitCredentials | SshKey | Block | SecretStr | None = None
    include_submodules: bool = False
    directories: list[str] | None = None
    depth: int | None = 1
    name: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _move_credentials_out_of_url(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            return data
        data = dict(data)
        parsed = parse_git_url(data["url"])
        data["url"] = parsed.url
        embedded = parsed.secret is not None or (parsed.username and not parsed.is_ssh)
        if embedded and data.get("credentials") is None:
            # `https://TOKEN@host/...` carries a bare token in the user-name place.
            token = parsed.secret if parsed.secret is not None else parsed.username
            user = parsed.username if parsed.secret is not None else None
            data["credentials"] = GitCredentials(username=user, token=token)
        if isinstance(data.get("credentials"), dict | str):
            data["credentials"] = credentials_from_value(data["credentials"])
        return data

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parsed = parse_git_url(value)
        if parsed.secret is not None:
            raise InvalidGitInputError("give credentials in `credentials`, not in the URL")
        return parsed.url

    @field_validator("branch")
    @classmethod
    def _check_branch(cls, value: str | None) -> str | None:
        return validate_ref_name(value) if value is not None else None

    @field_validator("commit_sha")
    @classmethod
    def _check_commit(cls, value: str | None) -> str | None:
        return validate_commit_sha(value) if value else None

    @field_validator("directories")
    @classmethod
    def _check_directories(cls, value: list[str] | None) -> list[str] | None:
        if not value:
            return None
        try:
            return sorted({safe_relative_path(d).as_posix() for d in value})
        except UnsafePathError as error:
            raise InvalidGitInputError(f"directories: {error}") from None

    @field_validator("depth")
    @classmethod
    def _check_depth(cls, value: int | None) -> int | None:
        if value is not None and value < 0:
            raise InvalidGitInputError("depth must be 1 or more (or None for all history)")
        return value or None

    # -- CodeStorage ---------------------------------------------------------------------------

    def __str__(self) -> str:
        where = redact_url(self.url)
        pinned = self.commit_sha or self.branch
        return f"{where}@{pinned}" if pinned else where

    def checkout_key(self) -> str:
        # Branch and pinned commit are left out: moving a pin re-uses the same checkout (and its
        # object cache), which is what makes the next pull incremental.
        return f"git {self.url} {self._layout()}"

    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        arguments: dict[str, Any] = {"repository": self.url}
        for key in ("branch", "commit_sha", "directories"):
            if getattr(self, key):
                arguments[key] = getattr(self, key)
        if self.include_submodules:
            arguments["include_submodules"] = True
        if self.credentials is not None:
            arguments["credentials"] = self._credentials_reference()
        return {"codeferry_git.steps.git_clone": arguments}

    def fetch(self, context: PullContext) -> FetchResult:
        label = redact_url(self.url)
        layout = self._layout()
        same_layout = (
            context.previous is not None and context.previous_state.get("layout") == layout
        )
        if same_layout and self.commit_sha and context.previous_version == self.commit_sha:
            return context.unchanged()
        from codeferry_git.progress import PackProgress
        from codeferry_git.trees import TreeWriter

        auth, key = self._credentials_for(self.url)
        secrets = [auth.password] if auth else []
        repo = _cache_repository(context.cache_dir, self.url)
        writing: TransferProgress | None = None
        try:
            with TransferProgress(f"pull {label}") as receiving:
                commit = _fetch_commit(
                    repo,
                    self.url,
                    auth,
                    key,
                    branch=self.branch,
                    commit_sha=self.commit_sha,
                    depth=self.depth,
                    unchanged_if=context.previous_version if same_layout else None,
                    secrets=secrets,
                    pack=PackProgress(receiving),
                )
            if commit is None:
                return context.unchanged()
            tree = _tree_of(repo, commit, label)
            writing = TransferProgress(f"pull {label}: writing files")
            writer = TreeWriter(context, label, self.directories or (), progress=writing)
            stats = writer.write(repo.object_store, tree, context.previous_state.get("tree"))
            files, size = stats.files, stats.bytes
            submodules: dict[str, Any] = {}
            if self.include_submodules and stats.gitlinks:
                previous = dict(context.previous_state.get("submodules", {}))
                submodules, more_files, more_bytes = self._write_submodules(
                    writer,
                    repo,
                    tree,
                    stats.gitlinks,
                    parent_url=self.url,
                    base="",
                    context=context,
                    previous=previous,
                    secrets=secrets,
                )
                files, size = files + more_files, size + more_bytes
            writer.finish()
        finally:
            if writing is not None:
                writing.close()
            repo.close()
        state = {"tree": tree, "layout": layout, "submodules": submodules}
        return FetchResult(version=commit, files=files, bytes=size, state=state)

    # -- internals -----------------------------------------------------------------------------

    def _layout(self) -> str:
        directories = ",".join(self.directories or [])
        return f"dirs={directories};submodules={int(self.include_submodules)}"

    def _credentials_reference(self) -> str:
        credentials = self.credentials
        if isinstance(credentials, Block) and credentials.block_name:
            return f"{{{{ blocks.{credentials.block_type_slug}.{credentials.block_name} }}}}"
        raise CodeferryError(
            f"save the credentials of {self} as a block first, so the pull step can name them"
        )

    def _credentials_for(self, url: str) -> tuple[HttpAuth | None, SshKey | None]:
        """Ask the credentials for what to send to ``url`` now (a rotated token just works)."""
        try:
            if parse_git_url(url).is_ssh:
                return None, ssh_key_for(self.credentials, url)
            return http_auth_for(self.credentials, url), None
        except CodeferryError:
            raise
        except Exception as error:  # a provider block failing to mint a token
            raise PullError(
                f"the credentials for git repository {redact_url(url)} failed: "
                f"{type(error).__name__}"
            ) from None

    def _write_submodules(
        self,
        writer: TreeWriter,
        repo: Repo,
        tree: str,
        gitlinks: list[Gitlink],
        *,
        parent_url: str,
        base: str,
        context: PullContext,
        previous: dict[str, Any],
        secrets: list[str],
        nesting: int = 1,
    ) -> tuple[dict[str, Any], int, int]:
        """Fetch and write each submodule (and theirs); ``base`` is where ``repo`` is written."""
        if nesting > _MAX_SUBMODULE_NESTING:
            raise PullError(f"git repository {redact_url(self.url)}: submodules nest too deep")
        urls = _submodule_urls(repo, tree)
        found: dict[str, Any] = {}
        files = size = 0
        for link in gitlinks:
            url = urls.get(link.path[len(base) + 1 :] if base else link.path)
            if url is None:
                raise PullError(
                    f"git repository {redact_url(self.url)}: submodule {link.path!r} has no URL "
                    "in .gitmodules"
                )
            sub_url = _resolve_submodule_url(parent_url, url, self.url)
            auth, key = (
                self._credentials_for(sub_url)
                if same_origin(sub_url, self.url)
                else (
                    None,
                    None,
                )
            )
            sub_secrets = secrets + ([auth.password] if auth else [])
            sub_repo = _cache_repository(context.cache_dir, sub_url)
            try:
                commit = _fetch_commit(
                    sub_repo,
                    sub_url,
                    auth,
                    key,
                    branch=None,
                    commit_sha=link.commit,
                    depth=1,
                    unchanged_if=None,
                    secrets=sub_secrets,
                )
                assert commit is not None
                sub_tree = _tree_of(sub_repo, commit, redact_url(sub_url))
                old = previous.get(link.path, {})
                stats = writer.write(sub_repo.object_store, sub_tree, old.get("tree"), link.path)
                files, size = files + stats.files, size + stats.bytes
                found[link.path] = {"commit": commit, "tree": sub_tree}
                if stats.gitlinks:
                    nested, more_files, more_bytes = self._write_submodules(
                        writer,
                        sub_repo,
                        sub_tree,
                        stats.gitlinks,
                        parent_url=sub_url,
                        base=link.path,
                        context=context,
                        previous=previous,
                        secrets=sub_secrets,
                        nesting=nesting + 1,
                    )
                    found.update(nested)
                    files, size = files + more_files, size + more_bytes
            finally:
                sub_repo.close()
        return found, files, size


def _cache_repository(cache_dir: Path, url: str) -> Repo:
    """The bare repository caching ``url``'s objects in this checkout's cache (made if new)."""
    from dulwich.repo import Repo

    folder = cache_dir / "git" / hashlib.sha256(url.encode()).hexdigest()[:20]
    if (folder / "objects").is_dir():
        return Repo(str(folder))
    folder.mkdir(parents=True, exist_ok=True)
    return Repo.init_bare(str(folder))


def _fetch_commit(
    repo: Repo,
    url: str,
    auth: HttpAuth | None,
    key: SshKey | None,
    *,
    branch: str | None,
    commit_sha: str | None,
    depth: int | None,
    unchanged_if: str | None,
    secrets: list[str],
    pack: PackProgress | None = None,
) -> str | None:
    """Fetch the commit wanted into ``repo``; ``None`` when the remote is at ``unchanged_if``.

    ``pack`` is told of every piece of pack data received (the progress display).
    """
    from dulwich.errors import GitProtocolError, HangupException

    from codeferry_git.progress import report_pack_data
    from codeferry_git.transport import describe_failure, open_remote

    label = redact_url(url)
    store = repo.object_store
    if commit_sha is not None and object_id(commit_sha) in store:
        return commit_sha
    resolved: dict[str, str] = {}

    def wants(refs: Mapping[Ref, ObjectID], depth: int | None = None) -> list[ObjectID]:
        if commit_sha is not None:
            return [object_id(commit_sha)]
        sha = _resolve_ref(refs, branch, label)
        resolved["sha"] = sha
        if sha == unchanged_if or object_id(sha) in store:
            return []
        return [object_id(sha)]

    def every_head(refs: Mapping[Ref, ObjectID], depth: int | None = None) -> list[ObjectID]:
        return _all_heads(refs)

    try:
        remote = open_remote(url, auth, key)
        if pack is not None:
            report_pack_data(remote.client, pack)
        try:
            remote.client.fetch(
                remote.path,
                repo,
                determine_wants=wants,
                depth=depth,
                ref_prefix=_ref_candidates(branch),
            )
        except GitProtocolError as error:
            # git http-backend hangs up on an unknown want; others answer "not our ref".
            text = str(error).lower()
            refused = isinstance(error, HangupException) or any(w in text for w in _REFUSED_WANT)
            if commit_sha is None or not refused:
                raise
            # The server only serves advertised tips: fetch all branches' history and look.
            remote = open_remote(url, auth, key)
            if pack is not None:
                report_pack_data(remote.client, pack)
            remote.client.fetch(remote.path, repo, determine_wants=every_head, depth=_FULL_HISTORY)
    except (CodeferryError, KeyboardInterrupt):
        raise
    except Exception as error:
        raise describe_failure(error, url, secrets) from None
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
    if len(list(store.packs)) > _MAX_PACKS:
        store.repack()
    return commit


def _ref_candidates(branch: str | None) -> list[Ref]:
    """The refs ``branch`` may name, in the order git looks them up (``HEAD`` for none)."""
    if branch is None:
        return [ref_name("HEAD")]
    return [ref_name(f"refs/heads/{branch}"), ref_name(f"refs/tags/{branch}")]


def _resolve_ref(refs: Mapping[Ref, ObjectID], branch: str | None, label: str) -> str:
    for name in _ref_candidates(branch):
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


def _tree_of(repo: Repo, commit: str, label: str) -> str:
    from dulwich.objects import Commit

    obj = _object(repo, commit, label)
    if not isinstance(obj, Commit):
        raise PullError(f"git repository {label}: {commit} is not a commit")
    tree: bytes = obj.tree  # an untyped property in dulwich
    return tree.decode("ascii")


def _object(repo: Repo, sha: str, label: str) -> ShaFile:
    try:
        return repo.object_store[object_id(sha)]
    except KeyError:
        raise PullError(
            f"git repository {label}: object {sha} is missing (the server did not send it)"
        ) from None


def _submodule_urls(repo: Repo, tree: str) -> dict[str, str]:
    """``{path: url}`` from the ``.gitmodules`` file at the root of ``tree``."""
    from dulwich.config import ConfigFile, parse_submodules
    from dulwich.objects import Tree

    root = repo.object_store[object_id(tree)]
    assert isinstance(root, Tree)
    if b".gitmodules" not in root:
        return {}
    _, sha = root[b".gitmodules"]
    raw = repo.object_store[sha].as_raw_string()
    config = ConfigFile.from_file(io.BytesIO(raw))
    return {
        path.decode("utf-8", "replace"): url.decode("utf-8", "replace")
        for path, url, _ in parse_submodules(config)
    }


def _resolve_submodule_url(parent: str, url: str, top: str) -> str:
    """``url`` from ``.gitmodules``, made absolute against ``parent`` the way git does."""
    if url.startswith(("./", "../")):
        if "://" in parent:
            scheme, _, rest = parent.partition("://")
            host, _, path = rest.partition("/")
            joined = posixpath.normpath(posixpath.join("/" + path, url))
            resolved = f"{scheme}://{host}{joined}"
        else:
            host, _, path = parent.partition(":")
            resolved = f"{host}:{posixpath.normpath(posixpath.join(path, url))}"
    else:
        resolved = url
    try:
        return parse_git_url(resolved).url
    except InvalidGitInputError:
        raise PullError(
            f"git repository {redact_url(top)}: submodule URL {redact_url(url)!r} is not an "
            "http(s) or ssh remote; refused"
        ) from None
