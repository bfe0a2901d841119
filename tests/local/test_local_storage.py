"""The local plugin: folders as sources, incremental copies, its steps."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from codeferry.errors import CodeferryError, PullError
from codeferry.plugins import Plugins
from codeferry.remote import MANIFEST_NAME, Manifest, ManifestEntry
from codeferry_local.folder import LocalFolder
from codeferry_local.storage import LocalDirectory
from tests.remote.object_stores import write_files


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_files(
        tmp_path / "project",
        {
            "flow.py": b"from pkg.helpers import greet\n",
            "pkg/__init__.py": b"",
            "pkg/helpers.py": b"def greet(): return 'hi'\n",
            "__pycache__/flow.cpython-311.pyc": b"junk",  # never copied
            ".git/config": b"[core]",  # never copied
        },
    )


def files(directory: Path) -> set[str]:
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}


def test_paths_and_file_urls_resolve_to_local_storage(plugins: Plugins, project: Path) -> None:
    assert isinstance(plugins.storage_from_source(str(project)), LocalFolder)
    storage = plugins.storage_from_source(project.as_uri())
    assert isinstance(storage, LocalFolder)
    assert str(storage) == str(project)


def test_a_path_source_imports_no_block_model(project: Path) -> None:
    # A pull from a path is what a worker runs before every flow run: pydantic is not its cost.
    code = (
        "import sys\n"
        "from codeferry.plugins import Plugins\n"
        "from codeferry_local import plugin\n"
        "plugins = Plugins({'local': plugin}, entry_points=False)\n"
        "storage = plugins.storage_from_source(sys.argv[1])\n"
        "storage.pull_code(sys.argv[2])\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'pydantic'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(project), str(project.parent / "code")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]"


def test_a_folder_pulled_by_path_and_by_block_is_one_checkout(
    project: Path, tmp_path: Path
) -> None:
    by_path = LocalFolder(str(project))
    by_block = LocalDirectory(path=str(project))
    # The key checkouts were made under before the block handed its work to LocalFolder.
    assert by_path.checkout_key() == f"codeferry_local.storage.LocalDirectory {project}"
    assert by_block.checkout_key() == by_path.checkout_key()
    first = by_path.pull_code(tmp_path / "code")
    again = by_block.pull_code(tmp_path / "code")  # not refused as another source's
    assert not again.changed
    assert again.directory == first.directory
    assert by_block.to_pull_step() == by_path.to_pull_step()


def test_urls_of_other_schemes_are_left_to_other_plugins(plugins: Plugins) -> None:
    with pytest.raises(CodeferryError, match="codeferry-git"):
        plugins.storage_from_source("git@github.com:acme/flows.git")


def test_pull_copies_code_but_not_tooling_folders(project: Path) -> None:
    result = LocalDirectory(path=str(project)).pull_code()
    assert files(result.directory) == {"flow.py", "pkg/__init__.py", "pkg/helpers.py"}
    assert result.files == 3


def test_repull_of_unchanged_folder_moves_nothing(project: Path) -> None:
    storage = LocalDirectory(path=str(project))
    first = storage.pull_code()
    again = storage.pull_code()
    assert not again.changed
    assert again.directory == first.directory
    assert again.version == first.version


def test_repull_copies_only_what_changed(project: Path) -> None:
    storage = LocalDirectory(path=str(project))
    storage.pull_code()
    (project / "pkg" / "helpers.py").write_text("def greet(): return 'hello'\n")
    (project / "flow.py").unlink()
    result = storage.pull_code()
    assert result.files == 1
    assert files(result.directory) == {"pkg/__init__.py", "pkg/helpers.py"}
    assert "hello" in (result.directory / "pkg" / "helpers.py").read_text()


def test_version_depends_on_content_not_timestamps(project: Path) -> None:
    storage = LocalDirectory(path=str(project))
    first = storage.pull_code()
    os.utime(project / "flow.py", ns=(1, 1))
    second = storage.pull_code()
    assert second.version == first.version


def test_symlinks_out_of_the_folder_are_not_followed(project: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    (project / "leak.txt").symlink_to(secret)
    result = LocalDirectory(path=str(project)).pull_code()
    assert "leak.txt" not in files(result.directory)


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PullError, match="does-not-exist does not exist"):
        LocalDirectory(path=str(tmp_path / "does-not-exist")).pull_code()


@pytest.mark.parametrize("as_url", [False, True], ids=["path", "file-url"])
def test_a_bare_git_repository_is_refused_not_copied(
    plugins: Plugins, tmp_path: Path, *, as_url: bool
) -> None:
    repository = tmp_path / "code.git"
    subprocess.run(["git", "init", "-q", "--bare", str(repository)], check=True)
    storage = plugins.storage_from_source(repository.as_uri() if as_url else str(repository))
    with pytest.raises(PullError, match="is a bare git repository") as caught:
        storage.pull_code(tmp_path / "out")
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_a_folder_holding_a_git_work_tree_is_still_a_folder(project: Path) -> None:
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    result = LocalFolder(str(project)).pull_code()
    assert "flow.py" in files(result.directory)
    assert not any(name.startswith(".git/") for name in files(result.directory))


def test_to_pull_step_runs_the_same_pull(plugins: Plugins, project: Path) -> None:
    step = LocalDirectory(path=str(project)).to_pull_step()
    ((name, arguments),) = step.items()
    outputs = plugins.step(name).function(**arguments)
    assert outputs is not None
    assert files(Path(outputs["directory"])) == {"flow.py", "pkg/__init__.py", "pkg/helpers.py"}


def test_push_mirrors_a_folder(project: Path, tmp_path: Path) -> None:
    target = LocalDirectory(path=str(tmp_path / "published"))
    first = target.push_code(project)
    assert first.files == 3
    assert target.push_code(project).files == 0
    (project / "flow.py").unlink()
    target.push_code(project)
    assert files(tmp_path / "published") == {"pkg/__init__.py", "pkg/helpers.py", MANIFEST_NAME}


def test_push_keeps_a_file_someone_else_put_in_the_target(project: Path, tmp_path: Path) -> None:
    published = tmp_path / "published"
    (published / "pkg").mkdir(parents=True)
    (published / "README.ops").write_text("kept by the operators")
    (published / "pkg" / "local_settings.py").write_text("DEBUG = False")
    target = LocalDirectory(path=str(published))
    target.push_code(project)
    (project / "pkg" / "helpers.py").unlink()
    target.push_code(project)
    assert files(published) == {
        "README.ops",
        "flow.py",
        "pkg/__init__.py",
        "pkg/local_settings.py",
        MANIFEST_NAME,
    }


def test_push_removes_the_folders_it_emptied(project: Path, tmp_path: Path) -> None:
    (project / "old" / "deep").mkdir(parents=True)
    (project / "old" / "deep" / "gone.py").write_text("x")
    published = tmp_path / "published"
    target = LocalDirectory(path=str(published))
    target.push_code(project)
    (project / "old" / "deep" / "gone.py").unlink()
    target.push_code(project)
    assert not (published / "old").exists()


@pytest.mark.parametrize("tooling", [".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache"])
def test_push_leaves_tooling_folders_out(project: Path, tmp_path: Path, tooling: str) -> None:
    (project / "pkg" / tooling).mkdir()
    (project / "pkg" / tooling / "state").write_text("x")
    published = tmp_path / "published"
    LocalDirectory(path=str(published)).push_code(project)
    assert not (published / "pkg" / tooling).exists()


def test_push_reads_the_ignore_files(project: Path, tmp_path: Path) -> None:
    (project / ".prefectignore").write_text("pkg/helpers.py\n")
    (project / "extra.ignore").write_text("flow.py\n")
    published = tmp_path / "published"
    LocalDirectory(path=str(published)).push_code(project, ignore_file="extra.ignore")
    assert files(published) == {
        ".prefectignore",
        "extra.ignore",
        "pkg/__init__.py",
        MANIFEST_NAME,
    }


def test_a_pushed_folder_pulls_without_the_manifest(project: Path, tmp_path: Path) -> None:
    published = tmp_path / "published"
    LocalDirectory(path=str(published)).push_code(project)
    pulled = LocalDirectory(path=str(published)).pull_code(tmp_path / "out")
    assert files(pulled.directory) == {"flow.py", "pkg/__init__.py", "pkg/helpers.py"}


def test_a_manifest_naming_paths_outside_the_target_deletes_nothing_there(
    project: Path, tmp_path: Path
) -> None:
    forged = Manifest({"../outside.py": ManifestEntry(4, "0" * 64)})
    (tmp_path / "published").mkdir()
    (tmp_path / "published" / MANIFEST_NAME).write_bytes(forged.to_bytes())
    outside = tmp_path / "outside.py"
    outside.write_text("mine")
    published = tmp_path / "published"
    LocalDirectory(path=str(published)).push_code(project)
    assert outside.read_text() == "mine"


def test_set_working_directory_changes_directory(
    plugins: Plugins, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    step = plugins.step("prefect.deployments.steps.set_working_directory")
    assert step.function(directory="sub") == {"directory": str(tmp_path / "sub")}
    assert Path.cwd() == tmp_path / "sub"


def test_pull_from_directory_refuses_a_path_that_is_not_text(plugins: Plugins) -> None:
    step = plugins.step("pull_from_directory")
    with pytest.raises(CodeferryError, match="path must be a folder's path, not 2024"):
        step.function(path=2024)


def test_str_and_repr_name_the_folder(project: Path) -> None:
    assert repr(LocalDirectory(path=str(project))) == f"LocalDirectory({str(project)!r})"
    assert repr(LocalFolder(str(project))) == f"LocalFolder({str(project)!r})"


def test_another_folder_pulled_into_the_same_destination_is_refused(tmp_path: Path) -> None:
    # Same names, sizes and times: only the source tells the two folders apart.
    first, second = tmp_path / "a", tmp_path / "b"
    for root, text in ((first, "A = 1\n"), (second, "B = 2\n")):
        root.mkdir()
        (root / "flow.py").write_text(text)
        os.utime(root / "flow.py", ns=(1_700_000_000_000_000_000,) * 2)
    dest = tmp_path / "code"
    LocalDirectory(path=str(first)).pull_code(dest)
    with pytest.raises(PullError) as caught:
        LocalDirectory(path=str(second)).pull_code(dest)
    assert str(first) in str(caught.value)
    assert str(second) in str(caught.value)
    assert (dest / "flow.py").read_text() == "A = 1\n"
    replaced = LocalDirectory(path=str(second)).pull_code(dest, replace=True)
    assert replaced.changed
    assert (dest / "flow.py").read_text() == "B = 2\n"


@pytest.mark.parametrize("loop", ["file", "folder"])
def test_a_symbolic_link_loop_in_the_folder_is_one_clear_error(
    project: Path, tmp_path: Path, loop: str
) -> None:
    good = LocalDirectory(path=str(project)).pull_code(tmp_path / "code")
    if loop == "file":
        (project / "pkg" / "self.py").symlink_to("self.py")
    else:
        (project / "pkg" / "again").symlink_to("..")
    with pytest.raises(PullError) as caught:
        LocalDirectory(path=str(project)).pull_code(tmp_path / "code")
    message = str(caught.value)
    assert "ELOOP" in message
    assert str(project / "pkg") in message
    assert "\n" not in message
    assert files(tmp_path / "code") == files(good.directory)


def test_a_folder_named_relatively_and_absolutely_is_one_source(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    relative = LocalDirectory(path="../project")
    assert str(relative) == str(LocalDirectory(path=str(project)))
    relative.pull_code("../code")
    again = LocalDirectory(path=str(project)).pull_code(tmp_path / "code")
    assert not again.changed
