"""Blobs are read in pieces: a file of any size is written with a bounded amount of memory.

Object stores are made by dulwich (loose objects, packs) and by the git CLI (deltified packs), then
read by :class:`codeferry_git.blobs.BlobReader` and written by the tree writer.
"""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
import tempfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from dulwich.objects import Blob, Tree
from dulwich.repo import Repo
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from codeferry.errors import PullError
from codeferry.storage import PullContext
from codeferry_git.blobs import BlobReader, CorruptObjectError
from codeferry_git.clients import PullTrees
from codeferry_git.trees import TreeWriter
from tests.servers.git_http import git_env

BIG = b"0123456789abcdef" * (2 << 20)  # 32 MiB that deflate shrinks: the test stays quick


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    """An empty bare repository (its object store), closed after the test."""
    with contextlib.closing(Repo.init_bare(str(tmp_path / "objects.git"), mkdir=True)) as made:
        yield made


def context(tmp_path: Path) -> PullContext:
    target = tmp_path / "target"
    target.mkdir()
    return PullContext(
        target=target,
        previous=None,
        previous_version=None,
        previous_state={},
        cache_dir=tmp_path / "cache",
    )


def content(reader: BlobReader, sha: str) -> bytes:
    location = reader.locate(sha)
    assert location is not None
    return b"".join(reader.chunks(location))


@pytest.mark.parametrize("stored", ["loose", "packed"])
def test_a_big_file_is_written_without_holding_it_in_memory(
    repo: Repo, tmp_path: Path, stored: str
) -> None:
    blob = Blob.from_string(BIG)
    tree = Tree()
    tree.add(b"model.bin", 0o100644, blob.id)
    if stored == "loose":
        repo.object_store.add_object(blob)
        repo.object_store.add_object(tree)
    else:
        repo.object_store.add_objects([(blob, None), (tree, None)])
    sha, tree_id, expected = blob.id.decode(), tree.id.decode(), hashlib.sha256(BIG).hexdigest()
    del blob, tree
    target = context(tmp_path)
    tracemalloc.start()
    try:
        stats = TreeWriter(PullTrees.for_pull(target, "repo")).write(
            repo.object_store, tree_id, None
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    written = target.target / "model.bin"
    assert (stats.files, stats.bytes) == (1, len(BIG))
    assert hashlib.sha256(written.read_bytes()).hexdigest() == expected
    assert peak < 8 << 20, f"writing a {len(BIG) >> 20} MiB blob took {peak >> 20} MiB; {sha}"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(size=st.one_of(st.integers(0, 40), st.sampled_from([15, 16, 2047, 2048, 262143, 262144])))
def test_packed_and_loose_blobs_of_any_size_read_back_exactly(tmp_path: Path, size: int) -> None:
    data = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    blob = Blob.from_string(data)
    for stored in ("loose", "packed"):
        with contextlib.closing(Repo.init_bare(tempfile.mkdtemp(dir=tmp_path))) as repo:
            if stored == "loose":
                repo.object_store.add_object(blob)
            else:
                repo.object_store.add_objects([(blob, None)])
            with BlobReader(repo.object_store) as reader:
                assert content(reader, blob.id.decode()) == data, stored


def test_a_deltified_blob_is_left_to_dulwich_and_still_written_exactly(tmp_path: Path) -> None:
    work = tmp_path / "work"
    env = git_env(tmp_path)
    subprocess.run(["git", "init", "-q", "-b", "main", str(work)], check=True, env=env)
    base = b"".join(b"line %d of a file that changes a little\n" % n for n in range(4000))
    versions = {b"old.txt": base, b"new.txt": base + b"one more line\n"}
    for name, data in versions.items():
        (work / name.decode()).write_bytes(data)
        subprocess.run(["git", "add", name.decode()], cwd=work, check=True, env=env)
        subprocess.run(["git", "commit", "-qm", "v"], cwd=work, check=True, env=env)
    subprocess.run(["git", "repack", "-adfq", "--window=10"], cwd=work, check=True, env=env)
    with contextlib.closing(Repo(str(work))) as repo:
        tree = repo[repo[repo.head()].tree]  # type: ignore[attr-defined]
        assert isinstance(tree, Tree)
        with BlobReader(repo.object_store) as reader:
            whole = [n for n in versions if reader.locate(tree[n][1].decode()) is not None]
        assert len(whole) == 1, "git stored both files whole: nothing here is deltified"
        target = context(tmp_path)
        TreeWriter(PullTrees.for_pull(target, "repo")).write(
            repo.object_store, tree.id.decode(), None
        )
    for name, data in versions.items():
        assert (target.target / name.decode()).read_bytes() == data


def test_a_blob_missing_from_the_store_is_refused_naming_its_path(
    repo: Repo, tmp_path: Path
) -> None:
    present, absent = Blob.from_string(b"A = 1\n"), Blob.from_string(b"never sent\n")
    tree = Tree()
    tree.add(b"a.py", 0o100644, present.id)
    tree.add(b"b.py", 0o100644, absent.id)
    repo.object_store.add_objects([(present, None), (tree, None)])
    with pytest.raises(PullError, match=r"path 'b\.py' is missing from the repository"):
        TreeWriter(PullTrees.for_pull(context(tmp_path), "https://git.example/omits.git")).write(
            repo.object_store, tree.id.decode(), None
        )


def test_a_truncated_object_is_a_clear_error(repo: Repo) -> None:
    blob = Blob.from_string(BIG[: 4 << 20])
    repo.object_store.add_object(blob)
    sha = blob.id.decode()
    loose = Path(repo.object_store.path) / sha[:2] / sha[2:]
    loose.chmod(0o644)
    loose.write_bytes(loose.read_bytes()[:-10])
    with BlobReader(repo.object_store) as reader, pytest.raises(CorruptObjectError):
        content(reader, sha)
