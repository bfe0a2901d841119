"""Fixtures for deployment-file tests: core, the local plugin and a plugin of fake steps."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import pytest

from codeferry.plugins import Plugins
from tests.conftest import use_plugins
from tests.deployments import fake_steps

HELLO_FILE = """
pull:
  - pull_from_directory: {path: src}
deployments:
  - name: hello
    entrypoint: flows/hello.py:hello
"""
"""A deployment file that pulls ``src`` and runs ``hello`` from it."""


class WriteFile(Protocol):
    """Writes a deployment file of ``text`` (dedented) into the project; its path."""

    def __call__(self, text: str, name: str = "codeferry.yaml") -> Path: ...


@pytest.fixture
def steps_plugins() -> Iterator[Plugins]:
    """Core, codeferry-local and the fake steps of ``fake_steps``; nothing installed."""
    registry = use_plugins(local="codeferry_local.plugin", fake="tests.deployments.fake_steps")
    fake_steps.CALLS.clear()
    fake_steps.FAILURES.clear()
    fake_steps.RELEASE.clear()
    yield registry
    fake_steps.RELEASE.set()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with a deployment file's neighbours: ``src/flows/hello.py`` to pull."""
    folder = tmp_path / "project"
    flows = folder / "src" / "flows"
    flows.mkdir(parents=True)
    (flows / "hello.py").write_text(
        textwrap.dedent(
            """
            import os

            def hello(name="world", punctuation="!"):
                return f"hello {name}{punctuation}"

            def where():
                return os.getcwd()
            """
        )
    )
    return folder


@pytest.fixture
def write_file(project: Path) -> WriteFile:
    """Write a deployment file (dedented) into ``project`` as codeferry.yaml."""

    def write(text: str, name: str = "codeferry.yaml") -> Path:
        path = project / name
        path.write_text(textwrap.dedent(text))
        return path

    return write
