"""prefect-gcp's GCS steps, as its own tests assert them, against the GCS emulator.

Each test is a behaviour ``prefect-gcp/tests/projects/test_steps.py`` asserts, run through
codeferry's steps: the same result, or the documented difference (docs/moving-from-prefect.md)
asserted as it is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from codeferry.plugins import Plugins
from codeferry.remote import MANIFEST_NAME
from codeferry_gcs.bucket import GcsBucket
from tests.conftest import write_tree
from tests.gcs.conftest import Objects, TokenServer, service_account_info
from tests.remote.object_stores import tree
from tests.servers.gcs import GcsEmulator


@pytest.fixture(autouse=True)
def emulator(monkeypatch: pytest.MonkeyPatch, gcs_emulator: GcsEmulator) -> GcsEmulator:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.endpoint)
    return gcs_emulator


@pytest.fixture
def tmp_files(tmp_path: Path) -> Path:
    """prefect-gcp's project, with a .prefectignore leaving out testdir1 and itself."""
    names = ("testfile1.txt", "testfile2.txt", "testdir1/testfile4.txt", "testdir2/x.txt")
    files = dict.fromkeys(names, "Sample text")
    return write_tree(
        tmp_path / "project", {**files, ".prefectignore": "testdir1/*\n.prefectignore"}
    )


PREFECT = "prefect_gcp.deployments.steps"


@pytest.fixture
def push(gcs_plugins: Plugins) -> Any:
    """Prefect's push_to_gcs, as codeferry runs it."""
    return gcs_plugins.step(f"{PREFECT}.push_to_gcs").function


@pytest.fixture
def pull(gcs_plugins: Plugins) -> Any:
    """Prefect's pull_from_gcs, as codeferry runs it."""
    return gcs_plugins.step(f"{PREFECT}.pull_from_gcs").function


def test_push_sends_the_working_folder_but_what_is_ignored_and_pull_brings_it_back(
    push: Any, pull: Any, objects: Objects, tmp_files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_files)
    outputs = push(objects.bucket, "my-folder")
    assert (outputs["bucket"], outputs["folder"]) == (objects.bucket, "my-folder")
    assert objects.names("my-folder/") == [
        f"my-folder/{MANIFEST_NAME}",
        "my-folder/testdir2/x.txt",
        "my-folder/testfile1.txt",
        "my-folder/testfile2.txt",
    ]
    pulled = pull(objects.bucket, "my-folder")
    assert set(tree(Path(pulled["directory"]))) == {
        "testdir2/x.txt",
        "testfile1.txt",
        "testfile2.txt",
    }


def test_service_account_info_signs_push_and_pull(
    push: Any,
    pull: Any,
    objects: Objects,
    token_server: TokenServer,
    tmp_files: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    credentials = {"service_account_info": service_account_info(token_server.url)}
    monkeypatch.chdir(tmp_files)
    push(objects.bucket, "my-folder", credentials=credentials)
    pull(objects.bucket, "my-folder", credentials=credentials)
    assert len(token_server.assertions) >= 1  # the key's signed assertion was exchanged


def test_service_account_file_is_read(
    pull: Any, objects: Objects, token_server: TokenServer, tmp_path: Path
) -> None:
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps(service_account_info(token_server.url)))
    objects.put("my-folder/flow.py", b"x")
    credentials = {"service_account_file": str(key_file), "project": "my-project"}
    pulled = pull(objects.bucket, "my-folder", credentials=credentials)
    assert tree(Path(pulled["directory"])) == {"flow.py": b"x"}
    assert token_server.assertions


def test_the_project_argument_is_honoured_where_prefect_takes_the_credentials_one(
    objects: Objects,
) -> None:
    storage = GcsBucket.from_step_arguments(
        objects.bucket, "my-folder", {"project": "from-credentials"}, project="from-argument"
    )
    assert storage.gcp_credentials.project == "from-argument"
    assert (
        GcsBucket.from_step_arguments(
            objects.bucket, "my-folder", {"project": "from-credentials"}
        ).gcp_credentials.project
        == "from-credentials"
    )
