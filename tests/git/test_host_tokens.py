"""Tokens go on the wire the way each git host expects them, whatever shape Prefect gives them in.

The smart-HTTP test server accepts only the exact user and password named in each case. It stands
for a host by being listed in that host's ``CODEFERRY_<HOST>_HOSTS`` (as a self-managed one is),
and the clone runs through the ``git_clone`` step with the credentials Prefect's files pass:
``access_token``, a resolved credentials block as a mapping, or a block.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from codeferry.blocks import Block
from codeferry.plugins import Plugins
from codeferry_bitbucket.credentials import BitBucketCredentials
from codeferry_github.credentials import GitHubCredentials
from codeferry_gitlab.credentials import GitLabCredentials
from tests.git.conftest import Served
from tests.servers.nginx_git import programs, running_nginx_git


def clone(registry: Plugins, url: str, **arguments: Any) -> dict[str, Any]:
    step = registry.step("prefect.deployments.steps.git_clone").function
    return dict(step(repository=url, **arguments) or {})


T = "{t}"  # where each case's token goes in the strings below


@dataclass(frozen=True)
class Made:
    """A credentials block of ``block_type`` with ``fields``, made when the case runs."""

    block_type: type[Block]
    fields: dict[str, str]


# Case name: the host plugin whose rules apply (its hosts variable lists the test server; None for
# none), git_clone's arguments, and the only user and password the server accepts.
CASES: dict[str, tuple[str | None, dict[str, Any], tuple[str, str]]] = {
    "bitbucket access_token": ("bitbucket", {"access_token": "{t}"}, ("x-token-auth", "{t}")),
    "bitbucket prefixed access_token": (
        "bitbucket",
        {"access_token": "x-token-auth:{t}"},
        ("x-token-auth", "{t}"),
    ),
    "bitbucket block as Prefect resolves it": (
        "bitbucket",
        {"credentials": {"token": "{t}", "username": None, "password": None, "url": None}},
        ("x-token-auth", "{t}"),
    ),
    "bitbucket app password": (
        "bitbucket",
        {"credentials": {"username": "ann", "password": "{t}"}},
        ("ann", "{t}"),
    ),
    "bitbucket block password": (
        None,
        {"credentials": Made(BitBucketCredentials, {"username": "ann", "password": "{t}"})},
        ("ann", "{t}"),
    ),
    "bitbucket block prefixed token": (
        None,
        {"credentials": Made(BitBucketCredentials, {"token": "x-token-auth:{t}"})},
        ("x-token-auth", "{t}"),
    ),
    "gitlab access_token": ("gitlab", {"access_token": "{t}"}, ("oauth2", "{t}")),
    "gitlab prefixed access_token": ("gitlab", {"access_token": "oauth2:{t}"}, ("oauth2", "{t}")),
    "gitlab deploy token pair": (
        "gitlab",
        {"credentials": {"token": "gitlab+deploy-token-7:{t}"}},
        ("gitlab+deploy-token-7", "{t}"),
    ),
    "gitlab block prefixed token, any host": (
        None,
        {"credentials": Made(GitLabCredentials, {"token": "oauth2:{t}"})},
        ("oauth2", "{t}"),
    ),
    "gitlab block deploy token pair": (
        None,
        {"credentials": Made(GitLabCredentials, {"token": "deploy-user:{t}"})},
        ("deploy-user", "{t}"),
    ),
    "gitlab user repeated in token": (
        "gitlab",
        {"credentials": {"username": "oauth2", "access_token": "oauth2:{t}"}},
        ("oauth2", "{t}"),
    ),
    "github access_token": ("github", {"access_token": "{t}"}, ("x-access-token", "{t}")),
    "github user and token": (
        "github",
        {"credentials": {"username": "oauth2", "access_token": "{t}"}},
        ("oauth2", "{t}"),
    ),
    "github block": (
        None,
        {"credentials": Made(GitHubCredentials, {"token": "{t}"})},
        ("x-access-token", "{t}"),
    ),
    "no host plugin's host": (None, {"access_token": "{t}"}, ("x-access-token", "{t}")),
    "special characters": (
        None,
        {"credentials": {"username": "user@domain.com", "password": "p@ss!#{t}"}},
        ("user@domain.com", "p@ss!#{t}"),
    ),
    "bitbucket server pair": (
        "bitbucket",
        {"credentials": {"token": "user@corp.com:tok!#{t}"}},
        ("user@corp.com", "tok!#{t}"),
    ),
    "github token with URL characters": (
        "github",
        {"access_token": "ghp_{t}/a+b=c"},
        ("x-access-token", "ghp_{t}/a+b=c"),
    ),
}


def fill(value: Any, token: str) -> Any:
    """``value`` with the token put where ``{t}`` stands, blocks made."""
    if isinstance(value, str):
        return value.replace(T, token)
    if isinstance(value, Made):
        return value.block_type.model_validate(fill(value.fields, token))
    if isinstance(value, dict):
        return {key: fill(item, token) for key, item in value.items()}
    return value


@pytest.mark.parametrize("case", sorted(CASES))
def test_git_clone_sends_each_hosts_token_as_that_host_expects(
    case: str, served: Served, hosts: Plugins, monkeypatch: pytest.MonkeyPatch
) -> None:
    host, arguments, expected = CASES[case]
    if host is not None:
        monkeypatch.setenv(f"CODEFERRY_{host.upper()}_HOSTS", "127.0.0.1")
    token = secrets.token_hex(10)
    served.server.allow(*(fill(part, token) for part in expected))
    outputs = clone(hosts, served.url("app.git"), **fill(arguments, token))
    assert outputs["commit_sha"] == served.commits["app"][-1]


@pytest.mark.parametrize(
    ("host", "user", "given"),
    [
        ("bitbucket", "x-token-auth", lambda t: t),
        ("gitlab", "oauth2", lambda t: f"oauth2:{t}"),
    ],
)
def test_behind_nginx_a_host_token_is_sent_with_the_one_user_the_server_knows(
    host: str,
    user: str,
    given: Callable[[str], str],
    served: Served,
    hosts: Plugins,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    found = programs()
    if isinstance(found, str):
        from tests.servers import missing

        missing("nginx + fcgiwrap", found)
    monkeypatch.setenv(f"CODEFERRY_{host.upper()}_HOSTS", "127.0.0.1")
    token = secrets.token_hex(10)
    with running_nginx_git(served.server.root, user, token) as nginx:
        outputs = clone(hosts, nginx.url("app.git"), access_token=given(token))
    assert outputs["commit_sha"] == served.commits["app"][-1]
