"""Prefect's ``RemoteStorage`` (prefect/runner/storage.py), as Prefect's tests assert it.

Each test is a behaviour ``tests/runner/test_storage.py::TestRemoteStorage`` asserts, run
against codeferry's :class:`~codeferry.remote.RemoteStorage`: the same, or the documented
difference (docs/moving-from-prefect.md) asserted as it is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codeferry.blocks import Secret
from codeferry.errors import CodeferryError, PullError
from codeferry.remote import RemoteStorage
from tests.remote.conftest import MemoryFolder


def test_options_given_as_secret_blocks_reach_the_filesystem_as_their_values() -> None:
    storage = RemoteStorage(
        "memory://bucket/path",
        key=Secret(value="fake-key"),
        secret=Secret(value="fake-secret"),
        skip_instance_cache=True,
    )
    options = storage.filesystem.storage_options
    assert (options["key"], options["secret"]) == ("fake-key", "fake-secret")
    assert "fake-secret" not in repr(storage) + str(storage)


def test_the_pull_step_names_saved_secret_blocks() -> None:
    key, secret = Secret(value="fake"), Secret(value="fake")
    key.save("aws-access-key-id")
    secret.save("aws-secret-access-key")
    storage = RemoteStorage("s3://bucket/path", key=key, secret=secret)
    # Prefect writes "{{ prefect.blocks.secret.NAME }}" and a "requires: s3fs" entry; codeferry
    # installs nothing at run time, and reads both forms of the reference.
    assert storage.to_pull_step() == {
        "codeferry.remote.steps.pull_from_remote_storage": {
            "url": "s3://bucket/path",
            "key": "{{ blocks.secret.aws-access-key-id }}",
            "secret": "{{ blocks.secret.aws-secret-access-key }}",
        }
    }


def test_a_pull_step_with_an_unsaved_secret_block_is_refused() -> None:
    storage = RemoteStorage("s3://bucket/path", key=Secret(value="fake"))
    with pytest.raises(CodeferryError, match="save the secret block given as 'key'") as caught:
        storage.to_pull_step()
    assert "fake" not in str(caught.value)


def test_storages_of_one_url_and_options_are_equal() -> None:
    assert RemoteStorage("s3://bucket/path") == RemoteStorage("s3://bucket/path")
    assert RemoteStorage("s3://bucket/path") != RemoteStorage("gs://bucket/path")
    assert RemoteStorage("s3://bucket/path", anon=True) != RemoteStorage("s3://bucket/path")


def test_repr_names_the_url() -> None:
    assert repr(RemoteStorage("s3://bucket/path")) == "RemoteStorage(url='s3://bucket/path')"


def test_a_scheme_whose_library_is_missing_names_what_to_install() -> None:
    # Prefect: RemoteStorage._get_required_package_for_scheme("s3") == "s3fs".
    with pytest.raises(CodeferryError, match="Install huggingface_hub") as caught:
        _ = RemoteStorage("hf://datasets/x").filesystem
    assert str(caught.value).startswith("cannot open hf://datasets/x: ")


def test_a_failed_pull_names_the_store_and_a_hint(tmp_path: Path) -> None:
    # Prefect: "Failed to pull contents from remote storage 'memory://...'" with a hint.
    missing = MemoryFolder()
    with pytest.raises(PullError, match="holds no files; check the bucket and folder names"):
        RemoteStorage(missing.url).pull_code(tmp_path / "out")


def test_pulled_code_lands_in_a_checkout_not_under_the_working_folder(
    memory_folder: MemoryFolder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prefect's destination is Path.cwd() / "bucket" / "path"; codeferry's is a checkout.
    memory_folder.put("flows.py", b"x")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    result = RemoteStorage(memory_folder.url).pull_code()
    assert (result.directory / "flows.py").read_bytes() == b"x"
    assert not any((tmp_path / "work").iterdir())
