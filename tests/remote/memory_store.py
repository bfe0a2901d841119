"""An object-store plugin written from codeferry's public names alone, as a third party would.

Its store is fsspec's in-memory filesystem (``mem://bucket/folder`` is the folder
``memory://bucket/folder``); its credentials block holds a token the store never checks, so that
the base's handling of secrets can be seen. The tests load this module as a plugin; the page
docs/object-store-plugin.md shows it, with the module called ``codeferry_memory``.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import SecretStr

from codeferry import Block
from codeferry.remote import ObjectStore, ObjectStoreFolder, RemoteStorage


class Memory(ObjectStore):
    """a folder in a bucket of this process's memory"""

    examples = ("mem://bucket/folder",)
    schemes = ("mem",)
    folder = "tests.remote.memory_store:MemoryBucket"
    steps = ("pull_from_memory", "push_to_memory")
    steps_module = "tests.remote.memory_store"
    prefect_steps = "prefect_memory.deployments.steps"


register_block_types, register_steps, register_source_kinds, storage_from_source = Memory.hooks()


class MemoryToken(Block):
    """A token for the memory store."""

    block_type_slug: ClassVar[str] = "memory-token"

    token: SecretStr
    region: str | None = None


class MemoryBucket(ObjectStoreFolder):
    """A folder in a bucket of this process's memory."""

    block_type_slug: ClassVar[str] = "memory-bucket"
    store: ClassVar[type[ObjectStore]] = Memory

    bucket: str
    bucket_folder: str = ""
    credentials: MemoryToken | None = None

    def remote(self) -> RemoteStorage:
        return RemoteStorage(f"memory://{self.bucket}/{self.folder}")


pull_from_memory, push_to_memory = MemoryBucket.steps()
