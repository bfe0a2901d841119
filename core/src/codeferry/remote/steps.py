"""Deployment-file steps for any fsspec URL (pulls go through ``codeferry.steps.remote``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["push_to_remote_storage"]


def push_to_remote_storage(
    url: str,
    source: str | None = None,
    ignore_file: str | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """Push the folder ``source`` (default: the working directory) to the fsspec ``url``.

    ``settings`` are the filesystem's storage options (credentials, endpoint). Only changed
    files are sent; ``.git``, ``__pycache__``, ``.venv`` and what ``.codeferryignore``,
    ``.prefectignore`` or ``ignore_file`` list are left out.

    Outputs: ``url``, ``version`` (the manifest's hash), ``files`` and ``bytes`` uploaded.
    """
    from codeferry.remote.storage import RemoteStorage

    storage = RemoteStorage(url, **settings)
    result = storage.push_code(Path(source or Path.cwd()), ignore_file=ignore_file)
    return {
        "url": storage.url,
        "version": result.version,
        "files": result.files,
        "bytes": result.bytes,
    }
