"""A griffe extension for the docs build: reST roles in docstrings become cross-reference links.

Docstrings are written for people reading the source and for Sphinx-style tools: ``:func:`name```,
``:class:`~codeferry.Block```, ``.. versionadded:: 0.1``. mkdocstrings shows those as raw text;
this turns each role into an autorefs link to the object's documented (canonical) path, shown as
code, and each ``versionadded`` into a line saying so. A target that no page documents is shown as
code without a link (``optional``), so the strict build never fails on a name in prose.
"""

from __future__ import annotations

import importlib
import re
from html import escape
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|attr|data|mod|exc|obj):`(?P<body>[^`]+)`")
_EXPLICIT = re.compile(r"^(?P<title>.*?)\s*<(?P<target>[^<>]+)>$")
_VERSION = re.compile(r"^(?P<indent>[ \t]*)\.\. versionadded:: (?P<version>\S+)[ \t]*$", re.M)


class RstRoles(griffe.Extension):
    """Rewrite the docstring of every object once the whole tree is loaded."""

    def on_object(self, *, obj: griffe.Object, **_: Any) -> None:
        docstring = obj.docstring
        if docstring is None:
            return
        text = _ROLE.sub(lambda m: _link(m["body"], obj), docstring.value)
        docstring.value = _VERSION.sub(r"\g<indent>*Added in version \g<version>.*", text)


def _link(body: str, obj: griffe.Object) -> str:
    explicit = _EXPLICIT.match(body)
    target = explicit["target"] if explicit else body
    short = target.startswith("~")
    target = target.lstrip("~.")
    title = explicit["title"] if explicit else target.rsplit(".", 1)[-1] if short else target
    identifier = _canonical(target, obj)
    code = f"<code>{escape(title)}</code>"
    return f'<autoref identifier="{escape(identifier)}" optional>{code}</autoref>'


def _canonical(target: str, obj: griffe.Object) -> str:
    """Where ``target`` is documented: its defining module and qualified name.

    Found by importing it (which follows codeferry's lazy re-exports to the defining module), or
    else by the name's meaning where the docstring is (a field of the class it documents).
    """
    scopes = [obj.path, *(parent.path for parent in _parents(obj))]
    for candidate in (target, *(f"{scope}.{target}" for scope in scopes)):
        found = _import(candidate)
        if found is not None:
            return found
    first, _, rest = target.partition(".")
    for scope in (obj, *_parents(obj)):
        try:
            resolved = scope.resolve(first)
        except (griffe.NameResolutionError, AttributeError):
            continue
        return f"{resolved}.{rest}" if rest else resolved
    return target


def _parents(obj: griffe.Object) -> list[griffe.Object]:
    found = []
    while obj.parent is not None:
        obj = obj.parent
        found.append(obj)
    return found


def _import(path: str) -> str | None:
    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for name in parts[split:]:
            obj = getattr(obj, name, None)
            if obj is None:
                return None
        home = getattr(obj, "__module__", None)
        qualname = getattr(obj, "__qualname__", None)
        if isinstance(obj, type(importlib)):
            return obj.__name__
        if home and qualname and "<locals>" not in qualname:
            return f"{home}.{qualname}"
        return path
    return None
