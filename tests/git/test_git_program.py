"""Choosing git's own program, and running it: the setting, the version check, interruptions."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from codeferry.errors import PullError, SettingError
from codeferry_git.clients import git_program_for
from codeferry_git.git_program import GitCommandError, GitProgram, Remote, find_git
from codeferry_git.repository import GitRepository


@pytest.fixture
def old_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ``git`` on PATH (alone there) that says it is 2.30."""
    folder = tmp_path / "old-bin"
    folder.mkdir()
    program = folder / "git"
    program.write_text("#!/bin/sh\necho 'git version 2.30.2'\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", str(folder))
    return program


def test_git_is_used_when_it_is_on_path_unless_the_setting_says_never(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CODEFERRY_GIT_BINARY", raising=False)
    assert isinstance(git_program_for("https://example.com/x.git", ssh_key=False), GitProgram)
    monkeypatch.setenv("CODEFERRY_GIT_BINARY", "never")
    assert git_program_for("https://example.com/x.git", ssh_key=False) is None


def test_a_deploy_key_or_a_git_daemon_always_goes_through_dulwich(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CODEFERRY_GIT_BINARY", "always")
    assert git_program_for("ssh://git@example.com/x.git", ssh_key=True) is None
    assert git_program_for("git://example.com/x.git", ssh_key=False) is None
    assert isinstance(git_program_for("git@example.com:x.git", ssh_key=False), GitProgram)


@pytest.mark.usefixtures("old_git")
def test_a_git_older_than_2_32_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CODEFERRY_GIT_BINARY", raising=False)
    assert git_program_for("https://example.com/x.git", ssh_key=False) is None


def test_always_without_a_suitable_git_fails_the_pull_saying_why(
    old_git: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEFERRY_GIT_BINARY", "always")
    repo = GitRepository(url="https://example.com/x.git")
    with pytest.raises(PullError) as refused:
        repo.pull_code(tmp_path / "co")
    assert str(refused.value) == (
        f"CODEFERRY_GIT_BINARY=always, but git 2.30.2 ({old_git}) is older than 2.32"
    )
    monkeypatch.setenv("PATH", str(tmp_path / "nothing-here"))
    with pytest.raises(PullError, match=r"=always, but git was not found on PATH$"):
        repo.pull_code(tmp_path / "co")
    assert not (tmp_path / "co").exists()


def test_an_unknown_choice_of_client_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEFERRY_GIT_BINARY", "sometimes")
    with pytest.raises(SettingError, match="CODEFERRY_GIT_BINARY='sometimes' is not one of"):
        GitRepository(url="https://example.com/x.git").pull_code(tmp_path / "co")


@pytest.fixture
def unanswering() -> Iterator[str]:
    """The URL of a server that takes connections (the kernel does) and never answers."""
    with socket.create_server(("127.0.0.1", 0), backlog=8) as listener:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hang.git"


class _InterruptError(Exception):
    pass


def _command_lines() -> list[bytes]:
    found = []
    for process in Path("/proc").glob("[0-9]*"):
        try:
            found.append((process / "cmdline").read_bytes())
        except OSError:
            continue
    return found


def test_an_interrupted_run_stops_git_and_every_process_it_started(
    unanswering: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEFERRY_READ_TIMEOUT", "off")  # git would wait for ever
    program = find_git()
    assert isinstance(program, GitProgram)
    repository = str(tmp_path / "cache.git")
    program.run(repository, ["init", "--bare", "--quiet"])
    running: list[list[bytes]] = []

    def interrupt(*_: object) -> None:
        running.append([line for line in _command_lines() if unanswering.encode() in line])
        raise _InterruptError

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 1.0)
    try:
        with pytest.raises(_InterruptError):
            program.run(repository, ["ls-remote", unanswering], remote=Remote(unanswering))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert len(running[0]) >= 2, "git and its HTTP helper were waiting on the server"
    # Killed at once; the kernel ends them as soon as they are scheduled (a loaded machine may
    # take a moment), so their end is polled for, with a bound.
    deadline = time.monotonic() + 10
    left = [line for line in _command_lines() if unanswering.encode() in line]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [line for line in _command_lines() if unanswering.encode() in line]
    assert left == []


def test_records_of_a_large_listing_come_whole_across_reads(tmp_path: Path) -> None:
    program = find_git()
    assert isinstance(program, GitProgram)
    repository = str(tmp_path / "cache.git")
    program.run(repository, ["init", "--bare", "--quiet"])
    # Names long enough that the listing spans many reads of the pipe.
    names = [f"{'n' * 200}_{number}.py" for number in range(2_000)]
    blob = program.run(repository, ["hash-object", "-w", "--stdin"], stdin=b"x\n").strip()
    entries = b"".join(b"100644 blob " + blob + b"\t" + name.encode() + b"\0" for name in names)
    tree = program.run(repository, ["mktree", "-z"], stdin=entries).strip().decode()
    records = list(program.records(repository, ["ls-tree", "-z", "--name-only", tree]))
    assert records == sorted(name.encode() for name in names)


def test_records_of_a_failing_command_raise_what_git_said(tmp_path: Path) -> None:
    program = find_git()
    assert isinstance(program, GitProgram)
    repository = str(tmp_path / "cache.git")
    program.run(repository, ["init", "--bare", "--quiet"])
    with pytest.raises(GitCommandError) as failed:
        list(program.records(repository, ["ls-tree", "-z", "0" * 40]))
    assert failed.value.command == "ls-tree"
    assert "not a tree object" in failed.value.stderr
