"""git over SSH against a real OpenSSH server, with a deploy key used in memory."""

from __future__ import annotations

from pathlib import Path

import pytest

from codeferry.errors import PullError
from codeferry_git.credentials import GitCredentials, SshKey
from codeferry_git.repository import GitRepository
from tests.git.conftest import Served, ssh_url
from tests.servers.sshd import SshServer


def test_clone_over_ssh_with_an_in_memory_deploy_key(
    sshd_server: SshServer, served: Served, tmp_path: Path
) -> None:
    key = SshKey(private_key=sshd_server.private_key, known_hosts=sshd_server.known_hosts)
    repo = GitRepository(url=ssh_url(sshd_server, served, "app.git"), credentials=key)
    result = repo.pull_code(tmp_path / "co")
    assert result.version == served.commits["app"][-1]
    assert (result.directory / "flow.py").exists()
    assert not repo.pull_code(tmp_path / "co").changed


def test_a_key_on_a_credentials_block_works_too(
    sshd_server: SshServer, served: Served, tmp_path: Path
) -> None:
    key = SshKey(private_key=sshd_server.private_key, known_hosts=sshd_server.known_hosts)
    repo = GitRepository(
        url=ssh_url(sshd_server, served, "app.git"),
        branch="feature",
        credentials=GitCredentials(ssh_key=key),
    )
    assert repo.pull_code(tmp_path / "co").version == served.commits["feature"][0]


def test_an_unknown_host_key_is_refused(
    sshd_server: SshServer, served: Served, tmp_path: Path
) -> None:
    key = SshKey(private_key=sshd_server.private_key)
    repo = GitRepository(url=ssh_url(sshd_server, served, "app.git"), credentials=key)
    with pytest.raises(PullError, match="SSH authentication failed for git repository ssh://"):
        repo.pull_code(tmp_path / "co")


def test_a_key_the_server_does_not_know_is_refused(
    sshd_server: SshServer, served: Served, tmp_path: Path
) -> None:
    import paramiko

    other = paramiko.RSAKey.generate(2048)
    import io

    text = io.StringIO()
    other.write_private_key(text)
    key = SshKey(private_key=text.getvalue(), known_hosts=sshd_server.known_hosts)
    repo = GitRepository(url=ssh_url(sshd_server, served, "app.git"), credentials=key)
    with pytest.raises(PullError, match="SSH authentication failed"):
        repo.pull_code(tmp_path / "co")
    assert text.getvalue() not in str(repo) + repr(repo)


def test_without_a_key_the_machines_ssh_is_used_and_never_prompts(
    sshd_server: SshServer, served: Served, tmp_path: Path
) -> None:
    # This machine's ssh knows neither the server's host key nor a key the server accepts: the
    # pull fails at once, in one line, rather than asking on a terminal.
    repo = GitRepository(url=ssh_url(sshd_server, served, "app.git"))
    with pytest.raises(PullError) as refused:
        repo.pull_code(tmp_path / "co")
    message = str(refused.value)
    assert message.startswith("SSH authentication failed for git repository ssh://"), message
    assert "\n" not in message
