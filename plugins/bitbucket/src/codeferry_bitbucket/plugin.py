"""codeferry-bitbucket's hooks, made from its declaration (entry-point module; nothing heavy)."""

from __future__ import annotations

from codeferry_git.hosts import GitHost

BITBUCKET = GitHost(
    name="bitbucket",
    host="bitbucket.org",
    token_username="x-token-auth",  # noqa: S106 - a user name
    credentials=("codeferry_bitbucket.credentials:BitBucketCredentials",),
    repository="codeferry_bitbucket.repository:BitBucketRepository",
    description="a repository on bitbucket.org or a self-managed host",
)

register_block_types, register_source_kinds, storage_from_source = BITBUCKET.hooks()
