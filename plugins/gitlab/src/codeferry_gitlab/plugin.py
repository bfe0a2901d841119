"""codeferry-gitlab's hooks, made from its declaration (entry-point module; nothing heavy)."""

from __future__ import annotations

from codeferry_git.hosts import GitHost

GITLAB = GitHost(
    name="gitlab",
    host="gitlab.com",
    nested_groups=True,  # group/subgroup/repo
    token_username="oauth2",  # noqa: S106 - a user name
    credentials=("codeferry_gitlab.credentials:GitLabCredentials",),
    repository="codeferry_gitlab.repository:GitLabRepository",
    description="a repository on gitlab.com or a self-managed host",
)

register_block_types, register_source_kinds, storage_from_source = GITLAB.hooks()
