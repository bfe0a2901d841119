"""The local plugin: folders as sources, incremental copies, its steps."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codeferry.errors import CodeferryError, PullError
from codeferry.plugins import Plugins
from codeferry_local.storage import LocalDirectory


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "pkg").mkdir(parents=True)
    (root / "flow.py").write_text("from pkg.helpers import greet\n")
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "helpers.py").write_text("def greet(): return 'hi'\n")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "flow.cpython-311.pyc").write_bytes(b"junk")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]")
    return root


def files(directory: Path) -> set[str]:
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}


def test_paths_and_file_urls_resolve_to_local_storage(plugins: Plugins, project: Path) -> None:
    assert isinstance(plugins.storage_from_source(str(project)), LocalDirectory)
    storage = plugins.storage_from_source(project.as_uri())
    assert isinstance(storage, LocalDirectory)
    assert str(storage) == str(project)


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
    assert files(tmp_path / "published") == {"pkg/__init__.py", "pkg/helpers.py"}


def test_set_working_directory_changes_directory(
    plugins: Plugins, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    step = plugins.step("prefect.deployments.steps.set_working_directory")
    assert step.function(directory="sub") == {"directory": str(tmp_path / "sub")}
    assert Path.cwd() == tmp_path / "sub"


def test_str_and_repr_name_the_folder(project: Path) -> None:
    storage = LocalDirectory(path=str(project))
    assert repr(storage) == f"LocalDirectory({str(project)!r})"
