"""The command modules this area provides, mounted as the lead mounts them on the root app.

Each test runs twice: through that app, and through the real command line
(:func:`codeferry.cli.main`, whose lean parser takes ``pull`` and ``run``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner, Result

from codeferry.cli import CodeferryGroup
from codeferry.cli import deployment as deployment_cli
from codeferry.cli import init as init_cli
from codeferry.cli import variable as variable_cli
from codeferry.store import get_store
from tests.cli.conftest import invoke_main
from tests.deployments.conftest import HELLO_FILE, WriteFile

Invoke = Callable[..., Result]

pytestmark = pytest.mark.usefixtures("steps_plugins")


def make_app() -> typer.Typer:
    app = typer.Typer(cls=CodeferryGroup, pretty_exceptions_enable=False)
    app.add_typer(deployment_cli.app)
    app.add_typer(variable_cli.app)
    app.command("init")(init_cli.init)

    @app.command("pull")
    def pull(
        file: deployment_cli.FileOption = None,
        deployment: Annotated[str | None, typer.Option("--deployment")] = None,
        dest: Annotated[Path | None, typer.Option("--dest")] = None,
        json_output: Annotated[bool, typer.Option("--json")] = False,
        allow_import_steps: Annotated[bool, typer.Option("--allow-import-steps")] = False,
    ) -> None:
        deployment_cli.pull_command(file, deployment, dest, json_output, allow_import_steps)

    @app.command("run")
    def run(
        deployment: str,
        args: Annotated[list[str] | None, typer.Argument()] = None,
        file: deployment_cli.FileOption = None,
    ) -> None:
        deployment_cli.run_command(file, deployment, args)

    app.command("push")(deployment_cli.push)

    return app


def invoke_app(*args: str) -> Result:
    """Runs a command line through the app above."""
    return CliRunner().invoke(make_app(), list(args))


@pytest.fixture(params=["app", "main"])
def invoke(request: pytest.FixtureRequest) -> Invoke:
    """Runs a command line through the app above, or through the real command line."""
    if request.param == "app":
        return invoke_app
    return lambda *args: invoke_main(CliRunner(), list(args))


def test_deployment_ls_prints_a_table_and_json(write_file: WriteFile, invoke: Invoke) -> None:
    path = write_file(HELLO_FILE)
    table = invoke("deployment", "ls", "-f", str(path))
    assert table.exit_code == 0, table.output
    assert table.stdout.splitlines()[0].split() == ["NAME", "ENTRYPOINT", "PULL", "STEPS"]
    assert "hello  flows/hello.py:hello  pull_from_directory" in table.stdout
    listed = json.loads(invoke("deployment", "ls", "-f", str(path), "--json").stdout)
    assert listed[0]["name"] == "hello"


def test_malformed_file_is_a_one_line_error_with_exit_1(tmp_path: Path, invoke: Invoke) -> None:
    path = tmp_path / "codeferry.yaml"
    path.write_text("pull: [\n")
    result = invoke("deployment", "ls", "-f", str(path))
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {path}:2:1: invalid YAML")
    assert len(result.stderr.strip().splitlines()) == 1


def test_pull_prints_where_the_code_is(
    write_file: WriteFile, tmp_path: Path, invoke: Invoke
) -> None:
    path = write_file(HELLO_FILE)
    result = invoke("pull", "-f", str(path))
    assert result.exit_code == 0, result.output
    assert (Path(result.stdout.strip()) / "flows" / "hello.py").is_file()
    as_json = json.loads(invoke("pull", "-f", str(path), "--json").stdout)
    assert as_json["steps"][0]["name"] == "pull_from_directory"
    dest = tmp_path / "here"
    assert invoke("pull", "-f", str(path), "--dest", str(dest)).stdout.strip() == str(dest)


def test_run_calls_the_entrypoint_and_prints_its_result(
    write_file: WriteFile, invoke: Invoke
) -> None:
    path = write_file(HELLO_FILE)
    result = invoke("run", "hello", "-f", str(path), "--", "name=ada")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == '"hello ada!"'


def test_run_of_an_unknown_step_gives_the_install_hint(
    write_file: WriteFile, invoke: Invoke
) -> None:
    path = write_file(
        "pull:\n  - prefect_gcp.deployments.steps.pull_from_gcs: {bucket: b}\n"
        "deployments:\n  - name: x\n    entrypoint: a.py:a\n"
    )
    result = invoke("run", "x", "-f", str(path))
    assert result.exit_code == 1
    assert result.stderr.strip().endswith("install it with: pip install codeferry-gcs")


def test_pull_of_an_import_path_step_needs_the_flag(write_file: WriteFile, invoke: Invoke) -> None:
    path = write_file("pull:\n  - tests.deployments.importable.double: {n: 2}\n")
    refused = invoke("pull", "-f", str(path))
    assert refused.exit_code == 1
    assert "--allow-import-steps" in refused.stderr
    allowed = invoke("pull", "-f", str(path), "--allow-import-steps", "--json")
    assert allowed.exit_code == 0, allowed.output
    assert json.loads(allowed.stdout)["steps"][0]["outputs"] == {"n": 4}


def test_push_runs_build_and_push_steps(write_file: WriteFile, invoke: Invoke) -> None:
    path = write_file(
        "build:\n  - outputs: {id: b, tag: '1'}\npush:\n  - echo: {t: '{{ b.tag }}'}\n"
    )
    result = invoke("push", "-f", str(path), "--json")
    assert result.exit_code == 0, result.output
    steps = json.loads(result.stdout)["steps"]
    assert [s["section"] for s in steps] == ["build", "push"]
    assert steps[1]["outputs"] == {"t": "1"}


def test_variables_can_be_set_read_listed_and_deleted(invoke: Invoke) -> None:
    assert invoke("variable", "set", "branch", "main").exit_code == 0
    assert invoke("variable", "set", "n", "3", "--json-value").exit_code == 0
    assert get_store().get_variable("n") == 3
    assert invoke("variable", "get", "branch").stdout == "main\n"
    assert invoke("variable", "get", "n").stdout == "3\n"
    assert json.loads(invoke("variable", "ls", "--json").stdout) == {"branch": "main", "n": 3}
    assert invoke("variable", "ls").stdout.splitlines()[1].split() == ["branch", "main"]
    again = invoke("variable", "set", "branch", "dev")
    assert again.exit_code == 1
    assert "overwrite" in again.stderr
    assert invoke("variable", "set", "branch", "dev", "--overwrite").exit_code == 0
    assert invoke("variable", "delete", "branch").exit_code == 0
    missing = invoke("variable", "get", "branch")
    assert missing.exit_code == 1
    assert "branch" in missing.stderr


def test_variable_with_bad_json_is_refused(invoke: Invoke) -> None:
    result = invoke("variable", "set", "x", "{nope", "--json-value")
    assert result.exit_code == 1
    assert "not JSON" in result.stderr


def test_init_with_flags_writes_a_file_that_pulls_and_runs(project: Path, invoke: Invoke) -> None:
    target = project / "codeferry.yaml"
    result = invoke(
        "init",
        "--source",
        str(project / "src"),
        "--entrypoint",
        "flows/hello.py:hello",
        "--name",
        "greet",
        "-f",
        str(target),
    )
    assert result.exit_code == 0, result.output
    ran = invoke("run", "greet", "-f", str(target))
    assert ran.stdout.strip() == '"hello world!"'
    again = invoke("init", "-s", str(project / "src"), "-e", "a.py:a", "-f", str(target))
    assert again.exit_code == 1
    assert "already exists" in again.stderr


def test_init_without_a_terminal_asks_for_the_flags(project: Path, invoke: Invoke) -> None:
    result = invoke("init", "-f", str(project / "codeferry.yaml"))
    assert result.exit_code == 1
    assert "give --source and --entrypoint" in result.stderr


@pytest.mark.usefixtures("project")
def test_init_with_an_unknown_storage_kind_lists_the_known_ones(invoke: Invoke) -> None:
    result = invoke("init", "--storage", "ftp", "-s", "x", "-e", "a.py:a")
    assert result.exit_code == 1
    assert "known: " in result.stderr
    assert "local" in result.stderr


def test_init_asks_for_what_is_missing_on_a_terminal(
    project: Path, monkeypatch: pytest.MonkeyPatch, invoke: Invoke
) -> None:
    from codeferry.cli import output

    monkeypatch.setattr(output, "stdin_is_terminal", lambda: True)
    target = project / "codeferry.yaml"
    answers = f"local\n{project / 'src'}\nflows/hello.py:hello\n"
    result = CliRunner().invoke(make_app(), ["init", "-f", str(target)], input=answers)
    assert result.exit_code == 0, result.output
    assert "Kind of storage" in result.output
    ran = invoke("run", "project", "-f", str(target))
    assert ran.stdout.strip() == '"hello world!"'
