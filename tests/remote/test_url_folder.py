"""A plain URL of a store that lists quickly is pulled without its block until the pull needs it.

``QuickMemory`` is the memory store of ``memory_store.py`` with a quick lister declared; the S3
and Azure plugins declare theirs (their own tests pull through them against moto and Azurite).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import fsspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from codeferry.errors import CodeferryError
from codeferry.remote import ObjectStore, RemoteStorage
from codeferry.remote.url_folder import UrlFolder
from codeferry_azure.plugin import Azure
from codeferry_s3.plugin import S3
from tests.remote.memory_store import Memory, MemoryBucket
from tests.remote.object_stores import tree

lister_calls: list[tuple[dict[str, Any], str, str]] = []
"""Each call of the quick lister below: its options, container and folder."""
lister_answers: list[bool] = [True]
"""Whether the quick lister answers (``False``: it cannot, as for credentials only an SDK reads)."""


def list_memory(
    options: Mapping[str, Any], container: str, folder: str
) -> dict[str, dict[str, Any]] | None:
    """The memory store's quick lister: its listing as the engine's filesystem gives it."""
    lister_calls.append((dict(options), container, folder))
    if not lister_answers[0]:
        return None
    found = fsspec.filesystem("memory").find(f"/{container}/{folder}", detail=True)
    # The memory filesystem's names begin with "/"; a store's begin with the container.
    return {name.lstrip("/"): {**info, "name": name.lstrip("/")} for name, info in found.items()}


class QuickMemory(Memory):
    """a folder in a bucket of this process's memory, listed quickly"""

    quick_lister = "tests.remote.test_url_folder:list_memory"


@pytest.fixture
def bucket() -> Iterator[str]:
    name = f"b-{uuid.uuid4().hex[:12]}"
    lister_calls.clear()
    lister_answers[0] = True
    yield name
    fs = fsspec.filesystem("memory")
    if fs.exists(f"/{name}"):
        fs.rm(f"/{name}", recursive=True)


@pytest.fixture
def blocks_made(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each URL a folder block was made for."""
    made: list[str] = []
    from_url = MemoryBucket.from_url.__func__  # type: ignore[attr-defined]

    def counting(cls: type[MemoryBucket], url: str) -> MemoryBucket:
        made.append(url)
        block: MemoryBucket = from_url(cls, url)
        return block

    monkeypatch.setattr(MemoryBucket, "from_url", classmethod(counting))
    return made


def put(bucket: str, files: Mapping[str, bytes]) -> None:
    fs = fsspec.filesystem("memory")
    for name, data in files.items():
        fs.pipe(f"/{bucket}/flows/{name}", data)


def source(url: str) -> UrlFolder:
    """The storage ``codeferry pull URL`` gets, made anew as each worker process makes it."""
    storage = QuickMemory.storage_from_source(url)
    assert isinstance(storage, UrlFolder)
    return storage


def test_a_repull_that_finds_nothing_changed_never_makes_the_block(
    bucket: str, blocks_made: list[str], tmp_path: Path
) -> None:
    put(bucket, {"flow.py": b"V = 1\n", "lib/util.py": b"U = 1\n"})
    url = f"mem://{bucket}/flows"
    first = source(url).pull_code(tmp_path / "code")
    # A first pull is the SDK's: nothing to compare a quick listing with.
    assert (first.changed, blocks_made, lister_calls) == (True, [url], [])
    again = source(url).pull_code(tmp_path / "code")
    assert (again.changed, again.directory, again.source) == (False, first.directory, url)
    assert blocks_made == [url]
    assert lister_calls == [({}, bucket, "flows")]  # the environment's credentials


def test_a_change_makes_the_block_and_is_pulled_from_the_quick_listing(
    bucket: str, blocks_made: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(bucket, {"flow.py": b"V = 1\n", "same.py": b"S = 1\n"})
    url = f"mem://{bucket}/flows"
    source(url).pull_code(tmp_path / "code")
    put(bucket, {"flow.py": b"V = 2\n"})

    def listed_again(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the folder was listed a second time")

    monkeypatch.setattr(RemoteStorage, "list_files", listed_again)
    result = source(url).pull_code(tmp_path / "code")
    assert (result.changed, result.files) == (True, 1)
    assert tree(result.directory) == {"flow.py": b"V = 2\n", "same.py": b"S = 1\n"}
    assert blocks_made == [url, url]


def test_a_listing_the_lister_cannot_make_is_the_blocks(
    bucket: str, blocks_made: list[str], tmp_path: Path
) -> None:
    put(bucket, {"flow.py": b"V = 1\n"})
    url = f"mem://{bucket}/flows"
    source(url).pull_code(tmp_path / "code")
    lister_answers[0] = False
    put(bucket, {"flow.py": b"V = 2\n"})
    result = source(url).pull_code(tmp_path / "code")
    assert (result.changed, tree(result.directory)) == (True, {"flow.py": b"V = 2\n"})
    assert len(lister_calls) == 1
    assert blocks_made == [url, url]


def test_the_url_and_its_block_are_one_source(bucket: str, tmp_path: Path) -> None:
    put(bucket, {"flow.py": b"V = 1\n"})
    url = f"mem://{bucket}/flows"
    block = MemoryBucket.from_url(url)
    first = source(url).pull_code()  # the default checkout, in the home
    assert block.pull_code().directory == first.directory
    assert block.pull_code(tmp_path / "code").changed is True
    assert source(url).pull_code(tmp_path / "code").changed is False
    assert source(url).to_pull_step() == block.to_pull_step()


def test_a_push_goes_through_the_block(bucket: str, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "pkg").mkdir(parents=True)
    (project / "pkg" / "flow.py").write_text("x")
    result = source(f"mem://{bucket}/flows").push_code(project)
    assert result.files == 1
    assert tree(MemoryBucket.from_url(f"mem://{bucket}/flows").pull_code().directory) == {
        "pkg/flow.py": b"x"
    }


def test_a_store_without_a_lister_gets_its_block() -> None:
    assert isinstance(Memory.storage_from_source("mem://flows/team"), MemoryBucket)


url_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)


@given(
    store=st.sampled_from([QuickMemory, S3, Azure]),
    scheme_index=st.integers(0, 2),
    netloc=st.one_of(
        url_text,
        st.sampled_from(["flows", "Flows-2", "a@b", "u:p@b", "b:80", "[::1]", "flows@acct.blob.x"]),
    ),
    path=st.one_of(url_text, st.sampled_from(["", "/", "/team/etl/", "//x", "/a?b=1", "/a#f"])),
)
def test_a_plain_url_names_what_its_block_names(
    store: type[ObjectStore], scheme_index: int, netloc: str, path: str
) -> None:
    # Whatever the URL: the block refuses it and the plain folder is not made (the block's
    # error is the one shown), or both are the same source, named alike, in one checkout.
    scheme = store.schemes[scheme_index % len(store.schemes)]
    url = f"{scheme}://{netloc}{'/' if path and not path.startswith('/') else ''}{path}"
    try:
        block = store.folder_class().from_url(url)
    except (CodeferryError, ValueError):
        block = None
    plain = UrlFolder.from_url(store, url)  # never raises: a URL it cannot read is the block's
    if block is None or plain is None:
        assert plain is None
        return
    assert (str(plain), plain.checkout_key()) == (str(block), block.checkout_key())
    assert (plain.container, plain.folder) == (block.container, block.folder)
