"""Every library a plugin imports is one its distribution declares.

An undeclared import works in the development environment, where everything is installed, and
fails for the user who installs the plugin alone (or a release of the library that pulled it in
stops doing so). pydantic is the one exception: block types are pydantic models, so it comes
with codeferry's plugin API.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = sorted(
    path for path in (ROOT / "plugins").iterdir() if (path / "pyproject.toml").is_file()
)
FROM_THE_PLUGIN_API = {"pydantic"}


def imported_modules(source: Path) -> set[str]:
    """The top-level modules the files under ``source`` import, anywhere in them."""
    found: set[str] = set()
    for path in source.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.partition(".")[0])
    return found


def declared(pyproject: Path) -> set[str]:
    """The distributions a pyproject declares, its extras' included, by normalised name."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return {normalised(re.split(r"[\s<>=!~;\[]", item, maxsplit=1)[0]) for item in requirements}


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.parametrize("plugin", PLUGINS, ids=lambda path: path.name)
def test_every_library_a_plugin_imports_is_declared(plugin: Path) -> None:
    providers = metadata.packages_distributions()
    own = {path.name for path in (plugin / "src").iterdir() if path.is_dir()}
    undeclared = {}
    for module in sorted(imported_modules(plugin / "src")):
        if module in sys.stdlib_module_names or module in own | FROM_THE_PLUGIN_API:
            continue
        if module == "codeferry" or module.startswith("codeferry_"):
            continue  # codeferry itself, or another plugin (declared as codeferry-git...)
        distributions = {normalised(name) for name in providers.get(module, [module])}
        if not distributions & declared(plugin / "pyproject.toml"):
            undeclared[module] = sorted(distributions)
    assert not undeclared, (
        f"{plugin.name} imports libraries its pyproject.toml does not declare: {undeclared}"
    )


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    (tmp_path / "plugin.py").write_text(
        "def pull():\n    import s3fs\n    from botocore import x\n"
    )
    assert imported_modules(tmp_path) == {"s3fs", "botocore"}
