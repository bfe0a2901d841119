"""Bitbucket credentials: Cloud app passwords and access tokens, Server/Data Center tokens."""

from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr  # noqa: TC002 - pydantic reads field types at run time

from codeferry.blocks import Block

__all__ = ["BitBucketCredentials"]


class BitBucketCredentials(Block):
    """A Bitbucket token or app password.

    With ``username`` (a Bitbucket Cloud app password, or a Server/Data Center HTTP access token
    or password) the pair is sent as is. Without it the token is a Bitbucket Cloud repository,
    project or workspace access token, sent as ``x-token-auth:<token>``.
    """

    block_type_slug: ClassVar[str] = "bitbucket-credentials"
    block_type_name: ClassVar[str] = "Bitbucket Credentials"
    token: SecretStr
    username: str | None = None
    url: str | None = None

    def git_credentials(self, url: str) -> tuple[str, str]:
        return self.username or "x-token-auth", self.token.get_secret_value()
