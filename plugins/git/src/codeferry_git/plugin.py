"""The hooks of codeferry-git: its entry-point module, kept light (dulwich is imported on use)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codeferry import hookimpl

if TYPE_CHECKING:
    from codeferry.hookspecs import RegisterBlockType, RegisterSourceKind, RegisterStep
    from codeferry.storage import CodeStorage


@hookimpl
def register_block_types(register: RegisterBlockType) -> None:
    from codeferry_git.credentials import GitCredentials, SshKey
    from codeferry_git.repository import GitRepository

    register(GitRepository)
    register(GitCredentials)
    register(SshKey)


@hookimpl
def register_steps(register: RegisterStep) -> None:
    from codeferry_git import steps

    register(
        steps.git_clone,
        aliases=[
            "prefect.deployments.steps.git_clone",
            "prefect.deployments.steps.pull.git_clone",
        ],
    )


@hookimpl
def register_source_kinds(register: RegisterSourceKind) -> None:
    register(
        "git",
        description="a git repository over HTTPS or SSH",
        examples=[
            "https://example.com/org/repo.git",
            "git@example.com:org/repo.git",
            "ssh://git@example.com/org/repo.git",
            "git+https://example.com/org/repo",
        ],
    )


@hookimpl
def storage_from_source(source: object) -> CodeStorage | None:
    """Claim git remotes: ``*.git`` URLs, ``user@host:path``, ``ssh://`` and ``git+…://``."""
    from codeferry_git.urls import is_git_source

    if not isinstance(source, str) or not is_git_source(source):
        return None
    from codeferry_git.source import GitSource  # a plain object: no block model to build

    return GitSource.from_url(source)
