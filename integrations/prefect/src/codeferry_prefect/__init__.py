"""codeferry for Prefect: runner storage for ``flow.from_source``, and Prefect-ready pull steps."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from codeferry_prefect.storage import CodeferrySource

__all__ = ["CodeferrySource", "__version__"]

_LAZY = {"CodeferrySource": "codeferry_prefect.storage"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'codeferry_prefect' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
