"""The ``--set FIELD=VALUE`` parser and how assignments nest into field values."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codeferry.cli.assignments import (
    AssignmentError,
    decode_value,
    nest_assignments,
    parse_assignment,
    reference_of,
)

segments = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,12}", fullmatch=True)
paths = st.lists(segments, min_size=1, max_size=4).map(tuple)
values = st.text(max_size=40)


@given(paths, values)
def test_parse_gives_back_the_path_and_the_value_text(path: tuple[str, ...], value: str) -> None:
    parsed = parse_assignment(".".join(path) + "=" + value)
    assert parsed.path == path
    assert parsed.text == value
    assert parsed.dotted == ".".join(path)


@given(st.text().filter(lambda text: "=" not in text))
def test_text_without_equals_is_refused(text: str) -> None:
    with pytest.raises(AssignmentError):
        parse_assignment(text)


@given(st.text(alphabet="0123456789abcdef", min_size=12))
def test_a_value_given_without_its_field_is_not_repeated_in_the_error(token: str) -> None:
    with pytest.raises(AssignmentError) as raised:
        parse_assignment(token)
    assert token not in str(raised.value)


@pytest.mark.parametrize("text", ["=x", ".a=x", "a.=x", "a..b=x", "1a=x", "a b=x"])
def test_malformed_fields_are_refused(text: str) -> None:
    with pytest.raises(AssignmentError):
        parse_assignment(text)


def test_value_may_contain_equals_signs() -> None:
    assert parse_assignment("query=a=b&c=d").text == "a=b&c=d"


@given(st.recursive(st.none() | st.integers() | st.text(), st.lists))
def test_json_arrays_are_decoded(value: object) -> None:
    text = json.dumps([value])
    assert decode_value(text) == [value]


@given(st.dictionaries(st.text(), st.integers() | st.text()))
def test_json_objects_are_decoded(value: dict[str, object]) -> None:
    assert decode_value(json.dumps(value)) == value


@pytest.mark.parametrize("text", ["8080", "true", "null", "3.5", "plain", "[not json", '"quoted"'])
def test_other_values_stay_text_for_pydantic_to_convert(text: str) -> None:
    assert decode_value(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("@env:TOKEN", ("env", "TOKEN")),
        ("@file:/run/secret", ("file", "/run/secret")),
        ("@block:secret/prod", ("block", "secret/prod")),
        ("@other:x", None),
        ("plain", None),
    ],
)
def test_references_are_recognised(text: str, expected: tuple[str, str] | None) -> None:
    assert reference_of(text) == expected


@given(st.dictionaries(paths, values, max_size=6))
def test_nesting_puts_every_value_at_its_path(assignments: dict[tuple[str, ...], str]) -> None:
    # Keep only paths that are not prefixes of each other (those clash, tested below).
    chosen: dict[tuple[str, ...], str] = {}
    for path, value in assignments.items():
        if all(path[: len(o)] != o and o[: len(path)] != path for o in chosen):
            chosen[path] = value
    nested = nest_assignments(chosen.items())
    for path, value in chosen.items():
        node: object = nested
        for part in path:
            assert isinstance(node, dict)
            node = node[part]
        assert node == value


def test_set_values_go_on_top_of_the_json_document_which_is_left_unchanged() -> None:
    document = {"url": "https://a", "credentials": {"username": "bob"}}
    nested = nest_assignments([(("credentials", "token"), "t"), (("url",), "https://b")], document)
    assert nested == {"url": "https://b", "credentials": {"username": "bob", "token": "t"}}
    assert document == {"url": "https://a", "credentials": {"username": "bob"}}


@pytest.mark.parametrize(
    "pairs",
    [
        [(("a",), "1"), (("a",), "2")],
        [(("a",), "1"), (("a", "b"), "2")],
        [(("a", "b"), "1"), (("a",), "2")],
    ],
)
def test_setting_a_field_twice_or_a_field_and_its_inside_is_refused(
    pairs: list[tuple[tuple[str, ...], str]],
) -> None:
    with pytest.raises(AssignmentError):
        nest_assignments(pairs)


def test_setting_inside_a_json_value_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(AssignmentError, match="credentials is not an object"):
        nest_assignments([(("credentials", "token"), "t")], {"credentials": "text"})
