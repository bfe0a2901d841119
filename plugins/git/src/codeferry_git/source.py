"""A git repository as a plain storage: what every git pull runs, block or URL.

:class:`GitSource` is built from a few checked values, so a pull from a URL (``codeferry pull
https://host/org/repo.git``, run as a whole process before every flow run) imports no model
library; the block :class:`~codeferry_git.repository.GitRepository` hands its work to one.

The git objects live in a bare repository in the checkout's cache folder, kept between pulls, so a
re-pull fetches only new objects. The commit's tree is then written straight into the new version's
folder, with no ``.git`` folder: files unchanged since the previous pull are reused from it. When
the remote still points at the commit checked out, nothing is written. git's own program does the
work when it is on the machine, dulwich otherwise (see :mod:`codeferry_git.clients`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from codeferry.errors import CodeferryError, PullError
from codeferry.secrets import redact_url, remember
from codeferry.storage import CodeStorage, FetchResult, PullContext
from codeferry_git.clients import Wanted
from codeferry_git.http_auth import HttpAuth, token_for_host
from codeferry_git.urls import InvalidGitInputError, parse_git_url, same_origin

if TYPE_CHECKING:
    from codeferry_git.clients import CachedRepository, PullTrees
    from codeferry_git.credentials import GitCredentials, SshKey
    from codeferry_git.tree_rules import Gitlink

__all__ = ["CredentialsFor", "GitSource", "UrlToken"]

CredentialsFor = Callable[[str], tuple[HttpAuth | None, "SshKey | None"]]
"""What to send to a URL of the repository's server, asked for at pull time (per URL)."""

_MAX_SUBMODULE_NESTING = 8


class UrlToken:
    """The credentials a URL carried (``https://user:token@host/...``), moved out of it."""

    def __init__(self, token: str, username: str | None = None) -> None:
        remember(token)
        self._token = token
        self._username = username

    def __call__(self, url: str) -> tuple[HttpAuth | None, SshKey | None]:
        if parse_git_url(url).is_ssh:
            return None, None  # a URL's password is no SSH key: the machine's own SSH setup
        return HttpAuth(*token_for_host(url, self._token, self._username)), None

    def as_block(self) -> GitCredentials:
        """These credentials as the block a :class:`GitRepository` holds."""
        from codeferry_git.credentials import GitCredentials

        return GitCredentials(username=self._username, token=self._token)

    def __repr__(self) -> str:
        return "UrlToken(***)"


def split_credentials(source: str) -> tuple[str, UrlToken | None]:
    """``source`` without credentials, and the credentials it carried (``None``: none).

    ``https://TOKEN@host/...`` carries a bare token in the user-name place.

    :raises InvalidGitInputError: ``source`` is no git remote.
    """
    parsed = parse_git_url(source)
    embedded = parsed.secret is not None or (parsed.username and not parsed.is_ssh)
    if not embedded:
        return parsed.url, None
    if parsed.secret is not None:
        return parsed.url, UrlToken(parsed.secret, parsed.username)
    assert parsed.username is not None
    return parsed.url, UrlToken(parsed.username)


class GitSource(CodeStorage):
    """A branch, tag or pinned commit of a git repository reached over HTTPS or SSH.

    The values are those of :class:`~codeferry_git.repository.GitRepository`, checked already:
    ``url`` carries no credentials; ``credentials_for`` says what to send to a URL of the
    repository's server (``None``: nothing); ``directories`` are safe relative folders, sorted.
    """

    def __init__(
        self,
        url: str,
        *,
        branch: str | None = None,
        commit_sha: str | None = None,
        credentials_for: CredentialsFor | None = None,
        include_submodules: bool = False,
        directories: Sequence[str] = (),
        depth: int | None = 1,
    ) -> None:
        self.url = url
        self.branch = branch
        self.commit_sha = commit_sha
        self.credentials_for = credentials_for
        self.include_submodules = include_submodules
        self.directories = tuple(directories)
        self.depth = depth

    @classmethod
    def from_url(cls, source: str) -> GitSource:
        """The default branch of the remote ``source`` names, credentials moved out of it."""
        url, token = split_credentials(source)
        return cls(url, credentials_for=token)

    def __str__(self) -> str:
        where = redact_url(self.url)
        pinned = self.commit_sha or self.branch
        return f"{where}@{pinned}" if pinned else where

    def checkout_key(self) -> str:
        # Branch and pinned commit are left out: moving a pin re-uses the same checkout (and its
        # object cache), which is what makes the next pull incremental.
        return f"git {self.url} {self.layout()}"

    def layout(self) -> str:
        """What of the repository is written: the folders, and whether submodules are."""
        directories = ",".join(self.directories)
        return f"dirs={directories};submodules={int(self.include_submodules)}"

    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        if self.credentials_for is not None:
            raise CodeferryError(
                f"save the credentials of {self} as a block first, so the pull step can name them"
            )
        arguments: dict[str, Any] = {"repository": self.url}
        for key in ("branch", "commit_sha"):
            if getattr(self, key):
                arguments[key] = getattr(self, key)
        if self.directories:
            arguments["directories"] = list(self.directories)
        if self.include_submodules:
            arguments["include_submodules"] = True
        return {"codeferry_git.steps.git_clone": arguments}

    def fetch(self, context: PullContext) -> FetchResult:
        label = redact_url(self.url)
        layout = self.layout()
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
            trees = PullTrees.for_pull(context, label, self.directories, callback)
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
            unchanged_if = context.previous_version if same_layout else None
            commit = repo.fetch_commit(
                Wanted(auth, key, self.branch, self.commit_sha, self.depth, unchanged_if, secrets)
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

    def _credentials_for(self, url: str) -> tuple[HttpAuth | None, SshKey | None]:
        """Ask the credentials for what to send to ``url`` now (a rotated token just works)."""
        if self.credentials_for is None:
            return None, None
        try:
            return self.credentials_for(url)
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
                    Wanted(auth, key, None, link.commit, 1, None, sub_secrets)
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
