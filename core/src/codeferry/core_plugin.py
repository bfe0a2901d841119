"""What core itself provides, registered through the hook spec like any other plugin."""

from __future__ import annotations

from typing import TYPE_CHECKING

from codeferry.hookspecs import hookimpl

if TYPE_CHECKING:
    from codeferry.hookspecs import RegisterBlockType, RegisterSourceKind, RegisterStep


@hookimpl
def register_block_types(register: RegisterBlockType) -> None:
    from codeferry.blocks import Secret
    from codeferry.push_outputs import PushOutputs
    from codeferry.system_blocks import JSON, DateTime, String

    for block_type in (Secret, JSON, String, DateTime, PushOutputs):
        register(block_type)


@hookimpl
def register_steps(register: RegisterStep) -> None:
    """Core's own steps: shell scripts, requirements, and pulling a saved storage block."""
    from codeferry.steps.blocks import pull_with_block
    from codeferry.steps.pip import pip_install_requirements
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
        pull_with_block,
        aliases=[
            "prefect.deployments.steps.pull_with_block",
            "prefect.deployments.steps.pull.pull_with_block",
        ],
    )


@hookimpl
def register_source_kinds(register: RegisterSourceKind) -> None:
    register(
        "block",
        description="a saved storage block",
        examples=["block:s3-bucket/production"],
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
