"""Every private part of fsspec and of its backends (s3fs, gcsfs, adlfs) the engine relies on.

fsspec's documented API is synchronous; the engine runs its transfers on a filesystem's own event
loop, so it calls the coroutines behind that API (``_find``, ``_ls``, ``_cat_file``,
``_put_file``), which are private, and hands s3fs's streamed response back to its connection
pool (``S3AsyncStreamedFile.r``). Each of those uses is here and nowhere else (a backend's own
internals are its plugin's: codeferry-azure's adlfs client, codeferry-s3's botocore session),
and :func:`problems` checks that the installed libraries still have them: the project's tests
call it, so an upgrade that changes one fails there, naming what changed, rather
than in a user's pull.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

    from fsspec import AbstractFileSystem


__all__ = [
    "event_loop",
    "find",
    "is_async",
    "library_changed",
    "list_entries",
    "opens_streams",
    "parent",
    "problems",
    "put_file",
    "read_range",
    "release_stream",
    "strip_protocol",
]

# The coroutines of fsspec's AsyncFileSystem the engine awaits, each with a call it makes.
_COROUTINES: Mapping[str, Callable[[inspect.Signature], object]] = {
    "_find": lambda s: s.bind(None, "root", detail=True, withdirs=False),
    "_ls": lambda s: s.bind(None, "root", detail=True),
    "_cat_file": lambda s: s.bind(None, "key", start=0, end=1),
    "_put_file": lambda s: s.bind(None, "local", "key"),
}
# The backends whose overrides of those coroutines are used, by the distribution providing them.
_BACKENDS = {
    "s3fs": "s3fs.S3FileSystem",
    "gcsfs": "gcsfs.core.GCSFileSystem",
    "adlfs": "adlfs.AzureBlobFileSystem",
}


def is_async(fs: AbstractFileSystem) -> bool:
    """Whether ``fs`` runs on an event loop of its own (s3fs, gcsfs, adlfs do; memory does not)."""
    return bool(getattr(fs, "async_impl", False))


def event_loop(fs: AbstractFileSystem) -> asyncio.AbstractEventLoop:
    """The event loop an async filesystem runs its requests on."""
    loop: asyncio.AbstractEventLoop = fs.loop
    return loop


async def find(fs: AbstractFileSystem, root: str) -> Mapping[str, Mapping[str, Any]]:
    """Every file under ``root``, by name, with its listing entry (``find(detail=True)``)."""
    found: Mapping[str, Mapping[str, Any]] = await fs._find(root, detail=True, withdirs=False)
    return found


async def list_entries(fs: AbstractFileSystem, root: str) -> list[Mapping[str, Any]]:
    """The entries directly in ``root``, folders included (``ls(detail=True)``)."""
    entries: list[Mapping[str, Any]] = await fs._ls(root, detail=True)
    return entries


async def put_file(fs: AbstractFileSystem, source: str, key: str) -> None:
    """Upload the local file ``source`` to ``key``."""
    await fs._put_file(source, key)


async def read_range(fs: AbstractFileSystem, key: str, start: int | None, end: int | None) -> bytes:
    """The bytes of ``key`` from ``start`` to ``end`` (the whole file for ``None``)."""
    data: bytes = await fs._cat_file(key, start=start, end=end)
    return data


def parent(fs: AbstractFileSystem, key: str) -> str:
    """The folder ``key`` is in, as ``fs`` names it."""
    return str(fs._parent(key))


def strip_protocol(fs: AbstractFileSystem, url: str) -> str:
    """``url`` as a path on ``fs`` (``s3://bucket/x`` → ``bucket/x``)."""
    return str(fs._strip_protocol(url))


def opens_streams(fs: AbstractFileSystem) -> bool:
    """Whether the async ``fs`` streams a file (its own ``open_async``), not only reads ranges."""
    from fsspec.asyn import AsyncFileSystem

    return type(fs).open_async is not AsyncFileSystem.open_async


async def release_stream(stream: Any) -> None:
    """Give a streamed response's connection back, also when it was abandoned half-read.

    s3fs keeps the HTTP body in the stream's ``r``; closing the stream alone leaves it open.
    """
    if stream is None:
        return
    body = getattr(stream, "r", None)
    for closer in (getattr(body, "close", None), getattr(stream, "close", None)):
        if callable(closer):
            try:
                result = closer()
                if inspect.isawaitable(result):
                    await result
            except Exception:  # noqa: S110 - a connection that cannot be closed is dropped anyway
                pass


# -- checking the installed libraries ------------------------------------------------------------


def problems() -> list[str]:
    """What the installed fsspec and backends no longer provide that this module relies on.

    Each problem names the library, its version and the member that changed. Backends that are
    not installed are not checked (their plugin cannot be installed either).
    """
    import importlib

    found: list[str] = []
    from fsspec.asyn import AsyncFileSystem
    from fsspec.spec import AbstractFileSystem

    found += _class_problems("fsspec", AsyncFileSystem)
    for name in ("_parent", "_strip_protocol"):
        if not callable(getattr(AbstractFileSystem, name, None)):
            found.append(_problem("fsspec", f"AbstractFileSystem.{name} is gone"))
    if not isinstance(getattr(AsyncFileSystem, "loop", None), property):
        found.append(_problem("fsspec", "AsyncFileSystem.loop is no longer a property"))
    for distribution, dotted in _BACKENDS.items():
        module_name, _, class_name = dotted.rpartition(".")
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        found += _class_problems(distribution, getattr(module, class_name))
    found += _s3fs_problems()
    return found


def _class_problems(distribution: str, cls: type) -> list[str]:
    found = []
    for name, call in _COROUTINES.items():
        method = getattr(cls, name, None)
        where = f"{cls.__name__}.{name}"
        if method is None:
            found.append(_problem(distribution, f"{where} is gone"))
        elif not inspect.iscoroutinefunction(method):
            found.append(_problem(distribution, f"{where} is no longer a coroutine"))
        else:
            try:
                call(inspect.signature(method))
            except TypeError as error:
                found.append(_problem(distribution, f"{where} takes other arguments ({error})"))
    return found


def _s3fs_problems() -> list[str]:
    try:
        from s3fs.core import S3AsyncStreamedFile
    except ImportError:
        return []
    if not hasattr(S3AsyncStreamedFile(None, "bucket/key", "rb"), "r"):
        return [_problem("s3fs", "S3AsyncStreamedFile no longer keeps its HTTP body in 'r'")]
    return []


def library_changed(distribution: str, what: str, adapter: str) -> str:
    """One ``problems()`` line: the installed ``distribution`` changed ``what`` ``adapter`` uses.

    The line names the distribution's version, so a failing check says which upgrade did it.
    """
    try:
        version = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        version = "(version unknown)"
    return f"{distribution} {version}: {what}; {adapter} must follow it"


def _problem(distribution: str, what: str) -> str:
    return library_changed(distribution, what, __name__)
