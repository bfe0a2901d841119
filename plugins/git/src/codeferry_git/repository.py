"""Git repositories as code storage: shallow, incremental fetches into a plain, versioned tree.

The git objects live in a bare repository in the checkout's cache folder, kept between pulls, so a
re-pull fetches only new objects. The commit's tree is then written straight into the new version's
folder, with no ``.git`` folder: files unchanged since the previous pull are reused from it. When
the remote still points at the commit checked out, nothing is written. git's own program does the
work when it is on the machine, dulwich otherwise (see :mod:`codeferry_git.clients`).
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import SecretStr, field_validator, model_validator

from codeferry.blocks import Block
from codeferry.errors import CodeferryError, PullError, UnsafePathError
from codeferry.paths import safe_relative_path
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
from codeferry_git.urls import (
    InvalidGitInputError,
    parse_git_url,
    same_origin,
    validate_commit_sha,
    validate_ref_name,
)

if TYPE_CHECKING:
    from codeferry_git.clients import CachedRepository, PullTrees
    from codeferry_git.tree_rules import Gitlink

__all__ = ["GitRepository"]

_MAX_SUBMODULE_NESTING = 8


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
        from codeferry_git.clients import PullTrees, open_repository
        from codeferry_git.progress import current_callback, displayed

        auth, key = self._credentials_for(self.url)
        secrets = [auth.password] if auth else []
        with displayed(f"pull {label}", current_callback()) as callback:
            trees = PullTrees.for_pull(context, label, self.directories or (), callback)
            repo = open_repository(self.url, trees, ssh_key=key is not None)
            return self._fetch(context, repo, trees, auth, key, secrets, same_layout, layout)

    def _fetch(  # noqa: PLR0917 - the parts of one pull, handed on
        self,
        context: PullContext,
        repo: CachedRepository,
        trees: PullTrees,
        auth: HttpAuth | None,
        key: SshKey | None,
        secrets: list[str],
        same_layout: bool,
        layout: str,
    ) -> FetchResult:
        try:
            commit = repo.fetch_commit(
                auth,
                key,
                branch=self.branch,
                commit_sha=self.commit_sha,
                depth=self.depth,
                unchanged_if=context.previous_version if same_layout else None,
                secrets=secrets,
            )
            if commit is None:
                return context.unchanged()
            tree = repo.tree_of(commit)
            stats = repo.write(tree, context.previous_state.get("tree"))
            files, size = stats.files, stats.bytes
            submodules: dict[str, Any] = {}
            if self.include_submodules and stats.gitlinks:
                previous = dict(context.previous_state.get("submodules", {}))
                submodules, more_files, more_bytes = self._write_submodules(
                    trees,
                    repo,
                    tree,
                    stats.gitlinks,
                    parent_url=self.url,
                    base="",
                    previous=previous,
                    secrets=secrets,
                )
                files, size = files + more_files, size + more_bytes
            trees.finish()
        finally:
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
        trees: PullTrees,
        repo: CachedRepository,
        tree: str,
        gitlinks: list[Gitlink],
        *,
        parent_url: str,
        base: str,
        previous: dict[str, Any],
        secrets: list[str],
        nesting: int = 1,
    ) -> tuple[dict[str, Any], int, int]:
        """Fetch and write each submodule (and theirs); ``base`` is where ``repo`` is written."""
        from codeferry_git.clients import open_repository

        if nesting > _MAX_SUBMODULE_NESTING:
            raise PullError(f"git repository {redact_url(self.url)}: submodules nest too deep")
        urls = repo.submodule_urls(tree)
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
            # Credentials go to the parent's own server only: a .gitmodules may name any host.
            auth, key = (
                self._credentials_for(sub_url) if same_origin(sub_url, self.url) else (None, None)
            )
            sub_secrets = secrets + ([auth.password] if auth else [])
            sub_repo = open_repository(sub_url, trees, ssh_key=key is not None)
            try:
                commit = sub_repo.fetch_commit(
                    auth,
                    key,
                    branch=None,
                    commit_sha=link.commit,
                    depth=1,
                    unchanged_if=None,
                    secrets=sub_secrets,
                )
                assert commit is not None
                sub_tree = sub_repo.tree_of(commit)
                old = previous.get(link.path, {})
                stats = sub_repo.write(sub_tree, old.get("tree"), link.path)
                files, size = files + stats.files, size + stats.bytes
                found[link.path] = {"commit": commit, "tree": sub_tree}
                if stats.gitlinks:
                    nested, more_files, more_bytes = self._write_submodules(
                        trees,
                        sub_repo,
                        sub_tree,
                        stats.gitlinks,
                        parent_url=sub_url,
                        base=link.path,
                        previous=previous,
                        secrets=sub_secrets,
                        nesting=nesting + 1,
                    )
                    found.update(nested)
                    files, size = files + more_files, size + more_bytes
            finally:
                sub_repo.close()
        return found, files, size


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
