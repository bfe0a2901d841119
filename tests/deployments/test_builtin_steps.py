"""Core's own steps: run_shell_script and pip_install_requirements, by their names and Prefect's."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

import pytest

from codeferry.deployments import Step
from codeferry.errors import StepError
from codeferry.plugins import Plugins
from codeferry.secrets import MASK
from codeferry.steps.engine import run_steps
from codeferry.steps.pip import pip_install_requirements
from codeferry.steps.shell import run_shell_script

pytestmark = pytest.mark.usefixtures("plugins")


@pytest.mark.parametrize(
    ("name", "function"),
    [
        ("run_shell_script", run_shell_script),
        ("codeferry.steps.shell.run_shell_script", run_shell_script),
        ("prefect.deployments.steps.run_shell_script", run_shell_script),
        ("prefect.deployments.steps.utility.run_shell_script", run_shell_script),
        ("pip_install_requirements", pip_install_requirements),
        ("prefect.deployments.steps.pip_install_requirements", pip_install_requirements),
        ("prefect.deployments.steps.utility.pip_install_requirements", pip_install_requirements),
    ],
)
def test_core_steps_resolve_by_every_name(plugins: Plugins, name: str, function: object) -> None:
    assert plugins.step(name).function is function
    assert plugins.step(name).distribution == "codeferry"


@pytest.mark.parametrize(
    "name",
    [
        "set_working_directory",
        "codeferry_local.steps.set_working_directory",
        "prefect.deployments.steps.set_working_directory",
        "prefect.deployments.steps.pull.set_working_directory",
    ],
)
def test_set_working_directory_resolves_by_every_name(plugins: Plugins, name: str) -> None:
    assert plugins.step(name).function.__name__ == "set_working_directory"


def test_shell_script_runs_each_line_and_returns_the_output(tmp_path: Path) -> None:
    outputs = run_shell_script(
        "echo one\n\n# a comment\necho 'two words'\n", directory=str(tmp_path), stream_output=False
    )
    assert outputs == {"stdout": "one\ntwo words", "stderr": ""}


def test_shell_script_runs_without_a_shell() -> None:
    outputs = run_shell_script("echo $HOME && echo; done", stream_output=False)
    assert outputs["stdout"] == "$HOME && echo; done"


def test_shell_script_expands_variables_only_when_asked() -> None:
    script = "echo ${GREETING}-$NAME"
    env = {"GREETING": "hi", "NAME": "ada"}
    assert run_shell_script(script, env=env, stream_output=False)["stdout"] == "${GREETING}-$NAME"
    expanded = run_shell_script(script, env=env, stream_output=False, expand_env_vars=True)
    assert expanded["stdout"] == "hi-ada"


def test_shell_script_passes_env_and_runs_in_directory(tmp_path: Path) -> None:
    script = f"{sys.executable} -c 'import os; print(os.environ[\"N\"], os.getcwd())'"
    outputs = run_shell_script(script, directory=str(tmp_path), env={"N": 5}, stream_output=False)
    assert outputs["stdout"] == f"5 {tmp_path}"


def test_shell_script_streams_all_its_output_on_standard_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    outputs = run_shell_script(
        f"{sys.executable} -c 'import sys; print(1); print(2, file=sys.stderr)'"
    )
    captured = capsys.readouterr()
    assert captured.out == ""  # standard output is for codeferry's results
    assert sorted(captured.err.splitlines()) == ["1", "2"]
    assert outputs == {"stdout": "1", "stderr": "2"}


def test_failing_command_stops_the_script_with_its_status_and_stderr_tail() -> None:
    fail = f"{sys.executable} -c 'import sys; print(\"bad thing\", file=sys.stderr); sys.exit(3)'"
    with pytest.raises(StepError) as caught:
        run_steps(
            (Step("run_shell_script", {"script": f"{fail}\necho never", "stream_output": False}),)
        )
    message = str(caught.value)
    assert message.startswith("pull step 1 'run_shell_script' failed: ")
    assert "exited with status 3: bad thing" in message
    assert "\n" not in message


def test_failing_command_masks_secrets_in_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", "tok-abcdef-123")
    code = "import sys; sys.exit('rejected tok-abcdef-123')"
    script = f"{sys.executable} -c {shlex.quote(code)} {{{{ $DEPLOY_TOKEN }}}}"
    with pytest.raises(StepError) as caught:
        run_steps((Step("run_shell_script", {"script": script, "stream_output": False}),))
    assert "tok-abcdef-123" not in str(caught.value)
    assert MASK in str(caught.value)


def test_missing_program_is_a_clear_error() -> None:
    with pytest.raises(StepError, match="cannot run no-such-program-xyz"):
        run_steps((Step("run_shell_script", {"script": "no-such-program-xyz --flag"}),))


def test_shell_script_is_killed_at_the_step_timeout(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    code = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)"
    script = f"{sys.executable} -c {shlex.quote(code)}"
    with pytest.raises(StepError, match="killed at the step's timeout"):
        run_steps((Step("run_shell_script", {"script": script}, timeout=1),))
    with pytest.raises(ProcessLookupError):
        os.kill(int(pid_file.read_text()), 0)


def test_pip_install_requirements_uses_the_running_interpreter(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("pip\n")
    result = run_steps(
        (
            Step(
                "pip_install_requirements",
                {"directory": str(tmp_path), "stream_output": False},
                id="pip",
            ),
        )
    )
    stdout = result.outputs["pip"]["stdout"]
    assert "Requirement already satisfied: pip" in stdout
    assert str(Path(sys.prefix)) in stdout or "site-packages" in stdout


def test_pip_install_requirements_with_a_missing_file_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(StepError, match=r"requirements file .*reqs\.txt does not exist"):
        run_steps(
            (
                Step(
                    "prefect.deployments.steps.pip_install_requirements",
                    {"directory": str(tmp_path), "requirements_file": "reqs.txt"},
                ),
            )
        )


@pytest.mark.usefixtures("plugins")
def test_pull_from_remote_storage_pulls_through_the_plugin_for_the_url(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "flow.py").write_text("x = 1\n")
    result = run_steps(
        (Step("prefect.deployments.steps.pull_from_remote_storage", {"url": f"file://{source}"}),)
    )
    assert result.directory is not None
    assert (result.directory / "flow.py").read_text() == "x = 1\n"


@pytest.mark.usefixtures("plugins")
def test_pull_from_remote_storage_names_the_plugin_for_an_unknown_scheme() -> None:
    step = Step("prefect.deployments.steps.pull_from_remote_storage", {"url": "s3://b/f"})
    with pytest.raises(StepError, match="pip install codeferry-s3"):
        run_steps((step,))
