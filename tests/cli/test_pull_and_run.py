"""``codeferry pull SOURCE`` and ``codeferry run SOURCE ENTRYPOINT -- ARGS``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Cli


def test_pull_prints_the_folder_and_reports_what_was_copied(cli: Cli, code_folder: Path) -> None:
    result = cli("pull", str(code_folder))
    assert result.exit_code == 0, result.output
    directory = Path(result.stdout.strip())
    assert (directory / "flows" / "main.py").is_file()
    assert "2 files" in result.stderr
    again = cli("pull", str(code_folder))
    assert "unchanged" in again.stderr
    assert Path(again.stdout.strip()) == directory


def test_pull_json_says_whether_anything_changed(cli: Cli, code_folder: Path) -> None:
    first = json.loads(cli("pull", str(code_folder), "--json").stdout)
    assert first["changed"] is True
    assert first["files"] == 2
    assert first["bytes"] > 0
    assert first["source"] == str(code_folder)
    second = json.loads(cli("pull", str(code_folder), "--json").stdout)
    assert second["changed"] is False
    assert second["version"] == first["version"]


def test_pull_with_dest_makes_that_folder_point_at_the_code(
    cli: Cli, code_folder: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "work" / "code"
    result = cli("pull", str(code_folder), "--dest", str(dest))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(dest)
    assert (dest / "flows" / "main.py").read_text() == (code_folder / "flows/main.py").read_text()


def test_pull_of_a_missing_folder_is_one_line_error(cli: Cli, tmp_path: Path) -> None:
    result = cli("pull", str(tmp_path / "nowhere"))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert "does not exist" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_pull_of_an_unknown_source_kind_names_the_plugin_to_install(cli: Cli) -> None:
    result = cli("pull", "s3://bucket/flows")
    assert result.exit_code == 1
    assert "pip install codeferry-s3" in result.stderr


def test_pull_without_source_looks_for_a_deployment_file(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("pull")
    assert result.exit_code == 1
    assert "no codeferry.yaml or prefect.yaml" in result.stderr


def test_run_passes_arguments_and_imports_sibling_modules(cli: Cli, code_folder: Path) -> None:
    result = cli("run", str(code_folder), "flows/main.py:hello", "--", "name=x", "--count", "3")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"greeting": "hello x", "count": 3}


def test_run_awaits_an_async_entrypoint(cli: Cli, code_folder: Path) -> None:
    result = cli("run", str(code_folder), "flows/main.py:hello_later", "--", "ada")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == "hello ada"


def test_run_works_in_the_pulled_folder_and_comes_back(cli: Cli, code_folder: Path) -> None:
    before = Path.cwd()
    result = cli("run", str(code_folder), "flows/main.py:where_am_i")
    assert result.exit_code == 0, result.output
    ran_in = Path(json.loads(result.stdout))
    assert (ran_in / "flows" / "main.py").is_file()
    assert ran_in != code_folder
    assert Path.cwd() == before


def test_run_prints_nothing_for_none(cli: Cli, code_folder: Path) -> None:
    result = cli("run", str(code_folder), "flows/main.py:nothing")
    assert result.exit_code == 0
    assert result.stdout == "ran\n"


def test_run_of_a_missing_entrypoint_is_one_line_error_naming_source_and_entrypoint(
    cli: Cli, code_folder: Path
) -> None:
    result = cli("run", str(code_folder), "flows/main.py:missing")
    assert result.exit_code == 1
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("Error: cannot run flows/main.py:missing from ")
    assert str(code_folder) in error
    assert "'missing' not found" in error
    assert "Traceback" not in result.output


def test_run_of_a_malformed_entrypoint_fails_before_pulling(
    cli: Cli, code_folder: Path, codeferry_home: Path
) -> None:
    result = cli("run", str(code_folder), "flows/main.py")
    assert result.exit_code == 1
    assert "names a file but no function" in result.stderr
    assert not list((codeferry_home / "checkouts").glob("*/versions/*"))


def test_user_code_that_raises_shows_its_own_traceback_then_one_error_line(
    cli: Cli, code_folder: Path
) -> None:
    result = cli("run", str(code_folder), "flows/main.py:fails")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == (
        f"Error: running flows/main.py:fails from {code_folder}: "
        "the entrypoint raised ValueError: the flow failed on purpose"
    )
    traceback = "\n".join(lines[:-1])
    assert "Traceback (most recent call last):" in traceback
    assert "in fails" in traceback
    assert "in step_one" in traceback
    assert "ValueError: the flow failed on purpose" in traceback
    assert "codeferry/entrypoints.py" not in traceback  # trimmed to the user's frames


def test_arguments_that_do_not_fit_are_an_error(cli: Cli, code_folder: Path) -> None:
    result = cli("run", str(code_folder), "flows/main.py:hello", "--", "--colour", "red")
    assert result.exit_code == 1
    assert "arguments do not fit the entrypoint" in result.stderr


def test_run_needs_source_and_entrypoint(cli: Cli, code_folder: Path) -> None:
    assert cli("run").exit_code == 2
    # One word names a deployment; a folder alone is a missing ENTRYPOINT.
    result = cli("run", str(code_folder))
    assert result.exit_code == 2
    assert "Missing argument 'ENTRYPOINT'" in result.output


def test_entrypoint_arguments_must_follow_the_separator(cli: Cli, code_folder: Path) -> None:
    result = cli("run", str(code_folder), "flows/main.py:hello", "name=x")
    assert result.exit_code == 2


def test_pull_into_a_destination_of_another_source_is_refused_unless_replace(
    cli: Cli, code_folder: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    (other / "flows").mkdir(parents=True)
    (other / "flows" / "main.py").write_text("OTHER = True\n")
    dest = tmp_path / "code"
    assert cli("pull", str(code_folder), "--dest", str(dest)).exit_code == 0
    refused = cli("pull", str(other), "--dest", str(dest))
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error: destination ")
    assert str(code_folder) in refused.stderr
    assert str(other) in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    replaced = cli("pull", str(other), "--dest", str(dest), "--replace")
    assert replaced.exit_code == 0, replaced.output
    assert (dest / "flows" / "main.py").read_text() == "OTHER = True\n"


def test_an_operating_system_failure_is_one_line_naming_cause_and_file(
    cli: Cli, code_folder: Path
) -> None:
    (code_folder / "loop").symlink_to("loop")
    result = cli("pull", str(code_folder))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert "unexpected" not in result.stderr
    assert "Too many levels of symbolic links (ELOOP)" in result.stderr
    assert str(code_folder / "loop") in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
