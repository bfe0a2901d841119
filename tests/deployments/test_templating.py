"""Templates in step arguments: the parser, and each kind of reference."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from codeferry.blocks import Secret
from codeferry.errors import TemplateError
from codeferry.steps.outputs import StepOutputs
from codeferry.store import get_store
from codeferry.templating import (
    Reference,
    TemplateContext,
    find_references,
    parse_reference,
    parse_template,
    resolve_templates,
)
from tests.deployments.fake_steps import FakeCredentials, FakeRepository

# -- the parser ----------------------------------------------------------------------------------

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,10}", fullmatch=True)
segments = st.from_regex(r"[A-Za-z0-9_-]{1,10}", fullmatch=True)
references = st.one_of(
    names.map(lambda n: "$" + n.replace("-", "_")),
    st.builds(lambda a, rest: ".".join([a, *rest]), names, st.lists(segments, max_size=4)),
)
plain_text = st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=30)


@given(st.lists(st.one_of(plain_text, references.map(lambda r: ("ref", r))), max_size=6))
def test_parsed_template_joins_back_to_the_text(pieces: list[Any]) -> None:
    text = "".join(f"{{{{ {p[1]} }}}}" if isinstance(p, tuple) else p for p in pieces)
    parts = parse_template(text)
    assert "".join(p if isinstance(p, str) else p.source for p in parts) == text
    found = [p.text for p in parts if isinstance(p, Reference)]
    assert found == [p[1] for p in pieces if isinstance(p, tuple)]


@given(st.text(max_size=60))
def test_any_text_parses_and_joins_back(text: str) -> None:
    parts = parse_template(text)
    assert "".join(p if isinstance(p, str) else p.source for p in parts) == text


@given(plain_text)
def test_text_without_references_resolves_to_itself(text: str) -> None:
    assert resolve_templates(text, TemplateContext(environ={})) == text


@given(references, st.sampled_from(["", " ", "  ", "\t"]))
def test_spaces_inside_the_braces_do_not_matter(reference: str, space: str) -> None:
    parsed = parse_reference(f"{space}{reference}{space}")
    assert parsed is not None
    assert parsed.text == reference


@pytest.mark.parametrize(
    ("text", "kind", "path"),
    [
        ("$HOME", "env", ("HOME",)),
        ("blocks.secret.token", "block", ("secret", "token")),
        ("prefect.blocks.github-credentials.my-creds", "block", ("github-credentials", "my-creds")),
        (
            "blocks.s3-bucket.prod.credentials.key",
            "block",
            ("s3-bucket", "prod", "credentials", "key"),
        ),
        ("variables.branch", "variable", ("branch",)),
        ("prefect.variables.branch", "variable", ("branch",)),
        ("clone.directory", "output", ("clone", "directory")),
        ("build.tags[1]", "output", ("build", "tags", 1)),
        ("directory", "output", ("directory",)),
    ],
)
def test_reference_kinds(text: str, kind: str, path: tuple[Any, ...]) -> None:
    parsed = parse_reference(text)
    assert parsed is not None
    assert (parsed.kind, parsed.path) == (kind, path)


@pytest.mark.parametrize("text", [".Config.Image", "json .", "a b", "", "1abc", "$", "a..b"])
def test_braces_around_something_else_are_not_references(text: str) -> None:
    assert parse_reference(text) is None
    assert resolve_templates(f"x {{{{{text}}}}} y", TemplateContext(environ={})) == (
        f"x {{{{{text}}}}} y"
    )


def test_go_template_in_a_script_is_left_alone() -> None:
    script = "docker inspect --format '{{.Config.Image}}' {{ $IMAGE }}"
    resolved = resolve_templates(script, TemplateContext(environ={"IMAGE": "acme/flows"}))
    assert resolved == "docker inspect --format '{{.Config.Image}}' acme/flows"


def test_find_references_looks_through_nested_values() -> None:
    value = {"a": ["{{ $X }}", {"b": "pre {{ s.out }} post"}], "c": 3}
    assert [r.text for r in find_references(value)] == ["$X", "s.out"]


# -- resolution ----------------------------------------------------------------------------------


def context(**kwargs: Any) -> TemplateContext:
    return TemplateContext(environ=kwargs.pop("environ", {}), **kwargs)


def test_environment_variable_is_interpolated_and_whole_values_stay_strings() -> None:
    ctx = context(environ={"BRANCH": "main", "N": "3"})
    assert resolve_templates("refs/{{ $BRANCH }}", ctx) == "refs/main"
    assert resolve_templates("{{ $N }}", ctx) == "3"


def test_missing_environment_variable_is_an_error_naming_step_and_reference() -> None:
    with pytest.raises(TemplateError) as caught:
        resolve_templates({"x": "{{ $NOPE }}"}, context(), step="pull step 2 'git_clone'")
    assert str(caught.value) == (
        "pull step 2 'git_clone': cannot resolve {{ $NOPE }}: environment variable NOPE is not set"
    )


def test_environment_variables_named_like_secrets_are_remembered_as_secrets() -> None:
    ctx = context(environ={"GITHUB_TOKEN": "ghp_abcdef", "BRANCH": "main"})
    resolve_templates(["{{ $GITHUB_TOKEN }}", "{{ $BRANCH }}"], ctx)
    assert ctx.secrets == {"ghp_abcdef"}


def test_step_outputs_by_id_keep_their_type_and_interpolate_as_text() -> None:
    outputs = StepOutputs()
    outputs.add(
        "pull step 1 'a'", "clone", {"directory": "/code", "files": 3, "meta": {"k": [1, 2]}}
    )
    ctx = context(outputs=outputs)
    assert resolve_templates("{{ clone.files }}", ctx) == 3
    assert resolve_templates("{{ clone.meta }}", ctx) == {"k": [1, 2]}
    assert resolve_templates("{{ clone.meta.k[1] }}", ctx) == 2
    assert resolve_templates("cd {{ clone.directory }} ({{ clone.files }})", ctx) == "cd /code (3)"
    assert resolve_templates("{{ clone }}", ctx) == {
        "directory": "/code",
        "files": 3,
        "meta": {"k": [1, 2]},
    }


def test_templates_resolve_recursively_through_dicts_and_lists() -> None:
    ctx = context(environ={"A": "1", "B": "2"})
    value = {"list": ["{{ $A }}", {"deep": "{{ $B }}-x"}], "n": 5, "none": None}
    assert resolve_templates(value, ctx) == {"list": ["1", {"deep": "2-x"}], "n": 5, "none": None}


def test_unknown_step_id_is_an_error() -> None:
    with pytest.raises(TemplateError, match="no earlier step has the id or returned the output"):
        resolve_templates("{{ clone.directory }}", context(outputs=StepOutputs()), step="s")


def test_missing_output_key_lists_the_outputs_there_are() -> None:
    outputs = StepOutputs()
    outputs.add("a", "clone", {"directory": "/code"})
    with pytest.raises(
        TemplateError, match=r"step 'clone' has no key 'commit' \(it has: directory\)"
    ):
        resolve_templates("{{ clone.commit }}", context(outputs=outputs), step="s")


def test_bare_output_key_resolves_when_one_step_returned_it() -> None:
    outputs = StepOutputs()
    outputs.add("a", None, {"directory": "/code", "image": "x:1"})
    assert resolve_templates("{{ image }}", context(outputs=outputs)) == "x:1"


def test_bare_output_key_returned_differently_by_two_steps_is_ambiguous() -> None:
    outputs = StepOutputs()
    outputs.add("pull step 1 'a'", None, {"version": "1"})
    outputs.add("pull step 2 'b'", None, {"version": "2"})
    with pytest.raises(TemplateError, match="returned by pull step 1 'a' and pull step 2 'b'"):
        resolve_templates("{{ version }}", context(outputs=outputs), step="s")


def test_unknown_prefect_namespace_is_an_error() -> None:
    with pytest.raises(TemplateError, match=r"only prefect\.blocks and prefect\.variables"):
        resolve_templates("{{ prefect.runtime.flow_run.id }}", context(), step="s")


# -- blocks and variables need the store ---------------------------------------------------------


@pytest.fixture
def saved_blocks(request: pytest.FixtureRequest) -> None:
    request.getfixturevalue("steps_plugins")  # the fake block types must be known to save them
    creds = FakeCredentials(username="ada", token=SecretStr("tok-123456"))
    creds.save("prod")
    FakeRepository(url="https://example.com/r.git", credentials=creds, settings={"depth": 1}).save(
        "flows"
    )
    Secret(value="s3cr3t-value").save("api-key")
    Secret(value={"user": "u", "password": "pw-98765"}).save("json-secret")


@pytest.mark.usefixtures("saved_blocks")
@pytest.mark.parametrize("prefix", ["blocks", "prefect.blocks"])
def test_block_reference_gives_the_typed_block_and_remembers_its_secrets(prefix: str) -> None:
    ctx = context()
    block = resolve_templates(f"{{{{ {prefix}.fake-repository.flows }}}}", ctx)
    assert isinstance(block, FakeRepository)
    assert isinstance(block.credentials, FakeCredentials)
    assert block.credentials.token.get_secret_value() == "tok-123456"
    assert ctx.secrets == {"tok-123456"}


@pytest.mark.usefixtures("saved_blocks")
def test_secret_block_gives_its_value() -> None:
    ctx = context()
    assert resolve_templates("{{ blocks.secret.api-key }}", ctx) == "s3cr3t-value"
    assert resolve_templates("{{ prefect.blocks.secret.json-secret }}", ctx) == {
        "user": "u",
        "password": "pw-98765",
    }
    assert {"s3cr3t-value", "pw-98765"} <= ctx.secrets


@pytest.mark.usefixtures("saved_blocks")
def test_block_fields_nested_fields_and_secret_fields_resolve_to_values() -> None:
    ctx = context()
    assert resolve_templates("{{ blocks.fake-repository.flows.url }}", ctx) == (
        "https://example.com/r.git"
    )
    assert resolve_templates("{{ blocks.fake-repository.flows.settings.depth }}", ctx) == 1
    assert (
        resolve_templates("{{ blocks.fake-repository.flows.credentials.username }}", ctx) == "ada"
    )
    token = resolve_templates("Bearer {{ blocks.fake-credentials.prod.token }}", ctx)
    assert token == "Bearer tok-123456"
    assert "tok-123456" in ctx.secrets


@pytest.mark.usefixtures("saved_blocks")
def test_missing_block_is_an_error_naming_step_and_reference() -> None:
    with pytest.raises(TemplateError) as caught:
        resolve_templates(
            "{{ blocks.fake-credentials.staging }}", context(), step="pull step 1 'x'"
        )
    message = str(caught.value)
    assert message.startswith(
        "pull step 1 'x': cannot resolve {{ blocks.fake-credentials.staging }}"
    )
    assert "staging" in message


@pytest.mark.usefixtures("saved_blocks")
def test_missing_block_field_lists_the_fields() -> None:
    with pytest.raises(TemplateError, match=r"has no field 'nope' \(it has: token, username\)"):
        resolve_templates("{{ blocks.fake-credentials.prod.nope }}", context(), step="s")


@pytest.mark.usefixtures("steps_plugins")
def test_unknown_block_type_names_the_distribution() -> None:
    with pytest.raises(TemplateError, match="pip install codeferry-github"):
        resolve_templates("{{ blocks.github-credentials.mine }}", context(), step="s")


@pytest.mark.usefixtures("steps_plugins")
def test_block_reference_without_a_name_is_an_error() -> None:
    with pytest.raises(TemplateError, match=r"a block reference is blocks\.TYPE\.NAME"):
        resolve_templates("{{ blocks.secret }}", context(), step="s")


@pytest.mark.parametrize("prefix", ["variables", "prefect.variables"])
def test_variables_resolve_with_their_json_type(prefix: str) -> None:
    store = get_store()
    store.set_variable("branch", "main")
    store.set_variable("settings", {"replicas": 3, "tags": ["a", "b"]})
    ctx = context()
    assert resolve_templates(f"refs/heads/{{{{ {prefix}.branch }}}}", ctx) == "refs/heads/main"
    assert resolve_templates(f"{{{{ {prefix}.settings }}}}", ctx) == {
        "replicas": 3,
        "tags": ["a", "b"],
    }
    assert resolve_templates(f"{{{{ {prefix}.settings.tags[0] }}}}", ctx) == "a"


def test_missing_variable_is_an_error_naming_step_and_reference() -> None:
    with pytest.raises(TemplateError) as caught:
        resolve_templates("{{ variables.nope }}", context(), step="pull step 3 'y'")
    assert str(caught.value).startswith("pull step 3 'y': cannot resolve {{ variables.nope }}: ")
    assert "nope" in str(caught.value)
