"""Bitbucket's repository block passes the storage contract, pulled by the git engine.

The smart-HTTP test server takes the token with Bitbucket Cloud's user for access tokens.
"""

from __future__ import annotations

import pytest

from codeferry.testing import StorageContract, StoreHandle
from codeferry_bitbucket.credentials import BitBucketCredentials
from codeferry_bitbucket.repository import BitBucketRepository
from tests.git.conftest import CLIENTS
from tests.git.test_contract import private_store
from tests.servers.git_http import GitHttpServer, GitRepos


class TestBitBucketRepository(StorageContract):
    """A private repository named by a `bitbucket-repository` block with saved credentials."""

    expected_skips = len(CLIENTS)  # /absolute.py needs a tree entry with no name, per client

    @pytest.fixture
    def store(self, git_http_server: GitHttpServer, git_repos: GitRepos) -> StoreHandle:
        return private_store(
            "x-token-auth",  # Bitbucket Cloud's user for an access token
            lambda token: BitBucketCredentials(token=token),
            lambda url, credentials: BitBucketRepository(
                repository=url, bitbucket_credentials=credentials
            ),
            git_http_server,
            git_repos,
        )
