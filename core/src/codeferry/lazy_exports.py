"""A package's public names, each imported from its module on first use.

``import codeferry`` and ``import codeferry.remote`` import nothing else, so start-up stays fast;
the package's ``__getattr__`` hands a name it lacks to :class:`LazyExports`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["LazyExports"]


class LazyExports:
    """The names of ``package`` kept in other modules (``modules``: name to dotted module)."""

    def __init__(self, package: str, modules: Mapping[str, str], namespace: dict[str, Any]) -> None:
        self._package = package
        self._modules = modules
        self._namespace = namespace

    def get(self, name: str) -> Any:
        """The value of ``name``, imported now and kept in the package for the next use."""
        module = self._modules.get(name)
        if module is None:
            raise AttributeError(f"module {self._package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        self._namespace[name] = value
        return value
