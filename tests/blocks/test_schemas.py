"""Schema checksums, and documents saved under an older schema of their type."""

from __future__ import annotations

from typing import ClassVar

import pytest

from codeferry.blocks import Block
from codeferry.errors import BlockSchemaError
from codeferry.store import BlockStore


def evolving(defaults: dict[str, object] | None = None, /, **fields: object) -> type[Block]:
    """A block class named ``Evolving`` with slug ``evolving``, these fields and defaults."""
    namespace: dict[str, object] = {
        "__annotations__": {"block_type_slug": ClassVar[str], **fields},
        "block_type_slug": "evolving",
        "__module__": __name__,
        **(defaults or {}),
    }
    return type("Evolving", (Block,), namespace)


def test_schema_checksum_is_stable_for_the_same_schema() -> None:
    first, second = evolving(url=str, retries=int), evolving(url=str, retries=int)
    assert first is not second
    assert first.schema_checksum() == second.schema_checksum()
    assert first.schema_checksum().startswith("sha256:")
    assert len(first.schema_checksum()) == len("sha256:") + 64


@pytest.mark.parametrize(
    "changed",
    [
        {"url": str},  # a field removed
        {"url": str, "retries": int, "timeout": float},  # a field added
        {"url": str, "retries": str},  # a type changed
        {"url": str, "retries": "SecretStr"},  # a field became secret
    ],
)
def test_schema_checksum_changes_with_the_schema(changed: dict[str, object]) -> None:
    from pydantic import SecretStr

    fields = {k: SecretStr if v == "SecretStr" else v for k, v in changed.items()}
    assert evolving(**fields).schema_checksum() != evolving(url=str, retries=int).schema_checksum()


def test_saved_document_records_the_schema_checksum(store: BlockStore) -> None:
    old = evolving(url=str)
    old.model_validate({"url": "x"}).save("one")
    assert store.get_document("evolving", "one").schema_checksum == old.schema_checksum()


def test_document_from_an_older_schema_loads_when_it_still_fits(store: BlockStore) -> None:
    evolving(url=str).model_validate({"url": "https://x"}).save("one")
    newer = evolving({"retries": None}, url=str, retries=int | None)
    assert newer.schema_checksum() != store.get_document("evolving", "one").schema_checksum
    loaded = newer.load("one")
    assert loaded.url == "https://x"  # type: ignore[attr-defined]
    assert loaded.retries is None  # type: ignore[attr-defined]


@pytest.mark.usefixtures("store")
def test_document_missing_a_new_required_field_names_the_field() -> None:
    evolving(url=str).model_validate({"url": "https://x"}).save("one")
    with pytest.raises(BlockSchemaError) as caught:
        evolving(url=str, region=str).load("one")
    message = str(caught.value)
    assert "block evolving/one does not fit its type" in message
    assert "saved under an older schema sha256:" in message
    assert "field 'region'" in message


@pytest.mark.usefixtures("store")
def test_document_whose_field_changed_type_names_the_field() -> None:
    evolving(url=str, retries=str).model_validate({"url": "u", "retries": "many"}).save("one")
    with pytest.raises(BlockSchemaError, match=r"field 'retries': Input should be a valid integer"):
        evolving(url=str, retries=int).load("one")


@pytest.mark.usefixtures("store")
def test_document_with_a_field_since_removed_names_it() -> None:
    evolving(url=str, legacy=str).model_validate({"url": "u", "legacy": "old"}).save("one")
    with pytest.raises(BlockSchemaError, match=r"field 'legacy'"):
        evolving(url=str).load("one")
