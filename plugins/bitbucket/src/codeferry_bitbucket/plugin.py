"""The hooks of codeferry-bitbucket (entry-point module; nothing heavy imported)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codeferry import hookimpl

if TYPE_CHECKING:
    from codeferry.hookspecs import RegisterBlockType, RegisterSourceKind
    from codeferry.storage import CodeStorage


@hookimpl
def register_block_types(register: RegisterBlockType) -> None:
    from codeferry_bitbucket.credentials import BitBucketCredentials

    register(BitBucketCredentials)


@hookimpl
def register_source_kinds(register: RegisterSourceKind) -> None:
    register(
        "bitbucket",
        description="a repository on bitbucket.org or a self-managed host",
        examples=["https://bitbucket.org/org/repo", "git@bitbucket.org:org/repo.git"],
    )


@hookimpl(tryfirst=True)  # a claim on one host is more specific than codeferry-git's
def storage_from_source(source: object) -> CodeStorage | None:
    """Claim bitbucket.org URLs and hosts listed in ``CODEFERRY_BITBUCKET_HOSTS``."""
    from codeferry_git.urls import hosts_from_environment, is_url_on_hosts

    hosts = hosts_from_environment("bitbucket.org", "CODEFERRY_BITBUCKET_HOSTS")
    if not isinstance(source, str) or not is_url_on_hosts(source, hosts):
        return None
    from codeferry_git.repository import GitRepository

    return GitRepository(url=source)
