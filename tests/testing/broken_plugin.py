"""The plugin of ``broken_storages.py``: its pull steps and block types, as a real plugin has."""

from __future__ import annotations

from codeferry import hookimpl
from codeferry.hookspecs import RegisterBlockType, RegisterStep


@hookimpl
def register_block_types(register: RegisterBlockType) -> None:
    from tests.testing.broken_storages import FolderToken, TakesCredentialsAsADict

    register(FolderToken)
    register(TakesCredentialsAsADict)


@hookimpl
def register_steps(register: RegisterStep) -> None:
    from tests.testing.broken_storages import pull, pull_with_credentials

    register(pull)
    register(pull_with_credentials)
