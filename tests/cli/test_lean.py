"""The lean command line: it reads ``pull`` and ``run`` as typer does, and leaves typer the rest.

:func:`codeferry.cli.main` hands the commands a worker runs to :mod:`codeferry.cli.lean`, which
imports no command-line framework. What it accepts must mean exactly what the typer commands
make of it (the same function called with the same values); what it does not accept goes to
typer, so help and usage errors are typer's, word for word.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from codeferry.cli import app, block_listing, lean, worker
from tests.cli.conftest import invoke_main

COMMANDS = ("pull_source", "run_source", "pull_deployment", "run_deployment")

Call = tuple[str, dict[str, Any]]


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[Call]:
    """The worker functions, replaced by recorders of how they are called (nothing runs)."""
    made: list[Call] = []

    def recorder(name: str) -> Callable[..., None]:
        signature = inspect.signature(getattr(worker, name, None) or block_listing.list_block_types)

        def record(*args: Any, **kwargs: Any) -> None:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            made.append((name, dict(bound.arguments)))

        return record

    for name in COMMANDS:
        monkeypatch.setattr(worker, name, recorder(name))
    monkeypatch.setattr(block_listing, "list_block_types", recorder("list_block_types"))
    return made


@pytest.fixture
def places(tmp_path: Path) -> dict[str, str]:
    folder = tmp_path / "code"
    folder.mkdir()
    file = tmp_path / "codeferry.yaml"
    file.write_text("pull: []\n")
    return {"FOLDER": str(folder), "FILE": str(file), "NEW": str(tmp_path / "new")}


def command_lines() -> st.SearchStrategy[list[str]]:
    """Command lines of options (well-formed or not), positional words and ``--`` tails."""

    def words(*choices: str) -> st.SearchStrategy[list[str]]:
        return st.sampled_from(choices).map(lambda word: [word])

    def pairs(names: list[str], values: list[str]) -> st.SearchStrategy[list[str]]:
        return st.tuples(st.sampled_from(names), st.sampled_from(values)).map(list)

    option = st.one_of(
        pairs(["--dest", "-d"], ["NEW", "out", "FOLDER", "FILE", "", "-x", "--json"]),
        pairs(["--file", "-f"], ["FILE", "FOLDER", "deploy.yaml", ""]),
        pairs(["--deployment"], ["x", "-x", ""]),
        words("--dest=NEW", "--dest=", "--file=FILE", "-fFILE", "-dout", "--deployment=x"),
        words(*["--replace", "--json", "--allow-import-steps"] * 3, "--replace=1", "--nope", "-x"),
    )
    positional = words(
        "FOLDER",
        "NEW",
        "https://example.com/org/repo.git",
        "flows/hello.py:hello",
        "my-flow",
        "name=Ada",
        "-",
        "",
    )
    body = st.lists(st.one_of(option, positional), max_size=4).map(
        lambda parts: [word for part in parts for word in part]
    )
    tail: st.SearchStrategy[list[str]] = st.one_of(
        st.just([]),
        st.just([]),
        st.lists(st.sampled_from(["name=Ada", "--", "-x", "--json"]), max_size=3).map(
            lambda rest: ["--", *rest]
        ),
    )
    # Mostly the lean forms, so that many lines are ones it accepts.
    head = st.sampled_from(["pull", "run"] * 4 + ["push", "block", "--version", "-h"])
    return st.builds(lambda first, middle, last: [first, *middle, *last], head, body, tail)


def placed(args: list[str], places: dict[str, str]) -> list[str]:
    for name, value in places.items():
        args = [word.replace(name, value) for word in args]
    return args


@pytest.mark.usefixtures("plugins")
@settings(
    max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(args=command_lines())
def test_what_the_lean_parser_accepts_typer_reads_the_same_way(
    calls: list[Call], places: dict[str, str], args: list[str]
) -> None:
    args = placed(args, places)
    command = lean.parse(args)
    if command is None:
        return  # typer's to read: the fallback is tested below
    command()
    assert len(calls) == 1, args
    lean_call = calls.pop()
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, (args, result.output)
    assert calls == [lean_call], args
    calls.clear()


@pytest.mark.parametrize(
    ("args", "name", "expected"),
    [
        (["pull", "SRC"], "pull_source", {"source": "SRC", "dest": None, "json_output": False}),
        (["pull", "--json", "SRC", "--replace"], "pull_source", {"replace": True}),
        (["pull", "SRC", "-d", "out"], "pull_source", {"dest": Path("out")}),
        (["pull", "--dest=out", "SRC", "--dest", "other"], "pull_source", {"dest": Path("other")}),
        (
            ["pull", "-f", "deploy.yaml", "--deployment", "x", "--json"],
            "pull_deployment",
            {"file": Path("deploy.yaml"), "deployment": "x", "json_output": True},
        ),
        (
            ["run", "SRC", "flows/a.py:f", "--dest", "out", "--", "name=Ada", "--", "-x"],
            "run_source",
            {"entrypoint": "flows/a.py:f", "arguments": ["name=Ada", "--", "-x"]},
        ),
        (
            ["run", "my-flow", "--allow-import-steps"],
            "run_deployment",
            {"deployment": "my-flow", "args": [], "allow_import_steps": True},
        ),
        (["run", "-f", "d.yaml", "my-flow", "--", "n=1"], "run_deployment", {"args": ["n=1"]}),
        (["block", "type", "ls"], "list_block_types", {"json_output": False}),
        (["block", "type", "ls", "--json"], "list_block_types", {"json_output": True}),
    ],
)
def test_the_lean_parser_reads_the_forms_it_takes(
    calls: list[Call], places: dict[str, str], args: list[str], name: str, expected: dict[str, Any]
) -> None:
    folder = places["FOLDER"]
    args = [folder if word == "SRC" else word for word in args]
    command = lean.parse(args)
    assert command is not None
    command()
    [(called, arguments)] = calls
    assert called == name
    for key, value in expected.items():
        assert arguments[key] == (folder if value == "SRC" else value), key
    calls.clear()
    assert CliRunner().invoke(app, args, catch_exceptions=False).exit_code == 0
    assert calls == [(called, arguments)], "typer reads it otherwise"


@pytest.mark.usefixtures("plugins", "calls")
@pytest.mark.parametrize(
    "args",
    [
        ["pull"],  # a deployment pull: typer's default file lookup is the worker's too
        [],
        ["--version"],
        ["-h"],
        ["pull", "-h"],
        ["pull", "SRC", "--nope"],
        ["pull", "SRC", "--dest"],
        ["pull", "SRC", "--dest", ""],
        ["pull", "SRC", "--dest", "FILE"],
        ["pull", "SRC", "--json=yes"],
        ["pull", "SRC", "other"],
        ["pull", "--", "SRC"],
        ["run"],
        ["run", "SRC"],
        ["run", "https://example.com/org/repo.git"],
        ["run", "SRC", "flows/a.py:f", "name=Ada"],
        ["run", "my-flow", "-f", "FOLDER"],
        ["block", "ls"],
        ["block", "type", "ls", "--nope"],
        ["block", "type", "ls", "extra"],
        ["block", "type", "--json", "ls"],
    ],
)
def test_usage_errors_and_help_are_typers_on_both_paths(
    places: dict[str, str], args: list[str]
) -> None:
    args = placed(args, {**places, "SRC": places["FOLDER"]})
    if args != ["pull"]:
        assert lean.parse(args) is None, "the lean parser must leave this to typer"
    through_main = invoke_main(CliRunner(), args)
    through_typer = CliRunner().invoke(app, args, catch_exceptions=False)
    assert through_main.exit_code == through_typer.exit_code
    assert through_main.stdout == through_typer.stdout
    assert through_main.stderr == through_typer.stderr


def test_the_lean_parser_leaves_shell_completion_to_typer(
    monkeypatch: pytest.MonkeyPatch, places: dict[str, str]
) -> None:
    monkeypatch.setenv("_CODEFERRY_COMPLETE", "bash_complete")
    lean.main(["pull", places["FOLDER"]])  # returns: typer answers completion requests


@pytest.mark.parametrize(
    ("args", "verbosity"),
    [
        (["pull", "SRC"], 0),
        (["-v", "pull", "SRC"], 1),
        (["-vv", "run", "SRC", "a.py:f"], 2),
        (["--verbose", "-v", "pull", "SRC"], 2),
        (["-q", "pull", "SRC"], lean.QUIET),
        (["--quiet", "block", "type", "ls"], lean.QUIET),
    ],
)
def test_verbosity_options_before_the_command_are_read(args: list[str], verbosity: int) -> None:
    read = lean._read_root_options(args)
    assert read is not None
    assert read[0] == verbosity
    assert read[1][0] in {"pull", "run", "block"}


@pytest.mark.parametrize(
    "args", [["-v", "-q", "pull", "SRC"], ["-vq", "pull", "SRC"], ["--version"], ["-", "pull"]]
)
def test_other_root_options_are_typers(args: list[str]) -> None:
    assert lean._read_root_options(args) is None


@pytest.mark.usefixtures("plugins")
def test_a_path_typer_finds_unreadable_is_left_to_typer(
    places: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # (Root reads everything, so unreadable is pretended.)
    monkeypatch.setattr("os.access", lambda *_: False)
    for args in (
        ["pull", places["FOLDER"], "--dest", places["FOLDER"]],
        ["run", "my-flow", "-f", places["FILE"]],
    ):
        assert lean.parse(args) is None
        result = invoke_main(CliRunner(), args)
        assert result.exit_code == 2
        assert "is not readable" in result.stderr
