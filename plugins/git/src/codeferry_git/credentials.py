"""Credentials for git remotes: the blocks, and the tiny protocol provider plugins implement.

Any block with a ``git_credentials(url)`` method returning ``(username, password)`` works as the
credentials of a :class:`~codeferry_git.repository.GitRepository` or of the ``git_clone`` step.
Provider plugins (codeferry-github, -gitlab, -bitbucket) implement it with each host's rules for
putting a token on the wire; codeferry-git itself never guesses a provider from a host name.

Values are handed to the transport in memory at pull time and asked for again on every pull, so a
rotated or freshly minted token simply works.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import SecretStr

from codeferry.blocks import Block, Secret
from codeferry.errors import CodeferryError
from codeferry.secrets import remember

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
]

# A token with no user name goes on the wire as this user: GitHub takes any name with a token,
# GitLab any non-empty one with a personal/project/group access token.
DEFAULT_TOKEN_USERNAME = "x-access-token"  # noqa: S105 - a user name, not a password


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


@dataclass(frozen=True)
class HttpAuth:
    """A user name and password for one pull; the password is never shown."""

    username: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        # Minted at pull time (an app's installation token) or read from a block: either way a
        # secret from now on, in whatever form a server or a library repeats it.
        remember(self.password)


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

    def git_ssh_key(self, url: str) -> SshKey:
        return self


class GitCredentials(Block):
    """A user name and a token or password for any git host over HTTPS, or an SSH key.

    With no ``username`` the token is sent as the password of ``x-access-token``.
    """

    block_type_slug: ClassVar[str] = "git-credentials"
    block_type_name: ClassVar[str] = "Git Credentials"
    username: str | None = None
    token: SecretStr | None = None
    ssh_key: SshKey | None = None

    def git_credentials(self, url: str) -> tuple[str, str]:
        if self.token is None:
            raise CodeferryError(f"the git credentials for {url} hold no token")
        return self.username or DEFAULT_TOKEN_USERNAME, self.token.get_secret_value()

    def git_ssh_key(self, url: str) -> SshKey | None:
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
        token = data.pop("access_token", None) or data.pop("token", None)
        token = token or data.pop("password", None)
        ssh_key = data.pop("ssh_key", None)
        unknown = set(data) - {"username"}
        if unknown:
            names = ", ".join(sorted(unknown))
            raise CodeferryError(f"git credentials given as a mapping have unknown keys: {names}")
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
        return HttpAuth(DEFAULT_TOKEN_USERNAME, credentials.get_secret_value())
    if isinstance(credentials, Secret):
        value = credentials.get()
        if not isinstance(value, str):
            raise CodeferryError(f"the secret used as a token for {url} is not a string")
        return HttpAuth(DEFAULT_TOKEN_USERNAME, value)
    if isinstance(credentials, GitCredentialsProvider):
        username, password = credentials.git_credentials(url)
        return HttpAuth(username, password)
    if isinstance(credentials, SshKey):
        raise CodeferryError(f"an SSH key cannot authenticate to {url}; use an ssh:// URL")
    raise CodeferryError(
        f"{type(credentials).__name__} has no git_credentials(url) method to authenticate to {url}"
    )


def ssh_key_for(credentials: Any, url: str) -> SshKey | None:
    """The deploy key to use for ``url``, or ``None`` for the machine's own SSH setup."""
    if isinstance(credentials, SshKeyProvider):
        return credentials.git_ssh_key(url)
    return None
