"""``codeferry block register``, ``block type ls`` and ``block type inspect``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Cli


def test_register_reports_new_then_unchanged_then_updated(cli: Cli, block_module: Path) -> None:
    first = cli("block", "register", "-f", str(block_module), "--json")
    assert first.exit_code == 0, first.output
    assert {(e["slug"], e["status"]) for e in json.loads(first.stdout)} == {
        ("api-credentials", "new"),
        ("api-service", "new"),
    }
    again = cli("block", "register", "-f", str(block_module))
    assert again.exit_code == 0
    assert "unchanged: api-service" in again.stdout
    block_module.write_text(block_module.read_text().replace("port: int = 443", "port: int = 80"))
    changed = cli("block", "register", "-f", str(block_module))
    assert "updated the schema of api-service" in changed.stdout
    assert "unchanged: api-credentials" in changed.stdout


@pytest.mark.usefixtures("clean_imports")
def test_register_by_module_name(cli: Cli, block_module: Path) -> None:
    import sys

    sys.path.insert(0, str(block_module.parent))
    result = cli("block", "register", "-m", "api_blocks")
    assert result.exit_code == 0, result.output
    assert "registered api-service" in result.stdout


def test_register_needs_a_module_or_a_file(cli: Cli) -> None:
    result = cli("block", "register")
    assert result.exit_code == 2


def test_register_of_a_file_that_fails_to_import_is_one_line_error(
    cli: Cli, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('nope')\n")
    result = cli("block", "register", "-f", str(broken))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot import")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


@pytest.mark.usefixtures("registered")
def test_type_ls_lists_installed_and_registered_types(cli: Cli) -> None:
    result = cli("block", "type", "ls", "--json")
    assert result.exit_code == 0
    listed = {row["slug"]: row for row in json.loads(result.stdout)}
    assert listed["local-directory"]["source"] == "local"  # the fixture names it so
    assert listed["secret"]["secret_fields"] == ["value"]
    assert listed["api-service"]["secret_fields"] == ["credentials.token"]
    assert listed["api-service"]["description"] == "An API endpoint."
    text = cli("block", "type", "ls").stdout
    assert text.splitlines()[0].split() == ["SLUG", "NAME", "FROM", "DESCRIPTION"]
    assert "local-directory" in text


def test_type_ls_without_a_store_lists_plugin_types_and_creates_no_database(
    cli: Cli, codeferry_home: Path
) -> None:
    result = cli("block", "type", "ls", "--json")
    assert result.exit_code == 0
    assert "local-directory" in {row["slug"] for row in json.loads(result.stdout)}
    assert not (codeferry_home / "codeferry.db").exists()


@pytest.mark.usefixtures("registered")
def test_type_inspect_shows_fields_secrets_defaults_and_descriptions(cli: Cli) -> None:
    result = cli("block", "type", "inspect", "api-service")
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[3:]}
    assert "required" in rows["url"]
    assert "default: 443" in rows["port"]
    assert "secret" in rows["credentials.token"]
    assert "The API token." in rows["credentials.token"]
    assert "secret" not in rows["credentials.username"]


@pytest.mark.usefixtures("plugins")
def test_type_inspect_json_is_the_schema(cli: Cli) -> None:
    result = cli("block", "type", "inspect", "secret", "--json")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["block_type_slug"] == "secret"
    assert schema["secret_fields"] == ["value"]
    assert "value" in schema["properties"]


def test_unknown_block_type_names_the_distribution_to_install(cli: Cli) -> None:
    result = cli("block", "type", "inspect", "s3-bucket")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: no block type 's3-bucket' is known; install it with: pip install codeferry-s3"
    )
    assert result.stdout == ""


IN_TREE = {
    name: f"codeferry_{name}.plugin"
    for name in ("local", "git", "github", "gitlab", "bitbucket", "s3", "azure", "gcs", "docker")
}


def test_type_ls_spells_display_names_as_people_do(cli: Cli) -> None:
    from codeferry.plugins import Plugins, set_plugins

    previous = set_plugins(Plugins(IN_TREE, entry_points=False))
    try:
        result = cli("block", "type", "ls")
    finally:
        set_plugins(previous)
    assert result.exit_code == 0, result.output
    names = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    for slug, name in {
        "github-credentials": "GitHub Credentials",
        "github-app-credentials": "GitHub App Credentials",
        "gitlab-credentials": "GitLab Credentials",
        "bitbucket-credentials": "Bitbucket Credentials",
        "ssh-key": "SSH Key",
        "aws-credentials": "AWS Credentials",
        "gcp-credentials": "GCP Credentials",
        "oci-image": "OCI Image",
        "json": "JSON",
        "local-directory": "Local Directory",
    }.items():
        assert f"{slug}  " in names[slug], names[slug]
        assert f"  {name}  " in names[slug], names[slug]


def test_every_block_type_codeferry_ships_names_itself() -> None:
    """The default display name is a guess from the class name: shipped types never rely on it."""
    from codeferry.plugins import Plugins

    registry = Plugins(IN_TREE, entry_points=False)
    unnamed = [
        f"{entry.block_type.__module__}.{entry.block_type.__qualname__}"
        for entry in registry.block_types.values()
        if "block_type_name" not in vars(entry.block_type)
    ]
    assert unnamed == []
    assert len(registry.block_types) >= 20
