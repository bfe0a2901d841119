"""Operating-system failures during a pull: one line naming the cause and the file, nothing lost.

The disk is really full (a 1 MiB tmpfs) or really read-only (the same, remounted): see
``tests/servers/mounts.py`` for why these need root.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codeferry.cli import app
from codeferry.errors import PullError
from codeferry_local.storage import LocalDirectory
from tests.conftest import write_tree
from tests.servers.mounts import Tmpfs


def tree(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def source(tmp_path: Path) -> Path:
    files = {"flow.py": "def main():\n    return 1\n", "pkg/helpers.py": "X = 1\n"}
    return write_tree(tmp_path / "source", files)


@pytest.fixture
def home_on(small_tmpfs: Tmpfs, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The codeferry home on the small disk."""
    home = small_tmpfs.path / "home"
    monkeypatch.setenv("CODEFERRY_HOME", str(home))
    return home


def test_a_full_disk_fails_the_pull_naming_the_file_and_keeps_the_version(
    source: Path, home_on: Path, tmp_path: Path
) -> None:
    storage = LocalDirectory(path=str(source))
    good = storage.pull_code(tmp_path / "code")
    before = tree(good.directory)
    (source / "data.bin").write_bytes(b"\0" * (2 << 20))
    with pytest.raises(PullError) as caught:
        storage.pull_code(tmp_path / "code")
    message = str(caught.value)
    assert "No space left on device (ENOSPC)" in message
    assert message.endswith("data.bin")
    assert "\n" not in message
    assert tree(tmp_path / "code") == tree(good.directory) == before
    assert not list(home_on.rglob("staging-*")), "the failed pull left its staging folder"


def test_a_read_only_disk_fails_the_pull_in_one_line_and_keeps_the_version(
    source: Path, home_on: Path, small_tmpfs: Tmpfs, tmp_path: Path
) -> None:
    storage = LocalDirectory(path=str(source))
    good = storage.pull_code(tmp_path / "code")
    before = tree(good.directory)
    (source / "flow.py").write_text("def main():\n    return 2\n")
    small_tmpfs.read_only()
    try:
        result = CliRunner().invoke(app, ["pull", str(source), "--dest", str(tmp_path / "code")])
    finally:
        small_tmpfs.read_write()
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot pull ")
    assert "Read-only file system (EROFS)" in result.stderr
    assert str(home_on) in result.stderr
    assert "unexpected" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert tree(tmp_path / "code") == before


@contextlib.contextmanager
def as_another_user() -> Iterator[None]:
    """Run the block without root's power over permissions (as ``nobody``), when we are root."""
    if os.geteuid() != 0:
        yield
        return
    os.setegid(65534)
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
def test_an_unreadable_file_in_the_source_fails_the_pull_naming_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = Path(tempfile.mkdtemp(prefix="codeferry-eacces-"))
    try:
        base.chmod(0o755)
        source = base / "source"
        source.mkdir()
        (source / "flow.py").write_text("X = 1\n")
        (source / "secret.py").write_text("Y = 2\n")
        (source / "secret.py").chmod(0)
        home = base / "home"
        home.mkdir()
        if os.geteuid() == 0:
            os.chown(home, 65534, 65534)
        monkeypatch.setenv("CODEFERRY_HOME", str(home))
        with as_another_user(), pytest.raises(PullError) as caught:
            LocalDirectory(path=str(source)).pull_code()
        message = str(caught.value)
        assert "Permission denied (EACCES)" in message
        assert message.endswith(str(source / "secret.py"))
    finally:
        shutil.rmtree(base)
