"""Git servers that accept the connection and never answer: every pull gives up, in one line.

Over ``git://`` such a server used to hold a pull (and the checkout's lock, so every later pull
into that folder) forever; over HTTPS for eight minutes. The pulls here run with the timeouts
lowered to a second; the tests of the defaults check what the clients are built with.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from filelock import FileLock

from codeferry.errors import PullError
from codeferry_git.repository import GitRepository
from codeferry_git.transport import open_remote
from tests.git.conftest import Served
from tests.servers.git_http import run_git
from tests.servers.silent import SilentServer, call_bounded, run_codeferry


def silence(server: SilentServer, url: str) -> str:
    return (
        f"git server {server.address} accepted the connection but sent nothing for 1 s "
        f"(git repository {url})"
    )


def lock_behind(dest: Path) -> Path:
    """The lock file of the checkout behind destination ``dest``."""
    from codeferry.checkouts import Checkout

    return Checkout.for_storage(GitRepository(url="https://example.com/x.git"), dest).root / ".lock"


@pytest.mark.parametrize("scheme", ["git", "http"])
def test_pull_from_a_silent_git_server_fails_in_one_line_naming_it(
    scheme: str, silent_server: SilentServer, tmp_path: Path
) -> None:
    url = f"{scheme}://{silent_server.address}/flows.git"
    dest = tmp_path / "code"
    first = run_codeferry("pull", url, "--dest", str(dest))
    second = run_codeferry("pull", url, "--dest", str(dest))  # the folder is not wedged
    for finished in (first, second):
        assert finished.returncode == 1
        assert finished.stderr == [f"Error: {silence(silent_server, url)}"]


@pytest.mark.parametrize("scheme", ["git", "http"])
@pytest.mark.usefixtures("lowered_timeouts")
def test_a_failed_pull_from_a_silent_git_server_releases_the_checkout(
    scheme: str, silent_server: SilentServer, tmp_path: Path
) -> None:
    url = f"{scheme}://{silent_server.address}/flows.git"
    dest = tmp_path / "code"
    repository = GitRepository(url=url)
    for _ in range(2):  # the second pull, in the same process, finds the lock free
        error = call_bounded(lambda: repository.pull_code(dest))
        assert isinstance(error, PullError)
        assert str(error) == silence(silent_server, url)
    lock = lock_behind(dest)
    assert not lock.with_name(".lock.holder").exists()
    FileLock(lock).acquire(timeout=0)


@pytest.mark.usefixtures("lowered_timeouts")
def test_a_submodule_on_a_silent_git_daemon_fails_the_pull_naming_it(
    served: Served, silent_server: SilentServer, tmp_path: Path
) -> None:
    name = f"with-silent-sub-{secrets.token_hex(4)}.git"
    served.repos.bare(name)
    served.server.public.add(name)
    worktree = served.repos.worktree(name)
    sub_url = f"git://{silent_server.address}/lib.git"
    (worktree / ".gitmodules").write_text(
        f'[submodule "vendor/lib"]\n\tpath = vendor/lib\n\turl = {sub_url}\n'
    )
    (worktree / "flow.py").write_text("V = 1\n")
    run_git("add", ".gitmodules", "flow.py", cwd=worktree)
    gitlink = "1" * 40  # a commit of lib.git, which the silent daemon never gets to serve
    run_git("update-index", "--add", "--cacheinfo", f"160000,{gitlink},vendor/lib", cwd=worktree)
    run_git("commit", "-q", "-m", "a submodule on a silent daemon", cwd=worktree)
    run_git("push", "-q", "origin", "HEAD:refs/heads/main", cwd=worktree)
    repository = GitRepository(url=served.url(name), include_submodules=True)
    dest = tmp_path / "code"
    for _ in range(2):
        error = call_bounded(lambda: repository.pull_code(dest))
        assert isinstance(error, PullError)
        assert str(error) == silence(silent_server, sub_url)
    assert not dest.exists(), "nothing is checked out when a submodule cannot be fetched"


@pytest.mark.usefixtures("lowered_timeouts")
def test_pull_over_ssh_from_a_silent_server_fails_naming_it(
    silent_server: SilentServer, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from codeferry_git.credentials import SshKey

    private = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    key = SshKey(private_key=private.decode(), check_host_key=False)
    url = f"ssh://git@{silent_server.address}/flows.git"
    error = call_bounded(
        lambda: GitRepository(url=url, credentials=key).pull_code(tmp_path / "code")
    )
    assert isinstance(error, PullError)
    assert str(error).startswith(
        f"git server {silent_server.address} accepted the connection but sent nothing for 1 s"
    )


def test_git_clients_are_built_with_the_default_limits() -> None:
    from codeferry.timeouts import NetworkTimeouts

    http = open_remote("https://git.example.com/flows.git", None, None).client
    pool = http.pool_manager.connection_pool_kw  # type: ignore[attr-defined]
    assert (pool["timeout"].connect_timeout, pool["timeout"].read_timeout) == (10.0, 30.0)
    assert (pool["retries"].connect, pool["retries"].read) == (1, 1)  # a silent GET: twice
    daemon = open_remote("git://git.example.com/flows.git", None, None).client
    assert daemon.timeouts == NetworkTimeouts(connect=10.0, read=30.0)  # type: ignore[attr-defined]


def test_git_clients_take_the_limits_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from codeferry.timeouts import NetworkTimeouts

    monkeypatch.setenv("CODEFERRY_CONNECT_TIMEOUT", "4")
    monkeypatch.setenv("CODEFERRY_READ_TIMEOUT", "off")
    http = open_remote("https://git.example.com/flows.git", None, None).client
    timeout = http.pool_manager.connection_pool_kw["timeout"]  # type: ignore[attr-defined]
    assert (timeout.connect_timeout, timeout.read_timeout) == (4.0, None)
    daemon = open_remote("git://git.example.com/flows.git", None, None).client
    assert daemon.timeouts == NetworkTimeouts(connect=4.0, read=None)  # type: ignore[attr-defined]


def test_the_ssh_program_gives_up_on_a_silent_server() -> None:
    from codeferry.timeouts import NetworkTimeouts
    from codeferry_git.ssh import ssh_program

    command = ssh_program(NetworkTimeouts())
    assert "ConnectTimeout=10" in command
    assert "ServerAliveInterval=30" in command
    assert "ServerAliveCountMax=1" in command
