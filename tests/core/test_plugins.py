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


def first_error(plugins: Plugins, name: str, status: str) -> str:
    """The first error plugin ``name`` reports, once its status is checked to be ``status``."""
    info = by_name(plugins, name)
    assert info["status"] == status
    errors = info["errors"]
    assert isinstance(errors, list)
    return str(errors[0])


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
    error = first_error(plugins, "typo", status="failed to load")
    assert "register_stepz" in error
    assert "misspelled" in error


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
    error = first_error(plugins, "secrets", status="error")
    assert "'secret' is registered by both codeferry and acme-secrets" in error
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


CLAIMING_PLUGIN = """
from codeferry import hookimpl
from codeferry.storage import CodeStorage

class Claimed(CodeStorage):
    def __init__(self, by):
        self.by = by
    def fetch(self, context):
        raise NotImplementedError
    def to_pull_step(self):
        return {{}}
    def __str__(self):
        return self.by

@hookimpl{marker}
def storage_from_source(source):
    if isinstance(source, str) and source.startswith("{prefix}"):
        return Claimed("{name}")
    return None
"""


def claiming(name: str, prefix: str = "https://example.com/", marker: str = "") -> str:
    return CLAIMING_PLUGIN.format(name=name, prefix=prefix, marker=marker)


def test_a_specific_claim_beats_a_plain_one_and_a_plain_one_a_generic_one(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin("acme-generic", "generic", claiming("generic", marker="(trylast=True)"))
    install_plugin("acme-host", "host", claiming("host"))
    install_plugin(
        "acme-archive",
        "archive",
        claiming("archive", prefix="https://example.com/a.tar.gz", marker="(tryfirst=True)"),
    )
    plugins = Plugins()
    assert str(plugins.storage_from_source("https://example.com/a.tar.gz")) == "archive"
    assert str(plugins.storage_from_source("https://example.com/repo")) == "host"


def test_two_plain_claims_on_one_source_are_an_error_naming_both(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin("acme-one", "one", claiming("one"))
    install_plugin("acme-two", "two", claiming("two"))
    with pytest.raises(PluginError, match="'one' \\(acme-one\\) and 'two' \\(acme-two\\) both"):
        Plugins().storage_from_source("https://example.com/repo")


def test_which_plugin_wins_does_not_depend_on_the_order_plugins_load() -> None:
    import types

    def module(name: str, marker: str) -> types.ModuleType:
        loaded = types.ModuleType(f"acme_{name}")
        exec(claiming(name, marker=marker), loaded.__dict__)
        return loaded

    generic, specific = module("generic", "(trylast=True)"), module("specific", "")
    for order in ([generic, specific], [specific, generic]):
        plugins = Plugins({m.__name__: m for m in order}, entry_points=False)
        assert str(plugins.storage_from_source("https://example.com/x")) == "specific"


def test_hooks_get_their_arguments_by_name_so_specs_can_grow() -> None:
    """An implementation naming fewer arguments than its spec, in any order, gets the right ones."""
    import types

    import pluggy

    from codeferry.hookspecs import hookimpl, hookspec

    class GrownSpec:
        @hookspec
        def register_widgets(self, register: object, version: str) -> None:
            """A hook that gained ``version`` after plugins were written for it."""

    got: dict[str, object] = {}
    old, new = types.ModuleType("acme_old"), types.ModuleType("acme_new")

    @hookimpl(specname="register_widgets")
    def old_impl(register: object) -> None:
        got["old"] = register

    @hookimpl(specname="register_widgets")
    def new_impl(version: str, register: object) -> None:
        got["new"] = (version, register)

    old.register_widgets, new.register_widgets = old_impl, new_impl  # type: ignore[attr-defined]
    plugins = Plugins(entry_points=False)
    plugins.manager.add_hookspecs(GrownSpec)
    for name, module in (("old", old), ("new", new)):
        plugins._load(name, module, name, None)
        assert plugins.plugins[name].status == "ok", plugins.plugins[name].errors
        plugins._call("register_widgets", plugins.plugins[name], register="R", version="2")
    assert got == {"old": "R", "new": ("2", "R")}
    assert isinstance(plugins.manager, pluggy.PluginManager)


def test_a_hook_wrapper_is_refused_at_load_with_a_clear_status(
    install_plugin: InstallPlugin,
) -> None:
    install_plugin(
        "acme-wrapper",
        "wrapper",
        """
        from codeferry import hookimpl

        @hookimpl(wrapper=True)
        def register_steps(register):
            return (yield)
        """,
    )
    plugins = Plugins()
    error = first_error(plugins, "wrapper", status="failed to load")
    assert "register_steps is a hook wrapper" in error
    assert "set_working_directory" in plugins.steps  # the others still work


def test_a_plugin_switch_naming_no_installed_plugin_is_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CODEFERRY_PLUGINS", "local,nosuch")
    with pytest.raises(PluginError, match="CODEFERRY_PLUGINS names 'nosuch', which is no"):
        Plugins()
    monkeypatch.delenv("CODEFERRY_PLUGINS")
    monkeypatch.setenv("CODEFERRY_DISABLE_PLUGINS", "s4")
    with pytest.raises(PluginError, match="CODEFERRY_DISABLE_PLUGINS names 's4'"):
        Plugins()


def test_a_source_whose_plugin_failed_to_load_names_that_plugin_and_its_error() -> None:
    plugins = Plugins({"codeferry-s3": "codeferry_no_such_module"}, entry_points=False)
    with pytest.raises(SourceNotSupportedError) as caught:
        plugins.storage_from_source("s3://bucket/flows")
    message = str(caught.value)
    assert "the plugin 'codeferry-s3' of codeferry-s3 is installed but failed to load" in message
    assert "ModuleNotFoundError" in message
    assert "pip install" not in message


def test_a_block_type_or_step_that_is_missing_names_plugins_that_failed_to_load() -> None:
    plugins = Plugins({"acme": "codeferry_no_such_module"}, entry_points=False)
    with pytest.raises(MissingPluginError, match="plugins that failed to load: 'acme'"):
        plugins.block_type("acme-widget")
    with pytest.raises(MissingPluginError, match="plugins that failed to load: 'acme'"):
        plugins.step("make_widget")
