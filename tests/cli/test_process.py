"""The installed ``codeferry`` script and ``python -m codeferry`` as processes: exit statuses."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from codeferry import __version__
from tests.programs import SCRIPT, child_environment, codeferry_module, run


@pytest.fixture
def environment(codeferry_home: Path) -> dict[str, str]:
    return child_environment(codeferry_home)


def codeferry(
    env: dict[str, str], *args: str, module: bool = False
) -> subprocess.CompletedProcess[str]:
    if module:
        return codeferry_module(*args, env=env, timeout=60)
    return run([str(SCRIPT), *args], env=env, timeout=60)


def test_version(environment: dict[str, str]) -> None:
    result = codeferry(environment, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"codeferry {__version__}"


def test_python_dash_m_runs_the_same_command_line(environment: dict[str, str]) -> None:
    result = codeferry(environment, "plugins", "ls", "--json", module=True)
    assert result.returncode == 0, result.stderr
    assert [p["name"] for p in json.loads(result.stdout)] == ["codeferry", "remote", "local"]


def test_help_lists_the_commands(environment: dict[str, str]) -> None:
    result = codeferry(environment, "--help")
    assert result.returncode == 0
    for command in ("block", "plugins", "pull", "run"):
        assert command in result.stdout


def test_a_user_error_exits_1_with_one_line_and_no_traceback(environment: dict[str, str]) -> None:
    result = codeferry(environment, "block", "type", "inspect", "s3-bucket")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "Error: no block type 's3-bucket' is known; install it with: pip install codeferry-s3"
    ]


def test_bad_usage_exits_2(environment: dict[str, str]) -> None:
    assert codeferry(environment, "block", "ls", "--no-such-option").returncode == 2
    assert codeferry(environment, "no-such-command").returncode == 2


def test_debug_adds_the_traceback(environment: dict[str, str]) -> None:
    result = codeferry({**environment, "CODEFERRY_DEBUG": "1"}, "block", "inspect", "secret/x")
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "Error: no block secret/x is saved"


def test_run_in_a_process_passes_arguments(environment: dict[str, str], tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "flow.py").write_text("def main(name, count=1):\n    return [name] * count\n")
    result = codeferry(
        environment, "run", str(code), "flow.py:main", "--", "name=x", "--count", "2"
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["x", "x"]


def test_a_closed_output_pipe_is_not_reported_as_a_bug(environment: dict[str, str]) -> None:
    reader = subprocess.Popen(
        [str(SCRIPT), "plugins", "ls", "--json"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert reader.stdout is not None
    assert reader.stderr is not None
    reader.stdout.close()
    stderr = reader.stderr.read().decode()
    reader.wait(timeout=60)
    assert "unexpected" not in stderr
