"""The remote-storage engine on fsspec's memory and local filesystems: pulls, pushes, edge cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeferry.errors import PullError, PushError, UnsafePathError
from codeferry.plugins import Plugins
from codeferry.remote import MANIFEST_NAME, Manifest, RemoteStorage
from tests.remote.conftest import MemoryFolder
from tests.remote.object_stores import tree


def write(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def test_folder_never_pulls_a_sibling_folder_that_shares_its_prefix(
    memory_folder: MemoryFolder, tmp_path: Path
) -> None:
    memory_folder.put("code/flow.py", b"mine")
    memory_folder.put("code-old/flow.py", b"stale")
    memory_folder.put("codex.py", b"beside")
    result = RemoteStorage(f"{memory_folder.url}/code").pull_code(tmp_path / "out")
    assert tree(result.directory) == {"flow.py": b"mine"}


def test_missing_folder_fails_in_one_line_naming_it(tmp_path: Path) -> None:
    storage = RemoteStorage("memory://no-such-folder-here")
    with pytest.raises(PullError, match="memory://no-such-folder-here holds no files") as caught:
        storage.pull_code(tmp_path / "out")
    assert "\n" not in str(caught.value)


def test_keys_that_normalise_to_one_file_are_refused(
    memory_folder: MemoryFolder, tmp_path: Path
) -> None:
    memory_folder.put("a/b.py", b"one")
    memory_folder.put("a/./b.py", b"two")
    with pytest.raises(UnsafePathError, match="name the same file"):
        RemoteStorage(memory_folder.url).pull_code(tmp_path / "out")


def test_push_sends_only_changed_files_and_skips_tooling_and_ignored(
    memory_folder: MemoryFolder, tmp_path: Path
) -> None:
    source = write(
        tmp_path / "src",
        {
            "flow.py": "v1",
            "pkg/lib.py": "lib",
            "debug.log": "noise",
            "build/out.txt": "built",
            ".git/config": "[core]",
            "__pycache__/flow.cpython-311.pyc": "pyc",
            ".venv/bin/python": "py",
            ".prefectignore": "*.log\n",
            ".codeferryignore": "build/\n",
        },
    )
    storage = RemoteStorage(memory_folder.url)
    first = storage.push_code(source)
    assert memory_folder.paths() == sorted(
        [".codeferryignore", ".prefectignore", MANIFEST_NAME, "flow.py", "pkg/lib.py"]
    )
    assert first.files == 4
    again = storage.push_code(source)
    assert (again.files, again.version) == (0, first.version)
    (source / "flow.py").write_text("v2")
    third = storage.push_code(source)
    assert third.files == 1
    assert third.version != first.version


def test_push_leaves_out_every_tooling_folder_the_other_pushes_leave_out(
    memory_folder: MemoryFolder, tmp_path: Path
) -> None:
    from codeferry.walk import TOOLING_FOLDERS

    files = {f"pkg/{name}/state": "x" for name in TOOLING_FOLDERS}
    source = write(tmp_path / "src", {"flow.py": "x", **files})
    RemoteStorage(memory_folder.url).push_code(source)
    assert memory_folder.paths() == [MANIFEST_NAME, "flow.py"]
    assert {".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache"} <= TOOLING_FOLDERS


def test_push_deletes_what_it_pushed_before_but_nothing_else(
    memory_folder: MemoryFolder, tmp_path: Path
) -> None:
    memory_folder.put("foreign.txt", b"someone else's")
    source = write(tmp_path / "src", {"a.py": "a", "b.py": "b"})
    storage = RemoteStorage(memory_folder.url)
    storage.push_code(source)
    (source / "b.py").unlink()
    storage.push_code(source)
    assert memory_folder.paths() == sorted([MANIFEST_NAME, "a.py", "foreign.txt"])


def test_pull_after_push_reports_the_manifest_version_and_skips_the_manifest(
    memory_folder: MemoryFolder, tmp_path: Path
) -> None:
    source = write(tmp_path / "src", {"flow.py": "x", "pkg/a.py": "a"})
    storage = RemoteStorage(memory_folder.url)
    pushed = storage.push_code(source)
    pulled = storage.pull_code(tmp_path / "out")
    assert pulled.version == pushed.version
    assert tree(pulled.directory) == {"flow.py": b"x", "pkg/a.py": b"a"}


def test_pull_refuses_a_file_that_differs_from_the_manifest(
    memory_folder: MemoryFolder, tmp_path: Path
) -> None:
    source = write(tmp_path / "src", {"flow.py": "good"})
    storage = RemoteStorage(memory_folder.url, attempts=2)
    storage.push_code(source)
    memory_folder.put("flow.py", b"evil")  # same size, other content, manifest untouched
    with pytest.raises(PullError, match=r"flow\.py.*SHA-256 differs from the manifest"):
        storage.pull_code(tmp_path / "out")


def test_an_unreadable_manifest_is_ignored_and_the_listing_gives_the_version(
    memory_folder: MemoryFolder, tmp_path: Path
) -> None:
    memory_folder.put("flow.py", b"x")
    memory_folder.put(MANIFEST_NAME, b"{not json")
    result = RemoteStorage(memory_folder.url).pull_code(tmp_path / "out")
    assert tree(result.directory) == {"flow.py": b"x"}


def test_manifest_round_trips_and_its_version_depends_only_on_content() -> None:
    from codeferry.remote import ManifestEntry

    one = Manifest({"a.py": ManifestEntry(1, "00" * 32, None), "b.py": ManifestEntry(2, "11" * 32)})
    again = Manifest.parse(one.to_bytes())
    assert again == one
    assert again.version == one.version
    document = json.loads(one.to_bytes())
    assert document["version"] == one.version


def test_manifest_of_another_format_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        Manifest.parse(b'{"format": "other/9", "files": {}}')


def test_push_of_an_empty_folder_is_refused(memory_folder: MemoryFolder, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(PushError, match="holds no files"):
        RemoteStorage(memory_folder.url).push_code(tmp_path / "empty")


def test_file_urls_push_and_pull_with_delete_propagation(tmp_path: Path) -> None:
    remote = tmp_path / "remote"
    source = write(tmp_path / "src", {"a.py": "a", "sub/b.py": "b"})
    storage = RemoteStorage(remote.as_uri())
    storage.push_code(source)
    first = storage.pull_code(tmp_path / "out")
    (source / "sub/b.py").unlink()
    storage.push_code(source)
    second = storage.pull_code(tmp_path / "out")
    assert tree(second.directory) == {"a.py": b"a"}
    assert second.files == 0  # a.py was reused from the first pull
    assert tree(first.directory) == {"a.py": b"a", "sub/b.py": b"b"}


def test_generic_fsspec_urls_are_claimed_by_core(plugins: Plugins) -> None:
    storage = plugins.storage_from_source("memory://somewhere")
    assert isinstance(storage, RemoteStorage)
    assert str(storage) == "memory://somewhere"


def test_schemes_with_a_known_plugin_are_left_to_it(plugins: Plugins) -> None:
    from codeferry.errors import SourceNotSupportedError

    with pytest.raises(SourceNotSupportedError, match="codeferry-s3"):
        plugins.storage_from_source("s3://bucket/folder")


def test_credentials_in_options_never_reach_str_repr_or_pull_step() -> None:
    from codeferry.errors import CodeferryError

    storage = RemoteStorage("memory://x", password="hunter2-secret", client_kwargs={"k": 1})
    assert "hunter2" not in str(storage) + repr(storage)
    with pytest.raises(CodeferryError) as caught:
        storage.to_pull_step()
    assert "hunter2" not in str(caught.value)


def test_pull_step_with_storage_options_pulls_through_the_engine(
    plugins: Plugins, memory_folder: MemoryFolder, tmp_path: Path
) -> None:
    memory_folder.put("flow.py", b"x")
    step = plugins.step("prefect.deployments.steps.pull_from_remote_storage").function
    outputs = step(
        url=memory_folder.url, destination=str(tmp_path / "out"), skip_instance_cache=True
    )
    assert outputs is not None
    assert tree(Path(outputs["directory"])) == {"flow.py": b"x"}


def test_push_step_sends_the_folder(
    plugins: Plugins, memory_folder: MemoryFolder, tmp_path: Path
) -> None:
    source = write(tmp_path / "src", {"flow.py": "x"})
    step = plugins.step("push_to_remote_storage").function
    outputs = step(url=memory_folder.url, source=str(source))
    assert outputs is not None
    assert outputs["files"] == 1
    assert memory_folder.paths() == [MANIFEST_NAME, "flow.py"]
