"""Variables: named JSON values."""

from __future__ import annotations

import pytest

from codeferry.errors import CodeferryError, StoreError, VariableNotFoundError
from codeferry.store import BlockStore


@pytest.mark.parametrize(
    "value", ["text", 42, 1.5, True, None, [1, "two"], {"nested": {"list": [1, {"a": None}]}}]
)
def test_variable_round_trips_any_json_value(store: BlockStore, value: object) -> None:
    store.set_variable("v", value)
    assert store.get_variable("v") == value


def test_setting_again_overwrites_by_default(store: BlockStore) -> None:
    store.set_variable("v", 1)
    store.set_variable("v", 2)
    assert store.get_variable("v") == 2


def test_setting_an_existing_variable_without_overwrite_fails_and_keeps_it(
    store: BlockStore,
) -> None:
    store.set_variable("v", 1)
    with pytest.raises(StoreError, match="'v' is already set"):
        store.set_variable("v", 2, overwrite=False)
    assert store.get_variable("v") == 1
    store.set_variable("w", 3, overwrite=False)
    assert store.get_variable("w") == 3


def test_missing_variable_raises_a_lookup_error_naming_it(store: BlockStore) -> None:
    with pytest.raises(VariableNotFoundError, match="no variable 'nope' is set") as caught:
        store.get_variable("nope")
    assert isinstance(caught.value, LookupError)
    assert isinstance(caught.value, CodeferryError)


def test_list_and_delete_variables(store: BlockStore) -> None:
    store.set_variable("b", [1])
    store.set_variable("a", {"x": 1})
    assert store.list_variables() == {"a": {"x": 1}, "b": [1]}
    assert list(store.list_variables()) == ["a", "b"]
    store.delete_variable("a")
    assert store.list_variables() == {"b": [1]}
    with pytest.raises(VariableNotFoundError):
        store.delete_variable("a")


@pytest.mark.parametrize("value", [object(), float("nan"), {1: {2, 3}}])
def test_a_value_that_is_not_json_is_refused(store: BlockStore, value: object) -> None:
    with pytest.raises(StoreError, match="must be a JSON value"):
        store.set_variable("v", value)
    assert store.list_variables() == {}
