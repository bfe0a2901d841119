"""The ``github-repository`` block: a GitHub repository with prefect-github's fields."""

from __future__ import annotations

from typing import ClassVar

from codeferry_git.host_blocks import HostRepository
from codeferry_github.credentials import (  # noqa: TC001 - field types
    GitHubAppCredentials,
    GitHubCredentials,
)

__all__ = ["GitHubRepository"]


class GitHubRepository(HostRepository):
    """A repository on github.com or GitHub Enterprise Server, with prefect-github's fields.

    ``repository_url``; ``reference``, a branch or tag to pin to; ``credentials`` for a private
    repository (a token, or a GitHub App).
    """

    block_type_slug: ClassVar[str] = "github-repository"
    block_type_name: ClassVar[str] = "GitHub Repository"
    url_field: ClassVar[str] = "repository_url"

    repository_url: str
    reference: str | None = None
    credentials: GitHubCredentials | GitHubAppCredentials | None = None
