"""``--set FIELD=VALUE`` assignments: parsing them and nesting them into a block's field values.

Pure functions on text, so the rules are easy to read and to test::

    credentials.token=@env:TOKEN   -> path ("credentials", "token"), a reference to $TOKEN
    tags=["a", "b"]                -> path ("tags",), the JSON array
    port=8080                      -> path ("port",), the text "8080" (pydantic makes it an int)

Only JSON objects and arrays are decoded here: every other value stays text, so a string field
keeps ``"8080"`` as typed, and pydantic converts text to numbers and booleans where the field wants
one. Error messages quote field paths, never values (a value may be a secret typed by mistake).
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codeferry.errors import CodeferryError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = [
    "REFERENCE_PREFIXES",
    "Assignment",
    "AssignmentError",
    "decode_value",
    "nest_assignments",
    "parse_assignment",
    "reference_of",
]

# Values that name where the real value is, instead of being it.
REFERENCE_PREFIXES = ("@env:", "@file:", "@block:")

_SEGMENT = r"[A-Za-z_][A-Za-z0-9_-]*"
_PATH = re.compile(rf"^{_SEGMENT}(?:\.{_SEGMENT})*$")


class AssignmentError(CodeferryError, ValueError):
    """A ``--set`` assignment is malformed or clashes with another one."""


@dataclass(frozen=True)
class Assignment:
    """One ``--set``: the dotted field path and the value text after the first ``=``."""

    path: tuple[str, ...]
    text: str

    @property
    def dotted(self) -> str:
        """The field path as written: ``credentials.token``."""
        return ".".join(self.path)


def parse_assignment(text: str) -> Assignment:
    """Split ``FIELD=VALUE`` (``FIELD`` may be dotted; ``VALUE`` may contain ``=``).

    :raises AssignmentError: no ``=``, or ``FIELD`` is not a dotted field name.
    """
    key, sep, value = text.partition("=")
    if not sep:
        # The text may be a value given without its field: it is not repeated here.
        raise AssignmentError("--set expects FIELD=VALUE, and this one has no '='")
    if not _PATH.match(key):
        shown = repr(key) if key else "nothing"
        raise AssignmentError(
            f"--set {shown}=...: the field must be a name or a dotted path such as "
            "credentials.token"
        )
    return Assignment(tuple(key.split(".")), value)


def reference_of(text: str) -> tuple[str, str] | None:
    """``("env", "TOKEN")`` for ``@env:TOKEN`` (likewise ``@file:`` and ``@block:``), else None."""
    for prefix in REFERENCE_PREFIXES:
        if text.startswith(prefix):
            return prefix[1:-1], text[len(prefix) :]
    return None


def decode_value(text: str) -> Any:
    """A JSON object or array as its value; any other text unchanged."""
    if text.lstrip()[:1] in {"{", "["}:
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


def nest_assignments(
    values: Iterable[tuple[tuple[str, ...], Any]],
    base: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Nested field values: ``base`` (from a JSON document) with each path set on top of it.

    A path replaces what ``base`` has there; setting a path twice, or both a field and a field
    inside it, is refused, as the result would depend on the order of the options.

    :raises AssignmentError: naming the clashing paths.
    """
    result: dict[str, Any] = copy.deepcopy(dict(base)) if base else {}
    seen: dict[tuple[str, ...], None] = {}
    for path, value in values:
        for other in seen:
            shorter, longer = sorted((path, other), key=len)
            if longer[: len(shorter)] == shorter:
                first, second = ".".join(other), ".".join(path)
                if path == other:
                    raise AssignmentError(f"--set {first} is given twice")
                raise AssignmentError(f"--set {first} and --set {second} set the same field")
        seen[path] = None
        target = result
        for index, part in enumerate(path[:-1]):
            child = target.get(part)
            if not isinstance(child, dict):
                if part in target and child is not None:
                    where = ".".join(path[: index + 1])
                    raise AssignmentError(
                        f"--set {'.'.join(path)}: {where} is not an object in the JSON document"
                    )
                child = target[part] = {}
            target = child
        target[path[-1]] = value
    return result
