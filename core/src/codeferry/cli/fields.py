"""A block type's fields as people read them: ``codeferry block type inspect``.

Fields of nested models are listed with dotted paths (``credentials.token``), the form
``codeferry block create --set`` takes.
"""

from __future__ import annotations

import json
import re
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from codeferry.secrets import MASK

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

    from codeferry.blocks import Block

__all__ = ["FieldDescription", "describe_fields", "type_name"]

_QUALIFIED = re.compile(r"\b(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*)")
_MAX_DEPTH = 4  # nested models deeper than this are shown by type name only


@dataclass(frozen=True)
class FieldDescription:
    """One field: dotted path, type, whether it is secret, required or its default, help."""

    path: str
    type: str
    secret: bool
    default: str
    description: str


def describe_fields(block_type: type[Block]) -> list[FieldDescription]:
    """Every field of ``block_type``, nested models' fields after the field holding them."""
    secrets = set(block_type.secret_fields())
    found: list[FieldDescription] = []
    _walk(block_type, "", secrets, found, depth=0)
    return found


def type_name(annotation: Any) -> str:
    """``annotation`` without module prefixes: ``str | None``, ``Secret[dict[str, Any]]``."""
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return annotation.__name__
    text = str(annotation).replace("typing.", "").replace("NoneType", "None")
    text = re.sub(r"Optional\[(.*)\]$", r"\1 | None", text)
    return _QUALIFIED.sub(r"\1", text)


def _walk(
    model: type[BaseModel],
    prefix: str,
    secrets: set[str],
    found: list[FieldDescription],
    depth: int,
) -> None:
    for name, info in model.model_fields.items():
        path = prefix + name
        secret = path in secrets
        found.append(
            FieldDescription(
                path=path,
                type=type_name(info.annotation),
                secret=secret,
                default=_default_text(info, secret),
                description=" ".join((info.description or "").split()),
            )
        )
        nested = _nested_model(info.annotation)
        if nested is not None and depth < _MAX_DEPTH:
            _walk(nested, path + ".", secrets, found, depth + 1)


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The one model type an annotation holds (through Optional and unions), if exactly one."""
    models = []
    stack = [annotation]
    while stack:
        current = stack.pop()
        if isinstance(current, type) and issubclass(current, BaseModel):
            models.append(current)
        else:
            stack.extend(typing.get_args(current))
    return models[0] if len(models) == 1 else None


def _default_text(info: FieldInfo, secret: bool) -> str:
    if info.is_required():
        return "required"
    if info.default_factory is not None:
        return "default: computed"
    return f"default: {_value_text(info.default, secret)}"


def _value_text(value: Any, secret: bool) -> str:
    if value is None:
        return "none"
    if secret:
        return MASK
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
