"""Install hints stay true: the table of known names matches what the plugins/ register.

Each plugin is loaded alone (with core) from the entry point its ``pyproject.toml`` declares, so
what it registers is attributed to it and nothing installed elsewhere on the machine counts. The
table is the source of truth for hints; these tests are the source of truth for the table: a hint
may name a distribution only for what that distribution provides, and every name an in-tree plugin
provides has its hint (so a missing plugin is always named).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from codeferry import known_plugins
from codeferry.plugins import Plugins
from codeferry.remote.url_folder import UrlFolder
from codeferry.storage import CodeStorage

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class InTree:
    """A plugin distribution under plugins/ and what it registers when loaded alone."""

    distribution: str
    name: str
    steps: frozenset[str]
    block_types: frozenset[str]
    plugins: Plugins

    def claims(self, source: str) -> bool:
        try:
            storage = self.plugins.storage_from_source(source)
        except Exception:  # refused as malformed, or claimed by nobody: not claimed
            return False
        # core only answers block: and fsspec URLs it has no hint for, so this plugin claimed it;
        # a plain URL folder is core's class for a plugin's store, whose module says whose it is
        owner = storage.store if isinstance(storage, UrlFolder) else type(storage)
        return isinstance(storage, CodeStorage) and not owner.__module__.startswith("codeferry.")


@cache
def in_tree() -> dict[str, InTree]:
    found = {}
    for pyproject in sorted((ROOT / "plugins").glob("*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        for name, module in project.get("entry-points", {}).get("codeferry", {}).items():
            registry = Plugins({name: module}, entry_points=False)
            assert registry.plugins[name].status == "ok", registry.plugins[name].errors
            found[project["name"]] = InTree(
                project["name"],
                name,
                frozenset(n for n, info in registry.steps.items() if info.plugin == name),
                frozenset(s for s, info in registry.block_types.items() if info.plugin == name),
                registry,
            )
    return found


def test_the_plugins_under_plugins_are_found() -> None:
    assert set(in_tree()) == {
        "codeferry-azure",
        "codeferry-bitbucket",
        "codeferry-docker",
        "codeferry-gcs",
        "codeferry-git",
        "codeferry-github",
        "codeferry-gitlab",
        "codeferry-local",
        "codeferry-s3",
    }


# What the table hints for each kind of name, how a hint is asked for, and the table to edit.
_KINDS = {
    "steps": (known_plugins._BY_STEP, known_plugins.distribution_for_step, "_STEPS"),
    "block_types": (
        known_plugins._BY_BLOCK_TYPE,
        known_plugins.distribution_for_block_type,
        "_BLOCK_TYPES",
    ),
}


def registered(plugin: InTree, kind: str) -> frozenset[str]:
    return plugin.steps if kind == "steps" else plugin.block_types


@pytest.mark.parametrize("kind", sorted(_KINDS))
def test_every_name_the_table_hints_is_registered_by_that_distribution(kind: str) -> None:
    table, _, _ = _KINDS[kind]
    untrue = sorted(
        f"{name} -> {dist}"
        for name, dist in table.items()
        if dist not in in_tree() or name not in registered(in_tree()[dist], kind)
    )
    assert untrue == [], f"the table names {kind} these distributions do not register"


@pytest.mark.parametrize("kind", sorted(_KINDS))
def test_every_name_a_plugin_registers_has_its_hint(kind: str) -> None:
    _, hint, edit = _KINDS[kind]
    missing = sorted(
        f"{name} -> {plugin.distribution}"
        for plugin in in_tree().values()
        for name in registered(plugin, kind)
        if hint(name) != plugin.distribution
    )
    assert missing == [], f"add these to {edit} in codeferry/known_plugins.py"


_SCHEME_EXAMPLES = {
    "git": "git://example.com/org/repo.git",
    "ssh": "ssh://git@example.com/org/repo.git",
    "abfss": "abfss://container@account.dfs.core.windows.net/folder",
}


@pytest.mark.parametrize("scheme", sorted(known_plugins._SCHEMES))
def test_every_scheme_the_table_hints_is_claimed_by_that_distribution(scheme: str) -> None:
    source = _SCHEME_EXAMPLES.get(scheme, f"{scheme}://example-bucket/folder")
    distribution = known_plugins._SCHEMES[scheme]
    assert known_plugins.distribution_for_source(source) == distribution
    assert in_tree()[distribution].claims(source)


@pytest.mark.parametrize("host", sorted(known_plugins._HOSTS))
def test_every_host_the_table_hints_is_claimed_by_that_distribution(host: str) -> None:
    source = f"https://{host}/org/repo"
    distribution = known_plugins._HOSTS[host]
    assert known_plugins.distribution_for_source(source) == distribution
    assert in_tree()[distribution].claims(source)


def test_every_example_a_plugin_shows_gets_a_hint_for_a_plugin_that_claims_it() -> None:
    untrue = []
    for plugin in in_tree().values():
        kinds = plugin.plugins.plugins[plugin.name].source_kinds
        for example in (e for kind in kinds for e in kind.examples):
            if "<" in example or ("://" not in example and "@" not in example):
                continue  # a placeholder, or a plain path (which needs no plugin hint)
            hinted = known_plugins.distribution_for_source(example)
            if hinted is None or not in_tree()[hinted].claims(example):
                untrue.append(f"{example} -> {hinted} (shown by {plugin.distribution})")
    assert untrue == []


@pytest.mark.parametrize("requirement", sorted(known_plugins._REQUIREMENTS))
def test_every_requirement_maps_to_a_distribution_that_registers_steps(requirement: str) -> None:
    distribution = known_plugins.distribution_for_requirement(f"{requirement}>=0.3")
    assert distribution is not None
    assert in_tree()[distribution].steps


def test_the_hint_for_a_name_nobody_provides_is_none() -> None:
    assert known_plugins.distribution_for_step("prefect_docker.projects.steps.build") is None
    assert known_plugins.distribution_for_block_type("docker-host") is None
    assert known_plugins.distribution_for_source("adl://store/folder") is None
