"""What a plugin for an object store declares, and the hooks made from it.

A plugin for a bucket store (S3, GCS, Azure Blob Storage, or a store of your own that fsspec can
open) is a declaration, as fsspec's filesystems declare themselves with class attributes: an
:class:`ObjectStore` subclass in its entry-point module, naming its URL schemes, its folder block
and its steps, and an :class:`~codeferry.remote.ObjectStoreFolder` subclass that declares the
block's fields and makes its fsspec filesystem. The plugin's hooks come from the declaration::

    from codeferry.remote.objectstore import ObjectStore


    class Minio(ObjectStore):
        \"""a folder in a MinIO bucket\"""

        examples = ("minio://bucket/folder",)
        schemes = ("minio",)
        folder = "codeferry_minio.bucket:MinioBucket"
        steps = ("pull_from_minio", "push_to_minio")


    register_block_types, register_steps, register_source_kinds, storage_from_source = Minio.hooks()

This module is imported when the plugin is loaded, so it imports nothing heavy: the block types
and the steps are imported by the hooks, when first needed.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import TYPE_CHECKING, Any, ClassVar

from codeferry.hookspecs import hookimpl

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from codeferry.hookspecs import RegisterBlockType, RegisterSourceKind, RegisterStep
    from codeferry.remote.folder import ObjectStoreFolder
    from codeferry.storage import CodeStorage

__all__ = ["ObjectStore"]


class ObjectStore:
    """The declaration of an object-store plugin, as class attributes; its hooks come from it.

    The class's name is the store's name in messages (``S3``: "S3 source ... names no bucket"),
    lowercased the kind of source ``codeferry plugins ls`` shows; its docstring describes such a
    source there.

    :cvar schemes: the URL schemes it claims (``("s3", "s3a")``); the first is the one it shows.
    :cvar folder: ``"module:Class"`` of its :class:`~codeferry.remote.ObjectStoreFolder`; its
        credentials block types (the types of the folder's credentials field) are registered
        with it.
    :cvar steps: the names of its pull and push steps (``("pull_from_s3", "push_to_s3")``), as
        :meth:`ObjectStoreFolder.steps <codeferry.remote.ObjectStoreFolder.steps>` makes them;
        the module :attr:`steps_module` holds them under those names.
    :cvar steps_module: where the steps are (default: the ``steps`` module beside the folder's).
    :cvar prefect_steps: the module of Prefect's steps for the store
        (``"prefect_aws.deployments.steps"``): the steps are registered under those names too, so
        existing ``prefect.yaml`` files run.
    :cvar examples: sources of this kind, for ``codeferry plugins ls``.
    :cvar quick_lister: ``"module:function"`` of a function that lists a folder with the standard
        library alone, for re-pulls that find nothing changed (see :meth:`quick_list`); ``None``
        (the default) if the store cannot. Its module must import nothing heavy: a re-pull of a
        URL source calls it before the folder's block (pydantic) or the SDK is imported.
    """

    title: ClassVar[str]
    kind: ClassVar[str]
    description: ClassVar[str]
    schemes: ClassVar[tuple[str, ...]]
    folder: ClassVar[str]
    steps: ClassVar[tuple[str, str]]
    steps_module: ClassVar[str]
    prefect_steps: ClassVar[str | None] = None
    examples: ClassVar[tuple[str, ...]] = ()
    quick_lister: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.title = cls.__dict__.get("title", cls.__name__)
        cls.kind = cls.__dict__.get("kind", cls.__name__.lower())
        own_doc = cls.__dict__.get("__doc__")
        summary = inspect.cleandoc(own_doc).split("\n\n")[0] if isinstance(own_doc, str) else ""
        cls.description = cls.__dict__.get("description", " ".join(summary.split()))
        missing = [name for name in ("schemes", "folder", "steps") if not hasattr(cls, name)]
        if missing or not cls.schemes:
            raise TypeError(f"object store {cls.__name__} does not declare {missing or 'schemes'}")
        for name in ("folder", "quick_lister"):
            value = getattr(cls, name)
            if value is not None and ":" not in value:
                raise TypeError(f"{cls.__name__}.{name} {value!r} is not 'module:name'")
        if "steps_module" not in cls.__dict__:
            cls.steps_module = cls.folder.partition(":")[0].rpartition(".")[0] + ".steps"

    @classmethod
    def scheme(cls) -> str:
        """The scheme its URLs are shown with."""
        return cls.schemes[0]

    @classmethod
    def step_names(cls) -> tuple[str, str]:
        """The full names of its pull and push steps (``codeferry_s3.steps.pull_from_s3``)."""
        pull, push = cls.steps
        return f"{cls.steps_module}.{pull}", f"{cls.steps_module}.{push}"

    @classmethod
    def folder_class(cls) -> type[ObjectStoreFolder]:
        """Its :class:`~codeferry.remote.ObjectStoreFolder` subclass (imported now)."""
        found: type[ObjectStoreFolder] = pkgutil.resolve_name(cls.folder)
        return found

    @classmethod
    def quick_list(
        cls, options: Mapping[str, Any], container: str, folder: str
    ) -> Mapping[str, Mapping[str, Any]] | None:
        """``folder`` of ``container`` listed by :attr:`quick_lister`, or ``None``.

        ``options`` are the filesystem options the folder's credentials give (``{}``: the
        environment's credentials, as for a folder without credentials of its own). The lister
        returns entries as :meth:`ObjectStoreFolder.quick_listing
        <codeferry.remote.ObjectStoreFolder.quick_listing>` describes them, or ``None`` whenever
        the SDK could see something else (credentials or settings only it resolves) and on any
        failure; it waits no longer than the connect timeout.
        """
        if cls.quick_lister is None:
            return None
        lister: Callable[..., Mapping[str, Mapping[str, Any]] | None]
        lister = pkgutil.resolve_name(cls.quick_lister)
        return lister(options, container, folder)

    @classmethod
    def claims(cls, source: object) -> bool:
        """Whether ``source`` is a URL of one of its schemes."""
        return isinstance(source, str) and source.partition("://")[0].lower() in cls.schemes

    @classmethod
    def hooks(
        cls,
    ) -> tuple[
        Callable[[RegisterBlockType], None],
        Callable[[RegisterStep], None],
        Callable[[RegisterSourceKind], None],
        Callable[[object], CodeStorage | None],
    ]:
        """The plugin's hooks, for its entry-point module to export under their names.

        In that order: ``register_block_types``, ``register_steps``, ``register_source_kinds``,
        ``storage_from_source``.
        """
        return (
            cls.register_block_types,
            cls.register_steps,
            cls.register_source_kinds,
            cls.storage_from_source,
        )

    # -- the hooks ---------------------------------------------------------------------------

    @classmethod
    @hookimpl
    def register_block_types(cls, register: RegisterBlockType) -> None:
        """Its credentials block types, then its folder block type."""
        folder = cls.folder_class()
        for block_type in folder.credentials_types():
            register(block_type)
        register(folder)

    @classmethod
    @hookimpl
    def register_steps(cls, register: RegisterStep) -> None:
        """Its pull and push steps, under their names and Prefect's."""
        module = importlib.import_module(cls.steps_module)
        for full_name, name in zip(cls.step_names(), cls.steps, strict=True):
            step = getattr(module, name, None)
            if not callable(step) or f"{step.__module__}.{step.__qualname__}" != full_name:
                raise TypeError(
                    f"{full_name} is not the step {cls.folder} makes: write "
                    f"'{', '.join(cls.steps)} = {cls.folder.partition(':')[2]}.steps()' in "
                    f"{cls.steps_module}"
                )
            aliases = [f"{cls.prefect_steps}.{name}"] if cls.prefect_steps else []
            register(step, aliases=aliases)

    @classmethod
    @hookimpl
    def register_source_kinds(cls, register: RegisterSourceKind) -> None:
        """Its kind of source."""
        register(cls.kind, description=cls.description, examples=cls.examples)

    @classmethod
    @hookimpl
    def storage_from_source(cls, source: object) -> CodeStorage | None:
        """A URL of one of its schemes: its folder block (:meth:`ObjectStoreFolder.from_url`), or
        for a plain URL of a store that lists quickly a :class:`~codeferry.remote.url_folder.
        UrlFolder`, which makes that block only when the pull needs it."""
        from codeferry.remote.url_folder import UrlFolder

        if not isinstance(source, str) or not cls.claims(source):
            return None
        return UrlFolder.from_url(cls, source) or cls.folder_class().from_url(source)
