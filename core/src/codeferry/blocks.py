"""Blocks: typed, named, reusable configuration (credentials, buckets, repositories).

A block type is a :class:`Block` subclass (a pydantic model). Fields typed ``SecretStr``,
``SecretBytes`` or ``pydantic.Secret[...]`` are secret: masked in ``repr`` and listings, encrypted
at rest, and remembered by :mod:`codeferry.secrets` as soon as a block holds them, so they are
masked in everything codeferry shows. Lists, tuples, sets and dicts of secrets (``list[SecretStr]``,
``dict[str, SecretStr]``, nested, optional, or of models holding secrets) are secret as a whole:
the field is encrypted at rest. A field may hold another block; a nested block that was saved by
name is stored as a reference to it, so rotating a credential block updates every block that uses
it::

    class AwsCredentials(Block):
        aws_access_key_id: str
        aws_secret_access_key: SecretStr

    AwsCredentials(aws_access_key_id="AKIA...", aws_secret_access_key="...").save("prod")
    creds = AwsCredentials.load("prod")
"""

from __future__ import annotations

import base64
import copy
import hashlib
import importlib
import importlib.util
import inspect
import json
import re
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

import pydantic
from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator

from codeferry.block_secrets import (
    BYTES_KEY,
    SECRET_TYPES,
    check_secret_fields,
    decode_bytes,
    field_types,
    holds_secret_value,
    is_secret_typed,
    revealed,
    secret_paths,
    secret_value,
)
from codeferry.errors import (
    BlockError,
    BlockNotFoundError,
    BlockSchemaError,
    BlockTypeNotFoundError,
    CodeferryError,
)
from codeferry.known_plugins import distribution_for_block_type

if TYPE_CHECKING:
    from codeferry.store import BlockDocument, BlockStore

__all__ = [
    "Block",
    "RegisteredBlockType",
    "Secret",
    "block_types",
    "check_secret_fields",
    "describe_validation_error",
    "display_name",
    "get_block_type",
    "load_block",
    "parse_block_reference",
    "register_block_types_from",
]

_REF_KEY = "$ref"
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
# Display names split a word from the next, and an acronym of two capitals or more from a word
# after it (AWSCredentials), never inside a word that mixes cases (OAuthToken, IPv6Address).
_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z]{2})(?=[A-Z][a-z])")


def _kebab(name: str) -> str:
    # Slugs name saved blocks: their rule never changes.
    return _CAMEL_BOUNDARY.sub("-", name).lower()


def describe_validation_error(error: pydantic.ValidationError) -> str:
    """What is wrong, field by field (``field 'a.b': message; ...``), never the values given.

    The one way every message about input that does not fit a block or a step's argument is
    written: the values may be secrets, so they are never quoted.
    """
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        message = item["msg"].removeprefix("Value error, ")
        where = ".".join(str(part) for part in item["loc"])
        problems.append(f"field '{where}': {message}" if where else message)
    return "; ".join(problems)


def display_name(class_name: str) -> str:
    """The display name a block class gets without a ``block_type_name``: its words spaced.

    ``AWSCredentials`` → ``AWS Credentials``, ``OAuthToken`` → ``OAuth Token``. A word that is
    itself two words in capitals (``GitHub``) cannot be told from two words (``GitHub`` →
    ``Git Hub``): such a class sets its ``block_type_name``.
    """
    return _WORD_BOUNDARY.sub(" ", class_name)


class Block(BaseModel):
    """Base class of block types.

    Class attributes a subclass may set:

    ``block_type_slug``
        The type's unique name, lowercase with dashes (default: the class name, ``S3Bucket`` →
        ``s3-bucket``).
    ``block_type_name``
        The display name, as people spell it (``"GitHub Credentials"``, ``"SSH Key"``). Set it:
        the default spaces the class name's words (:func:`display_name`), which cannot know
        that ``GitHub`` is one word or that ``Ssh`` is an acronym. Every block type codeferry
        ships sets it.
    """

    # defer_build: a block type's validator is built when first used, not when its plugin is
    # imported (listing block types imports every plugin's blocks). hide_input_in_errors: a
    # validation error never quotes the values given, which may be secrets.
    model_config = ConfigDict(
        extra="forbid", validate_assignment=True, defer_build=True, hide_input_in_errors=True
    )

    block_type_slug: ClassVar[str] = "block"
    block_type_name: ClassVar[str] = "Block"

    _block_name: str | None = PrivateAttr(default=None)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "block_type_slug" not in cls.__dict__:
            cls.block_type_slug = _kebab(cls.__name__)
        if "block_type_name" not in cls.__dict__:
            cls.block_type_name = display_name(cls.__name__)

    @model_validator(mode="after")
    def _remember_secrets(self) -> Self:
        # However a block is made (validated, loaded, assigned to), its secrets are known at once.
        from codeferry.secrets import remember

        remember(self)
        return self

    def __repr__(self) -> str:
        from codeferry.secrets import mask

        return mask(super().__repr__())

    def __str__(self) -> str:
        from codeferry.secrets import mask

        return mask(super().__str__())

    @property
    def block_name(self) -> str | None:
        """The name this block was saved or loaded under, if any."""
        return self._block_name

    # -- schema --------------------------------------------------------------------------------

    @classmethod
    def secret_fields(cls) -> list[str]:
        """Dotted paths of the secret fields, nested blocks included (``credentials.token``).

        A list, tuple, set or dict holding secrets is one secret field (``tokens``).
        """
        return secret_paths(cls)

    @classmethod
    def block_schema(cls) -> dict[str, Any]:
        """The JSON schema of the block type, with its slug and secret fields."""
        schema = cls.model_json_schema()
        schema["block_type_slug"] = cls.block_type_slug
        schema["secret_fields"] = cls.secret_fields()
        return schema

    @classmethod
    def schema_checksum(cls) -> str:
        """``sha256:<hex>`` of the canonical schema: changes exactly when the schema does."""
        canonical = json.dumps(cls.block_schema(), sort_keys=True, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()

    @classmethod
    def description(cls) -> str:
        """The first paragraph of the class's own docstring (not one inherited from a base)."""
        own = cls.__dict__.get("__doc__")
        doc = inspect.cleandoc(own) if isinstance(own, str) else ""
        return doc.split("\n\n", 1)[0].replace("\n", " ").strip()

    # -- saving and loading --------------------------------------------------------------------

    def save(self, name: str, *, overwrite: bool = False, store: BlockStore | None = None) -> None:
        """Save this block under ``name``; an existing one is replaced only with ``overwrite``."""
        from codeferry.store import BlockDocument, get_store

        _check_name(name)
        store = store or get_store()
        public, secrets = _split(self)
        document = BlockDocument(
            block_type_slug=self.block_type_slug,
            name=name,
            data=public,
            secrets=secrets,
            schema_checksum=self.schema_checksum(),
        )
        store.save_document(document, overwrite=overwrite)
        self._block_name = name

    @classmethod
    def load(cls, name: str, *, store: BlockStore | None = None) -> Self:
        """Load the block saved under ``name`` as an instance of its type.

        On :class:`Block` itself, ``name`` is ``"slug/name"`` and the type is looked up.

        :raises BlockNotFoundError: nothing is saved under that name.
        :raises BlockSchemaError: the saved document no longer fits the type, naming the field.
        """
        from codeferry.store import get_store

        store = store or get_store()
        block_type: type[Block] = cls
        if cls is Block:
            slug, name = parse_block_reference(name)
            block_type = get_block_type(slug, store=store)
        document = store.get_document(block_type.block_type_slug, name)
        return _build(block_type, document, store)  # type: ignore[return-value]

    @classmethod
    def delete(cls, name: str, *, store: BlockStore | None = None) -> None:
        """Delete the block saved under ``name``.

        :raises BlockNotFoundError: nothing is saved under that name.
        """
        from codeferry.store import get_store

        (store or get_store()).delete_document(cls.block_type_slug, name)

    @classmethod
    def names(cls, *, store: BlockStore | None = None) -> list[str]:
        """The names of the saved blocks of this type, sorted."""
        from codeferry.store import get_store

        documents = (store or get_store()).list_documents(cls.block_type_slug)
        return sorted(document.name for document in documents)

    @classmethod
    def from_step_argument(cls, value: Self | Mapping[str, Any] | None) -> Self | None:
        """This block type from what a deployment-file step was given for it.

        A block of this type is returned as it is, and ``None`` (nothing given) as ``None``. A
        mapping is what ``prefect.yaml`` passes (a ``{{ prefect.blocks.SLUG.NAME }}`` reference
        resolved by Prefect lists every field, unset ones as ``None``): its ``None`` entries,
        nested ones too, are left out and the rest validated.

        :raises CodeferryError: naming each field that does not fit, never the values.
        """
        if value is None or isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise CodeferryError(
                f"credentials must be a mapping or a {cls.block_type_slug} block, "
                f"not {type(value).__name__}"
            )
        try:
            return cls.model_validate(_without_unset(value))
        except pydantic.ValidationError as error:
            raise CodeferryError(
                f"invalid {cls.block_type_slug}: {describe_validation_error(error)}"
            ) from None

    def public_dict(self, *, show_secrets: bool = False) -> dict[str, Any]:
        """The fields as JSON-ready values, secrets masked unless ``show_secrets``."""
        if not show_secrets:
            return self.model_dump(mode="json")
        return _reveal(self)


class Secret(Block):
    """A secret value, such as a token or a password.

    Templates give its value: ``{{ blocks.secret.NAME }}``.
    """

    block_type_slug: ClassVar[str] = "secret"
    block_type_name: ClassVar[str] = "Secret"
    value: pydantic.Secret[str | dict[str, Any] | list[Any]]

    def get(self) -> str | dict[str, Any] | list[Any]:
        """The secret value: a string, or a JSON object or array."""
        return self.value.get_secret_value()


# -- type lookup -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisteredBlockType:
    """A block type known to this process: from a plugin, or registered from a module."""

    slug: str
    block_type: type[Block]
    source: str  # the plugin's distribution, or the module it was registered from


def parse_block_reference(reference: str) -> tuple[str, str]:
    """Split ``"slug/name"``.

    :raises BlockError: when the reference is not of that form.
    """
    slug, sep, name = reference.partition("/")
    if not sep or not slug or not name:
        raise BlockError(f"block reference {reference!r} is not of the form SLUG/NAME")
    return slug, name


def block_types(*, store: BlockStore | None = None) -> dict[str, RegisteredBlockType]:
    """Every block type known: installed plugins' first, then those registered from modules.

    Registered types whose module no longer imports are left out.
    """
    from codeferry.plugins import get_plugins

    found = {
        slug: RegisteredBlockType(slug, entry.block_type, entry.distribution)
        for slug, entry in get_plugins().block_types.items()
    }
    if store is None:
        from codeferry.store import get_store

        store = get_store()
    for record in store.list_block_types():
        if record.slug in found or not record.module:
            continue
        try:
            block_type = _import_block_type(record.module)
        except BlockError:
            continue
        found[record.slug] = RegisteredBlockType(record.slug, block_type, record.module)
    return found


def get_block_type(slug: str, *, store: BlockStore | None = None) -> type[Block]:
    """The block class for ``slug``.

    :raises BlockTypeNotFoundError: naming the distribution to install when it is known.
    """
    from codeferry.plugins import get_plugins

    plugins = get_plugins()
    entry = plugins.block_types.get(slug)
    if entry is not None:
        return entry.block_type
    if store is None:
        from codeferry.store import get_store

        store = get_store()
    record = store.get_block_type(slug)
    if record is not None and record.module:
        return _import_block_type(record.module)
    raise plugins.missing(
        BlockTypeNotFoundError,
        f"no block type {slug!r} is known",
        distribution_for_block_type(slug),
    )


def load_block(reference: str, *, store: BlockStore | None = None) -> Block:
    """Load ``"slug/name"`` as its typed block."""
    return Block.load(reference, store=store)


def register_block_types_from(
    module: str | Path, *, store: BlockStore | None = None
) -> list[tuple[type[Block], str]]:
    """Register every block type ``module`` *defines* (not those it imports).

    ``module`` is a dotted module name or a path to a ``.py`` file.

    :returns: each type with ``"new"``, ``"updated"`` (schema changed) or ``"unchanged"``.
    :raises BlockError: when the module cannot be imported or defines no block type.
    """
    from codeferry.store import BlockTypeRecord, get_store

    loaded, reference = _import_module(module, fresh=True)
    defined = [
        obj
        for obj in vars(loaded).values()
        if isinstance(obj, type)
        and issubclass(obj, Block)
        and obj.__module__ == loaded.__name__
        and obj is not Block
    ]
    if not defined:
        raise BlockError(f"{module} defines no block types")
    for block_type in defined:
        check_secret_fields(block_type)
    store = store or get_store()
    results: list[tuple[type[Block], str]] = []
    for block_type in defined:
        record = BlockTypeRecord(
            slug=block_type.block_type_slug,
            name=block_type.block_type_name,
            description=block_type.description(),
            schema=block_type.block_schema(),
            checksum=block_type.schema_checksum(),
            module=f"{reference}:{block_type.__qualname__}",
        )
        results.append((block_type, store.save_block_type(record)))
    return results


def _import_module(module: str | Path, *, fresh: bool = False) -> tuple[types.ModuleType, str]:
    """Import a dotted module, or a ``.py`` file under a name derived from its path.

    ``fresh`` runs a file again even if it was imported before (registering reads the file as it
    is now); a file that fails to run is not left behind half-imported.
    """
    text = str(module)
    try:
        if text.endswith(".py") or Path(text).is_file():
            from codeferry.code_files import import_file, module_name

            path = Path(text).resolve()
            name = module_name("codeferry_registered", path)
            if name in sys.modules and not fresh:
                return sys.modules[name], str(path)
            loaded = import_file("codeferry_registered", path)
            if loaded is None:
                raise BlockError(f"cannot import {path}")
            return loaded, str(path)
        return importlib.import_module(text), text
    except BlockError:
        raise
    except Exception as error:
        first = (str(error).splitlines() or [""])[0]
        raise BlockError(f"cannot import {text}: {type(error).__name__}: {first}") from error


def _import_block_type(reference: str) -> type[Block]:
    module, _, qualname = reference.rpartition(":")
    loaded, _ = _import_module(module)
    obj: Any = loaded
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    if not (isinstance(obj, type) and issubclass(obj, Block)):
        raise BlockError(f"{reference} is no longer a block type")
    return obj


def _check_name(name: str) -> None:
    if not name or "/" in name or name.strip() != name:
        raise BlockError(f"block name {name!r} must be non-empty, without '/' or outer spaces")


# -- splitting secrets from the rest, and joining them back --------------------------------------


def _split(model: BaseModel) -> tuple[dict[str, Any], dict[str, Any]]:
    """The model as (public JSON data, {dotted path: secret value}); saved nested blocks as refs.

    A list, dict... holding secrets is one secret, under its field's path, whole.
    """
    secrets: dict[str, Any] = {}

    def walk(current: BaseModel, prefix: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in type(current).model_fields:
            value = getattr(current, name)
            path = prefix + name
            if isinstance(value, SECRET_TYPES):
                secrets[path] = secret_value(value)
            elif isinstance(value, Block) and value.block_name and value is not model:
                out[name] = {_REF_KEY: {"slug": value.block_type_slug, "name": value.block_name}}
            elif isinstance(value, BaseModel):
                out[name] = walk(value, path + ".")
            elif holds_secret_value(value):
                secrets[path] = revealed(value)
            else:
                out[name] = pydantic.TypeAdapter(Any).dump_python(value, mode="json")
        return out

    return walk(model, ""), secrets


def _build(block_type: type[Block], document: BlockDocument, store: BlockStore) -> Block:
    data = copy.deepcopy(document.data)
    for path, value in document.secrets.items():
        *parents, leaf = path.split(".")
        target = data
        for part in parents:
            target = target.setdefault(part, {})
        if is_secret_typed(block_type, path):
            is_bytes = isinstance(value, dict) and set(value) == {BYTES_KEY}
            target[leaf] = base64.b64decode(value[BYTES_KEY]) if is_bytes else value
        else:  # a list or dict of secrets, stored whole
            target[leaf] = decode_bytes(value)
    data = _resolve_refs(data, store, block_type)
    try:
        block = block_type.model_validate(data)
    except pydantic.ValidationError as error:
        problems = describe_validation_error(error)
        saved_under = document.schema_checksum
        note = (
            f" (saved under an older schema {saved_under[:19]})"
            if saved_under and saved_under != block_type.schema_checksum()
            else ""
        )
        raise BlockSchemaError(
            f"block {document.block_type_slug}/{document.name} does not fit its type{note}: "
            f"{problems}"
        ) from None
    block._block_name = document.name  # noqa: SLF001 - the loader names the block it made
    return block


def _resolve_refs(data: Any, store: BlockStore, annotation: Any) -> Any:
    """``data`` with each saved-block reference replaced by the loaded block.

    ``annotation`` is the type expected where ``data`` sits: a reference is loaded as the block
    class the field names when its slug matches, so nested types need not be registered anywhere.
    """
    if isinstance(data, dict):
        if set(data) == {_REF_KEY}:
            ref = data[_REF_KEY]
            return _load_reference(ref["slug"], ref["name"], store, annotation)
        models = [
            tp
            for tp in field_types(annotation)
            if isinstance(tp, type) and issubclass(tp, BaseModel)
        ]
        fields = models[0].model_fields if len(models) == 1 else {}
        return {
            key: _resolve_refs(value, store, fields[key].annotation if key in fields else None)
            for key, value in data.items()
        }
    return data


def _load_reference(slug: str, name: str, store: BlockStore, annotation: Any) -> Block:
    declared = [
        tp
        for tp in field_types(annotation)
        if isinstance(tp, type) and issubclass(tp, Block) and tp.block_type_slug == slug
    ]
    try:
        if declared:
            return declared[0].load(name, store=store)
        return Block.load(f"{slug}/{name}", store=store)
    except BlockNotFoundError:
        raise BlockNotFoundError(
            f"block {slug}/{name} is used by another block but was deleted"
        ) from None


def _without_unset(value: Mapping[str, Any]) -> dict[str, Any]:
    """``value`` without ``None`` entries, nested ones too, nor mappings left empty by that."""
    fields: dict[str, Any] = {}
    for key, item in value.items():
        kept = _without_unset(item) if isinstance(item, Mapping) else item
        if kept is not None and kept != {}:
            fields[key] = kept
    return fields


def _reveal(model: BaseModel) -> dict[str, Any]:
    shown: dict[str, Any] = revealed(model)
    return shown
