"""The codeferry home stays home: private to its owner, never pulled, pushed or copied as code."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeferry import settings
from codeferry.errors import CodeferryError
from codeferry.remote import MANIFEST_NAME, RemoteStorage
from codeferry.store import BlockStore
from codeferry.store.records import BlockDocument
from codeferry_local.storage import LocalDirectory


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def files(directory: Path) -> set[str]:
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}


@pytest.fixture(params=[0o000, 0o022], ids=["umask-000", "umask-022"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    yield request.param
    os.umask(previous)


def use_the_store(home: Path) -> None:
    """Create the database and the key file the way a user does: save a secret, set a variable."""
    store = BlockStore()
    document = BlockDocument("s3-bucket", "prod", {"bucket": "b"}, {"token": "t0k"})
    store.save_document(document, overwrite=True)
    store.set_variable("region", "eu-west-1")
    store.close()
    assert (home / "codeferry.db").is_file(), f"the store was not made in {home}"


@pytest.mark.usefixtures("umask")
def test_the_home_and_its_store_files_are_private_whatever_the_umask(codeferry_home: Path) -> None:
    use_the_store(codeferry_home)
    settings.checkouts_dir()
    assert mode(codeferry_home) == 0o700
    store_files = [p for p in codeferry_home.iterdir() if p.name.startswith("codeferry.db")]
    assert store_files, "the database was not made in the home"
    for path in [*store_files, codeferry_home / "encryption.key"]:
        assert mode(path) == 0o600, f"{path.name} is {oct(mode(path))}"


def test_an_existing_home_made_loose_is_tightened_when_codeferry_opens_it(
    codeferry_home: Path,
) -> None:
    use_the_store(codeferry_home)
    codeferry_home.chmod(0o777)
    for path in codeferry_home.iterdir():
        if path.is_file():
            path.chmod(0o666)
    use_the_store(codeferry_home)
    assert mode(codeferry_home) == 0o700
    for path in codeferry_home.iterdir():
        if path.name.startswith(("codeferry.db", "encryption.key")):
            assert mode(path) == 0o600, f"{path.name} is {oct(mode(path))}"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose folder holds the codeferry home (CODEFERRY_HOME=project/.codeferry)."""
    root = tmp_path / "project"
    (root / "pkg").mkdir(parents=True)
    (root / "flow.py").write_text("def main():\n    return 1\n")
    (root / "pkg" / "helpers.py").write_text("X = 1\n")
    monkeypatch.setenv("CODEFERRY_HOME", str(root / ".codeferry"))
    use_the_store(root / ".codeferry")
    return root


CODE = {"flow.py", "pkg/helpers.py"}


def test_a_home_inside_the_pulled_folder_never_reaches_a_version(project: Path) -> None:
    storage = LocalDirectory(path=str(project))
    for number in range(3):
        (project / "flow.py").write_text(f"def main():\n    return {number}\n")
        result = storage.pull_code(project / "current")  # the --dest link is inside it too
        assert files(result.directory) == CODE
    copies = [p for p in (project / ".codeferry").rglob("encryption.key")]
    assert copies == [project / ".codeferry" / "encryption.key"]


def test_a_home_inside_the_pushed_folder_is_never_pushed_nor_removed(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "target"
    LocalDirectory(path=str(target)).push_code(project)
    assert files(target) == {*CODE, MANIFEST_NAME}
    # A home inside the folder pushed to is left alone too.
    monkeypatch.setenv("CODEFERRY_HOME", str(target / ".codeferry"))
    use_the_store(target / ".codeferry")
    LocalDirectory(path=str(target)).push_code(project)
    assert (target / ".codeferry" / "encryption.key").is_file()


def test_a_home_inside_the_folder_pushed_by_the_remote_engine_is_never_sent(
    project: Path, tmp_path: Path
) -> None:
    remote = tmp_path / "remote"
    RemoteStorage(remote.as_uri()).push_code(project)
    assert {p for p in files(remote) if not p.startswith(".codeferry-manifest")} == CODE


def test_another_codeferry_home_inside_the_folder_is_left_out_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "flow.py").write_text("X = 1\n")
    monkeypatch.setenv("CODEFERRY_HOME", str(project / "old-home"))
    use_the_store(project / "old-home")
    monkeypatch.setenv("CODEFERRY_HOME", str(tmp_path / "new-home"))
    result = LocalDirectory(path=str(project)).pull_code()
    assert files(result.directory) == {"flow.py"}


def test_the_home_itself_is_refused_as_code(codeferry_home: Path) -> None:
    use_the_store(codeferry_home)
    with pytest.raises(CodeferryError, match="codeferry's own"):
        LocalDirectory(path=str(codeferry_home)).pull_code()
