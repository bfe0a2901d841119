"""Google Cloud Storage buckets as code storage, against a real GCS emulator."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import pytest

from codeferry.blocks import Block
from codeferry.errors import CodeferryError
from codeferry.plugins import Plugins
from codeferry.testing import StorageContract, StoreHandle
from codeferry_gcs.bucket import GcsBucket
from codeferry_gcs.credentials import GcpCredentials
from tests.gcs.conftest import Objects, TokenServer, service_account_info
from tests.remote import object_stores as stores
from tests.remote.object_stores import StoreChecks, tree
from tests.servers.gcs import GcsEmulator

CODE = {
    "flow.py": b"def main():\n    return 'gcs'\n",
    "pkg/__init__.py": b"",
    "pkg/deep/helpers.py": b"X = 1\n",
}


@pytest.fixture(autouse=True)
def no_emulator_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)


class TestGcsBucket(StorageContract):
    expected_skips = 2  # the emulator cannot hold ../escaped.py or a/../../escaped.py

    @pytest.fixture
    def store(self, objects: Objects, gcs_emulator: GcsEmulator) -> StoreHandle:
        storage = GcsBucket(
            bucket=objects.bucket,
            bucket_folder="code",
            gcp_credentials=GcpCredentials(project=gcs_emulator.project),
            endpoint_url=gcs_emulator.endpoint,
        )
        return StoreHandle(
            storage,
            lambda files: objects.replace("code", files),
            failing=lambda: storage.model_copy(update={"bucket": "no-such-bucket"}),
        )


@pytest.fixture
def bucket(objects: Objects, gcs_emulator: GcsEmulator) -> GcsBucket:
    return GcsBucket(
        bucket=objects.bucket, bucket_folder="code", endpoint_url=gcs_emulator.endpoint
    )


@pytest.fixture
def checks(objects: Objects, bucket: GcsBucket) -> StoreChecks:
    return StoreChecks(objects, bucket)


def test_folder_marker_objects_are_not_pulled_as_files(checks: StoreChecks, tmp_path: Path) -> None:
    checks.pulls_only_the_folder(tmp_path / "checkout", CODE, stores.FOLDER_MARKERS)


class TestLikeEveryObjectStore(stores.ObjectStoreBehaviours):
    code = CODE
    tooling: ClassVar[Mapping[str, bytes]] = {".git/config": b"[core]", ".venv/bin/python": b"#!"}


def test_an_object_name_that_would_be_absolute_is_refused_and_the_tree_stays(
    objects: Objects, checks: StoreChecks, tmp_path: Path
) -> None:
    def put_hostile() -> None:
        objects.put("code//etc/cron.d/pwned", b"* * * * * root true\n")

    error = checks.refuses_a_hostile_name(tmp_path / "checkout", CODE, put_hostile)
    assert "path" in str(error)
    assert not Path("/etc/cron.d/pwned").exists()


def test_a_missing_bucket_is_a_clear_error(gcs_emulator: GcsEmulator, tmp_path: Path) -> None:
    storage = GcsBucket(bucket="no-such-bucket", endpoint_url=gcs_emulator.endpoint)
    with pytest.raises(CodeferryError, match="no-such-bucket"):
        storage.pull_code(tmp_path / "checkout")


def test_the_emulator_variable_is_honoured(
    objects: Objects, gcs_emulator: GcsEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    objects.replace("code", CODE)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.endpoint)
    storage = GcsBucket(bucket=objects.bucket, bucket_folder="code")
    assert tree(storage.pull_code(tmp_path / "checkout").directory) == CODE


def test_a_service_account_key_signs_the_requests(
    objects: Objects,
    gcs_emulator: GcsEmulator,
    token_server: TokenServer,
    tmp_path: Path,
) -> None:
    objects.replace("code", CODE)
    info = service_account_info(token_server.url)
    storage = GcsBucket(
        bucket=objects.bucket,
        bucket_folder="code",
        gcp_credentials=GcpCredentials(service_account_info=info),
        endpoint_url=gcs_emulator.endpoint,
    )
    assert tree(storage.pull_code(tmp_path / "checkout").directory) == CODE
    assert token_server.assertions, "the service account key was never used to get a token"
    assert info["private_key"] not in repr(storage)


def test_prefect_yaml_steps_push_and_pull_with_a_credentials_dictionary(
    gcs_plugins: Plugins,
    objects: Objects,
    gcs_emulator: GcsEmulator,
    token_server: TokenServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.endpoint)
    source = stores.write_prefect_project(tmp_path / "project", CODE)
    # What `{{ prefect.blocks.gcp-credentials.NAME }}` expands to in a prefect.yaml.
    credentials = {
        "service_account_info": service_account_info(token_server.url),
        "service_account_file": None,
        "project": "flows-project",
    }
    monkeypatch.chdir(source)
    push = gcs_plugins.step("prefect_gcp.deployments.steps.push_to_gcs").function
    pull = gcs_plugins.step("prefect_gcp.deployments.steps.pull_from_gcs").function
    place = {"bucket": objects.bucket}
    stores.assert_steps_round_trip(objects, push, pull, place, credentials, CODE)


def test_saved_blocks_load_and_pull(
    objects: Objects, gcs_emulator: GcsEmulator, token_server: TokenServer, tmp_path: Path
) -> None:
    objects.replace("code", CODE)
    info = service_account_info(token_server.url)
    credentials = GcpCredentials(service_account_info=info, project="flows-project")
    credentials.save("ci")
    GcsBucket(
        bucket=objects.bucket,
        bucket_folder="code",
        gcp_credentials=credentials,
        endpoint_url=gcs_emulator.endpoint,
    ).save("flows")
    loaded = Block.load("gcs-bucket/flows")
    assert isinstance(loaded, GcsBucket)
    assert loaded.gcp_credentials.block_name == "ci"
    assert loaded.gcp_credentials.token() == info
    assert tree(loaded.pull_code(tmp_path / "checkout").directory) == CODE


def test_the_pull_step_refers_to_saved_credentials_by_name() -> None:
    credentials = GcpCredentials(service_account_info=service_account_info("http://x/token"))
    storage = GcsBucket(bucket="flows", bucket_folder="prod", gcp_credentials=credentials)
    with pytest.raises(CodeferryError, match="save the bucket's credentials"):
        storage.to_pull_step()
    credentials.save("ci")
    assert storage.to_pull_step() == {
        "codeferry_gcs.steps.pull_from_gcs": {
            "bucket": "flows",
            "folder": "prod",
            "credentials": "{{ blocks.gcp-credentials.ci }}",
        }
    }


@pytest.mark.parametrize("scheme", ["gs", "gcs"])
def test_urls_pull_with_the_environment(
    gcs_plugins: Plugins,
    objects: Objects,
    gcs_emulator: GcsEmulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    scheme: str,
) -> None:
    objects.replace("code", CODE)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.endpoint)
    storage = gcs_plugins.storage_from_source(f"{scheme}://{objects.bucket}/code/")
    assert isinstance(storage, GcsBucket)
    assert str(storage) == f"gs://{objects.bucket}/code"
    assert tree(storage.pull_code(tmp_path / "checkout").directory) == CODE


def test_a_url_with_credentials_in_it_is_refused_without_showing_them(
    gcs_plugins: Plugins,
) -> None:
    with pytest.raises(CodeferryError, match="must not carry credentials") as caught:
        gcs_plugins.storage_from_source("gs://oauth2:ya29.secret@flows/prod")
    assert "ya29.secret" not in str(caught.value)


def test_the_push_step_honours_its_ignore_file_and_leaves_tooling_folders_out(
    gcs_plugins: Plugins,
    objects: Objects,
    gcs_emulator: GcsEmulator,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.endpoint)
    source = stores.ignore_file_project(
        tmp_path / "project", (".tox/py311/log", ".mypy_cache/x.json")
    )
    push = gcs_plugins.step("prefect_gcp.deployments.steps.push_to_gcs").function
    push(bucket=objects.bucket, folder="code", ignore_file="deploy.ignore", source=str(source))
    assert stores.pushed_names(objects) == stores.IGNORE_FILE_PUSHED
