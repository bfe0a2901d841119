"""Git storages pass the storage contract every plugin passes, against the smart-HTTP server.

GitRepository here; a host's repository block is tried the same way in ``tests/bitbucket``, with
the helpers below. Each test gets a repository of its own. The kit's ``write`` commits exactly
the files given as the new tip of ``main``, built with git's plumbing (``hash-object``,
``mktree``), so hostile names such as ``..``, ``.git`` or an empty name reach the pull as real
tree entries.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from codeferry.blocks import Block
from codeferry.storage import CodeStorage
from codeferry.testing import StorageContract, StoreHandle
from codeferry_git.credentials import GitCredentials
from codeferry_git.repository import GitRepository
from tests.git.conftest import CLIENTS
from tests.servers.git_http import GitHttpServer, GitRepos


def new_repository(repos: GitRepos, kind: str) -> str:
    name = f"{kind}-{secrets.token_hex(4)}.git"
    repos.bare(name)
    return name


def tip_writer(repos: GitRepos, name: str) -> Callable[[Mapping[str, bytes]], None]:
    """The kit's ``write``: commit exactly ``files`` as the new tip of ``main`` of ``name``."""

    def write(files: Mapping[str, bytes]) -> None:
        if any("" in path.split("/") for path in files):
            # mktree takes an empty name, but git's upload-pack then aborts ("empty filename in
            # tree entry"): no git server can send one. test_trees.py feeds one to the writer.
            raise NotImplementedError("git servers refuse to send a tree entry with no name")
        repos.replace_tip(name, files)

    return write


def private_store(
    user: str,
    credentials: Callable[[str], Block],
    storage: Callable[[str, Any], CodeStorage],
    server: GitHttpServer,
    repos: GitRepos,
) -> StoreHandle:
    """A new private repository on ``server``, pulled with a token from a saved block.

    ``user`` is the user the server takes with the token, ``credentials`` makes the block holding
    the token, ``storage`` the storage from the repository's URL and that block.
    """
    name = new_repository(repos, "contract")
    token = f"contract-{secrets.token_hex(12)}"
    server.allow(user, token)
    saved = credentials(token)
    saved.save("contract")
    missing = server.url(f"missing-{secrets.token_hex(4)}.git")
    return StoreHandle(
        storage(server.url(name), saved),
        write=tip_writer(repos, name),
        secrets=[token],
        failing=lambda: storage(missing, saved),
    )


class TestPrivateGitRepository(StorageContract):
    """Basic auth with a token from a saved credentials block, as a deployment names it."""

    expected_skips = len(CLIENTS)  # /absolute.py needs a tree entry with no name, per client

    @pytest.fixture
    def store(self, git_http_server: GitHttpServer, git_repos: GitRepos) -> StoreHandle:
        return private_store(
            "contract-user",
            lambda token: GitCredentials(username="contract-user", token=token),
            lambda url, credentials: GitRepository(url=url, credentials=credentials),
            git_http_server,
            git_repos,
        )


class TestPublicGitRepository(StorageContract):
    """No credentials at all, so the pull step it describes runs as it is."""

    expected_skips = len(CLIENTS)  # /absolute.py needs a tree entry with no name, per client

    @pytest.fixture
    def store(self, git_http_server: GitHttpServer, git_repos: GitRepos) -> StoreHandle:
        name = new_repository(git_repos, "public")
        missing = f"missing-{secrets.token_hex(4)}.git"
        git_http_server.public.update({name, missing})
        return StoreHandle(
            GitRepository(url=git_http_server.url(name)),
            write=tip_writer(git_repos, name),
            failing=lambda: GitRepository(url=git_http_server.url(missing)),
        )
