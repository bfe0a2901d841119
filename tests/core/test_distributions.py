"""Every distribution is ready for a package index: license, metadata, README, honest extras.

``nox -s packages`` builds them and tries each plugin alone from its wheel; these checks read the
sources, so a fault shows up in the ordinary test run first.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from codeferry import __version__

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = sorted(
    p.parent.relative_to(ROOT).as_posix()
    for p in [
        ROOT / "core" / "pyproject.toml",
        *ROOT.glob("plugins/*/pyproject.toml"),
        *ROOT.glob("integrations/*/pyproject.toml"),
    ]
)
# What only tests need: servers and the clients that write test data. Never a published extra.
TEST_ONLY = {"moto", "gcp-storage-emulator", "hypothesis", "boto3", "google-cloud-storage"}
# Markdown links and images, inline ([text](target)) and by reference ([name]: target).
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)|^\s*\[[^\]]+\]:\s*(\S+)", re.MULTILINE)


def project(folder: str) -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((ROOT / folder / "pyproject.toml").read_text())["project"]
    return data


def requirement_name(requirement: str) -> str:
    return re.split(r"[^A-Za-z0-9_.-]", requirement.strip(), maxsplit=1)[0].lower()


def test_every_distribution_is_checked() -> None:
    assert "core" in FOLDERS
    assert len(FOLDERS) >= 12


def test_the_license_is_apache_2() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text
    assert "Version 2.0, January 2004" in text


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_distribution_carries_the_license_it_declares(folder: str) -> None:
    metadata = project(folder)
    assert metadata["license"] == "Apache-2.0"
    assert metadata["license-files"] == ["LICENSE"]
    assert (ROOT / folder / "LICENSE").read_text() == (ROOT / "LICENSE").read_text()


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_distribution_has_classifiers_and_project_urls(folder: str) -> None:
    metadata = project(folder)
    assert "Programming Language :: Python :: 3.11" in metadata["classifiers"]
    assert not [c for c in metadata["classifiers"] if c.startswith("License ::")], (
        "the SPDX license expression says it (PEP 639 forbids both)"
    )
    urls = metadata["urls"]
    assert {"Homepage", "Documentation", "Source", "Issues", "Changelog"} <= set(urls)
    assert all(url.startswith("https://") for url in urls.values())
    assert urls["Source"].endswith(f"/{folder}")
    assert urls["Changelog"].endswith("/CHANGELOG.md")
    typed = any((ROOT / folder / "src").glob("*/py.typed"))
    assert ("Typing :: Typed" in metadata["classifiers"]) == typed


@pytest.mark.parametrize("folder", FOLDERS)
def test_every_readme_has_only_links_that_work_on_a_package_index(folder: str) -> None:
    """An index shows the README alone: a relative link there leads nowhere."""
    readme = (ROOT / folder / project(folder)["readme"]).read_text()
    targets = [inline or reference for inline, reference in LINK.findall(readme)]
    relative = [t for t in targets if not t.startswith(("https://", "http://", "mailto:", "#"))]
    assert relative == []
    assert readme.startswith(f"# {project(folder)['name']}\n")


def test_the_link_check_finds_relative_links() -> None:
    text = "See [codeferry](../../README.md) and ![chart](docs/x.png).\n[ref]: ./notes.md\n"
    targets = [inline or reference for inline, reference in LINK.findall(text)]
    assert targets == ["../../README.md", "docs/x.png", "./notes.md"]


@pytest.mark.parametrize("folder", FOLDERS)
def test_published_extras_hold_no_test_servers(folder: str) -> None:
    extras = project(folder).get("optional-dependencies", {})
    assert "test" not in extras, "test-only dependencies belong in a dependency group"
    published = {requirement_name(r) for requirements in extras.values() for r in requirements}
    assert not published & TEST_ONLY


def test_each_plugins_test_servers_are_a_dependency_group_of_the_workspace() -> None:
    groups = tomllib.loads((ROOT / "pyproject.toml").read_text())["dependency-groups"]
    plugin_groups = sorted(name for name in groups if name.endswith("-tests"))
    assert {"s3-tests", "azure-tests", "gcs-tests", "docker-tests"} <= set(plugin_groups)
    for name in plugin_groups:
        assert (ROOT / "plugins" / name.removesuffix("-tests")).is_dir(), name
        assert {"include-group": name} in groups["test"], f"the test group leaves out {name}"
    assert {"moto", "gcp-storage-emulator"} <= {
        requirement_name(r) for name in plugin_groups for r in groups[name]
    }


def test_core_has_postgres_and_testing_extras() -> None:
    extras = project("core")["optional-dependencies"]
    assert [requirement_name(r) for r in extras["postgres"]] == ["psycopg"]
    assert [requirement_name(r) for r in extras["testing"]] == ["pytest"]


def test_the_kit_without_pytest_says_which_extra_brings_it() -> None:
    code = "import sys; sys.modules['pytest'] = None; import codeferry.testing"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        "ModuleNotFoundError: codeferry.testing runs under pytest, which is not installed: "
        "pip install 'codeferry[testing]'"
    )


def test_the_changelog_holds_this_release() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert changelog.startswith("# Changelog\n")
    releases = re.findall(r"^## (\d+\.\d+\.\d+)", changelog, re.MULTILINE)
    assert releases[0] == __version__
