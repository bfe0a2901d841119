"""Where a block type keeps its secrets, and how they are taken out for storing and put back.

A secret is a value of a pydantic secret type (``SecretStr``, ``SecretBytes``,
``pydantic.Secret[...]``). A field typed as one is a secret field; so is a field whose list,
tuple, set or dict (as values, nested, optional, or of models) holds secrets: that field is
stored whole among the block's encrypted secrets. Shapes that could not be stored and loaded
back (secrets as dict keys, a secret inside a secret, secrets inside a dataclass or another
generic class) are refused when the block type is registered, by :func:`check_secret_fields`.
"""

from __future__ import annotations

import base64
import dataclasses
import types
import typing
from collections import abc
from typing import Any

import pydantic
from pydantic import BaseModel, SecretBytes, SecretStr

from codeferry.errors import BlockError

__all__ = [
    "BYTES_KEY",
    "SECRET_TYPES",
    "check_secret_fields",
    "decode_bytes",
    "field_types",
    "holds_secret_value",
    "is_secret_type",
    "is_secret_typed",
    "revealed",
    "secret_paths",
    "secret_value",
]

SECRET_TYPES = (SecretStr, SecretBytes, pydantic.Secret)
BYTES_KEY = "$bytes"
_CONTAINERS = (list, tuple, set, frozenset, dict)


def field_types(annotation: Any) -> list[Any]:
    """Every concrete type mentioned by an annotation (through Optional, unions, Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return field_types(typing.get_args(annotation)[0])
    if origin in {typing.Union, types.UnionType}:
        return [t for arg in typing.get_args(annotation) for t in field_types(arg)]
    return [annotation]


def is_secret_type(tp: Any) -> bool:
    """Whether ``tp`` is one of pydantic's secret types."""
    base = typing.get_origin(tp) or tp
    return isinstance(base, type) and issubclass(base, SECRET_TYPES)


def _container(tp: Any) -> type | None:
    """``list`` for ``list[X]`` (and ``Sequence[X]``, tuples, sets), ``dict`` for mappings."""
    origin = typing.get_origin(tp) or tp
    if not isinstance(origin, type):
        return None
    if issubclass(origin, _CONTAINERS):
        return dict if issubclass(origin, dict) else list
    if issubclass(origin, abc.Mapping):
        return dict
    if issubclass(origin, abc.Collection) and not issubclass(origin, str | bytes):
        return list
    return None


def _arguments(tp: Any) -> list[Any]:
    return [arg for arg in typing.get_args(tp) if arg is not Ellipsis]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _holds_secret(tp: Any, seen: tuple[type, ...] = ()) -> bool:
    """Whether a value of type ``tp`` can hold a secret: itself, its items, its models' fields."""
    for each in field_types(tp):
        if is_secret_type(each):
            return True
        if _is_model(each):
            if each not in seen and any(
                _holds_secret(info.annotation, (*seen, each)) for info in each.model_fields.values()
            ):
                return True
        elif _container(each) is not None and any(_holds_secret(a, seen) for a in _arguments(each)):
            return True
    return False


def secret_paths(
    model: type[BaseModel], prefix: str = "", seen: tuple[type, ...] = ()
) -> list[str]:
    """Dotted paths of the secret fields of ``model``, nested models' included."""
    paths: list[str] = []
    for name, info in model.model_fields.items():
        for tp in field_types(info.annotation):
            if is_secret_type(tp) or (
                _container(tp) is not None and _holds_secret(tp, (*seen, model))
            ):
                paths.append(prefix + name)
            elif _is_model(tp) and tp not in seen:
                paths.extend(secret_paths(tp, f"{prefix}{name}.", (*seen, model)))
    return sorted(set(paths))


def is_secret_typed(model: type[BaseModel], path: str) -> bool:
    """Whether the field at dotted ``path`` is typed as a secret itself (not a list of them).

    A field no longer in the type counts as one: its saved value is kept as it was.
    """
    current: type[BaseModel] | None = model
    annotation: Any = None
    for part in path.split("."):
        info = current.model_fields.get(part) if current is not None else None
        if info is None:
            return True
        annotation = info.annotation
        models = [tp for tp in field_types(annotation) if _is_model(tp)]
        current = models[0] if len(models) == 1 else None
    return any(is_secret_type(tp) for tp in field_types(annotation))


# -- shapes that cannot be stored ----------------------------------------------------------------


def check_secret_fields(block_type: type[BaseModel]) -> None:
    """Refuse a block type whose secrets could not be saved and loaded back.

    Secrets are supported as fields, in nested models, and as the items of lists, tuples, sets
    and dicts of those, however nested; not as dict keys, inside another secret, or inside a
    dataclass or another generic class.

    :raises BlockError: naming the field and what to write instead.
    """
    slug = getattr(block_type, "block_type_slug", block_type.__name__)
    for path, tp in _annotations(block_type, "", ()):
        problem = _problem(tp)
        if problem is not None:
            raise BlockError(f"block type {slug}: field {path} {problem}")


def _annotations(
    model: type[BaseModel], prefix: str, seen: tuple[type, ...]
) -> typing.Iterator[tuple[str, Any]]:
    """(dotted path, annotation) of every field, nested models' (also in containers) included."""
    for name, info in model.model_fields.items():
        path = prefix + name
        yield path, info.annotation
        for nested in _models_in(info.annotation):
            if nested not in seen and nested is not model:
                yield from _annotations(nested, path + ".", (*seen, model))


def _models_in(tp: Any) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    for each in field_types(tp):
        if _is_model(each):
            found.append(each)
        elif _container(each) is not None:
            for arg in _arguments(each):
                found.extend(_models_in(arg))
    return found


def _problem(tp: Any) -> str | None:
    """Why a field of type ``tp`` cannot hold its secrets, or ``None`` when it can."""
    for each in field_types(tp):
        arguments = _arguments(each)
        if is_secret_type(each):
            if any(_holds_secret(arg) for arg in arguments):
                return "holds a secret inside a secret; use one secret type"
        elif _container(each) is dict and arguments and _holds_secret(arguments[0]):
            return "has secrets as dict keys, which cannot be stored; make the values secret"
        elif _container(each) is not None:
            inner = [problem for arg in arguments if (problem := _problem(arg)) is not None]
            if inner:
                return inner[0]
        elif not _is_model(each) and any(_holds_secret(arg) for arg in arguments):
            return (
                f"holds secrets inside {_name(each)}, which cannot be stored; "
                "use a list, a dict or a pydantic model of them"
            )
        elif _dataclass_holds_secret(each):
            return (
                f"holds secrets inside the dataclass {_name(each)}, which cannot be stored; "
                "make it a pydantic model"
            )
    return None


def _dataclass_holds_secret(tp: Any) -> bool:
    if not (isinstance(tp, type) and dataclasses.is_dataclass(tp)):
        return False
    return any(_holds_secret(hint) for hint in typing.get_type_hints(tp).values())


def _name(tp: Any) -> str:
    origin = typing.get_origin(tp) or tp
    return str(getattr(origin, "__name__", origin))


# -- values --------------------------------------------------------------------------------------


def secret_value(value: Any) -> Any:
    """The value of a secret as JSON data (bytes as ``{"$bytes": base64}``)."""
    raw = value.get_secret_value()
    return {BYTES_KEY: base64.b64encode(raw).decode()} if isinstance(raw, bytes) else raw


def holds_secret_value(value: Any) -> bool:
    """Whether ``value`` (a list, a dict, a model...) has a secret anywhere inside."""
    if isinstance(value, SECRET_TYPES):
        return True
    if isinstance(value, BaseModel):
        return any(holds_secret_value(getattr(value, name)) for name in type(value).model_fields)
    if isinstance(value, dict):
        return any(holds_secret_value(item) for item in value.values())
    if isinstance(value, list | tuple | set | frozenset):
        return any(holds_secret_value(item) for item in value)
    return False


def revealed(value: Any) -> Any:
    """``value`` as JSON data with every secret in it shown (bytes as ``{"$bytes": base64}``)."""
    if isinstance(value, SECRET_TYPES):
        return secret_value(value)
    if isinstance(value, BaseModel):
        return {name: revealed(getattr(value, name)) for name in type(value).model_fields}
    if isinstance(value, dict):
        return {key: revealed(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [revealed(item) for item in value]
    return pydantic.TypeAdapter(Any).dump_python(value, mode="json")


def decode_bytes(value: Any) -> Any:
    """``value`` with every ``{"$bytes": base64}`` in it made bytes again."""
    if isinstance(value, dict):
        if set(value) == {BYTES_KEY} and isinstance(value[BYTES_KEY], str):
            return base64.b64decode(value[BYTES_KEY])
        return {key: decode_bytes(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_bytes(item) for item in value]
    return value
