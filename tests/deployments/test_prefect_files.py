"""Real-world ``prefect.yaml`` shapes: they parse, and every step resolves or names its plugin."""

from __future__ import annotations

import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from codeferry.deployments import SECTIONS, Step, parse_deployment_file
from codeferry.errors import MissingPluginError
from codeferry.plugins import Plugins
from codeferry.steps.resolution import resolve_step

# One file a shape, named for it: the shapes are data, kept as the YAML users write.
SHAPES = {
    path.stem: path.read_text()
    for path in Path(__file__).with_name("prefect_shapes").glob("*.yaml")
}
DOCKER = SHAPES["docker"]

# Which distribution provides each Prefect step name (None: core or codeferry-local).
PROVIDERS = {
    "prefect.deployments.steps.git_clone": "codeferry-git",
    "prefect.deployments.steps.pip_install_requirements": None,
    "prefect.deployments.steps.run_shell_script": None,
    "prefect.deployments.steps.set_working_directory": None,
    "prefect.deployments.steps.pull_from_remote_storage": None,
    "prefect_aws.deployments.steps.push_to_s3": "codeferry-s3",
    "prefect_aws.deployments.steps.pull_from_s3": "codeferry-s3",
    "prefect_gcp.deployments.steps.push_to_gcs": "codeferry-gcs",
    "prefect_gcp.deployments.steps.pull_from_gcs": "codeferry-gcs",
    "prefect_azure.deployments.steps.push_to_azure_blob_storage": "codeferry-azure",
    "prefect_azure.deployments.steps.pull_from_azure_blob_storage": "codeferry-azure",
    "prefect_docker.deployments.steps.build_docker_image": "codeferry-docker",
    "prefect_docker.deployments.steps.push_docker_image": "codeferry-docker",
}


def all_steps(text: str) -> list[Step]:
    parsed = parse_deployment_file(textwrap.dedent(text), "prefect.yaml")
    found = [step for section in SECTIONS for step in getattr(parsed, section)]
    for deployment in parsed.deployments:
        found += [step for section in SECTIONS for step in getattr(deployment, section) or ()]
    return found


def installed(distribution: str) -> bool:
    try:
        metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_prefect_file_shape_parses_with_its_deployment(shape: str) -> None:
    parsed = parse_deployment_file(textwrap.dedent(SHAPES[shape]), "prefect.yaml")
    assert parsed.deployments
    assert parsed.deployments[0].entrypoint == "flows/etl.py:etl"
    assert all(step.name in PROVIDERS for step in all_steps(SHAPES[shape]))


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_each_step_resolves_or_names_the_plugin_to_install(plugins: Plugins, shape: str) -> None:
    """With only core and codeferry-local, other plugins' steps give their install hint."""
    for step in all_steps(SHAPES[shape]):
        provider = PROVIDERS[step.name]
        if provider is None or step.name in plugins.steps:
            assert resolve_step(step, plugins=plugins).function is not None
            continue
        with pytest.raises(MissingPluginError) as caught:
            resolve_step(step, plugins=plugins)
        assert caught.value.distribution == provider
        assert str(caught.value).endswith(f"install it with: pip install {provider}")


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_each_step_resolves_once_its_plugin_is_installed(shape: str) -> None:
    """With the plugins installed on this machine: a step whose plugin is installed resolves."""
    everything = Plugins()
    for step in all_steps(SHAPES[shape]):
        provider = PROVIDERS[step.name]
        if provider is None or installed(provider):
            if step.name not in everything.steps and provider is not None:
                pytest.fail(f"{provider} is installed but does not register {step.name}")
            assert resolve_step(step, plugins=everything).function is not None
        else:
            with pytest.raises(MissingPluginError, match=f"pip install {provider}"):
                resolve_step(step, plugins=everything)


def test_run_shell_script_from_a_prefect_build_section_runs(plugins: Plugins) -> None:
    from codeferry.steps.engine import run_steps

    text = DOCKER.replace("git rev-parse --short HEAD", "echo 3f2a1bc")
    parsed = parse_deployment_file(textwrap.dedent(text), "prefect.yaml")
    result = run_steps(parsed.build[:1], plugins=plugins)
    assert result.outputs["get-commit-hash"]["stdout"] == "3f2a1bc"


def test_docker_work_pool_anchor_is_kept_for_prefect() -> None:
    parsed = parse_deployment_file(textwrap.dedent(DOCKER), "prefect.yaml")
    assert parsed.deployments[0].extra["work_pool"] == {
        "name": "docker-pool",
        "job_variables": {"image": "{{ build-image.image }}"},
    }
