"""Code in images passes the storage contract every plugin passes, against a real registry."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from codeferry.testing import StorageContract, StoreHandle
from codeferry_docker.credentials import DockerRegistryCredentials
from codeferry_docker.publish import publish_code_layer
from codeferry_docker.references import parse_reference
from codeferry_docker.storage import OciImage
from tests.docker.images import RawPusher, busybox_layer, config_for, layer
from tests.servers.registry import RegistryServer

WORKDIR = "opt/flows"


def raw_member_name(path: str) -> str:
    """Where a test file goes in a layer: under the working directory, hostile names kept."""
    return path if path.startswith("/") else f"{WORKDIR}/{path}"


class TestImageWithHandMadeLayers(StorageContract):
    """Images pushed by a plain-HTTP helper: a base layer and a code layer without whiteouts."""

    expected_skips = 0

    @pytest.fixture
    def store(
        self,
        oci_registry: RegistryServer,
        pusher: RawPusher,
        credentials: DockerRegistryCredentials,
        repository: str,
    ) -> StoreHandle:
        credentials.save("registry", overwrite=True)
        saved = DockerRegistryCredentials.load("registry")
        base = busybox_layer()

        def write(files: Mapping[str, bytes]) -> None:
            code = layer({raw_member_name(path): data for path, data in files.items()})
            pusher.image(
                repository, "v1", [base, code], config_for([base, code], workdir="/opt/flows")
            )

        storage = OciImage(image=oci_registry.image(repository, "v1"), credentials=saved)
        assert oci_registry.password
        wrong = DockerRegistryCredentials(
            username=credentials.username, password="wrong-password", registry_url=oci_registry.url
        )

        def failing() -> OciImage:
            write({"flow.py": b""})
            return storage.model_copy(update={"credentials": wrong})

        return StoreHandle(storage, write, secrets=[oci_registry.password], failing=failing)


class TestImageWithCodeLayers(StorageContract):
    """Images published by build_code_layer on a base image, in a registry without auth."""

    expected_skips = 3  # a project folder cannot hold ../escaped.py, /absolute.py, a/../../x

    @pytest.fixture
    def store(self, open_registry: RegistryServer, tmp_path: Path, repository: str) -> StoreHandle:
        pusher = RawPusher(open_registry.url)
        base = busybox_layer()
        pusher.image("base/busybox", "1", [base], config_for([base]))
        pusher.close()
        project = tmp_path / "project"

        def write(files: Mapping[str, bytes]) -> None:
            for path in files:
                parts = path.split("/")
                if path.startswith("/") or ".." in parts:
                    raise NotImplementedError("a project folder cannot hold that name")
            if project.exists():
                for existing in sorted(project.rglob("*"), reverse=True):
                    existing.unlink() if existing.is_file() else existing.rmdir()
            for path, data in files.items():
                (project / path).parent.mkdir(parents=True, exist_ok=True)
                (project / path).write_bytes(data)
            publish_code_layer(
                parse_reference(open_registry.image("base/busybox", "1")),
                parse_reference(open_registry.image(repository, "v1")),
                project,
            )

        missing = OciImage(image=open_registry.image(f"{repository}-missing", "v1"))
        return StoreHandle(
            OciImage(image=open_registry.image(repository, "v1")), write, failing=lambda: missing
        )
