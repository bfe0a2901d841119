"""The block for a local folder that holds code; the work is done by :class:`LocalFolder`."""

from __future__ import annotations

from typing import ClassVar

from codeferry.blocks import Block
from codeferry.storage import DelegatingStorage
from codeferry_local.folder import LocalFolder

__all__ = ["LocalDirectory", "LocalFolder"]


class LocalDirectory(DelegatingStorage, Block):
    """A folder on this machine that holds code."""

    block_type_slug: ClassVar[str] = "local-directory"
    block_type_name: ClassVar[str] = "Local Directory"
    path: str

    def delegate(self) -> LocalFolder:
        return LocalFolder(self.path)
