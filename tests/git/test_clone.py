"""Cloning and re-pulling over smart HTTP with Basic auth, against git's own http-backend."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codeferry.errors import PullError
from tests.git.conftest import BIG_FILES, FreshRepo, Served


def files_in(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def test_clone_writes_the_default_branch_as_a_plain_tree(served: Served, tmp_path: Path) -> None:
    repo = served.repository("app.git")
    result = repo.pull_code(tmp_path / "app")
    tree = result.directory
    assert result.version == served.commits["app"][-1]
    assert (tree / "flow.py").read_bytes() == b"def main():\n    return 2\n"
    assert os.access(tree / "bin/run.sh", os.X_OK)
    assert not os.access(tree / "flow.py", os.X_OK)
    assert os.readlink(tree / "flow_link.py") == "flow.py"
    assert not (tree / ".git").exists(), "the checkout is a plain tree"
    assert (tree / "vendor/lib").is_dir()
    assert not any((tree / "vendor/lib").iterdir())


def test_repull_without_new_commits_reports_unchanged(served: Served, tmp_path: Path) -> None:
    repo = served.repository("app.git")
    first = repo.pull_code(tmp_path / "app")
    again = repo.pull_code(tmp_path / "app")
    assert not again.changed
    assert (again.files, again.bytes) == (0, 0)
    assert again.directory == first.directory


def test_repull_fetches_the_new_commit_and_links_unchanged_files(
    fresh_repo: FreshRepo, tmp_path: Path
) -> None:
    repo = fresh_repo.repository()
    first = repo.pull_code(tmp_path / "co")
    fresh_repo.commit({"flow.py": b"V = 2\n", "new.py": b"N = 1\n"})
    second = repo.pull_code(tmp_path / "co")
    assert second.changed
    assert second.version != first.version
    assert second.files == 2, "only the changed and the new file are written"
    assert files_in(second.directory) == {
        "flow.py": b"V = 2\n",
        "keep.py": b"K = 1\n",
        "new.py": b"N = 1\n",
    }
    assert (second.directory / "keep.py").stat().st_ino == (
        first.directory / "keep.py"
    ).stat().st_ino, "an unchanged file is a hard link to the previous version's"
    assert (first.directory / "flow.py").read_bytes() == b"V = 1\n", "old version untouched"


def test_a_branch_is_checked_out_by_name(served: Served, tmp_path: Path) -> None:
    repo = served.repository("app.git", branch="feature")
    result = repo.pull_code(tmp_path / "f")
    assert result.version == served.commits["feature"][0]
    assert (result.directory / "feature.py").exists()


def test_an_annotated_tag_checks_out_its_commit(served: Served, tmp_path: Path) -> None:
    repo = served.repository("app.git", branch="v1.0")
    result = repo.pull_code(tmp_path / "t")
    assert result.version == served.commits["app"][0]
    assert (result.directory / "flow.py").read_bytes() == b"def main():\n    return 1\n"


def test_a_pinned_commit_that_is_no_tip_is_fetched_directly(served: Served, tmp_path: Path) -> None:
    pinned = served.commits["app"][1]
    repo = served.repository("app.git", commit_sha=pinned)
    result = repo.pull_code(tmp_path / "p")
    assert result.version == pinned
    assert (result.directory / "pkg/a.py").exists()
    assert not (result.directory / "vendor").exists()
    again = repo.pull_code(tmp_path / "p")
    assert not again.changed


def test_a_pinned_commit_the_server_lacks_is_a_clear_error(served: Served, tmp_path: Path) -> None:
    missing = "0123456789abcdef0123456789abcdef01234567"
    repo = served.repository("app.git", commit_sha=missing)
    with pytest.raises(PullError, match=f"commit {missing} was not found in git repository"):
        repo.pull_code(tmp_path / "m")


def test_a_missing_branch_is_a_clear_error(served: Served, tmp_path: Path) -> None:
    repo = served.repository("app.git", branch="nope")
    with pytest.raises(PullError, match="branch or tag 'nope' was not found"):
        repo.pull_code(tmp_path / "m")


def test_submodules_are_written_when_asked(served: Served, tmp_path: Path) -> None:
    repo = served.repository("app.git", include_submodules=True)
    result = repo.pull_code(tmp_path / "s")
    assert (result.directory / "vendor/lib/lib.py").read_bytes() == b"LIB = 1\n"
    assert not repo.pull_code(tmp_path / "s").changed


def test_directories_limit_the_checkout_like_a_cone_sparse_checkout(
    served: Served, tmp_path: Path
) -> None:
    repo = served.repository("app.git", directories=["pkg"])
    tree = repo.pull_code(tmp_path / "d").directory
    assert (tree / "pkg/a.py").exists()
    assert (tree / "flow.py").exists(), "files at the root are kept, as git's cone mode does"
    assert not (tree / "docs").exists()
    assert not (tree / "bin").exists()


def test_a_repository_of_thousands_of_files_and_many_commits(
    served: Served, tmp_path: Path
) -> None:
    repo = served.repository("big.git")
    result = repo.pull_code(tmp_path / "big")
    assert result.version == served.commits["big"][-1]
    added_later = {f"pkg1/mod_{n}.py" for n in range(60)} - {
        f"pkg{i % 40}/mod_{i}.py" for i in range(BIG_FILES)
    }
    assert result.files == BIG_FILES + len(added_later)
    assert (result.directory / "pkg1/mod_59.py").read_bytes() == b"V = 59\n"
    assert (result.directory / "pkg2/mod_2.py").read_bytes() == b"VALUE = 2\n" * 8


def test_full_history_is_fetched_when_depth_is_none(served: Served, tmp_path: Path) -> None:
    repo = served.repository("big.git", depth=None)
    result = repo.pull_code(tmp_path / "deep")
    assert result.version == served.commits["big"][-1]


def test_a_change_of_the_executable_bit_alone_is_picked_up_by_a_repull(
    fresh_repo: FreshRepo, tmp_path: Path
) -> None:
    repo = fresh_repo.repository()
    first = repo.pull_code(tmp_path / "co")
    assert not os.access(first.directory / "flow.py", os.X_OK)
    fresh_repo.commit({"flow.py": b"V = 1\n"}, executable=("flow.py",))
    second = repo.pull_code(tmp_path / "co")
    assert second.changed
    assert second.files == 1, "only the file whose mode changed is written"
    assert os.access(second.directory / "flow.py", os.X_OK)
    assert not os.access(first.directory / "flow.py", os.X_OK), "the previous version kept its mode"
    assert (second.directory / "keep.py").samefile(first.directory / "keep.py")
    fresh_repo.commit({"flow.py": b"V = 1\n"})
    third = repo.pull_code(tmp_path / "co")
    assert not os.access(third.directory / "flow.py", os.X_OK), "and back again"
    assert os.access(second.directory / "flow.py", os.X_OK)
