"""Repositories for the git tests, made once per session on the smart-HTTP test server.

Every test that talks to a server runs twice: with git's own program fetching and writing
(``CODEFERRY_GIT_BINARY=always``) and with dulwich (``never``); see :func:`git_client`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from codeferry.plugins import Plugins, set_plugins
from codeferry_git.credentials import GitCredentials
from codeferry_git.repository import GitRepository
from tests.servers.git_http import GitHttpServer, GitRepos, run_git
from tests.servers.sshd import SshServer

BIG_FILES = 2_000
CLIENTS = {"git": "always", "dulwich": "never"}
"""Each git client, and the ``CODEFERRY_GIT_BINARY`` value that chooses it."""
# A test using one of these talks to a git server: it runs with each client.
_SERVERS = {
    "served",
    "git_http_server",
    "git_repos",
    "nginx_git_server",
    "sshd_server",
    "silent_server",
    "echo_auth_server",
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if _SERVERS & set(metafunc.fixturenames):
        metafunc.parametrize("git_client", list(CLIENTS), indirect=True)


@pytest.fixture(autouse=True)
def git_client(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str | None:
    """The git client this test pulls with (``"git"`` or ``"dulwich"``), chosen through the
    setting for this process and the codeferry processes it starts; ``None``: the default."""
    monkeypatch.delenv("CODEFERRY_GIT_BINARY", raising=False)
    client: str | None = getattr(request, "param", None)
    if client is not None:
        monkeypatch.setenv("CODEFERRY_GIT_BINARY", CLIENTS[client])
    return client


@dataclass
class Served:
    """The session's repositories: names on the server and the commits they hold."""

    server: GitHttpServer
    repos: GitRepos
    commits: dict[str, list[str]] = field(default_factory=dict)

    def url(self, name: str) -> str:
        return self.server.url(name)

    def credentials(self) -> GitCredentials:
        """The server's user name and password, as git credentials."""
        return GitCredentials(username=self.server.user, token=self.server.password)

    def repository(self, name: str, **options: Any) -> GitRepository:
        """A block for served repository ``name``, signed in with :meth:`credentials`."""
        return GitRepository(url=self.url(name), credentials=self.credentials(), **options)


def ssh_url(sshd: SshServer, served: Served, name: str) -> str:
    """The ``ssh://`` URL of served repository ``name`` on the test sshd."""
    return f"ssh://{sshd.user}@127.0.0.1:{sshd.port}{served.server.root / name}"


@pytest.fixture
def git_plugins() -> Iterator[Plugins]:
    """Core, local and git plugins only."""
    registry = Plugins(
        {"local": "codeferry_local.plugin", "git": "codeferry_git.plugin"}, entry_points=False
    )
    previous = set_plugins(registry)
    yield registry
    set_plugins(previous)


def host_plugins(*hosts: str, **more: ModuleType | str) -> Plugins:
    """Core, codeferry-git and the named git-host plugins (and ``more`` modules), nothing else."""
    modules: dict[str, ModuleType | str] = {"git": "codeferry_git.plugin"}
    modules.update({host: f"codeferry_{host}.plugin" for host in hosts})
    return Plugins({**modules, **more}, entry_points=False)


@pytest.fixture
def hosts() -> Iterator[Plugins]:
    """codeferry-git and the GitHub, GitLab and Bitbucket plugins, as the plugins in use."""
    registry = host_plugins("github", "gitlab", "bitbucket")
    previous = set_plugins(registry)
    yield registry
    set_plugins(previous)


@pytest.fixture(scope="session")
def served(git_http_server: GitHttpServer, git_repos: GitRepos) -> Served:
    """``app.git`` (branches, a tag, an executable, a symlink, a submodule ``lib.git``) and
    ``big.git`` (thousands of files, many commits)."""
    result = Served(git_http_server, git_repos)
    git_repos.bare("lib.git")
    lib = git_repos.worktree("lib.git")
    result.commits["lib"] = [git_repos.commit(lib, {"lib.py": b"LIB = 1\n"})]

    git_repos.bare("app.git")
    app = git_repos.worktree("app.git")
    first = git_repos.commit(
        app,
        {"flow.py": b"def main():\n    return 1\n", "bin/run.sh": b"#!/bin/sh\necho hi\n"},
        executable=("bin/run.sh",),
        symlinks={"flow_link.py": "flow.py"},
    )
    second = git_repos.commit(
        app,
        {"flow.py": b"def main():\n    return 2\n", "pkg/a.py": b"A = 1\n", "docs/x.md": b"x\n"},
    )
    run_git("tag", "-a", "v1.0", "-m", "release", first, cwd=app)
    run_git("push", "-q", "origin", "v1.0", cwd=app)
    run_git("checkout", "-q", "-b", "feature", cwd=app)
    feature = git_repos.commit(app, {"feature.py": b"F = 1\n"}, branch="feature")
    run_git("checkout", "-q", "main", cwd=app)
    run_git(
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        "../lib.git",
        "vendor/lib",
        cwd=app,
    )
    run_git("config", "-f", ".gitmodules", "submodule.vendor/lib.url", "../lib.git", cwd=app)
    with_submodule = git_repos.commit(app, {}, message="add submodule")
    result.commits["app"] = [first, second, with_submodule]
    result.commits["feature"] = [feature]

    git_repos.bare("big.git")
    files = {f"pkg{i % 40}/mod_{i}.py": f"VALUE = {i}\n".encode() * 8 for i in range(BIG_FILES)}
    history = [files] + [{f"pkg1/mod_{n}.py": f"V = {n}\n".encode()} for n in range(60)]
    result.commits["big"] = git_repos.fast_import("big.git", history)
    return result


@dataclass
class FreshRepo:
    """A repository of one test's own on the served server."""

    served: Served
    name: str
    worktree: Path

    @property
    def url(self) -> str:
        return self.served.url(self.name)

    def repository(self, **options: Any) -> GitRepository:
        """A block for this repository, signed in to the server."""
        return self.served.repository(self.name, **options)

    def commit(self, files: Mapping[str, bytes], **options: Any) -> str:
        """Commit ``files`` and push them; the new commit's id."""
        return self.served.repos.commit(self.worktree, files, **options)


@pytest.fixture
def fresh_repo(served: Served) -> FreshRepo:
    """A new repository of this test's own, with one commit: ``flow.py`` and ``keep.py``."""
    import secrets

    name = f"own-{secrets.token_hex(4)}.git"
    served.repos.bare(name)
    fresh = FreshRepo(served, name, served.repos.worktree(name))
    fresh.commit({"flow.py": b"V = 1\n", "keep.py": b"K = 1\n"})
    return fresh
