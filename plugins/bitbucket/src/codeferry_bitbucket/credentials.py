"""Bitbucket credentials: Cloud access tokens and app passwords, Server/Data Center tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from pydantic import SecretStr  # noqa: TC002 - pydantic reads field types at run time

from codeferry_bitbucket.plugin import BITBUCKET
from codeferry_git.host_blocks import HostCredentials

if TYPE_CHECKING:
    from codeferry_git.hosts import GitHost

__all__ = ["BitBucketCredentials"]


class BitBucketCredentials(HostCredentials):
    """A Bitbucket token or app password, with prefect-bitbucket's fields.

    With ``username`` (a Bitbucket Cloud app password, or a Server/Data Center HTTP access token
    or password) the pair is sent as is. Without it the token is a Bitbucket Cloud repository,
    project or workspace access token, sent as ``x-token-auth:<token>``. ``password`` is used
    when there is no ``token``, as Prefect does.
    """

    block_type_slug: ClassVar[str] = "bitbucket-credentials"
    block_type_name: ClassVar[str] = "Bitbucket Credentials"
    git_host: ClassVar[GitHost] = BITBUCKET

    password: SecretStr | None = None
    url: str | None = None

    def secret(self) -> str | None:
        if self.token is None and self.password is not None:
            return self.password.get_secret_value()
        return super().secret()
