"""Fixtures for the command-line tests: a runner, a folder of code, a module of block types.

Every command-line test runs twice: through the typer application, and through
:func:`codeferry.cli.main`, which hands the commands a worker runs to the lean parser
(:mod:`codeferry.cli.lean`) and the rest to typer. Both must behave alike.
"""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from codeferry.cli import app, main

BLOCK_MODULE = '''
from pydantic import Field, SecretStr

from codeferry.blocks import Block


class ApiCredentials(Block):
    """Who calls the API."""

    username: str = Field(description="The user name.")
    token: SecretStr = Field(description="The API token.")


class ApiService(Block):
    """An API endpoint."""

    url: str
    port: int = 443
    tags: list[str] = []
    credentials: ApiCredentials
'''

MAIN_MODULE = """
import asyncio

from helpers_{tag} import greet


def hello(name, count=1):
    return {{"greeting": greet(name), "count": count}}


async def hello_later(name):
    await asyncio.sleep(0)
    return greet(name)


def where_am_i():
    import os

    return os.getcwd()


def nothing():
    print("ran")


def fails():
    step_one()


def step_one():
    raise ValueError("the flow failed on purpose")
"""


@dataclass
class Cli:
    """Runs ``codeferry`` in this process, with the test's plugins and home.

    ``path`` is ``"typer"`` (the typer application itself) or ``"main"`` (the command line's
    entry point, whose lean parser takes the commands a worker runs).
    """

    runner: CliRunner
    path: str = "typer"

    def __call__(self, *args: str, input: str | None = None) -> Result:
        if self.path == "typer":
            return self.runner.invoke(app, list(args), input=input, catch_exceptions=False)
        return invoke_main(self.runner, list(args), input=input)


def invoke_main(runner: CliRunner, args: list[str], input: str | None = None) -> Result:
    """What :meth:`CliRunner.invoke` does, for :func:`codeferry.cli.main` rather than the app."""
    exit_code, exception = 0, None
    with runner.isolation(input=input) as (stdout, stderr, output):
        try:
            main(args)
        except SystemExit as error:
            exit_code = error.code if isinstance(error.code, int) else int(error.code is not None)
            exception = error if exit_code else None
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        captured = stdout.getvalue(), stderr.getvalue(), output.getvalue()
    return Result(runner, *captured, None, exit_code, exception)


@pytest.fixture(params=["typer", "main"])
def cli(request: pytest.FixtureRequest) -> Cli:
    request.getfixturevalue("plugins")  # the commands see core and the local plugin only
    return Cli(CliRunner(), request.param)


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend standard input is a terminal, so commands ask questions."""
    monkeypatch.setattr("codeferry.cli.output.stdin_is_terminal", lambda: True)


@pytest.fixture
def block_module(tmp_path: Path) -> Path:
    path = tmp_path / "api_blocks.py"
    path.write_text(BLOCK_MODULE)
    return path


@pytest.fixture
def registered(cli: Cli, block_module: Path) -> Path:
    """The API block types registered from their file."""
    result = cli("block", "register", "-f", str(block_module))
    assert result.exit_code == 0, result.output
    return block_module


@pytest.fixture
def clean_imports(tmp_path: Path) -> Iterator[None]:
    """Undo what loading entrypoints does to the interpreter: sys.path, modules, working folder.

    Only the test's own modules are forgotten: dropping a library imported for the first time
    during the test (rich, for an error panel) would leave two copies of its classes.
    """
    path, modules, cwd = list(sys.path), set(sys.modules), os.getcwd()
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        if str(getattr(sys.modules[name], "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]
    os.chdir(cwd)


@pytest.fixture
def code_folder(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A project folder: flows/main.py importing its sibling module flows/helpers_<tag>.py."""
    request.getfixturevalue("clean_imports")  # what the tests import from it is forgotten after
    tag = tmp_path.name.replace("-", "_")[-20:]
    root = tmp_path / "project"
    (root / "flows").mkdir(parents=True)
    (root / "flows" / f"helpers_{tag}.py").write_text(
        "def greet(name):\n    return f'hello {name}'\n"
    )
    (root / "flows" / "main.py").write_text(textwrap.dedent(MAIN_MODULE.format(tag=tag)))
    return root
