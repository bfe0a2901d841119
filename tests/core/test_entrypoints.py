"""Entrypoints: parsing, loading from pulled code, calling with command-line arguments."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codeferry.entrypoints import (
    Entrypoint,
    call,
    load_entrypoint,
    parse_arguments,
    parse_entrypoint,
)
from codeferry.errors import EntrypointError, UserCodeError

identifier = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)
dotted = st.lists(identifier, min_size=1, max_size=4).map(".".join)
file_path = st.lists(
    st.from_regex(r"[A-Za-z0-9_-]{1,10}", fullmatch=True), min_size=1, max_size=4
).map(lambda parts: "/".join(parts) + ".py")


@given(file_path, dotted)
def test_file_entrypoints_parse_to_path_and_attribute(path: str, attribute: str) -> None:
    assert parse_entrypoint(f"{path}:{attribute}") == Entrypoint(attribute, path=path)


@given(dotted, identifier)
def test_module_entrypoints_parse_in_both_forms(module: str, function: str) -> None:
    assert parse_entrypoint(f"{module}.{function}") == Entrypoint(function, module=module)
    assert parse_entrypoint(f"{module}:{function}") == Entrypoint(function, module=module)


@given(st.text(max_size=40))
def test_any_text_parses_or_gets_an_entrypoint_error(text: str) -> None:
    refused: str | None = None
    try:
        parsed = parse_entrypoint(text)
    except EntrypointError as error:
        refused = str(error)
    else:
        assert parsed.attribute
    assert refused is None or refused.startswith("entrypoint ")


@pytest.mark.parametrize("text", ["flow", ":main", "flow.py:", "a b.c", "x.py:1abc"])
def test_malformed_entrypoints_are_refused(text: str) -> None:
    with pytest.raises(EntrypointError, match="is not of the form"):
        parse_entrypoint(text)


def test_file_without_function_says_how_to_name_one() -> None:
    with pytest.raises(EntrypointError, match=r"use flows/etl\.py:function_name"):
        parse_entrypoint("flows/etl.py")


@pytest.fixture
def code(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "code"
    (root / "flows" / "lib").mkdir(parents=True)
    (root / "flows" / "sibling.py").write_text("GREETING = 'hello'\n")
    (root / "flows" / "lib" / "__init__.py").write_text("def twice(x): return x * 2\n")
    (root / "flows" / "main.py").write_text(
        "from sibling import GREETING\n"
        "from lib import twice\n"
        "def hello(name='world', times=1):\n"
        "    return f'{GREETING} {name}' * times\n"
        "async def later(x):\n"
        "    return twice(x)\n"
        "class Jobs:\n"
        "    @staticmethod\n"
        "    def run():\n"
        "        return 'ran'\n"
        "def broken():\n"
        "    raise ValueError('bad input')\n"
    )
    (root / "flows" / "crashes_on_import.py").write_text("raise RuntimeError('import boom')\n")
    yield root
    for name in ["sibling", "lib"]:
        sys.modules.pop(name, None)


def test_file_entrypoint_loads_with_sibling_modules_importable(code: Path) -> None:
    hello = load_entrypoint("flows/main.py:hello", code)
    assert hello("ada") == "hello ada"


def test_nested_attribute_entrypoint_loads(code: Path) -> None:
    assert load_entrypoint("flows/main.py:Jobs.run", code)() == "ran"


def test_module_entrypoint_loads_from_the_code_folder(code: Path) -> None:
    (code / "flows" / "__init__.py").write_text("")
    try:
        assert load_entrypoint("flows.lib.twice", code)(4) == 8
    finally:
        for name in [m for m in sys.modules if m == "flows" or m.startswith("flows.")]:
            del sys.modules[name]


def test_each_new_version_of_a_checkout_loads_its_own_modules(tmp_path: Path) -> None:
    # A long-lived worker pulls version after version into one checkout and loads each.
    versions = tmp_path / "checkout" / "versions"
    saved_path = list(sys.path)
    try:
        for number in (1, 2):
            root = versions / f"v{number}"
            (root / "jobs").mkdir(parents=True)
            (root / "jobs" / "__init__.py").write_text("")
            (root / "jobs" / "etl.py").write_text(f"def version():\n    return {number}\n")
            (root / "flow.py").write_text(
                "from helper import VALUE\ndef value():\n    return VALUE\n"
            )
            (root / "helper.py").write_text(f"VALUE = {number}\n")
            assert load_entrypoint("jobs.etl.version", root)() == number
            assert load_entrypoint("flow.py:value", root)() == number
        assert str(versions / "v1") not in sys.path
    finally:
        sys.path[:] = saved_path
        for name in ("jobs", "jobs.etl", "helper"):
            sys.modules.pop(name, None)


def test_modules_of_another_version_reached_through_a_link_are_forgotten(tmp_path: Path) -> None:
    # A worker may import through a link to its checkout (a --dest folder): what it imported
    # that way from an older version is that version's all the same.
    versions = tmp_path / "checkout" / "versions"
    for number in (1, 2):
        (versions / f"v{number}").mkdir(parents=True)
        (versions / f"v{number}" / "linked_helper.py").write_text(f"VALUE = {number}\n")
    link = tmp_path / "code"
    link.symlink_to(versions / "v1")
    saved_path = list(sys.path)
    try:
        sys.path.insert(0, str(link))
        import linked_helper  # type: ignore[import-not-found]

        assert linked_helper.VALUE == 1
        (versions / "v2" / "flow.py").write_text(
            "from linked_helper import VALUE\ndef value():\n    return VALUE\n"
        )
        assert load_entrypoint("flow.py:value", versions / "v2")() == 2
        assert str(link) not in sys.path
    finally:
        sys.path[:] = saved_path
        sys.modules.pop("linked_helper", None)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A file beside the code folder that says so when it is imported."""
    path = tmp_path / "outside.py"
    path.write_text(f"open({str(tmp_path / 'imported')!r}, 'w').close()\ndef f():\n    return 1\n")
    return path


@pytest.mark.parametrize("form", ["../outside.py:f", "flows/../../outside.py:f", "ABSOLUTE:f"])
def test_a_file_entrypoint_outside_the_code_folder_is_refused(
    code: Path, outside: Path, form: str
) -> None:
    entrypoint = form.replace("ABSOLUTE", str(outside))
    with pytest.raises(EntrypointError, match="entrypoint") as caught:
        load_entrypoint(entrypoint, code)
    assert "outside.py" in str(caught.value)
    assert not (outside.parent / "imported").exists(), "the file outside was imported"


def test_a_file_entrypoint_through_a_link_leaving_the_code_folder_is_refused(
    code: Path, outside: Path
) -> None:
    (code / "flows" / "linked.py").symlink_to(outside)
    with pytest.raises(EntrypointError, match=r"flows/linked\.py is outside the code folder"):
        load_entrypoint("flows/linked.py:f", code)
    assert not (outside.parent / "imported").exists(), "the file outside was imported"


@given(st.lists(st.sampled_from(["a", "b", "..", "."]), min_size=1, max_size=5))
def test_a_file_entrypoint_with_a_parent_component_never_parses(parts: list[str]) -> None:
    path = "/".join([*parts, "flow.py"])
    if ".." not in parts:
        assert parse_entrypoint(f"{path}:f").path == path
        return
    with pytest.raises(EntrypointError, match="leaves the code folder"):
        parse_entrypoint(f"{path}:f")


def test_missing_file_is_named(code: Path) -> None:
    with pytest.raises(EntrypointError, match=r"entrypoint file flows/nope\.py not found"):
        load_entrypoint("flows/nope.py:hello", code)


def test_missing_attribute_is_named(code: Path) -> None:
    with pytest.raises(EntrypointError, match="'goodbye' not found"):
        load_entrypoint("flows/main.py:goodbye", code)


def test_missing_module_is_named(code: Path) -> None:
    with pytest.raises(EntrypointError, match=r"module nowhere\.at_all not found"):
        load_entrypoint("nowhere.at_all.main", code)


def test_user_code_failing_on_import_keeps_its_exception(code: Path) -> None:
    with pytest.raises(UserCodeError) as caught:
        load_entrypoint("flows/crashes_on_import.py:main", code)
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_call_runs_coroutine_functions(code: Path) -> None:
    assert call(load_entrypoint("flows/main.py:later", code), [21]) == 42


def test_call_reports_arguments_that_do_not_fit(code: Path) -> None:
    with pytest.raises(EntrypointError, match="arguments do not fit"):
        call(load_entrypoint("flows/main.py:hello", code), [], {"colour": "red"})


def test_call_wraps_user_exceptions(code: Path) -> None:
    with pytest.raises(UserCodeError, match="ValueError: bad input") as caught:
        call(load_entrypoint("flows/main.py:broken", code))
    assert isinstance(caught.value.__cause__, ValueError)


def test_arguments_become_positional_and_keyword_values() -> None:
    args, kwargs = parse_arguments(
        ["7", "name=ada", "--times", "3", "--dry-run", "--tags=[1, 2]", "plain"]
    )
    assert args == [7, "plain"]
    assert kwargs == {"name": "ada", "times": 3, "dry_run": True, "tags": [1, 2]}


@given(st.dictionaries(identifier, st.one_of(st.integers(), st.booleans(), st.text(max_size=8))))
def test_keyword_arguments_round_trip(values: dict[str, object]) -> None:
    import json

    words = [f"{key}={json.dumps(value)}" for key, value in values.items()]
    assert parse_arguments(words) == ([], values)
