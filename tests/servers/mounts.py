"""Small file systems for the tests of disk failures, as a pytest plugin (``pytest_plugins``).

``small_tmpfs`` mounts a 1 MiB tmpfs, so a pull really fills its disk (``ENOSPC``), and can remount
it read-only (``EROFS``). Mounting needs root: without it the tests skip (nothing else can make the
kernel say so); as root a mount that fails fails the test under ``CI=true`` (CI runs as root).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import missing, need_program

__all__ = ["Tmpfs"]


@dataclass(frozen=True)
class Tmpfs:
    """A mounted tmpfs."""

    path: Path

    def read_only(self) -> None:
        """Remount it read-only (what a disk that failed, or a read-only volume, does)."""
        _mount("-o", "remount,ro", str(self.path))

    def read_write(self) -> None:
        _mount("-o", "remount,rw", str(self.path))


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        missing("a tmpfs mount", f"mount {' '.join(args)} failed: {done.stderr.strip()}")


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Tmpfs]:
    """A 1 MiB tmpfs mounted for this test, unmounted after it."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("mounting a file system needs root")
    need_program("mount", "mounting a small tmpfs")
    point = tmp_path / "small-disk"
    point.mkdir()
    _mount("-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(point))
    try:
        yield Tmpfs(point)
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)
