"""``codeferry deployment check``: every problem of a file, with its place, before anything runs."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from codeferry.checks import check_deployment_file
from codeferry.deployments import Problem, load_deployment_file, parse_deployment_file
from codeferry.errors import DeploymentFileError
from codeferry.plugins import Plugins, set_plugins
from codeferry.positions import load_yaml
from codeferry.runs import pull_deployment, push_deployment, run_deployment
from codeferry.store import get_store
from tests.deployments import fake_steps
from tests.deployments.conftest import HELLO_FILE, WriteFile
from tests.deployments.test_cli import invoke_app as invoke

pytestmark = pytest.mark.usefixtures("steps_plugins")


def check(write_file: WriteFile, text: str, **options: object) -> list[Problem]:
    return check_deployment_file(write_file(text), environ={}, **options)  # type: ignore[arg-type]


def summary(problems: list[Problem]) -> list[tuple[str, int, int, str]]:
    return [(p.severity, p.line, p.column, p.kind) for p in problems]


def pointed(problems: list[Problem]) -> list[tuple[str, str, str]]:
    """Each problem's severity, kind, and the text its line and column point at (to line end)."""
    found = []
    for problem in problems:
        line = Path(problem.file).read_text().splitlines()[problem.line - 1]
        found.append((problem.severity, problem.kind, line[problem.column - 1 :]))
    return found


def assert_points(problems: list[Problem], expected: list[tuple[str, str, str]]) -> None:
    """Severity, kind, and what each problem points at starts with the text expected."""
    found = pointed(problems)
    assert [(s, k) for s, k, _ in found] == [(s, k) for s, k, _ in expected], found
    for (_, _, text), (_, _, start) in zip(found, expected, strict=True):
        assert text.startswith(start), (text, start)


def assert_table(problems: list[Problem], table: str) -> None:
    """:func:`assert_points`, the rows written one a line as ``SEVERITY KIND TEXT`` (as corpus
    files say them)."""
    rows = [line.split(maxsplit=2) for line in table.strip().splitlines()]
    assert_points(problems, [(severity, kind, text) for severity, kind, text in rows])


CLEAN = """
build:
  - outputs:
      id: image
      name: acme/flows
push:
  - echo:
      id: pushed
      image: "{{ image.name }}"
pull:
  - pull_from_directory:
      id: code
      path: src
  - echo:
      where: "{{ code.directory }}"
      image: "{{ pushed.image }}"
deployments:
  - name: hello
    entrypoint: flows/hello.py:hello
    parameters: {name: "{{ image.name }}"}
"""


def test_a_clean_file_has_no_problems(write_file: WriteFile) -> None:
    assert check(write_file, CLEAN) == []


# -- what reading finds ------------------------------------------------------------------------


CONFLICTED = """\
pull:
<<<<<<< HEAD
  - pull_from_directory: {path: src}
=======
  - pull_from_directory: {path: lib}
>>>>>>> feature
"""


def test_merge_conflict_markers_are_named_at_their_lines(write_file: WriteFile) -> None:
    problems = check(write_file, CONFLICTED)
    assert summary(problems) == [
        ("error", 2, 1, "merge-conflict"),
        ("error", 4, 1, "merge-conflict"),
        ("error", 6, 1, "merge-conflict"),
    ]
    assert "'<<<<<<< HEAD' (start of a git merge conflict)" in problems[0].message


def test_loading_a_conflicted_file_names_the_first_marker_not_the_parsers_position(
    write_file: WriteFile,
) -> None:
    with pytest.raises(DeploymentFileError, match=r"codeferry\.yaml:2:1: git merge-conflict"):
        load_deployment_file(write_file(CONFLICTED))


def test_a_yaml_error_has_its_line_and_column(write_file: WriteFile) -> None:
    problems = check(write_file, "pull:\n  - echo: {a: 1\n  - other: x\n")
    assert summary(problems)[0][:2] == ("error", 3)
    assert problems[0].message.startswith("invalid YAML")


MIS_INDENTED = """
deployments:
  - name: broken
    entrypoint: flows/hello.py:hello
    pull:
      - pull_from_directory:
        path: src
  - name: fine
    entrypoint: flows/hello.py:hello
    pull:
      - pull_from_directory: {path: src}
      - echo:
          a: 1
        b: 2
"""


def test_every_mis_indented_step_is_named_with_its_deployment_and_stray_keys(
    write_file: WriteFile,
) -> None:
    problems = check(write_file, MIS_INDENTED)
    assert summary(problems) == [("error", 7, 9, "stray-keys"), ("error", 14, 9, "stray-keys")]
    assert problems[0].message.startswith(
        "pull step 1 of deployment 'broken' 'pull_from_directory' has a key beside the step "
        "name: 'path'"
    )
    assert "indent it under pull_from_directory:" in problems[0].message
    assert "pull step 2 of deployment 'fine' 'echo' has a key beside the step name: 'b'" in (
        problems[1].message
    )
    assert (problems[0].deployment_name, problems[1].deployment_name) == ("broken", "fine")


def test_a_mis_indented_step_in_one_deployment_does_not_stop_another(
    write_file: WriteFile, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_file(MIS_INDENTED.replace("        b: 2\n", ""))
    with caplog.at_level(logging.WARNING, logger="codeferry.checks"):
        result = pull_deployment(path, "fine")
    assert (result.directory / "flows" / "hello.py").is_file()
    assert "indent it under pull_from_directory: (not run by this command)" in caplog.text
    assert ":7:9: warning: pull step 1 of deployment 'broken'" in caplog.text


def test_an_error_in_the_chosen_deployment_stops_it_before_any_step_runs(
    write_file: WriteFile,
) -> None:
    text = """
    pull:
      - echo: {a: 1}
      - echo: {b: "{{ nowhere.x }}"}
      - nothing: {unexpected: 1}
    """
    with pytest.raises(DeploymentFileError) as caught:
        pull_deployment(write_file(text))
    assert fake_steps.CALLS == []
    message = str(caught.value)
    assert ":4:16: pull step 2 'echo': {{ nowhere.x }}: no step with the id 'nowhere'" in message
    assert "(and 1 more error: codeferry deployment check -f " in message
    assert "\n" not in message


def test_a_build_error_is_a_warning_for_pull_and_an_error_for_push(
    write_file: WriteFile, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_file("build:\n  - no_such_step: {}\npull:\n  - echo: {a: 1}\n")
    with caplog.at_level(logging.WARNING, logger="codeferry.checks"):
        pull_deployment(path)
    assert "no_such_step" in caplog.text
    assert fake_steps.CALLS == [("echo", {"a": 1})]
    with pytest.raises(DeploymentFileError, match="no_such_step"):
        push_deployment(path)


def test_empty_and_null_step_entries_are_skipped_as_prefect_skips_them(
    write_file: WriteFile, caplog: pytest.LogCaptureFixture
) -> None:
    text = "pull:\n  -\n  - {}\n  - echo: {a: 1}\n  - null\n"
    parsed = parse_deployment_file(text, "codeferry.yaml")
    assert [(step.name, step.index) for step in parsed.pull] == [("echo", 3)]
    assert summary(check(write_file, text)) == [
        ("warning", 2, 4, "empty-step"),
        ("warning", 3, 5, "empty-step"),
        ("warning", 5, 5, "empty-step"),
    ]
    with caplog.at_level(logging.WARNING, logger="codeferry.checks"):
        pull_deployment(write_file(text))
    assert fake_steps.CALLS == [("echo", {"a": 1})]
    assert caplog.text == ""  # Prefect says nothing either; only check mentions them


# Deployments 1 and 3 (lines 5 and 9) are both called daily.
TWINS = HELLO_FILE.replace("name: hello", "name: daily") + (
    "  - name: other\n    entrypoint: flows/hello.py:where\n"
    "  - name: daily\n    entrypoint: flows/hello.py:where\n"
)


def test_two_deployments_with_one_name_are_refused_instead_of_the_first_winning(
    write_file: WriteFile,
) -> None:
    path = write_file(TWINS)
    with pytest.raises(DeploymentFileError) as caught:
        run_deployment(path, "daily")
    assert "deployments 1 (line 5) and 3 (line 9) are both called 'daily'" in str(caught.value)
    assert "choose one as FLOW/NAME: hello/daily, where/daily" in str(caught.value)
    assert Path(run_deployment(path, "where/daily")).name != "project"  # where() ran in the pull
    assert run_deployment(path, "other")  # the twins do not stop the others


def test_twins_that_prefect_tells_apart_are_a_warning_and_true_twins_an_error(
    write_file: WriteFile,
) -> None:
    assert {p.severity for p in check(write_file, TWINS)} == {"warning"}
    same_flow = TWINS.replace("hello.py:where\n", "hello.py:hello\n")
    problems = check(write_file, same_flow)
    assert summary(problems) == [
        ("error", 5, 11, "duplicate-deployment"),
        ("error", 9, 11, "duplicate-deployment"),
    ]
    assert problems[0].message.endswith("give each its own name")


def test_a_key_written_twice_is_a_warning(write_file: WriteFile) -> None:
    problems = check(write_file, "pull:\n  - echo: {a: 1}\npull:\n  - echo: {b: 1}\n")
    assert summary(problems) == [("warning", 3, 1, "duplicate-key")]
    assert "'pull' is written twice in one mapping (first at line 1)" in problems[0].message


# -- steps and their arguments -----------------------------------------------------------------


def test_an_unknown_step_gets_the_install_hint_or_the_name_meant(write_file: WriteFile) -> None:
    text = """
    pull:
      - prefect_aws.deployments.steps.pull_from_s3: {bucket: b}
      - pull_from_directry: {path: src}
      - prefect.projects.steps.set_working_directory: {directory: src}
    """
    problems = check(write_file, text)
    assert_table(
        problems,
        """
        error unknown-step prefect_aws.deployments
        error unknown-step pull_from_directry
        warning deprecated-step prefect.projects
        """,
    )
    assert problems[0].message.endswith("install it with: pip install codeferry-s3")
    assert problems[1].message.endswith("did you mean 'pull_from_directory'?")
    assert problems[2].message.endswith(
        "a name Prefect deprecated; it runs 'prefect.deployments.steps.set_working_directory': "
        "write that name instead"
    )


def test_an_import_path_step_is_not_imported_by_check(write_file: WriteFile) -> None:
    text = "pull:\n  - tests.deployments.never_imported.step: {}\n"
    assert summary(check(write_file, text)) == [("error", 2, 5, "unknown-step")]
    assert check(write_file, text, allow_import_steps=True) == []


def test_arguments_that_do_not_fit_the_signature_are_named(write_file: WriteFile) -> None:
    text = """
    pull:
      - flaky:
          key: k
          failurs: 2
      - pull_from_directory: {}
      - nothing: {anything: 1}
      - echo: {whatever: 1, 2: x}
    """
    problems = check(write_file, text)
    assert_table(
        problems,
        """
        error arguments flaky:
        error arguments failurs: 2
        error arguments pull_from_directory: {}
        error arguments anything: 1
        error arguments 2: x
        """,
    )
    assert "the argument 'failures' is required" in problems[0].message
    assert "'failurs' is not an argument of this step; did you mean 'failures'?" in (
        problems[1].message
    )
    assert "the argument 'path' is required" in problems[2].message
    assert "(it takes: nothing)" in problems[3].message
    assert "argument names are text, not 2" in problems[4].message


def test_a_value_of_the_wrong_kind_is_a_warning_and_a_template_fits_any(
    write_file: WriteFile,
) -> None:
    text = """
    pull:
      - pull_from_directory: {id: a, path: {nested: 1}}
      - flaky: {key: "{{ a.directory }}", failures: "{{ $N }}"}
      - flaky: {key: k, failures: two}
    """
    problems = check(write_file, text)
    assert_table(
        problems,
        """
        warning argument-type path: {nested
        warning missing-env {{ $N }}
        warning argument-type failures: two
        """,
    )
    assert "'path' takes text, not a mapping" in problems[0].message
    assert "'failures' takes int, not the text 'two'" in problems[2].message


def test_an_id_used_twice_in_one_run_is_an_error(write_file: WriteFile) -> None:
    text = "build:\n  - echo: {id: x}\npush:\n  - echo: {id: x}\npull:\n  - echo: {id: x}\n"
    problems = check(write_file, text)
    assert_points(problems, [("error", "step-id", "id: x}")])
    assert "push step 1 'echo' (id x): id 'x' is already used by build step 1" in (
        problems[0].message
    )


def test_a_top_level_section_every_deployment_replaces_is_still_checked(
    write_file: WriteFile,
) -> None:
    text = """
    pull:
      - no_such_step: {}
    deployments:
      - name: own
        entrypoint: flows/hello.py:hello
        pull:
          - pull_from_directory: {path: src}
    """
    assert_points(check(write_file, text), [("error", "unknown-step", "no_such_step")])


def test_a_step_relying_on_prefects_working_folder_is_a_warning(write_file: WriteFile) -> None:
    text = """
    pull:
      - pull_from_directory: {id: code, path: src}
      - run_shell_script: {script: "true", directory: flows}
      - pip_install_requirements: {}
      - pip_install_requirements: {directory: "{{ code.directory }}"}
      - set_working_directory: {directory: "{{ code.directory }}"}
    """
    problems = check(write_file, text)
    assert_table(
        problems,
        """
        warning working-folder flows}
        warning working-folder pip_install_requirements: {}
        """,
    )
    assert "reads the folder 'flows' next to the deployment file, not where pull step 1" in (
        problems[0].message
    )
    assert problems[1].message.endswith('give it directory: "{{ code.directory }}"')


# -- template references -----------------------------------------------------------------------


def test_step_ids_must_be_defined_before_the_step_that_uses_them(write_file: WriteFile) -> None:
    text = """
    build:
      - echo: {id: built, x: "{{ pulled.directory }}"}
    push:
      - echo: {id: pushed, x: "{{ built.x }}"}
    pull:
      - echo: {x: "{{ later.y }} and {{ pushed.x }} and {{ built.x }}"}
      - echo: {id: later, x: "{{ prefect.deployment.name }}"}
      - echo: {id: pulled}
    """
    problems = check(write_file, text)
    assert_table(
        problems,
        """
        error reference {{ pulled.directory }}
        error reference {{ later.y }} and
        error reference {{ prefect.deployment.name }}
        """,
    )
    assert "'pulled' is the id of pull step 3 'echo' (id pulled), which does not run" in (
        problems[0].message
    )
    assert "{{ later.y }}: 'later' is the id of pull step 2" in problems[1].message
    assert "only prefect.blocks and prefect.variables are understood" in problems[2].message


def test_a_misspelt_step_id_gets_the_id_meant(write_file: WriteFile) -> None:
    text = "pull:\n  - echo: {id: clone-step}\n  - echo: {x: '{{ clone_step.directory }}'}\n"
    problems = check(write_file, text)
    assert_points(problems, [("error", "reference", "{{ clone_step.directory }}")])
    assert problems[0].message.endswith("did you mean 'clone-step'?")
    unsure = "pull:\n  - echo: {id: clone-step}\n  - echo: {x: '{{ repo.url }}'}\n"
    assert_points(check(write_file, unsure), [("warning", "reference", "{{ repo.url }}")])


def test_references_in_a_deployments_fields_see_build_and_push_outputs(
    write_file: WriteFile,
) -> None:
    text = """
    build:
      - outputs: {id: image, name: x}
    pull:
      - outputs: {id: code}
    deployments:
      - name: etl
        entrypoint: flows/hello.py:hello
        parameters:
          image: "{{ image.name }}"
          code: "{{ code.directory }}"
        work_pool:
          job_variables: {env: {TOKEN: "{{ $TOKEN }}"}}
    """
    problems = check(write_file, text)
    assert_table(
        problems,
        """
        error reference {{ code.directory }}
        warning missing-env {{ $TOKEN }}
        """,
    )
    assert problems[0].message.startswith("deployment 'etl' parameters.code: {{ code.directory }}")
    assert problems[1].message.startswith("deployment 'etl' work_pool.job_variables.env.TOKEN:")


def test_block_types_and_their_fields_are_known_offline(write_file: WriteFile) -> None:
    text = """
    pull:
      - echo:
          a: "{{ prefect.blocks.fake-repository.main.credentials.username }}"
          b: "{{ prefect.blocks.fake-repository.main.credentials.usrname }}"
          c: "{{ prefect.blocks.aws-credentials.prod }}"
          d: "{{ prefect.blocks.no-such-type.x }}"
          e: "{{ prefect.blocks.secret.token.any.key }}"
          f: "{{ blocks.fake-repository }}"
    """
    problems = [p for p in check(write_file, text) if p.kind != "missing-block"]
    assert_table(
        problems,
        """
        error reference {{ prefect.blocks.fake-repository.main.credentials.usrname
        error block-type {{ prefect.blocks.aws-credentials.prod }}
        error block-type {{ prefect.blocks.no-such-type.x }}
        error reference {{ blocks.fake-repository }}
        """,
    )
    assert "block type 'fake-repository' field credentials has no field 'usrname'" in (
        problems[0].message
    )
    assert problems[1].message.endswith("install it with: pip install codeferry-s3")
    assert "no block type 'no-such-type' is known" in problems[2].message
    assert "a block reference is prefect.blocks.TYPE.NAME" in problems[3].message


def test_blocks_variables_and_environment_missing_here_are_warnings(
    write_file: WriteFile,
) -> None:
    text = """
    pull:
      - echo:
          a: "{{ prefect.blocks.fake-credentials.saved.username }}"
          b: "{{ prefect.blocks.fake-credentials.unsaved }}"
          c: "{{ prefect.variables.set }} {{ prefect.variables.unset }}"
          d: "{{ $PRESENT }}/{{ $ABSENT }}"
    """
    fake_steps.FakeCredentials(username="u", token="t").save("saved")
    get_store().set_variable("set", "x")
    problems = check_deployment_file(write_file(text), environ={"PRESENT": "1"})
    assert_table(
        problems,
        """
        warning missing-block {{ prefect.blocks.fake-credentials.unsaved }}
        warning missing-variable {{ prefect.variables.unset }}
        warning missing-env {{ $ABSENT }}
        """,
    )
    assert "codeferry block create fake-credentials unsaved" in problems[0].message
    assert "no variable 'unset' is set on this machine" in problems[1].message
    assert "the environment variable ABSENT is not set here" in problems[2].message


def test_a_shared_store_is_not_contacted(
    write_file: WriteFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEFERRY_DATABASE_URL", "postgresql+psycopg://u:p@127.0.0.1:9/nowhere")
    text = "pull:\n  - echo: {a: '{{ prefect.variables.v }}'}\n"
    assert check(write_file, text) == []


def test_check_does_not_create_the_store(write_file: WriteFile, codeferry_home: Path) -> None:
    check(write_file, "pull:\n  - echo: {a: '{{ prefect.variables.v }}'}\n")
    assert not (codeferry_home / "codeferry.db").exists()


def test_check_of_one_deployment_leaves_the_others_out(write_file: WriteFile) -> None:
    problems = check(write_file, MIS_INDENTED, deployment="fine")
    assert [p.deployment_name for p in problems] == ["fine"]


# -- the command -------------------------------------------------------------------------------


def test_check_command_prints_errors_on_stdout_warnings_on_stderr_and_exits_1(
    write_file: WriteFile,
) -> None:
    path = write_file("pull:\n  -\n  - nothing: {x: 1}\n")
    result = invoke("deployment", "check", "-f", str(path))
    assert result.exit_code == 1
    assert result.stdout == (
        f"{path}:3:15: error: pull step 2 'nothing': 'x' is not an argument of this step "
        "(it takes: nothing)\n"
    )
    assert f"{path}:2:4: warning: pull step 1 is empty" in result.stderr
    assert result.stderr.strip().endswith("1 error, 1 warning")


def test_check_command_exits_0_on_a_clean_file_and_prints_json(write_file: WriteFile) -> None:
    path = write_file(CLEAN)
    result = invoke("deployment", "check", "-f", str(path))
    assert (result.exit_code, result.stdout) == (0, "")
    assert "no problems found" in result.stderr
    answer = json.loads(invoke("deployment", "check", "-f", str(path), "--json").stdout)
    assert answer == {"errors": 0, "warnings": 0, "problems": []}


def test_check_command_json_lists_every_problem_with_its_place(write_file: WriteFile) -> None:
    path = write_file(MIS_INDENTED)
    result = invoke("deployment", "check", "-f", str(path), "--json")
    assert result.exit_code == 1
    answer = json.loads(result.stdout)
    assert answer["errors"] == 2
    assert [(p["line"], p["column"], p["deployment"]) for p in answer["problems"]] == [
        (7, 9, "broken"),
        (14, 9, "fine"),
    ]


def test_check_command_on_a_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    result = invoke("deployment", "check", "-f", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 1
    missing = tmp_path / "nope.yaml"
    assert result.stderr.strip() == f"Error: deployment file {missing} does not exist"


def test_the_documented_example_prints_what_the_docs_show(write_file: WriteFile) -> None:
    page = (Path(__file__).parents[2] / "docs" / "deployment-file.md").read_text()
    section = page.split("## Checking a file", 1)[1]
    example = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    shown = section.split("```console\n", 1)[1].split("```", 1)[0].splitlines()[1:]
    path = write_file(example, "prefect.yaml")
    with_git = Plugins(
        {name: f"codeferry_{name}.plugin" for name in ("local", "git", "github")},
        entry_points=False,
    )
    previous = set_plugins(with_git)
    try:
        result = invoke("deployment", "check", "-f", str(path))
    finally:
        set_plugins(previous)
    printed = sorted(
        result.stdout.splitlines() + result.stderr.splitlines()[:-1],
        key=lambda line: int(line.split(":")[1]),
    )
    assert [line.replace(str(path), "/srv/etl/prefect.yaml") for line in printed] == shown[:-1]
    assert result.stderr.splitlines()[-1] == shown[-1]


# -- properties --------------------------------------------------------------------------------

_scalars = st.one_of(
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")), max_size=12),
)
_keys = st.text(st.characters(min_codepoint=97, max_codepoint=122), min_size=1, max_size=6)
_documents = st.recursive(
    _scalars,
    lambda children: st.one_of(
        st.lists(children, min_size=1, max_size=3),
        st.dictionaries(_keys, children, min_size=1, max_size=3),
    ),
    max_leaves=12,
)


Leaf = tuple[tuple[object, ...], object]


def _leaves(value: object, path: tuple[object, ...] = ()) -> list[Leaf]:
    if isinstance(value, dict):
        return [leaf for key, item in value.items() for leaf in _leaves(item, (*path, key))]
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value) for leaf in _leaves(item, (*path, index))]
    return [(path, value)]


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_keys, _documents, min_size=1, max_size=4))
def test_every_scalar_is_found_where_it_is_written(document: dict[str, object]) -> None:
    import yaml

    text = yaml.safe_dump(document, default_flow_style=False, allow_unicode=True, width=10**6)
    data, positions = load_yaml(text)
    assert data == yaml.safe_load(text)
    lines = text.splitlines()
    for path, value in _leaves(data):
        where = positions.of(path)
        rest = lines[where.line - 1][where.column - 1 :]
        # the scalar's own text starts there (and, in block style, runs to the end of the line)
        assert yaml.safe_load(rest) == value, (path, rest)
        key = positions.of_key(path)
        if isinstance(path[-1], str):
            assert list(yaml.safe_load(lines[key.line - 1][key.column - 1 :])) == [path[-1]]


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["name", "pull", "build", "deployments", "x"]), _documents))
def test_reading_any_mapping_never_raises_and_places_every_problem(
    document: dict[str, object],
) -> None:
    import yaml

    text = yaml.safe_dump(document, allow_unicode=True)
    parsed = parse_deployment_file(text, "prefect.yaml", strict=False)
    lines = len(text.splitlines())
    for problem in parsed.problems:
        assert 1 <= problem.line <= max(lines, 1), problem
        assert problem.column >= 1
        assert "\n" not in problem.message
