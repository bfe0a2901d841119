"""Plugins and integrations import only the plugin API, and the versioning page names all of it."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from codeferry.plugin_api import PUBLIC_MODULES

ROOT = Path(__file__).resolve().parents[2]
# Every distribution built on codeferry in this repository, and the tutorial's example plugins.
SOURCES = sorted(
    [
        *ROOT.glob("plugins/*/src"),
        *ROOT.glob("integrations/*/src"),
        *ROOT.glob("docs/examples/*/src"),
    ]
)


@dataclass(frozen=True)
class Use:
    """One import of codeferry: the module, and the name taken from it (None: the module)."""

    where: str
    module: str
    name: str | None


def codeferry_imports(source: str, where: str) -> Iterator[Use]:
    """Every import of a codeferry module in ``source``, type-checking-only ones included."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _is_codeferry(alias.name):
                    yield Use(f"{where}:{node.lineno}", alias.name, None)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if not _is_codeferry(node.module):
                continue
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                if _is_module(submodule):
                    yield Use(f"{where}:{node.lineno}", submodule, None)
                else:
                    yield Use(f"{where}:{node.lineno}", node.module, alias.name)


def _is_codeferry(module: str) -> bool:
    return module == "codeferry" or module.startswith("codeferry.")


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def in_tree_uses() -> list[Use]:
    return [
        use
        for source in SOURCES
        for path in sorted(source.rglob("*.py"))
        for use in codeferry_imports(path.read_text(), path.relative_to(ROOT).as_posix())
    ]


def outside_the_api(uses: list[Use]) -> list[str]:
    """What ``uses`` take from codeferry that the plugin API does not hold."""
    found = []
    for use in uses:
        if use.module not in PUBLIC_MODULES:
            found.append(f"{use.where}: {use.module} is not part of the plugin API")
            continue
        public = getattr(importlib.import_module(use.module), "__all__", [])
        if use.name is not None and use.name not in public:
            found.append(f"{use.where}: {use.module}.{use.name} is not in its __all__")
    return found


def test_the_scan_sees_every_in_tree_distribution() -> None:
    assert len(SOURCES) >= 13  # 9 plugins, 2 integrations, 2 tutorial examples
    assert len(in_tree_uses()) > 100


def test_plugins_and_integrations_import_only_the_plugin_api() -> None:
    assert outside_the_api(in_tree_uses()) == []


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("from codeferry.redact import mask_secrets", "codeferry.redact is not part"),
        ("import codeferry.store.blockstore", "codeferry.store.blockstore is not part"),
        ("from codeferry import store", "codeferry.store is not part"),
        ("from codeferry.remote import listing", "codeferry.remote.listing is not part"),
        ("from codeferry.storage import _tree_writer", "codeferry.storage._tree_writer is not"),
        (
            "if TYPE_CHECKING:\n    from codeferry.cli import app",
            "codeferry.cli is not part",
        ),
    ],
)
def test_the_scan_catches_an_import_outside_the_api(source: str, why: str) -> None:
    (problem,) = outside_the_api(list(codeferry_imports(source, "plugin.py")))
    assert why in problem


@pytest.mark.parametrize(
    "source",
    [
        "from codeferry import hookimpl",
        "from codeferry.steps import context",
        "import codeferry.testing",
        "from codeferry.remote import RemoteStorage",
        "from codeferry_git.repository import GitRepository",  # another plugin: its own promise
    ],
)
def test_the_scan_accepts_the_api(source: str) -> None:
    assert outside_the_api(list(codeferry_imports(source, "plugin.py"))) == []


@pytest.mark.parametrize("module", sorted(PUBLIC_MODULES))
def test_every_public_module_names_its_public_names(module: str) -> None:
    loaded = importlib.import_module(module)
    public = getattr(loaded, "__all__", None)
    assert public, f"{module} has no __all__"
    for name in public:
        assert not name.startswith("_") or name == "__version__"
        assert getattr(loaded, name, None) is not None, f"{module}.{name}"


@pytest.mark.parametrize("module", sorted(PUBLIC_MODULES))
def test_the_versioning_page_names_every_public_module(module: str) -> None:
    assert f"`{module}`" in (ROOT / "docs" / "hook-versioning.md").read_text()
