"""The docs stay honest: every hook is documented, the plugin tutorial matches its example."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from codeferry import hookspecs

ROOT = Path(__file__).resolve().parents[2]
HOOKS = sorted(
    name
    for name, obj in vars(hookspecs).items()
    if inspect.isfunction(obj) and hasattr(obj, "codeferry_spec")
)


def test_the_spec_has_the_documented_hooks() -> None:
    assert HOOKS == [
        "register_block_types",
        "register_source_kinds",
        "register_steps",
        "storage_from_source",
    ]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_in_the_hook_reference(hook: str) -> None:
    assert f"- {hook}" in (ROOT / "docs" / "hooks.md").read_text()


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_docstring_says_when_what_and_since(hook: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, hook)) or ""
    assert "Called" in doc
    assert ":returns:" in doc
    assert ".. versionadded::" in doc
    for parameter in inspect.signature(getattr(hookspecs, hook)).parameters:
        assert f":param {parameter}:" in doc


def test_plugin_tutorial_code_is_the_example_plugins_code() -> None:
    tutorial = (ROOT / "docs" / "writing-a-plugin.md").read_text()
    example = "\n".join(
        p.read_text() for p in (ROOT / "docs" / "examples" / "codeferry-zip").rglob("*.py")
    )
    example_lines = {line.split("  #")[0].strip() for line in example.splitlines()}
    blocks = re.findall(r"```python[^\n]*\n(.*?)```", tutorial, re.DOTALL)
    assert blocks
    for block in blocks:
        for line in block.splitlines():
            code = line.split("  #")[0].strip().removesuffix(" ...")  # a body left out
            if code and code != "...":
                assert code in example_lines, line


def test_cli_reference_is_generated_from_the_commands() -> None:
    from docs.gen_cli import PAGE, render

    assert PAGE.read_text() == render(), "run: python docs/gen_cli.py"


def test_backends_page_is_generated_from_the_plugin_readmes() -> None:
    from docs.gen_backends import PAGE, render

    assert PAGE.read_text() == render(), "run: python docs/gen_backends.py"
