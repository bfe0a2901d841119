"""The hooks of codeferry-sftp: its entry-point module, light (paramiko loads on first pull)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codeferry import hookimpl

if TYPE_CHECKING:
    from codeferry import CodeStorage
    from codeferry.hookspecs import RegisterBlockType, RegisterSourceKind, RegisterStep


@hookimpl
def register_block_types(register: RegisterBlockType) -> None:
    from codeferry_sftp.server import SftpServer
    from codeferry_sftp.storage import SftpDirectory

    register(SftpServer)
    register(SftpDirectory)


@hookimpl
def register_steps(register: RegisterStep) -> None:
    from codeferry_sftp.steps import pull_from_sftp

    register(pull_from_sftp)


@hookimpl
def register_source_kinds(register: RegisterSourceKind) -> None:
    register(
        "sftp",
        description="a folder on an SFTP server (key from ~/.ssh or the agent, known_hosts)",
        examples=["sftp://deploy@files.example.com/srv/flows", "sftp://files.example.com/~/flows"],
    )


@hookimpl
def storage_from_source(source: object) -> CodeStorage | None:
    if isinstance(source, str) and source.startswith("sftp://"):
        from codeferry_sftp.storage import SftpDirectory

        return SftpDirectory.from_url(source)
    return None
