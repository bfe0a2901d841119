"""Local folders as the stores of the storage contract."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

from codeferry.storage import CodeStorage
from codeferry.testing import StoreHandle
from tests.remote.object_stores import write_files

Replace = Callable[[Path, Mapping[str, bytes]], None]


def replace_folder(root: Path, files: Mapping[str, bytes]) -> None:
    """Make the folder ``root`` hold exactly ``files``, everything else in it removed.

    :raises NotImplementedError: for a name no folder can hold (absolute, or with ``..``).
    """
    if any(path.startswith("/") or ".." in path.split("/") for path in files):
        raise NotImplementedError("a folder cannot hold that name")
    for child in root.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    write_files(root, files)


def folder_store(
    tmp_path: Path, make: Callable[[Path], CodeStorage], replace: Replace = replace_folder
) -> StoreHandle:
    """The contract's handle on the storage ``make`` builds on a folder of this test's own; the
    failing storage is built on a folder that does not exist."""
    root = tmp_path / "source"
    root.mkdir()
    return StoreHandle(
        make(root), lambda files: replace(root, files), failing=lambda: make(tmp_path / "missing")
    )
