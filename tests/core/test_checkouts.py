"""Checkouts: versions built beside the current one and switched atomically."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codeferry.checkouts import Checkout, link_version
from codeferry.errors import PullError, UnsafePathError
from codeferry.storage import CodeStorage, FetchResult, PullContext


class DictStorage(CodeStorage):
    """Code held in a dict; reuses unchanged files like a real incremental plugin."""

    def __init__(
        self, files: dict[str, str], *, fail_after: int | None = None, name: str = "test"
    ) -> None:
        self.files = files
        self.fail_after = fail_after
        self.name = name

    def __str__(self) -> str:
        return f"dict://{self.name}"

    def to_pull_step(self) -> dict[str, dict[str, Any]]:
        return {"test.pull": {}}

    def fetch(self, context: PullContext) -> FetchResult:
        version = json.dumps(self.files, sort_keys=True)
        if version == context.previous_version:
            return context.unchanged()
        written = 0
        for index, (path, text) in enumerate(sorted(self.files.items())):
            if self.fail_after is not None and index >= self.fail_after:
                raise PullError("connection dropped")
            if context.previous_state.get(path) == text and context.reuse(path):
                continue
            context.path_for(path).write_text(text)
            written += 1
        return FetchResult(version, written, 0, state=dict(self.files))


def tree(directory: Path) -> dict[str, str]:
    return {
        p.relative_to(directory).as_posix(): p.read_text()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_first_pull_puts_the_code_in_the_home_checkout(codeferry_home: Path) -> None:
    result = DictStorage({"a.py": "A", "pkg/b.py": "B"}).pull_code()
    assert result.changed
    assert result.files == 2
    assert tree(result.directory) == {"a.py": "A", "pkg/b.py": "B"}
    assert result.directory.is_relative_to(codeferry_home / "checkouts")


def test_repull_with_nothing_changed_moves_nothing() -> None:
    storage = DictStorage({"a.py": "A"})
    first = storage.pull_code()
    second = storage.pull_code()
    assert not second.changed
    assert (second.files, second.bytes) == (0, 0)
    assert second.directory == first.directory


def test_changed_and_deleted_files_propagate_and_unchanged_ones_are_linked() -> None:
    storage = DictStorage({"keep.py": "K", "change.py": "1", "gone.py": "G"})
    first = storage.pull_code()
    storage.files = {"keep.py": "K", "change.py": "2", "new.py": "N"}
    second = storage.pull_code()
    assert tree(second.directory) == {"keep.py": "K", "change.py": "2", "new.py": "N"}
    assert second.files == 2
    keep_before, keep_after = first.directory / "keep.py", second.directory / "keep.py"
    assert keep_before.stat().st_ino == keep_after.stat().st_ino


# -- independent versions ----------------------------------------------------------------------


def edit_in_place(path: Path, text: str) -> None:
    """What an editor or a program writing its own folder does: the same file, new bytes.

    The file is made writable first (its owner may; root need not).
    """
    path.chmod(0o644)
    with path.open("r+") as handle:
        handle.truncate(0)
        handle.write(text)


def test_a_versions_files_are_read_only() -> None:
    result = DictStorage({"a.py": "A", "pkg/b.py": "B"}).pull_code()
    for path in ("a.py", "pkg/b.py"):
        assert not stat.S_IMODE((result.directory / path).stat().st_mode) & 0o222, path


def test_an_edit_in_place_never_reaches_the_next_version() -> None:
    storage = DictStorage({"a.py": "A", "b.py": "B"})
    first = storage.pull_code()
    edit_in_place(first.directory / "a.py", "EDITED")
    storage.files = {"a.py": "A", "b.py": "B2"}
    second = storage.pull_code()
    assert tree(second.directory) == {"a.py": "A", "b.py": "B2"}


def test_a_repull_restores_an_edited_file_when_the_source_did_not_change() -> None:
    storage = DictStorage({"a.py": "A", "b.py": "B"})
    first = storage.pull_code()
    edit_in_place(first.directory / "b.py", "EDITED")
    again = storage.pull_code()
    assert again.changed
    assert tree(again.directory) == {"a.py": "A", "b.py": "B"}
    assert storage.pull_code().directory == again.directory  # and then it is unchanged


def test_with_copy_files_an_edit_never_reaches_another_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CODEFERRY_COPY_FILES", "1")
    storage = DictStorage({"a.py": "A", "b.py": "B"})
    first = storage.pull_code()
    storage.files = {"a.py": "A", "b.py": "B2"}
    second = storage.pull_code()
    assert second.files == 1  # a.py was reused, as a copy
    edit_in_place(second.directory / "a.py", "EDITED")
    assert tree(first.directory) == {"a.py": "A", "b.py": "B"}


@pytest.mark.parametrize("copy_files", ["", "1"], ids=["links", "copies"])
def test_a_new_version_reuses_every_unchanged_file_of_many(
    monkeypatch: pytest.MonkeyPatch, copy_files: str
) -> None:
    # More files than one batch: links are made one after the other, copies batches at once.
    monkeypatch.setenv("CODEFERRY_COPY_FILES", copy_files)
    files = {f"pkg{n % 7}/m{n}.py": f"N = {n}" for n in range(1_000)}
    storage = DictStorage(files)
    first = storage.pull_code()
    storage.files = {**files, "pkg3/m3.py": "N = -3"}
    second = storage.pull_code()
    assert second.files == 1
    assert tree(second.directory) == storage.files
    shared = (second.directory / "pkg0/m0.py").stat().st_ino == (
        first.directory / "pkg0/m0.py"
    ).stat().st_ino
    assert shared is not bool(copy_files)


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder others may walk into (pytest's own are private to us): see below."""
    base = Path(tempfile.mkdtemp(prefix="codeferry-owned-"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base)


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX file owners")
def test_an_edit_in_place_by_the_files_owner_fails_and_changes_no_version(
    open_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEFERRY_HOME", str(open_folder / "home"))
    storage = DictStorage({"a.py": "A", "b.py": "B"})
    first = storage.pull_code(open_folder / "code")
    storage.files = {"a.py": "A", "b.py": "B2"}
    second = storage.pull_code(open_folder / "code")
    owner = _owner_who_is_not_root(open_folder)
    target = second.directory / "a.py"

    def shell(command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sh", "-c", command],
            capture_output=True,
            text=True,
            check=False,
            user=owner.get("user"),
            group=owner.get("group"),
        )

    assert shell(f"cat '{target}'").stdout == "A", "the owner cannot even read the file"
    edit = shell(f"printf EDITED >> '{target}'")
    assert edit.returncode != 0, "an edit in place of a checked-out file succeeded"
    assert "ermission denied" in edit.stderr
    assert tree(first.directory) == {"a.py": "A", "b.py": "B"}
    assert tree(second.directory) == {"a.py": "A", "b.py": "B2"}


def _owner_who_is_not_root(base: Path) -> dict[str, int]:
    """Arguments for subprocess that run as the owner of everything under ``base``, not root.

    Root may write read-only files; the protection is for everyone else, so as root the files
    are given to ``nobody`` (65534) and the edit runs as that user.
    """
    if os.geteuid() != 0:
        return {}
    for folder, dirs, names in os.walk(base):
        for name in [*dirs, *names]:
            os.chown(Path(folder, name), 65534, 65534, follow_symlinks=False)
    os.chown(base, 65534, 65534)
    return {"user": 65534, "group": 65534}


# -- one checkout, one source ------------------------------------------------------------------


def test_a_destination_holding_another_source_is_refused_naming_both(tmp_path: Path) -> None:
    dest = tmp_path / "code"
    DictStorage({"a.py": "1"}, name="first").pull_code(dest)
    other = DictStorage({"a.py": "1"}, name="second")
    with pytest.raises(PullError) as caught:
        other.pull_code(dest)
    message = str(caught.value)
    assert "dict://first" in message
    assert "dict://second" in message
    assert "replace" in message
    assert tree(dest) == {"a.py": "1"}
    replaced = other.pull_code(dest, replace=True)
    assert replaced.changed
    assert replaced.files == 1
    assert Checkout.for_storage(other, dest).current.source == "dict://second"  # type: ignore[union-attr]


def test_a_relative_destination_and_its_absolute_path_are_one_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    storage = DictStorage({"a.py": "1"})
    first = Checkout.for_storage(storage, "../code")
    second = Checkout.for_storage(storage, tmp_path / "code")
    assert first.root == second.root
    assert first.link == second.link == tmp_path / "code"
    storage.pull_code("../code")
    assert not storage.pull_code(tmp_path / "code").changed


def test_a_destination_that_is_a_symlink_codeferry_did_not_make_is_refused_and_kept(
    tmp_path: Path,
) -> None:
    mine = tmp_path / "my-project"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    dest = tmp_path / "code"
    dest.symlink_to(mine)
    with pytest.raises(PullError, match="symbolic link that codeferry did not make"):
        DictStorage({"a.py": "1"}).pull_code(dest)
    with pytest.raises(PullError, match="did not make"):
        DictStorage({"a.py": "1"}).pull_code(dest, replace=True)
    assert dest.readlink() == mine
    assert (mine / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


def test_failed_pull_keeps_the_previous_tree_and_leaves_no_staging() -> None:
    storage = DictStorage({"a.py": "1", "b.py": "1"})
    good = storage.pull_code()
    checkout = Checkout.for_storage(storage)
    storage.files, storage.fail_after = {"a.py": "2", "b.py": "2"}, 1
    with pytest.raises(PullError, match="connection dropped"):
        storage.pull_code()
    assert checkout.current is not None
    assert checkout.current.directory == good.directory
    assert tree(good.directory) == {"a.py": "1", "b.py": "1"}
    assert not list(checkout.root.glob("staging-*"))


def test_interrupted_pull_keeps_the_previous_tree() -> None:
    class Interrupted(DictStorage):
        def fetch(self, context: PullContext) -> FetchResult:
            context.path_for("half.py").write_text("half")
            raise KeyboardInterrupt

    good = DictStorage({"a.py": "1"}).pull_code()
    with pytest.raises(KeyboardInterrupt):
        Interrupted({"a.py": "2"}).pull_code()
    checkout = Checkout.for_storage(DictStorage({}))
    assert checkout.current is not None
    assert checkout.current.directory == good.directory
    assert not list(checkout.root.glob("staging-*"))


def test_storage_path_outside_the_destination_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    with pytest.raises(UnsafePathError):
        DictStorage({"../../../../outside.txt": "x"}).pull_code(tmp_path / "dest")
    assert not outside.exists()


def test_next_pull_repairs_leftovers_of_a_killed_pull() -> None:
    storage = DictStorage({"a.py": "1"})
    storage.pull_code()
    checkout = Checkout.for_storage(storage)
    (checkout.root / "staging-deadbeef").mkdir()
    (checkout.root / "staging-deadbeef" / "half.py").write_text("x")
    (checkout.root / "current-deadbeef").symlink_to("versions/nowhere")
    (checkout.versions_dir / "orphan.json").write_text("{}")
    storage.files = {"a.py": "2"}
    storage.pull_code()
    names = {p.name for p in checkout.root.iterdir()}
    assert not any(n.startswith(("staging-", "current-")) for n in names)
    assert not (checkout.versions_dir / "orphan.json").exists()


def pull_versions(count: int, keep: int) -> Checkout:
    """Pull ``count`` versions of ``a.py`` (its text ``0``, ``1``...) keeping ``keep``."""
    storage = DictStorage({"a.py": "0"})
    for n in range(count):
        storage.files = {"a.py": str(n)}
        storage.pull_code(keep=keep)
    return Checkout.for_storage(storage)


def test_old_versions_are_cleaned_up_keeping_the_newest() -> None:
    checkout = pull_versions(5, keep=2)
    versions = sorted(p for p in checkout.versions_dir.iterdir() if p.is_dir())
    assert [tree(v) for v in versions] == [{"a.py": "3"}, {"a.py": "4"}]


def test_versions_lists_the_retained_versions_newest_first() -> None:
    checkout = pull_versions(4, keep=3)
    versions = checkout.versions()
    assert [tree(v.directory) for v in versions] == [{"a.py": "3"}, {"a.py": "2"}, {"a.py": "1"}]
    assert versions[0] == checkout.current
    assert [v.version for v in versions] == [json.dumps({"a.py": str(n)}) for n in (3, 2, 1)]


def test_versions_of_a_checkout_never_pulled_is_empty(tmp_path: Path) -> None:
    assert Checkout(tmp_path / "never").versions() == []


def test_versions_skips_a_version_whose_record_is_gone() -> None:
    storage = DictStorage({"a.py": "0"})
    first = storage.pull_code()
    storage.files = {"a.py": "1"}
    storage.pull_code()
    first.directory.with_name(first.directory.name + ".json").unlink()  # a cleanup half-way
    assert [v.version for v in Checkout.for_storage(storage).versions()] == [
        json.dumps({"a.py": "1"})
    ]


def test_link_version_copies_a_version_with_hard_links(tmp_path: Path) -> None:
    pulled = DictStorage({"a.py": "A", "pkg/b.py": "B"}).pull_code()
    target = tmp_path / "copy"
    target.mkdir()
    (target / "a.py").write_text("stale")
    assert link_version(pulled.directory, target) == target
    assert tree(target) == {"a.py": "A", "pkg/b.py": "B"}
    assert (target / "pkg/b.py").stat().st_ino == (pulled.directory / "pkg/b.py").stat().st_ino


def test_removing_a_linked_copy_leaves_the_version_whole(tmp_path: Path) -> None:
    import shutil

    pulled = DictStorage({"a.py": "A", "pkg/b.py": "B"}).pull_code()
    shutil.rmtree(link_version(pulled.directory, tmp_path / "copy"))
    assert tree(pulled.directory) == {"a.py": "A", "pkg/b.py": "B"}


def test_version_in_use_is_never_cleaned_up() -> None:
    storage = DictStorage({"a.py": "0"})
    first = storage.pull_code(keep=1)
    checkout = Checkout(Checkout.for_storage(storage).root, keep=1)
    with checkout.use(first.directory):
        for n in range(1, 4):
            storage.files = {"a.py": str(n)}
            storage.pull_code(keep=1)
        assert tree(first.directory) == {"a.py": "0"}
    storage.files = {"a.py": "4"}
    storage.pull_code(keep=1)
    assert not first.directory.exists()


class SlowStorage(DictStorage):
    """Reads its previous version only after the old-version sweep has had time to run."""

    def fetch(self, context: PullContext) -> FetchResult:
        time.sleep(0.2)
        assert context.previous is None or tree(context.previous)
        return super().fetch(context)


def test_pull_makes_room_while_fetching_but_keeps_what_the_fetch_reads() -> None:
    storage = SlowStorage({"a.py": "0", "b.py": "B"})
    for n in range(1, 5):
        storage.files = {"a.py": str(n), "b.py": "B"}
        result = storage.pull_code(keep=2)
        assert tree(result.directory) == {"a.py": str(n), "b.py": "B"}
    versions = result.directory.parent
    assert len([p for p in versions.iterdir() if p.is_dir()]) == 2
    storage.pull_code(keep=2)  # unchanged: the oldest went to make room for a new one
    assert [p for p in versions.iterdir() if p.is_dir()] == [result.directory]


def test_running_program_keeps_its_version_while_a_new_one_is_pulled() -> None:
    storage = DictStorage({"flow.py": "v1"})
    running = storage.pull_code().directory
    storage.files = {"flow.py": "v2"}
    newer = storage.pull_code().directory
    assert (running / "flow.py").read_text() == "v1"
    assert (newer / "flow.py").read_text() == "v2"


def test_explicit_destination_becomes_a_link_to_the_current_version(tmp_path: Path) -> None:
    dest = tmp_path / "code"
    storage = DictStorage({"a.py": "1"})
    storage.pull_code(dest)
    assert dest.is_symlink()
    assert (dest / "a.py").read_text() == "1"
    storage.files = {"a.py": "2"}
    storage.pull_code(dest)
    assert (dest / "a.py").read_text() == "2"


def test_temporary_link_of_a_pull_killed_while_linking_is_removed(tmp_path: Path) -> None:
    dest = tmp_path / "code"
    storage = DictStorage({"a.py": "1"})
    storage.pull_code(dest)
    checkout = Checkout.for_storage(storage, dest)
    leftover = tmp_path / ".code.0123456789abcdef0123456789abcdef"
    leftover.symlink_to(checkout.current_link)  # as _ensure_link makes it before the rename
    unrelated = tmp_path / ".code.notes"
    unrelated.write_text("mine")
    storage.files = {"a.py": "2"}
    storage.pull_code(dest)
    assert not leftover.is_symlink()
    assert unrelated.read_text() == "mine"
    assert (dest / "a.py").read_text() == "2"


def test_explicit_empty_destination_folder_is_used(tmp_path: Path) -> None:
    dest = tmp_path / "code"
    dest.mkdir()
    DictStorage({"a.py": "1"}).pull_code(dest)
    assert (dest / "a.py").read_text() == "1"


def test_destination_holding_other_files_is_refused_and_kept(tmp_path: Path) -> None:
    dest = tmp_path / "code"
    dest.mkdir()
    (dest / "precious.txt").write_text("mine")
    with pytest.raises(PullError, match="not a codeferry checkout"):
        DictStorage({"a.py": "1"}).pull_code(dest)
    assert (dest / "precious.txt").read_text() == "mine"


SLOW_PULL = textwrap.dedent(
    """
    import sys, time
    from codeferry.storage import CodeStorage, FetchResult

    class Slow(CodeStorage):
        def __str__(self): return "slow://x"
        def to_pull_step(self): return {}
        def fetch(self, context):
            for i in range(200):
                context.path_for(f"f{i:03}.py").write_text(sys.argv[1])
                time.sleep(0.001)
            return FetchResult(sys.argv[1], 200)

    print("ready", flush=True)
    Slow().pull_code(sys.argv[2])
    """
)


@pytest.mark.parametrize("delay", [0.05, 0.1, 0.15, 0.2, 0.3])
def test_killed_pull_leaves_old_or_new_version_complete(tmp_path: Path, delay: float) -> None:
    dest = tmp_path / "code"
    script = tmp_path / "slow.py"
    script.write_text(SLOW_PULL)
    env = {**os.environ}
    subprocess.run([sys.executable, str(script), "old", str(dest)], check=True, env=env)
    process = subprocess.Popen(
        [sys.executable, str(script), "new", str(dest)], stdout=subprocess.PIPE, env=env
    )
    assert process.stdout is not None
    process.stdout.readline()
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()
    contents = set(tree(dest.resolve()).values())
    assert contents in ({"old"}, {"new"})
    assert len(tree(dest.resolve())) == 200
    subprocess.run([sys.executable, str(script), "newer", str(dest)], check=True, env=env)
    assert set(tree(dest.resolve()).values()) == {"newer"}
