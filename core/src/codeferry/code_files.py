"""Running a user's ``.py`` file as a module: block types, steps and entrypoints named by a path.

Each is imported under a name made from its path, so two files called ``flow.py`` in different
folders are two modules, and a file that fails to run is not left behind half-imported.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import TYPE_CHECKING

from codeferry.digests import sha256

if TYPE_CHECKING:
    from pathlib import Path
    from types import ModuleType

__all__ = ["import_file", "module_name"]


def module_name(prefix: str, path: Path) -> str:
    """The name ``path`` is imported under: ``PREFIX_`` and a digest of the path."""
    return f"{prefix}_{sha256(str(path).encode()).hexdigest()[:12]}"


def import_file(prefix: str, path: Path) -> ModuleType | None:
    """Run the file ``path`` as the module :func:`module_name` names; ``None``: not Python.

    Whatever running the file raises propagates, and the module is then forgotten.
    """
    name = module_name(prefix, path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module
