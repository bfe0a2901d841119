"""Plugin discovery through entry points, failure isolation, operator switches and hints."""

from __future__ import annotations

import pytest

from codeferry.errors import MissingPluginError, PluginError, SourceNotSupportedError
from codeferry.plugins import Plugins
from tests.core.conftest import InstallPlugin

GOOD_PLUGIN = """
from codeferry import hookimpl
from codeferry.blocks import Block

class Widget(Block):
    size: int = 1

def make_widget(size: int = 1):
    return {"size": size}

@hookimpl
def register_block_types(register):
    register(Widget)

@hookimpl
def register_steps(register):
    register(make_widget, aliases=["acme.legacy.make_widget"])

@hookimpl
def register_source_kinds(register):
    register("widget", description="widgets", examples=["widget://x"])
"""


def by_name(plugins: Plugins, name: str) -> dict[str, object]:
    return next(p for p in plugins.describe() if p["name"] == name)


def test_discovers_entry_point_plugins_with_distribution_and_version(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin("acme-widgets", "widgets", GOOD_PLUGIN, version="2.5")
    plugins = Plugins()
    info = by_name(plugins, "widgets")
    assert info["distribution"] == "acme-widgets"
    assert info["version"] == "2.5"
    assert info["status"] == "ok"
    assert info["block_types"] == ["widget"]
    assert info["steps"] == ["make_widget"]
    assert info["source_kinds"] == [
        {"name": "widget", "description": "widgets", "examples": ["widget://x"]}
    ]


def test_step_is_found_by_short_qualified_and_alias_names(install_plugin: InstallPlugin) -> None:
    module = install_plugin("acme-widgets", "widgets", GOOD_PLUGIN)
    plugins = Plugins()
    short = plugins.step("make_widget")
    assert plugins.step(f"{module}.make_widget") is short
    assert plugins.step("acme.legacy.make_widget") is short
    assert short.function(size=3) == {"size": 3}
    assert short.distribution == "acme-widgets"


def test_plugin_that_fails_to_import_is_reported_and_others_keep_working(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin("acme-broken", "broken", "raise RuntimeError('no backend here')\n")
    install_plugin("acme-widgets", "widgets", GOOD_PLUGIN)
    plugins = Plugins()
    broken = by_name(plugins, "broken")
    assert broken["status"] == "failed to load"
    assert broken["errors"] == ["RuntimeError: no backend here"]
    assert "widget" in plugins.block_types


def test_hook_that_raises_is_reported_and_others_keep_working(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin(
        "acme-raises",
        "raises",
        """
        from codeferry import hookimpl

        @hookimpl
        def register_steps(register):
            raise ValueError("boom")
        """,
    )
    install_plugin("acme-widgets", "widgets", GOOD_PLUGIN)
    plugins = Plugins()
    assert "make_widget" in plugins.steps
    raises = by_name(plugins, "raises")
    assert raises["status"] == "error"
    assert raises["errors"] == ["register_steps: ValueError: boom"]


def test_misspelled_hook_is_caught(install_plugin: InstallPlugin) -> None:
    install_plugin(
        "acme-typo",
        "typo",
        """
        from codeferry import hookimpl

        @hookimpl
        def register_stepz(register):
            pass
        """,
    )
    plugins = Plugins()
    typo = by_name(plugins, "typo")
    assert typo["status"] == "failed to load"
    assert "register_stepz" in typo["errors"][0]
    assert "misspelled" in typo["errors"][0]


def test_duplicate_step_name_names_both_distributions(install_plugin: InstallPlugin) -> None:
    install_plugin("acme-one", "one", GOOD_PLUGIN)
    install_plugin(
        "acme-two",
        "two",
        """
        from codeferry import hookimpl

        def make_widget():
            return {}

        @hookimpl
        def register_steps(register):
            register(make_widget)
        """,
    )
    plugins = Plugins()
    errors = [e for p in plugins.describe() for e in p["errors"]]
    assert any(
        "'make_widget' is registered by both" in e and "acme-one" in e and "acme-two" in e
        for e in errors
    ), errors


def test_duplicate_block_type_slug_names_both_distributions(install_plugin: InstallPlugin) -> None:
    install_plugin(
        "acme-secrets",
        "secrets",
        """
        from codeferry import hookimpl
        from codeferry.blocks import Block

        class Secret(Block):
            value: str

        @hookimpl
        def register_block_types(register):
            register(Secret)
        """,
    )
    plugins = Plugins()
    info = by_name(plugins, "secrets")
    assert info["status"] == "error"
    assert "'secret' is registered by both codeferry and acme-secrets" in info["errors"][0]
    assert plugins.block_types["secret"].distribution == "codeferry"


def test_only_listed_plugins_load(
    install_plugin: InstallPlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_plugin("acme-widgets", "widgets", GOOD_PLUGIN)
    install_plugin("acme-other", "other", "")
    monkeypatch.setenv("CODEFERRY_PLUGINS", "acme-other")
    names = {p["name"] for p in Plugins().describe()}
    assert "other" in names
    assert "widgets" not in names
    assert "codeferry" in names


def test_blocked_plugins_do_not_load(
    install_plugin: InstallPlugin, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = install_plugin("acme-widgets", "widgets", "raise SystemError('imported')\n")
    monkeypatch.setenv("CODEFERRY_DISABLE_PLUGINS", "widgets")
    plugins = Plugins()
    assert "widgets" not in plugins.plugins
    import sys

    assert module not in sys.modules


def test_trace_writes_each_hook_call_to_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CODEFERRY_TRACE_HOOKS", "1")
    plugins = Plugins({"local": "codeferry_local.plugin"}, entry_points=False)
    _ = plugins.steps
    err = capsys.readouterr().err
    assert "codeferry: hook register_steps -> local" in err


def test_unknown_source_scheme_names_the_distribution_to_install(plugins: Plugins) -> None:
    with pytest.raises(SourceNotSupportedError) as caught:
        plugins.storage_from_source("s3://bucket/flows")
    assert str(caught.value).endswith("pip install codeferry-s3")


def test_source_error_never_shows_url_credentials(plugins: Plugins) -> None:
    with pytest.raises(SourceNotSupportedError) as caught:
        plugins.storage_from_source("gs://user:hunter22@bucket/flows")
    assert "hunter22" not in str(caught.value)
    assert "pip install codeferry-gcs" in str(caught.value)


def test_unknown_step_names_the_distribution_to_install(plugins: Plugins) -> None:
    with pytest.raises(MissingPluginError) as caught:
        plugins.step("prefect_aws.deployments.steps.pull_from_s3")
    assert caught.value.distribution == "codeferry-s3"


def test_unknown_block_type_names_the_distribution_to_install(plugins: Plugins) -> None:
    with pytest.raises(MissingPluginError) as caught:
        plugins.block_type("github-credentials")
    assert "pip install codeferry-github" in str(caught.value)


def test_plugin_that_crashes_on_a_source_is_named(install_plugin: InstallPlugin) -> None:
    install_plugin(
        "acme-crash",
        "crash",
        """
        from codeferry import hookimpl

        @hookimpl
        def storage_from_source(source):
            raise KeyError("oops")
        """,
    )
    with pytest.raises(PluginError, match="plugin 'crash' failed on source 'x://y'"):
        Plugins().storage_from_source("x://y")


def test_core_never_claims_a_backend_source_itself() -> None:
    plugins = Plugins(entry_points=False)
    with pytest.raises(SourceNotSupportedError):
        plugins.storage_from_source("/some/folder")
