"""The storage contract as a test kit: what every codeferry storage must do, ready to run.

A plugin author subclasses :class:`StorageContract` in a test module and provides one fixture,
``store``, returning a :class:`StoreHandle`: the storage under test and a way to put files into
the place it reads from. Every test of the contract then runs against the real backend::

    from codeferry.testing import StorageContract, StoreHandle

    class TestZipArchive(StorageContract):
        @pytest.fixture
        def store(self, tmp_path):
            archive = tmp_path / "code.zip"
            storage = ZipArchive(path=str(archive))
            return StoreHandle(
                storage,
                write=lambda files: make_zip(archive, files),
                failing=lambda: ZipArchive(path=str(tmp_path / "missing.zip")),
            )

Every pull the kit makes runs in a sandbox (:mod:`codeferry.testing.sandbox`) and is checked for
writes outside ``context.target``, files left in the temporary folder, and changes to the previous
version. Give ``secrets`` (credential values) to :class:`StoreHandle` to have them looked for in
errors, results and recorded state. Set :attr:`StorageContract.expected_skips` to the number of
the kit's tests that truly cannot run for the storage (names its store cannot hold).

The kit needs pytest: install ``codeferry[testing]``.
"""

from __future__ import annotations

try:
    from codeferry.testing.contract import StorageContract, StoreHandle
except ModuleNotFoundError as error:
    if error.name != "pytest":
        raise
    raise ModuleNotFoundError(
        "codeferry.testing runs under pytest, which is not installed: "
        "pip install 'codeferry[testing]'",
        name="pytest",
    ) from None

__all__ = ["StorageContract", "StoreHandle"]
