"""prefect-azure's Blob Storage steps, as its own tests assert them, against Azurite.

Each test is a behaviour ``prefect-azure/tests/deployments/test_steps.py`` asserts, run through
codeferry's steps: the same result, or the documented difference (docs/moving-from-prefect.md)
asserted as it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codeferry.errors import CodeferryError
from codeferry.plugins import Plugins
from codeferry.remote import MANIFEST_NAME
from tests.azure.conftest import Blobs
from tests.conftest import write_tree
from tests.remote.object_stores import tree
from tests.servers.azurite import AzuriteServer


@pytest.fixture
def tmp_files(tmp_path: Path) -> Path:
    """prefect-azure's project, its .prefectignore leaving out testdir1 and itself."""
    text = "Sample text"
    files = {"testfile1.txt": text, "testfile2.txt": text, "testdir1/testfile4.txt": text}
    return write_tree(
        tmp_path / "project", {**files, ".prefectignore": "testdir1/*\n.prefectignore"}
    )


def push(plugins: Plugins) -> Any:
    return plugins.step("prefect_azure.deployments.steps.push_to_azure_blob_storage").function


def pull(plugins: Plugins) -> Any:
    return plugins.step("prefect_azure.deployments.steps.pull_from_azure_blob_storage").function


def code_names(blobs: Blobs) -> list[str]:
    return [name for name in blobs.names() if not name.endswith(MANIFEST_NAME)]


def test_push_with_a_connection_string_sends_the_working_folder_but_what_is_ignored(
    azure_plugins: Plugins,
    blobs: Blobs,
    azurite_server: AzuriteServer,
    tmp_files: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_files)
    credentials = {"connection_string": azurite_server.connection_string()}
    outputs = push(azure_plugins)(blobs.container, "test-folder", credentials)
    assert (outputs["container"], outputs["folder"]) == (blobs.container, "test-folder")
    assert code_names(blobs) == ["test-folder/testfile1.txt", "test-folder/testfile2.txt"]


def test_a_trailing_slash_in_the_folder_is_not_doubled(
    azure_plugins: Plugins, blobs: Blobs, azurite_server: AzuriteServer, tmp_files: Path
) -> None:
    credentials = {"connection_string": azurite_server.connection_string()}
    push(azure_plugins)(blobs.container, "test-folder/", credentials, source=str(tmp_files))
    assert "test-folder/testfile1.txt" in code_names(blobs)


def test_no_folder_pushes_to_the_top_of_the_container_and_pulls_from_there(
    azure_plugins: Plugins, blobs: Blobs, azurite_server: AzuriteServer, tmp_files: Path
) -> None:
    credentials = {"connection_string": azurite_server.connection_string()}
    push(azure_plugins)(blobs.container, "", credentials, source=str(tmp_files))
    assert code_names(blobs) == ["testfile1.txt", "testfile2.txt"]
    pulled = pull(azure_plugins)(blobs.container, "", credentials)
    assert tree(Path(pulled["directory"])) == {
        "testfile1.txt": b"Sample text",
        "testfile2.txt": b"Sample text",
    }


def test_pull_skips_folder_markers_and_adls_directory_blobs(
    azure_plugins: Plugins, blobs: Blobs, azurite_server: AzuriteServer
) -> None:
    blobs.put("test-folder/", b"")
    blobs.put("test-folder/dir", b"", metadata={"hdi_isfolder": "true"})
    blobs.put("test-folder/dir/testfile.txt", b"x")
    credentials = {"connection_string": azurite_server.connection_string()}
    pulled = pull(azure_plugins)(blobs.container, "test-folder", credentials)
    assert tree(Path(pulled["directory"])) == {"dir/testfile.txt": b"x"}


def test_credentials_with_neither_connection_string_nor_account_url_are_refused(
    azure_plugins: Plugins, blobs: Blobs
) -> None:
    # Prefect: "Credentials must contain either connection_string or account_url".
    with pytest.raises(CodeferryError, match="give either connection_string or account_url"):
        pull(azure_plugins)(blobs.container, "test-folder", {})


def test_credentials_with_both_are_refused_where_prefect_takes_the_connection_string(
    azure_plugins: Plugins, blobs: Blobs, azurite_server: AzuriteServer
) -> None:
    credentials = {
        "account_url": "https://fake_account_url.blob.core.windows.net/",
        "connection_string": azurite_server.connection_string(),
    }
    with pytest.raises(CodeferryError, match="not both or neither") as caught:
        pull(azure_plugins)(blobs.container, "test-folder", credentials)
    assert "AccountKey" not in str(caught.value)


def test_a_partial_service_principal_is_refused_where_prefect_falls_back_to_the_default(
    azure_plugins: Plugins, blobs: Blobs
) -> None:
    credentials = {
        "account_url": "https://account.blob.core.windows.net",
        "tenant_id": "test-tenant-id",
        "client_id": "test-client-id",
    }
    with pytest.raises(CodeferryError, match="needs tenant_id, client_id and client_secret"):
        pull(azure_plugins)(blobs.container, "test-folder", credentials)
