"""Bad credentials, missing or hostile repositories, and tokens that must never show."""

from __future__ import annotations

import base64
import logging
import os
import secrets
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from codeferry.errors import CodeferryError, PullError
from codeferry_git.credentials import GitCredentials, SshKey
from codeferry_git.repository import GitRepository
from codeferry_git.urls import InvalidGitInputError
from tests.git.conftest import FreshRepo, Served, ssh_url
from tests.servers.echo_auth import Answer, EchoAuthServer
from tests.servers.sshd import SshServer


def test_a_wrong_token_is_a_one_line_error_naming_the_repository(
    served: Served, tmp_path: Path
) -> None:
    wrong = f"wrong-{secrets.token_hex(8)}"
    repo = GitRepository(url=served.url("app.git"), credentials=SecretStr(wrong))
    with pytest.raises(PullError) as caught:
        repo.pull_code(tmp_path / "co")
    message = str(caught.value)
    assert message.startswith("authentication failed for git repository")
    assert served.url("app.git") in message
    assert wrong not in message
    assert "\n" not in message


def test_a_failed_pull_keeps_the_previous_checkout(fresh_repo: FreshRepo, tmp_path: Path) -> None:
    good = fresh_repo.repository().pull_code(tmp_path / "c")
    fresh_repo.commit({"flow.py": b"V = 2\n"})
    bad = GitRepository(url=fresh_repo.url, credentials=SecretStr("nope-nope"))
    with pytest.raises(PullError):
        bad.pull_code(tmp_path / "c")
    assert (tmp_path / "c").resolve() == good.directory
    assert (tmp_path / "c" / "flow.py").read_bytes() == b"V = 1\n"


def test_access_denied_403_is_reported_as_such(served: Served, tmp_path: Path) -> None:
    served.repos.bare("denied.git")
    served.server.forbidden.add("denied.git")
    repo = served.repository("denied.git")
    with pytest.raises(PullError, match="access denied to git repository"):
        repo.pull_code(tmp_path / "co")


def test_a_missing_repository_is_reported_as_not_found(served: Served, tmp_path: Path) -> None:
    repo = served.repository("absent.git")
    with pytest.raises(PullError, match=r"git repository .*absent.git was not found"):
        repo.pull_code(tmp_path / "co")


def test_a_host_that_drops_the_connection_is_reported(served: Served, tmp_path: Path) -> None:
    served.repos.bare("drop.git")
    served.server.dropped.add("drop.git")
    repo = served.repository("drop.git")
    with pytest.raises(PullError, match=r"drop.git"):
        repo.pull_code(tmp_path / "co")
    assert not (tmp_path / "co").exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("branch", "--upload-pack=touch /tmp/x", "starts with '-'"),
        ("branch", "a..b", "not a valid git ref name"),
        ("branch", "bad name", "not a valid git ref name"),
        ("commit_sha", "abc123", "not a full commit id"),
        ("commit_sha", "z" * 40, "not a full commit id"),
        ("url", "-oProxyCommand=evil:x", "not a git repository URL"),
        ("url", "file:///etc", "not a git repository URL"),
    ],
)
def test_bad_input_is_refused_before_any_network_call(
    served: Served, field: str, value: str, message: str
) -> None:
    before = len(served.server.requests)
    arguments = {"url": served.url("app.git"), field: value}
    with pytest.raises((InvalidGitInputError, ValueError), match=message):
        GitRepository(**arguments)
    assert len(served.server.requests) == before


def test_credentials_in_the_url_are_moved_out_before_anything_is_stored(
    served: Served, tmp_path: Path
) -> None:
    server = served.server
    url = served.url("app.git").replace("http://", f"http://{server.user}:{server.password}@")
    repo = GitRepository(url=url)
    assert repo.url == served.url("app.git")
    assert server.password not in repr(repo)
    assert server.password not in str(repo)
    assert server.password not in repr(repo.to_pull_step() if False else repo.public_dict())
    result = repo.pull_code(tmp_path / "co")
    assert result.version == served.commits["app"][-1]


def test_a_rotated_token_works_on_the_next_pull(
    served: Served, fresh_repo: FreshRepo, tmp_path: Path
) -> None:
    server = served.server
    old, new = f"old-{secrets.token_hex(6)}", f"new-{secrets.token_hex(6)}"
    server.allow("rotating", old)
    credentials = GitCredentials(username="rotating", token=old)
    repo = GitRepository(url=fresh_repo.url, credentials=credentials)
    repo.pull_code(tmp_path / "co")
    server.revoke("rotating", old)
    server.allow("rotating", new)
    fresh_repo.commit({"flow.py": b"V = 3\n"})
    repo.credentials = GitCredentials(username="rotating", token=new)
    assert (repo.pull_code(tmp_path / "co").directory / "flow.py").read_bytes() == b"V = 3\n"


HOSTILE = [
    ("100644", "..", b"escaped\n"),
    ("100644", "a\\b", b"git on Linux would write this name as it is\n"),
    ("100644", "C:x", b"git on Linux would write this name as it is\n"),
    ("120000", "out", b"/etc/passwd"),
    ("120000", "up", b"../../../../escaped"),
]


@pytest.mark.parametrize(("mode", "name", "content"), HOSTILE, ids=[h[1] for h in HOSTILE])
def test_hostile_tree_entries_are_refused_and_nothing_lands_outside(
    served: Served, tmp_path: Path, mode: str, name: str, content: bytes
) -> None:
    repository = f"hostile-{secrets.token_hex(4)}.git"
    served.repos.hostile(repository, [(mode, name, content), ("100644", "ok.py", b"ok\n")])
    repo = served.repository(repository)
    with pytest.raises(PullError) as caught:
        repo.pull_code(tmp_path / "checkout")
    assert repository in str(caught.value)
    assert "refused" in str(caught.value) or "unsafe" in str(caught.value)
    assert not (tmp_path / "checkout").exists()
    assert not list(tmp_path.rglob("escaped"))


GIT_FOLDERS = [("040000", ".git"), ("040000", ".GIT"), ("100644", ".git"), ("040000", "git~1")]


@pytest.mark.parametrize(("mode", "name"), GIT_FOLDERS)
def test_git_folder_entries_are_left_out_as_git_leaves_them(
    served: Served, tmp_path: Path, mode: str, name: str
) -> None:
    repository = f"gitdir-{secrets.token_hex(4)}.git"
    hook = b"#!/bin/sh\necho pwned\n"
    served.repos.hostile(repository, [(mode, name, hook), ("100644", "ok.py", b"ok\n")])
    repo = served.repository(repository)
    pulled = repo.pull_code(tmp_path / "checkout").directory
    assert sorted(p.name for p in pulled.iterdir()) == ["ok.py"]


def test_a_symlink_chain_that_escapes_is_refused(served: Served, tmp_path: Path) -> None:
    repository = f"chain-{secrets.token_hex(4)}.git"
    # Each link alone looks inside the checkout; resolved together they leave it.
    served.repos.hostile(
        repository,
        [("120000", "a", b"b/../.."), ("120000", "b", b"."), ("100644", "ok.py", b"ok\n")],
    )
    repo = served.repository(repository)
    with pytest.raises(PullError, match="outside the checkout"):
        repo.pull_code(tmp_path / "checkout")


def test_no_token_anywhere_after_clones_repulls_and_failures(
    served: Served,
    fresh_repo: FreshRepo,
    tmp_path: Path,
    codeferry_home: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    token = f"leak-check-{secrets.token_hex(10)}"
    served.server.allow("leaky", token)
    repo = GitRepository(
        url=fresh_repo.url, credentials=GitCredentials(username="leaky", token=token)
    )
    repo.pull_code(tmp_path / "co")
    fresh_repo.commit({"flow.py": b"V = 9\n"})
    repo.pull_code(tmp_path / "co")
    repo.pull_code()
    for failing in (
        GitRepository(url=served.url("absent.git"), credentials=SecretStr(token)),
        GitRepository(url=fresh_repo.url, credentials=SecretStr(token)),  # wrong user
        GitRepository(url=fresh_repo.url, branch="nope", credentials=SecretStr(token)),
    ):
        with pytest.raises(CodeferryError) as caught:
            failing.pull_code(tmp_path / "other")
        assert token not in str(caught.value)
        assert token not in repr(caught.value)
    needle = token.encode()
    for place in (tmp_path, codeferry_home):
        for path in place.rglob("*"):
            if path.is_file() and not path.is_symlink():
                assert needle not in path.read_bytes(), f"token found in {path}"
    assert token not in caplog.text
    out, err = capsys.readouterr()
    assert token not in out
    assert token not in err


@pytest.fixture
def started_processes(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """``(thread name, command line)`` of every process started in this process from now on.

    The smart-HTTP test server starts ``git http-backend`` from its own threads; a pull runs in
    the test's thread.
    """
    started: list[tuple[str, str]] = []
    real_init = subprocess.Popen.__init__

    def recording_init(self: subprocess.Popen[bytes], *args: Any, **kwargs: Any) -> None:
        command = args[0] if args else kwargs.get("args")
        started.append((threading.current_thread().name, repr(command)))
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(subprocess.Popen, "__init__", recording_init)
    return started


@pytest.mark.parametrize("transport", ["https", "ssh"])
def test_no_secret_reaches_the_arguments_of_any_program_a_pull_runs(
    served: Served,
    sshd_server: SshServer,
    tmp_path: Path,
    transport: str,
    git_client: str,
    started_processes: list[tuple[str, str]],
) -> None:
    if transport == "ssh":
        secret = sshd_server.private_key.strip().splitlines()[1]
        key = SshKey(private_key=sshd_server.private_key, known_hosts=sshd_server.known_hosts)
        repo = GitRepository(url=ssh_url(sshd_server, served, "app.git"), credentials=key)
    else:
        secret = f"argv-check-{secrets.token_hex(10)}"
        served.server.allow("argv", secret)
        credentials = GitCredentials(username="argv", token=secret)
        repo = GitRepository(url=served.url("app.git"), credentials=credentials)
    assert repo.pull_code(tmp_path / "co").version == served.commits["app"][-1]
    pulling = threading.current_thread().name
    ran = [args for thread, args in started_processes if thread == pulling]
    assert not any(secret in args for _, args in started_processes)
    if transport == "ssh" or git_client == "dulwich":
        # A deploy key is used in memory, by dulwich, whatever the setting: no ssh, no git.
        assert ran == [], "the pull ran no program: credentials stay in this process's memory"
    else:
        assert any("fetch" in args for args in ran), "git's own fetch ran (the check works)"
    if transport == "https":
        assert started_processes, "the server's git http-backend runs were seen (the check works)"


def _pkt(data: bytes) -> bytes:
    return f"{len(data) + 4:04x}".encode() + data


def test_a_server_that_repeats_the_credentials_cannot_make_the_cli_show_them(
    echo_auth_server: EchoAuthServer, codeferry_home: Path, tmp_path: Path
) -> None:
    # The server answers git's first request with an error line that quotes the Authorization
    # header it got: base64("user:token"), which holds the token but not as text.
    def repeat_in_an_error_line(_path: str, authorization: str) -> Answer:
        if not authorization:  # git sends credentials only when asked for them
            return 401, {"WWW-Authenticate": 'Basic realm="git"'}, b""
        body = (
            _pkt(b"# service=git-upload-pack\n")
            + b"0000"
            + _pkt(f"ERR no access for {authorization}\n".encode())
        )
        return 200, {"Content-Type": "application/x-git-upload-pack-advertisement"}, body

    echo_auth_server.answer = repeat_in_an_error_line
    token = f"tok-{secrets.token_urlsafe(18)}"
    credentials = GitCredentials(username="echo-user", token=SecretStr(token))
    credentials.save("echo")
    GitRepository(url=echo_auth_server.url("team/app.git"), credentials=credentials).save("echo")
    env = {**os.environ, "CODEFERRY_HOME": str(codeferry_home), "CODEFERRY_PLUGINS": "local,git"}
    done = subprocess.run(
        [sys.executable, "-m", "codeferry", "pull", "block:git-repository/echo"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    basic = base64.b64encode(f"echo-user:{token}".encode()).decode()
    assert f"Basic {basic}" in echo_auth_server.headers  # what was sent, and repeated
    assert done.returncode == 1
    assert done.stderr.startswith("Error: cannot fetch git repository")
    assert "no access for Basic " in done.stderr
    for form in (token, basic, urllib.parse.quote(token, safe="")):
        assert form not in done.stdout + done.stderr
