"""Deployment-file steps for any URL: Prefect's ``pull_from_remote_storage`` and its push twin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["pull_from_remote_storage", "push_to_remote_storage"]


def pull_from_remote_storage(
    url: str, destination: str | None = None, *, replace: bool = False, **settings: Any
) -> dict[str, Any]:
    """Pull the code at ``url`` through the installed plugin that understands it.

    ``url`` is any source ``codeferry pull`` accepts (``s3://bucket/folder``, a git URL, a
    path); the code lands in its checkout (or behind ``destination``), incrementally and
    atomically. Further arguments are fsspec storage options (``key``, ``secret``,
    ``client_kwargs``...), as in Prefect: the URL is then pulled by
    :class:`codeferry.remote.RemoteStorage` with exactly those options.

    Outputs: ``directory``, ``version``, ``files``, ``bytes``, ``changed``, ``source``.
    """
    if settings:
        from codeferry.remote import RemoteStorage

        return RemoteStorage(url, **settings).pull_code(destination, replace=replace).as_dict()
    from codeferry.plugins import get_plugins

    storage = get_plugins().storage_from_source(url)
    return storage.pull_code(destination, replace=replace).as_dict()


def push_to_remote_storage(
    url: str,
    source: str | None = None,
    ignore_file: str | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """Push the folder ``source`` (default: the working directory) to the fsspec ``url``.

    ``settings`` are the filesystem's storage options (credentials, endpoint). Only changed
    files are sent; tooling folders (``.git``, ``__pycache__``, ``.venv``, ``.tox``...) and what
    ``.codeferryignore``, ``.prefectignore`` or ``ignore_file`` list are left out.

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
