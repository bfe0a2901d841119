"""A folder named by a plain URL (``s3://bucket/folder``), pulled without its block until needed.

``codeferry pull s3://bucket/folder``, run as a whole process before every flow run, is mostly a
re-pull that finds nothing changed: one listing. The store's folder block is a pydantic model, and
importing pydantic and building the model cost more than a third of such a process. So for a
store that lists with the standard library (its :attr:`~codeferry.remote.ObjectStore.quick_lister`)
a URL whose credentials are the environment's is a :class:`UrlFolder`: the same checkout, name,
pull step and push as the block :meth:`ObjectStoreFolder.from_url
<codeferry.remote.ObjectStoreFolder.from_url>` makes, but the block is made only when the pull
needs the store's SDK (something changed, or the quick listing could not be had), or for a pull
step or a push. Anything but a plain URL (an ``@account`` part, credentials, a query) is the
block's to read, and to refuse.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from codeferry.storage import CodeStorage

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from codeferry.remote.folder import ObjectStoreFolder
    from codeferry.remote.objectstore import ObjectStore
    from codeferry.remote.storage import RemoteStorage
    from codeferry.storage import FetchResult, PullContext, PushResult

__all__ = ["UrlFolder", "is_single_name"]


def is_single_name(name: object) -> bool:
    """Whether ``name`` can name a bucket: one non-empty name, no separators."""
    return isinstance(name, str) and bool(name) and not any(char in name for char in "/:@?# ")


class UrlFolder(CodeStorage):
    """The folder at ``SCHEME://container/folder`` of ``store``, with the environment's
    credentials; made by :meth:`from_url`."""

    def __init__(self, store: type[ObjectStore], container: str, folder: str) -> None:
        self.store = store
        self.container = container
        self.folder = folder.strip("/")

    @classmethod
    def from_url(cls, store: type[ObjectStore], url: str) -> UrlFolder | None:
        """The folder ``url`` names, or ``None`` unless it is plain: a container and a folder
        (nothing before an ``@``, no port, query or fragment) and ``store`` lists quickly."""
        if store.quick_lister is None:
            return None
        try:
            parts = urlsplit(url)
        except ValueError:  # a malformed address: the block says what is wrong
            return None
        if "@" in parts.netloc or parts.query or parts.fragment or not is_single_name(parts.netloc):
            return None
        return cls(store, parts.netloc, parts.path)

    @functools.cached_property
    def block(self) -> ObjectStoreFolder:
        """The store's folder block for this URL (pydantic and the block's module imported now)."""
        return self.store.folder_class().from_url(str(self))

    def __str__(self) -> str:
        # The block's str: its location() is empty without credentials of its own.
        return f"{self.store.scheme()}://{self.container}/{self.folder}".rstrip("/")

    def checkout_key(self) -> str:
        """The block's key (its class's full name and the URL): both pull into one checkout."""
        module, _, name = self.store.folder.partition(":")
        return f"{module}.{name} {self}"

    def fetch(self, context: PullContext) -> FetchResult:
        from codeferry.remote.state import fetch_folder

        def quick_listing() -> Mapping[str, Mapping[str, Any]] | None:
            return self.store.quick_list({}, self.container, self.folder)

        def remote() -> RemoteStorage:  # the block, made only now
            return self.block.remote()

        return fetch_folder(context, self.container, self.folder, quick_listing, remote)

    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        return self.block.to_pull_step()

    def push_code(self, source_dir: str | Path, **options: Any) -> PushResult:
        return self.block.push_code(source_dir, **options)
