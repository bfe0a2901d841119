"""Deployment-file steps for local folders."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from codeferry.errors import CodeferryError


def set_working_directory(directory: str) -> dict[str, Any]:
    """Change the working directory of the steps that follow (and of the flow run).

    Outputs: ``directory``, the absolute folder.
    """
    path = Path(directory).expanduser().resolve()
    if not path.is_dir():
        raise CodeferryError(f"set_working_directory: folder {directory} does not exist")
    os.chdir(path)
    return {"directory": str(path)}


def pull_from_directory(
    path: str, destination: str | None = None, replace: bool = False
) -> dict[str, Any]:
    """Pull the code in the local folder ``path`` into a checkout (incremental and atomic).

    Outputs: ``directory`` (where the code is), ``version``, ``files`` and ``bytes`` copied.
    """
    if not isinstance(path, str):
        raise CodeferryError(f"pull_from_directory: path must be a folder's path, not {path!r}")
    from codeferry_local.folder import LocalFolder  # a plain storage: no block model to build

    return LocalFolder(path).pull_code(destination, replace=replace).as_dict()
