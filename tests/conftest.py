"""Shared fixtures: every test gets its own codeferry home and only the plugins it asks for.

Tests never load the plugins installed on the machine by accident: the ``plugins`` fixture builds a
registry from explicit modules, and the environment's plugin switches are cleared.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from codeferry.plugins import Plugins, set_plugins
from codeferry.secrets import forget

pytest_plugins = [
    "tests.servers.postgres",
    "tests.servers.git_http",
    "tests.servers.nginx_git",
    "tests.servers.sshd",
    "tests.servers.moto_s3",
    "tests.servers.azurite",
    "tests.servers.gcs",
    "tests.servers.registry",
    "tests.servers.podman",
    "tests.servers.silent",
    "tests.servers.echo_auth",
    "tests.servers.mounts",
]


@pytest.fixture(autouse=True)
def codeferry_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh home folder (block store, key, checkouts) for each test."""
    home = tmp_path / "codeferry-home"
    monkeypatch.setenv("CODEFERRY_HOME", str(home))
    for variable in (
        "CODEFERRY_DATABASE_URL",
        "CODEFERRY_ENCRYPTION_KEY",
        "CODEFERRY_PLUGINS",
        "CODEFERRY_DISABLE_PLUGINS",
        "CODEFERRY_TRACE_HOOKS",
    ):
        monkeypatch.delenv(variable, raising=False)
    previous = set_plugins(None)
    _reset_store()
    yield home
    set_plugins(previous)
    _reset_store()
    forget()  # the secrets one test made known must not mask another test's output


def _reset_store() -> None:
    from codeferry.store import set_store

    set_store(None)


def write_tree(root: Path, files: Mapping[str, str]) -> Path:
    """Write ``files`` (``/``-separated path: text) under ``root``, folders made; ``root``."""
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def use_plugins(**modules: str) -> Plugins:
    """Make the process's plugins core and exactly ``modules`` (name: module) for this test.

    Nothing installed on the machine is loaded; ``codeferry_home`` puts the previous plugins
    back after the test.
    """
    registry = Plugins(modules, entry_points=False)
    set_plugins(registry)
    return registry


@pytest.fixture
def plugins() -> Plugins:
    """Core plus the in-tree local plugin, and nothing else installed on the machine."""
    return use_plugins(local="codeferry_local.plugin")
