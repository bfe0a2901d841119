"""The step engine: order, ids and outputs, retries, timeouts, resolution, masked errors."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest
from pydantic import SecretStr
from typing_extensions import override

from codeferry.deployments import Step, parse_deployment_file
from codeferry.errors import (
    DeploymentFileError,
    ImportStepNotAllowedError,
    MissingPluginError,
    StepError,
    TemplateError,
)
from codeferry.plugins import Plugins
from codeferry.secrets import MASK
from codeferry.steps.engine import StepsResult, run_steps
from codeferry.steps.progress import StepReporter
from tests.deployments import fake_steps
from tests.deployments.fake_steps import FakeCredentials


def steps(text: str, section: str = "pull") -> tuple[Step, ...]:
    parsed = parse_deployment_file(textwrap.dedent(text), "codeferry.yaml")
    result: tuple[Step, ...] = getattr(parsed, section)
    return result


def run_text(text: str, reporter: StepReporter | None = None) -> StepsResult:
    """Run the pull steps of a deployment file of ``text``."""
    return run_steps(steps(text), reporter=reporter)


class Recorder(StepReporter):
    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []

    @override
    def step_started(self, label: str) -> None:
        self.events.append(("started", label))

    @override
    def step_retrying(self, label: str, attempt: int, error: str, delay: float) -> None:
        self.events.append(("retrying", label, str(attempt), error))

    @override
    def step_finished(self, label: str, seconds: float) -> None:
        self.events.append(("finished", label))

    @override
    def step_failed(self, label: str, error: str) -> None:
        self.events.append(("failed", label, error))


pytestmark = pytest.mark.usefixtures("steps_plugins")


def test_steps_run_in_order_and_later_steps_use_earlier_outputs_by_id() -> None:
    result = run_text(
        """
            pull:
              - outputs: {id: first, directory: /a, count: 2}
              - echo:
                  id: second
                  path: "{{ first.directory }}/sub"
                  count: "{{ first.count }}"
            """
    )
    assert [name for name, _ in fake_steps.CALLS] == ["outputs", "echo"]
    assert result.outputs["second"] == {"path": "/a/sub", "count": 2}
    assert [r.step.id for r in result.records] == ["first", "second"]


def test_a_later_step_never_silently_replaces_an_earlier_output() -> None:
    result = run_text(
        """
            pull:
              - outputs: {id: a, version: "1", same: x}
              - outputs: {id: b, version: "2", same: x}
            """
    )
    assert result.outputs["a"]["version"] == "1"
    assert result.outputs["b"]["version"] == "2"
    assert "version" not in result.outputs.shared
    assert result.outputs.ambiguous["version"] == [
        "pull step 1 'outputs' (id a)",
        "pull step 2 'outputs' (id b)",
    ]
    assert result.outputs.shared["same"] == "x"


def test_directory_is_the_last_step_that_returned_one() -> None:
    result = run_text(
        """
            pull:
              - outputs: {directory: /first}
              - nothing: {}
              - outputs: {directory: /second}
              - outputs: {other: 1}
            """
    )
    assert result.directory == Path("/second")


def test_duplicate_ids_are_refused_before_anything_runs() -> None:
    with pytest.raises(DeploymentFileError, match="id 'x' is already used by pull step 1"):
        run_text(
            """
                pull:
                  - nothing: {id: x}
                  - nothing: {id: x}
                """
        )
    assert fake_steps.CALLS == []


def test_unknown_step_fails_before_any_step_runs_and_names_what_to_install() -> None:
    with pytest.raises(MissingPluginError) as caught:
        run_text(
            """
                pull:
                  - nothing: {}
                  - prefect_aws.deployments.steps.pull_from_s3:
                      requires: prefect-aws>=0.3.0
                      bucket: flows
                """
        )
    assert fake_steps.CALLS == []
    assert str(caught.value) == (
        "pull step 2 'prefect_aws.deployments.steps.pull_from_s3': no installed plugin provides "
        "the step 'prefect_aws.deployments.steps.pull_from_s3'; "
        "install it with: pip install codeferry-s3"
    )


def test_requires_names_the_distribution_for_a_name_the_table_does_not_know() -> None:
    with pytest.raises(MissingPluginError, match="pip install codeferry-gcs"):
        run_steps((Step("acme.steps.sync", requires=("prefect-gcp",)),))


def test_step_failure_names_step_arguments_and_cause_on_one_line() -> None:
    with pytest.raises(StepError) as caught:
        run_text(
            """
                pull:
                  - nothing: {}
                  - fail: {id: boom, message: "disk full\\nsecond line"}
                """
        )
    message = str(caught.value)
    assert message == (
        "pull step 2 'fail' (id boom) failed: RuntimeError: disk full "
        "(arguments: {'message': 'disk full\\nsecond line'})"
    )
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_secret_values_are_masked_in_errors_events_output_and_logs(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    FakeCredentials(username="ada", token=SecretStr("tok-SECRET-42")).save("prod")
    recorder = Recorder()
    with caplog.at_level(logging.WARNING), pytest.raises(StepError) as caught:
        run_text(
            """
                pull:
                  - say: {text: "token is {{ blocks.fake-credentials.prod.token }}"}
                  - fail:
                      retries: 1
                      retry_delay: 0
                      message: "bad token {{ blocks.fake-credentials.prod.token }}"
                """,
            reporter=recorder,
        )
    shown = [str(caught.value), capsys.readouterr().err, caplog.text, repr(recorder.events)]
    for text in shown:
        assert "tok-SECRET-42" not in text
        assert MASK in text


def test_secret_named_arguments_are_masked_in_errors() -> None:
    with pytest.raises(StepError) as caught:
        run_steps((Step("fail", {"message": "x", "access_token": "plain-text-token"}),))
    # the step does not take access_token: the message shows the arguments, token hidden
    assert "plain-text-token" not in str(caught.value)
    assert f"'access_token': '{MASK}'" in str(caught.value)


def test_arguments_that_do_not_fit_the_step_are_an_error_without_retries() -> None:
    with pytest.raises(StepError, match=r"arguments do not fit the step: .*unexpected keyword"):
        run_steps((Step("nothing", {"extra": 1}, retries=3, retry_delay=0),))


def test_step_retries_until_it_succeeds() -> None:
    recorder = Recorder()
    result = run_steps(
        (Step("flaky", {"key": "k", "failures": 2}, id="f", retries=2, retry_delay=0),),
        reporter=recorder,
    )
    assert result.outputs["f"] == {"attempts": 3}
    assert result.records[0].attempts == 3
    retries = [e for e in recorder.events if e[0] == "retrying"]
    assert [e[2] for e in retries] == ["1", "2"]
    assert retries[0][3] == "attempt 1 of k failed"


def test_step_that_keeps_failing_reports_its_attempts() -> None:
    with pytest.raises(StepError, match=r"failed after 2 attempts: attempt 2 of k failed"):
        run_steps((Step("flaky", {"key": "k", "failures": 5}, retries=1, retry_delay=0),))
    assert fake_steps.FAILURES["k"] == 2


def test_step_exceeding_its_timeout_fails_clearly() -> None:
    with pytest.raises(StepError) as caught:
        run_steps(
            (Step("block_until_released", {"seconds": 30}, timeout=0.2),),
        )
    fake_steps.RELEASE.set()
    assert "did not finish within its timeout of 0.2 s" in str(caught.value)
    assert "pull step 1 'block_until_released'" in str(caught.value)


def test_step_within_its_timeout_returns_its_outputs() -> None:
    result = run_steps((Step("outputs", {"a": 1}, id="o", timeout=30),))
    assert result.outputs["o"] == {"a": 1}


def test_timed_out_attempts_are_retried() -> None:
    result = run_steps(
        (Step("flaky", {"key": "t", "failures": 1}, id="f", timeout=5, retries=1, retry_delay=0),)
    )
    assert result.outputs["f"] == {"attempts": 2}


def test_step_returning_none_has_no_outputs_and_a_coroutine_is_awaited() -> None:
    result = run_steps((Step("nothing", id="n"), Step("coroutine", {"value": 7}, id="c")))
    assert result.outputs["n"] == {}
    assert result.outputs["c"] == {"value": 7}


def test_step_returning_something_else_than_a_mapping_is_an_error() -> None:
    with pytest.raises(StepError, match="returned list, not a mapping of outputs"):
        run_steps((Step("not_a_mapping"),))


def test_unresolvable_template_is_an_error_and_the_step_does_not_run() -> None:
    with pytest.raises(
        TemplateError, match=r"pull step 1 'echo': cannot resolve \{\{ \$NOPE_X \}\}"
    ):
        run_steps((Step("echo", {"a": "{{ $NOPE_X }}"}),), environ={})
    assert fake_steps.CALLS == []


def test_templates_are_resolved_just_before_each_step() -> None:
    from codeferry.store import get_store

    class SetsVariable(StepReporter):
        @override
        def step_finished(self, label: str, seconds: float) -> None:
            get_store().set_variable("later", "set-by-step-1")

    result = run_steps(
        (Step("nothing"), Step("echo", {"v": "{{ variables.later }}"}, id="e")),
        reporter=SetsVariable(),
    )
    assert result.outputs["e"] == {"v": "set-by-step-1"}


def test_events_are_reported_per_step() -> None:
    recorder = Recorder()
    with pytest.raises(StepError):
        run_steps((Step("nothing"), Step("fail", {"message": "no"})), reporter=recorder)
    assert [e[0] for e in recorder.events] == ["started", "finished", "started", "failed"]


# -- import paths --------------------------------------------------------------------------------


def test_import_path_step_is_refused_unless_allowed() -> None:
    step = Step("tests.deployments.fake_steps.echo_by_import", {"a": 1})
    with pytest.raises(ImportStepNotAllowedError) as caught:
        run_steps((step,))
    assert "--allow-import-steps" in str(caught.value)
    assert "CODEFERRY_ALLOW_IMPORT_STEPS=1" in str(caught.value)


def test_import_path_step_runs_when_allowed_by_argument() -> None:
    result = run_steps(
        (Step("tests.deployments.importable.double", {"n": 21}, id="d"),),
        allow_import_steps=True,
    )
    assert result.outputs["d"] == {"n": 42}
    assert result.records[0].step.name == "tests.deployments.importable.double"


def test_import_path_step_runs_when_allowed_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEFERRY_ALLOW_IMPORT_STEPS", "1")
    result = run_steps((Step("tests.deployments.importable.double", {"n": 1}, id="d"),))
    assert result.outputs["d"] == {"n": 2}


def test_allowed_import_path_that_does_not_import_is_an_error() -> None:
    with pytest.raises(MissingPluginError, match="neither a registered step nor an importable"):
        run_steps((Step("no_such_package_xyz.steps.go"),), allow_import_steps=True)


def test_short_unknown_name_is_never_imported() -> None:
    with pytest.raises(
        MissingPluginError, match="no installed plugin provides the step 'frobnicate'"
    ):
        run_steps((Step("frobnicate"),), allow_import_steps=True)


def test_registered_steps_win_over_import_paths(steps_plugins: Plugins) -> None:
    qualified = "tests.deployments.fake_steps.outputs"
    assert steps_plugins.steps[qualified].function is fake_steps.outputs
    result = run_steps((Step(qualified, {"x": 1}, id="o"),))
    assert result.outputs["o"] == {"x": 1}
