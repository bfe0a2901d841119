"""Hooks: the entry-point module. Light on purpose: the storage module loads on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codeferry import hookimpl

if TYPE_CHECKING:
    from codeferry import CodeStorage
    from codeferry.hookspecs import RegisterBlockType, RegisterSourceKind, RegisterStep


@hookimpl
def register_block_types(register: RegisterBlockType) -> None:
    from codeferry_zip.storage import ZipArchive

    register(ZipArchive)


@hookimpl
def register_steps(register: RegisterStep) -> None:
    from codeferry_zip.storage import pull_from_zip

    register(pull_from_zip)


@hookimpl
def register_source_kinds(register: RegisterSourceKind) -> None:
    register("zip", description="a zip archive of the code", examples=["zip:///srv/flows.zip"])


@hookimpl
def storage_from_source(source: object) -> CodeStorage | None:
    if isinstance(source, str) and source.startswith("zip://"):
        from codeferry_zip.storage import ZipArchive

        return ZipArchive(path=source.removeprefix("zip://"))
    return None
