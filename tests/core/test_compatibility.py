"""A plugin made for another minor line of codeferry is refused at load, saying which and why."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from codeferry import __version__
from codeferry.compatibility import core_requirement, incompatibility
from codeferry.errors import BlockTypeNotFoundError
from codeferry.plugins import Plugins
from tests.core.conftest import InstallPlugin

ROOT = Path(__file__).resolve().parents[2]

PLUGIN = """
from codeferry import hookimpl
from codeferry.blocks import Block

class Widget(Block):
    size: int = 1

@hookimpl
def register_block_types(register):
    register(Widget)
"""

# A plugin that must never be imported: importing it fails the test loudly.
EXPLODES_ON_IMPORT = "raise SystemExit('an incompatible plugin was imported')\n"


def by_name(plugins: Plugins, name: str) -> dict[str, object]:
    return next(p for p in plugins.describe() if p["name"] == name)


def test_a_plugin_made_for_another_minor_line_is_not_imported_and_says_why(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin(
        "acme-future", "future", EXPLODES_ON_IMPORT, version="3.0", requires=["codeferry>=9.1,<9.2"]
    )
    info = by_name(Plugins(), "future")
    assert info["status"] == "failed to load"
    errors = info["errors"]
    assert isinstance(errors, list)
    (error,) = errors
    assert isinstance(error, str)
    assert "acme-future 3.0 is made for codeferry>=9.1,<9.2" in error
    assert f"this is codeferry {__version__}" in error
    assert "pip install -U acme-future" in error


def test_a_plugin_within_its_declared_range_loads(install_plugin: InstallPlugin) -> None:
    install_plugin("acme-widgets", "widgets", PLUGIN, requires=[core_requirement()])
    plugins = Plugins()
    assert by_name(plugins, "widgets")["status"] == "ok"
    assert "widget" in plugins.block_types


def test_what_the_refused_plugin_would_provide_names_it(install_plugin: InstallPlugin) -> None:
    install_plugin("acme-widgets", "widgets", PLUGIN, requires=["codeferry<0.0.1"])
    with pytest.raises(
        BlockTypeNotFoundError, match=r"acme-widgets 1\.0 is made for codeferry<0\.0\.1"
    ):
        Plugins().block_type("widget")


@pytest.mark.parametrize(
    "requires",
    [
        [],  # declares nothing: nothing to check
        ["codeferry-git>=9.1"],  # another distribution whose name starts with codeferry
        ["codeferry>=9.1; extra == 'future'"],  # only with an extra
        ["codeferry>=0.0.1; python_version < '3'"],  # a marker this interpreter does not match
    ],
)
def test_requirements_that_do_not_bind_this_core_are_not_refused(
    install_plugin: InstallPlugin, requires: list[str]
) -> None:
    install_plugin("acme-widgets", "widgets", PLUGIN, requires=requires)
    assert by_name(Plugins(), "widgets")["status"] == "ok"


@pytest.mark.parametrize(
    ("requirement", "version", "refused"),
    [
        ("codeferry>=0.1,<0.2", "0.1.0", False),
        ("codeferry>=0.1,<0.2", "0.1.9", False),
        ("codeferry>=0.1,<0.2", "0.2.0", True),
        ("codeferry>=0.1,<0.2", "0.0.9", True),
        # A pre-release or development build has its release's API.
        ("codeferry>=0.2,<0.3", "0.2.0rc1", False),
        ("codeferry>=0.2,<0.3", "0.2.1.dev3", False),
        ("codeferry>=0.1,<0.2", "0.2.0rc1", True),
        ("codeferry[testing] (>=0.1,<0.2)", "0.2.0", True),  # extras, the parenthesised form
        ("Codeferry ~= 0.1.0", "0.2.0", True),
    ],
)
def test_the_declared_range_is_read_as_pip_reads_it(
    tmp_path: Path, requirement: str, version: str, refused: bool
) -> None:
    info = tmp_path / "acme-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: acme\nVersion: 1.0\nRequires-Dist: {requirement}\n"
    )
    distribution = metadata.Distribution.at(info)
    refusal = incompatibility("acme", distribution.version, distribution.requires or (), version)
    assert (refusal is not None) == refused


@pytest.mark.parametrize(
    ("version", "requirement"),
    [
        ("0.1.0", "codeferry>=0.1,<0.2"),
        ("0.1.7", "codeferry>=0.1,<0.2"),
        ("1.9.3", "codeferry>=1.9,<1.10"),
        ("0.2.0rc1", "codeferry>=0.2,<0.3"),
    ],
)
def test_a_plugin_is_bound_to_the_minor_line_it_was_made_against(
    version: str, requirement: str
) -> None:
    assert core_requirement(version) == requirement


def test_every_in_tree_distribution_is_bound_to_this_minor_line() -> None:
    """What the scaffold writes is what codeferry's own plugins and integrations declare."""
    projects = [*ROOT.glob("plugins/*/pyproject.toml"), *ROOT.glob("integrations/*/pyproject.toml")]
    assert len(projects) >= 11
    for path in projects:
        dependencies = tomllib.loads(path.read_text())["project"]["dependencies"]
        on_core = [d for d in dependencies if d.split(">")[0].split("<")[0].strip() == "codeferry"]
        assert on_core == [core_requirement()], path
