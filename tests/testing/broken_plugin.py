"""The plugin of ``broken_storages.py``: its pull steps and block types, as a real plugin has."""

from __future__ import annotations

from codeferry import hookimpl
from codeferry.hookspecs import RegisterBlockType, RegisterStep


@hookimpl
def register_block_types(register: RegisterBlockType) -> None:
    from tests.testing import broken_storages as storages

    for block_type in (storages.FolderToken, storages.TakesCredentialsAsADict):
        register(block_type)


@hookimpl
def register_steps(register: RegisterStep) -> None:
    from tests.testing import broken_storages as storages

    for step in (storages.pull, storages.pull_with_credentials):
        register(step)
