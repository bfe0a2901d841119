"""The hooks of codeferry-github (entry-point module; nothing heavy imported)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codeferry import hookimpl

if TYPE_CHECKING:
    from codeferry.hookspecs import RegisterBlockType, RegisterSourceKind
    from codeferry.storage import CodeStorage


@hookimpl
def register_block_types(register: RegisterBlockType) -> None:
    from codeferry_github.credentials import GitHubAppCredentials, GitHubCredentials

    register(GitHubCredentials)
    register(GitHubAppCredentials)


@hookimpl
def register_source_kinds(register: RegisterSourceKind) -> None:
    register(
        "github",
        description="a repository on github.com or a GitHub Enterprise Server host",
        examples=["https://github.com/org/repo", "git@github.com:org/repo.git"],
    )


@hookimpl(tryfirst=True)  # a claim on one host is more specific than codeferry-git's
def storage_from_source(source: object) -> CodeStorage | None:
    """Claim github.com URLs and hosts listed in ``CODEFERRY_GITHUB_HOSTS``."""
    from codeferry_git.urls import hosts_from_environment, is_url_on_hosts

    hosts = hosts_from_environment("github.com", "CODEFERRY_GITHUB_HOSTS")
    if not isinstance(source, str) or not is_url_on_hosts(source, hosts):
        return None
    from codeferry_git.repository import GitRepository

    return GitRepository(url=source)
