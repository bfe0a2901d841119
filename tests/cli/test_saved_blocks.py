"""``codeferry block ls``, ``block inspect`` and ``block delete``; secrets stay secret."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from codeferry.store import get_store
from tests.cli.conftest import Cli

TOKEN = "tok-8d2b6e41aa"


@pytest.fixture
def saved(cli: Cli, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    request.getfixturevalue("registered")
    monkeypatch.setenv("API_TOKEN", TOKEN)
    result = cli(
        "block",
        "create",
        "api-service",
        "prod",
        "--set",
        "url=https://api.example",
        "--set",
        "credentials.username=bob",
        "--set",
        "credentials.token=@env:API_TOKEN",
    )
    assert result.exit_code == 0, result.output
    return "api-service/prod"


@pytest.mark.usefixtures("saved")
def test_ls_lists_saved_blocks(cli: Cli) -> None:
    listed = json.loads(cli("block", "ls", "--json").stdout)
    assert [(row["block_type_slug"], row["name"]) for row in listed] == [("api-service", "prod")]
    assert cli("block", "ls", "--type", "secret", "--json").stdout.strip() == "[]"
    text = cli("block", "ls").stdout.splitlines()
    assert text[0].split() == ["TYPE", "NAME", "UPDATED"]
    assert text[1].split()[:2] == ["api-service", "prod"]


def test_ls_with_nothing_saved_prints_nothing_on_standard_output(cli: Cli) -> None:
    result = cli("block", "ls")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "no blocks saved" in result.stderr


def test_inspect_masks_secrets(cli: Cli, saved: str) -> None:
    text = cli("block", "inspect", saved)
    assert text.exit_code == 0
    assert "credentials.token     ********" in text.stdout
    assert "credentials.username  bob" in text.stdout
    data = json.loads(cli("block", "inspect", saved, "--json").stdout)["data"]
    assert data["credentials"] == {"username": "bob", "token": "********"}
    assert data["port"] == 443


def test_inspect_show_secrets_reveals_them(cli: Cli, saved: str) -> None:
    data = json.loads(cli("block", "inspect", saved, "--json", "--show-secrets").stdout)["data"]
    assert data["credentials"]["token"] == TOKEN
    assert TOKEN in cli("block", "inspect", saved, "--show-secrets").stdout


def test_no_command_shows_the_secret_and_the_database_holds_it_encrypted(
    cli: Cli, saved: str, codeferry_home: Path
) -> None:
    outputs = [
        cli(*args).output
        for args in (
            ("block", "ls"),
            ("block", "ls", "--json"),
            ("block", "inspect", saved),
            ("block", "inspect", saved, "--json"),
            ("block", "type", "inspect", "api-service", "--json"),
        )
    ]
    assert not [output for output in outputs if TOKEN in output]
    get_store().close()
    database_files = list(codeferry_home.glob("codeferry.db*"))
    assert database_files
    for path in database_files:
        assert TOKEN.encode() not in path.read_bytes()


@pytest.mark.usefixtures("plugins")
def test_inspect_of_a_missing_block_is_one_line_error(cli: Cli) -> None:
    result = cli("block", "inspect", "secret/none")
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: no block secret/none is saved"


@pytest.mark.usefixtures("plugins")
def test_inspect_needs_slug_slash_name(cli: Cli) -> None:
    result = cli("block", "inspect", "just-a-name")
    assert result.exit_code == 1
    assert "SLUG/NAME" in result.stderr


def test_inspect_of_a_block_whose_type_is_gone_shows_it_as_saved(
    cli: Cli, saved: str, registered: Path
) -> None:
    registered.unlink()  # the registered type no longer imports
    for module in [name for name in sys.modules if name.startswith("codeferry_registered_")]:
        del sys.modules[module]
    result = cli("block", "inspect", saved, "--json")
    assert result.exit_code == 0, result.output
    assert "showing the block as it was saved" in result.stderr
    data = json.loads(result.stdout)["data"]
    assert data["credentials"] == {"username": "bob", "token": "********"}


def test_delete_with_yes_deletes(cli: Cli, saved: str) -> None:
    result = cli("block", "delete", saved, "--yes")
    assert result.exit_code == 0
    assert get_store().list_documents() == []


def test_delete_without_yes_and_without_a_terminal_refuses(cli: Cli, saved: str) -> None:
    result = cli("block", "delete", saved)
    assert result.exit_code == 1
    assert "--yes" in result.stderr
    assert len(get_store().list_documents()) == 1


@pytest.mark.usefixtures("terminal")
def test_delete_on_a_terminal_asks_and_keeps_the_block_when_declined(cli: Cli, saved: str) -> None:
    declined = cli("block", "delete", saved, input="n\n")
    assert declined.exit_code == 1
    assert len(get_store().list_documents()) == 1
    accepted = cli("block", "delete", saved, input="y\n")
    assert accepted.exit_code == 0
    assert get_store().list_documents() == []


@pytest.mark.usefixtures("plugins")
def test_delete_of_a_missing_block_is_an_error(cli: Cli) -> None:
    result = cli("block", "delete", "secret/none", "--yes")
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: no block secret/none is saved"
