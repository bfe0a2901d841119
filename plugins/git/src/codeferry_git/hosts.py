"""Git hosts as declarations: what a host plugin (GitHub, GitLab, Bitbucket) says about its host.

A host plugin's entry-point module is a :class:`GitHost` and the hooks made from it::

    GITLAB = GitHost(
        name="gitlab",
        host="gitlab.com",
        token_username="oauth2",
        credentials=("codeferry_gitlab.credentials:GitLabCredentials",),
        repository="codeferry_gitlab.repository:GitLabRepository",
        description="a repository on gitlab.com or a self-managed host",
    )
    register_block_types, register_source_kinds, storage_from_source = GITLAB.hooks()

Its block types subclass :class:`~codeferry_git.host_blocks.HostCredentials` and
:class:`~codeferry_git.host_blocks.HostRepository`, which pull through
:class:`~codeferry_git.repository.GitRepository`. Everything here is string work (no pydantic, no
dulwich), so the entry-point module stays light; block types are imported when registered.
"""

from __future__ import annotations

import pkgutil
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from codeferry import hookimpl
from codeferry_git.urls import InvalidGitInputError, parse_git_url

if TYPE_CHECKING:
    from collections.abc import Callable

    from codeferry.blocks import Block
    from codeferry.hookspecs import RegisterBlockType, RegisterSourceKind
    from codeferry.storage import CodeStorage

__all__ = ["GitHost", "GitHostHooks", "git_host_for"]

# Where repositories nest in groups (GitLab), these path segments mark a file, an archive or a
# page inside a repository (``/-/archive/``, ``/raw/``...): no group or repository has them as name.
_RESERVED_SEGMENTS = frozenset({"-", "blob", "raw", "tree"})
_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip", ".whl")


class GitHostHooks(NamedTuple):
    """The hook implementations of a host plugin, made from its :class:`GitHost`."""

    register_block_types: Callable[[RegisterBlockType], None]
    register_source_kinds: Callable[[RegisterSourceKind], None]
    storage_from_source: Callable[[object], CodeStorage | None]


@dataclass(frozen=True, kw_only=True)
class GitHost:
    """A git host, as its plugin declares it.

    :param name: the plugin's source kind (``github``); its extra hosts are listed in
        :attr:`hosts_variable`.
    :param host: the public host (``github.com``).
    :param nested_groups: whether repositories sit in nested groups (GitLab's
        ``group/subgroup/repo``); otherwise a repository path is exactly ``owner/repo``.
    :param token_username: the user name a token is sent with over HTTPS when none is given
        (``x-access-token``, ``oauth2``, ``x-token-auth``). A token that already carries it, or
        any ``user:token`` pair, is sent as it is: the prefix goes on the wire once.
    :param credentials: the credentials block types, as ``module:Class`` (imported on use).
    :param repository: the repository block type, as ``module:Class``.
    :param description: what ``codeferry plugins ls`` says the plugin's sources are.
    """

    name: str
    host: str
    nested_groups: bool = False
    token_username: str
    credentials: tuple[str, ...]
    repository: str
    description: str

    def hosts(self) -> frozenset[str]:
        """:attr:`host` and those listed in :attr:`hosts_variable`, lowercase."""
        from codeferry import settings

        listed = settings.names(self.hosts_variable) or set()
        return frozenset({self.host, *(name.lower() for name in listed)})

    @property
    def hosts_variable(self) -> str:
        """The environment variable listing more hosts, comma-separated (self-managed ones)."""
        return f"CODEFERRY_{self.name.upper()}_HOSTS"

    @property
    def examples(self) -> tuple[str, ...]:
        """Sources this host's plugin claims, for listings and help."""
        return f"https://{self.host}/org/repo", f"git@{self.host}:org/repo.git"

    def serves(self, url: str) -> bool:
        """Whether ``url`` is a git remote on one of :meth:`hosts`."""
        try:
            return parse_git_url(url).host in self.hosts()
        except InvalidGitInputError:
            return False

    def claims(self, source: str) -> bool:
        """Whether ``source`` is a repository on one of :meth:`hosts`.

        URLs on the host that are not repositories (an archive, a release asset, a raw file, a
        web page) are not claimed, so a plugin written for them gets them.
        """
        if not self.serves(source):
            return False
        url = parse_git_url(source).url
        path = urlsplit(url).path if "://" in url else url.partition(":")[2]
        segments = path.strip("/").split("/")
        last = segments[-1].lower()
        if last.endswith(_ARCHIVE_SUFFIXES):
            return False
        segments[-1] = segments[-1].removesuffix(".git")
        if not all(segments) or len(segments) < 2:
            return False
        if not self.nested_groups:
            return len(segments) == 2
        return not _RESERVED_SEGMENTS.intersection(segments[1:])

    def http_auth(self, token: str, username: str | None = None) -> tuple[str, str]:
        """The user name and password to send ``token`` with to this host."""
        from codeferry_git.http_auth import token_credentials

        return token_credentials(token, username, token_username=self.token_username)

    def block_types(self) -> list[type[Block]]:
        """The credentials block types, then the repository block type (imported now)."""
        return [pkgutil.resolve_name(path) for path in (*self.credentials, self.repository)]

    def hooks(self) -> GitHostHooks:
        """The plugin's hooks: its block types, its source kind, and its claim on its hosts.

        The claim is ``tryfirst``: a repository on one host is a more specific claim than
        codeferry-git's claim of any git remote.
        """
        host = self

        @hookimpl
        def register_block_types(register: RegisterBlockType) -> None:
            for block_type in host.block_types():
                register(block_type)

        @hookimpl
        def register_source_kinds(register: RegisterSourceKind) -> None:
            register(host.name, description=host.description, examples=host.examples)

        @hookimpl(tryfirst=True)
        def storage_from_source(source: object) -> CodeStorage | None:
            if not isinstance(source, str) or not host.claims(source):
                return None
            from codeferry_git.source import GitSource  # a plain object: no block model to build

            return GitSource.from_url(source)

        return GitHostHooks(register_block_types, register_source_kinds, storage_from_source)


def git_host_for(url: str) -> GitHost | None:
    """The declaration of the installed host plugin serving ``url``'s host, if any.

    Found through the block types the loaded plugins registered (each host's blocks carry their
    :class:`GitHost` as ``git_host``), so the plugin switches apply, and a host plugin that is not
    installed leaves the generic rules.
    """
    from codeferry import get_plugins

    for entry in get_plugins().block_types.values():
        declared: Any = getattr(entry.block_type, "git_host", None)
        if isinstance(declared, GitHost) and declared.serves(url):
            return declared
    return None
