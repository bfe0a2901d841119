"""Pulls from git's own http-backend behind nginx and fcgiwrap, as a git host serves it.

The other git tests use the Python test server, which can inject faults; these make sure what
codeferry does also holds against the production-grade server the benchmarks use.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codeferry.errors import PullError
from codeferry_git.credentials import GitCredentials
from codeferry_git.repository import GitRepository
from tests.git.conftest import FreshRepo, Served
from tests.servers.nginx_git import NginxGit


def repository(server: NginxGit, name: str, token: str | None = None) -> GitRepository:
    credentials = GitCredentials(username=server.user, token=token or server.password)
    return GitRepository(url=server.url(name), credentials=credentials)


def test_pull_through_nginx_writes_the_branch_tip(
    served: Served, nginx_git_server: NginxGit, tmp_path: Path
) -> None:
    result = repository(nginx_git_server, "app.git").pull_code(tmp_path / "app")
    assert result.version == served.commits["app"][-1]
    assert (result.directory / "flow.py").read_bytes() == b"def main():\n    return 2\n"
    assert not (result.directory / ".git").exists()


def test_repull_through_nginx_writes_only_the_new_commit(
    nginx_git_server: NginxGit, fresh_repo: FreshRepo, tmp_path: Path
) -> None:
    repo = repository(nginx_git_server, fresh_repo.name)
    repo.pull_code(tmp_path / "co")
    fresh_repo.commit({"flow.py": b"V = 2\n"})
    again = repo.pull_code(tmp_path / "co")
    assert again.changed
    assert again.files == 1
    assert (again.directory / "flow.py").read_bytes() == b"V = 2\n"
    assert (again.directory / "keep.py").read_bytes() == b"K = 1\n"


@pytest.mark.usefixtures("served")
def test_wrong_token_is_refused_by_nginx_without_showing_it(
    nginx_git_server: NginxGit, tmp_path: Path
) -> None:
    repo = repository(nginx_git_server, "app.git", token="wrong-token-5e7a91")
    with pytest.raises(PullError, match="authentication failed") as refused:
        repo.pull_code(tmp_path / "app")
    assert "wrong-token-5e7a91" not in str(refused.value)
    assert not (tmp_path / "app").exists()
