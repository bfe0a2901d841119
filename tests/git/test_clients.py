"""What holds whichever git client pulls: credentials stay home, the machine's git setup stays out.

Each test runs with git's own program and with dulwich (see ``git_client`` in the conftest).
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from codeferry.errors import PullError
from codeferry_git.clients import cache_folder
from codeferry_git.credentials import GitCredentials
from codeferry_git.progress import TransferProgress, reporting
from codeferry_git.repository import GitRepository
from tests.git.conftest import BIG_FILES, CLIENTS, FreshRepo, Served
from tests.git.processes import ProcessWatcher
from tests.servers.echo_auth import EchoAuthServer
from tests.servers.git_http import run_git


def test_the_token_is_in_no_process_arguments_or_environment_during_a_pull(
    served: Served, tmp_path: Path, git_client: str
) -> None:
    token = f"proc-scan-{secrets.token_hex(12)}"
    served.server.allow("scanned", token)
    repo = GitRepository(
        url=served.url("big.git"), credentials=GitCredentials(username="scanned", token=token)
    )
    with ProcessWatcher() as watcher:
        assert repo.pull_code(tmp_path / "co").files > BIG_FILES
    assert not [seen for seen in watcher.seen if token.encode() in seen]
    assert any(b"http-backend" in seen for seen in watcher.seen), "the watcher saw the server"
    if git_client == "git":
        # git and its HTTP helper carry the credential helper in their arguments or environment
        # (GIT_CONFIG_PARAMETERS): they were seen while they ran, and held no token.
        carried = [seen for seen in watcher.seen if b".helper=!f()" in seen]
        assert carried, "the watcher saw git's processes"


@pytest.fixture
def redirect_to(echo_auth_server: EchoAuthServer) -> Iterator[str]:
    """A server answering every request with a redirect to the same path on another host (the
    echo server, as ``localhost``, which records the credentials it is sent); yields its URL."""
    other = f"http://localhost:{echo_auth_server.port}"

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", other + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            self.do_GET()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_redirect_to_another_host_does_not_get_the_token(
    redirect_to: str, echo_auth_server: EchoAuthServer, tmp_path: Path
) -> None:
    token = f"redirected-{secrets.token_hex(12)}"
    credentials = GitCredentials(username="someone", token=token)
    repo = GitRepository(url=f"{redirect_to}/team/app.git", credentials=credentials)
    with pytest.raises(PullError) as refused:
        repo.pull_code(tmp_path / "co")
    assert echo_auth_server.headers, "the other host was asked (the redirect was followed)"
    assert echo_auth_server.headers == [""] * len(echo_auth_server.headers)
    assert token not in str(refused.value)


def test_the_machines_git_configuration_and_environment_take_no_part(
    served: Served,
    echo_auth_server: EchoAuthServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Everything a user's git setup could do to a fetch: send it elsewhere, add a header, run a
    # hook, convert files. None of it may reach a pull.
    elsewhere = echo_auth_server.url("")
    config = tmp_path / "gitconfig"
    config.write_text(
        f'[url "{elsewhere}"]\n\tinsteadOf = {served.server.base_url}/\n'
        "[http]\n\textraHeader = X-Leak: yes\n"
        "[core]\n\tautocrlf = true\n\thooksPath = /nonexistent\n"
        "[credential]\n\thelper = store\n"
    )
    (tmp_path / "xdg" / "git").mkdir(parents=True)
    (tmp_path / "xdg" / "git" / "attributes").write_text("* text eol=crlf\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("GIT_DIR", str(tmp_path / "elsewhere.git"))
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", f"'url.{elsewhere}.insteadof'='http://'")
    repo = served.repository("app.git")
    result = repo.pull_code(tmp_path / "co")
    assert result.version == served.commits["app"][-1]
    assert (result.directory / "flow.py").read_bytes() == b"def main():\n    return 2\n"
    assert echo_auth_server.headers == []
    assert not (tmp_path / "elsewhere.git").exists()


def test_files_are_written_as_committed_whatever_the_gitattributes_say(
    served: Served, fresh_repo: FreshRepo, tmp_path: Path
) -> None:
    committed = {
        ".gitattributes": (
            b"*.txt text eol=crlf\n*.id ident\n*.enc working-tree-encoding=UTF-16\n"
            b"*.bin filter=lfs\n"
        ),
        "notes.txt": b"one\ntwo\n",
        "version.id": b"$Id$\n",
        "latin.enc": b"plain text\n",
        "blob.bin": b"\x00\x01 not a pointer\n",
    }
    served.repos.fast_import(
        fresh_repo.name, [committed]
    )  # the blobs as they are: no attribute applied
    repo = fresh_repo.repository()
    result = repo.pull_code(tmp_path / "co")
    for path, data in committed.items():
        assert (result.directory / path).read_bytes() == data, path


def test_a_lock_left_by_a_killed_pull_does_not_stop_the_next(
    fresh_repo: FreshRepo, tmp_path: Path
) -> None:
    repo = fresh_repo.repository()
    first = repo.pull_code(tmp_path / "co")
    cache = next(first.directory.parents[1].glob("cache/git/*"))
    assert cache == cache_folder(first.directory.parents[1] / "cache", fresh_repo.url)
    (pack,) = (cache / "objects/pack").glob("*.pack")
    # What git and dulwich hold while they update the repository, and the packs they receive
    # into temporary files, left by a pull killed then. A pack index's lock stops the next pull
    # when the server sends the same pack again.
    left_over = [
        cache / "shallow.lock",
        cache / "packed-refs.lock",
        cache / "refs/heads/codeferry.lock",
        pack.with_suffix(".idx.lock"),
        cache / "objects/tmp_pack_x1b2c3",
        cache / "objects/pack/tmp_idx_x1b2c3",
        cache / "objects/pack/tmpq9z8y7.pack",
    ]
    for path in left_over:
        path.write_bytes(b"PACK")
    fresh_repo.commit({"flow.py": b"V = 2\n"})
    again = repo.pull_code(tmp_path / "co")
    assert (again.directory / "flow.py").read_bytes() == b"V = 2\n"
    assert [path for path in left_over if path.exists()] == []
    assert pack.exists()


@pytest.mark.usefixtures("git_client")
def test_many_repulls_roll_up_only_the_small_packs(served: Served, tmp_path: Path) -> None:
    name = f"packs-{secrets.token_hex(4)}.git"
    served.repos.bare(name)
    served.repos.fast_import(name, [{f"m{n}.py": f"N = {n}\n".encode() for n in range(200)}])
    repo = served.repository(name)
    first = repo.pull_code(tmp_path / "co")
    packs = cache_folder(first.directory.parents[1] / "cache", served.url(name)) / "objects/pack"
    (largest,) = packs.glob("*.pack")
    for number in range(18):
        served.repos.fast_import(name, [{"m1.py": f"N = {number}\n".encode()}])
        assert (repo.pull_code(tmp_path / "co").directory / "m1.py").read_bytes() == (
            f"N = {number}\n".encode()
        )
    assert len(list(packs.glob("*.pack"))) <= 16
    assert largest.exists(), "the first pull's pack was kept as it is, not rewritten"


def test_progress_reports_what_is_received_and_written(
    served: Served, tmp_path: Path, git_client: str
) -> None:
    reports: list[TransferProgress] = []
    repo = served.repository("big.git")
    with reporting(reports.append):
        result = repo.pull_code(tmp_path / "co")
    assert {r.repository for r in reports} == {served.url("big.git")}
    receiving = [r for r in reports if r.phase == "receiving"]
    assert receiving
    assert receiving[-1].bytes > 0
    if git_client == "git":
        assert receiving[-1].total is not None
        assert receiving[-1].done == receiving[-1].total > BIG_FILES
    assert [(r.done, r.total) for r in reports if r.phase == "writing"] == [
        (result.files, result.files)
    ]


@pytest.fixture
def refusing_address() -> Iterator[str]:
    """``127.0.0.1:PORT`` of a listening socket whose backlog is full: connecting there hangs
    (the kernel drops the handshake), as with a server behind a black-holing firewall."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.2)  # the kernel settles the fillers' handshakes; nothing waits on a server here
    yield f"127.0.0.1:{port}"
    for filler in fillers:
        filler.close()
    listener.close()


@pytest.mark.usefixtures("git_client")
def test_a_server_that_never_accepts_the_connection_is_given_up_in_one_line(
    refusing_address: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEFERRY_CONNECT_TIMEOUT", "1")
    url = f"http://{refusing_address}/flows.git"
    with pytest.raises(PullError) as given_up:
        GitRepository(url=url).pull_code(tmp_path / "co")
    assert str(given_up.value) == (
        f"git server {refusing_address} did not accept a connection within 1 s "
        f"(git repository {url})"
    )


def test_a_tag_and_a_branch_of_one_name_resolve_to_the_branch(
    fresh_repo: FreshRepo, tmp_path: Path
) -> None:
    worktree = fresh_repo.worktree
    tagged = run_git("rev-parse", "HEAD", cwd=worktree)
    run_git("tag", "release", tagged, cwd=worktree)
    run_git("push", "-q", "origin", "release", cwd=worktree)
    on_branch = fresh_repo.commit({"flow.py": b"V = 2\n"}, branch="release")
    repo = fresh_repo.repository(branch="release")
    # git's own order (for its command line) would take the tag.
    assert repo.pull_code(tmp_path / "co").version == on_branch


def test_either_client_takes_over_the_cache_the_other_filled(
    fresh_repo: FreshRepo,
    tmp_path: Path,
    git_client: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = fresh_repo.repository()
    other = CLIENTS["dulwich" if git_client == "git" else "git"]
    first = repo.pull_code(tmp_path / "co")
    for number, setting in enumerate((other, CLIENTS[git_client]), start=2):
        monkeypatch.setenv("CODEFERRY_GIT_BINARY", setting)
        fresh_repo.commit({"flow.py": f"V = {number}\n".encode()})
        result = repo.pull_code(tmp_path / "co")
        assert (result.directory / "flow.py").read_bytes() == f"V = {number}\n".encode()
        assert result.files == 1, "only the new commit's file was written"
        assert (result.directory / "keep.py").samefile(first.directory / "keep.py")


def test_a_token_with_shell_and_escape_characters_reaches_the_server_as_it_is(
    served: Served, tmp_path: Path
) -> None:
    # What the credential helper's shell could take for code, an escape or a format.
    token = " t0k\\en $HOME `id` 'q\" ; x\\n %s "
    served.server.allow("spe cial", token)
    repo = GitRepository(
        url=served.url("app.git"), credentials=GitCredentials(username="spe cial", token=token)
    )
    assert repo.pull_code(tmp_path / "co").version == served.commits["app"][-1]
