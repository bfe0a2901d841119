"""``codeferry plugins new`` writes a plugin that installs, passes its own tests and is listed."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from codeferry.cli import app
from codeferry.compatibility import core_requirement
from codeferry.errors import CodeferryError
from codeferry.scaffold import create_plugin, plugin_name
from tests.programs import python

VALID_NAMES = st.from_regex(r"[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,8}){0,3}", fullmatch=True)


def run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return python(*args, env=env, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A plugin made by the command, installed into a folder of its own (``--target``)."""
    folder = tmp_path_factory.mktemp("scaffold")
    result = CliRunner().invoke(app, ["plugins", "new", "acme-store", "--dir", str(folder)])
    assert result.exit_code == 0, result.output
    root = folder / "codeferry-acme-store"
    site = folder / "site"
    env = {key: value for key, value in os.environ.items() if not key.startswith("CODEFERRY_")}
    env["PYTHONPATH"] = str(site)
    pip = run(
        *("-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation"),
        *("--target", str(site), str(root)),
        env=env,
        cwd=folder,
    )
    assert pip.returncode == 0, pip.stderr
    return root, env


def test_new_plugin_has_the_distribution_layout(installed: tuple[Path, dict[str, str]]) -> None:
    root, _ = installed
    written = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    assert written == [
        "README.md",
        "pyproject.toml",
        "src/codeferry_acme_store/__init__.py",
        "src/codeferry_acme_store/plugin.py",
        "src/codeferry_acme_store/py.typed",
        "src/codeferry_acme_store/steps.py",
        "src/codeferry_acme_store/storage.py",
        "tests/__init__.py",
        "tests/test_contract.py",
    ]
    pyproject = (root / "pyproject.toml").read_text()
    assert 'acme-store = "codeferry_acme_store.plugin"' in pyproject
    assert 'name = "codeferry-acme-store"' in pyproject
    # Bound to the minor line of the codeferry that made it, as codeferry's own plugins are.
    assert f'dependencies = ["{core_requirement()}"]' in pyproject
    assert 'test = ["codeferry[testing]"]' in pyproject


def test_new_plugin_passes_its_own_conformance_tests(
    installed: tuple[Path, dict[str, str]],
) -> None:
    root, env = installed
    tests = run(
        *("-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", "tests"), env=env, cwd=root
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert " passed" in tests.stdout
    assert "failed" not in tests.stdout


def test_new_plugin_is_listed_as_working(installed: tuple[Path, dict[str, str]]) -> None:
    root, env = installed
    listed = run("-m", "codeferry", "plugins", "ls", "--json", env=env, cwd=root)
    assert listed.returncode == 0, listed.stderr
    plugin = next(p for p in json.loads(listed.stdout) if p["name"] == "acme-store")
    assert plugin["status"] == "ok", plugin["errors"]
    assert plugin["distribution"] == "codeferry-acme-store"
    assert plugin["block_types"] == ["acme-store-storage"]
    assert plugin["steps"] == ["pull_from_acme_store"]


def test_new_plugin_entry_point_module_imports_no_storage_code(
    installed: tuple[Path, dict[str, str]],
) -> None:
    root, env = installed
    code = (
        "import sys, codeferry_acme_store.plugin\n"
        "assert 'codeferry_acme_store.storage' not in sys.modules\n"
    )
    result = run("-c", code, env=env, cwd=root)
    assert result.returncode == 0, result.stderr


def test_new_refuses_an_existing_folder_and_changes_nothing(tmp_path: Path) -> None:
    existing = tmp_path / "codeferry-acme"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    result = CliRunner().invoke(app, ["plugins", "new", "acme", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert [p.name for p in existing.iterdir()] == ["keep.txt"]
    assert (existing / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize(
    "name",
    ["Acme", "acme_store", "1acme", "acme--store", "acme-", "-acme", "", "acme store", "a" * 41],
)
def test_new_refuses_a_name_that_is_not_lowercase_with_dashes(name: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["plugins", "new", "--dir", str(tmp_path), "--", name])
    assert result.exit_code == 1
    assert result.output.startswith("Error: plugin name")
    assert result.output.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_new_refuses_a_name_with_the_distribution_prefix(tmp_path: Path) -> None:
    with pytest.raises(CodeferryError, match="without 'codeferry-'"):
        create_plugin("codeferry-acme", tmp_path)


@given(VALID_NAMES)
def test_every_valid_name_gives_importable_names(name: str) -> None:
    names = plugin_name(name)
    assert names.module.isidentifier()
    assert names.class_prefix.isidentifier()
    assert names.distribution == f"codeferry-{name}"
    assert names.module == "codeferry_" + name.replace("-", "_")


def test_tutorial_code_is_the_generated_code(installed: tuple[Path, dict[str, str]]) -> None:
    root, _ = installed
    tutorial = (Path(__file__).resolve().parents[2] / "docs" / "scaffold.md").read_text()
    generated = (root / "src" / "codeferry_acme_store" / "storage.py").read_text()
    generated_lines = {line.split("  #")[0].strip() for line in generated.splitlines()}
    blocks = re.findall(r"```python[^\n]*\n(.*?)```", tutorial, re.DOTALL)
    assert blocks
    for block in blocks:
        for line in block.splitlines():
            code = line.split("  #")[0].strip()
            if code and code != "...":
                assert code in generated_lines, line
