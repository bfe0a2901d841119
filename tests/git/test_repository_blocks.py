"""GitHub's, GitLab's and Bitbucket's repository blocks: Prefect's slugs and fields, as storages.

Each is a storage (a source ``block:SLUG/NAME``, ``codeferry.from_source``, ``pull_with_block``,
the conformance kit) that pulls through codeferry-git's ``GitRepository``.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from pydantic import ValidationError

import codeferry
from codeferry.plugins import Plugins
from codeferry.steps.blocks import pull_with_block
from codeferry_bitbucket.credentials import BitBucketCredentials
from codeferry_bitbucket.repository import BitBucketRepository
from codeferry_git.host_blocks import HostRepository
from codeferry_github.credentials import GitHubCredentials
from codeferry_github.repository import GitHubRepository
from codeferry_gitlab.credentials import GitLabCredentials
from codeferry_gitlab.repository import GitLabRepository
from tests.git.conftest import Served


@pytest.mark.parametrize(
    ("block_type", "slug", "fields"),
    [
        (GitHubRepository, "github-repository", ["repository_url", "reference", "credentials"]),
        (
            GitLabRepository,
            "gitlab-repository",
            ["repository", "reference", "git_depth", "credentials"],
        ),
        (
            BitBucketRepository,
            "bitbucket-repository",
            ["repository", "reference", "bitbucket_credentials"],
        ),
    ],
)
def test_each_repository_block_has_prefects_slug_and_fields(
    block_type: type[HostRepository], slug: str, fields: list[str], hosts: Plugins
) -> None:
    assert block_type.block_type_slug == slug
    assert list(block_type.model_fields) == fields
    assert hosts.block_types[slug].block_type is block_type


def private(served: Served, user: str) -> str:
    token = f"tok-{secrets.token_hex(8)}"
    served.server.allow(user, token)
    return token


@pytest.mark.usefixtures("hosts")
def test_a_saved_gitlab_repository_is_a_source_and_pulls_its_reference(served: Served) -> None:
    credentials = GitLabCredentials(token=private(served, "oauth2"))
    credentials.save("deploy")
    GitLabRepository(
        repository=served.url("app.git"), reference="feature", credentials=credentials
    ).save("flows")
    pulled = codeferry.from_source("block:gitlab-repository/flows", "feature.py:F").pull()
    assert pulled.version == served.commits["feature"][0]
    assert (pulled.directory / "feature.py").is_file()


@pytest.mark.usefixtures("hosts")
def test_pull_with_block_pulls_a_bitbucket_repository(served: Served) -> None:
    credentials = BitBucketCredentials(token=private(served, "x-token-auth"))
    BitBucketRepository(repository=served.url("app.git"), bitbucket_credentials=credentials).save(
        "flows"
    )
    outputs = pull_with_block("flows", "bitbucket-repository")
    assert outputs["version"] == served.commits["app"][-1]
    assert (Path(outputs["directory"]) / "flow.py").is_file()


@pytest.mark.usefixtures("hosts")
def test_a_github_repository_object_is_a_storage_for_from_source(served: Served) -> None:
    block = GitHubRepository(
        repository_url=served.url("app.git"),
        reference="v1.0",
        credentials=GitHubCredentials(token=private(served, "x-access-token")),
    )
    pulled = codeferry.from_source(block, "flow.py:main").pull()
    assert pulled.version == served.commits["app"][0]
    assert str(block) == f"{served.url('app.git')}@v1.0"


def test_git_depth_is_the_history_fetched_and_none_is_all_of_it() -> None:
    url = "https://gitlab.com/group/repo.git"
    assert GitLabRepository(repository=url).git_repository().depth == 1
    assert GitLabRepository(repository=url, git_depth=5).git_repository().depth == 5
    assert GitLabRepository(repository=url, git_depth=None).git_repository().depth is None
    with pytest.raises(ValidationError):
        GitLabRepository(repository=url, git_depth=0)


def test_a_token_in_a_repository_blocks_url_is_refused_without_showing_it() -> None:
    with pytest.raises(ValidationError) as refused:
        GitHubRepository(repository_url="https://ghp_secret1234@github.com/org/repo")
    assert "ghp_secret1234" not in str(refused.value)
    assert "give the token in credentials" in str(refused.value)


def test_a_reference_that_could_be_an_option_is_refused() -> None:
    with pytest.raises(ValidationError, match="starts with '-'"):
        BitBucketRepository(repository="https://bitbucket.org/w/r", reference="--upload-pack=x")


@pytest.mark.usefixtures("hosts")
def test_the_pull_step_of_a_repository_block_names_its_credentials_block() -> None:
    credentials = GitLabCredentials(token="glpat-abc123")
    credentials.save("deploy")
    block = GitLabRepository(
        repository="https://gitlab.com/g/r.git", reference="main", credentials=credentials
    )
    assert block.to_pull_step() == {
        "codeferry_git.steps.git_clone": {
            "repository": "https://gitlab.com/g/r.git",
            "branch": "main",
            "credentials": "{{ blocks.gitlab-credentials.deploy }}",
        }
    }
