"""``codeferry plugins ls``."""

from __future__ import annotations

import json

from tests.cli.conftest import Cli


def test_plugins_ls_json_lists_local_with_its_steps_block_types_and_sources(cli: Cli) -> None:
    result = cli("plugins", "ls", "--json")
    assert result.exit_code == 0
    described = {plugin["name"]: plugin for plugin in json.loads(result.stdout)}
    assert set(described) == {"codeferry", "remote", "local"}
    assert described["remote"]["steps"] == ["pull_from_remote_storage", "push_to_remote_storage"]
    local = described["local"]
    assert local["status"] == "ok"
    assert local["errors"] == []
    assert local["block_types"] == ["local-directory"]
    assert local["steps"] == ["set_working_directory", "pull_from_directory"]
    assert [kind["name"] for kind in local["source_kinds"]] == ["local"]


def test_plugins_ls_text_names_each_plugin_and_what_it_provides(cli: Cli) -> None:
    result = cli("plugins", "ls")
    assert result.exit_code == 0
    assert "local  local" in result.stdout
    assert "block types: local-directory" in result.stdout
    assert "steps:       set_working_directory, pull_from_directory" in result.stdout


def test_a_broken_plugin_is_listed_with_its_error(cli: Cli) -> None:
    from codeferry.plugins import Plugins, set_plugins

    set_plugins(Plugins({"broken": "codeferry_no_such_module"}, entry_points=False))
    result = cli("plugins", "ls", "--json")
    assert result.exit_code == 0
    broken = next(p for p in json.loads(result.stdout) if p["name"] == "broken")
    assert broken["status"] == "failed to load"
    assert "ModuleNotFoundError" in broken["errors"][0]
    assert "ModuleNotFoundError" in cli("plugins", "ls").stdout
