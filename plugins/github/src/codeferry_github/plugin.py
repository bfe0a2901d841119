"""codeferry-github's hooks, made from its declaration (entry-point module; nothing heavy imported).

What GitHub has beyond the declaration is its App credentials, which mint a token at pull time.
"""

from __future__ import annotations

from codeferry_git.hosts import GitHost

GITHUB = GitHost(
    name="github",
    host="github.com",
    token_username="x-access-token",  # noqa: S106 - a user name
    credentials=(
        "codeferry_github.credentials:GitHubCredentials",
        "codeferry_github.credentials:GitHubAppCredentials",
    ),
    repository="codeferry_github.repository:GitHubRepository",
    description="a repository on github.com or a GitHub Enterprise Server host",
)

register_block_types, register_source_kinds, storage_from_source = GITHUB.hooks()
