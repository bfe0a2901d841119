"""Steps that resolve some of their arguments' templates themselves (``resolves_templates``)."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from codeferry.deployments import Step
from codeferry.errors import StepError, TemplateError
from codeferry.secrets import MASK
from codeferry.steps.context import resolve_template, resolves_templates, templates_resolved_by
from codeferry.steps.engine import run_steps
from codeferry.steps.shell import run_shell_script
from tests.deployments import fake_steps
from tests.deployments.fake_steps import FakeCredentials

pytestmark = pytest.mark.usefixtures("steps_plugins")


def test_named_arguments_arrive_as_written_and_the_others_resolved() -> None:
    result = run_steps(
        (Step("late", {"template": "{{ $WHO }} at {{ $WHERE }}", "other": "{{ $WHO }}"}, id="l"),),
        environ={"WHO": "ada", "WHERE": "home"},
    )
    assert fake_steps.CALLS == [
        ("late", {"template": "{{ $WHO }} at {{ $WHERE }}", "other": "ada"})
    ]
    assert result.outputs["l"]["resolved"] == "ada at home"


def test_the_step_resolves_against_the_outputs_of_earlier_steps() -> None:
    result = run_steps(
        (
            Step("outputs", {"image": "acme/flows:7"}, id="build"),
            Step("late", {"template": "{{ build.image }}"}, id="l"),
        )
    )
    assert result.outputs["l"]["resolved"] == "acme/flows:7"


def test_a_bad_reference_fails_only_when_the_step_resolves_it_naming_the_step() -> None:
    with pytest.raises(
        TemplateError, match=r"pull step 1 'late': cannot resolve \{\{ \$NOPE_X \}\}"
    ):
        run_steps((Step("late", {"template": "{{ $NOPE_X }}"}),), environ={})
    assert fake_steps.CALLS == [("late", {"template": "{{ $NOPE_X }}", "other": None})]


def test_secrets_the_step_reveals_are_masked_in_its_errors() -> None:
    FakeCredentials(username="ada", token=SecretStr("tok-revealed-late")).save("prod")
    step = Step(
        "late", {"template": "{{ blocks.fake-credentials.prod.token }}", "fail_with": "saw"}
    )
    with pytest.raises(StepError) as caught:
        run_steps((step,))
    assert "tok-revealed-late" not in str(caught.value)
    assert f"saw {MASK}" in str(caught.value)


def test_outside_a_run_templates_resolve_against_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GREETING", "hello")
    assert resolve_template({"a": ["{{ $GREETING }} world"]}) == {"a": ["hello world"]}
    assert run_shell_script("echo {{ $GREETING }}", stream_output=False)["stdout"] == "hello"


def test_text_mode_gives_a_lone_placeholder_as_text() -> None:
    from codeferry.store import get_store

    get_store().set_variable("count", 3)
    assert resolve_template("{{ variables.count }}") == 3
    assert resolve_template("{{ variables.count }}", text=True) == "3"


def test_the_mark_names_the_arguments_and_refuses_unknown_ones() -> None:
    assert templates_resolved_by(run_shell_script) == {"script"}
    assert templates_resolved_by(fake_steps.echo) == frozenset()

    with pytest.raises(TypeError, match="has no argument nope"):

        @resolves_templates("nope")
        def step(text: str) -> dict[str, Any]:
            return {"text": text}

    @resolves_templates("anything")
    def takes_all(**arguments: Any) -> dict[str, Any]:
        return arguments

    assert templates_resolved_by(takes_all) == {"anything"}


def test_the_documented_sql_step_binds_each_template_as_a_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = Path(__file__).resolve().parents[2] / "docs" / "step-templates.md"
    (code,) = re.findall(r"```python\n(.*?)```", page.read_text(), re.DOTALL)
    namespace: dict[str, Any] = {}
    exec(compile(code, str(page), "exec"), namespace)  # our own documentation
    database = tmp_path / "state.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE releases (tag TEXT, path TEXT)")
        connection.execute("INSERT INTO releases VALUES ('v1', '/srv/v1'), ('v2', '/srv/v2')")
    connection.close()
    run_sql = namespace["run_sql"]
    assert templates_resolved_by(run_sql) == {"query"}
    query = "SELECT path FROM releases WHERE tag = {{ $RELEASE }}"
    monkeypatch.setenv("RELEASE", "v2")
    assert run_sql(query, str(database)) == {"rows": [("/srv/v2",)]}
    monkeypatch.setenv("RELEASE", "x' OR '1'='1")
    assert run_sql(query, str(database)) == {"rows": []}
