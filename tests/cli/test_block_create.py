"""``codeferry block create``: values from --set and --json, secrets never from arguments."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import Result

from codeferry.blocks import load_block
from codeferry.store import get_store
from tests.cli.conftest import Cli

TOKEN = "tok-3f9a1c7e55"  # a value that would be noticed anywhere it leaked
PUBLIC = ("url=https://api.example", "credentials.username=bob")


def create(
    cli: Cli,
    *values: str,
    block: str = "api-service/prod",
    options: tuple[str, ...] = (),
    input: str | None = None,
) -> Result:
    """``codeferry block create SLUG NAME --set VALUE ... OPTIONS``."""
    slug, name = block.split("/")
    sets = [word for value in values for word in ("--set", value)]
    return cli("block", "create", slug, name, *sets, *options, input=input)


def saved_names() -> list[str]:
    return [document.name for document in get_store().list_documents()]


@pytest.mark.usefixtures("registered")
def test_create_reads_a_secret_from_an_environment_variable(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TOKEN", TOKEN)
    result = create(cli, *PUBLIC, "credentials.token=@env:API_TOKEN")
    assert result.exit_code == 0, result.output
    block = load_block("api-service/prod")
    assert block.credentials.token.get_secret_value() == TOKEN  # type: ignore[attr-defined]
    assert TOKEN not in result.output


@pytest.mark.usefixtures("registered")
def test_create_reads_a_secret_from_a_file_without_its_line_ending(
    cli: Cli, tmp_path: Path
) -> None:
    secret_file = tmp_path / "token"
    secret_file.write_text(TOKEN + "\n")
    result = create(cli, *PUBLIC, f"credentials.token=@file:{secret_file}")
    assert result.exit_code == 0, result.output
    block = load_block("api-service/prod")
    assert block.credentials.token.get_secret_value() == TOKEN  # type: ignore[attr-defined]


@pytest.mark.usefixtures("plugins")
def test_a_multi_line_secret_file_is_kept_exactly(cli: Cli, tmp_path: Path) -> None:
    key = "-----BEGIN KEY-----\nabc\n-----END KEY-----\n"
    (tmp_path / "key").write_text(key)
    result = cli("block", "create", "secret", "key", "--set", f"value=@file:{tmp_path / 'key'}")
    assert result.exit_code == 0, result.output
    assert load_block("secret/key").get() == key  # type: ignore[attr-defined]


@pytest.mark.usefixtures("registered")
def test_a_literal_secret_on_the_command_line_is_refused_and_nothing_is_saved(cli: Cli) -> None:
    result = create(cli, *PUBLIC, f"credentials.token={TOKEN}")
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "@env:" in result.stderr
    assert "@file:" in result.stderr
    assert TOKEN not in result.output
    assert saved_names() == []


@pytest.mark.usefixtures("registered")
def test_a_secret_inside_a_json_value_on_the_command_line_is_refused(cli: Cli) -> None:
    credentials = json.dumps({"username": "bob", "token": TOKEN})
    result = create(cli, "url=https://a", f"credentials={credentials}")
    assert result.exit_code == 1
    assert "secret values are not taken from the command line" in result.stderr
    assert TOKEN not in result.output
    assert saved_names() == []


@pytest.mark.usefixtures("registered", "terminal")
def test_a_missing_secret_is_asked_for_on_a_terminal_without_echo(cli: Cli) -> None:
    result = create(cli, *PUBLIC, input=TOKEN + "\n")
    assert result.exit_code == 0, result.output
    assert "credentials.token" in result.output
    assert TOKEN not in result.output
    block = load_block("api-service/prod")
    assert block.credentials.token.get_secret_value() == TOKEN  # type: ignore[attr-defined]


@pytest.mark.usefixtures("registered")
def test_a_missing_secret_without_a_terminal_is_an_error_saying_how_to_give_it(cli: Cli) -> None:
    result = create(cli, *PUBLIC)
    assert result.exit_code == 1
    assert "credentials.token=@env:VARIABLE" in result.stderr
    assert saved_names() == []


@pytest.mark.usefixtures("registered")
def test_field_values_can_come_from_a_json_file_with_set_on_top(cli: Cli, tmp_path: Path) -> None:
    document = tmp_path / "values.json"
    document.write_text(
        json.dumps(
            {
                "url": "https://old",
                "port": 8443,
                "tags": ["a"],
                "credentials": {"username": "bob", "token": TOKEN},
            }
        )
    )
    result = create(cli, "url=https://new", 'tags=["x", "y"]', options=("--json", str(document)))
    assert result.exit_code == 0, result.output
    block = load_block("api-service/prod")
    assert block.model_dump(exclude={"credentials"}) == {
        "url": "https://new",
        "port": 8443,
        "tags": ["x", "y"],
    }
    assert block.credentials.token.get_secret_value() == TOKEN  # type: ignore[attr-defined]


@pytest.mark.usefixtures("plugins")
def test_field_values_can_come_from_standard_input(cli: Cli) -> None:
    document = json.dumps({"value": {"key": TOKEN}})
    result = create(cli, block="secret/s", options=("--json", "-"), input=document)
    assert result.exit_code == 0, result.output
    assert load_block("secret/s").get() == {"key": TOKEN}  # type: ignore[attr-defined]


@pytest.mark.usefixtures("registered")
def test_text_values_are_converted_to_the_field_type(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TOKEN", TOKEN)
    result = create(cli, *PUBLIC, "port=8080", "credentials.token=@env:API_TOKEN")
    assert result.exit_code == 0, result.output
    assert load_block("api-service/prod").port == 8080  # type: ignore[attr-defined]


@pytest.mark.usefixtures("registered")
def test_a_value_that_does_not_fit_names_the_field_and_saves_nothing(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("API_TOKEN", TOKEN)
    result = create(cli, *PUBLIC, "port=eighty", "credentials.token=@env:API_TOKEN", "colour=red")
    assert result.exit_code == 1
    assert "field 'port'" in result.stderr
    assert "field 'colour'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert saved_names() == []


@pytest.mark.usefixtures("registered")
@pytest.mark.parametrize("assignment", ["url", "=x", "a..b=1", "credentials.=x"])
def test_a_malformed_set_exits_with_status_1_and_a_one_line_error(
    cli: Cli, assignment: str
) -> None:
    result = cli("block", "create", "api-service", "prod", "--set", assignment)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: --set")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.usefixtures("registered")
def test_an_unset_environment_variable_is_named(cli: Cli) -> None:
    result = create(cli, *PUBLIC, "credentials.token=@env:CODEFERRY_TEST_UNSET_VARIABLE")
    assert result.exit_code == 1
    assert "CODEFERRY_TEST_UNSET_VARIABLE is not set" in result.stderr
    assert saved_names() == []


@pytest.mark.usefixtures("plugins")
def test_an_existing_block_is_replaced_only_with_overwrite(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("V1", "first-value")
    monkeypatch.setenv("V2", "second-value")
    assert cli("block", "create", "secret", "s", "--set", "value=@env:V1").exit_code == 0
    refused = cli("block", "create", "secret", "s", "--set", "value=@env:V2")
    assert refused.exit_code == 1
    assert load_block("secret/s").get() == "first-value"  # type: ignore[attr-defined]
    replaced = cli("block", "create", "secret", "s", "--set", "value=@env:V2", "--overwrite")
    assert replaced.exit_code == 0
    assert load_block("secret/s").get() == "second-value"  # type: ignore[attr-defined]


@pytest.mark.usefixtures("registered")
def test_a_nested_block_can_be_a_saved_block(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", TOKEN)
    made = create(cli, "username=bob", "token=@env:API_TOKEN", block="api-credentials/bob")
    assert made.exit_code == 0, made.output
    result = create(cli, "url=https://a", "credentials=@block:api-credentials/bob")
    assert result.exit_code == 0, result.output
    document = get_store().get_document("api-service", "prod")
    assert document.data["credentials"] == {"$ref": {"slug": "api-credentials", "name": "bob"}}


def test_unknown_block_type_names_the_distribution_to_install(cli: Cli) -> None:
    result = cli("block", "create", "s3-bucket", "b", "--set", "bucket=x")
    assert result.exit_code == 1
    assert "pip install codeferry-s3" in result.stderr


def test_a_validator_that_quotes_the_secret_has_it_masked_in_the_error(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "strict_blocks.py"
    module.write_text(
        "from pydantic import SecretStr, field_validator\n"
        "from codeferry.blocks import Block\n\n\n"
        "class StrictToken(Block):\n"
        "    token: SecretStr\n\n"
        "    @field_validator('token')\n"
        "    @classmethod\n"
        "    def check(cls, value: SecretStr) -> SecretStr:\n"
        "        raise ValueError(f'{value.get_secret_value()} is not a valid token')\n"
    )
    assert cli("block", "register", "-f", str(module)).exit_code == 0
    monkeypatch.setenv("STRICT_TOKEN", TOKEN)
    result = create(cli, "token=@env:STRICT_TOKEN", block="strict-token/t")
    assert result.exit_code == 1
    assert "field 'token'" in result.stderr
    assert "******** is not a valid token" in result.stderr
    assert TOKEN not in result.output


KEYS_MODULE = """
from pydantic import SecretStr

from codeferry.blocks import Block


class ServiceKeys(Block):
    tokens: list[SecretStr]
    by_host: dict[str, SecretStr] = {}
"""


@pytest.fixture
def service_keys(cli: Cli, tmp_path: Path) -> None:
    module = tmp_path / "service_keys.py"
    module.write_text(KEYS_MODULE)
    assert cli("block", "register", "-f", str(module)).exit_code == 0


@pytest.mark.usefixtures("service_keys")
def test_a_list_and_a_dict_of_secrets_are_read_as_json_from_a_file_and_never_shown(
    cli: Cli, tmp_path: Path
) -> None:
    tokens, hosts = tmp_path / "tokens.json", tmp_path / "hosts.json"
    tokens.write_text(json.dumps([TOKEN, "tok-second-88"]))
    hosts.write_text(json.dumps({"github.com": "tok-host-99"}))
    result = create(
        cli, f"tokens=@file:{tokens}", f"by_host=@file:{hosts}", block="service-keys/ci"
    )
    assert result.exit_code == 0, result.output
    block = load_block("service-keys/ci")
    assert [t.get_secret_value() for t in block.tokens] == [TOKEN, "tok-second-88"]  # type: ignore[attr-defined]
    shown = cli("block", "inspect", "service-keys/ci")
    shown_json = cli("block", "inspect", "service-keys/ci", "--json")
    for text in (result.output, shown.output, shown_json.output):
        for secret in (TOKEN, "tok-second-88", "tok-host-99"):
            assert secret not in text
    revealed = json.loads(
        cli("block", "inspect", "service-keys/ci", "--show-secrets", "--json").stdout
    )
    assert revealed["data"] == {
        "tokens": [TOKEN, "tok-second-88"],
        "by_host": {"github.com": "tok-host-99"},
    }


@pytest.mark.usefixtures("service_keys")
def test_a_list_of_secrets_on_the_command_line_is_refused(cli: Cli) -> None:
    result = create(cli, f'tokens=["{TOKEN}"]', block="service-keys/ci")
    assert result.exit_code == 1
    assert "secret values are not taken from the command line" in result.stderr
    assert TOKEN not in result.output
    assert saved_names() == []


@pytest.mark.usefixtures("service_keys")
def test_a_list_of_secrets_that_is_not_json_names_the_field_not_the_value(
    cli: Cli, tmp_path: Path
) -> None:
    tokens = tmp_path / "tokens.txt"
    tokens.write_text(TOKEN)
    result = create(cli, f"tokens=@file:{tokens}", block="service-keys/ci")
    assert result.exit_code == 1
    assert (
        "--set tokens: the field holds a list or dict of secrets; give it as JSON" in result.stderr
    )
    assert TOKEN not in result.output
