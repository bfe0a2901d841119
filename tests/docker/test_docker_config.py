"""Registry logins from Docker's config file (`auths`, `credHelpers`, `credsStore`).

Used when no docker-registry-credentials block is given; against the htpasswd registry and the
token registry the tests start, with a fake credential helper on a temporary PATH.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from codeferry.errors import PullError
from codeferry_docker.credentials import DockerRegistryCredentials
from codeferry_docker.docker_config import RegistryLogin, config_path, login_for
from codeferry_docker.storage import OciImage
from tests.docker.checks import pulled_files
from tests.docker.images import RawPusher, config_for, layer
from tests.servers.registry import RegistryServer, TokenServer

FILES = {"app/flow.py": b"def main():\n    return 1\n"}

HELPER = """#!/bin/sh
# A fake docker-credential helper: records how it was called, answers from {answers}.
server=$(cat)
printf '%s\\n' "$*" >> "{calls}"
printf '%s\\n' "$server" >> "{calls}"
env >> "{environment}"
if [ -f "{answers}/$(printf '%s' "$server" | tr '/:' '__')" ]; then
    cat "{answers}/$(printf '%s' "$server" | tr '/:' '__')"
    exit 0
fi
echo "credentials not found in native keychain"
exit 1
"""


class Helper:
    """``docker-credential-test`` on PATH, answering for the servers it is given logins for."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.answers = folder / "answers"
        self.answers.mkdir(parents=True)
        self.calls = folder / "calls.txt"
        self.environment = folder / "environment.txt"
        program = folder / "bin" / "docker-credential-test"
        program.parent.mkdir()
        program.write_text(
            HELPER.format(answers=self.answers, calls=self.calls, environment=self.environment)
        )
        program.chmod(program.stat().st_mode | stat.S_IEXEC)

    def knows(self, server: str, username: str, secret: str) -> None:
        name = server.replace("/", "_").replace(":", "_")
        (self.answers / name).write_text(
            json.dumps({"ServerURL": server, "Username": username, "Secret": secret})
        )

    @property
    def called_with(self) -> list[str]:
        return self.calls.read_text().splitlines() if self.calls.exists() else []


@pytest.fixture
def helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Helper:
    made = Helper(tmp_path / "helper")
    monkeypatch.setenv("PATH", f"{made.folder / 'bin'}{os.pathsep}{os.environ['PATH']}")
    return made


def write_config(docker_config: Path, document: dict[str, object]) -> None:
    (docker_config / "config.json").write_text(json.dumps(document))


def basic(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode()


@pytest.fixture
def image(pusher: RawPusher, oci_registry: RegistryServer, repository: str) -> OciImage:
    code = layer(FILES)
    pusher.image(repository, "v1", [code], config_for([code], workdir="/app"))
    return OciImage(image=oci_registry.image(repository, "v1"))


@pytest.fixture
def login(oci_registry: RegistryServer) -> tuple[str, str]:
    """The user name and password of the htpasswd registry."""
    assert oci_registry.username
    assert oci_registry.password
    return oci_registry.username, oci_registry.password


def auths_with_basic(host: str, username: str, password: str) -> dict[str, object]:
    return {"auths": {host: {"auth": basic(username, password)}}}


def auths_with_a_scheme(host: str, username: str, password: str) -> dict[str, object]:
    return {"auths": {f"http://{host}/v1/": {"username": username, "password": password}}}


@pytest.mark.parametrize("document", [auths_with_basic, auths_with_a_scheme])
def test_a_login_in_auths_is_used_when_no_credentials_block_is_given(
    docker_config: Path,
    oci_registry: RegistryServer,
    login: tuple[str, str],
    image: OciImage,
    tmp_path: Path,
    document: Callable[[str, str, str], dict[str, object]],
) -> None:
    write_config(docker_config, document(oci_registry.host, *login))
    assert pulled_files(image.pull_code(tmp_path / "out").directory) == FILES


def test_the_config_under_the_home_folder_is_read_without_docker_config(
    monkeypatch: pytest.MonkeyPatch,
    oci_registry: RegistryServer,
    login: tuple[str, str],
    image: OciImage,
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    (home / ".docker").mkdir(parents=True)
    monkeypatch.delenv("DOCKER_CONFIG")
    monkeypatch.setenv("HOME", str(home))
    write_config(home / ".docker", auths_with_basic(oci_registry.host, *login))
    assert config_path() == home / ".docker" / "config.json"
    assert pulled_files(image.pull_code(tmp_path / "out").directory) == FILES


def test_without_any_login_the_error_says_how_to_give_one(image: OciImage, tmp_path: Path) -> None:
    with pytest.raises(PullError, match="docker-registry-credentials block, or log in with docker"):
        image.pull_code(tmp_path / "out")


def test_a_refused_login_names_the_config_file_and_never_the_password(
    docker_config: Path, oci_registry: RegistryServer, image: OciImage, tmp_path: Path
) -> None:
    write_config(
        docker_config, {"auths": {oci_registry.host: {"auth": basic("ciuser", "wrong-secret")}}}
    )
    with pytest.raises(PullError) as caught:
        image.pull_code(tmp_path / "out")
    message = str(caught.value)
    assert f"the credentials from Docker's config file {docker_config}" in message
    assert "wrong-secret" not in message
    assert basic("ciuser", "wrong-secret") not in message


@pytest.fixture
def helper_with_login(
    helper: Helper, oci_registry: RegistryServer, login: tuple[str, str]
) -> Helper:
    """The credential helper, knowing the registry's login."""
    helper.knows(oci_registry.host, *login)
    return helper


def test_a_credential_helper_for_the_registry_gives_the_login_over_stdin(
    docker_config: Path,
    helper_with_login: Helper,
    oci_registry: RegistryServer,
    login: tuple[str, str],
    image: OciImage,
    tmp_path: Path,
) -> None:
    write_config(
        docker_config,
        {
            "auths": {oci_registry.host: {"auth": basic("ciuser", "stale")}},
            "credHelpers": {oci_registry.host: "test"},
        },
    )
    assert pulled_files(image.pull_code(tmp_path / "out").directory) == FILES
    assert helper_with_login.called_with == ["get", oci_registry.host]
    assert login[1] not in helper_with_login.environment.read_text()


@pytest.mark.usefixtures("helper_with_login")
def test_the_creds_store_serves_every_registry(
    docker_config: Path, oci_registry: RegistryServer, image: OciImage, tmp_path: Path
) -> None:
    write_config(docker_config, {"credsStore": "test", "auths": {oci_registry.host: {}}})
    assert pulled_files(image.pull_code(tmp_path / "out").directory) == FILES


def test_a_helper_that_knows_no_login_means_no_login(
    docker_config: Path, helper: Helper, image: OciImage, tmp_path: Path
) -> None:
    write_config(docker_config, {"credsStore": "test"})
    with pytest.raises(PullError, match="it needs credentials"):
        image.pull_code(tmp_path / "out")
    assert helper.called_with[0] == "get"


def test_a_missing_helper_is_named_in_one_line(
    docker_config: Path, image: OciImage, tmp_path: Path
) -> None:
    write_config(docker_config, {"credsStore": "nosuch"})
    with pytest.raises(PullError, match=r"^docker-credential-nosuch is not on PATH \(") as caught:
        image.pull_code(tmp_path / "out")
    assert "\n" not in str(caught.value)


@pytest.mark.usefixtures("oci_registry")
def test_a_credentials_block_wins_and_no_helper_runs(
    docker_config: Path,
    helper: Helper,
    credentials: DockerRegistryCredentials,
    image: OciImage,
    tmp_path: Path,
) -> None:
    write_config(docker_config, {"credsStore": "test"})
    with_block = image.model_copy(update={"credentials": credentials})
    assert pulled_files(with_block.pull_code(tmp_path / "out").directory) == FILES
    assert helper.called_with == []


def test_an_anonymous_pull_never_runs_a_helper(
    docker_config: Path,
    helper: Helper,
    open_registry: RegistryServer,
    tmp_path: Path,
) -> None:
    code = layer(FILES)
    pusher = RawPusher(open_registry.url)
    pusher.image("config/open", "v1", [code], config_for([code], workdir="/app"))
    pusher.close()
    write_config(docker_config, {"credsStore": "test"})
    image = OciImage(image=open_registry.image("config/open", "v1"))
    assert pulled_files(image.pull_code(tmp_path / "out").directory) == FILES
    assert helper.called_with == []


def test_a_malformed_config_file_is_named(
    docker_config: Path, image: OciImage, tmp_path: Path
) -> None:
    (docker_config / "config.json").write_text('{"auths": ')
    with pytest.raises(PullError, match=r"Docker's config file .*config\.json is not valid JSON"):
        image.pull_code(tmp_path / "out")


@dataclass(frozen=True)
class TokenImage:
    """An image on the registry that takes tokens from a realm (``tokens``) only."""

    image: OciImage
    registry: RegistryServer
    tokens: TokenServer

    def pull(self, destination: Path) -> dict[str, bytes]:
        return pulled_files(self.image.pull_code(destination).directory)


@pytest.fixture
def token_image(token_registry: tuple[RegistryServer, TokenServer]) -> TokenImage:
    registry, tokens = token_registry
    code = layer(FILES)
    pusher = RawPusher(registry.url)
    # The token registry takes no Basic auth: push with a token asked for with the password.
    pusher.http.headers["Authorization"] = "Bearer " + tokens.token(
        ["repository:config/token:push,pull"]
    )
    pusher.image("config/token", "v1", [code], config_for([code], workdir="/app"))
    pusher.close()
    return TokenImage(OciImage(image=registry.image("config/token", "v1")), registry, tokens)


def test_an_identity_token_in_auths_is_exchanged_at_the_token_realm(
    docker_config: Path, token_image: TokenImage, tmp_path: Path
) -> None:
    host, refresh_token = token_image.registry.host, token_image.tokens.refresh_token
    login = {"auth": basic("someone", ""), "identitytoken": refresh_token}
    write_config(docker_config, {"auths": {host: login}})
    assert token_image.pull(tmp_path / "out") == FILES


def test_an_identity_token_from_a_helper_is_exchanged_at_the_token_realm(
    docker_config: Path, helper: Helper, token_image: TokenImage, tmp_path: Path
) -> None:
    host = token_image.registry.host
    helper.knows(host, "<token>", token_image.tokens.refresh_token)
    write_config(docker_config, {"credHelpers": {host: "test"}})
    assert token_image.pull(tmp_path / "out") == FILES


def test_a_registry_token_in_auths_is_sent_as_the_bearer_token(
    docker_config: Path, token_image: TokenImage, tmp_path: Path
) -> None:
    tokens = token_image.tokens
    token = tokens.token(["repository:config/token:pull"])
    write_config(docker_config, {"auths": {token_image.registry.host: {"registrytoken": token}}})
    issued = len(tokens.issued)
    assert token_image.pull(tmp_path / "out") == FILES
    assert len(tokens.issued) == issued  # the realm was never asked


def test_a_wrong_identity_token_is_refused_without_being_shown(
    docker_config: Path, token_image: TokenImage, tmp_path: Path
) -> None:
    login = {"identitytoken": "not-the-token-xyz"}
    write_config(docker_config, {"auths": {token_image.registry.host: login}})
    with pytest.raises(PullError, match="credentials from Docker's config file") as caught:
        token_image.pull(tmp_path / "out")
    assert "not-the-token-xyz" not in str(caught.value)


def test_docker_hub_logins_are_filed_under_the_index_server(docker_config: Path) -> None:
    write_config(
        docker_config, {"auths": {"https://index.docker.io/v1/": {"auth": basic("me", "pw")}}}
    )
    login = login_for("registry-1.docker.io")
    assert login is not None
    assert (login.username, login.password) == ("me", "pw")
    assert "pw" not in repr(login)
    assert login_for("ghcr.io") is None


def test_a_login_keeps_its_secrets_out_of_repr() -> None:
    login = RegistryLogin("me", "p4ss", identity_token="t0ken", registry_token="r3g")
    assert not {"p4ss", "t0ken", "r3g"} & set(repr(login).replace("'", " ").split())
