"""Field values for ``codeferry block create``: from ``--json`` and ``--set``, to a valid block.

Secret values never come from the command line, where every user of the machine can read them
(``ps``, ``/proc/PID/cmdline``): a secret field takes ``@env:VAR``, ``@file:PATH``, a
``--json`` document, or a hidden prompt on a terminal. A field holding a list or dict of secrets
takes that text as JSON. Every secret read is remembered (:mod:`codeferry.secrets`), so no message
shows it. This module imports pydantic through the
block classes, so only commands that build blocks import it.
"""

from __future__ import annotations

import json
import os
import sys
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from codeferry.cli.assignments import (
    Assignment,
    AssignmentError,
    decode_value,
    nest_assignments,
    reference_of,
)
from codeferry.errors import BlockError, CodeferryError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from pydantic import BaseModel

    from codeferry.blocks import Block

__all__ = ["BlockInput", "missing_required_secrets", "read_json_document"]


class BlockInput:
    """Field values being gathered for one block type; the secret values read are remembered.

    :param block_type: the block class the values are for.
    """

    def __init__(self, block_type: type[Block]) -> None:
        self.block_type = block_type
        from codeferry.block_secrets import is_secret_typed

        self.secret_paths = block_type.secret_fields()
        # Secret fields holding a list or dict of secrets: their text is read as JSON.
        self._json_secrets = {p for p in self.secret_paths if not is_secret_typed(block_type, p)}
        self.secret_values: list[str] = []
        self.data: dict[str, Any] = {}

    def gather(self, document: dict[str, Any] | None, assignments: Sequence[Assignment]) -> None:
        """Start from ``document`` (``--json``) and apply each ``--set`` on top of it.

        :raises CodeferryError: a secret is given literally, or a reference cannot be read.
        """
        if document:
            self._remember_secrets_in(document, ())
        values = [(item.path, self._value_of(item)) for item in assignments]
        self.data = nest_assignments(values, document)

    def missing_secrets(self) -> list[str]:
        """The required secret fields still without a value."""
        return missing_required_secrets(self.block_type, self.data)

    def prompt_for(self, paths: Sequence[str], ask: Callable[[str], str]) -> None:
        """Ask for each secret in ``paths`` with ``ask`` (which must not echo what is typed)."""
        for path in paths:
            value = ask(path)
            self._remember(value)
            _put(self.data, path.split("."), self._decoded(path, value))

    def build(self) -> Block:
        """The validated block.

        :raises BlockError: naming each field that does not fit, never the values given.
        """
        import pydantic

        from codeferry.blocks import describe_validation_error

        try:
            return self.block_type.model_validate(self.data)
        except pydantic.ValidationError as error:
            raise BlockError(
                f"the values do not fit the block type {self.block_type.block_type_slug}: "
                f"{describe_validation_error(error)}"
            ) from None

    # -- one --set ---------------------------------------------------------------------------

    def _value_of(self, item: Assignment) -> Any:
        reference = reference_of(item.text)
        secrets_here = self._secrets_at_or_under(item.dotted)
        if reference is None:
            value = decode_value(item.text)
            if item.dotted in self.secret_paths or (
                secrets_here and _holds_any(value, item.dotted, secrets_here)
            ):
                raise AssignmentError(
                    f"--set {item.dotted}: secret values are not taken from the command line, "
                    "where other users can read them; use "
                    f"{item.dotted}=@env:VARIABLE or {item.dotted}=@file:PATH, or leave it out "
                    "to be asked for it"
                )
            return value
        kind, target = reference
        if kind == "block":
            from codeferry.blocks import load_block

            return load_block(target)
        text = _read_env(item.dotted, target) if kind == "env" else _read_file(item.dotted, target)
        if secrets_here:
            self._remember(text)
        return self._decoded(item.dotted, text)

    def _decoded(self, dotted: str, text: str) -> Any:
        """``text`` as JSON for a field holding a list or dict of secrets; else as it is."""
        if dotted not in self._json_secrets:
            return text
        try:
            return json.loads(text)
        except ValueError:
            raise CodeferryError(
                f"--set {dotted}: the field holds a list or dict of secrets; give it as JSON"
            ) from None

    def _remember(self, value: Any) -> None:
        from codeferry.secrets import remember

        remember(value)
        if isinstance(value, str):
            self.secret_values.append(value)

    def _secrets_at_or_under(self, dotted: str) -> list[str]:
        return [p for p in self.secret_paths if p == dotted or p.startswith(dotted + ".")]

    def _remember_secrets_in(self, document: dict[str, Any], prefix: tuple[str, ...]) -> None:
        for key, value in document.items():
            dotted = ".".join((*prefix, key))
            if dotted in self.secret_paths:
                self._remember(value)
            elif isinstance(value, dict):
                self._remember_secrets_in(value, (*prefix, key))


def read_json_document(source: str) -> dict[str, Any]:
    """The JSON object in the file ``source`` (``-``: standard input).

    :raises CodeferryError: the file cannot be read, is not JSON, or is not an object.
    """
    where = "standard input" if source == "-" else source
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CodeferryError(f"--json {where}: cannot read it: {_reason(error)}") from None
    try:
        document = json.loads(text)
    except ValueError as error:
        # The position, not the text: the document may hold secrets.
        line = getattr(error, "lineno", "?")
        raise CodeferryError(f"--json {where}: not valid JSON (line {line})") from None
    if not isinstance(document, dict):
        raise CodeferryError(f"--json {where}: expected a JSON object of field values")
    return document


def missing_required_secrets(block_type: type[BaseModel], data: dict[str, Any]) -> list[str]:
    """Secret fields that must have a value and have none in ``data``.

    A secret inside a nested block counts when that block is required or given as an object.
    """
    from codeferry.blocks import Block

    missing = []
    for path in block_type.secret_fields() if issubclass(block_type, Block) else []:
        model: type[BaseModel] | None = block_type
        node: Any = data
        parts = path.split(".")
        for index, part in enumerate(parts):
            field = model.model_fields.get(part) if model is not None else None
            if field is None:
                break
            present = isinstance(node, dict) and part in node
            if index == len(parts) - 1:
                if not present and field.is_required():
                    missing.append(path)
                break
            if present:
                node = node[part]
                if not isinstance(node, dict):
                    break  # a loaded block or a value pydantic will judge
            elif field.is_required():
                node = {}
            else:
                break
            model = _model_holding(field.annotation, parts[index + 1])
    return missing


def _model_holding(annotation: Any, field_name: str) -> type[BaseModel] | None:
    """The model type in ``annotation`` (through Optional and unions) with ``field_name``."""
    from pydantic import BaseModel

    stack = [annotation]
    while stack:
        current = stack.pop()
        if isinstance(current, type) and issubclass(current, BaseModel):
            if field_name in current.model_fields:
                return current
        else:
            stack.extend(typing.get_args(current))
    return None


def _holds_any(value: Any, dotted: str, secret_paths: list[str]) -> bool:
    """Whether ``value``, set at ``dotted``, gives a value for one of ``secret_paths``."""
    for path in secret_paths:
        node = value
        for part in path[len(dotted) + 1 :].split("."):
            if not isinstance(node, dict) or part not in node:
                break
            node = node[part]
        else:
            return True
    return False


def _put(data: dict[str, Any], parts: list[str], value: Any) -> None:
    for part in parts[:-1]:
        child = data.get(part)
        if not isinstance(child, dict):
            child = data[part] = {}
        data = child
    data[parts[-1]] = value


def _read_env(dotted: str, variable: str) -> str:
    if not variable:
        raise AssignmentError(f"--set {dotted}=@env: needs a variable name: @env:VARIABLE")
    value = os.environ.get(variable)
    if value is None:
        raise CodeferryError(f"--set {dotted}: the environment variable {variable} is not set")
    return value


def _read_file(dotted: str, path: str) -> str:
    """The file's text; a single line loses its line ending (``echo TOKEN > file`` adds one)."""
    if not path:
        raise AssignmentError(f"--set {dotted}=@file: needs a path: @file:PATH")
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CodeferryError(f"--set {dotted}: cannot read {path}: {_reason(error)}") from None
    body = text.removesuffix("\n").removesuffix("\r")
    return body if "\n" not in body else text


def _reason(error: Exception) -> str:
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8 text"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return type(error).__name__
