"""A registry that repeats the credentials it was sent cannot make an error show them."""

from __future__ import annotations

import base64
import json
import secrets

import pytest

from codeferry_docker.credentials import DockerRegistryCredentials
from codeferry_docker.registry import RegistryClient, RegistryError
from tests.servers.echo_auth import Answer, EchoAuthServer


def test_a_repeated_basic_header_is_masked_in_the_error(echo_auth_server: EchoAuthServer) -> None:
    password = f"pw-{secrets.token_urlsafe(18)}"
    credentials = DockerRegistryCredentials(username="robot", password=password)
    with (
        RegistryClient(echo_auth_server.host, credentials=credentials, loopback=True) as client,
        pytest.raises(
            RegistryError, match=r"answered HTTP 400 .*\(DENIED: bad header Basic "
        ) as caught,
    ):
        client.get_manifest("team/app", "1")
    basic = base64.b64encode(f"robot:{password}".encode()).decode()
    assert f"Basic {basic}" in echo_auth_server.headers
    assert basic not in str(caught.value)
    assert password not in str(caught.value)


def test_a_token_from_the_realm_is_masked_when_repeated(echo_auth_server: EchoAuthServer) -> None:
    token = f"realm-token-{secrets.token_urlsafe(18)}"

    def bearer_then_repeat(path: str, authorization: str) -> Answer:
        if path.startswith("/token"):
            return 200, {"Content-Type": "application/json"}, json.dumps({"token": token}).encode()
        if not authorization:
            realm = echo_auth_server.url("token")
            challenge = f'Bearer realm="{realm}",service="echo",scope="repository:team/app:pull"'
            return 401, {"WWW-Authenticate": challenge}, b""
        body = json.dumps({"errors": [{"code": "DENIED", "message": f"bad {authorization}"}]})
        return 400, {"Content-Type": "application/json"}, body.encode()

    echo_auth_server.answer = bearer_then_repeat
    with (
        RegistryClient(echo_auth_server.host, loopback=True) as client,
        pytest.raises(RegistryError, match="DENIED: bad Bearer") as caught,
    ):
        client.get_manifest("team/app", "1")
    assert f"Bearer {token}" in echo_auth_server.headers
    assert token not in str(caught.value)
