"""Fixtures of the Docker plugin's tests: registry credentials, a base image, the plugin loaded."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeferry.plugins import Plugins
from codeferry_docker.credentials import DockerRegistryCredentials
from tests.conftest import use_plugins
from tests.docker.images import RawPusher, busybox_layer, config_for
from tests.servers.registry import RegistryServer

_names = itertools.count()

PROJECT = {"flow.py": "def main():\n    return 1\n", "pkg/helpers.py": "X = 1\n"}
"""A small project (``/``-separated path: text) to build images of."""


@pytest.fixture(autouse=True)
def docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder as Docker's config folder: the machine's own logins never leak in."""
    folder = tmp_path / "docker-config"
    folder.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(folder))
    return folder


@pytest.fixture
def docker_plugins() -> Plugins:
    """Core, local and this plugin, and nothing else installed on the machine."""
    return use_plugins(local="codeferry_local.plugin", docker="codeferry_docker.plugin")


@pytest.fixture
def credentials(oci_registry: RegistryServer) -> DockerRegistryCredentials:
    assert oci_registry.username
    assert oci_registry.password
    return DockerRegistryCredentials(
        username=oci_registry.username,
        password=oci_registry.password,
        registry_url=oci_registry.url,
    )


@pytest.fixture(scope="session")
def pusher(oci_registry: RegistryServer) -> Iterator[RawPusher]:
    pusher = RawPusher(oci_registry.url, oci_registry.username, oci_registry.password)
    yield pusher
    pusher.close()


@pytest.fixture(scope="session")
def base_image(oci_registry: RegistryServer, pusher: RawPusher) -> str:
    """A busybox base image (Debian's static busybox) in the authenticated registry."""
    base = busybox_layer()
    pusher.image("base/busybox", "1", [base], config_for([base]))
    return oci_registry.image("base/busybox", "1")


@pytest.fixture
def repository() -> str:
    """A repository name no other test uses."""
    return f"tests/repo{next(_names)}"
