"""Azure Blob Storage containers as code storage, against a real Azurite server."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import pytest

from codeferry.blocks import Block
from codeferry.errors import CodeferryError, UnsafePathError
from codeferry.plugins import Plugins
from codeferry.testing import StorageContract, StoreHandle
from codeferry_azure.container import AzureBlobStorageContainer
from codeferry_azure.credentials import AzureBlobStorageCredentials
from tests.azure.conftest import Blobs
from tests.remote import object_stores as stores
from tests.remote.object_stores import StoreChecks, tree
from tests.servers.azurite import AzuriteServer

CODE = {
    "flow.py": b"def main():\n    return 'azure'\n",
    "pkg/__init__.py": b"",
    "pkg/deep/helpers.py": b"X = 1\n",
}


class TestAzureBlobStorageContainer(StorageContract):
    expected_skips = 1  # adlfs lists "code//absolute.py" as "code/absolute.py"

    @pytest.fixture
    def store(
        self, blobs: Blobs, credentials: AzureBlobStorageCredentials, azurite_server: AzuriteServer
    ) -> StoreHandle:
        storage = AzureBlobStorageContainer(
            container_name=blobs.container, base_folder="code", credentials=credentials
        )
        credentials.save("azurite", overwrite=True)
        wrong_key = AzureBlobStorageCredentials(
            connection_string=azurite_server.connection_string(key="A" * 88)
        )
        return StoreHandle(
            storage,
            lambda files: blobs.replace("code", files),
            secrets=[azurite_server.key, "A" * 88],
            failing=lambda: storage.model_copy(update={"credentials": wrong_key}),
        )


@pytest.fixture
def container(blobs: Blobs, credentials: AzureBlobStorageCredentials) -> AzureBlobStorageContainer:
    return AzureBlobStorageContainer(
        container_name=blobs.container, base_folder="code", credentials=credentials
    )


@pytest.fixture
def checks(blobs: Blobs, container: AzureBlobStorageContainer) -> StoreChecks:
    return StoreChecks(blobs, container)


def test_adls_folder_markers_are_not_pulled_as_files(
    blobs: Blobs, container: AzureBlobStorageContainer, tmp_path: Path
) -> None:
    blobs.replace("code", CODE)
    blobs.put("code/pkg", b"", metadata={"hdi_isfolder": "true"})
    blobs.put("code/empty", b"", metadata={"hdi_isfolder": "true"})
    blobs.put("code/legacy/", b"")  # a folder marker written by other tools
    assert tree(container.pull_code(tmp_path / "checkout").directory) == CODE


class TestLikeEveryObjectStore(stores.ObjectStoreBehaviours):
    code = CODE
    tooling: ClassVar[Mapping[str, bytes]] = {
        ".git/config": b"[core]",
        "pkg/__pycache__/x.pyc": b"\0",
    }


def test_a_wrong_key_is_a_clean_error_that_does_not_show_the_key(
    blobs: Blobs, azurite_server: AzuriteServer, tmp_path: Path
) -> None:
    blobs.replace("code", CODE)
    wrong = "A" * 40 + azurite_server.key[40:]
    storage = AzureBlobStorageContainer(
        container_name=blobs.container,
        base_folder="code",
        credentials=AzureBlobStorageCredentials(
            connection_string=azurite_server.connection_string(key=wrong)
        ),
    )
    with pytest.raises(CodeferryError) as caught:
        storage.pull_code(tmp_path / "checkout")
    message = str(caught.value)
    assert "\n" not in message
    assert wrong not in message
    assert azurite_server.key not in message
    assert not (tmp_path / "checkout").exists() or not tree(tmp_path / "checkout")


def test_an_account_url_with_a_key_reaches_a_plain_http_endpoint(
    blobs: Blobs, azurite_server: AzuriteServer, tmp_path: Path
) -> None:
    blobs.replace("code", CODE)
    storage = AzureBlobStorageContainer(
        container_name=blobs.container,
        base_folder="code",
        credentials=AzureBlobStorageCredentials(
            account_url=azurite_server.account_url, account_key=azurite_server.key
        ),
    )
    assert tree(storage.pull_code(tmp_path / "checkout").directory) == CODE


def test_a_missing_container_is_a_clear_error(
    credentials: AzureBlobStorageCredentials, tmp_path: Path
) -> None:
    storage = AzureBlobStorageContainer(
        container_name="no-such-container", base_folder="code", credentials=credentials
    )
    with pytest.raises(CodeferryError, match="no-such-container"):
        storage.pull_code(tmp_path / "checkout")


def test_a_hostile_blob_name_is_refused_and_the_current_tree_stays(
    blobs: Blobs, checks: StoreChecks, tmp_path: Path
) -> None:
    def put_hostile() -> None:
        # Backslashes, which the service stores as slashes: a URL's "../" would be resolved first.
        blobs.put("code/pkg\\..\\..\\..\\escaped.py", b"pwned = True\n")
        assert "code/pkg/../../../escaped.py" in blobs.names()

    error = checks.refuses_a_hostile_name(tmp_path / "checkout", CODE, put_hostile)
    assert isinstance(error, UnsafePathError) or "path" in str(error)
    assert not list(tmp_path.rglob("escaped.py"))


def test_saved_blocks_load_and_pull(
    blobs: Blobs, credentials: AzureBlobStorageCredentials, tmp_path: Path
) -> None:
    blobs.replace("code", CODE)
    credentials.save("azurite")
    AzureBlobStorageContainer(
        container_name=blobs.container, base_folder="code", credentials=credentials
    ).save("flows")
    loaded = Block.load("azure-blob-storage-container/flows")
    assert isinstance(loaded, AzureBlobStorageContainer)
    assert loaded.credentials is not None
    assert loaded.credentials.block_name == "azurite"
    assert tree(loaded.pull_code(tmp_path / "checkout").directory) == CODE


def test_the_pull_step_refers_to_saved_credentials_by_name(
    container: AzureBlobStorageContainer, credentials: AzureBlobStorageCredentials
) -> None:
    with pytest.raises(CodeferryError, match="save the container's credentials"):
        container.to_pull_step()
    credentials.save("azurite")
    assert container.to_pull_step() == {
        "codeferry_azure.steps.pull_from_azure_blob_storage": {
            "container": container.container_name,
            "folder": "code",
            "credentials": "{{ blocks.azure-blob-storage-credentials.azurite }}",
        }
    }


def test_str_and_repr_show_where_the_code_is_but_no_secret(
    container: AzureBlobStorageContainer, azurite_server: AzuriteServer
) -> None:
    assert str(container) == f"az://{container.container_name}/code (account codeferry)"
    assert azurite_server.key not in repr(container)


@pytest.mark.parametrize("scheme", ["az", "abfs", "abfss"])
def test_urls_from_the_environment_pull(
    azure_plugins: Plugins,
    blobs: Blobs,
    azurite_server: AzuriteServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    scheme: str,
) -> None:
    blobs.replace("code", CODE)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite_server.connection_string())
    storage = azure_plugins.storage_from_source(f"{scheme}://{blobs.container}/code")
    assert tree(storage.pull_code(tmp_path / "checkout").directory) == CODE
    # The container block of the same URL is the same source: the checkout is kept.
    block = AzureBlobStorageContainer.from_url(f"{scheme}://{blobs.container}/code")
    assert block.pull_code(tmp_path / "checkout").changed is False


def test_a_url_naming_its_account_signs_in_to_that_account(azure_plugins: Plugins) -> None:
    storage = azure_plugins.storage_from_source("abfss://flows@acme.dfs.core.windows.net/prod/")
    assert isinstance(storage, AzureBlobStorageContainer)
    assert (storage.container_name, storage.folder) == ("flows", "prod")
    assert storage.credentials is not None
    assert storage.credentials.account_url == "https://acme.blob.core.windows.net"


def test_a_url_with_credentials_in_it_is_refused_without_showing_them(
    azure_plugins: Plugins,
) -> None:
    with pytest.raises(CodeferryError, match="must not carry credentials") as caught:
        azure_plugins.storage_from_source("az://user:hunter2@flows/prod")
    assert "hunter2" not in str(caught.value)


def test_urls_of_other_schemes_are_left_to_other_plugins(azure_plugins: Plugins) -> None:
    with pytest.raises(CodeferryError, match="codeferry-gcs"):
        azure_plugins.storage_from_source("gs://bucket/folder")


def test_prefect_yaml_steps_push_and_pull_with_a_credentials_dictionary(
    azure_plugins: Plugins,
    blobs: Blobs,
    azurite_server: AzuriteServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    source = stores.write_prefect_project(tmp_path / "project", CODE)
    # What `{{ prefect.blocks.azure-blob-storage-credentials.NAME }}` expands to.
    credentials = {"connection_string": azurite_server.connection_string(), "account_url": None}
    monkeypatch.chdir(source)
    steps = "prefect_azure.deployments.steps"
    push = azure_plugins.step(f"{steps}.push_to_azure_blob_storage").function
    pull = azure_plugins.step(f"{steps}.pull_from_azure_blob_storage").function
    place = {"container": blobs.container}
    stores.assert_steps_round_trip(blobs, push, pull, place, credentials, CODE)


def test_a_step_with_bad_credentials_names_the_problem_not_the_secret(
    azure_plugins: Plugins, blobs: Blobs, azurite_server: AzuriteServer
) -> None:
    pull = azure_plugins.step("pull_from_azure_blob_storage").function
    with pytest.raises(CodeferryError, match="either connection_string or account_url") as caught:
        pull(
            container=blobs.container,
            folder="code",
            credentials={
                "connection_string": azurite_server.connection_string(),
                "account_url": azurite_server.account_url,
            },
        )
    assert azurite_server.key not in str(caught.value)


def test_a_file_larger_than_one_range_arrives_whole(
    blobs: Blobs, container: AzureBlobStorageContainer, tmp_path: Path
) -> None:
    # adlfs cannot stream: the engine asks for 1 MiB ranges, so this file takes three requests.
    big = bytes(range(256)) * (10 * 1024 + 7)  # 2.5 MiB and a bit, not a multiple of a range
    blobs.replace("code", {**CODE, "data/model.bin": big})
    result = container.pull_code(tmp_path / "checkout")
    assert (result.directory / "data" / "model.bin").read_bytes() == big


def test_the_push_step_honours_its_ignore_file_and_leaves_tooling_folders_out(
    azure_plugins: Plugins, blobs: Blobs, azurite_server: AzuriteServer, tmp_path: Path
) -> None:
    source = stores.ignore_file_project(
        tmp_path / "project", (".nox/lint/log", ".pytest_cache/v/cache")
    )
    push = azure_plugins.step("prefect_azure.deployments.steps.push_to_azure_blob_storage")
    push.function(
        container=blobs.container,
        folder="code",
        credentials={"connection_string": azurite_server.connection_string()},
        ignore_file="deploy.ignore",
        source=str(source),
    )
    assert stores.pushed_names(blobs) == stores.IGNORE_FILE_PUSHED
