"""The tests every storage passes; see :mod:`codeferry.testing`.

Each pull the kit makes is checked for what must never happen, whatever the test is about:
nothing written outside the new version's folder (``context.target``), the previous version left
byte for byte as it was, and no secret in a folder name or in what the checkout records. A failed
check names the rule that was broken and the file that shows it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from codeferry import paths
from codeferry.blocks import Block
from codeferry.checkouts import Checkout
from codeferry.errors import CodeferryError, UnsafePathError
from codeferry.home import MARKER
from codeferry.plugins import get_plugins

if TYPE_CHECKING:
    from codeferry.storage import CodeStorage, PullResult

__all__ = ["StorageContract", "StoreHandle"]

HOSTILE_PATHS = ("../escaped.py", "/absolute.py", "a/../../escaped.py", ".git/hooks/post-checkout")
_HOSTILE_NAMES = frozenset({"escaped.py", "absolute.py"})

# What a checkout folder may hold (see codeferry.checkouts); anything else was written by a fetch
# that did not stay inside context.target.
_CHECKOUT_ENTRIES = frozenset({".lock", "current", "versions", "cache", MARKER})
# Files of the block store in the codeferry home: a storage may load its credentials while pulling.
_STORE_FILE_PREFIXES = ("codeferry.db", "encryption.key", MARKER)


@dataclass
class StoreHandle:
    """The storage under test and how to change what it holds.

    :param storage: the storage object under test.
    :param write: replaces everything the storage holds by ``files`` (``/``-separated path to
        bytes). Raise :class:`NotImplementedError` for a path the backend cannot hold at all;
        tests of hostile paths are then skipped with that reason.
    :param secrets: credential values the storage was given; none may ever be shown.
    :param failing: optional; makes a storage like ``storage`` whose pull fails (a wrong
        password, a missing folder). Its error must be a one-line
        :class:`~codeferry.errors.CodeferryError` that shows no secret.
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


class StorageContract:
    """Subclass and provide a ``store`` fixture returning a :class:`StoreHandle`.

    Every ``test_*`` method below is one rule of the contract; its docstring says what it checks.
    """

    @pytest.fixture(autouse=True)
    def _isolated(self, codeferry_isolated: Path) -> Path:
        return codeferry_isolated

    @pytest.fixture
    def store(self) -> StoreHandle:
        raise NotImplementedError("provide a `store` fixture returning a StoreHandle")

    @pytest.fixture
    def destination(self, tmp_path: Path) -> Path:
        return tmp_path / "checkout"

    # -- every pull is checked for writes outside its folder and changes to the previous one ----

    @pytest.fixture
    def checked_pull(
        self, store: StoreHandle, destination: Path, tmp_path: Path, codeferry_isolated: Path
    ) -> Callable[[], PullResult]:
        """Pull ``store`` into ``destination``, checking what the pull must never do."""

        def checked_pull() -> PullResult:
            checkout = Checkout.for_storage(store.storage, destination)
            current = checkout.current
            previous = _tree(current.directory) if current else None
            skip = [checkout.root, destination, *_store_files(codeferry_isolated)]
            before = _snapshot(tmp_path, skip)
            result = store.storage.pull_code(destination)
            skip = [checkout.root, destination, *_store_files(codeferry_isolated)]
            after = _snapshot(tmp_path, skip)
            written = sorted(
                path for path in before.keys() | after.keys() if before.get(path) != after.get(path)
            )
            assert not written, (
                f"{type(store.storage).__name__}.fetch wrote outside context.target: {written}; "
                "join every storage path with context.path_for() and write nothing else"
            )
            strays = _strays(checkout)
            assert not strays, (
                f"{type(store.storage).__name__}.fetch wrote into the checkout folder beside "
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
                    f"{type(store.storage).__name__}.fetch rewrote files {linked} that "
                    "context.reuse() had put into context.target: they are hard links to the "
                    "previous version's files, so the previous version changed too; write a "
                    "changed file under a new name (or unlink it first), never open a reused one"
                )
                assert not changed, (
                    f"{type(store.storage).__name__}.fetch changed the previous version's files "
                    f"{changed} (that tree may be running, and the destination shows it): "
                    "context.previous is read-only; write only into context.target"
                )
            return result

        return checked_pull

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
    ) -> None:
        """A pull stopped after its first file (Ctrl-C) leaves the current tree as it was.

        The stop is raised from the second path join (:meth:`~codeferry.PullContext.path_for`
        or :func:`codeferry.paths.safe_join`), so a fetch must join storage paths through them.
        Nothing of the half-written version may stay in the checkout.
        """
        store.write(FIRST)
        good = checked_pull()
        store.write({**FIRST, "flow.py": b"changed\n", "more.py": b"more\n"})
        joins = 0
        real_check = paths.safe_relative_path

        def interrupt_on_second_path(path: str) -> Any:
            nonlocal joins
            joins += 1
            if joins >= 2:
                raise KeyboardInterrupt
            return real_check(path)

        name = type(store.storage).__name__
        with _replaced_path_check(interrupt_on_second_path):
            try:
                store.storage.pull_code(destination)
            except KeyboardInterrupt:
                pass
            else:
                pytest.fail(
                    f"{name}.fetch joined {joins} storage path(s) through context.path_for() or "
                    "codeferry.paths.safe_join(); every path from storage must go through them "
                    "(they refuse paths that leave the destination)",
                    pytrace=False,
                )
        assert _tree(destination) == FIRST, (
            f"an interrupted pull changed the current tree: {name}.fetch must write only into "
            "context.target and let the interruption propagate"
        )
        assert _tree(good.directory) == FIRST
        checkout = Checkout.for_storage(store.storage, destination)
        assert not list(checkout.root.glob("staging-*")), "an interrupted pull left staging behind"
        assert _strays(checkout) == [], f"an interrupted pull left {_strays(checkout)}"

    def test_failed_transfer_raises_and_keeps_the_previous_tree(
        self,
        store: StoreHandle,
        destination: Path,
        checked_pull: Callable[[], PullResult],
    ) -> None:
        """A pull that fails midway (disk full, connection lost) raises; it never commits half.

        A fetch that swallows the error and returns would switch the checkout to a half tree.
        """
        store.write(FIRST)
        good = checked_pull()
        store.write({**FIRST, "flow.py": b"changed\n", "more.py": b"more\n"})
        joins = 0
        real_check = paths.safe_relative_path

        def fail_on_second_path(path: str) -> Any:
            nonlocal joins
            joins += 1
            if joins >= 2:
                raise OSError(28, "No space left on device (raised by the contract test)")
            return real_check(path)

        with _replaced_path_check(fail_on_second_path):
            try:
                result: PullResult | None = store.storage.pull_code(destination)
            except Exception:  # any error will do: what matters is that nothing was committed
                result = None
        name = type(store.storage).__name__
        if result is not None:
            committed = sorted(_tree(result.directory))
            pytest.fail(
                f"{name}.fetch swallowed a failed write and the pull committed {committed}: "
                "let errors propagate (or raise PullError)"
                if joins >= 2
                else f"{name}.fetch joins no storage path through context.path_for()",
                pytrace=False,
            )
        assert _tree(destination) == FIRST, "a failed pull changed the current tree"
        assert _tree(good.directory) == FIRST

    @pytest.mark.parametrize("hostile", HOSTILE_PATHS)
    def test_hostile_paths_are_refused(
        self,
        store: StoreHandle,
        destination: Path,
        tmp_path: Path,
        hostile: str,
        checked_pull: Callable[[], PullResult],
    ) -> None:
        """A store holding ``../x``, ``/x`` or ``.git/...`` fails the pull; nothing is written.

        The error says which path was refused and shows no secret.
        """
        store.write(FIRST)
        good = checked_pull()
        try:
            store.write({**FIRST, hostile: b"pwned = True\n"})
        except NotImplementedError as reason:
            pytest.skip(f"the store cannot hold {hostile!r}: {reason}")
        with pytest.raises(CodeferryError) as caught:
            store.storage.pull_code(destination)
        assert isinstance(caught.value, UnsafePathError) or "path" in str(caught.value), (
            f"refusing {hostile!r} must say which path was refused"
        )
        for secret in store.secrets:
            assert secret not in str(caught.value), "the error refusing a path shows a secret"
        written = [path for path in tmp_path.rglob("*") if path.name in _HOSTILE_NAMES]
        assert not written, f"a hostile path was written: {written}"
        assert not Path("/absolute.py").exists(), "a hostile path was written at the root"
        assert _tree(good.directory) == FIRST

    def test_secrets_never_appear_in_str_repr_or_pull_step(self, store: StoreHandle) -> None:
        """``str``, ``repr``, the pull step and the block's public fields show no secret value."""
        shown = {
            "str(storage)": str(store.storage),
            "repr(storage)": repr(store.storage),
        }
        try:
            shown["to_pull_step()"] = repr(store.storage.to_pull_step())
        except CodeferryError as error:  # e.g. "save the credentials as a block first"
            shown["the error of to_pull_step()"] = str(error)
        if isinstance(store.storage, Block):
            shown["public_dict()"] = repr(store.storage.public_dict())
        for secret in store.secrets:
            for where, text in shown.items():
                assert secret not in text, (
                    f"{where} shows a secret value: keep credentials in SecretStr fields and out "
                    "of __str__, __repr__ and the pull step (name a saved block instead)"
                )

    def test_secrets_never_reach_the_checkout_or_the_result(
        self, store: StoreHandle, checked_pull: Callable[[], PullResult], destination: Path
    ) -> None:
        """No secret in the pull's result, the checkout's folder names or its recorded state.

        ``FetchResult.state`` is written to disk as it is: keep tokens out of it.
        """
        if not store.secrets:
            pytest.skip("the store was given no secrets")
        store.write(FIRST)
        result = checked_pull()
        checkout = Checkout.for_storage(store.storage, destination)
        recorded = {
            "the pull result": json.dumps(result.as_dict()),
            "the checkout folder's name": str(checkout.root),
        }
        for meta in checkout.versions_dir.glob("*.json"):
            recorded[f"the recorded state {meta.name}"] = meta.read_text()
        for secret in store.secrets:
            for where, text in recorded.items():
                assert secret not in text, f"{where} holds a secret value"

    def test_failed_pull_says_why_in_one_line_without_secrets(self, store: StoreHandle) -> None:
        """A pull that cannot reach its store raises a one-line ``CodeferryError``, no secret.

        Needs :attr:`StoreHandle.failing`.
        """
        if store.failing is None:
            pytest.skip("StoreHandle.failing is not given")
        failing = store.failing()
        with pytest.raises(Exception) as caught:  # the type is checked below
            failing.pull_code()
        error = caught.value
        assert isinstance(error, CodeferryError), (
            f"a failed pull raised {type(error).__name__}: {error}; raise PullError instead"
        )
        message = str(error)
        assert message and "\n" not in message, f"the error is not one line: {message!r}"
        for secret in store.secrets:
            assert secret not in message, "the error of a failed pull shows a secret value"
            assert secret not in repr(failing), "repr() of the failing storage shows a secret"

    def test_to_pull_step_pulls_the_same_code(self, store: StoreHandle, tmp_path: Path) -> None:
        """``to_pull_step()`` names a registered step that pulls the same code.

        Skipped when its arguments are templates (saved blocks): the step engine resolves those.
        """
        store.write(FIRST)
        step = store.storage.to_pull_step()
        assert len(step) == 1, "to_pull_step() must return one {step_name: arguments} mapping"
        ((name, arguments),) = step.items()
        function = get_plugins().step(name).function
        if any("{{" in str(value) for value in _leaves(arguments)):
            pytest.skip("the step's arguments use templates; the step engine resolves them")
        outputs = function(**arguments)
        assert outputs is not None, "a pull step must return its outputs"
        assert "directory" in outputs, "a pull step must output `directory`"
        assert _tree(Path(outputs["directory"])) == FIRST

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


@contextlib.contextmanager
def _replaced_path_check(check: Callable[[str], Any]) -> Iterator[None]:
    """Route every path join (``path_for``, ``reuse``, ``safe_join``) through ``check``.

    Not ``monkeypatch``: undoing it would also undo the isolated codeferry home.
    """
    real = paths.safe_relative_path
    paths.safe_relative_path = check  # type: ignore[assignment]
    try:
        yield
    finally:
        paths.safe_relative_path = real


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)
    else:
        yield value
