"""What steps and the programs they run print: on standard error, secrets masked as it streams.

Each test runs the installed command line in a child process, as a user would: standard output
must hold only the result (a folder, or JSON), and no secret may reach either stream in any form.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
import yaml

from codeferry.secrets import MASK
from tests.programs import child_environment, codeferry_module
from tests.secret_forms import secret_forms

BLOCK_SECRET = "blk-Secret/value+42"
ENV_TOKEN = "env-Token-value-77"


@pytest.fixture
def environment(codeferry_home: Path) -> dict[str, str]:
    return child_environment(codeferry_home, DEPLOY_TOKEN=ENV_TOKEN)


def codeferry(
    env: dict[str, str], *args: str, cwd: Path, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return codeferry_module(*args, env=env, cwd=cwd, input=input)


def write_deployment_file(folder: Path, **sections: Sequence[Mapping[str, object]]) -> None:
    deployment = {"name": "flow", "entrypoint": "flow.py:main"}
    (folder / "codeferry.yaml").write_text(
        yaml.safe_dump({**sections, "deployments": [deployment]})
    )


# Prints its arguments on standard output and standard error.
ECHO = (
    f"{sys.executable} -c "
    '\'import sys; print("out", *sys.argv[1:]); print("err", *sys.argv[1:], file=sys.stderr)\''
)
ECHO_SECRETS = {
    "run_shell_script": {"script": f"{ECHO} {{{{ blocks.secret.api }}}} {{{{ $DEPLOY_TOKEN }}}}"}
}


@pytest.fixture
def project(tmp_path: Path, environment: dict[str, str]) -> Path:
    """A project whose pull and push steps print a secret block's value and a token variable."""
    folder = tmp_path / "project"
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "flow.py").write_text("def main():\n    return 'ran'\n")
    write_deployment_file(
        folder,
        build=[ECHO_SECRETS],
        push=[ECHO_SECRETS],
        pull=[ECHO_SECRETS, {"pull_from_directory": {"path": "src"}}],
    )
    saved = codeferry(
        environment,
        "block", "create", "secret", "api", "--json", "-",
        cwd=folder,
        input=json.dumps({"value": BLOCK_SECRET}),
    )  # fmt: skip
    assert saved.returncode == 0, saved.stderr
    return folder


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in (BLOCK_SECRET, ENV_TOKEN):
            for form in secret_forms(secret):
                assert form not in text, (form, text)


def test_pull_prints_only_the_folder_and_masks_what_the_steps_print(
    project: Path, environment: dict[str, str], tmp_path: Path
) -> None:
    dest = tmp_path / "dest"
    result = codeferry(environment, "pull", "--dest", str(dest), cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{dest}\n"  # so that cd "$(codeferry pull)" works
    assert_no_secret(result.stdout, result.stderr)
    # both of the program's streams were shown, on standard error, masked
    assert f"out {MASK} {MASK}" in result.stderr
    assert f"err {MASK} {MASK}" in result.stderr


def test_pull_json_is_valid_json_without_secrets(
    project: Path, environment: dict[str, str], tmp_path: Path
) -> None:
    result = codeferry(environment, "pull", "--json", "--dest", str(tmp_path / "d"), cwd=project)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["steps"][0]["outputs"]["stdout"] == f"out {MASK} {MASK}"
    assert_no_secret(result.stdout, result.stderr)
    assert f"err {MASK} {MASK}" in result.stderr


def test_push_json_is_valid_json_without_secrets(
    project: Path, environment: dict[str, str]
) -> None:
    result = codeferry(environment, "push", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    steps = json.loads(result.stdout)["steps"]
    assert [step["section"] for step in steps] == ["build", "push"]
    assert_no_secret(result.stdout, result.stderr)
    assert f"out {MASK} {MASK}" in result.stderr


def test_a_failing_step_masks_its_streamed_output_and_its_error(
    project: Path, environment: dict[str, str], tmp_path: Path
) -> None:
    fail = f"{sys.executable} -c 'import sys; sys.exit(\"refused \" + sys.argv[1])'"
    write_deployment_file(
        project, pull=[{"run_shell_script": {"script": f"{fail} {{{{ blocks.secret.api }}}}"}}]
    )
    for extra in ([], ["--json"]):
        result = codeferry(environment, "pull", *extra, "--dest", str(tmp_path / "d"), cwd=project)
        assert result.returncode == 1
        assert result.stdout == ""
        assert_no_secret(result.stdout, result.stderr)
        assert f"refused {MASK}" in result.stderr


def test_pip_install_requirements_streams_on_standard_error_masked(
    project: Path, environment: dict[str, str], tmp_path: Path
) -> None:
    # pip names the requirement it cannot find; here that name is the secret.
    requirement = "private-pkg-" + ENV_TOKEN.lower()
    (project / "src" / "requirements.txt").write_text(f"--no-index\n{requirement}\n")
    reveal = {  # a step that reveals the secret to this run, before pip prints it
        "script": f"{sys.executable} -c pass",
        "env": {"PACKAGE": "{{ $PRIVATE_PACKAGE_TOKEN }}"},
    }
    write_deployment_file(
        project,
        pull=[
            {"run_shell_script": reveal},
            {"pull_from_directory": {"path": "src"}},
            {"pip_install_requirements": {"directory": "{{ directory }}"}},
        ],
    )
    environment["PRIVATE_PACKAGE_TOKEN"] = requirement
    result = codeferry(environment, "pull", "--dest", str(tmp_path / "d"), cwd=project)
    assert result.returncode == 1
    assert requirement not in result.stdout + result.stderr
    assert result.stdout == ""
    assert "Could not find a version that satisfies the requirement" in result.stderr


def test_user_code_printing_and_raising_a_secret_shows_it_masked(
    project: Path, environment: dict[str, str]
) -> None:
    (project / "src" / "flow.py").write_text(
        "import os, sys\n\n\n"
        "def main():\n"
        "    print('token', os.environ['DEPLOY_TOKEN'])\n"
        "    sys.stdout.buffer.write(os.environ['DEPLOY_TOKEN'].encode() + b'\\n')\n"
        "    raise RuntimeError('rejected ' + os.environ['DEPLOY_TOKEN'])\n"
    )
    for debug in ("0", "1"):
        result = codeferry({**environment, "CODEFERRY_DEBUG": debug}, "run", "flow", cwd=project)
        assert result.returncode == 1
        assert_no_secret(result.stdout, result.stderr)
        assert f"token {MASK}\n{MASK}\n" in result.stdout
        assert f"RuntimeError: rejected {MASK}" in result.stderr  # the traceback, masked
