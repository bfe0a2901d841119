"""A folder in a bucket of an object store, as a block and as code storage, with its steps.

:class:`ObjectStoreFolder` is the base of the S3, GCS and Azure plugins' blocks (and of any
third-party object store's). A subclass declares what differs, as class attributes and fields:
Prefect's field names for the bucket, the folder and the credentials, Prefect's step arguments;
and it implements :meth:`~ObjectStoreFolder.remote`, which makes the engine's
:class:`~codeferry.remote.RemoteStorage` for the folder. Everything else comes from here, the same
for every store: parsing ``SCHEME://bucket/folder`` URLs, ``__str__``, the pull step a block
writes (credentials by reference, never by value), pulls and pushes through the engine, and the
deployment-file steps, Prefect's arguments and outputs included (:meth:`~ObjectStoreFolder.steps`).
"""

from __future__ import annotations

import abc
import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self
from urllib.parse import urlsplit

import pydantic

from codeferry.blocks import Block, describe_validation_error
from codeferry.errors import CodeferryError
from codeferry.storage import CodeStorage, PushResult

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from codeferry.remote.objectstore import ObjectStore
    from codeferry.remote.storage import RemoteStorage
    from codeferry.storage import FetchResult, PullContext

__all__ = ["ObjectStoreFolder"]


class ObjectStoreFolder(CodeStorage, Block):
    """A folder in a bucket (or container) of an object store that holds code.

    A subclass sets the class attributes below, declares its fields (the bucket's, the folder's
    and the credentials', under Prefect's names) and implements :meth:`remote`::

        class MinioBucket(ObjectStoreFolder):
            store: ClassVar[type[ObjectStore]] = Minio  # the plugin's declaration

            bucket: str
            bucket_folder: str = ""
            credentials: MinioCredentials | None = None

            def remote(self) -> RemoteStorage:
                options = self.credentials.options() if self.credentials else {}
                return RemoteStorage(f"s3://{self.bucket}/{self.folder}", **options)

    :cvar store: the plugin's :class:`~codeferry.remote.objectstore.ObjectStore` declaration.
    :cvar container_field: the field holding the bucket's name (default ``bucket``).
    :cvar folder_field: the field holding the folder inside the bucket, ``""`` for all of it
        (default ``bucket_folder``). No field may be called ``folder``, ``container`` or ``url``:
        those are the properties every folder has.
    :cvar credentials_field: the field holding the credentials block, if the block has one
        (default ``credentials``; ``None`` for none).
    :cvar step_arguments: the steps' arguments, as Prefect names and orders them: the first names
        the bucket (and is the noun messages use); ``folder`` and ``credentials`` are the folder
        and the credentials; any other sets the field of its name, else goes to
        :meth:`credentials_from_step_argument` (see :meth:`from_step_arguments`).
    :cvar step_options: keyword-only arguments of codeferry's own steps, beyond Prefect's (each
        ``None`` by default), taken as the others are.
    """

    store: ClassVar[type[ObjectStore]]
    container_field: ClassVar[str] = "bucket"
    folder_field: ClassVar[str] = "bucket_folder"
    credentials_field: ClassVar[str | None] = "credentials"
    step_arguments: ClassVar[tuple[str, ...]] = ("bucket", "folder", "credentials")
    step_options: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "store" not in cls.__dict__:
            return  # an intermediate base: checked in its subclasses
        named = [cls.container_field, cls.folder_field, cls.credentials_field]
        missing = [name for name in named if name is not None and name not in cls.model_fields]
        if missing:
            raise TypeError(f"{cls.__name__} declares fields it does not have: {missing}")
        if "folder" not in cls.step_arguments[1:]:
            raise TypeError(f"{cls.__name__}.step_arguments must name 'folder' after the bucket")

    @pydantic.model_validator(mode="after")
    def _single_container_name(self) -> Self:
        from codeferry.remote.url_folder import is_single_name

        if not is_single_name(getattr(self, self.container_field, None)):
            raise ValueError(f"{self.container_field} is a single name, such as 'my-flows'")
        return self

    # -- what a store implements -------------------------------------------------------------

    @abc.abstractmethod
    def remote(self) -> RemoteStorage:
        """The engine's storage for this folder, its filesystem made (the backend imported)."""

    def location(self) -> str:
        """What ``str(self)`` shows after the URL: the endpoint or account, when not the default."""
        return ""

    def quick_listing(self) -> Mapping[str, Mapping[str, Any]] | None:
        """What the folder holds, listed without the store's SDK, or ``None``.

        A re-pull that finds nothing changed is nothing but a listing, and a worker runs it as a
        whole process: importing an SDK (s3fs and botocore: 0.4 s) can cost more than the
        listing. A store that can list with the standard library (a signed HTTP request)
        declares its lister (:attr:`ObjectStore.quick_lister
        <codeferry.remote.ObjectStore.quick_lister>`), for the engine to compare its listing
        with what the checkout was pulled from; when anything differs, or the listing is
        ``None``, the pull goes through :meth:`remote` as always.

        Entries as the filesystem's ``find(root, detail=True)`` gives them, by name: ``name`` is
        ``container/folder/path``, ``size``, and the same fingerprint keys (``ETag``...) with the
        same values, so the engine reads both listings alike
        (:func:`~codeferry.remote.listing.remote_files`).

        By default the lister is called for a folder without credentials (with ``{}``: the
        environment's), and not at all otherwise: a store with credentials overrides this to
        pass the filesystem options they give, or ``None`` for those only the SDK resolves.
        """
        if self.credentials_block is not None:
            return None
        return self.store.quick_list({}, self.container, self.folder)

    @classmethod
    def url_fields(cls, host: str) -> dict[str, Any] | None:  # noqa: ARG003 - subclasses read it
        """The fields a URL's ``@HOST`` part gives (``abfs://container@account.dfs.../x``).

        ``None`` (the default) when the store's URLs take no host: the part before ``@`` is then
        taken for credentials, and the URL refused.

        :raises CodeferryError: for a host the store cannot use, naming what is wrong.
        """
        return None

    @classmethod
    def credentials_from_step_argument(
        cls, value: Any, options: Mapping[str, Any] | None = None
    ) -> Block | None:
        """The credentials block for what a step was given: a block, a mapping, or nothing.

        A mapping is validated as the credentials field's type (see
        :meth:`Block.from_step_argument <codeferry.Block.from_step_argument>`). A store whose steps
        take arguments that change the credentials (S3's ``client_parameters``, GCS's
        ``project``) overrides this and reads them from ``options`` (the step's arguments beyond
        the bucket, the folder and the credentials that are not fields of the block, those not
        given left out).

        :raises CodeferryError: naming each field that does not fit, never the values.
        """
        if options:
            raise TypeError(
                f"{cls.__name__} does not use the step arguments {sorted(options)}: "
                "override credentials_from_step_argument to take them"
            )
        kinds = cls.credentials_types()
        if value is None:
            return None
        if isinstance(value, Block) and isinstance(value, tuple(kinds)):
            return value
        if len(kinds) != 1:
            raise TypeError(
                f"{cls.__name__} takes credentials of several types: override "
                "credentials_from_step_argument to choose one for a mapping"
            )
        return kinds[0].from_step_argument(value)

    # -- what it is ----------------------------------------------------------------------------

    @classmethod
    def credentials_types(cls) -> list[type[Block]]:
        """The block types the credentials field takes."""
        from codeferry.block_secrets import field_types

        if cls.credentials_field is None:
            return []
        annotation = cls.model_fields[cls.credentials_field].annotation
        return [t for t in field_types(annotation) if isinstance(t, type) and issubclass(t, Block)]

    @property
    def container(self) -> str:
        """The bucket's (or container's) name."""
        return str(getattr(self, self.container_field))

    @property
    def folder(self) -> str:
        """The folder inside the bucket, without outer slashes (``""`` for the whole bucket)."""
        return str(getattr(self, self.folder_field) or "").strip("/")

    @property
    def credentials_block(self) -> Block | None:
        """The credentials, if the block has a credentials field and it is set."""
        if self.credentials_field is None:
            return None
        found: Block | None = getattr(self, self.credentials_field)
        return found

    @property
    def url(self) -> str:
        """``SCHEME://bucket/folder``."""
        return f"{self.store.scheme()}://{self.container}/{self.folder}".rstrip("/")

    def __str__(self) -> str:
        return self.url + self.location()

    @classmethod
    def from_url(cls, url: str) -> Self:
        """The folder at ``SCHEME://bucket/folder``, with the credentials of the environment.

        :raises CodeferryError: for a URL without a bucket, or with credentials or a query in it.
        """
        from codeferry.secrets import redact_url

        parts = urlsplit(url)
        title, noun = cls.store.title, cls.step_arguments[0]
        container, at, host = parts.netloc.partition("@")
        shown = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/..."
        refused = CodeferryError(
            f"{title} source {shown} must not carry credentials or a query; "
            "give credentials through a block or the environment"
        )
        if ":" in container or parts.query or parts.fragment:
            raise refused
        if not container:
            raise CodeferryError(f"{title} source {redact_url(url)!r} names no {noun}")
        extra = cls.url_fields(host) if at else {}
        if extra is None:
            raise refused
        fields = {cls.container_field: container, cls.folder_field: parts.path.strip("/")}
        try:
            return cls(**fields, **extra)
        except pydantic.ValidationError as error:
            problems = describe_validation_error(error)
            raise CodeferryError(
                f"{title} source {redact_url(url)!r} is malformed: {problems}"
            ) from None

    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        """The store's pull step, with credentials by reference to a saved block.

        :raises CodeferryError: when the credentials hold secrets but are not saved (a pull step
            names secrets by block, never holds them).
        """
        arguments: dict[str, Any] = {self.step_arguments[0]: self.container, "folder": self.folder}
        credentials = self.credentials_block
        if credentials is not None:
            from codeferry.block_secrets import holds_secret_value

            if credentials.block_name:
                slug, name = credentials.block_type_slug, credentials.block_name
                arguments["credentials"] = f"{{{{ blocks.{slug}.{name} }}}}"
            elif holds_secret_value(credentials):
                raise CodeferryError(
                    f"save the {self.step_arguments[0]}'s credentials as a block first: a pull "
                    "step refers to secrets by block name, never by value"
                )
            elif credentials.model_dump(exclude_defaults=True):
                arguments["credentials"] = credentials.public_dict()
        fields = type(self).model_fields
        for name in self.step_options:
            if name in fields and getattr(self, name) != fields[name].get_default():
                arguments[name] = getattr(self, name)
        return {self.store.step_names()[0]: arguments}

    # -- pulling and pushing -------------------------------------------------------------------

    def fetch(self, context: PullContext) -> FetchResult:
        """The engine's pull (:meth:`remote`), unless :meth:`quick_listing` finds no change.

        When it finds a change, the engine pulls from that listing rather than list again.
        """
        from codeferry.remote.state import fetch_folder

        return fetch_folder(context, self.container, self.folder, self.quick_listing, self.remote)

    def push_code(self, source_dir: str | Path, *, ignore_file: str | None = None) -> PushResult:
        """Upload ``source_dir`` to the folder: changed files only (see ``RemoteStorage``)."""
        result = self.remote().push_code(source_dir, ignore_file=ignore_file)
        return PushResult(str(self), result.version, result.files, result.bytes)

    # -- the steps -----------------------------------------------------------------------------

    @classmethod
    def from_step_arguments(
        cls, container: str, folder: str, credentials: Any = None, **options: Any
    ) -> Self:
        """The folder a step's arguments name (those left ``None`` are not given).

        An option named like a field of the block sets it; the others go to
        :meth:`credentials_from_step_argument`.

        :raises CodeferryError: naming what does not fit, never a value.
        """
        fields: dict[str, Any] = {cls.container_field: container, cls.folder_field: folder}
        for name in [name for name in options if name in cls.model_fields]:
            fields[name] = options.pop(name)
        typed = cls.credentials_from_step_argument(credentials, options)
        if typed is not None and cls.credentials_field is not None:
            fields[cls.credentials_field] = typed
        try:
            return cls(**fields)
        except pydantic.ValidationError as error:
            raise CodeferryError(
                f"invalid {cls.block_type_slug}: {describe_validation_error(error)}"
            ) from None

    @classmethod
    def steps(cls) -> tuple[Callable[..., dict[str, Any]], Callable[..., dict[str, Any]]]:
        """The store's pull and push steps, with Prefect's arguments and outputs.

        Named as :attr:`store` declares (its ``steps``); the plugin's steps module holds them
        under those names (``pull_from_s3, push_to_s3 = S3Bucket.steps()``).

        - pull: ``(BUCKET, folder="", <Prefect's other arguments>, *, destination=None,
          replace=False, <step_options>)``; pulls into a checkout (parallel, incremental,
          atomic). Outputs: ``BUCKET``, ``folder``, ``directory``, ``version``, ``files``,
          ``bytes``, ``changed``, ``source``.
        - push: ``(BUCKET, folder="", <Prefect's other arguments>, ignore_file=".prefectignore",
          *, source=None, <step_options>)``; pushes the working folder (or ``source``). Outputs:
          ``BUCKET``, ``folder``, ``version``, ``files``, ``bytes``.
        """
        return _pull_step(cls), _push_step(cls)


def _parameters(cls: type[ObjectStoreFolder], *tail: inspect.Parameter) -> list[inspect.Parameter]:
    """Prefect's arguments (the bucket's required), then ``tail``, then the store's options."""
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    keyword = inspect.Parameter.KEYWORD_ONLY
    first, *rest = cls.step_arguments
    parameters = [inspect.Parameter(first, positional, annotation="str")]
    for name in rest:
        if name == "folder":
            parameters.append(inspect.Parameter(name, positional, default="", annotation="str"))
        else:
            parameters.append(inspect.Parameter(name, positional, default=None, annotation="Any"))
    parameters += tail
    parameters += [
        inspect.Parameter(name, keyword, default=None, annotation="Any")
        for name in cls.step_options
    ]
    return parameters


def _make_step(
    cls: type[ObjectStoreFolder],
    full_name: str,
    tail: tuple[inspect.Parameter, ...],
    run: Callable[[ObjectStoreFolder, dict[str, Any]], dict[str, Any]],
    doc: str,
) -> Callable[..., dict[str, Any]]:
    """A step function named ``full_name``: the folder made from its arguments, then ``run``.

    ``tail`` are the step's own arguments (``destination``...), which ``run`` reads; every other
    argument beyond the bucket, the folder and the credentials is an option of the store.
    """
    signature = inspect.Signature(_parameters(cls, *tail), return_annotation="dict[str, Any]")
    bucket = cls.step_arguments[0]
    not_options = {bucket, "folder", "credentials", *(parameter.name for parameter in tail)}

    def step(*args: Any, **kwargs: Any) -> dict[str, Any]:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        given = dict(bound.arguments)
        options = {
            name: value
            for name, value in given.items()
            if name not in not_options and value is not None
        }
        storage = cls.from_step_arguments(
            given[bucket], given["folder"], given.get("credentials"), **options
        )
        return {bucket: given[bucket], "folder": given["folder"], **run(storage, given)}

    module, _, name = full_name.rpartition(".")
    step.__name__ = step.__qualname__ = name
    step.__module__ = module
    step.__doc__ = doc
    step.__signature__ = signature  # type: ignore[attr-defined]
    return step


def _pull_step(cls: type[ObjectStoreFolder]) -> Callable[..., dict[str, Any]]:
    keyword = inspect.Parameter.KEYWORD_ONLY
    tail = (
        inspect.Parameter("destination", keyword, default=None, annotation="str | None"),
        inspect.Parameter("replace", keyword, default=False, annotation="bool"),
    )

    def run(storage: ObjectStoreFolder, given: dict[str, Any]) -> dict[str, Any]:
        return storage.pull_code(given["destination"], replace=given["replace"]).as_dict()

    bucket, title = cls.step_arguments[0], cls.store.title
    doc = (
        f"Pull the code in ``folder`` of the {title} {bucket} ``{bucket}`` into a checkout "
        "(parallel, incremental, atomic).\n\n"
        f"Outputs: ``{bucket}``, ``folder``, ``directory`` (where the code is), ``version``, "
        "and the ``files`` and ``bytes`` downloaded."
    )
    return _make_step(cls, cls.store.step_names()[0], tail, run, doc)


def _push_step(cls: type[ObjectStoreFolder]) -> Callable[..., dict[str, Any]]:
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    tail = (
        inspect.Parameter(
            "ignore_file", positional, default=".prefectignore", annotation="str | None"
        ),
        inspect.Parameter(
            "source", inspect.Parameter.KEYWORD_ONLY, default=None, annotation="str | None"
        ),
    )

    def run(storage: ObjectStoreFolder, given: dict[str, Any]) -> dict[str, Any]:
        source = Path(given["source"] or Path.cwd())
        result = storage.push_code(source, ignore_file=given["ignore_file"])
        return {"version": result.version, "files": result.files, "bytes": result.bytes}

    bucket, title = cls.step_arguments[0], cls.store.title
    doc = (
        f"Push the working folder (or ``source``) to ``folder`` of the {title} {bucket} "
        f"``{bucket}``: changed files only.\n\n"
        "Tooling folders (``.git``, ``__pycache__``, ``.venv``, ``.tox``...) are never pushed, "
        "nor what ``.codeferryignore`` or ``ignore_file`` list (gitignore syntax).\n\n"
        f"Outputs: ``{bucket}``, ``folder``, ``version``, and the ``files`` and ``bytes`` "
        "uploaded."
    )
    return _make_step(cls, cls.store.step_names()[1], tail, run, doc)
