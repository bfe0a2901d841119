"""codeferry's block types as Prefect block types, for a Prefect server's UI, API and workers.

::

    prefect block register -m codeferry_prefect.blocks

registers, with the Prefect server, every codeferry block type that Prefect and its integrations
do not define themselves (``git-repository``, ``git-credentials``, ``ssh-key``,
``local-directory``, ``oci-image``...), with the same slugs and fields. Blocks of those types made
in Prefect's UI or with ``.save()`` then work where Prefect's blocks do:

- ``{{ prefect.blocks.git-credentials.NAME }}`` in a ``prefect.yaml`` gives codeferry's steps the
  dictionary they take;
- Prefect's own ``pull_with_block`` step, and ``flow.from_source(block, ...)``, pull a storage
  block (``git-repository``, ``local-directory``, ``oci-image``) through codeferry;
- ``.to_codeferry()`` gives the codeferry block.

Types Prefect's integrations define under the same slugs (``aws-credentials``, ``s3-bucket``,
``gcp-credentials``, ``github-credentials``...) are left to them: codeferry copied their field
names, so their blocks already work with codeferry's steps.

Prefect finds these classes through the ``prefect.collections`` entry point, so a worker that
loads a block of one of these types needs no import of its own.
"""

from __future__ import annotations

import abc
import asyncio
import types
import typing
import warnings
from pathlib import Path
from typing import Any, ClassVar

import pydantic
from prefect.blocks.core import Block as PrefectBlock

from codeferry.blocks import Block as CodeferryBlock
from codeferry.storage import CodeStorage

__all__ = ["PREFECT_OWNED_SLUGS", "mirrored_block_types"]

# Block types Prefect and its integrations define; codeferry's blocks of these slugs share their
# field names (prefect-aws, -gcp, -azure, -github, -gitlab, -bitbucket, -docker, Prefect itself).
PREFECT_OWNED_SLUGS = frozenset(
    {
        "secret",
        "aws-credentials",
        "minio-credentials",
        "s3-bucket",
        "gcp-credentials",
        "gcs-bucket",
        "azure-blob-storage-credentials",
        "azure-blob-storage-container",
        "github-credentials",
        "github-repository",
        "gitlab-credentials",
        "gitlab-repository",
        "bitbucket-credentials",
        "bitbucket-repository",
        "docker-registry-credentials",
        "docker-host",
    }
)

_DROPPED = object()


class _Mirrors:
    """Builds a Prefect block class for each codeferry block type, nested types first."""

    def __init__(self, codeferry_types: dict[str, type[CodeferryBlock]]) -> None:
        self.codeferry_types = codeferry_types
        self.built: dict[str, type[PrefectBlock]] = {}

    def wanted(self, slug: str) -> bool:
        return slug in self.codeferry_types and slug not in PREFECT_OWNED_SLUGS

    def build(self, slug: str) -> type[PrefectBlock]:
        if slug in self.built:
            return self.built[slug]
        codeferry_type = self.codeferry_types[slug]
        annotations: dict[str, Any] = {}
        namespace: dict[str, Any] = {
            "__module__": __name__,
            "__qualname__": codeferry_type.__name__,
            "__doc__": codeferry_type.__doc__,
            # Prefect files a block class under its slug when the class is made: set it first.
            "_block_type_slug": slug,
            "_block_type_name": codeferry_type.block_type_name,
            "_description": codeferry_type.description(),
            "_codeferry_type": codeferry_type,
        }
        for name, info in codeferry_type.model_fields.items():
            annotation = self.annotation(info.annotation)
            if annotation is _DROPPED:
                continue
            annotations[name] = annotation
            default = ... if info.is_required() else info.get_default(call_default_factory=True)
            namespace[name] = pydantic.Field(default=default, description=info.description)
        namespace["__annotations__"] = annotations
        base: type[_PrefectBlock] = (
            _PrefectStorageBlock if issubclass(codeferry_type, CodeStorage) else _PrefectBlock
        )
        metaclass: Any = type(base)  # pydantic's: it turns the namespace into fields
        mirror: type[PrefectBlock] = metaclass(codeferry_type.__name__, (base,), namespace)
        self.built[slug] = mirror
        return mirror

    def annotation(self, annotation: Any) -> Any:
        """``annotation`` with codeferry block types replaced by their Prefect counterparts.

        A codeferry block type Prefect's integrations define (or the generic ``Block``) is left
        out of a union: Prefect nests blocks by type, and those types are not codeferry's there.
        """
        origin = typing.get_origin(annotation)
        if origin in {typing.Union, types.UnionType}:
            kept = [self.annotation(arg) for arg in typing.get_args(annotation)]
            kept = [arg for arg in kept if arg is not _DROPPED]
            if not kept or kept == [type(None)]:
                return _DROPPED
            return typing.Union[tuple(kept)]  # noqa: UP007 - built from a list at run time
        if isinstance(annotation, type) and issubclass(annotation, CodeferryBlock):
            slug = annotation.block_type_slug
            return self.build(slug) if self.wanted(slug) else _DROPPED
        return annotation


class _PrefectBlock(PrefectBlock, abc.ABC):
    """A codeferry block type as Prefect sees it: the same slug and fields."""

    _codeferry_type: type[CodeferryBlock]

    def to_codeferry(self) -> CodeferryBlock:
        """The codeferry block with these fields (codeferry's validation applies here)."""
        values = {name: _to_codeferry(getattr(self, name)) for name in type(self).model_fields}
        return self._codeferry_type.model_validate(values)


class _PrefectStorageBlock(_PrefectBlock, abc.ABC):
    """A codeferry storage as a Prefect storage block: Prefect's ``pull_with_block`` pulls it."""

    _block_schema_capabilities: ClassVar[list[str]] = ["get-directory"]

    async def get_directory(
        self, from_path: str | None = None, local_path: str | None = None
    ) -> None:
        """Pull through codeferry's checkout, then link that version's files into ``local_path``.

        The pull is incremental and atomic in the checkout; ``local_path`` gets hard links, so
        Prefect may empty it before the next pull without touching the checkout.
        """
        storage = self.to_codeferry()
        assert isinstance(storage, CodeStorage)
        await asyncio.to_thread(_pull_into, storage, from_path, Path(local_path or "."))


def _pull_into(storage: CodeStorage, from_path: str | None, local_path: Path) -> None:
    from codeferry.checkouts import link_version
    from codeferry.paths import safe_join

    pulled = storage.pull_code()
    source = safe_join(pulled.directory, from_path) if from_path else pulled.directory
    local_path.mkdir(parents=True, exist_ok=True)
    link_version(source, local_path)


def _to_codeferry(value: Any) -> Any:
    if isinstance(value, _PrefectBlock):
        return value.to_codeferry()
    if isinstance(value, list):
        return [_to_codeferry(item) for item in value]
    return value


def mirrored_block_types() -> dict[str, type[PrefectBlock]]:
    """A Prefect block class for each installed codeferry block type Prefect does not define."""
    from codeferry import get_plugins

    codeferry_types = {slug: entry.block_type for slug, entry in get_plugins().block_types.items()}
    mirrors = _Mirrors(codeferry_types)
    for slug in sorted(codeferry_types):
        if not mirrors.wanted(slug):
            continue
        try:
            mirrors.build(slug)
        except Exception as error:  # one plugin's odd field must not hide every other type
            warnings.warn(
                f"codeferry block type {slug!r} cannot be offered to Prefect: "
                f"{type(error).__name__}: {error}",
                stacklevel=2,
            )
    return dict(mirrors.built)


# ``prefect block register -m`` and Prefect's lookup of a block class both find the classes as
# attributes of this module.
for _mirror in mirrored_block_types().values():
    globals()[_mirror.__name__] = _mirror
