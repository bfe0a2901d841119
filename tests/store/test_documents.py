"""Saving, reading, listing and deleting block documents."""

from __future__ import annotations

import pytest

from codeferry.errors import BlockError, BlockNotFoundError, StoreError
from codeferry.store import BlockDocument, BlockStore


def document(slug: str = "s3-bucket", name: str = "prod", **data: object) -> BlockDocument:
    return BlockDocument(
        block_type_slug=slug,
        name=name,
        data={"bucket": "code", **data},
        secrets={"credentials.secret": "s3cr3t-value", "token": {"$bytes": "AAE="}},
        schema_checksum="sha256:abc",
    )


def test_saved_document_reads_back_with_its_secrets_decrypted(store: BlockStore) -> None:
    store.save_document(document(nested={"a": [1, 2, None]}))
    loaded = store.get_document("s3-bucket", "prod")
    assert loaded.data == {"bucket": "code", "nested": {"a": [1, 2, None]}}
    assert loaded.secrets == {"credentials.secret": "s3cr3t-value", "token": {"$bytes": "AAE="}}
    assert loaded.schema_checksum == "sha256:abc"
    assert loaded.created is not None
    assert loaded.created.tzinfo is not None
    assert loaded.updated == loaded.created


def test_document_without_secrets_reads_back_with_none(store: BlockStore) -> None:
    store.save_document(BlockDocument("plain", "one", {"x": 1}))
    assert store.get_document("plain", "one").secrets == {}


def test_saving_an_existing_name_without_overwrite_fails_and_keeps_the_old(
    store: BlockStore,
) -> None:
    store.save_document(document(version=1))
    with pytest.raises(BlockError, match=r"s3-bucket/prod is already saved"):
        store.save_document(document(version=2))
    assert store.get_document("s3-bucket", "prod").data["version"] == 1


def test_overwrite_replaces_data_and_secrets_and_keeps_created(store: BlockStore) -> None:
    store.save_document(document(version=1))
    first = store.get_document("s3-bucket", "prod")
    replacement = document(version=2)
    replacement.secrets = {"token": "new"}
    store.save_document(replacement, overwrite=True)
    second = store.get_document("s3-bucket", "prod")
    assert second.data["version"] == 2
    assert second.secrets == {"token": "new"}
    assert second.created == first.created
    assert second.updated is not None
    assert first.updated is not None
    assert second.updated > first.updated


def test_same_name_under_two_types_are_two_documents(store: BlockStore) -> None:
    store.save_document(document("a", "x", which="a"))
    store.save_document(document("b", "x", which="b"))
    assert store.get_document("a", "x").data["which"] == "a"
    assert store.get_document("b", "x").data["which"] == "b"


def test_missing_document_raises_not_found_naming_it(store: BlockStore) -> None:
    with pytest.raises(BlockNotFoundError, match=r"^no block s3-bucket/nope is saved$"):
        store.get_document("s3-bucket", "nope")


def test_list_documents_sorts_by_type_then_name(store: BlockStore) -> None:
    for slug, name in [("b", "z"), ("a", "y"), ("b", "a"), ("a", "b")]:
        store.save_document(document(slug, name))
    listed = [(d.block_type_slug, d.name) for d in store.list_documents()]
    assert listed == [("a", "b"), ("a", "y"), ("b", "a"), ("b", "z")]
    assert [d.name for d in store.list_documents("b")] == ["a", "z"]
    assert store.list_documents("none") == []
    assert store.list_documents("a")[0].secrets["credentials.secret"] == "s3cr3t-value"


def test_delete_removes_only_that_document(store: BlockStore) -> None:
    store.save_document(document("a", "one"))
    store.save_document(document("a", "two"))
    store.delete_document("a", "one")
    assert [d.name for d in store.list_documents()] == ["two"]
    with pytest.raises(BlockNotFoundError, match=r"^no block a/one is saved$"):
        store.delete_document("a", "one")


def test_unicode_names_and_data_round_trip(store: BlockStore) -> None:
    store.save_document(document("t", "prod-é-名前", text="ünïcødé ✓"))
    assert store.get_document("t", "prod-é-名前").data["text"] == "ünïcødé ✓"


@pytest.mark.parametrize("name", ["", "x" * 256])
def test_names_that_do_not_fit_are_refused_before_writing(store: BlockStore, name: str) -> None:
    with pytest.raises(StoreError, match="block name"):
        store.save_document(document("t", name))
    assert store.list_documents() == []


def test_document_repr_shows_secret_paths_but_not_values() -> None:
    text = repr(document())
    assert "s3cr3t-value" not in text
    assert "AAE=" not in text
    assert "'credentials.secret': '********'" in text
    assert "'bucket': 'code'" in text
