"""Import-path steps as Prefect runs them, and the step names Prefect used before.

Allowed import paths are imported when their step runs, with the working folder and the code
earlier steps pulled importable; their results that are not mappings are ignored with a note; the
warnings any step raises are shown. Prefect 2.10-2.13 names resolve with a note naming the current
name, and a Prefect name codeferry does not know never suggests ``--allow-import-steps``.
"""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from codeferry.deployments import Step
from codeferry.errors import ImportStepNotAllowedError, MissingPluginError, StepError
from codeferry.plugins import Plugins
from codeferry.steps.engine import run_steps
from codeferry.steps.resolution import current_step_name, resolve_step
from codeferry.steps.shell import run_shell_script

pytestmark = pytest.mark.usefixtures("steps_plugins")


def module_name() -> str:
    """A module name no other test imported (modules stay in sys.modules)."""
    return f"cf_step_{uuid.uuid4().hex[:10]}"


def write_module(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return path


WorkingModule = Callable[[str], str]


@pytest.fixture
def working_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WorkingModule:
    """Write a module of ``body`` under a fresh name into the working folder; its name."""
    monkeypatch.chdir(tmp_path)

    def write(body: str) -> str:
        name = module_name()
        write_module(tmp_path, name, body)
        return name

    return write


def test_a_module_in_the_working_folder_is_importable(working_module: WorkingModule) -> None:
    name = working_module("def go(n):\n    return {'n': n + 1}\n")
    result = run_steps((Step(f"{name}.go", {"n": 1}, id="s"),), allow_import_steps=True)
    assert result.outputs["s"] == {"n": 2}


def test_a_module_in_code_an_earlier_step_pulled_is_importable(tmp_path: Path) -> None:
    name = module_name()
    code = tmp_path / "code"
    code.mkdir()
    write_module(code, name, "def go():\n    return {'from': 'pulled code'}\n")
    steps = (
        Step("pull_from_directory", {"path": str(code)}, id="pull"),
        Step(f"{name}.go", id="s"),
    )
    result = run_steps(steps, allow_import_steps=True)
    assert result.outputs["s"] == {"from": "pulled code"}


def test_module_colon_function_and_file_colon_function_forms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, helper = module_name(), module_name()
    write_module(tmp_path, name, "class Steps:\n    def go():\n        return {'form': 'module'}\n")
    sub = tmp_path / "scripts"
    sub.mkdir()
    write_module(sub, helper, "VALUE = 'sibling'\n")
    write_module(
        sub, "run", f"from {helper} import VALUE\ndef go():\n    return {{'form': VALUE}}\n"
    )
    monkeypatch.chdir(tmp_path)
    result = run_steps(
        (Step(f"{name}:Steps.go", id="a"), Step("scripts/run.py:go", id="b")),
        allow_import_steps=True,
    )
    assert result.outputs["a"] == {"form": "module"}
    assert result.outputs["b"] == {"form": "sibling"}


def test_a_missing_module_fails_when_its_step_runs_after_the_earlier_steps() -> None:
    steps = (Step("outputs", {"x": 1}, id="first"), Step("no_such_package_xyz.steps.go"))
    with pytest.raises(MissingPluginError, match=r"neither a registered step nor an importable"):
        run_steps(steps, allow_import_steps=True)


def test_a_module_that_raises_on_import_is_a_step_error(working_module: WorkingModule) -> None:
    name = working_module("raise RuntimeError('broken module')\n")
    with pytest.raises(StepError, match=r"importing .* raised RuntimeError: broken module"):
        run_steps((Step(f"{name}.go"),), allow_import_steps=True)


def test_a_result_that_is_not_a_mapping_is_ignored_with_a_note(
    working_module: WorkingModule, caplog: pytest.LogCaptureFixture
) -> None:
    name = working_module("def go():\n    return ['not', 'a', 'mapping']\n")
    result = run_steps(
        (Step(f"{name}.go", id="s"), Step("outputs", {"after": True}, id="t")),
        allow_import_steps=True,
    )
    assert result.outputs["s"] == {}
    assert result.outputs["t"] == {"after": True}
    err = caplog.text
    assert f"pull step 1 '{name}.go' (id s): returned list, not a mapping of outputs" in err


def test_warnings_a_step_raises_are_shown_once_each(
    working_module: WorkingModule, caplog: pytest.LogCaptureFixture
) -> None:
    name = working_module(
        """
        import warnings

        def go():
            for _ in range(3):
                warnings.warn("old_option is deprecated", DeprecationWarning)
            warnings.warn("consider a newer layout", UserWarning)
            return {}
        """
    )
    run_steps((Step(f"{name}.go"),), allow_import_steps=True)
    err = caplog.text
    assert err.count("DeprecationWarning: old_option is deprecated") == 1
    assert "UserWarning: consider a newer layout" in err


# -- names Prefect used before -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "current"),
    [
        ("prefect.projects.steps.git_clone_project", "prefect.deployments.steps.git_clone"),
        ("prefect.projects.steps.git_clone", "prefect.deployments.steps.git_clone"),
        (
            "prefect.projects.steps.pull.git_clone_project",
            "prefect.deployments.steps.pull.git_clone",
        ),
        ("prefect.deployments.steps.git_clone_project", "prefect.deployments.steps.git_clone"),
        (
            "prefect.projects.steps.set_working_directory",
            "prefect.deployments.steps.set_working_directory",
        ),
        ("prefect.projects.steps.run_shell_script", "prefect.deployments.steps.run_shell_script"),
        (
            "prefect.projects.steps.utility.pip_install_requirements",
            "prefect.deployments.steps.utility.pip_install_requirements",
        ),
        ("prefect.deployments.steps.git_clone", None),
        ("git_clone_project", None),
        ("acme.git_clone_project", None),
    ],
)
def test_current_name_of_a_deprecated_prefect_name(old: str, current: str | None) -> None:
    assert current_step_name(old) == current


def test_a_legacy_name_runs_the_current_step_with_a_note(
    caplog: pytest.LogCaptureFixture,
) -> None:
    step = Step(
        "prefect.projects.steps.run_shell_script",
        {"script": "echo hi", "stream_output": False},
        id="s",
    )
    result = run_steps((step,))
    assert result.outputs["s"]["stdout"] == "hi"
    err = caplog.text
    note = [line for line in err.splitlines() if "prefect.projects.steps.run_shell_script" in line]
    assert len(note) == 1
    assert "'prefect.deployments.steps.run_shell_script'" in note[0]


def test_every_step_of_prefects_projects_module_resolves() -> None:
    everything = Plugins(
        {"local": "codeferry_local.plugin", "git": "codeferry_git.plugin"}, entry_points=False
    )
    for name in (
        "git_clone_project",
        "git_clone",
        "set_working_directory",
        "run_shell_script",
        "pip_install_requirements",
    ):
        resolved = resolve_step(Step(f"prefect.projects.steps.{name}"), plugins=everything)
        assert resolved.function is not None
        assert resolved.note is not None
        assert "prefect.deployments.steps." in resolved.note
    clone = resolve_step(Step("prefect.projects.steps.git_clone_project"), plugins=everything)
    assert clone.name == "prefect.deployments.steps.git_clone"
    assert (
        run_shell_script
        is resolve_step(
            Step("prefect.projects.steps.run_shell_script"), plugins=everything
        ).function
    )


def test_a_legacy_name_whose_plugin_is_missing_names_the_distribution() -> None:
    with pytest.raises(MissingPluginError) as caught:
        run_steps((Step("prefect.projects.steps.git_clone_project", {"repository": "x"}),))
    message = str(caught.value)
    assert "prefect.deployments.steps.git_clone" in message
    assert "pip install codeferry-git" in message
    assert "--allow-import-steps" not in message


@pytest.mark.parametrize(
    "name", ["prefect.deployments.steps.frobnicate", "prefect_snowflake.deployments.steps.load"]
)
def test_an_unknown_prefect_step_does_not_suggest_import_paths(name: str) -> None:
    with pytest.raises(MissingPluginError) as caught:
        run_steps((Step(name),))
    assert "--allow-import-steps" not in str(caught.value)
    assert "is not installed" in str(caught.value)


def test_an_unknown_step_of_another_package_still_suggests_import_paths() -> None:
    with pytest.raises(ImportStepNotAllowedError, match="--allow-import-steps"):
        run_steps((Step("acme_deploy.steps.prepare"),))
