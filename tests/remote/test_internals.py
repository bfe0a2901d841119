"""The private parts of fsspec, s3fs, gcsfs and adlfs the engine relies on are still there.

:mod:`codeferry.remote.internals` is the one module that touches them; an upgrade that changes
one of them fails here, naming the library, its version and what changed.
"""

from __future__ import annotations

import importlib

import pytest

from codeferry.remote import internals


def test_the_installed_fsspec_and_backends_have_everything_the_engine_uses() -> None:
    for module in ("s3fs", "gcsfs", "adlfs"):
        importlib.import_module(module)  # each is checked, not passed over as missing
    assert internals.problems() == []


def test_a_private_coroutine_that_is_gone_is_named_with_its_library_and_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import s3fs

    monkeypatch.delattr(s3fs.S3FileSystem, "_find")
    monkeypatch.delattr("fsspec.asyn.AsyncFileSystem._find")
    found = internals.problems()
    assert any(
        problem.startswith("s3fs ") and "S3FileSystem._find is gone" in problem for problem in found
    )
    assert any(problem.startswith("fsspec ") for problem in found)


def test_a_coroutine_that_takes_other_arguments_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import gcsfs.core

    async def _cat_file(self: object, path: str) -> bytes:
        del self, path  # only the signature matters: it lacks gcsfs's start and end
        return b""

    monkeypatch.setattr(gcsfs.core.GCSFileSystem, "_cat_file", _cat_file)
    (problem,) = internals.problems()
    assert problem.startswith("gcsfs ")
    assert "GCSFileSystem._cat_file takes other arguments" in problem


def test_a_coroutine_that_became_a_plain_function_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import adlfs

    def _ls(self: object, path: str, detail: bool = True) -> list[object]:
        del self, path, detail  # a plain function where adlfs has a coroutine
        return []

    monkeypatch.setattr(adlfs.AzureBlobFileSystem, "_ls", _ls)
    (problem,) = internals.problems()
    assert "AzureBlobFileSystem._ls is no longer a coroutine" in problem


def test_s3fs_keeping_its_response_elsewhere_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from s3fs.core import S3AsyncStreamedFile

    def without_r(self: object, fs: object, path: str, mode: str) -> None:
        self.fs, self.path, self.mode = fs, path, mode  # type: ignore[attr-defined]

    monkeypatch.setattr(S3AsyncStreamedFile, "__init__", without_r)
    (problem,) = internals.problems()
    assert "S3AsyncStreamedFile no longer keeps its HTTP body in 'r'" in problem
