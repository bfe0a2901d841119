"""The git_clone step, source claiming, and the GitHub, GitLab and Bitbucket credentials."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from codeferry.errors import PullError
from codeferry.plugins import Plugins
from codeferry_bitbucket.credentials import BitBucketCredentials
from codeferry_git.repository import GitRepository
from codeferry_git.source import GitSource
from codeferry_github.credentials import GitHubAppCredentials, GitHubCredentials
from codeferry_gitlab.credentials import GitLabCredentials
from tests.git.conftest import Served
from tests.servers.keys import new_rsa_key


@pytest.mark.parametrize(
    "name",
    [
        "git_clone",
        "prefect.deployments.steps.git_clone",
        "prefect.deployments.steps.pull.git_clone",
    ],
)
def test_git_clone_step_takes_prefects_arguments(
    git_plugins: Plugins, served: Served, name: str
) -> None:
    step = git_plugins.step(name).function
    outputs = step(
        repository=served.url("app.git"),
        branch="feature",
        credentials={"username": served.server.user, "access_token": served.server.password},
    )
    assert outputs is not None
    assert outputs["commit_sha"] == served.commits["feature"][0]
    assert (Path(outputs["directory"]) / "feature.py").exists()


def test_git_clone_step_with_an_access_token(served: Served) -> None:
    from codeferry_git.steps import git_clone

    served.server.allow("x-access-token", "plain-token-1234")
    outputs = git_clone(repository=served.url("app.git"), access_token="plain-token-1234")
    assert outputs["commit_sha"] == served.commits["app"][-1]


@pytest.mark.parametrize(
    "resolved",
    [
        {"token": "tok-1234", "url": None},  # prefect-gitlab's gitlab-credentials
        {"token": "tok-1234", "url": "https://gitlab.internal"},
        {"token": None, "username": None, "password": "tok-1234", "url": None},  # prefect-bitbucket
        {"username": None, "token": "tok-1234", "ssh_key": None},  # codeferry's git-credentials
    ],
)
def test_git_clone_takes_credentials_blocks_as_prefect_resolves_them(
    served: Served, resolved: dict[str, object]
) -> None:
    from codeferry_git.steps import git_clone

    served.server.allow("x-access-token", "tok-1234")
    outputs = git_clone(repository=served.url("app.git"), credentials=resolved)
    assert outputs["commit_sha"] == served.commits["app"][-1]


def test_git_clone_makes_prefects_clone_directory_name_a_link_to_the_code(
    served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from codeferry_git.steps import git_clone

    monkeypatch.chdir(tmp_path)
    served.server.allow("x-access-token", "tok-1234")
    outputs = git_clone(
        repository=served.url("app.git"), access_token="tok-1234", clone_directory_name="app"
    )
    assert (Path(outputs["directory"]) / "flow.py").exists()
    # as in Prefect, later steps find the code under the folder name, in the working folder
    assert (tmp_path / "app" / "flow.py").read_bytes() == (
        Path(outputs["directory"]) / "flow.py"
    ).read_bytes()


@pytest.mark.parametrize(
    "source",
    [
        "https://example.com/org/repo.git",
        "git@example.com:org/repo.git",
        "ssh://git@example.com:2222/org/repo.git",
        "git+https://example.com/org/repo",
    ],
)
def test_git_sources_are_claimed_by_the_git_plugin(git_plugins: Plugins, source: str) -> None:
    storage = git_plugins.storage_from_source(source)
    assert isinstance(storage, GitSource)


def test_a_plain_local_folder_is_not_a_git_source(git_plugins: Plugins, tmp_path: Path) -> None:
    (tmp_path / "repo.git").mkdir()
    storage = git_plugins.storage_from_source(str(tmp_path / "repo.git"))
    assert not isinstance(storage, GitSource)


@pytest.mark.parametrize(
    ("plugin", "source"),
    [
        ("github", "https://github.com/org/repo"),
        ("gitlab", "https://gitlab.com/group/sub/repo"),
        ("bitbucket", "git@bitbucket.org:team/repo.git"),
    ],
)
def test_provider_plugins_claim_their_hosts(plugin: str, source: str) -> None:
    registry = Plugins(
        {"git": "codeferry_git.plugin", plugin: f"codeferry_{plugin}.plugin"}, entry_points=False
    )
    assert isinstance(registry.storage_from_source(source), GitSource)
    assert f"{plugin}-credentials" in registry.block_types


@pytest.mark.parametrize(
    ("credentials", "expected"),
    [
        (GitHubCredentials(token="t0k"), ("x-access-token", "t0k")),
        (GitLabCredentials(token="t0k"), ("oauth2", "t0k")),
        (
            GitLabCredentials(token="t0k", username="gitlab+deploy-token-1"),
            ("gitlab+deploy-token-1", "t0k"),
        ),
        (BitBucketCredentials(token="t0k"), ("x-token-auth", "t0k")),
        (BitBucketCredentials(token="t0k", username="me"), ("me", "t0k")),
    ],
)
def test_each_provider_puts_the_credential_on_the_wire_its_way(
    credentials: object, expected: tuple[str, str]
) -> None:
    assert credentials.git_credentials("https://host/x.git") == expected  # type: ignore[attr-defined]


def test_provider_credentials_clone_from_the_test_server(served: Served, tmp_path: Path) -> None:
    served.server.allow("oauth2", "glpat-abc123")
    repo = GitRepository(
        url=served.url("app.git"), credentials=GitLabCredentials(token="glpat-abc123")
    )
    assert repo.pull_code(tmp_path / "co").version == served.commits["app"][-1]


# -- a GitHub App against an endpoint that really checks the JWT -----------------------------


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _FakeGitHubApi:
    def __init__(
        self, public_key: rsa.RSAPublicKey, app_id: str, on_token: Callable[[str], None]
    ) -> None:
        self.public_key, self.app_id, self.on_token = public_key, app_id, on_token
        self.minted: list[str] = []
        self.rejected = 0

    def verify(self, token: str) -> bool:
        header, claims, signature = token.split(".")
        try:
            self.public_key.verify(
                _b64decode(signature),
                f"{header}.{claims}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except Exception:
            return False
        data = json.loads(_b64decode(claims))
        now = time.time()
        return bool(
            json.loads(_b64decode(header))["alg"] == "RS256"
            and data["iss"] == self.app_id
            and data["iat"] <= now
            and now < data["exp"] <= data["iat"] + 600
        )


@pytest.fixture
def github_api(served: Served) -> Iterator[tuple[str, GitHubAppCredentials, _FakeGitHubApi]]:
    key, pem = new_rsa_key()
    api = _FakeGitHubApi(
        key.public_key(), "4242", lambda t: served.server.allow("x-access-token", t)
    )

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            auth = self.headers.get("Authorization", "")
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            ok = (
                self.path == "/app/installations/77/access_tokens"
                and auth.startswith("Bearer ")
                and api.verify(auth.removeprefix("Bearer "))
                and body == {"permissions": {"contents": "read"}}
            )
            if not ok:
                api.rejected += 1
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            token = f"ghs_{secrets.token_hex(12)}"
            api.minted.append(token)
            api.on_token(token)
            answer = json.dumps(
                {
                    "token": token,
                    "expires_at": time.strftime(
                        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600)
                    ),
                }
            ).encode()
            self.send_response(201)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    credentials = GitHubAppCredentials(
        app_id="4242", private_key=pem, installation_id=77, api_url=url
    )
    yield url, credentials, api
    server.shutdown()
    server.server_close()


def test_a_github_app_mints_a_verified_token_and_clones(
    served: Served, github_api: tuple[str, GitHubAppCredentials, _FakeGitHubApi], tmp_path: Path
) -> None:
    _, credentials, api = github_api
    repo = GitRepository(url=served.url("app.git"), credentials=credentials)
    assert repo.pull_code(tmp_path / "co").version == served.commits["app"][-1]
    assert len(api.minted) == 1
    assert api.rejected == 0
    repo.pull_code(tmp_path / "co")
    assert len(api.minted) == 1, "a token still valid for long is reused in memory"


def test_a_github_app_token_is_renewed_before_it_expires(
    github_api: tuple[str, GitHubAppCredentials, _FakeGitHubApi],
) -> None:
    _, credentials, api = github_api
    first = credentials.git_credentials("https://x/y.git")[1]
    credentials._token = (first, time.time() + 60)  # as if minted 59 minutes ago
    second = credentials.git_credentials("https://x/y.git")[1]
    assert second != first
    assert len(api.minted) == 2


def test_a_github_app_with_the_wrong_key_is_refused_clearly(
    served: Served, github_api: tuple[str, GitHubAppCredentials, _FakeGitHubApi], tmp_path: Path
) -> None:
    url, _, api = github_api
    _, other = new_rsa_key()
    credentials = GitHubAppCredentials(
        app_id="4242", private_key=other, installation_id=77, api_url=url
    )
    repo = GitRepository(url=served.url("app.git"), credentials=credentials)
    with pytest.raises(PullError, match="refused an installation token"):
        repo.pull_code(tmp_path / "co")
    assert api.rejected == 1


def test_git_clone_refuses_a_destination_holding_another_repository_unless_replace(
    served: Served, tmp_path: Path
) -> None:
    from codeferry_git.steps import git_clone

    credentials = {"username": served.server.user, "access_token": served.server.password}
    dest = str(tmp_path / "flows")
    git_clone(repository=served.url("app.git"), credentials=credentials, destination=dest)
    with pytest.raises(PullError) as caught:
        git_clone(repository=served.url("lib.git"), credentials=credentials, destination=dest)
    assert "app.git" in str(caught.value)
    assert "lib.git" in str(caught.value)
    assert (tmp_path / "flows" / "flow.py").is_file()
    outputs = git_clone(
        repository=served.url("lib.git"), credentials=credentials, destination=dest, replace=True
    )
    assert outputs["commit_sha"] == served.commits["lib"][-1]
    assert sorted(p.name for p in (tmp_path / "flows").iterdir()) == ["lib.py"]
