"""The ``pull_from_remote_storage`` step: Prefect's URL-based pull, answered by the plugins."""

from __future__ import annotations

from typing import Any

__all__ = ["pull_from_remote_storage"]


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
