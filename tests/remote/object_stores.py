"""What the S3, Azure and GCS tests check alike, written once.

Each store's tests keep their own names and their own server; they call these with the store's
way of writing objects (its ``Objects`` or ``Blobs``, written with the service's own client, not
with the code under test) and the storage block under test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import pytest
from filelock import FileLock

from codeferry.checkouts import Checkout
from codeferry.errors import CodeferryError, PullError
from codeferry.remote import MANIFEST_NAME
from codeferry.storage import CodeStorage
from tests.servers.silent import call_bounded

SIBLINGS = {"code-old/stale.py": b"old = True\n", "codebase.py": b"nope\n", "code.txt": b"x\n"}
"""Objects beside the folder ``code`` whose names start with ``code``."""

FOLDER_MARKERS = {"code/": b"", "code/pkg/": b"", "code/empty/": b""}
"""Empty objects that tools write to stand for folders."""


class Objects(Protocol):
    """The objects of one bucket or container, written by the service's own client."""

    def put(self, name: str, data: bytes) -> None: ...

    def replace(self, folder: str, files: Mapping[str, bytes]) -> None: ...

    def names(self) -> list[str]: ...


def tree(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` by ``/``-separated relative path."""
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def write_files(root: Path, files: Mapping[str, bytes]) -> Path:
    """Write ``files`` (``/``-separated path: bytes) under ``root``, folders made; ``root``."""
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return root


def pushed_names(objects: Objects) -> list[str]:
    """The names of the objects a push wrote, its manifest left out."""
    return sorted(name for name in objects.names() if not name.endswith(MANIFEST_NAME))


@dataclass
class StoreChecks:
    """Checks of the ``storage`` block that reads the folder ``code`` of ``objects``."""

    objects: Objects
    storage: CodeStorage

    def pulls_only_the_folder(
        self, checkout: Path, code: Mapping[str, bytes], others: Mapping[str, bytes]
    ) -> None:
        """With ``code`` in the folder and ``others`` written too, a pull gives ``code``."""
        self.objects.replace("code", code)
        for name, data in others.items():
            self.objects.put(name, data)
        assert tree(self.storage.pull_code(checkout).directory) == code

    def push_leaves_tooling_out(
        self, tmp_path: Path, code: Mapping[str, bytes], tooling: Mapping[str, bytes]
    ) -> None:
        """A push of ``code`` beside ``tooling`` sends the code only, once; a pull gives it back."""
        source = write_files(tmp_path / "project", {**code, **tooling})
        assert self.storage.push_code(source).files == len(code)
        assert pushed_names(self.objects) == sorted(f"code/{path}" for path in code)
        assert self.storage.push_code(source).files == 0
        assert tree(self.storage.pull_code(tmp_path / "checkout").directory) == code

    def refuses_a_hostile_name(
        self, checkout: Path, code: Mapping[str, bytes], put_hostile: Callable[[], None]
    ) -> CodeferryError:
        """Once ``code`` is pulled, ``put_hostile`` writes a name no pull may follow: the next
        pull fails and the tree stays ``code``. The error, for more checks."""
        self.objects.replace("code", code)
        good = self.storage.pull_code(checkout)
        put_hostile()
        with pytest.raises(CodeferryError) as caught:
            self.storage.pull_code(checkout)
        assert tree(checkout) == code
        assert tree(good.directory) == code
        return caught.value


class ObjectStoreBehaviours:
    """Tests every object store passes. A store's test class derives from this, sets ``code``
    and the ``tooling`` a push leaves out, and its module gives a ``checks`` fixture."""

    code: ClassVar[Mapping[str, bytes]]
    tooling: ClassVar[Mapping[str, bytes]]

    def test_a_folder_never_pulls_the_sibling_that_shares_its_prefix(
        self, checks: StoreChecks, tmp_path: Path
    ) -> None:
        checks.pulls_only_the_folder(tmp_path / "checkout", self.code, SIBLINGS)

    def test_push_then_pull_gives_back_the_code_and_a_second_push_sends_nothing(
        self, checks: StoreChecks, tmp_path: Path
    ) -> None:
        checks.push_leaves_tooling_out(tmp_path, self.code, self.tooling)


def write_prefect_project(root: Path, code: Mapping[str, bytes]) -> Path:
    """``code`` and a ``notes.txt`` its ``.prefectignore`` leaves out, under ``root``."""
    return write_files(root, {**code, "notes.txt": b"ignored\n", ".prefectignore": b"*.txt\n"})


def assert_pulled_the_prefect_project(directory: Path, code: Mapping[str, bytes]) -> None:
    """``directory`` holds ``code`` and not the file the project's ``.prefectignore`` names."""
    pulled = tree(directory)
    assert {path: data for path, data in pulled.items() if path in code} == code
    assert "notes.txt" not in pulled


def assert_steps_round_trip(
    objects: Objects,
    push: Callable[..., Mapping[str, Any] | None],
    pull: Callable[..., Mapping[str, Any] | None],
    place: Mapping[str, str],
    credentials: Mapping[str, Any],
    code: Mapping[str, bytes],
) -> None:
    """The push step sends :func:`write_prefect_project`'s project (the current folder) to the
    folder ``my-project`` of ``place`` (the bucket or container argument), its ignored file left
    out; the pull step brings the code back. Both say where the code is."""
    expected = {**place, "folder": "my-project"}
    pushed = push(**expected, credentials=credentials)
    assert pushed is not None
    assert {name: pushed[name] for name in expected} == expected
    assert "my-project/notes.txt" not in objects.names()
    pulled = pull(**expected, credentials=credentials)
    assert pulled is not None
    assert {name: pulled[name] for name in expected} == expected
    assert_pulled_the_prefect_project(Path(pulled["directory"]), code)


def ignore_file_project(root: Path, tooling: tuple[str, ...]) -> Path:
    """A project whose ``deploy.ignore`` leaves out ``secrets.env``, with ``tooling`` files."""
    files = {"flow.py": b"x", "secrets.env": b"TOKEN=1", "deploy.ignore": b"*.env\n"}
    return write_files(root, {**files, **dict.fromkeys(tooling, b"tooling")})


IGNORE_FILE_PUSHED = ["code/deploy.ignore", "code/flow.py"]
"""What a push of :func:`ignore_file_project` to the folder ``code`` writes."""


def assert_pulls_give_up(storage: CodeStorage, dest: Path, message: str) -> None:
    """Two pulls into ``dest`` fail with ``message``; the checkout's lock is then free."""
    for _ in range(2):  # the second pull, in the same process, is not wedged either
        error = call_bounded(lambda: storage.pull_code(dest))
        assert isinstance(error, PullError)
        assert str(error) == message
    FileLock(Checkout.for_storage(storage, dest).root / ".lock").acquire(timeout=0)


def listed_files(
    entries: Mapping[str, Mapping[str, Any]] | None, root: str
) -> dict[str, list[object]]:
    """A quick listing's files as a pull records them: fingerprint, size and MD5 by path."""
    from codeferry.remote.listing import remote_files

    assert entries is not None, "the quick listing was not made"
    return {
        path: [remote.fingerprint, remote.size, remote.md5]
        for path, remote in remote_files(entries, root).items()
    }


_PULL_IN_NEW_INTERPRETER = """
import json, pkgutil, sys
source, block, fields, destination, watched = sys.argv[1:]
if block:  # the store's block, made as a program makes it
    storage = pkgutil.resolve_name(block)(**json.loads(fields))
else:  # what `codeferry pull SOURCE` pulls
    from codeferry.plugins import get_plugins
    storage = get_plugins().storage_from_source(source)
result = storage.pull_code(destination)
print(json.dumps({
    "changed": result.changed,
    "flow": (result.directory / "flow.py").read_text(),
    "loaded": sorted(name for name in watched.split(",") if name in sys.modules),
}))
"""


def pull_in_new_interpreter(
    source: str,
    destination: Path,
    *,
    watched: Sequence[str],
    env: Mapping[str, str],
    block: tuple[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Pull ``source`` into ``destination`` in a new interpreter, as a worker's pull runs (or the
    ``block``: ``"module:Class"`` and its fields): whether it changed, its ``flow.py``, and which
    of the ``watched`` modules it imported."""
    name, fields = block or ("", {})
    arguments = [source, name, json.dumps(fields), str(destination), ",".join(watched)]
    done = subprocess.run(
        [sys.executable, "-c", _PULL_IN_NEW_INTERPRETER, *arguments],
        env=dict(env),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer
