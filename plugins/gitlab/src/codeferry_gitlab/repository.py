"""The ``gitlab-repository`` block: a GitLab repository with prefect-gitlab's fields."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from codeferry_git.host_blocks import HostRepository
from codeferry_gitlab.credentials import GitLabCredentials  # noqa: TC001 - a field type

__all__ = ["GitLabRepository"]


class GitLabRepository(HostRepository):
    """A repository on gitlab.com or self-managed GitLab, with prefect-gitlab's fields.

    ``repository``, its URL; ``reference``, a branch or tag to pin to; ``git_depth``, the commits
    of history fetched (none for all of it); ``credentials`` for a private repository.
    """

    block_type_slug: ClassVar[str] = "gitlab-repository"
    block_type_name: ClassVar[str] = "GitLab Repository"
    depth_field: ClassVar[str | None] = "git_depth"

    repository: str
    reference: str | None = None
    git_depth: int | None = Field(default=1, ge=1)
    credentials: GitLabCredentials | None = None
