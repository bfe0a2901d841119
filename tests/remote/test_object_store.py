"""The object-store base: a plugin declared from codeferry.remote's public names alone works.

``tests/remote/memory_store.py`` is such a plugin (fsspec's memory filesystem as its store); the
S3, GCS and Azure plugins are made the same way.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import fsspec
import pytest

from codeferry.errors import CodeferryError
from codeferry.plugins import Plugins
from codeferry.remote import MANIFEST_NAME, ObjectStore, ObjectStoreFolder, RemoteStorage
from codeferry.testing import StorageContract, StoreHandle
from tests.conftest import use_plugins, write_tree
from tests.remote.conftest import MemoryFolder
from tests.remote.memory_store import Memory, MemoryBucket, MemoryToken
from tests.remote.object_stores import tree


@pytest.fixture
def memory_plugins() -> Plugins:
    """Core and the memory plugin."""
    return use_plugins(memory="tests.remote.memory_store")


@pytest.fixture
def bucket() -> Iterator[str]:
    name = f"b-{uuid.uuid4().hex[:12]}"
    yield name
    fs = fsspec.filesystem("memory")
    if fs.exists(f"/{name}"):
        fs.rm(f"/{name}", recursive=True)


def keys(bucket: str) -> list[str]:
    fs = fsspec.filesystem("memory")
    prefix = f"/{bucket}/"
    return sorted(name.removeprefix(prefix) for name in fs.find(f"/{bucket}"))


PROJECT = {
    "flow.py": "x",
    "pkg/lib.py": "lib",
    "notes.txt": "private",
    ".tox/log": "tooling",
    "deploy.ignore": "notes.txt\n",
}


@pytest.mark.usefixtures("memory_plugins")
class TestMemoryBucket(StorageContract):
    """The base passes the storage contract every plugin passes."""

    @pytest.fixture
    def store(self, bucket: str) -> StoreHandle:
        folder = MemoryFolder()
        folder.root = f"/{bucket}/code"

        token = MemoryToken(token="memory-secret-token")
        token.save("memory")
        return StoreHandle(
            MemoryBucket(bucket=bucket, bucket_folder="code", credentials=token),
            folder.replace,
            secrets=["memory-secret-token"],
            failing=lambda: MemoryBucket(bucket=f"{bucket}-missing"),
        )


def test_the_steps_are_registered_under_their_names_and_prefects(
    memory_plugins: Plugins,
) -> None:
    for name in (
        "pull_from_memory",
        "tests.remote.memory_store.pull_from_memory",
        "prefect_memory.deployments.steps.pull_from_memory",
        "push_to_memory",
        "prefect_memory.deployments.steps.push_to_memory",
    ):
        assert memory_plugins.step(name).plugin == "memory"
    assert memory_plugins.block_type("memory-bucket") is MemoryBucket
    assert memory_plugins.block_type("memory-token") is MemoryToken


def test_the_steps_take_prefects_arguments_in_prefects_order() -> None:
    from tests.remote.memory_store import pull_from_memory, push_to_memory

    assert list(inspect.signature(pull_from_memory).parameters) == [
        "bucket", "folder", "credentials", "destination", "replace",
    ]  # fmt: skip
    assert list(inspect.signature(push_to_memory).parameters) == [
        "bucket", "folder", "credentials", "ignore_file", "source",
    ]  # fmt: skip


def test_push_then_pull_through_the_steps(
    memory_plugins: Plugins, bucket: str, tmp_path: Path
) -> None:
    source = write_tree(tmp_path / "src", PROJECT)
    push = memory_plugins.step("prefect_memory.deployments.steps.push_to_memory").function
    pushed = push(bucket=bucket, folder="code", source=str(source), ignore_file="deploy.ignore")
    assert pushed is not None
    assert (pushed["bucket"], pushed["folder"], pushed["files"]) == (bucket, "code", 3)
    assert keys(bucket) == [
        "code/" + name for name in (MANIFEST_NAME, "deploy.ignore", "flow.py")
    ] + ["code/pkg/lib.py"]
    pull = memory_plugins.step("pull_from_memory").function
    pulled = pull(bucket=bucket, folder="code", destination=str(tmp_path / "out"))
    assert pulled is not None
    assert pulled["version"] == pushed["version"]
    assert tree(Path(pulled["directory"])) == {
        "deploy.ignore": b"notes.txt\n",
        "flow.py": b"x",
        "pkg/lib.py": b"lib",
    }


def test_credentials_from_a_prefect_yaml_mapping_become_the_block(bucket: str) -> None:
    made = MemoryBucket.from_step_arguments(
        bucket, "code", {"token": "memory-secret-token", "region": None}
    )
    assert isinstance(made.credentials, MemoryToken)
    assert made.credentials.token.get_secret_value() == "memory-secret-token"
    with pytest.raises(CodeferryError, match="invalid memory-token: field 'token'") as caught:
        MemoryBucket.from_step_arguments(bucket, "code", {"region": "eu"})
    assert "eu" not in str(caught.value)


def test_urls_of_its_scheme_are_its_folders(memory_plugins: Plugins) -> None:
    storage = memory_plugins.storage_from_source("mem://flows/team/etl/")
    assert isinstance(storage, MemoryBucket)
    assert (storage.bucket, storage.folder, str(storage)) == (
        "flows",
        "team/etl",
        "mem://flows/team/etl",
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mem://user:hunter2@flows/x", "Memory source mem://flows/... must not carry credentials"),
        ("mem://flows/x?token=hunter2", "must not carry credentials or a query"),
        ("mem:///x", "Memory source 'mem:///x' names no bucket"),
        ("mem://flows#frag/x", "must not carry credentials or a query"),
    ],
)
def test_urls_with_credentials_or_without_a_bucket_are_refused(
    memory_plugins: Plugins, url: str, message: str
) -> None:
    with pytest.raises(CodeferryError, match=message) as caught:
        memory_plugins.storage_from_source(url)
    assert "hunter2" not in str(caught.value)


def test_a_bucket_name_is_a_single_name() -> None:
    with pytest.raises(ValueError, match="bucket is a single name"):
        MemoryBucket(bucket="flows/team")


def test_the_pull_step_names_saved_credentials_and_refuses_unsaved_secrets(bucket: str) -> None:
    token = MemoryToken(token="memory-secret-token")
    with pytest.raises(CodeferryError, match="save the bucket's credentials as a block first"):
        MemoryBucket(bucket=bucket, credentials=token).to_pull_step()
    token.save("ops")
    assert MemoryBucket(
        bucket=bucket, bucket_folder="/code/", credentials=token
    ).to_pull_step() == {
        "tests.remote.memory_store.pull_from_memory": {
            "bucket": bucket,
            "folder": "code",
            "credentials": "{{ blocks.memory-token.ops }}",
        }
    }


def test_a_step_argument_the_store_declares_but_never_uses_is_an_error() -> None:
    class Careless(MemoryBucket):
        step_arguments: ClassVar[tuple[str, ...]] = ("bucket", "folder", "credentials", "region")

    pull, _ = Careless.steps()
    with pytest.raises(TypeError, match=r"does not use the step arguments \['region'\]"):
        pull("flows", region="eu-west-1")


def test_a_folder_naming_a_field_it_does_not_have_is_refused() -> None:
    with pytest.raises(
        TypeError, match=r"fields it does not have: \['bucket_folder', 'credentials'\]"
    ):

        class Wrong(ObjectStoreFolder):
            store: ClassVar[type[ObjectStore]] = Memory
            bucket: str

            def remote(self) -> RemoteStorage:
                raise NotImplementedError


def test_a_declaration_without_schemes_is_refused() -> None:
    with pytest.raises(TypeError, match="does not declare"):

        class Nameless(ObjectStore):
            folder = "tests.remote.memory_store:MemoryBucket"
            steps = ("pull_from_nowhere", "push_to_nowhere")


def test_steps_the_steps_module_does_not_hold_are_refused_by_name() -> None:
    class Misplaced(Memory):
        steps_module = "tests.remote.conftest"

    def register(_step: Any, **_options: Any) -> None:
        raise AssertionError("nothing is registered")

    with pytest.raises(
        TypeError, match=r"tests\.remote\.conftest\.pull_from_memory is not the step"
    ):
        Misplaced.register_steps(register)


def test_the_default_steps_module_is_beside_the_folders() -> None:
    class Elsewhere(ObjectStore):
        schemes = ("x",)
        folder = "codeferry_x.bucket:XBucket"
        steps = ("pull_from_x", "push_to_x")

    assert Elsewhere.step_names() == (
        "codeferry_x.steps.pull_from_x",
        "codeferry_x.steps.push_to_x",
    )
    assert (Elsewhere.kind, Elsewhere.title, Elsewhere.description) == (
        "elsewhere",
        "Elsewhere",
        "",
    )


def test_the_object_store_page_shows_this_plugins_code() -> None:
    import re

    root = Path(__file__).resolve().parents[2]
    page = (root / "docs" / "object-store-plugin.md").read_text()
    plugin = (root / "tests" / "remote" / "memory_store.py").read_text()
    lines = {line.strip() for line in plugin.splitlines()}
    blocks = re.findall(r"```python[^\n]*\n(.*?)```", page, re.DOTALL)
    assert len(blocks) == 2
    for block in blocks:
        for line in block.splitlines():
            code = line.strip().replace('"codeferry_memory', '"tests.remote.memory_store')
            if code:
                assert code in lines, line
