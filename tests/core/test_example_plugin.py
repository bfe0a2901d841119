"""The tutorial's example plugin, installed for real, works through discovery alone."""

from __future__ import annotations

import json
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.programs import codeferry_module, pip_install_into

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "codeferry-zip"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    pip_install_into(target, EXAMPLE)
    return target


def codeferry(site: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "CODEFERRY_HOME": str(home)}
    return codeferry_module(*args, env=env)


def test_installed_example_plugin_pulls_zip_sources(site: Path, tmp_path: Path) -> None:
    archive = tmp_path / "flows.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("flows/hello.py", "def hello():\n    return 'zipped'\n")
    home = tmp_path / "home"

    listed = codeferry(site, home, "plugins", "ls", "--json")
    assert listed.returncode == 0, listed.stderr
    zip_plugin = next(p for p in json.loads(listed.stdout) if p["name"] == "zip")
    assert zip_plugin["distribution"] == "codeferry-zip"
    assert zip_plugin["block_types"] == ["zip-archive"]
    assert zip_plugin["status"] == "ok"

    first = codeferry(site, home, "pull", f"zip://{archive}", "--json")
    assert first.returncode == 0, first.stderr
    pulled = json.loads(first.stdout)
    assert (Path(pulled["directory"]) / "flows" / "hello.py").exists()
    again = json.loads(codeferry(site, home, "pull", f"zip://{archive}", "--json").stdout)
    assert again["changed"] is False


def test_hostile_zip_member_is_refused(site: Path, tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../escaped.py", "x = 1\n")
    result = codeferry(site, tmp_path / "home", "pull", f"zip://{archive}")
    assert result.returncode == 1
    assert "leaves the destination" in result.stderr
    assert not list(tmp_path.rglob("escaped.py"))
