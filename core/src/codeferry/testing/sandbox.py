"""Where a pull the kit makes may write, enforced while it runs.

An audit hook (:pep:`578`) sees every file this process opens for writing, creates, renames,
links, changes or removes, from every thread, whichever library does it. While a
:class:`Sandbox` is active, such an operation on a path outside the places it allows is refused
(:class:`OutsideWriteError`, before anything reaches the disk) and recorded, so the kit can name
it even when the storage catches the error. The machine's own folders (``/``, the real temporary
folder) are never written, and never looked at, by a kit run.

While a sandbox is active the system temporary folder (:func:`tempfile.gettempdir`, ``TMPDIR``
for programs started meanwhile) is a folder of the sandbox's own: scratch files a pull leaves
there are found there, whatever else runs on the machine.

Writes made by other processes (a program the storage starts) are not seen by the hook.
"""

# The audit hook runs for every event of the process: it works on strings, where a Path per event
# would cost more than the event.
# ruff: noqa: PTH100, PTH112, PTH117, PTH119, PTH120

from __future__ import annotations

import contextlib
import errno
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["OutsideWriteError", "Sandbox", "sandboxed", "watch"]

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

# Audit events that change the file system: where in their arguments the changed paths are, and
# where the dir_fd a relative path is taken from (None: the event has none).
_ONE_PATH = {
    "os.mkdir": 2,
    "os.remove": 1,
    "os.rmdir": 1,
    "os.chmod": 2,
    "os.chown": 3,
    "os.utime": 3,
    "os.truncate": None,
    "os.mkfifo": 2,
    "os.mknod": 3,
    "os.setxattr": None,
    "os.removexattr": None,
    "shutil.rmtree": 1,
}
_TWO_PATHS = {"os.rename", "os.link", "shutil.copyfile", "shutil.copytree", "shutil.move"}
_SECOND_PATH = {"os.symlink", "shutil.copymode", "shutil.copystat"}

Watcher = Callable[[str, tuple[Any, ...]], None]
_watchers: list[Watcher] = []
_lock = threading.Lock()
_installed = False


def _dispatch(event: str, args: tuple[Any, ...]) -> None:
    for watcher in _watchers:  # a copy is swapped in on change: safe to iterate from any thread
        watcher(event, args)


@contextlib.contextmanager
def watch(watcher: Watcher) -> Iterator[None]:
    """Call ``watcher(event, args)`` for every audit event of this process while inside.

    The audit hook is installed once per process (it cannot be removed); it costs one function
    call per event when nothing watches.
    """
    global _installed, _watchers
    with _lock:
        if not _installed:
            sys.addaudithook(_dispatch)
            _installed = True
        _watchers = [*_watchers, watcher]
    try:
        yield
    finally:
        with _lock:
            _watchers = [each for each in _watchers if each is not watcher]


class OutsideWriteError(PermissionError):
    """A write the sandbox refused: it would have changed something outside the pull's places."""


def written_paths(event: str, args: tuple[Any, ...]) -> list[str]:
    """The paths an audit event is about to change, absolute; none for a read or a descriptor."""
    raw: list[Any] = []
    if event == "open":
        path, _mode, flags = args
        if isinstance(flags, int) and flags & _WRITE_FLAGS:
            raw.append(path)
    elif event in _ONE_PATH:
        position = _ONE_PATH[event]
        dir_fd = args[position] if position is not None and len(args) > position else None
        # A path relative to a folder's descriptor cannot be placed: such calls come from
        # shutil.rmtree, whose own event names the folder.
        if dir_fd in (None, -1) or _is_absolute(args[0]):
            raw.append(args[0])
    elif event in _TWO_PATHS:
        raw.extend(args[:2])
    elif event in _SECOND_PATH:
        raw.append(args[1])
    paths = [p for p in raw if isinstance(p, str | bytes | os.PathLike)]
    return [os.path.abspath(os.fsdecode(p)) for p in paths]


def _is_absolute(path: Any) -> bool:
    return isinstance(path, str | bytes | os.PathLike) and os.path.isabs(os.fsdecode(path))


def _variants(path: Path) -> set[str]:
    """A path as written and with its links resolved (``/var`` is ``/private/var`` on macOS)."""
    return {os.path.abspath(path), os.path.realpath(path)}


@dataclass
class Sandbox:
    """The places a pull may write, and what it tried to write elsewhere.

    :param folders: folders it may write anywhere in (the checkout's folder).
    :param files: single paths it may write (the destination's link), with the temporary names
        ``.NAME.*`` beside them that replace them atomically.
    :param allowed: further paths it may write, decided by a function (the block store's files).
    :param temporary: the folder that stands for the system temporary folder.
    """

    folders: Sequence[Path]
    temporary: Path
    files: Sequence[Path] = ()
    allowed: Callable[[str], bool] = lambda _: False
    refused: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._folders = sorted({v for f in (*self.folders, self.temporary) for v in _variants(f)})
        self._files = {v for f in self.files for v in _variants(f)}
        self._beside = [(os.path.dirname(v), f".{os.path.basename(v)}.") for v in self._files]

    def permits(self, path: str, event: str) -> bool:
        """Whether the pull may change ``path`` (absolute) through ``event``."""
        if any(path == f or path.startswith(f + os.sep) for f in self._folders):
            return True
        # os.devnull: a program the pull runs gets it as its standard input
        if path in self._files or path == os.devnull or self.allowed(path):
            return True
        parent, name = os.path.split(path)
        if any(parent == folder and name.startswith(prefix) for folder, prefix in self._beside):
            return True
        if os.path.basename(parent) == "__pycache__":
            return True  # bytecode written by an import made during the pull
        if event == "os.mkdir":
            # A folder on the way to an allowed one (``mkdir(parents=True)``), or one that is
            # there already (nothing changes: the call fails with FileExistsError).
            return any(f.startswith(path + os.sep) for f in self._folders) or os.path.isdir(path)
        return False

    def check(self, event: str, args: tuple[Any, ...]) -> None:
        """The audit watcher: refuse and record a change outside the allowed places."""
        for path in written_paths(event, args):
            if not self.permits(path, event):
                self.refused.append(path)
                raise OutsideWriteError(
                    errno.EACCES,
                    "the codeferry conformance kit refused a write outside the pull's folder",
                    path,
                )

    def left_in_temporary(self) -> list[str]:
        """What is in the temporary folder now: scratch files a pull did not remove."""
        if not self.temporary.is_dir():
            return []
        return sorted(p.relative_to(self.temporary).as_posix() for p in self.temporary.rglob("*"))


@contextlib.contextmanager
def sandboxed(sandbox: Sandbox) -> Iterator[Sandbox]:
    """Enforce ``sandbox`` and make its temporary folder the system's while inside."""
    sandbox.temporary.mkdir(parents=True, exist_ok=True)
    previous_dir = tempfile.tempdir
    previous_env = os.environ.get("TMPDIR")
    tempfile.tempdir = str(sandbox.temporary)
    os.environ["TMPDIR"] = str(sandbox.temporary)
    try:
        with watch(sandbox.check):
            yield sandbox
    finally:
        tempfile.tempdir = previous_dir
        if previous_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = previous_env
