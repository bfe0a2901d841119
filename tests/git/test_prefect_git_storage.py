"""What Prefect's own tests assert for its git storage, run against codeferry's.

Each test is named after the behaviour in ``tests/runner/test_storage.py`` of Prefect
(``GitRepository``, ``create_storage_from_source``, the credential formatting). Where codeferry
does otherwise on purpose, the test asserts codeferry's behaviour and its message, and
docs/moving-from-prefect.md lists the difference. How each host's token goes on the wire
(Prefect's ``TestCredentialFormatting``) is in test_host_tokens.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from codeferry.blocks import Block, Secret
from codeferry.errors import CodeferryError
from codeferry.plugins import Plugins
from codeferry_git.credentials import credentials_from_value
from codeferry_git.repository import GitRepository
from codeferry_git.source import GitSource
from codeferry_git.steps import git_clone
from tests.git.conftest import Served

# -- create_storage_from_source -----------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "git://github.com/user/repo.git",
        "https://github.com/user/repo.git",
        "http://github.com/user/repo.git",
    ],
)
def test_create_git_storage(url: str, hosts: Plugins) -> None:
    assert isinstance(hosts.storage_from_source(url), GitSource)


# -- GitRepository: what it accepts --------------------------------------------------------------


def test_init_with_username_no_token() -> None:
    with pytest.raises(CodeferryError, match="with a username need an access_token"):
        credentials_from_value({"username": "oauth2"})


@pytest.mark.parametrize("branch", ["--upload-pack=touch /tmp/pwned", "-u touch /tmp/pwned"])
def test_init_rejects_option_like_branch(branch: str) -> None:
    with pytest.raises(ValidationError, match="starts with '-'"):
        GitRepository(url="https://github.com/org/repo.git", branch=branch)


@pytest.mark.parametrize(
    "sha", ["--upload-pack=touch /tmp/pwned", "-c core.sshCommand=evil", "ghijkl", "abc"]
)
def test_init_rejects_invalid_commit_sha(sha: str) -> None:
    with pytest.raises(ValidationError, match="is not a full commit id"):
        GitRepository(url="https://github.com/org/repo.git", commit_sha=sha)


def test_init_rejects_an_abbreviated_commit_sha_prefect_accepts() -> None:
    # A difference: Prefect takes 4 to 64 hex digits; an abbreviated id may name another commit
    # tomorrow, and a server can only be asked for a full one.
    with pytest.raises(ValidationError, match="'abcd' is not a full commit id"):
        GitRepository(url="https://github.com/org/repo.git", commit_sha="abcd")


def test_init_accepts_valid_commit_sha_in_either_case() -> None:
    upper = "ABCDEF1234567890ABCDEF1234567890ABCDEF12"
    assert GitRepository(url="https://h/r.git", commit_sha=upper).commit_sha == upper.lower()
    assert GitRepository(url="https://h/r.git", commit_sha="a" * 64).commit_sha == "a" * 64


def test_init_commit_sha_and_branch_checks_out_the_commit(served: Served, tmp_path: Path) -> None:
    # A difference: Prefect refuses both; codeferry pulls the commit (the branch only narrows
    # which refs are looked at).
    pinned = served.commits["app"][0]
    repo = GitRepository(
        url=served.url("app.git"),
        branch="main",
        commit_sha=pinned,
        credentials={"username": served.server.user, "password": served.server.password},
    )
    assert repo.pull_code(tmp_path / "c").version == pinned


def test_init_accepts_directories_that_look_like_options() -> None:
    # Prefect warns (git sparse-checkout would take them as paths); codeferry writes the tree
    # itself, so such a name is only ever a folder name.
    repo = GitRepository(url="https://h/r.git", directories=["src", "--upload-pack=evil"])
    assert repo.directories == ["--upload-pack=evil", "src"]


def test_init_refuses_directories_outside_the_repository() -> None:
    with pytest.raises(ValidationError, match="directories"):
        GitRepository(url="https://h/r.git", directories=["../up"])


# -- pulling --------------------------------------------------------------------------------------


@pytest.mark.usefixtures("hosts")
@pytest.mark.parametrize(
    ("user", "key"),
    [
        pytest.param("oauth2", "access_token", id="test_pull_code_clone_repo"),
        pytest.param("username", "password", id="test_pull_code_with_username_and_password"),
    ],
)
def test_pull_code_with_a_user_and_a_token_or_password(user: str, key: str, served: Served) -> None:
    served.server.allow(user, f"{key}-7f3a")
    credentials = {"username": user, key: f"{key}-7f3a"}
    outputs = git_clone(repository=served.url("app.git"), credentials=credentials)
    assert outputs["commit_sha"] == served.commits["app"][-1]


@pytest.mark.usefixtures("hosts")
def test_credential_formatting_maintains_secrets(served: Served) -> None:
    token = Secret(value="testtoken-5d2b")
    token.save("test-token")
    served.server.allow("x-access-token", "testtoken-5d2b")
    credentials = {"access_token": Secret.load("test-token")}
    outputs = git_clone(repository=served.url("app.git"), credentials=credentials)
    assert outputs["commit_sha"] == served.commits["app"][-1]
    assert credentials == {"access_token": token}, "the mapping given is not changed"


class MockCredentials(Block):
    """Any block with Prefect's credential fields, and no git_credentials method."""

    token: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None


@pytest.mark.usefixtures("hosts")
def test_git_clone_with_credentials_block(served: Served) -> None:
    served.server.allow("x-access-token", "mock-token-31")
    repo = GitRepository(
        url=served.url("app.git"), credentials=MockCredentials(token="mock-token-31")
    )
    assert repo.pull_code().version == served.commits["app"][-1]


@pytest.mark.usefixtures("hosts")
def test_include_submodules_with_credentials(served: Served) -> None:
    # The submodule is on the same host, and private: it gets the same credentials.
    served.server.allow("x-access-token", "sub-token-42")
    outputs = git_clone(
        repository=served.url("app.git"),
        include_submodules=True,
        access_token="sub-token-42",
    )
    assert (Path(outputs["directory"]) / "vendor/lib/lib.py").read_bytes() == b"LIB = 1\n"


def test_pull_code_with_commit_sha_when_current_commit_asks_nothing(
    served: Served, tmp_path: Path
) -> None:
    pinned = served.commits["app"][1]
    credentials = {"username": served.server.user, "password": served.server.password}
    repo = GitRepository(url=served.url("app.git"), commit_sha=pinned, credentials=credentials)
    repo.pull_code(tmp_path / "p")
    before = len(served.server.requests)
    assert not repo.pull_code(tmp_path / "p").changed
    assert len(served.server.requests) == before


def test_clone_repo_sparse(served: Served, tmp_path: Path) -> None:
    credentials = {"username": served.server.user, "password": served.server.password}
    repo = GitRepository(url=served.url("app.git"), directories=["pkg"], credentials=credentials)
    tree = repo.pull_code(tmp_path / "s").directory
    assert (tree / "pkg/a.py").is_file()
    assert not (tree / "docs").exists()


@pytest.mark.usefixtures("hosts")
def test_git_clone_errors_obscure_access_token(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "super-secret-42".upper()
    with pytest.raises(CodeferryError) as failed:
        git_clone(
            repository=served.url("app.git"),
            branch="definitely-does-not-exist-123",
            credentials={"access_token": secret},
        )
    assert secret not in str(failed.value)
    assert secret not in repr(failed.value)
    shown = capsys.readouterr()
    assert secret not in shown.out
    assert secret not in shown.err


# -- to_pull_step ---------------------------------------------------------------------------------


def test_to_pull_step_with_block_credentials() -> None:
    # A difference in form only: codeferry's step name, and its own block namespace (Prefect's
    # {{ prefect.blocks... }} resolves the same).
    credentials = MockCredentials(username="testuser", token="testtoken")
    credentials.save("test-credentials")
    repo = GitRepository(url="https://github.com/org/repo.git", credentials=credentials)
    assert repo.to_pull_step() == {
        "codeferry_git.steps.git_clone": {
            "repository": "https://github.com/org/repo.git",
            "credentials": "{{ blocks.mock-credentials.test-credentials }}",
        }
    }


def test_to_pull_step_with_submodules_commit_sha_and_directories() -> None:
    sha = "1234567890" * 4
    repo = GitRepository(
        url="https://github.com/org/repo.git",
        commit_sha=sha,
        include_submodules=True,
        directories=["src", "tests"],
    )
    assert repo.to_pull_step() == {
        "codeferry_git.steps.git_clone": {
            "repository": "https://github.com/org/repo.git",
            "commit_sha": sha,
            "directories": ["src", "tests"],
            "include_submodules": True,
        }
    }


@pytest.mark.parametrize(
    "credentials",
    [
        pytest.param({"username": "testuser", "access_token": "testpassword"}, id="plaintext"),
        pytest.param(MockCredentials(token="testtoken"), id="unsaved-block"),
    ],
)
def test_to_pull_step_with_unsaved_credentials(credentials: object) -> None:
    repo = GitRepository(url="https://github.com/org/repo.git", credentials=credentials)
    with pytest.raises(CodeferryError, match=r"save the credentials of .* as a block first"):
        repo.to_pull_step()


def test_to_pull_step_with_secret_access_token_asks_for_a_credentials_block() -> None:
    # A difference: Prefect writes the mapping with the secret's placeholder; codeferry keeps
    # the token (not the secret's name), so the step can only name a saved credentials block.
    Secret(value="testtoken").save("test-access-token")
    repo = GitRepository(
        url="https://github.com/org/repo.git",
        credentials={"username": "testuser", "access_token": Secret.load("test-access-token")},
    )
    with pytest.raises(CodeferryError, match=r"save the credentials of .* as a block first"):
        repo.to_pull_step()
