"""A failing Azure step never shows its connection string or the key inside it (Azurite)."""

from __future__ import annotations

import base64
import urllib.parse
from pathlib import Path

import pytest

from codeferry.deployments import Step
from codeferry.errors import StepError
from codeferry.steps.engine import run_steps
from tests.azure.conftest import Blobs
from tests.servers.azurite import AzuriteServer

WRONG_KEY = base64.b64encode(b"not the account's key, but as long as one" * 2).decode()


def forms(secret: str) -> list[str]:
    return [secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret)]


@pytest.mark.usefixtures("azure_plugins")
@pytest.mark.parametrize(
    ("case", "cause"),
    [
        ("missing container", "holds no files"),
        ("wrong key", "cannot list"),
        ("connection string and account URL", "either connection_string or account_url"),
    ],
)
def test_a_failing_step_shows_the_cause_but_not_the_connection_string(
    blobs: Blobs,
    azurite_server: AzuriteServer,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    case: str,
    cause: str,
) -> None:
    blobs.replace("code", {"flow.py": b"x = 1\n"})
    key = WRONG_KEY if case == "wrong key" else azurite_server.key
    connection_string = azurite_server.connection_string(key=key)
    # Not a secret-looking name: the argument it fills in, connection_string, is what says so.
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection_string)
    credentials = {"connection_string": "{{ $AZURE_STORAGE_CONNECTION_STRING }}"}
    if case == "connection string and account URL":
        credentials["account_url"] = azurite_server.account_url
    arguments = {
        "container": "missing" if case == "missing container" else blobs.container,
        "folder": "code",
        "credentials": credentials,
        "destination": str(tmp_path / "checkout"),
    }
    with pytest.raises(StepError, match=cause) as caught:
        run_steps((Step("pull_from_azure_blob_storage", arguments),))
    shown = str(caught.value)
    for secret in (connection_string, key):
        for form in forms(secret):
            assert form not in shown
    assert "\n" not in shown
