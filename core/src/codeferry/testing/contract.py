"""The tests every storage passes; see :mod:`codeferry.testing`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from codeferry.blocks import Block
from codeferry.checkouts import Checkout
from codeferry.errors import CodeferryError, UnsafePathError
from codeferry.plugins import get_plugins
from codeferry.storage import CodeStorage, PullContext

__all__ = ["StorageContract", "StoreHandle"]

HOSTILE_PATHS = ("../escaped.py", "/absolute.py", "a/../../escaped.py", ".git/hooks/post-checkout")


@dataclass
class StoreHandle:
    """The storage under test and how to change what it holds.

    :param storage: the storage object under test.
    :param write: replaces everything the storage holds by ``files`` (``/``-separated path to
        bytes). Raise :class:`NotImplementedError` for a path the backend cannot hold at all;
        tests of hostile paths are then skipped with that reason.
    :param secrets: credential values the storage was given; none may ever be shown.
    """

    storage: CodeStorage
    write: Callable[[Mapping[str, bytes]], None]
    secrets: Sequence[str] = field(default_factory=tuple)


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


class StorageContract:
    """Subclass and provide a ``store`` fixture returning a :class:`StoreHandle`."""

    @pytest.fixture(autouse=True)
    def _isolated(self, codeferry_isolated: Path) -> Path:
        return codeferry_isolated

    @pytest.fixture
    def store(self) -> StoreHandle:
        raise NotImplementedError("provide a `store` fixture returning a StoreHandle")

    @pytest.fixture
    def destination(self, tmp_path: Path) -> Path:
        return tmp_path / "checkout"

    def test_pull_into_a_new_destination_gets_every_file(
        self, store: StoreHandle, destination: Path
    ) -> None:
        store.write(FIRST)
        result = store.storage.pull_code(destination)
        assert _tree(result.directory) == FIRST, "pulled tree differs from what the store holds"
        assert result.changed
        assert result.version, "PullResult.version must identify the version pulled"
        assert _tree(destination) == FIRST, "the destination must show the pulled code"

    def test_pull_into_an_empty_existing_folder(
        self, store: StoreHandle, destination: Path
    ) -> None:
        store.write(FIRST)
        destination.mkdir()
        assert _tree(store.storage.pull_code(destination).directory) == FIRST

    def test_repull_with_nothing_changed_moves_nothing(
        self, store: StoreHandle, destination: Path
    ) -> None:
        store.write(FIRST)
        first = store.storage.pull_code(destination)
        again = store.storage.pull_code(destination)
        assert not again.changed, "a re-pull of an unchanged store must report changed=False"
        assert (again.files, again.bytes) == (0, 0), "a re-pull of an unchanged store moved data"
        assert again.version == first.version
        assert again.directory == first.directory

    def test_changed_added_and_deleted_files_propagate(
        self, store: StoreHandle, destination: Path
    ) -> None:
        store.write(FIRST)
        first = store.storage.pull_code(destination)
        second_files = {
            "flow.py": b"def main():\n    return 2\n",
            "pkg/helpers.py": FIRST["pkg/helpers.py"],
            "pkg/new.py": b"NEW = True\n",
        }
        store.write(second_files)
        second = store.storage.pull_code(destination)
        assert _tree(second.directory) == second_files
        assert second.version != first.version, "a changed store must give a new version"
        assert second.files <= 2, f"only 2 files changed but {second.files} were transferred"

    def test_interrupted_pull_keeps_the_previous_tree(
        self, store: StoreHandle, destination: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        store.write(FIRST)
        good = store.storage.pull_code(destination)
        store.write({**FIRST, "flow.py": b"changed\n", "more.py": b"more\n"})
        calls = iter(range(1_000_000))
        real_path_for = PullContext.path_for

        def interrupt_on_second_file(self: PullContext, path: str) -> Path:
            if next(calls) >= 1:
                raise KeyboardInterrupt
            return real_path_for(self, path)

        monkeypatch.setattr(PullContext, "path_for", interrupt_on_second_file)
        with pytest.raises(KeyboardInterrupt):
            store.storage.pull_code(destination)
        monkeypatch.undo()
        assert _tree(destination) == FIRST, "an interrupted pull changed the current tree"
        assert _tree(good.directory) == FIRST
        checkout = Checkout.for_storage(store.storage, destination)
        assert not list(checkout.root.glob("staging-*")), "an interrupted pull left staging behind"

    @pytest.mark.parametrize("hostile", HOSTILE_PATHS)
    def test_hostile_paths_are_refused(
        self, store: StoreHandle, destination: Path, tmp_path: Path, hostile: str
    ) -> None:
        store.write(FIRST)
        good = store.storage.pull_code(destination)
        try:
            store.write({**FIRST, hostile: b"pwned = True\n"})
        except NotImplementedError as reason:
            pytest.skip(f"the store cannot hold {hostile!r}: {reason}")
        with pytest.raises(CodeferryError) as caught:
            store.storage.pull_code(destination)
        assert isinstance(caught.value, UnsafePathError) or "path" in str(caught.value), (
            f"refusing {hostile!r} must say which path was refused"
        )
        assert not list(tmp_path.parent.rglob("escaped.py")), "a hostile path was written outside"
        assert not list(tmp_path.parent.rglob("absolute.py"))
        assert _tree(good.directory) == FIRST

    def test_secrets_never_appear_in_str_repr_or_pull_step(self, store: StoreHandle) -> None:
        shown = [str(store.storage), repr(store.storage), repr(store.storage.to_pull_step())]
        if isinstance(store.storage, Block):
            shown.append(repr(store.storage.public_dict()))
        for secret in store.secrets:
            for text in shown:
                assert secret not in text, "a secret value is shown by the storage"

    def test_to_pull_step_pulls_the_same_code(self, store: StoreHandle, tmp_path: Path) -> None:
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


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, Mapping):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _leaves(item)
    else:
        yield value
