"""codeferry: fetch workflow code from where it is stored to the machine that runs it.

The public API is imported lazily, so ``import codeferry`` (and ``codeferry --help``) stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codeferry.lazy_exports import LazyExports

__version__ = "0.1.0"

if TYPE_CHECKING:
    from codeferry.blocks import Block, Secret, load_block
    from codeferry.checkouts import Checkout
    from codeferry.entrypoints import load_entrypoint
    from codeferry.errors import CodeferryError
    from codeferry.hookspecs import hookimpl
    from codeferry.paths import safe_join
    from codeferry.plugins import get_plugins
    from codeferry.sources import from_source
    from codeferry.storage import CodeStorage, FetchResult, PullContext, PullResult, PushResult

__all__ = [
    "Block",
    "Checkout",
    "CodeStorage",
    "CodeferryError",
    "FetchResult",
    "PullContext",
    "PullResult",
    "PushResult",
    "Secret",
    "__version__",
    "from_source",
    "get_plugins",
    "hookimpl",
    "load_block",
    "load_entrypoint",
    "safe_join",
]

_EXPORTS = LazyExports(
    __name__,
    {
        "Block": "codeferry.blocks",
        "Secret": "codeferry.blocks",
        "load_block": "codeferry.blocks",
        "Checkout": "codeferry.checkouts",
        "load_entrypoint": "codeferry.entrypoints",
        "CodeferryError": "codeferry.errors",
        "hookimpl": "codeferry.hookspecs",
        "safe_join": "codeferry.paths",
        "get_plugins": "codeferry.plugins",
        "from_source": "codeferry.sources",
        "CodeStorage": "codeferry.storage",
        "FetchResult": "codeferry.storage",
        "PullContext": "codeferry.storage",
        "PullResult": "codeferry.storage",
        "PushResult": "codeferry.storage",
    },
    globals(),
)


def __getattr__(name: str) -> Any:
    return _EXPORTS.get(name)


def __dir__() -> list[str]:
    return sorted(__all__)
