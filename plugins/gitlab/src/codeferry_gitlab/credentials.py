"""GitLab credentials: access tokens and deploy tokens, on gitlab.com or self-managed."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from codeferry_git.host_blocks import HostCredentials
from codeferry_gitlab.plugin import GITLAB

if TYPE_CHECKING:
    from codeferry_git.hosts import GitHost

__all__ = ["GitLabCredentials"]


class GitLabCredentials(HostCredentials):
    """A GitLab personal, project or group access token, or a deploy token with its user name.

    Access tokens go on the wire as ``oauth2:<token>``; a deploy token as ``<username>:<token>``
    (``username`` such as ``gitlab+deploy-token-42``, or the pair given as the token, as Prefect
    takes it). ``url`` is the instance, for self-managed GitLab (informational; the repository URL
    decides where to connect).
    """

    block_type_slug: ClassVar[str] = "gitlab-credentials"
    block_type_name: ClassVar[str] = "GitLab Credentials"
    git_host: ClassVar[GitHost] = GITLAB

    url: str | None = None
