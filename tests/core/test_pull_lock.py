"""A pull that finds another pull into the same folder at work: it says who, and waits bounded.

It used to wait on the checkout's lock without a word and without end, so one stuck pull wedged
every later pull into that folder.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers.silent import HANG, run_codeferry

PYTHON = Path(sys.executable).name

# A pull into DEST, in a child process, whose fetch waits until the file RELEASE exists.
HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from codeferry.checkouts import Checkout
    from codeferry.storage import CodeStorage, FetchResult

    dest, started, release = sys.argv[1:4]

    class Waiting(CodeStorage):
        def fetch(self, context):
            Path(started).touch()
            deadline = time.monotonic() + 120
            while not Path(release).exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            (context.target / "flow.py").write_text("V = 1\\n")
            return FetchResult(version="1", files=1, bytes=6)

        def to_pull_step(self):
            return {}

        def __str__(self):
            return "a slow source"

    Checkout.for_storage(Waiting(), dest).pull(Waiting())
    """
)


class Holder:
    """The child process holding the lock of the checkout behind ``dest``."""

    def __init__(self, dest: Path, work: Path) -> None:
        started = work / "started"
        self.release_file = work / "release"
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(dest), str(started), str(self.release_file)]
        )
        deadline = time.monotonic() + HANG
        while not started.exists():
            assert self.process.poll() is None, "the holding pull ended before it fetched"
            assert time.monotonic() < deadline, "the holding pull never started to fetch"
            time.sleep(0.05)

    def release(self) -> int:
        self.release_file.touch()
        return self.process.wait(timeout=HANG)


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[Holder]:
    held = Holder(tmp_path / "code", tmp_path)
    yield held
    held.release_file.touch()
    try:
        held.process.wait(timeout=HANG)
    except subprocess.TimeoutExpired:
        held.process.kill()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "flow.py").write_text("V = 2\n")
    return folder


def test_a_pull_waiting_on_another_names_it_and_gives_up_at_the_bound(
    holder: Holder, source: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "code"
    finished = run_codeferry(
        "pull", str(source), "--dest", str(dest), env={"CODEFERRY_LOCK_TIMEOUT": "4"}
    )
    assert finished.returncode == 1
    notice, error = finished.stderr  # nothing else
    held_by = f"held by pid {holder.process.pid} on "
    assert notice.startswith(f"waiting for another pull into {dest} to finish ({held_by}")
    assert f" s ago): {PYTHON} -c " in notice
    assert notice.endswith("; giving up after 4 s")
    assert error.startswith(
        f"Error: gave up after waiting 4 s for another pull into {dest} to finish ({held_by}"
    )
    assert error.endswith("; set CODEFERRY_LOCK_TIMEOUT to wait longer")
    assert holder.release() == 0
    # The holder pulled another source into dest: replacing it is asked for.
    assert run_codeferry("pull", str(source), "--dest", str(dest), "--replace").returncode == 0
    assert (dest / "flow.py").read_text() == "V = 2\n"


def test_the_holder_is_on_record_while_it_pulls_and_gone_after(
    holder: Holder, tmp_path: Path
) -> None:
    from codeferry.pull_lock import LockHolder, read_holder

    roots = list((tmp_path / "codeferry-home" / "checkouts").iterdir())
    assert len(roots) == 1
    lock = roots[0] / ".lock"
    recorded = read_holder(lock)
    assert isinstance(recorded, LockHolder)
    assert recorded.pid == holder.process.pid
    assert recorded.command.startswith(f"{PYTHON} -c ")
    assert holder.release() == 0
    assert read_holder(lock) is None


@pytest.mark.usefixtures("holder")
def test_a_pull_that_waits_less_than_the_notice_delay_says_nothing(
    source: Path, tmp_path: Path
) -> None:
    finished = run_codeferry(
        "pull",
        str(source),
        "--dest",
        str(tmp_path / "code"),
        env={"CODEFERRY_LOCK_TIMEOUT": "0.5"},
    )
    assert finished.returncode == 1
    assert len(finished.stderr) == 1
    assert finished.stderr[0].startswith("Error: gave up after waiting 0.5 s for another pull")


# -- the lock itself: flock where there is one, filelock's elsewhere ---------------------------


@pytest.fixture
def short_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEFERRY_LOCK_TIMEOUT", "0.2")


@pytest.mark.usefixtures("short_wait")
def test_a_lock_taken_with_filelock_holds_off_a_pull(tmp_path: Path) -> None:
    # Other tools (and earlier codeferry versions) lock checkouts with filelock: one lock for both.
    from filelock import FileLock, Timeout

    from codeferry.errors import PullError
    from codeferry.pull_lock import pull_lock

    lock = tmp_path / ".lock"
    held = FileLock(lock)
    held.acquire(timeout=0)
    try:
        with pytest.raises(PullError, match=r"gave up after waiting 0\.2 s"), pull_lock(lock, "x"):
            pass
    finally:
        held.release()
    with pull_lock(lock, "x"), pytest.raises(Timeout):
        FileLock(lock).acquire(timeout=0)


def test_pulls_in_two_threads_take_turns(tmp_path: Path) -> None:
    import threading

    from codeferry.pull_lock import pull_lock

    lock = tmp_path / ".lock"
    inside: list[int] = []
    overlapped: list[bool] = []

    def pull() -> None:
        with pull_lock(lock, "x"):
            overlapped.append(bool(inside))
            inside.append(1)
            time.sleep(0.05)
            inside.pop()

    threads = [threading.Thread(target=pull) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=HANG)
    assert overlapped == [False] * 4


@pytest.mark.usefixtures("short_wait")
def test_a_file_system_without_flock_falls_back_to_filelock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import fcntl

    from filelock import FileLock

    from codeferry import pull_lock as module
    from codeferry.errors import PullError

    class NoFlock:
        LOCK_EX, LOCK_NB, LOCK_UN = fcntl.LOCK_EX, fcntl.LOCK_NB, fcntl.LOCK_UN

        @staticmethod
        def flock(_fd: int, _operation: int) -> None:
            raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(module, "fcntl", NoFlock)
    lock = tmp_path / ".lock"
    with module.pull_lock(lock, "x"):
        pass  # taken and released through filelock
    held = FileLock(lock)
    held.acquire(timeout=0)
    try:
        with pytest.raises(PullError, match="gave up"), module.pull_lock(lock, "x"):
            pass
    finally:
        held.release()
