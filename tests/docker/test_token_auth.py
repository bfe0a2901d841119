"""The Bearer token dance against a registry that wants tokens from a token server."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeferry.errors import PullError
from codeferry_docker.credentials import DockerRegistryCredentials
from codeferry_docker.publish import publish_code_layer
from codeferry_docker.references import parse_reference
from codeferry_docker.registry import RegistryClient
from codeferry_docker.storage import OciImage
from tests.docker.images import busybox_layer, config_for
from tests.servers.registry import RegistryServer, TokenServer


@pytest.fixture
def token_credentials(
    token_registry: tuple[RegistryServer, TokenServer],
) -> DockerRegistryCredentials:
    registry, tokens = token_registry
    return DockerRegistryCredentials(
        username=tokens.username, password=tokens.password, registry_url=registry.url
    )


def test_images_are_pushed_and_pulled_with_tokens_from_the_realm(
    token_registry: tuple[RegistryServer, TokenServer],
    token_credentials: DockerRegistryCredentials,
    tmp_path: Path,
) -> None:
    registry, tokens = token_registry
    base = busybox_layer()
    config = config_for([base])
    with RegistryClient(registry.host, credentials=token_credentials, loopback=True) as client:
        import json

        from codeferry_docker.manifests import (
            OCI_CONFIG,
            OCI_LAYER_GZIP,
            OCI_MANIFEST,
            sha256_digest,
        )

        config_bytes = json.dumps(config).encode()
        client.upload_blob("token/base", base.digest, base.blob)
        client.upload_blob("token/base", sha256_digest(config_bytes), config_bytes)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG,
                "digest": sha256_digest(config_bytes),
                "size": len(config_bytes),
            },
            "layers": [
                {"mediaType": OCI_LAYER_GZIP, "digest": base.digest, "size": len(base.blob)}
            ],
        }
        client.put_manifest("token/base", "1", json.dumps(manifest).encode(), OCI_MANIFEST)
    project = tmp_path / "project"
    project.mkdir()
    (project / "flow.py").write_text("print('hi')\n")
    published = publish_code_layer(
        parse_reference(registry.image("token/base", "1")),
        parse_reference(registry.image("token/flows", "v1")),
        project,
        credentials=token_credentials,
    )
    assert published.blobs_mounted == 1, (
        "the base layer is mounted across repositories with a token for both"
    )
    granted = {
        (name, frozenset(actions.split(",")))
        for issued in tokens.issued
        for _, name, actions in (scope.split(":") for scope in issued.split())
    }
    # The registry names the actions in no fixed order ("pull,push" or "push,pull").
    assert ("token/flows", frozenset({"pull", "push"})) in granted, tokens.issued
    pulled = OciImage(
        image=registry.image("token/flows", "v1"), credentials=token_credentials
    ).pull_code(tmp_path / "out")
    assert (pulled.directory / "flow.py").read_text() == "print('hi')\n"


def test_a_token_server_refusing_the_password_is_a_clear_error(
    token_registry: tuple[RegistryServer, TokenServer], tmp_path: Path
) -> None:
    registry, _ = token_registry
    wrong = DockerRegistryCredentials(
        username="tokenuser", password="wrong-one", registry_url=registry.url
    )
    with pytest.raises(PullError, match="credentials were refused") as caught:
        OciImage(image=registry.image("token/flows", "v1"), credentials=wrong).pull_code(
            tmp_path / "out"
        )
    assert "wrong-one" not in str(caught.value)
