"""The block types a git-host plugin builds on: its credentials and its repository block.

A host plugin subclasses these with Prefect's slugs and field names (``github-credentials``,
``gitlab-repository``...) and its :class:`~codeferry_git.hosts.GitHost` as ``git_host``; the
sending of tokens and the pulling are done here, the same for every host.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import SecretStr, field_validator, model_validator

from codeferry.blocks import Block
from codeferry.errors import CodeferryError
from codeferry.storage import CodeStorage
from codeferry_git.urls import InvalidGitInputError, parse_git_url, validate_ref_name

if TYPE_CHECKING:
    from codeferry.storage import FetchResult, PullContext
    from codeferry_git.hosts import GitHost
    from codeferry_git.repository import GitRepository

__all__ = ["HostCredentials", "HostRepository"]


class HostCredentials(Block):
    """A token for one git host, sent over HTTPS the way its :class:`GitHost` says.

    With ``username`` the pair is sent as it is. Without it, a token that already names its user
    (``oauth2:<token>``, ``x-token-auth:<token>``, ``user:token``) is sent as that pair, and any
    other token as the password of the host's ``token_username``.
    """

    git_host: ClassVar[GitHost]

    token: SecretStr | None = None
    username: str | None = None

    def secret(self) -> str | None:
        """The token to send, if the block holds one."""
        return self.token.get_secret_value() if self.token is not None else None

    def git_credentials(self, url: str) -> tuple[str, str]:
        secret = self.secret()
        if not secret:
            raise CodeferryError(f"the {self.block_type_slug} block for {url} holds no token")
        return self.git_host.http_auth(secret, self.username)


class HostRepository(CodeStorage, Block):
    """A repository on a git host with the fields of Prefect's block for it, pulled as a
    :class:`~codeferry_git.repository.GitRepository` (shallow, incremental, atomic).

    Subclasses declare Prefect's fields: the URL (named by ``url_field``), ``reference`` (a
    branch or tag), the credentials block (named by ``credentials_field``) and, where Prefect has
    one, the history depth (named by ``depth_field``).
    """

    url_field: ClassVar[str] = "repository"
    credentials_field: ClassVar[str] = "credentials"
    depth_field: ClassVar[str | None] = None

    @model_validator(mode="before")
    @classmethod
    def _refuse_credentials_in_url(cls, data: Any) -> Any:
        url = data.get(cls.url_field) if isinstance(data, dict) else None
        if isinstance(url, str):
            parsed = parse_git_url(url)
            if parsed.secret is not None or (parsed.username and not parsed.is_ssh):
                # The URL is stored in clear with the block: the token belongs in credentials.
                raise InvalidGitInputError(
                    f"{cls.url_field}: give the token in {cls.credentials_field}, not in the URL"
                )
        return data

    @field_validator("reference", check_fields=False)
    @classmethod
    def _check_reference(cls, value: str | None) -> str | None:
        return validate_ref_name(value) if value is not None else None

    def git_repository(self) -> GitRepository:
        """This repository as codeferry-git's storage, which does the pulling."""
        from codeferry_git.repository import GitRepository

        values = dict(self)
        return GitRepository(
            url=values[self.url_field],
            branch=values.get("reference"),
            credentials=values[self.credentials_field],
            depth=values[self.depth_field] if self.depth_field else 1,
        )

    def __str__(self) -> str:
        return str(self.git_repository())

    def checkout_key(self) -> str:
        return self.git_repository().checkout_key()

    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        return self.git_repository().to_pull_step()

    def fetch(self, context: PullContext) -> FetchResult:
        return self.git_repository().fetch(context)
