"""The tests every storage passes; see :mod:`codeferry.testing`.

Each pull the kit makes is checked for what must never happen, whatever the test is about:
nothing written outside the new version's folder (``context.target``) nor left in the temporary
folder, the previous version left byte for byte as it was, and no secret in a folder name or in
what the checkout records. A failed check names the rule that was broken and the file that shows
it. Pulls run in a sandbox (:mod:`codeferry.testing.sandbox`): a write outside the pull's folder
is refused before it reaches the disk, so a broken storage never writes into the machine's ``/``.
"""

from __future__ import annotations

import json
import os
import secrets
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import pytest

from codeferry import paths
from codeferry.blocks import Block
from codeferry.checkouts import Checkout
from codeferry.errors import CodeferryError, UnsafePathError
from codeferry.home import MARKER
from codeferry.plugins import get_plugins
from codeferry.testing.faults import ReadFault, failing_path_joins, failing_reads, limited_writes
from codeferry.testing.sandbox import Sandbox, sandboxed

if TYPE_CHECKING:
    from codeferry.steps.engine import StepsResult
    from codeferry.storage import CodeStorage, PullResult

__all__ = ["GIT_FOLDER", "HOSTILE_PATHS", "StorageContract", "StoreHandle"]

HOSTILE_PATHS = ("../escaped.py", "/absolute.py", "a/../../escaped.py")
_HOSTILE_NAMES = frozenset({"escaped.py", "absolute.py"})
# What a store made from a git working copy holds, and a planted hook: never pulled.
GIT_FOLDER = {
    ".git/hooks/post-checkout": b"#!/bin/sh\necho pwned\n",
    ".git/config": b"[core]\n\tbare = false\n",
    "pkg/.git": b"gitdir: ../.git/modules/pkg\n",  # a submodule's working copy
    "data/.GIT/HEAD": b"ref: refs/heads/main\n",
}

# What a checkout folder may hold (see codeferry.checkouts); anything else was written by a fetch
# that did not stay inside context.target.
_CHECKOUT_ENTRIES = frozenset({".lock", "current", "versions", "cache", MARKER})
# Files of the block store in the codeferry home: a storage may load its credentials while pulling.
_STORE_FILE_PREFIXES = ("codeferry.db", "encryption.key", MARKER)
# A file larger than this cannot be written while the kit fills the disk (limited_writes).
_WRITE_LIMIT = 256 << 10

_T = TypeVar("_T")


@dataclass
class StoreHandle:
    """The storage under test and how to change what it holds.

    :param storage: the storage object under test.
    :param write: replaces everything the storage holds by ``files`` (``/``-separated path to
        bytes). Raise :class:`NotImplementedError` only for a path the backend truly cannot hold
        (a folder cannot hold a file named ``../x``); the test needing it is then skipped with
        that reason, and counted (:attr:`StorageContract.expected_skips`).
    :param secrets: credential values the storage was given; none may ever be shown.
    :param failing: makes a storage like ``storage`` whose pull fails (a wrong password, a
        missing folder). Its error must be a one-line :class:`~codeferry.errors.CodeferryError`
        that shows no secret. Every storage can fail: the kit fails without it.
    """

    storage: CodeStorage
    write: Callable[[Mapping[str, bytes]], None]
    secrets: Sequence[str] = field(default_factory=tuple)
    failing: Callable[[], CodeStorage] | None = None


FIRST = {
    "flow.py": b"def main():\n    return 1\n",
    "pkg/helpers.py": b"X = 1\n",
    "data/a.txt": b"a",
}


def _tree(directory: Path) -> dict[str, bytes]:
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _snapshot(root: Path, skip: Sequence[Path]) -> dict[str, tuple[str, int, int]]:
    """Every entry under ``root`` but those in ``skip``: kind, size and change time, by path."""
    found: dict[str, tuple[str, int, int]] = {}
    skipped = {Path(os.path.abspath(path)) for path in skip}  # noqa: PTH100 - no symlink resolving
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d) not in skipped]
        for name in (*dirs, *files):
            path = Path(folder, name)
            if path in skipped:
                continue
            info = path.lstat()
            kind = "link" if path.is_symlink() else "dir" if name in dirs else "file"
            # A folder's own times change whenever an entry is added; its entries tell more.
            stamp = (0, 0) if kind == "dir" else (info.st_size, info.st_mtime_ns)
            found[path.relative_to(root).as_posix()] = (kind, *stamp)
    return found


def _same_file(one: Path, other: Path) -> bool:
    try:
        return one.samefile(other)
    except OSError:
        return False


def _store_files(home: Path) -> list[Path]:
    if not home.is_dir():
        return []
    return [p for p in home.iterdir() if p.name.startswith(_STORE_FILE_PREFIXES)]


def _strays(checkout: Checkout) -> list[str]:
    """Entries in the checkout folder that codeferry did not put there."""
    strays = [
        p.name
        for p in checkout.root.iterdir()
        if p.name not in _CHECKOUT_ENTRIES
        and not p.name.startswith(("staging-", "current-"))  # a killed pull, repaired next time
    ]
    if checkout.versions_dir.is_dir():
        for entry in checkout.versions_dir.iterdir():
            if entry.suffix == ".json":
                continue
            if not entry.is_dir() or not entry.with_name(entry.name + ".json").exists():
                strays.append(f"versions/{entry.name}")
    return sorted(strays)


def _broken(expected: Mapping[str, bytes], pulled: Mapping[str, bytes]) -> list[str]:
    """The files of ``expected`` that ``pulled`` lacks or holds with other bytes."""
    return sorted(path for path, data in expected.items() if pulled.get(path) != data)


def _pulled_then_changed(store: StoreHandle, pull: Callable[[], PullResult]) -> PullResult:
    """Pull ``FIRST``, then change the store (one file changed, one added); the first pull."""
    store.write(FIRST)
    good = pull()
    store.write({**FIRST, "flow.py": b"changed\n", "more.py": b"more\n"})
    return good


class _FailingFromSecondJoin:
    """A path check for :func:`failing_path_joins` that raises from the second join on."""

    def __init__(self, error: Callable[[], BaseException]) -> None:
        self.error = error
        self.count = 0
        self._real = paths.safe_relative_path

    def __call__(self, path: str) -> Any:
        self.count += 1
        if self.count >= 2:
            raise self.error()
        return self._real(path)


class StorageContract:
    """Subclass and provide a ``store`` fixture returning a :class:`StoreHandle`.

    Every ``test_*`` method below is one rule of the contract; its docstring says what it checks.
    """

    expected_skips: ClassVar[int] = 0
    """How many of the kit's tests skip for this storage: one for each hostile name its store
    truly cannot hold (``write`` raised :class:`NotImplementedError`), one if it is not a block.
    ``test_skips_are_only_what_the_store_cannot_hold`` fails when more (or fewer) skip."""

    @pytest.fixture(autouse=True)
    def _isolated(self, codeferry_isolated: Path) -> Path:
        return codeferry_isolated

    @pytest.fixture
    def store(self) -> StoreHandle:
        raise NotImplementedError("provide a `store` fixture returning a StoreHandle")

    @pytest.fixture
    def destination(self, tmp_path: Path) -> Path:
        return tmp_path / "checkout"

    @pytest.fixture
    def temporary(self, tmp_path: Path) -> Path:
        """The folder that stands for the system temporary folder while the kit pulls."""
        return tmp_path / "kit-temporary"

    # -- every pull runs in a sandbox, and is checked --------------------------------------------

    @pytest.fixture
    def confined(
        self, store: StoreHandle, tmp_path: Path, temporary: Path, codeferry_isolated: Path
    ) -> Callable[[Callable[[], _T], Path | None], _T]:
        """``confined(call, destination)``: run a pull in the sandbox, then check where it wrote.

        The pull may write its checkout (behind ``destination``, or any in the home for
        ``None``), the block store's files, and scratch files it removes in the temporary folder.
        """
        home = codeferry_isolated
        name = type(store.storage).__name__

        def store_file(path: str) -> bool:
            parent, base = os.path.split(path)
            return base.startswith(_STORE_FILE_PREFIXES) and parent in {
                os.path.abspath(home),  # noqa: PTH100 - no symlink resolving
                os.path.realpath(home),
            }

        def confined(call: Callable[[], _T], destination: Path | None) -> _T:
            if destination is None:
                folders, files = [home / "checkouts"], []
            else:
                checkout = Checkout.for_storage(store.storage, destination)
                folders, files = [checkout.root], [checkout.link or checkout.root]
            sandbox = Sandbox(folders, temporary, files, store_file)
            try:
                with sandboxed(sandbox):
                    return call()
            finally:
                _check_sandbox(name, sandbox, tmp_path)

        return confined

    @pytest.fixture
    def checked_pull(
        self,
        *,
        store: StoreHandle,
        destination: Path,
        tmp_path: Path,
        temporary: Path,
        codeferry_isolated: Path,
        confined: Callable[[Callable[[], PullResult], Path | None], PullResult],
    ) -> Callable[[], PullResult]:
        """Pull ``store`` into ``destination``, checking what the pull must never do."""
        name = type(store.storage).__name__

        def checked_pull() -> PullResult:
            checkout = Checkout.for_storage(store.storage, destination)
            current = checkout.current
            previous = _tree(current.directory) if current else None
            skip = [checkout.root, destination, temporary, *_store_files(codeferry_isolated)]
            before = _snapshot(tmp_path, skip)
            result = confined(lambda: store.storage.pull_code(destination), destination)
            skip = [checkout.root, destination, temporary, *_store_files(codeferry_isolated)]
            after = _snapshot(tmp_path, skip)
            written = sorted(
                path for path in before.keys() | after.keys() if before.get(path) != after.get(path)
            )
            assert not written, (
                f"{name}.fetch wrote outside context.target: {written}; "
                "join every storage path with context.path_for() and write nothing else"
            )
            strays = _strays(checkout)
            assert not strays, (
                f"{name}.fetch wrote into the checkout folder beside "
                f"context.target: {strays}; only context.target is the fetch's to fill"
            )
            if current is not None and previous is not None:
                assert current.directory.is_dir(), "the previous version was removed by the pull"
                now = _tree(current.directory)
                changed = sorted(
                    p for p in previous.keys() | now.keys() if previous.get(p) != now.get(p)
                )
                linked = [
                    p for p in changed if _same_file(result.directory / p, current.directory / p)
                ]
                assert not linked, (
                    f"{name}.fetch rewrote files {linked} that "
                    "context.reuse() had put into context.target: they are hard links to the "
                    "previous version's files, so the previous version changed too; write a "
                    "changed file under a new name (or unlink it first), never open a reused one"
                )
                assert not changed, (
                    f"{name}.fetch changed the previous version's files "
                    f"{changed} (that tree may be running, and the destination shows it): "
                    "context.previous is read-only; write only into context.target"
                )
            _check_no_secret_recorded(store, result, checkout)
            return result

        return checked_pull

    @pytest.fixture
    def faulted_pull(
        self,
        store: StoreHandle,
        destination: Path,
        confined: Callable[[Callable[[], PullResult | None], Path | None], PullResult | None],
    ) -> Callable[[], PullResult | None]:
        """A pull expected to fail: its result, or ``None`` when it raised (as it should)."""

        def faulted_pull() -> PullResult | None:
            def pull() -> PullResult | None:
                try:
                    return store.storage.pull_code(destination)
                except Exception:  # any error will do: what matters is that nothing was committed
                    return None

            return confined(pull, destination)

        return faulted_pull

    def _assert_previous_tree_kept(
        self, store: StoreHandle, destination: Path, good: PullResult, what: str
    ) -> None:
        assert _tree(destination) == FIRST, f"{what} changed the current tree"
        assert _tree(good.directory) == FIRST, f"{what} changed the previous version"
        checkout = Checkout.for_storage(store.storage, destination)
        assert not list(checkout.root.glob("staging-*")), f"{what} left staging behind"
        assert _strays(checkout) == [], f"{what} left {_strays(checkout)}"

    # -- the contract ---------------------------------------------------------------------------

    def test_pull_into_a_new_destination_gets_every_file(
        self, store: StoreHandle, destination: Path, checked_pull: Callable[[], PullResult]
    ) -> None:
        """A first pull brings every file, byte for byte, and names the version it pulled."""
        store.write(FIRST)
        result = checked_pull()
        assert _tree(result.directory) == FIRST, "pulled tree differs from what the store holds"
        assert result.changed
        assert result.version, "PullResult.version must identify the version pulled"
        assert _tree(destination) == FIRST, "the destination must show the pulled code"

    def test_pull_into_an_empty_existing_folder(
        self, store: StoreHandle, destination: Path, checked_pull: Callable[[], PullResult]
    ) -> None:
        """An empty folder that already exists is a valid destination."""
        store.write(FIRST)
        destination.mkdir()
        assert _tree(checked_pull().directory) == FIRST

    def test_repull_with_nothing_changed_moves_nothing(
        self, store: StoreHandle, checked_pull: Callable[[], PullResult]
    ) -> None:
        """A re-pull of an unchanged store transfers nothing and keeps the same version folder.

        Return ``context.unchanged()`` when the store holds what ``context.previous_state``
        describes.
        """
        store.write(FIRST)
        first = checked_pull()
        again = checked_pull()
        assert not again.changed, "a re-pull of an unchanged store must report changed=False"
        assert (again.files, again.bytes) == (0, 0), "a re-pull of an unchanged store moved data"
        assert again.version == first.version
        assert again.directory == first.directory

    def test_changed_added_and_deleted_files_propagate(
        self, store: StoreHandle, checked_pull: Callable[[], PullResult]
    ) -> None:
        """Changes, additions and deletions all show up, and only changed files are transferred.

        Files that did not change come from ``context.reuse()``, not from the store.
        """
        store.write(FIRST)
        first = checked_pull()
        second_files = {
            "flow.py": b"def main():\n    return 2\n",
            "pkg/helpers.py": FIRST["pkg/helpers.py"],
            "pkg/new.py": b"NEW = True\n",
        }
        store.write(second_files)
        second = checked_pull()
        assert _tree(second.directory) == second_files
        assert second.version != first.version, "a changed store must give a new version"
        assert second.files <= 2, f"only 2 files changed but {second.files} were transferred"

    def test_interrupted_pull_keeps_the_previous_tree(
        self,
        store: StoreHandle,
        destination: Path,
        checked_pull: Callable[[], PullResult],
        confined: Callable[[Callable[[], None], Path | None], None],
    ) -> None:
        """A pull stopped after its first file (Ctrl-C) leaves the current tree as it was.

        The stop is raised from the second path join (:meth:`~codeferry.PullContext.path_for`
        or :func:`codeferry.paths.safe_join`), so a fetch must join storage paths through them.
        Nothing of the half-written version may stay in the checkout.
        """
        good = _pulled_then_changed(store, checked_pull)
        joins = _FailingFromSecondJoin(KeyboardInterrupt)
        name = type(store.storage).__name__

        def pull() -> None:
            try:
                store.storage.pull_code(destination)
            except KeyboardInterrupt:
                return
            pytest.fail(
                f"{name}.fetch joined {joins.count} storage path(s) through context.path_for() or "
                "codeferry.paths.safe_join(); every path from storage must go through them "
                "(they refuse paths that leave the destination)",
                pytrace=False,
            )

        with failing_path_joins(joins):
            confined(pull, destination)
        self._assert_previous_tree_kept(store, destination, good, "an interrupted pull")

    def test_failed_transfer_raises_and_keeps_the_previous_tree(
        self,
        store: StoreHandle,
        destination: Path,
        checked_pull: Callable[[], PullResult],
        faulted_pull: Callable[[], PullResult | None],
    ) -> None:
        """A pull that fails midway (disk full, connection lost) raises; it never commits half.

        The failure is raised from the second path join. A fetch that swallows the error and
        returns would switch the checkout to a half tree.
        """
        good = _pulled_then_changed(store, checked_pull)
        joins = _FailingFromSecondJoin(
            lambda: OSError(28, "No space left on device (raised by the contract test)")
        )
        with failing_path_joins(joins):
            result = faulted_pull()
        name = type(store.storage).__name__
        if result is not None:
            committed = sorted(_tree(result.directory))
            pytest.fail(
                f"{name}.fetch swallowed a failed write and the pull committed {committed}: "
                "let errors propagate (or raise PullError)"
                if joins.count >= 2
                else f"{name}.fetch joins no storage path through context.path_for()",
                pytrace=False,
            )
        self._assert_previous_tree_kept(store, destination, good, "a failed pull")

    def test_write_that_fails_midway_fails_the_pull(
        self,
        store: StoreHandle,
        destination: Path,
        checked_pull: Callable[[], PullResult],
        faulted_pull: Callable[[], PullResult | None],
    ) -> None:
        """A file that cannot be written whole (the disk fills up) fails the pull.

        No file may grow past 256 KiB during the pull (``RLIMIT_FSIZE``), and the store holds a
        1 MiB one: its write fails midway with ``EFBIG``. A fetch that carries on, or reports
        success with the file missing or cut short, would commit a broken tree.
        """
        store.write(FIRST)
        good = checked_pull()
        large = {**FIRST, "data/large.bin": os.urandom(4 * _WRITE_LIMIT)}
        store.write(large)
        with limited_writes(_WRITE_LIMIT):
            result = faulted_pull()
        if result is not None:
            broken = _broken(large, _tree(result.directory))
            assert not broken, (
                f"{type(store.storage).__name__}.fetch swallowed a failed write (the disk was "
                f"full) and the pull committed {broken} missing or cut short: let errors "
                "propagate (or raise PullError)"
            )
        else:
            self._assert_previous_tree_kept(store, destination, good, "a failed pull")

    def test_read_that_fails_is_retried_or_fails_the_pull(
        self,
        store: StoreHandle,
        destination: Path,
        checked_pull: Callable[[], PullResult],
        faulted_pull: Callable[[], PullResult | None],
    ) -> None:
        """A read of the store that fails is tried again or fails the pull, never swallowed.

        The first read of one new file fails: opening it here fails with ``EIO``, or the
        connection that carries its bytes is reset (:func:`codeferry.testing.faults.failing_reads`).
        A fetch that skips the file, or writes what it got, would commit a broken tree.
        """
        store.write(FIRST)
        good = checked_pull()
        fault = ReadFault(f"unreadable-{secrets.token_hex(6)}.bin", os.urandom(64 << 10))
        files = {**FIRST, f"data/{fault.name}": fault.content}
        store.write(files)
        with failing_reads(fault):
            result = faulted_pull()
        name = type(store.storage).__name__
        if result is not None:
            broken = _broken(files, _tree(result.directory))
            assert not broken, (
                f"{name}.fetch swallowed a failed read of the store ({fault.failed[0]}) and the "
                f"pull committed {broken} missing or wrong: read again, or let the error "
                "propagate (or raise PullError)"
                if fault.failed
                else f"{name}.fetch pulled {broken} missing or wrong"
            )
            if not fault.failed:
                warnings.warn(
                    f"the kit could not make a read of {name}'s store fail: its bytes passed "
                    "through no file opened here and no plain connection (they came from memory, "
                    "over an encrypted connection, or another program read them)",
                    stacklevel=1,
                )
        else:
            self._assert_previous_tree_kept(store, destination, good, "a failed pull")

    @pytest.mark.parametrize("hostile", HOSTILE_PATHS)
    def test_hostile_paths_are_refused(
        self,
        *,
        store: StoreHandle,
        destination: Path,
        tmp_path: Path,
        hostile: str,
        checked_pull: Callable[[], PullResult],
        confined: Callable[[Callable[[], None], Path | None], None],
    ) -> None:
        """A store holding ``../x`` or ``/x`` fails the pull; nothing is written.

        The error says which path was refused and shows no secret. The pull runs in the kit's
        sandbox: a write to ``/absolute.py`` is refused and reported, never made.
        """
        store.write(FIRST)
        good = checked_pull()
        try:
            store.write({**FIRST, hostile: b"pwned = True\n"})
        except NotImplementedError as reason:
            pytest.skip(f"the store cannot hold {hostile!r}: {reason}")
        there = set(tmp_path.rglob("*"))  # the store's own copy among them

        def pull() -> None:
            with pytest.raises(CodeferryError) as caught:
                store.storage.pull_code(destination)
            assert isinstance(caught.value, UnsafePathError) or "path" in str(caught.value), (
                f"refusing {hostile!r} must say which path was refused"
            )
            for secret in store.secrets:
                assert secret not in str(caught.value), "the error refusing a path shows a secret"

        confined(pull, destination)
        written = [p for p in tmp_path.rglob("*") if p.name in _HOSTILE_NAMES and p not in there]
        assert not written, f"a hostile path was written: {written}"
        assert _tree(good.directory) == FIRST

    def test_git_folder_is_left_out(
        self, store: StoreHandle, checked_pull: Callable[[], PullResult]
    ) -> None:
        """A store holding git's folder pulls everything else; nothing named ``.git`` lands.

        Git never checks out a ``.git`` entry: its hooks would run. Every storage leaves such
        paths out (:func:`codeferry.paths.is_git_path`) rather than failing, since a working
        copy, a bucket synced from one or an image built from one all hold a ``.git``.
        """
        try:
            store.write({**FIRST, **GIT_FOLDER})
        except NotImplementedError as reason:
            pytest.skip(f"the store cannot hold git's folder: {reason}")
        name = type(store.storage).__name__
        try:
            result = checked_pull()
        except CodeferryError as error:
            pytest.fail(
                f"{name} refused a store holding {sorted(GIT_FOLDER)} ({error}); git's folder "
                "is left out of every pull, not refused: skip each path for which "
                "codeferry.paths.is_git_path() is true",
                pytrace=False,
            )
        pulled = _tree(result.directory)
        landed = sorted(path for path in pulled if paths.is_git_path(path))
        assert not landed, (
            f"{name}.fetch wrote git's folder into the checkout: {landed}; leave out each path "
            "for which codeferry.paths.is_git_path() is true"
        )
        assert pulled == FIRST, "pulled tree differs from what the store holds besides .git"

    def test_secrets_never_appear_in_str_repr_or_pull_step(self, store: StoreHandle) -> None:
        """``str``, ``repr``, the pull step and the block's public fields show no secret value.

        The pull step is looked at before and after the storage's credentials are saved.
        """
        shown = {
            "str(storage)": str(store.storage),
            "repr(storage)": repr(store.storage),
        }
        for when in ("", " once its credentials were saved"):
            if when:
                _save_credentials(store.storage)
            try:
                shown[f"to_pull_step(){when}"] = repr(store.storage.to_pull_step())
            except CodeferryError as error:  # e.g. "save the credentials as a block first"
                shown[f"the error of to_pull_step(){when}"] = str(error)
        if isinstance(store.storage, Block):
            shown["public_dict()"] = repr(store.storage.public_dict())
        for secret in store.secrets:
            for where, text in shown.items():
                assert secret not in text, (
                    f"{where} shows a secret value: keep credentials in SecretStr fields and out "
                    "of __str__, __repr__ and the pull step (name a saved block instead)"
                )

    def test_failed_pull_says_why_in_one_line_without_secrets(
        self, store: StoreHandle, confined: Callable[[Callable[[], None], Path | None], None]
    ) -> None:
        """A pull that cannot reach its store raises a one-line ``CodeferryError``, no secret.

        Needs :attr:`StoreHandle.failing`: every storage has a way to fail.
        """
        if store.failing is None:
            pytest.fail(
                "give StoreHandle.failing: a storage like this one whose pull fails (a wrong "
                "password, a missing folder); every storage can fail",
                pytrace=False,
            )
        failing = store.failing()

        def pull() -> None:
            try:
                failing.pull_code()
            except Exception as caught:  # any type is caught, to name it when it is the wrong one
                error = caught
            else:
                pytest.fail("StoreHandle.failing() gave a storage whose pull succeeded")
            assert isinstance(error, CodeferryError), (
                f"a failed pull raised {type(error).__name__}: {error}; raise PullError instead"
            )
            message = str(error)
            assert message, "the error of a failed pull says nothing"
            assert "\n" not in message, f"the error is not one line: {message!r}"
            for secret in store.secrets:
                assert secret not in message, "the error of a failed pull shows a secret value"
                assert secret not in repr(failing), "repr() of the failing storage shows a secret"

        confined(pull, None)

    def test_pull_step_pulls_the_same_code_through_the_step_engine(
        self,
        store: StoreHandle,
        confined: Callable[[Callable[[], StepsResult], Path | None], StepsResult],
    ) -> None:
        """``to_pull_step()`` names a registered step that pulls the same code, as deployed.

        The storage's credentials are saved as blocks first (as a user does before writing a
        deployment), so the step's arguments name them in templates; the step then runs through
        the step engine with the block store, as ``codeferry pull`` runs it.
        """
        from codeferry.deployments import Step
        from codeferry.steps.engine import run_steps
        from codeferry.store import get_store

        store.write(FIRST)
        _save_credentials(store.storage)
        name = type(store.storage).__name__
        step = store.storage.to_pull_step()
        assert len(step) == 1, "to_pull_step() must return one {step_name: arguments} mapping"
        ((step_name, arguments),) = step.items()
        get_plugins().step(step_name)  # registered by a plugin, or an error naming what to install
        try:
            ran = confined(
                lambda: run_steps([Step(name=step_name, arguments=arguments)], store=get_store()),
                None,
            )
        except CodeferryError as error:
            pytest.fail(
                f"{name}.to_pull_step() gave a step that fails when the step engine runs it (its "
                f"templates resolved from the saved blocks, as `codeferry pull` does): {error}",
                pytrace=False,
            )
        assert ran.directory is not None, "a pull step must output `directory`"
        assert _tree(Path(ran.directory)) == FIRST, "the pull step pulled other code"

    def test_block_type_is_registered_and_round_trips(self, store: StoreHandle) -> None:
        """A storage that is a block is registered by its plugin and saves and loads unchanged."""
        storage = store.storage
        if not isinstance(storage, Block):
            pytest.skip("the storage is not a block")
        slug = type(storage).block_type_slug
        registered = get_plugins().block_types.get(slug)
        assert registered is not None, f"block type {slug!r} is not registered by any plugin"
        assert registered.block_type is type(storage)
        assert type(storage).schema_checksum() == type(storage).schema_checksum()
        storage.save("conformance", overwrite=True)
        loaded = type(storage).load("conformance")
        assert loaded.public_dict(show_secrets=True) == storage.public_dict(show_secrets=True)
        assert str(loaded) == str(storage)

    def test_skips_are_only_what_the_store_cannot_hold(
        self, request: pytest.FixtureRequest
    ) -> None:
        """The kit's tests skipped for this storage exactly :attr:`expected_skips` times.

        Run after every other test (the kit's pytest plugin orders it last), it counts their
        skips, so a new one fails here. A skip is only for what cannot be: a name the store
        cannot hold, a round trip for a storage that is not a block.
        """
        from codeferry.testing.pytest_plugin import skipped_beside

        skipped, complete = skipped_beside(request.node)
        listed = "".join(f"\n  {test}: {reason}" for test, reason in sorted(skipped.items()))
        hint = (
            f"; set expected_skips = {len(skipped)} on {type(self).__name__} only if each is a "
            "true impossibility"
        )
        # When some did not run here (deselected, or run by another worker), fewer may skip.
        if len(skipped) > self.expected_skips or (complete and len(skipped) < self.expected_skips):
            pytest.fail(
                f"{len(skipped)} of the kit's tests skipped for this storage, expected_skips is "
                f"{self.expected_skips}:{listed}{hint}",
                pytrace=False,
            )


def _check_sandbox(name: str, sandbox: Sandbox, root: Path) -> None:
    """Fail when the sandboxed pull wrote outside its places or left scratch files behind."""

    def shown(path: str) -> str:
        inside = Path(path)
        return inside.relative_to(root).as_posix() if inside.is_relative_to(root) else path

    refused = sorted({shown(path) for path in sandbox.refused})
    assert not refused, (
        f"{name}.fetch wrote outside context.target: {refused}; join every storage path with "
        "context.path_for() and write nothing else (the kit refused the writes)"
    )
    left = sandbox.left_in_temporary()
    assert not left, (
        f"{name}.fetch left {left} in the temporary folder (tempfile.gettempdir()): remove "
        "scratch files before fetch returns, or keep them in context.cache_dir"
    )


def _check_no_secret_recorded(store: StoreHandle, result: PullResult, checkout: Checkout) -> None:
    """No secret in the pull's result, the checkout's folder names or its recorded state.

    ``FetchResult.state`` is written to disk as it is: keep tokens out of it.
    """
    recorded = {
        "the pull result": json.dumps(result.as_dict()),
        "the checkout folder's name": str(checkout.root),
    }
    for meta in checkout.versions_dir.glob("*.json"):
        recorded[f"the recorded state {meta.name}"] = meta.read_text()
    for secret in store.secrets:
        for where, text in recorded.items():
            assert secret not in text, f"{where} holds a secret value"


def _save_credentials(storage: CodeStorage) -> None:
    """Save the blocks that hold the storage's secrets, as a user does before a deployment.

    A nested block holding a secret (credentials) is saved under its own name; a storage holding
    a secret in its own fields is saved itself. Blocks saved already are left as they are.
    """
    if not isinstance(storage, Block):
        return
    for field_name in type(storage).model_fields:
        value = getattr(storage, field_name)
        if isinstance(value, Block) and value.block_name is None and _holds_secret(value):
            value.save(f"conformance-{field_name.replace('_', '-')}", overwrite=True)
    own = [
        path
        for path in type(storage).secret_fields()
        if not isinstance(getattr(storage, path.split(".")[0]), Block)
    ]
    if storage.block_name is None and any(_value_at(storage, path) is not None for path in own):
        storage.save("conformance", overwrite=True)


def _holds_secret(block: Block) -> bool:
    return any(_value_at(block, path) is not None for path in type(block).secret_fields())


def _value_at(model: Any, path: str) -> Any:
    for part in path.split("."):
        model = getattr(model, part, None)
        if model is None:
            return None
    return model
