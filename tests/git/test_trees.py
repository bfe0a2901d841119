"""The tree writer's own guard, for entries a hostile server could send but git never would.

git's server refuses to send some names (an empty one) and git cannot even make others (``a/b``),
so these trees are built in a dulwich object store and handed to the writer directly.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dulwich.object_store import MemoryObjectStore
from dulwich.objects import Blob, Tree

from codeferry.errors import PullError
from codeferry.storage import PullContext
from codeferry_git.trees import TreeWriter

HOSTILE_NAMES = [b"", b"a/b", b"../x", b"a\\b", b"C:x", b".", b"..", b".git", b"x" * 256]


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
    writer = TreeWriter(context, "https://git.example/hostile.git")
    with pytest.raises(PullError, match=r"hostile\.git: path .* is not a safe file name; refused"):
        writer.write(store, tree.id.decode(), None)
    assert not any(target.iterdir()), "nothing is written once a bad entry is met"
    assert [p.name for p in tmp_path.iterdir()] == ["target"]
