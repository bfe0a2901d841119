"""Templates across the whole deployment, as ``prefect deploy`` fills them in, strictly.

``run`` resolves the name, entrypoint and parameters before any step runs; a deployment is found
by its resolved name; ``push`` resolves every field with the build and push outputs. A reference
that cannot be resolved is an error naming the file, the deployment and the field.
"""

from __future__ import annotations

import pytest

from codeferry.blocks import Secret
from codeferry.deployment_templates import resolve_deployment
from codeferry.deployments import (
    DeploymentFile,
    list_deployments,
    load_deployment_file,
    parse_deployment_file,
)
from codeferry.errors import DeploymentFileError, TemplateError
from codeferry.runs import pull_deployment, push_deployment, run_deployment
from codeferry.store import get_store
from codeferry.system_blocks import JSON
from codeferry.templating import TemplateContext
from tests.deployments import fake_steps
from tests.deployments.conftest import WriteFile

pytestmark = pytest.mark.usefixtures("steps_plugins")

PULL = """
pull:
  - outputs: {id: seen, pulled: true}
  - pull_from_directory: {path: src}
"""


def hello_with(fields: str) -> str:
    """``PULL``, then the deployment ``hello`` with these more ``fields`` (indented under it)."""
    return (
        PULL
        + "\ndeployments:\n  - name: hello\n    entrypoint: flows/hello.py:hello\n"
        + fields.lstrip("\n")
    )


def named_and_other(name: str) -> str:
    """``PULL``, then a deployment named ``name`` (a template) and one named ``other``."""
    return (
        PULL
        + f"\ndeployments:\n  - name: {name}\n    entrypoint: flows/hello.py:hello\n"
        + "  - name: other\n    entrypoint: flows/hello.py:where\n"
    )


def test_parameters_are_filled_from_variables_environment_and_blocks(
    write_file: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    get_store().set_variable("who", "ada")
    monkeypatch.setenv("MARK", "?")
    path = write_file(
        hello_with(
            """
    parameters:
      name: "{{ prefect.variables.who }}"
      punctuation: "{{ $MARK }}"
"""
        )
    )
    assert run_deployment(path, "hello") == "hello ada?"


def test_a_parameter_that_cannot_be_resolved_stops_the_run_before_any_step(
    write_file: WriteFile,
) -> None:
    path = write_file(hello_with('    parameters:\n      name: "{{ $NOT_SET_FOR_THIS_TEST }}"\n'))
    with pytest.raises(TemplateError) as caught:
        run_deployment(path, "hello")
    message = str(caught.value)
    assert message.startswith(f"{path}:7:5: deployment 'hello' parameters.name: cannot resolve")
    assert "environment variable NOT_SET_FOR_THIS_TEST is not set" in message
    assert fake_steps.CALLS == []


def test_a_deployment_is_found_by_its_resolved_name(
    write_file: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOYMENT_NAME", "nightly")
    path = write_file(named_and_other('"{{ $DEPLOYMENT_NAME }}"'))
    assert run_deployment(path, "nightly") == "hello world!"
    assert pull_deployment(path, "nightly").deployment == "nightly"
    assert [row["name"] for row in list_deployments(path)] == ["nightly", "other"]
    with pytest.raises(DeploymentFileError, match="has no deployment"):
        run_deployment(path, "{{ $DEPLOYMENT_NAME }}")


def test_an_unresolvable_name_is_named_when_no_deployment_matches(write_file: WriteFile) -> None:
    path = write_file(named_and_other('"{{ $UNSET_DEPLOYMENT_NAME }}"'))
    with pytest.raises(DeploymentFileError) as caught:
        run_deployment(path, "nightly")
    assert "it has: other" in str(caught.value)
    assert "environment variable UNSET_DEPLOYMENT_NAME is not set" in str(caught.value)
    assert run_deployment(path, "other")  # the other deployment still runs


def test_run_leaves_fields_it_does_not_use_alone(write_file: WriteFile) -> None:
    path = write_file(
        hello_with(
            """
    work_pool:
      name: "{{ $POOL_ONLY_PREFECT_KNOWS }}"
      job_variables: {image: "{{ build-image.image }}"}
"""
        )
    )
    assert run_deployment(path, "hello") == "hello world!"


PUSHED = """
name: shop
build:
  - outputs: {id: build-image, image: "registry.example/shop:abc123"}
deployments:
  - name: web
    version: "{{ build-image.image }}"
    description: "Shop for {{ prefect.variables.team }}"
    entrypoint: flows/hello.py:hello
    tags: ["{{ $ENVIRONMENT }}", shop]
    parameters: {settings: "{{ prefect.blocks.json.shop-settings }}"}
    schedules:
      - cron: "{{ prefect.variables.cron }}"
        timezone: "{{ prefect.blocks.string.zone }}"
    work_pool:
      name: "{{ $ENVIRONMENT }}-pool"
      job_template_variable: "{{ ctx.flow_run.id }}"
      job_variables:
        image: "{{ build-image.image }}"
        env: {API_KEY: "{{ prefect.blocks.secret.api-key }}"}
    triggers:
      - enabled: "{{ prefect.variables.triggers-on }}"
        parameters: {name: "{{ event.resource.name }}"}
"""


def saved_values() -> None:
    store = get_store()
    store.set_variable("team", "retail")
    store.set_variable("cron", "0 4 * * *")
    store.set_variable("triggers-on", True)
    JSON(value={"replicas": 3}).save("shop-settings")
    Secret(value="api-key-value").save("api-key")
    from codeferry.system_blocks import String

    String(value="Europe/Paris").save("zone")


def test_push_resolves_every_field_as_prefect_deploy_does(
    write_file: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved_values()
    monkeypatch.setenv("ENVIRONMENT", "prod")
    (deployment,) = push_deployment(write_file(PUSHED), "web").deployments
    assert deployment.name == "web"
    assert deployment.description == "Shop for retail"
    assert deployment.parameters == {"settings": {"replicas": 3}}
    extra = deployment.extra
    assert extra["version"] == "registry.example/shop:abc123"
    assert extra["tags"] == ["prod", "shop"]
    assert extra["schedules"] == [{"cron": "0 4 * * *", "timezone": "Europe/Paris"}]
    assert extra["work_pool"] == {
        "name": "prod-pool",
        "job_template_variable": "{{ ctx.flow_run.id }}",
        "job_variables": {
            "image": "registry.example/shop:abc123",
            "env": {"API_KEY": "api-key-value"},
        },
    }
    assert extra["triggers"] == [
        {"enabled": True, "parameters": {"name": "{{ event.resource.name }}"}}
    ]


def test_push_names_the_field_that_cannot_be_resolved(write_file: WriteFile) -> None:
    saved_values()
    path = write_file(PUSHED)
    with pytest.raises(TemplateError) as caught:
        push_deployment(path, "web")
    assert "deployment 'web' tags[0]: cannot resolve {{ $ENVIRONMENT }}" in str(caught.value)
    assert str(caught.value).startswith(f"{path}:6:5: ")


def test_resolving_only_some_fields_leaves_the_others_as_written() -> None:
    parsed = load_deployment_file_from_text(
        "deployments:\n  - name: a\n    entrypoint: '{{ $EP }}'\n    tags: ['{{ $NOPE }}']\n"
    )
    resolved = resolve_deployment(
        parsed.deployments[0], TemplateContext(environ={"EP": "f.py:g"}), fields=["entrypoint"]
    )
    assert resolved.entrypoint == "f.py:g"
    assert resolved.extra["tags"] == ["{{ $NOPE }}"]


def load_deployment_file_from_text(text: str) -> DeploymentFile:
    return parse_deployment_file(text, "prefect.yaml")


def test_a_listing_keeps_a_name_that_cannot_be_resolved_as_written(write_file: WriteFile) -> None:
    path = write_file("deployments:\n  - name: '{{ $UNSET_NAME_FOR_LISTING }}'\n")
    assert load_deployment_file(path).deployments[0].name == "{{ $UNSET_NAME_FOR_LISTING }}"
    assert list_deployments(path)[0]["name"] == "{{ $UNSET_NAME_FOR_LISTING }}"
