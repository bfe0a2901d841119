"""An Azure Blob endpoint that accepts connections and never answers: the pull gives up.

The Azure SDK waits 60 s of silence per read and retries three times with backoffs of 15 s and
more, and the engine's four attempts multiplied that: minutes. Here the timeouts are lowered to
a second; the last test checks what the filesystem is built with by default.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codeferry_azure.container import AzureBlobStorageContainer
from codeferry_azure.credentials import AzureBlobStorageCredentials
from tests.remote.object_stores import assert_pulls_give_up
from tests.servers.silent import SilentServer

ACCOUNT_KEY = "a2V5IG9mIGFuIGFjY291bnQgdGhhdCBpcyBuZXZlciByZWFjaGVk"


def container_at(address: str) -> AzureBlobStorageContainer:
    connection_string = (
        f"DefaultEndpointsProtocol=http;AccountName=silent;AccountKey={ACCOUNT_KEY};"
        f"BlobEndpoint=http://{address}/silent;"
    )
    return AzureBlobStorageContainer(
        container_name="flows",
        base_folder="code",
        credentials=AzureBlobStorageCredentials(connection_string=connection_string),
    )


@pytest.mark.usefixtures("lowered_timeouts")
def test_pull_from_a_silent_azure_endpoint_fails_naming_it_and_releases_the_checkout(
    silent_server: SilentServer, tmp_path: Path
) -> None:
    assert_pulls_give_up(
        container_at(silent_server.address),
        tmp_path / "code",
        f"cannot list az://flows/code: Azure Blob endpoint {silent_server.address} accepted "
        "the connection but sent nothing for 1 s (tried 2 times)",
    )


def test_the_azure_filesystem_is_built_with_the_default_limits() -> None:
    from codeferry.timeouts import NetworkTimeouts

    filesystem = container_at("blob.example.com:10000").remote().filesystem
    assert filesystem.timeouts == NetworkTimeouts(connect=10.0, read=30.0)
