"""Reading deployment files: sections, overrides, anchors, Prefect's keys, and clear errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from codeferry.deployments import (
    DeploymentFile,
    Step,
    find_deployment_file,
    list_deployments,
    load_deployment_file,
    parse_deployment_file,
)
from codeferry.errors import DeploymentFileError
from tests.deployments.conftest import WriteFile

PREFECT_INIT_TEMPLATE = """\
# Welcome to your prefect.yaml file!
name: my-project
prefect-version: 2.14.3

build: null
push: null

pull:
- prefect.deployments.steps.set_working_directory:
    directory: /opt/prefect/my-project

deployments:
- name: null
  version: null
  tags: []
  description: null
  schedule: {}
  flow_name: null
  entrypoint: null
  parameters: {}
  work_pool:
    name: null
    work_queue_name: null
    job_variables: {}
"""


def parse(text: str) -> DeploymentFile:
    return parse_deployment_file(textwrap.dedent(text), "codeferry.yaml")


def test_prefect_init_template_with_nulls_parses() -> None:
    parsed = parse_deployment_file(PREFECT_INIT_TEMPLATE, "prefect.yaml")
    assert parsed.name == "my-project"
    assert parsed.build == ()
    assert parsed.push == ()
    assert [s.name for s in parsed.pull] == ["prefect.deployments.steps.set_working_directory"]
    assert parsed.pull[0].arguments == {"directory": "/opt/prefect/my-project"}
    (deployment,) = parsed.deployments
    assert deployment.name is None
    assert deployment.entrypoint is None
    assert deployment.pull is None


def test_unknown_prefect_keys_are_kept_not_refused() -> None:
    parsed = parse_deployment_file(PREFECT_INIT_TEMPLATE, "prefect.yaml")
    assert parsed.extra["prefect-version"] == "2.14.3"
    deployment = parsed.deployments[0]
    assert deployment.extra["work_pool"] == {
        "name": None,
        "work_queue_name": None,
        "job_variables": {},
    }
    assert deployment.extra["tags"] == []
    assert "schedule" in deployment.extra


def test_deployment_sections_replace_the_top_level_ones() -> None:
    parsed = parse(
        """
        pull:
          - echo: {where: top}
        push:
          - echo: {where: top-push}
        deployments:
          - name: own
            pull:
              - echo: {where: own}
          - name: inherits
          - name: empties
            pull: []
        """
    )
    own, inherits, empties = parsed.deployments
    assert [s.arguments["where"] for s in parsed.steps("pull", own)] == ["own"]
    assert [s.arguments["where"] for s in parsed.steps("pull", inherits)] == ["top"]
    assert parsed.steps("pull", empties) == ()
    assert [s.arguments["where"] for s in parsed.steps("push", own)] == ["top-push"]


def test_anchors_and_aliases_in_definitions_are_followed() -> None:
    parsed = parse(
        """
        definitions:
          clone: &clone
            git_clone:
              repository: https://example.com/acme/flows.git
              branch: main
          defaults: &defaults
            work_pool: {name: pool}
            pull:
              - *clone
        deployments:
          - name: a
            <<: *defaults
            entrypoint: a.py:a
          - name: b
            <<: *defaults
            entrypoint: b.py:b
            work_pool: {name: other}
        """
    )
    a, b = parsed.deployments
    for deployment in (a, b):
        (step,) = parsed.steps("pull", deployment)
        assert step.name == "git_clone"
        assert step.arguments["branch"] == "main"
    assert a.extra["work_pool"] == {"name": "pool"}
    assert b.extra["work_pool"] == {"name": "other"}
    assert "definitions" in parsed.extra


def test_step_options_are_taken_out_of_the_arguments() -> None:
    parsed = parse(
        """
        pull:
          - prefect_aws.deployments.steps.pull_from_s3:
              id: s3
              requires: prefect-aws>=0.3
              retries: 2
              retry_delay: 0.5
              timeout: 30
              bucket: flows
        """
    )
    (step,) = parsed.pull
    assert step.arguments == {"bucket": "flows"}
    assert (step.id, step.requires, step.retries, step.retry_delay, step.timeout) == (
        "s3",
        ("prefect-aws>=0.3",),
        2,
        0.5,
        30.0,
    )
    assert step.label == "pull step 1 'prefect_aws.deployments.steps.pull_from_s3' (id s3)"


def test_step_round_trips_through_its_mapping() -> None:
    step = Step("echo", {"a": 1}, id="x", requires=("codeferry-local",), retries=1, timeout=2.0)
    again = Step.from_mapping(step.to_mapping())
    assert again == step


def test_step_without_arguments_has_empty_arguments() -> None:
    parsed = parse(
        """
        pull:
          - nothing:
        """
    )
    assert parsed.pull[0].arguments == {}


def test_yaml_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "codeferry.yaml"
    path.write_text("pull:\n  - echo: {a: 1\n  - other: x\n")
    with pytest.raises(DeploymentFileError) as caught:
        load_deployment_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:3:")
    assert "invalid YAML" in message
    assert "\n" not in message


def test_tab_indentation_error_has_its_position(tmp_path: Path) -> None:
    path = tmp_path / "prefect.yaml"
    path.write_text("name: x\npull:\n\t- echo: {}\n")
    with pytest.raises(DeploymentFileError, match=r"prefect\.yaml:3:1: invalid YAML"):
        load_deployment_file(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pull:\n  - a: {}\n    b: {}\n", r"codeferry\.yaml:3:5: pull step 1 'a' has a key beside"),
        ("pull:\n  - just-a-name\n", r"codeferry\.yaml:2:5: pull step 1 must be a mapping .*text"),
        ("build:\n  - x: [1, 2]\n", r"codeferry\.yaml:2:8: build step 1 'x': arguments"),
        ("pull: {a: 1}\n", r"codeferry\.yaml:1:7: pull must be a list of steps"),
        ("- a\n- b\n", r"a deployment file is a mapping, not a list"),
        ("deployments: {a: 1}\n", r"deployments must be a list"),
        ("deployments:\n  - name: [x]\n", r"codeferry\.yaml:2:11: deployment 1 name must be"),
        ("pull:\n  - x: {id: blocks}\n", r"id 'blocks' is reserved"),
        ("pull:\n  - x: {id: 'has space'}\n", r"id 'has space' must be a name"),
        ("pull:\n  - x: {retries: -1}\n", r"retries must be a whole number"),
        ("pull:\n  - x: {retries: true}\n", r"retries must be a whole number"),
        ("pull:\n  - x: {timeout: 0}\n", r"timeout must be a number of seconds > 0"),
        ("pull:\n  - x: {requires: 3}\n", r"requires must be a requirement"),
    ],
)
def test_malformed_file_is_a_one_line_error_saying_where(text: str, expected: str) -> None:
    with pytest.raises(DeploymentFileError, match=expected) as caught:
        parse_deployment_file(text, "codeferry.yaml")
    assert "\n" not in str(caught.value)


def test_empty_file_has_no_steps_and_no_deployments() -> None:
    parsed = parse_deployment_file("", "codeferry.yaml")
    assert (parsed.pull, parsed.deployments) == ((), ())


def test_codeferry_yaml_is_found_before_prefect_yaml(tmp_path: Path) -> None:
    (tmp_path / "prefect.yaml").write_text("name: p\n")
    assert find_deployment_file(tmp_path).name == "prefect.yaml"
    (tmp_path / "codeferry.yaml").write_text("name: c\n")
    assert find_deployment_file(tmp_path).name == "codeferry.yaml"


def test_missing_default_file_says_how_to_give_one(tmp_path: Path) -> None:
    with pytest.raises(DeploymentFileError, match=r"no codeferry\.yaml or prefect\.yaml .*FILE"):
        find_deployment_file(tmp_path)


def test_missing_named_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DeploymentFileError, match="does not exist"):
        load_deployment_file(tmp_path / "nope.yaml")


def test_unknown_deployment_lists_the_known_ones(write_file: WriteFile) -> None:
    parsed = load_deployment_file(
        write_file(
            """
            deployments:
              - name: a
              - name: b
            """
        )
    )
    with pytest.raises(DeploymentFileError, match="has no deployment 'c'; it has: a, b"):
        parsed.deployment("c")


def test_choosing_among_deployments_with_own_pull_steps_needs_a_name(
    write_file: WriteFile,
) -> None:
    parsed = load_deployment_file(
        write_file(
            """
            pull: [{echo: {}}]
            deployments:
              - name: a
                pull: [{nothing: {}}]
              - name: b
            """
        )
    )
    with pytest.raises(DeploymentFileError, match="choose one with --deployment NAME"):
        parsed.select(None, "pull")
    assert parsed.select(None, "push") is None
    assert parsed.select("b", "pull") is parsed.deployments[1]


def test_list_deployments_gives_each_with_its_effective_steps(write_file: WriteFile) -> None:
    path = write_file(
        """
        pull: [{echo: {}}]
        deployments:
          - name: a
            entrypoint: flows/a.py:a
            description: The A flow
          - name: b
            entrypoint: flows/b.py:b
            pull: [{nothing: {}}, {echo: {}}]
        """
    )
    assert list_deployments(path) == [
        {
            "name": "a",
            "entrypoint": "flows/a.py:a",
            "description": "The A flow",
            "build": [],
            "push": [],
            "pull": ["echo"],
        },
        {
            "name": "b",
            "entrypoint": "flows/b.py:b",
            "description": None,
            "build": [],
            "push": [],
            "pull": ["nothing", "echo"],
        },
    ]
