"""How a folder is listed: flat, by sub-folder, or flat raced by sub-folder when it pages on."""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import pytest
from fsspec.asyn import AsyncFileSystem
from typing_extensions import override

from codeferry.remote.listing import list_folder

FILES = {f"bucket/code/pkg{n}/m{m}.py": b"x" * m for n in range(3) for m in range(1, 4)}
FILES["bucket/code/top.py"] = b"top"


class PagingFS(AsyncFileSystem):  # type: ignore[misc]
    """An object store in memory whose flat listing of the folder takes ``flat_seconds``."""

    cachable = False  # a new filesystem per test, never fsspec's cached one

    def __init__(self, flat_seconds: float) -> None:
        super().__init__()
        self.flat_seconds = flat_seconds
        self.calls: list[tuple[str, str]] = []
        self.flat_cancelled = False

    def _entry(self, name: str) -> dict[str, Any]:
        return {"name": name, "size": len(FILES[name]), "type": "file", "ETag": f'"{name}"'}

    @override
    async def _find(self, path: str, **_kwargs: Any) -> dict[str, dict[str, Any]]:
        self.calls.append(("find", path))
        if path == "bucket/code":
            try:
                await asyncio.sleep(self.flat_seconds)
            except asyncio.CancelledError:
                self.flat_cancelled = True
                raise
        return {name: self._entry(name) for name in FILES if name.startswith(path + "/")}

    @override
    async def _ls(self, path: str, detail: bool = True, **_kwargs: Any) -> list[dict[str, Any]]:
        self.calls.append(("ls", path))
        children = {name[len(path) + 1 :].split("/")[0] for name in FILES if name.startswith(path)}
        return [
            self._entry(f"{path}/{child}")
            if f"{path}/{child}" in FILES
            else {"name": f"{path}/{child}", "size": 0, "type": "directory"}
            for child in sorted(children)
        ]


def listed(fs: PagingFS, **options: Any) -> dict[str, int]:
    return {path: remote.size for path, remote in list_folder(fs, "bucket/code", **options).items()}


EXPECTED = {name.removeprefix("bucket/code/"): len(data) for name, data in FILES.items()}


def test_a_flat_listing_that_finishes_in_time_is_the_only_one() -> None:
    fs = PagingFS(flat_seconds=0)
    assert listed(fs, by_folder_after=5) == EXPECTED
    assert fs.calls == [("find", "bucket/code")]


def test_a_flat_listing_still_paging_is_raced_by_one_by_sub_folder() -> None:
    fs = PagingFS(flat_seconds=30)
    start = time.monotonic()
    assert listed(fs, by_folder_after=0.05) == EXPECTED
    assert time.monotonic() - start < 10, "the listing by sub-folder won"
    assert ("ls", "bucket/code") in fs.calls
    assert fs.flat_cancelled, "the flat listing it replaced was stopped"


def test_by_folder_lists_each_sub_folder_and_never_the_whole_folder_flat() -> None:
    fs = PagingFS(flat_seconds=30)
    assert listed(fs, by_folder=True) == EXPECTED
    assert ("find", "bucket/code") not in fs.calls
    assert sorted(path for kind, path in fs.calls if kind == "find") == [
        "bucket/code/pkg0",
        "bucket/code/pkg1",
        "bucket/code/pkg2",
    ]


class GivingUpFS(PagingFS):
    """A store on which both listings time out at the same moment, as two timeouts do that
    aiohttp rounds up to the same second."""

    def __init__(self) -> None:
        super().__init__(flat_seconds=0)
        self.gave_up = asyncio.Event()

    @override
    async def _find(self, path: str, **_kwargs: Any) -> dict[str, dict[str, Any]]:
        await self.gave_up.wait()
        raise TimeoutError("the flat listing timed out")

    @override
    async def _ls(self, path: str, detail: bool = True, **_kwargs: Any) -> list[dict[str, Any]]:
        self.gave_up.set()
        raise TimeoutError("the listing by sub-folder timed out")


def test_listings_that_fail_together_raise_one_error_and_leave_none_unretrieved(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(TimeoutError):
        listed(GivingUpFS(), by_folder_after=0.05)
    gc.collect()  # an unretrieved task error is reported when the task is collected
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]
