"""GitLab credentials: access tokens and deploy tokens, on gitlab.com or self-managed."""

from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr  # noqa: TC002 - pydantic reads field types at run time

from codeferry.blocks import Block

__all__ = ["GitLabCredentials"]


class GitLabCredentials(Block):
    """A GitLab personal, project or group access token, or a deploy token with its user name.

    Access tokens go on the wire as ``oauth2:<token>``; a deploy token (``username`` set, such as
    ``gitlab+deploy-token-42``) as ``<username>:<token>``. ``url`` is the instance, for
    self-managed GitLab (informational; the repository URL decides where to connect).
    """

    block_type_slug: ClassVar[str] = "gitlab-credentials"
    block_type_name: ClassVar[str] = "GitLab Credentials"
    token: SecretStr
    username: str | None = None
    url: str | None = None

    def git_credentials(self, url: str) -> tuple[str, str]:
        return self.username or "oauth2", self.token.get_secret_value()
