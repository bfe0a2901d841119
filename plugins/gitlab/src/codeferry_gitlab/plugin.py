"""The hooks of codeferry-gitlab (entry-point module; nothing heavy imported)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codeferry import hookimpl

if TYPE_CHECKING:
    from codeferry.hookspecs import RegisterBlockType, RegisterSourceKind
    from codeferry.storage import CodeStorage


@hookimpl
def register_block_types(register: RegisterBlockType) -> None:
    from codeferry_gitlab.credentials import GitLabCredentials

    register(GitLabCredentials)


@hookimpl
def register_source_kinds(register: RegisterSourceKind) -> None:
    register(
        "gitlab",
        description="a repository on gitlab.com or a self-managed host",
        examples=["https://gitlab.com/org/repo", "git@gitlab.com:org/repo.git"],
    )


@hookimpl(tryfirst=True)  # a claim on one host is more specific than codeferry-git's
def storage_from_source(source: object) -> CodeStorage | None:
    """Claim gitlab.com URLs and hosts listed in ``CODEFERRY_GITLAB_HOSTS``."""
    from codeferry_git.urls import hosts_from_environment, is_url_on_hosts

    hosts = hosts_from_environment("gitlab.com", "CODEFERRY_GITLAB_HOSTS")
    if not isinstance(source, str) or not is_url_on_hosts(source, hosts):
        return None
    from codeferry_git.repository import GitRepository

    return GitRepository(url=source)
