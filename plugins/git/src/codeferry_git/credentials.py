"""Credentials for git remotes: the blocks, and the tiny protocol provider plugins implement.

Any block with a ``git_credentials(url)`` method returning ``(username, password)`` works as the
credentials of a :class:`~codeferry_git.repository.GitRepository` or of the ``git_clone`` step.
Host plugins (codeferry-github, -gitlab, -bitbucket) declare each host's rule for putting a token
on the wire (:class:`~codeferry_git.hosts.GitHost`); a token given without such a block (a
``git-credentials`` block, a ``secret``, Prefect's ``access_token``) follows the rule of the
installed host plugin serving the URL's host, if any. codeferry-git itself knows no host by name.

Values are handed to the transport in memory at pull time and asked for again on every pull, so a
rotated or freshly minted token simply works.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import SecretStr

from codeferry.blocks import Block, Secret
from codeferry.errors import CodeferryError
from codeferry_git.http_auth import (
    DEFAULT_TOKEN_USERNAME,
    HttpAuth,
    token_credentials,
    token_for_host,
)

__all__ = [
    "DEFAULT_TOKEN_USERNAME",
    "GitCredentials",
    "GitCredentialsProvider",
    "HttpAuth",
    "SshKey",
    "SshKeyProvider",
    "credentials_from_value",
    "http_auth_for",
    "ssh_key_for",
    "token_credentials",
]


@runtime_checkable
class GitCredentialsProvider(Protocol):
    """What a credentials block implements to authenticate git over HTTPS."""

    def git_credentials(self, url: str) -> tuple[str, str]:
        """The ``(username, password)`` pair for HTTP Basic authentication to ``url``.

        Called once per pull, at pull time (mint or refresh short-lived tokens here).
        """


@runtime_checkable
class SshKeyProvider(Protocol):
    """What a credentials block implements to authenticate git over SSH."""

    def git_ssh_key(self, url: str) -> SshKey | None:
        """The deploy key for ``url``, or ``None`` to use the machine's own SSH setup."""


class SshKey(Block):
    """An SSH private key (a deploy key) for git over SSH, used in memory only.

    ``known_hosts`` holds lines in OpenSSH ``known_hosts`` format for the servers to trust, in
    addition to the machine's own known hosts. An unknown host key is refused unless
    ``check_host_key`` is false.
    """

    block_type_slug: ClassVar[str] = "ssh-key"
    block_type_name: ClassVar[str] = "SSH Key"
    private_key: SecretStr
    passphrase: SecretStr | None = None
    username: str = "git"
    known_hosts: str | None = None
    check_host_key: bool = True

    def git_ssh_key(self, url: str) -> SshKey:  # noqa: ARG002 - the credentials protocol's
        return self


class GitCredentials(Block):
    """A user name and a token or password for any git host over HTTPS, or an SSH key.

    With no ``username`` the token is sent the way the host plugin serving the URL sends one
    (``oauth2`` on GitLab, ``x-token-auth`` on Bitbucket), else as the password of
    ``x-access-token``; a ``user:token`` pair in ``token`` is sent as that pair.
    """

    block_type_slug: ClassVar[str] = "git-credentials"
    block_type_name: ClassVar[str] = "Git Credentials"
    username: str | None = None
    token: SecretStr | None = None
    ssh_key: SshKey | None = None

    def git_credentials(self, url: str) -> tuple[str, str]:
        if self.token is None:
            raise CodeferryError(f"the git credentials for {url} hold no token")
        return token_for_host(url, self.token.get_secret_value(), self.username)

    def git_ssh_key(self, url: str) -> SshKey | None:  # noqa: ARG002 - the protocol's
        return self.ssh_key


def credentials_from_value(value: Any) -> Any:
    """Turn what a deployment file or user gives as credentials into a block or secret.

    Accepts ``None``, a block, a :class:`~pydantic.SecretStr` or plain string token, or a mapping
    in Prefect's style (``{"access_token": ...}``, ``{"token": ...}``, ``{"username": ...,
    "password": ...}``, ``{"private_key": ...}``).
    """
    if value is None or isinstance(value, Block | SecretStr):
        return value
    if isinstance(value, str):
        return SecretStr(value) if value else None
    if isinstance(value, Mapping):
        # A block resolved by Prefect's templating lists its unset fields as None, and the
        # self-hosted server's address (``url``) of GitLab's and Bitbucket's: the repository URL
        # already says where to connect.
        data = {k: v for k, v in value.items() if v is not None and k != "url"}
        if isinstance(data.get("ssh_key"), Mapping):
            data["ssh_key"] = SshKey.model_validate(data["ssh_key"])
        if "private_key" in data:
            return SshKey.model_validate(data)
        # Prefect's order: an access token, else a token, else a password.
        given = [data.pop(key, None) for key in ("access_token", "token", "password")]
        token = next((t for t in given if t), None)
        ssh_key = data.pop("ssh_key", None)
        unknown = set(data) - {"username"}
        if unknown:
            names = ", ".join(sorted(unknown))
            raise CodeferryError(f"git credentials given as a mapping have unknown keys: {names}")
        if data.get("username") and token is None and ssh_key is None:
            raise CodeferryError(
                "git credentials with a username need an access_token, token or password too"
            )
        if isinstance(token, SecretStr):
            token = token.get_secret_value()
        if isinstance(token, Secret):
            token = token.get()
        return GitCredentials(username=data.get("username"), token=token, ssh_key=ssh_key)
    raise CodeferryError(f"git credentials of type {type(value).__name__} are not understood")


def http_auth_for(credentials: Any, url: str) -> HttpAuth | None:
    """The user name and password to send to ``url``, asked for now (never cached).

    :raises CodeferryError: when ``credentials`` cannot authenticate over HTTPS.
    """
    if credentials is None:
        return None
    if isinstance(credentials, SecretStr):
        return HttpAuth(*token_for_host(url, credentials.get_secret_value()))
    if isinstance(credentials, Secret):
        value = credentials.get()
        if not isinstance(value, str):
            raise CodeferryError(f"the secret used as a token for {url} is not a string")
        return HttpAuth(*token_for_host(url, value))
    if isinstance(credentials, GitCredentialsProvider):
        username, password = credentials.git_credentials(url)
        return HttpAuth(username, password)
    if isinstance(credentials, SshKey):
        raise CodeferryError(f"an SSH key cannot authenticate to {url}; use an ssh:// URL")
    fields = set(type(credentials).model_fields) if isinstance(credentials, Block) else set()
    if fields & _TOKEN_FIELDS:
        # Any block holding a token, as Prefect takes one: its token fields, read as a mapping.
        assert isinstance(credentials, Block)
        given = {name: getattr(credentials, name) for name in fields & _PREFECT_FIELDS}
        return http_auth_for(credentials_from_value(given), url)
    raise CodeferryError(
        f"{type(credentials).__name__} has no git_credentials(url) method to authenticate to {url}"
    )


_TOKEN_FIELDS = frozenset({"access_token", "token", "password"})
_PREFECT_FIELDS = _TOKEN_FIELDS | {"username"}


def ssh_key_for(credentials: Any, url: str) -> SshKey | None:
    """The deploy key to use for ``url``, or ``None`` for the machine's own SSH setup."""
    if isinstance(credentials, SshKeyProvider):
        return credentials.git_ssh_key(url)
    return None
