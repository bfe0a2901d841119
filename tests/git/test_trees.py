"""The tree writer's own guard, for entries a hostile server could send but git never would.

git's server refuses to send some names (an empty one) and git cannot even make others (``a/b``),
so these trees are built in a dulwich object store and handed to the writer directly.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dulwich.object_store import MemoryObjectStore
from dulwich.objects import Blob, ObjectID, RawObjectID, Tree

from codeferry.errors import PullError
from codeferry.reuse import seal
from codeferry.storage import PullContext
from codeferry_git.clients import PullTrees
from codeferry_git.trees import TreeWriter

# (A ".git" entry is no such name: it is left out, as git leaves it out; see
# test_errors_and_secrets.test_git_folder_entries_are_left_out_as_git_leaves_them.)
HOSTILE_NAMES = [b"", b"a/b", b"../x", b"a\\b", b"C:x", b".", b"..", b"x" * 256]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=repr)
def test_a_tree_entry_no_git_server_would_send_is_refused(tmp_path: Path, name: bytes) -> None:
    store = MemoryObjectStore()
    blob = Blob.from_string(b"pwned = True\n")
    store.add_object(blob)
    tree = Tree()
    tree.add(b"ok.py", 0o100644, blob.id)
    tree.add(name, 0o100644, blob.id)
    store.add_object(tree)
    target = tmp_path / "target"
    target.mkdir()
    context = PullContext(
        target=target,
        previous=None,
        previous_version=None,
        previous_state={},
        cache_dir=tmp_path / "cache",
    )
    writer = TreeWriter(PullTrees.for_pull(context, "https://git.example/hostile.git"))
    with pytest.raises(PullError, match=r"hostile\.git: path .* is not a safe file name; refused"):
        writer.write(store, tree.id.decode(), None)
    assert not any(target.iterdir()), "nothing is written once a bad entry is met"
    assert [p.name for p in tmp_path.iterdir()] == ["target"]


def _context(tmp_path: Path, previous: Path | None) -> PullContext:
    """A pull's context after ``previous`` was committed (sealed, as the checkout does)."""
    target = tmp_path / "target"
    target.mkdir()
    return PullContext(
        target=target,
        previous=previous,
        previous_version="v1" if previous else None,
        previous_state={},
        cache_dir=tmp_path / "cache",
        previous_files=seal(previous) if previous else {},
    )


def _tree(store: MemoryObjectStore, files: dict[bytes, bytes]) -> Tree:
    tree = Tree()
    for name, data in files.items():
        blob = Blob.from_string(data)
        store.add_object(blob)
        tree.add(name, 0o100644, blob.id)
    store.add_object(tree)
    return tree


def test_unchanged_files_are_linked_from_the_previous_version(tmp_path: Path) -> None:
    store = MemoryObjectStore()
    names = {f"m{n}.py".encode(): f"N = {n}\n".encode() for n in range(600)}
    old = _tree(store, names)
    new = _tree(store, {**names, b"m1.py": b"CHANGED\n"})
    previous = tmp_path / "previous"
    previous.mkdir()
    for name, data in names.items():
        (previous / name.decode()).write_bytes(data)
    (previous / "m2.py").unlink()  # gone from the old copy: written from its blob instead

    context = _context(tmp_path, previous)
    stats = TreeWriter(PullTrees.for_pull(context, "repo")).write(
        store, new.id.decode(), old.id.decode()
    )

    assert (stats.reused, stats.files) == (598, 2)
    assert (context.target / "m1.py").read_bytes() == b"CHANGED\n"
    assert (context.target / "m2.py").read_bytes() == b"N = 2\n"
    assert (context.target / "m3.py").stat().st_ino == (previous / "m3.py").stat().st_ino
    assert {p.name for p in context.target.iterdir()} == {n.decode() for n in names}


class _RawTrees(MemoryObjectStore):
    """An object store answering some ids with raw tree bytes dulwich would never build."""

    def __init__(self, raw: dict[bytes, bytes]) -> None:
        super().__init__()
        self._raw = raw

    def get_raw(self, name: RawObjectID | ObjectID) -> tuple[int, bytes]:
        if name in self._raw:
            return Tree.type_num, self._raw[name]
        return super().get_raw(name)


def test_a_tree_naming_an_unchanged_file_twice_is_refused(tmp_path: Path) -> None:
    blob = Blob.from_string(b"A = 1\n")
    twice = b"twice" * 8
    store = _RawTrees(
        {twice: b"100644 a.py\0" + blob.sha().digest() + b"100644 a.py\0" + blob.sha().digest()}
    )
    store.add_object(blob)
    old = _tree(store, {b"a.py": b"A = 1\n"})
    previous = tmp_path / "previous"
    previous.mkdir()
    (previous / "a.py").write_bytes(b"A = 1\n")

    writer = TreeWriter(
        PullTrees.for_pull(_context(tmp_path, previous), "https://git.example/hostile.git")
    )
    with pytest.raises(PullError, match=r"path 'a.py' appears twice in its tree; refused"):
        writer.write(store, twice.decode(), old.id.decode())
