"""What Prefect's own tests assert for steps and templating, run against codeferry.

Modelled on the behaviours asserted by PrefectHQ/prefect's ``tests/deployment/test_steps.py`` and
``tests/utilities/test_templating.py`` (read, not copied). Each test is either the same behaviour
(``test_same_...``) or a difference documented in ``docs/moving-from-prefect.md``, with the
message the user gets (``test_differs_...``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from codeferry.blocks import Secret
from codeferry.deployments import Step, parse_deployment_file
from codeferry.errors import (
    BlockNotFoundError,
    CodeferryError,
    DeploymentFileError,
    ImportStepNotAllowedError,
    MissingPluginError,
    PullError,
    StepError,
    TemplateError,
)
from codeferry.steps.engine import run_steps
from codeferry.steps.outputs import StepOutputs
from codeferry.steps.shell import run_shell_script
from codeferry.store import get_store
from codeferry.system_blocks import JSON, DateTime, String
from codeferry.templating import TemplateContext, resolve_templates
from tests.deployments.fake_steps import FakeCredentials, FakeRepository

pytestmark = pytest.mark.usefixtures("steps_plugins")


def resolve(template: Any, **values: Any) -> Any:
    outputs = StepOutputs()
    if values:
        outputs.add("build step 1 'x'", None, values)
    return resolve_templates(template, TemplateContext(outputs=outputs, environ=dict(os.environ)))


def shell(script: str, **arguments: Any) -> dict[str, str]:
    result = run_steps((Step("run_shell_script", {"script": script, **arguments}, id="s"),))
    return dict(result.outputs["s"])


# -- templating: placeholders and values ---------------------------------------------------------


def test_same_placeholders_with_any_spacing_and_duplicates() -> None:
    assert resolve("Hello {{name}}!", name="Alice") == "Hello Alice!"
    assert resolve("Hello {{    first }} {{ last }}!", first="A", last="B") == "Hello A B!"
    assert resolve("{{x}}{{x}}", x="ab") == "abab"
    assert resolve("Your balance is ${{balance}}.", balance=3) == "Your balance is $3."


def test_same_templates_in_nested_dicts_and_lists_and_other_types_untouched() -> None:
    template = {"name": "{{first}} {{last}}", "age": "{{age}}", "items": ["{{first}}", 1.5, None]}
    assert resolve(template, first="Alice", last="Smith", age=30) == {
        "name": "Alice Smith",
        "age": 30,
        "items": ["Alice", 1.5, None],
    }
    for value in (123, 3.14, True, None):
        assert resolve(value, name="x") == value


def test_same_dotted_and_indexed_placeholders_keep_their_type_when_alone() -> None:
    people = [{"name": "Arthur", "age": 30}]
    assert resolve("Hello {{ people[0].name }}!", people=people) == "Hello Arthur!"
    assert resolve("{{ people[0] }}", people=people) == {"name": "Arthur", "age": 30}
    assert resolve("{{ person.name }}", person={"name": "Ford"}) == "Ford"


def test_differs_a_missing_value_is_an_error_not_an_empty_string() -> None:
    # Prefect: "" for a missing environment variable or variable; the key is dropped from a dict.
    with pytest.raises(TemplateError, match=r"cannot resolve \{\{ \$MISSING_ENV_VAR \}\}"):
        resolve({"text": "{{ $MISSING_ENV_VAR }}"})
    with pytest.raises(TemplateError, match=r"cannot resolve \{\{ prefect\.variables\.gone \}\}"):
        resolve("x{{ prefect.variables.gone }}y")
    with pytest.raises(TemplateError, match=r"no earlier step has the id or returned the output"):
        resolve({"last_name": "{{last_name}}"}, first_name="Alice")


def test_differs_braces_around_no_reference_stay_text() -> None:
    # Prefect reads {{$$}} as an environment variable with an empty name and removes it.
    assert resolve("text {{$$}} and {{.Config.Image}}") == "text {{$$}} and {{.Config.Image}}"


# -- templating: blocks and variables ------------------------------------------------------------


@pytest.fixture
def repository() -> FakeRepository:
    creds = FakeCredentials(username="ada", token="tok-1234567")
    creds.save("prod")
    block = FakeRepository(url="https://example.com/r.git", credentials=creds)
    block.save("flows")
    return block


@pytest.mark.usefixtures("repository")
def test_same_block_attributes_resolve_alone_and_inside_text() -> None:
    assert resolve("{{ prefect.blocks.fake-repository.flows.url }}") == "https://example.com/r.git"
    assert resolve("prefix-{{ prefect.blocks.fake-credentials.prod.username }}-suffix") == (
        "prefix-ada-suffix"
    )


@pytest.mark.usefixtures("repository")
def test_same_a_whole_block_inside_longer_text_is_an_error() -> None:
    with pytest.raises(TemplateError, match=r"inside longer text: it is a block"):
        resolve("{{ prefect.blocks.fake-repository.flows }} extra text")
    JSON(value={"key": {"nested": 1}}).save("doc")
    with pytest.raises(TemplateError, match=r"inside longer text: it is a mapping"):
        resolve("x-{{ prefect.blocks.json.doc.key }}")


@pytest.mark.usefixtures("repository")
def test_differs_a_whole_block_gives_the_typed_block_not_a_dict() -> None:
    block = resolve("{{ prefect.blocks.fake-repository.flows }}")
    assert isinstance(block, FakeRepository)
    assert block.url == "https://example.com/r.git"


def test_same_system_blocks_resolve_to_their_value_inline_too() -> None:
    Secret(value="my-private-repo.com").save("registry")
    JSON(value={"key": {"nested-key": "nested-value"}, "list": [{"list-key": "v"}, 1]}).save("cfg")
    String(value="Europe/Paris").save("zone")
    DateTime(value="2024-01-31T04:00:00Z").save("cutoff")
    assert (
        resolve("{{ prefect.blocks.secret.registry }}/my-image") == "my-private-repo.com/my-image"
    )
    assert resolve("{{ prefect.blocks.secret.registry.value }}/img") == "my-private-repo.com/img"
    assert resolve("{{ prefect.blocks.json.cfg.key }}") == {"nested-key": "nested-value"}
    assert resolve("{{ prefect.blocks.json.cfg.value.key.nested-key }}") == "nested-value"
    assert resolve("{{ prefect.blocks.json.cfg.list[0].list-key }}") == "v"
    assert resolve("tz={{ prefect.blocks.string.zone }}") == "tz=Europe/Paris"
    assert resolve("{{ prefect.blocks.date-time.cutoff }}") == "2024-01-31T04:00:00Z"


def test_same_a_missing_or_malformed_block_reference_is_an_error() -> None:
    with pytest.raises(TemplateError, match=r"no block fake-credentials/nonexistent-block"):
        resolve("{{ prefect.blocks.fake-credentials.nonexistent-block }}")
    with pytest.raises(TemplateError, match=r"a block reference is blocks\.TYPE\.NAME"):
        resolve({"key": "{{ prefect.blocks.only-type }}"})


def test_same_variables_resolve_alone_inline_and_nested() -> None:
    store = get_store()
    store.set_variable("var_1", "test_value_1")
    store.set_variable("my_var", {"key": "val"})
    assert (
        resolve("a placeholder: {{ prefect.variables.var_1 }}.") == "a placeholder: test_value_1."
    )
    assert resolve(["value1", "{{ prefect.variables.var_1 }}", 42]) == [
        "value1",
        "test_value_1",
        42,
    ]
    assert resolve({"full": "{{ prefect.variables.my_var }}"}) == {"full": {"key": "val"}}
    assert resolve("prefix-{{ prefect.variables.my_var }}-suffix") == "prefix-{'key': 'val'}-suffix"


# -- steps ---------------------------------------------------------------------------------------


def test_same_a_step_with_a_second_key_is_refused() -> None:
    with pytest.raises(DeploymentFileError, match=r"has a key beside the step name: .jedi."):
        parse_deployment_file(
            "pull:\n  - run_shell_script: {script: echo}\n    jedi: 0\n", "prefect.yaml"
        )


def test_same_templates_in_a_script_from_the_environment_and_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TEST_ENV_VAR", "test_value")
    get_store().set_variable("var1", "test_value_1")
    get_store().set_variable("var2", "test_value_2")
    assert shell('echo "{{ $TEST_ENV_VAR }}"')["stdout"] == "test_value"
    script = "echo '{{ prefect.variables.var1 }}:{{ prefect.variables.var2 }}'"
    assert shell(script)["stdout"] == "test_value_1:test_value_2"


def test_differs_a_script_held_whole_in_a_block_needs_split_templates() -> None:
    Secret(value="echo 'I am a secret!'").save("script")
    with pytest.raises(StepError, match="cannot run"):
        shell("{{ prefect.blocks.secret.script }}")
    assert shell("{{ prefect.blocks.secret.script }}", split_templates=True) == {
        "stdout": "I am a secret!",
        "stderr": "",
    }


def test_same_later_steps_use_earlier_outputs_by_id() -> None:
    steps = (
        Step("run_shell_script", {"script": "echo 'this is a test'"}, id="why_not_to_panic"),
        Step("run_shell_script", {"script": r"echo Don\'t Panic: {{ why_not_to_panic.stdout }}"}),
    )
    result = run_steps(steps)
    assert result.outputs["why_not_to_panic"] == {"stdout": "this is a test", "stderr": ""}
    assert result.records[1].outputs == {"stdout": "Don't Panic: this is a test", "stderr": ""}


def test_differs_outputs_two_steps_returned_differently_need_the_id() -> None:
    steps = (
        Step("run_shell_script", {"script": "echo one"}, id="a"),
        Step("run_shell_script", {"script": "echo two"}, id="b"),
        Step("echo", {"value": "{{ stdout }}"}),
    )
    with pytest.raises(TemplateError, match=r"give the step an id and use \{\{ ID\.stdout \}\}"):
        run_steps(steps)


def test_same_an_unknown_step_is_an_error_naming_it() -> None:
    with pytest.raises(ImportStepNotAllowedError, match=r"nonexistent\.module"):
        run_steps((Step("nonexistent.module", {"value": "{{ step_output_1 }}"}),))


def test_same_async_import_path_steps_are_awaited_and_other_results_ignored(
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = run_steps(
        (Step("anyio.run_process", {"command": ["echo", "hello world"]}, id="p"),),
        allow_import_steps=True,
    )
    assert result.outputs["p"] == {}
    assert "returned CompletedProcess, not a mapping of outputs" in caplog.text


def test_differs_requires_installs_nothing() -> None:
    with pytest.raises(MissingPluginError, match=r"pip install codeferry-s3"):
        run_steps((Step("prefect_aws.deployments.steps.pull_from_s3", requires=("prefect-aws",)),))


def test_same_set_working_directory_gives_the_absolute_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "subdir").mkdir()
    monkeypatch.chdir(tmp_path)
    result = run_steps(
        (Step("prefect.deployments.steps.set_working_directory", {"directory": "subdir"}, id="w"),)
    )
    assert result.outputs["w"] == {"directory": str((tmp_path / "subdir").resolve())}
    assert Path.cwd() == (tmp_path / "subdir").resolve()


# -- run_shell_script ----------------------------------------------------------------------------


def test_same_shell_script_lines_output_and_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    script = "\n        echo First Line\n        echo Second Line\n        "
    assert run_shell_script(script) == {"stdout": "First Line\nSecond Line", "stderr": ""}
    out, err = capfd.readouterr()
    assert "First Line\nSecond Line" in out + err
    result = run_shell_script("bash -c '>&2 echo Error Message'", stream_output=False)
    assert result == {"stdout": "", "stderr": "Error Message"}
    assert run_shell_script("echo Hello World", stream_output=False)["stdout"] == "Hello World"
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize(
    ("script", "expected"),
    [("bash -c 'echo $TEST_ENV_VAR'", "Test Value"), ("echo $TEST_ENV_VAR", "$TEST_ENV_VAR")],
)
def test_same_shell_script_env(script: str, expected: str) -> None:
    result = run_shell_script(script, env={"TEST_ENV_VAR": "Test Value"}, stream_output=False)
    assert result["stdout"] == expected


@pytest.mark.parametrize("script", ["echo $DUMMY_ENV_VAR", "bash -c 'echo $DUMMY_ENV_VAR'"])
def test_same_shell_script_expand_env_vars(script: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUMMY_ENV_VAR", "dummy")
    assert run_shell_script(script, expand_env_vars=True, stream_output=False)["stdout"] == "dummy"
    assert run_shell_script("echo $DUMMY_ENV_VAR", stream_output=False)["stdout"] == (
        "$DUMMY_ENV_VAR"
    )


def test_same_shell_script_in_a_directory() -> None:
    parent = str(Path.cwd().parent)
    assert run_shell_script("pwd", directory=parent, stream_output=False)["stdout"] == parent


def test_same_shell_mode_pipes_redirects_and_operators(tmp_path: Path) -> None:
    def run(script: str, **arguments: Any) -> str:
        return run_shell_script(script, shell=True, stream_output=False, **arguments)["stdout"]

    assert run("echo hello world | tr '[:lower:]' '[:upper:]'") == "HELLO WORLD"
    run(f"echo redirected > {tmp_path / 'output.txt'}")
    assert (tmp_path / "output.txt").read_text().strip() == "redirected"
    assert run("echo first && echo second") == "first\nsecond"
    assert run("echo $MY_VAR | tr '[:lower:]' '[:upper:]'", env={"MY_VAR": "hello"}) == "HELLO"
    assert run("pwd | cat", directory=str(tmp_path)) == str(tmp_path)
    assert run("echo first | tr a-z A-Z\necho second | tr a-z A-Z") == "FIRST\nSECOND"
    with pytest.raises(CodeferryError, match="exited with status 1"):
        run("exit 1")


def test_same_pip_install_requirements_fails_naming_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StepError, match=r"doesnt-exist\.txt"):
        run_steps(
            (
                Step(
                    "prefect.deployments.steps.pip_install_requirements",
                    {"requirements_file": "doesnt-exist.txt", "directory": str(tmp_path)},
                ),
            )
        )


# -- pull_with_block -----------------------------------------------------------------------------


def test_same_pull_with_block_pulls_a_saved_storage_block(tmp_path: Path) -> None:
    from codeferry_local.storage import LocalDirectory

    code = tmp_path / "code"
    code.mkdir()
    (code / "flows.py").write_text("def test_flow():\n    return 1\n")
    LocalDirectory(path=str(code)).save("test-block")
    step = Step(
        "prefect.deployments.steps.pull_with_block",
        {"block_type_slug": "local-directory", "block_document_name": "test-block"},
        id="p",
    )
    output = run_steps((step,)).outputs["p"]
    assert Path(output["directory"], "flows.py").read_text() == (code / "flows.py").read_text()


def test_same_pull_with_block_fails_for_a_missing_block() -> None:
    step = Step(
        "prefect.deployments.steps.pull_with_block",
        {"block_type_slug": "fake-credentials", "block_document_name": "wind"},
    )
    with pytest.raises(StepError, match=r"no block fake-credentials/wind is saved") as caught:
        run_steps((step,))
    assert isinstance(caught.value.__cause__, BlockNotFoundError)


def test_same_pull_with_block_fails_for_a_block_that_is_not_a_storage() -> None:
    FakeCredentials(username="u", token="t-123456").save("creds")
    step = Step(
        "pull_with_block", {"block_type_slug": "fake-credentials", "block_document_name": "creds"}
    )
    with pytest.raises(StepError, match=r"block fake-credentials/creds is a Fake Credentials") as c:
        run_steps((step,))
    assert isinstance(c.value.__cause__, PullError)
