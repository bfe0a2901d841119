"""What core itself provides, registered through the hook spec like any other plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codeferry.hookspecs import hookimpl

if TYPE_CHECKING:
    from codeferry.hookspecs import RegisterBlockType, RegisterSourceKind, RegisterStep


@hookimpl
def register_block_types(register: RegisterBlockType) -> None:
    from codeferry.blocks import Secret

    register(Secret)


@hookimpl
def register_steps(register: RegisterStep) -> None:
    """Core's own steps: shell scripts, requirements, and pulls by URL through the plugins."""
    from codeferry.remote.steps import push_to_remote_storage
    from codeferry.steps.pip import pip_install_requirements
    from codeferry.steps.remote import pull_from_remote_storage
    from codeferry.steps.shell import run_shell_script

    register(
        run_shell_script,
        aliases=[
            "prefect.deployments.steps.run_shell_script",
            "prefect.deployments.steps.utility.run_shell_script",
        ],
    )
    register(
        pip_install_requirements,
        aliases=[
            "prefect.deployments.steps.pip_install_requirements",
            "prefect.deployments.steps.utility.pip_install_requirements",
        ],
    )
    register(
        pull_from_remote_storage,
        aliases=[
            "prefect.deployments.steps.pull_from_remote_storage",
            "prefect.deployments.steps.pull.pull_from_remote_storage",
        ],
    )
    register(push_to_remote_storage)


@hookimpl
def register_source_kinds(register: RegisterSourceKind) -> None:
    register(
        "block",
        description="a saved storage block",
        examples=["block:s3-bucket/production"],
    )
    register(
        "fsspec",
        description="a folder at any URL an installed fsspec filesystem understands",
        examples=["memory://flows", "sftp://host/srv/flows"],
    )


@hookimpl(tryfirst=True)
def storage_from_source(source: object) -> object | None:
    """``block:SLUG/NAME`` loads a saved storage block."""
    if not (isinstance(source, str) and source.startswith("block:")):
        return None
    from codeferry.blocks import load_block
    from codeferry.errors import SourceNotSupportedError
    from codeferry.storage import CodeStorage

    block = load_block(source.removeprefix("block:"))
    if not isinstance(block, CodeStorage):
        raise SourceNotSupportedError(f"block {source.removeprefix('block:')} is not a storage")
    return block


# Schemes fsspec knows that are not folders of code: web pages, archives, wrappers of other URLs.
_NOT_FOLDERS = frozenset(
    {
        "http", "https", "zip", "tar", "libarchive", "reference", "cached", "blockcache",
        "filecache", "simplecache", "dir", "jupyter", "generic",
    }
)  # fmt: skip


@hookimpl(trylast=True, specname="storage_from_source")
def fsspec_storage_from_source(source: object) -> object | None:
    """Any other ``PROTOCOL://`` URL fsspec has a filesystem for, through the remote engine.

    Asked after every plugin (backends with their own plugin, such as ``s3://``, are theirs; a
    scheme whose plugin is known but not installed is left alone so the install hint shows).
    """
    if not isinstance(source, str) or "://" not in source:
        return None
    from codeferry.known_plugins import distribution_for_source

    scheme = source.split("://", 1)[0].lower()
    if scheme in _NOT_FOLDERS or distribution_for_source(source) is not None:
        return None
    from fsspec.registry import known_implementations, registry

    if scheme not in registry and scheme not in known_implementations:
        return None
    from codeferry.remote import RemoteStorage

    return RemoteStorage(source)
